/*
 * bench_pt: the page-table driver (paging/pt.c) on simulated RAM, as one
 * table of nanoseconds per 4K page, per lookup or per call, each against
 * the project's target.
 *
 * Built and run by `make bench-pt`: the hosted core at -O2, no sanitizers,
 * FRAME_JUNK=0, as memmon runs. Table pages come from the frame allocator
 * (pt_mem_frames) over 1 GiB of simulated RAM; every tree is made with
 * 1 GiB pages available. The range mapped is always virtual [1 GiB, 2 GiB)
 * onto physical [0, 1 GiB), 262144 pages, read-write, no-execute; those
 * physical addresses only go into entries, so they need no backing.
 *
 * Rows (each the median of --runs runs, default 7; the state is rebuilt,
 * untimed, wherever a row needs it):
 *
 *   floor     a plain loop writing 262144 8-byte entries (pa | flags, pa
 *             advancing by 4K) into a 2 MiB buffer: what writing the leaves
 *             alone costs. ns per entry.
 *   W2a       pt_map one 4K page per call, 262144 calls, large pages
 *             allowed: every 512th call completes a table that merges into
 *             a 2M entry, and the last one merges 512 of those into one 1G
 *             entry. Also, as an extra row, the same with PT_SMALL.
 *   W2b       one pt_map of the whole range with PT_SMALL: 262144 4K
 *             leaves in 512 tables. ns per page. Also as a ratio to the
 *             floor of the same run (the median of the per-run ratios).
 *   W2c       one pt_map of the whole range, large pages allowed: one 1G
 *             entry. ns per call, over TREES fresh trees (each map takes
 *             its PDPT page from the allocator, as a first map does).
 *   W3        on the 4K tree W2b built (every lookup walks all 4 levels):
 *             pt_lookup of every page in address order, then 10^7 at
 *             random (xorshift64, page and offset; the pick is included).
 *             As extra rows: the same on a 1G tree (2 levels), and the same
 *             loops around a stub that computes the answer without a walk,
 *             which is the harness's own share of the W3 rows.
 *   W4        on the 4K tree: pt_unmap one page per call, in address
 *             order, the emptied tables freed as it goes; then one pt_unmap
 *             of the range on a fresh 4K tree (ns per page), and on W2c's
 *             trees (ns per call).
 *   protect   pt_protect of the whole range, clearing PT_W: on a fresh 4K
 *             tree (ns per page) and on W2c's trees (ns per call).
 *
 * The per-call rows on W2c's trees (W2c, then protect, then unmap) run
 * back to back, the checks between them touching every tree, so that each
 * finds the trees in cache alike; a tree that has gone cold costs several
 * times as much per call (a few cache misses against a few dozen ns of
 * work).
 *
 * Checks (untimed, every run; any failure stops the benchmark, since a
 * time for a wrong result is worthless): after each workload pt_census
 * must give the expected tables and leaves, pt->tables must agree with it,
 * pt_runs must find exactly one run with the expected address, frame,
 * attributes and page size, every lookup must hit with the expected frame
 * and level (checked through sums), and every table page must be back in
 * the allocator once the trees are destroyed.
 *
 * Conditions: simulated RAM is faulted in once before anything is timed
 * and backed by 2 MiB pages where the host allows (MADV_HUGEPAGE); the
 * header says how much of it is. No tree is loaded (pt_load), so no
 * operation does TLB work; on the machine invlpg or a flush comes on top.
 * Caches are warm and alike for both sides of the W2b/floor ratio: the
 * floor's buffer and the tables W2b writes (the allocator hands back the
 * same frames run after run) are each 2 MiB and written every run.
 *
 * Options: --runs N (1..99), --quick (10^6 random lookups), --json FILE
 * (every sample, as well as the medians).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "frame.h"
#include "host.h"
#include "pt.h"

#define BENCH_NAME "bench_pt"
#include "bench_util.h"

#define RAM_BYTES    GIB /* the simulated machine */
#define VA_BASE      GIB /* the range mapped: [1 GiB, 2 GiB) ... */
#define PA_BASE      0   /* ... onto [0, 1 GiB) */
#define SPAN         GIB
#define NPAGES       (SPAN / PAGE_SIZE) /* 262144 */
#define ATTR         (PT_R | PT_W)      /* read-write, no-execute, write-back */
#define ATTR_RO      PT_R               /* after protect */
#define RAND_LOOKUPS 10000000           /* 10^7 */
#define RAND_LOOK_Q  1000000            /* --quick */
#define TREES        256                /* W2c's fresh trees per sample */

/* ---- small things ----------------------------------------------------------- */

/* A random address in the range: the top 18 bits pick the page, the low
 * 12 the byte in it. */
static inline uint64_t rand_offset(uint64_t r)
{
	return ((r >> 46) << PAGE_SHIFT) | (r & (PAGE_SIZE - 1));
}

/* ---- the machine ----------------------------------------------------------------- */

static unsigned char *ram;   /* host address of physical 0 */
static uint64_t huge_kib;    /* AnonHugePages after faulting RAM in */
static uint64_t free_frames; /* free right after frame_init */

/* Frame 0 kept (as memmon's image would be), the rest free; frame_init
 * carves its table from the top. */
static const struct frame_range layout[] = {
    {.base = 0, .pages = 1, .owner = FRAME_MONITOR},
    {.base = PAGE_SIZE, .pages = RAM_BYTES / PAGE_SIZE - 1, .owner = FRAME_FREE},
};

static pte_t *floor_buf; /* the floor's 2 MiB of entries */

static void machine_setup(void)
{
	struct frame_stats st;

	ram = bench_ram(RAM_BYTES, &huge_kib);

	floor_buf = aligned_alloc(2 * MIB, NPAGES * sizeof(pte_t));
	if (!floor_buf)
		die("aligned_alloc", "no memory for the floor's buffer");
#ifdef MADV_HUGEPAGE
	(void)madvise(floor_buf, NPAGES * sizeof(pte_t), MADV_HUGEPAGE);
#endif
	memset(floor_buf, 0, NPAGES * sizeof(pte_t));

	must(frame_init(layout, ARRAY_SIZE(layout)), "frame_init");
	frame_stats(&st);
	free_frames = st.free;
}

/* Every table page back in the allocator, and the allocator sound. */
static void check_frames(const char *what)
{
	struct frame_stats st;

	must(frame_audit(), what);
	frame_stats(&st);
	if (st.free != free_frames || st.owned[FRAME_PTABLE])
		die(what, "table pages were not all given back");
}

/* ---- checks ------------------------------------------------------------------------ */

static char msg[256];

/* The census of the tree as text, for the report and for failures. */
static void census_text(const struct pt_census *c, char *buf, size_t len)
{
	snprintf(buf, len, "%llu tables, leaves 4K/2M/1G %llu/%llu/%llu, %llu pages",
	         (unsigned long long)c->tables, (unsigned long long)c->leaves[0],
	         (unsigned long long)c->leaves[1], (unsigned long long)c->leaves[2],
	         (unsigned long long)c->pages);
}

/* pt_census must give exactly this, and pt->tables agree with it. */
static void expect_census(const struct pt *pt, const char *what, uint64_t tables, uint64_t l4k,
                          uint64_t l2m, uint64_t l1g, struct pt_census *out)
{
	struct pt_census c;
	char got[128];

	pt_census(pt, &c);
	if (out)
		*out = c;
	census_text(&c, got, sizeof(got));
	if (c.tables != tables || c.leaves[0] != l4k || c.leaves[1] != l2m || c.leaves[2] != l1g ||
	    c.pages != l4k + 512 * l2m + 512 * 512 * l1g) {
		snprintf(msg, sizeof(msg),
		         "census: got %s; expected %llu tables, leaves 4K/2M/1G %llu/%llu/%llu",
		         got, (unsigned long long)tables, (unsigned long long)l4k,
		         (unsigned long long)l2m, (unsigned long long)l1g);
		die(what, msg);
	}
	if (pt->tables != c.tables) {
		snprintf(msg, sizeof(msg), "pt->tables is %llu but the census counts %llu",
		         (unsigned long long)pt->tables, (unsigned long long)c.tables);
		die(what, msg);
	}
}

struct runs_seen {
	unsigned n;
	struct pt_run first;
};

static bool count_run(void *ctx, const struct pt_run *r)
{
	struct runs_seen *s = ctx;

	if (s->n++ == 0)
		s->first = *r;
	return s->n < 4; /* more than one is already wrong */
}

/* The tree translates exactly the range, onto the range's frames, with
 * `attr`, in leaves of `level` (or any level when level < 0). */
static void expect_one_run(const struct pt *pt, const char *what, pt_attr_t attr, int level)
{
	struct runs_seen s = {0};

	pt_runs(pt, count_run, &s);
	if (s.n != 1) {
		snprintf(msg, sizeof(msg), "pt_runs found %s%u runs, expected 1",
		         s.n >= 4 ? ">= " : "", s.n);
		die(what, msg);
	}
	if (va_addr(s.first.start) != VA_BASE || s.first.len != SPAN ||
	    pa_addr(s.first.pa) != PA_BASE || s.first.attr != attr ||
	    (level >= 0 && s.first.level != (unsigned)level)) {
		snprintf(
		    msg, sizeof(msg),
		    "pt_runs: va %#llx len %#llx pa %#llx attr %#x level %u; expected va %#llx "
		    "len %#llx pa %#llx attr %#x level %d",
		    (unsigned long long)va_addr(s.first.start), (unsigned long long)s.first.len,
		    (unsigned long long)pa_addr(s.first.pa), s.first.attr, s.first.level,
		    (unsigned long long)VA_BASE, (unsigned long long)SPAN,
		    (unsigned long long)PA_BASE, attr, level);
		die(what, msg);
	}
}

/* Nothing mapped: the root alone, with no entries. */
static void expect_empty(const struct pt *pt, const char *what)
{
	struct runs_seen s = {0};

	expect_census(pt, what, 1, 0, 0, 0, NULL);
	if (pt->root_count) {
		snprintf(msg, sizeof(msg), "root_count is %u with nothing mapped", pt->root_count);
		die(what, msg);
	}
	pt_runs(pt, count_run, &s);
	if (s.n)
		die(what, "pt_runs still finds a run with nothing mapped");
}

/* ---- trees ------------------------------------------------------------------------- */

static void new_tree(struct pt *pt, const char *what)
{
	must(pt_init(pt, &pt_mem_frames, true), what);
}

/* What W2b builds: 262144 4K leaves in 512 tables. */
static void build_4k(struct pt *pt, const char *what)
{
	new_tree(pt, what);
	must(pt_map(pt, va_init(VA_BASE), pa_init(PA_BASE), SPAN, ATTR, PT_SMALL), what);
}

static struct pt trees[TREES]; /* W2c's 1G trees */

/* ---- results ----------------------------------------------------------------------- */

enum {
	ROW_FLOOR,
	ROW_W2A,
	ROW_W2A_SMALL,
	ROW_W2B,
	ROW_W2B_RATIO,
	ROW_W2C,
	ROW_W3_SEQ,
	ROW_W3_RAND,
	ROW_W3_SEQ_1G,
	ROW_W3_RAND_1G,
	ROW_W3_STUB_SEQ,
	ROW_W3_STUB_RAND,
	ROW_W4_PAGE,
	ROW_W4_RANGE,
	ROW_W4_1G,
	ROW_PROT_4K,
	ROW_PROT_1G,
	NROWS
};

/* A row: its name, what one op is, its target (0: none), whether the
 * target is "under" rather than "at most", and the notes. */
#define ROW(n, u, t, s, nt)                                                                        \
	{                                                                                          \
		.name = (n), .unit = (u), .target = (t), .strict = (s), .notes = (nt)              \
	}

/* NPAGES and TREES as text, for the notes. */
#define NPAGES_TEXT "262144"
_Static_assert(NPAGES == 262144, "NPAGES_TEXT must say NPAGES");
#define STR_(x) #x
#define STR(x)  STR_(x)

static struct row {
	const char *name;
	const char *unit;   /* what one op is */
	double target;      /* at most this; 0: none */
	bool strict;        /* under the target, not at most */
	const char *notes;  /* the table's last column */
	double v[MAX_RUNS]; /* one per run */
	double med, min, max;
} rows[NROWS] = {
    [ROW_FLOOR] = ROW("floor: entry writes", "ns/entry", 0, false,
                      NPAGES_TEXT " uint64 stores, plain loop, 2 MiB buffer"),
    [ROW_W2A] = ROW("W2a map 4K/call", "ns/page", 6.0, false,
                    NPAGES_TEXT " pt_map calls, merging to 2M, then 1G"),
    [ROW_W2A_SMALL] =
        ROW("W2a PT_SMALL", "ns/page", 0, false, "the same calls with PT_SMALL: no merges"),
    [ROW_W2B] = ROW("W2b map range 4K", "ns/page", 1.0, false, "one pt_map, PT_SMALL"),
    [ROW_W2B_RATIO] = ROW("W2b / floor", "ratio", 3.0, false, "median of per-run ratios W2b/floor"),
    [ROW_W2C] = ROW("W2c map range 1G", "ns/call", 500.0, true,
                    "one pt_map -> one 1G entry; over " STR(TREES) " fresh trees"),
    [ROW_W3_SEQ] = ROW("W3 lookup seq", "ns/lookup", 2.5, false, "every page in order, 4K tree"),
    [ROW_W3_RAND] = ROW("W3 lookup random", "ns/lookup", 5.5, false,
                        "page + offset at random, 4K tree; pick included"),
    [ROW_W3_SEQ_1G] = ROW("W3 seq, 1G tree", "ns/lookup", 0, false, "extra: every page, 1G tree"),
    [ROW_W3_RAND_1G] =
        ROW("W3 random, 1G tree", "ns/lookup", 0, false, "extra: at random, 1G tree"),
    [ROW_W3_STUB_SEQ] = ROW("W3 seq, harness", "ns/lookup", 0, false,
                            "W3 seq's loop, a stub in place of pt_lookup"),
    [ROW_W3_STUB_RAND] = ROW("W3 random, harness", "ns/lookup", 0, false,
                             "W3 random's loop and pick, a stub lookup"),
    [ROW_W4_PAGE] = ROW("W4 unmap 4K/call", "ns/page", 6.0, false,
                        NPAGES_TEXT " pt_unmap calls on the 4K tree, tables freed"),
    [ROW_W4_RANGE] = ROW("W4 unmap range 4K", "ns/page", 0, false, "one pt_unmap, fresh 4K tree"),
    [ROW_W4_1G] =
        ROW("W4 unmap range 1G", "ns/call", 0, false, "one pt_unmap of the 1G entry, W2c's trees"),
    [ROW_PROT_4K] =
        ROW("protect range 4K", "ns/page", 0, false, "one pt_protect clearing PT_W, fresh 4K tree"),
    [ROW_PROT_1G] =
        ROW("protect range 1G", "ns/call", 0, false, "one pt_protect clearing PT_W, W2c's trees"),
};

/* The census each workload ended with (last run), for the report. */
enum { CEN_W2A, CEN_W2A_SMALL, CEN_W2B, CEN_W2C, CEN_W4_PAGE, CEN_W4_RANGE, CEN_PROT_4K, NCEN };
static const char *const cen_name[NCEN] = {
    "W2a (4K per call)", "W2a PT_SMALL",     "W2b (range, 4K)",   "W2c (range, large)",
    "W4 (4K per call)",  "W4 (range on 4K)", "protect (4K tree)",
};
static struct pt_census cen[NCEN];

/* ---- the floor ---------------------------------------------------------------------- */

/* The least any map of n 4K pages must do: write n entries. noinline, as
 * pt_map is a call into another translation unit; the buffer is read
 * after timing, so the stores cannot be dropped. */
static __attribute__((noinline)) void floor_fill(pte_t *t, uint64_t n, uint64_t pa, pte_t flags)
{
	for (uint64_t i = 0; i < n; i++, pa += PAGE_SIZE)
		t[i] = pa | flags;
}

static void run_floor(unsigned r)
{
	pte_t flags = pte_leaf(0, 0, ATTR);
	uint64_t t0, t1;

	t0 = now_ns();
	floor_fill(floor_buf, NPAGES, PA_BASE, flags);
	t1 = now_ns();
	if (floor_buf[0] != (PA_BASE | flags) ||
	    floor_buf[NPAGES - 1] != ((PA_BASE + (NPAGES - 1) * PAGE_SIZE) | flags))
		die("floor", "the entries are not what was written");
	sink += floor_buf[r % NPAGES];
	rows[ROW_FLOOR].v[r] = (double)(t1 - t0) / (double)NPAGES;
}

/* ---- W2a, W2b ------------------------------------------------------------------------ */

static void run_w2a(unsigned r, unsigned flags)
{
	const char *what = flags ? "W2a PT_SMALL" : "W2a";
	struct pt pt;
	uint64_t t0, t1;

	new_tree(&pt, what);
	t0 = now_ns();
	for (uint64_t i = 0; i < NPAGES; i++)
		if (pt_map(&pt, va_init(VA_BASE + i * PAGE_SIZE), pa_init(PA_BASE + i * PAGE_SIZE),
		           PAGE_SIZE, ATTR, flags))
			die(what, "pt_map refused a page");
	t1 = now_ns();
	if (flags) {
		expect_census(&pt, what, 3 + 512, NPAGES, 0, 0, &cen[CEN_W2A_SMALL]);
		expect_one_run(&pt, what, ATTR, 0);
		rows[ROW_W2A_SMALL].v[r] = (double)(t1 - t0) / (double)NPAGES;
	} else {
		/* 512 pages complete a table, which merges into a 2M entry; 512
		 * of those complete a PD, which merges into the 1G entry. */
		expect_census(&pt, what, 2, 0, 0, 1, &cen[CEN_W2A]);
		expect_one_run(&pt, what, ATTR, 2);
		rows[ROW_W2A].v[r] = (double)(t1 - t0) / (double)NPAGES;
	}
	pt_destroy(&pt);
	check_frames(what);
}

/* W2b, leaving its tree in *pt for W3 and W4. */
static void run_w2b(unsigned r, struct pt *pt)
{
	uint64_t t0, t1;

	new_tree(pt, "W2b");
	t0 = now_ns();
	must(pt_map(pt, va_init(VA_BASE), pa_init(PA_BASE), SPAN, ATTR, PT_SMALL), "W2b");
	t1 = now_ns();
	expect_census(pt, "W2b", 3 + 512, NPAGES, 0, 0, &cen[CEN_W2B]);
	expect_one_run(pt, "W2b", ATTR, 0);
	rows[ROW_W2B].v[r] = (double)(t1 - t0) / (double)NPAGES;
	rows[ROW_W2B_RATIO].v[r] = rows[ROW_W2B].v[r] / rows[ROW_FLOOR].v[r];
}

/* ---- W3 -------------------------------------------------------------------------------- */

static uint64_t rand_expect; /* the sum of the random lookups' offsets */

static void w3_expect(uint64_t n)
{
	uint64_t rng = SEED, sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += rand_offset(xorshift(&rng));
	rand_expect = sum;
}

typedef bool lookup_fn(struct pt *pt, vaddr_t va, struct pt_hit *hit);

/* W3's loops around a lookup that does no walk (the answer is computed):
 * what the harness itself costs, call included. */
#if defined(__GNUC__) && !defined(__clang__)
#define OPAQUE __attribute__((noinline, noipa))
#else
#define OPAQUE __attribute__((noinline))
#endif
static OPAQUE bool stub_lookup(struct pt *pt, vaddr_t va, struct pt_hit *hit)
{
	(void)pt;
	hit->pa = pa_init(va_addr(va) - VA_BASE + PA_BASE);
	hit->attr = ATTR;
	hit->level = 0;
	return true;
}

/* Sums pa + level of every hit; a miss stops the benchmark. Always inlined,
 * so that `lookup` is a direct call, as from any caller of pt_lookup. */
static inline __attribute__((always_inline)) void run_w3(unsigned r, struct pt *pt,
                                                         lookup_fn *lookup, unsigned level,
                                                         uint64_t nrand, int row_seq, int row_rand)
{
	const char *what = lookup == stub_lookup ? "W3 (stub)"
	                   : level               ? "W3 (1G tree)"
	                                         : "W3 (4K tree)";
	struct pt_hit hit;
	uint64_t sum = 0, rng = SEED, t0, t1, t2, t3;
	bool ok = true;

	t0 = now_ns();
	for (uint64_t i = 0; i < NPAGES; i++) {
		ok &= lookup(pt, va_init(VA_BASE + i * PAGE_SIZE), &hit);
		sum += pa_addr(hit.pa) + hit.level;
	}
	t1 = now_ns();
	if (!ok || sum != PA_BASE * NPAGES + PAGE_SIZE * NPAGES * (NPAGES - 1) / 2 +
	                      (uint64_t)level * NPAGES)
		die(what, "sequential lookups missed or gave the wrong frame or level");
	sink += sum;

	sum = 0;
	t2 = now_ns();
	for (uint64_t i = 0; i < nrand; i++) {
		ok &= lookup(pt, va_init(VA_BASE + rand_offset(xorshift(&rng))), &hit);
		sum += pa_addr(hit.pa) + hit.level;
	}
	t3 = now_ns();
	if (!ok || sum != PA_BASE * nrand + rand_expect + (uint64_t)level * nrand)
		die(what, "random lookups missed or gave the wrong frame or level");
	sink += sum;

	rows[row_seq].v[r] = (double)(t1 - t0) / (double)NPAGES;
	rows[row_rand].v[r] = (double)(t3 - t2) / (double)nrand;
}

/* ---- W4 and protect on 4K trees ---------------------------------------------------------- */

/* W4 page by page on W2b's tree, which it destroys. */
static void run_w4_page(unsigned r, struct pt *pt)
{
	uint64_t t0, t1;

	t0 = now_ns();
	for (uint64_t i = 0; i < NPAGES; i++)
		if (pt_unmap(pt, va_init(VA_BASE + i * PAGE_SIZE), PAGE_SIZE))
			die("W4 (4K per call)", "pt_unmap refused a page");
	t1 = now_ns();
	expect_empty(pt, "W4 (4K per call)");
	pt_census(pt, &cen[CEN_W4_PAGE]);
	rows[ROW_W4_PAGE].v[r] = (double)(t1 - t0) / (double)NPAGES;
	pt_destroy(pt);
	check_frames("W4 (4K per call)");
}

static void run_w4_range(unsigned r)
{
	struct pt pt;
	uint64_t t0, t1;

	build_4k(&pt, "W4 (range on 4K) set-up");
	t0 = now_ns();
	must(pt_unmap(&pt, va_init(VA_BASE), SPAN), "W4 (range on 4K)");
	t1 = now_ns();
	expect_empty(&pt, "W4 (range on 4K)");
	pt_census(&pt, &cen[CEN_W4_RANGE]);
	rows[ROW_W4_RANGE].v[r] = (double)(t1 - t0) / (double)NPAGES;
	pt_destroy(&pt);
	check_frames("W4 (range on 4K)");
}

static void run_protect_4k(unsigned r)
{
	struct pt pt;
	struct pt_census c;
	uint64_t t0, t1;

	build_4k(&pt, "protect (4K tree) set-up");
	t0 = now_ns();
	must(pt_protect(&pt, va_init(VA_BASE), SPAN, PT_W, 0), "protect (4K tree)");
	t1 = now_ns();
	/* The leaves' size is the driver's choice here (it may merge what
	 * PT_SMALL left unmerged); what they translate is not. */
	expect_one_run(&pt, "protect (4K tree)", ATTR_RO, -1);
	pt_census(&pt, &c);
	if (c.pages != NPAGES || pt.tables != c.tables)
		die("protect (4K tree)", "the census disagrees with the pages or pt->tables");
	cen[CEN_PROT_4K] = c;
	rows[ROW_PROT_4K].v[r] = (double)(t1 - t0) / (double)NPAGES;
	pt_destroy(&pt);
	check_frames("protect (4K tree)");
}

/* ---- W2c and the 1G rows -------------------------------------------------------------------- */

static void run_1g(unsigned r, uint64_t nrand)
{
	uint64_t t0, t1;

	for (unsigned i = 0; i < TREES; i++)
		new_tree(&trees[i], "W2c set-up");
	t0 = now_ns();
	for (unsigned i = 0; i < TREES; i++)
		if (pt_map(&trees[i], va_init(VA_BASE), pa_init(PA_BASE), SPAN, ATTR, 0))
			die("W2c", "pt_map refused");
	t1 = now_ns();
	rows[ROW_W2C].v[r] = (double)(t1 - t0) / TREES;
	for (unsigned i = 0; i < TREES; i++) {
		/* The 1G leaf lives in the PDPT: root and PDPT are the tables. */
		expect_census(&trees[i], "W2c", 2, 0, 0, 1, &cen[CEN_W2C]);
		expect_one_run(&trees[i], "W2c", ATTR, 2);
	}

	t0 = now_ns();
	for (unsigned i = 0; i < TREES; i++)
		if (pt_protect(&trees[i], va_init(VA_BASE), SPAN, PT_W, 0))
			die("protect (1G tree)", "pt_protect refused");
	t1 = now_ns();
	rows[ROW_PROT_1G].v[r] = (double)(t1 - t0) / TREES;
	for (unsigned i = 0; i < TREES; i++) {
		expect_census(&trees[i], "protect (1G tree)", 2, 0, 0, 1, NULL);
		expect_one_run(&trees[i], "protect (1G tree)", ATTR_RO, 2);
	}

	t0 = now_ns();
	for (unsigned i = 0; i < TREES; i++)
		if (pt_unmap(&trees[i], va_init(VA_BASE), SPAN))
			die("W4 (range on 1G)", "pt_unmap refused");
	t1 = now_ns();
	rows[ROW_W4_1G].v[r] = (double)(t1 - t0) / TREES;
	for (unsigned i = 0; i < TREES; i++) {
		expect_empty(&trees[i], "W4 (range on 1G)");
		pt_destroy(&trees[i]);
	}
	check_frames("W2c and the 1G rows");

	/* W3 on a tree of its own: 10^7 lookups take long enough for the
	 * trees above to go cold, which would blur the rows after them. */
	struct pt pt;
	new_tree(&pt, "W3 (1G tree) set-up");
	must(pt_map(&pt, va_init(VA_BASE), pa_init(PA_BASE), SPAN, ATTR, 0), "W3 (1G tree) set-up");
	expect_census(&pt, "W3 (1G tree) set-up", 2, 0, 0, 1, NULL);
	run_w3(r, &pt, pt_lookup, 2, nrand, ROW_W3_SEQ_1G, ROW_W3_RAND_1G);
	pt_destroy(&pt);
	check_frames("W3 (1G tree)");
}

/* ---- one run ------------------------------------------------------------------------------- */

static void run_once(unsigned r, uint64_t nrand)
{
	struct pt pt;

	run_w2a(r, 0);
	run_w2a(r, PT_SMALL);
	run_floor(r);
	run_w2b(r, &pt);
	run_w3(r, &pt, pt_lookup, 0, nrand, ROW_W3_SEQ, ROW_W3_RAND);
	run_w3(r, &pt, stub_lookup, 0, nrand, ROW_W3_STUB_SEQ, ROW_W3_STUB_RAND);
	run_w4_page(r, &pt);
	run_w4_range(r);
	run_protect_4k(r);
	run_1g(r, nrand);
}

/* ---- output --------------------------------------------------------------------------------- */

static const char *met(const struct row *w)
{
	if (!w->target)
		return "-";
	return (w->strict ? w->med < w->target : w->med <= w->target) ? "yes" : "no";
}

static void print_table(unsigned runs, uint64_t nrand, uint64_t elapsed_ns)
{
	printf("memmon page-table driver: map [1 GiB, 2 GiB) -> [0, 1 GiB) (%llu pages), "
	       "%llu MiB simulated RAM, %llu MiB on huge pages\n",
	       (unsigned long long)NPAGES, (unsigned long long)(RAM_BYTES / MIB),
	       (unsigned long long)(huge_kib / 1024));
	print_conditions(runs);
	printf("%llu random lookups; %.1f s\n", (unsigned long long)nrand,
	       (double)elapsed_ns / 1e9);
	printf(
	    "W3 (4K) and W4 per call run on the 4K tree W2b built, so every lookup walks 4 levels; "
	    "no tree is live (no TLB work)\n");
	printf("%-19s | %9s | %-9s | %8s | %-4s | %-17s | %s\n", "workload", "ns", "per", "target",
	       "met", "min..max", "notes");
	printf("--------------------+-----------+-----------+----------+------+-------------------+"
	       "----------------------------------------\n");
	for (unsigned i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		bool ratio = i == ROW_W2B_RATIO;
		char range[40], target[16];
		int p = w->max < 100 ? 2 : w->max < 1000 ? 1 : 0;
		snprintf(range, sizeof(range), "%.*f..%.*f", p, w->min, p, w->max);
		if (!w->target)
			snprintf(target, sizeof(target), "-");
		else
			snprintf(target, sizeof(target), "%s%.*f%s",
			         w->strict ? "<" : "<=", w->target < 10 ? 1 : 0, w->target,
			         ratio ? "x" : "");
		printf("%-19s | %8.*f%s | %-9s | %8s | %-4s | %-17s | %s\n", w->name,
		       w->med < 100 ? 2 : 1, w->med, ratio ? "x" : " ", ratio ? "" : w->unit,
		       target, met(w), range, w->notes);
	}
	printf("census (pt_census, last run):\n");
	for (unsigned i = 0; i < NCEN; i++) {
		char c[128];
		census_text(&cen[i], c, sizeof(c));
		printf("  %-19s %s\n", cen_name[i], c);
	}
}

static void write_json(const char *path, unsigned runs, uint64_t nrand)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(path, "cannot open for writing");
	fprintf(f, "{\n  \"ram_bytes\": %llu,\n  \"pages\": %llu,\n  \"runs\": %u,\n",
	        (unsigned long long)RAM_BYTES, (unsigned long long)NPAGES, runs);
	fprintf(f, "  \"random_lookups\": %llu,\n", (unsigned long long)nrand);
	fprintf(f, "  \"compiler\": \"%s\",\n  \"flags\": \"%s\",\n  \"rows\": [\n", COMPILER,
	        flags_text());
	for (unsigned i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		fprintf(f,
		        "    {\"workload\": \"%s\", \"unit\": \"%s\", \"median\": %.4f, "
		        "\"target\": %.4f, \"met\": \"%s\",\n     \"samples\": [",
		        w->name, w->unit, w->med, w->target, met(w));
		for (unsigned r = 0; r < runs; r++)
			fprintf(f, "%s%.4f", r ? ", " : "", w->v[r]);
		fprintf(f, "]}%s\n", i + 1 < NROWS ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	if (fclose(f))
		die(path, "write failed");
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_options(argc, argv, "10^6 random lookups instead of 10^7");
	unsigned runs = o.runs;
	uint64_t nrand = o.quick ? RAND_LOOK_Q : RAND_LOOKUPS;
	uint64_t start = now_ns();

	machine_setup();
	w3_expect(nrand);

	for (unsigned r = 0; r < runs; r++)
		run_once(r, nrand);
	for (unsigned i = 0; i < NROWS; i++)
		summarise(rows[i].v, runs, &rows[i].med, &rows[i].min, &rows[i].max);

	print_table(runs, nrand, now_ns() - start);
	if (o.json)
		write_json(o.json, runs, nrand);
	return 0;
}
