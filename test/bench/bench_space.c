/*
 * bench_space: the spaces layer (monitor/space.c over the mapping
 * database, monitor/mdb.c, and the page-table driver) on simulated RAM, as
 * tables of nanoseconds per operation, each against the project's target.
 *
 * Built and run by `make bench-space`: the hosted core at -O2, no
 * sanitizers, FRAME_JUNK=0, as memmon runs.
 *
 * The machine: 4 GiB of simulated RAM, frame 0 kept (as memmon's image
 * would be), the rest free; space_boot with a pool of 256 MiB and 1 GiB
 * pages, so sigma0 maps the rest at v == r in the largest blocks it can;
 * 10 client spaces (1..10). Two intact 1 GiB sigma0 nodes are picked:
 * G, which the measured operations, the 2M sources and the background
 * draw their pages from, and G1, the source of the 1G maps.
 *
 * Single-page operations (table 1) run on a fixed set of 448 sigma0
 * pages (the first 448 pages of G, pre-split into 4K nodes), mapped at
 * 1 GiB + 4K * i in the clients, in 7 batches of 64 distinct pages that
 * take turns; each batch is set up, timed (one clock pair around its 64
 * calls) and restored outside the timed region, so every timed call finds
 * the same state:
 *
 *   map       space_map of 1 page from sigma0 into space 1 (empty there).
 *   grant     space_grant of 1 page from space 1 to space 10.
 *   unmap k   space_unmap of a page of space 1 from which k pages of
 *             spaces 2 .. k + 1 derive (k = 1, 8); the page stays.
 *   flush k   space_flush of the same: the page and its k derived ones.
 *   lookup    space_lookup of the 448 pages of space 1, in a scrambled
 *             order, ns per lookup.
 *
 * Each operation runs on its own: one untimed pass over the 7 batches,
 * then 16384 timed calls (the steady state: what it touches is cached as
 * far as the caches hold it). Each is measured twice: with ~10^3 nodes in
 * the database (sigma0's boot nodes, G split into 2M nodes, its first 2M
 * block into 4K nodes, and pins), then with ~10^6 (the same plus a
 * background: 217 more 2M blocks of G split into 4K nodes, mapped into
 * spaces 1-4 from sigma0 and into spaces 5-8 from spaces 1-4, at 64 GiB +
 * 4K, where nothing measured lives). The measured pages and their tables
 * are the same in both states, so the ratio shows how the cost grows with
 * the database itself (its hash chains, and the caches it takes). A pin
 * (a read-only page at the end of each measured 2M region) keeps every
 * measured page table alive and stops the 512 entries from merging into
 * a 2M entry, so no timed call allocates or frees a table, or splits or
 * merges a superpage.
 *
 * Table 2, with the 10^6 background present but for the first maps and
 * check:
 *
 *   first 4K map from a 1G sigma0 node: one space_map of 1 page whose
 *             sigma0 node is 1 GiB: the node splits into 512 2M nodes and
 *             one of those into 512 4K nodes. A one-time cost per tree,
 *             measured right after space_reset (so on a fresh database),
 *             8 resets per sample; likewise from a 2M node (one split).
 *   map 2M    space_map of an aligned sigma0 2M node to a 2M-aligned
 *             address: one node, one 2M entry (checked). 16 x 64 calls
 *             per sample, each loop of 64 timed.
 *   map 1G    the same with G1 and 1 GiB: one node, one 1G entry; 16 x 64
 *             calls into 8 spaces at 8 addresses.
 *   map 2M from 512 4K nodes: the source a 2M block of sigma0 already
 *             split into 4K nodes: 512 nodes (kept split by a read-only
 *             pin of its last page in space 10: a split tree with no
 *             reason to stay split heals). 8 x 16 calls per sample.
 *   cold      extra rows: space_map of a random background page of sigma0
 *             into space 9, and space_unmap of one (8 pages derive from
 *             it, 2 levels deep): the pages are spread over the whole
 *             database, so most accesses miss the caches.
 *   bytes of database per mapping: mdb_stats pages * 4096 / nodes, with
 *             the 10^6 state built (once).
 *   check     space_check (own_tables 0) over a state of its own: 1 GiB
 *             of simulated RAM (a 1 GiB guest), 10^5 client mappings of
 *             4K pages spread over 8 spaces; ms per call, one per run.
 *
 * Runs: each run builds both states afresh (space_reset, then the 10^3
 * state, then the background on top), since the host's speed drifts over
 * seconds; a ratio is the median of the runs' ratios. A timed loop over
 * 10 times the median loop of its row and sample is taken for an
 * interruption (the host may be shared: a time slice is milliseconds, a
 * loop tens of microseconds), dropped, and counted in the report.
 *
 * Checks (untimed; any failure stops the benchmark, since a time for a
 * wrong result is worthless): every call's result (pages set or removed)
 * is summed and compared; after each batch, space_lookup of every page it
 * touched in every space it touched gives the right frame, rights and
 * level, or nothing where a mapping was removed, and a granted page
 * derives from sigma0's; region maps count their nodes (mdb_stats) and
 * the level of the entry; mdb_audit and frame_audit after every state;
 * space_check must pass.
 *
 * Conditions: every frame the core writes (not client frames, which only
 * go into entries) is faulted in before anything is timed, on 2 MiB pages
 * where the host allows. No space is loaded in CR3, so no operation does
 * TLB work.
 *
 * Options: --runs N (1..99), --quick (3 runs at most, an eighth of the
 * calls per sample, fewer region maps), --json FILE.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "host.h"
#include "mdb.h"
#include "space.h"

#define BENCH_NAME "bench_space"
#include "bench_util.h"

#define RAM_BYTES   (4 * GIB)
#define POOL_FRAMES (256 * MIB / PAGE_SIZE)
#define NCLIENTS    10
#define BATCH       64               /* distinct pages per timed loop */
#define NBATCH      7                /* batches taking turns */
#define NMEAS       (BATCH * NBATCH) /* 448 measured pages */
#define OPS         16384            /* timed calls per sample */
#define OPS_QUICK   2048
#define BIG_NODES   1000000 /* the 10^6 state */
#define BG_FIRST    96      /* G's 2M blocks from here: the background */
#define R2_FIRST    1       /* G's 2M blocks 1 .. 64: 2M map sources */
#define R2_CALLS    64
#define R4_FIRST    65 /* G's 2M blocks 65 .. 80: pre-split sources */
#define R4_CALLS    16
#define G1_CALLS    64   /* 1G maps per sample: 8 spaces x 8 addresses */
#define FIRST_REPS  8    /* first-4K maps per sample */
#define COLD_OPS    4096 /* cold maps, and cold unmaps, per sample */
#define CHECK_RAM   GIB
/* The default pool share (1/16, 64 MiB): check takes nothing from it. */
#define CHECK_POOL 0
#define CHECK_MAPS 100000
#define QUICK_RUNS 3 /* runs at most under --quick */

/* Client addresses: each region has a pin at its end (see above). */
#define VA_MEAS  ((uint64_t)1 << 30)                /* measured page i at VA_MEAS + 4K i */
#define VA_R2    ((uint64_t)2 << 30)                /* 2M map destinations: + 2M j */
#define VA_R4    ((uint64_t)3 << 30)                /* 2M-from-4K destinations */
#define VA_1G    ((uint64_t)8 << 30)                /* 1G map destinations: + 1G i */
#define VA_R4PIN ((uint64_t)16 << 30)               /* pins of the 2M-from-4K sources */
#define VA_BG    (((uint64_t)64 << 30) + PAGE_SIZE) /* the background, 4K off 2M */
#define VA_CHK   (((uint64_t)64 << 30) + PAGE_SIZE) /* check: the clients' pages */
#define PIN      (511 * PAGE_SIZE)                  /* the pin's place in a 2M region */
#define PIN_R    RIGHTS_R /* read-only: never merges with rwx neighbours */

static unsigned char *ram;
static uint64_t huge_kib, check_huge_kib, check_pool_frames;
static unsigned sp[NCLIENTS]; /* the client spaces */
static uint64_t G, G1;        /* the two 1 GiB sigma0 nodes */
static uint64_t bg_blocks;    /* 2M blocks of G in the background */
static bool quick;

/* ---- rows --------------------------------------------------------------------------- */

struct series {
	double v[MAX_RUNS];
	unsigned n; /* samples */
	double med, min, max;
};

/* Table 1: one operation in the 10^3 and the 10^6 state. */
enum { OP_MAP, OP_GRANT, OP_UNMAP1, OP_UNMAP8, OP_FLUSH1, OP_FLUSH8, OP_LOOKUP, NOPS };
struct op_row {
	const char *name;
	double target_ns;    /* 10^6 and 10^3 at most this; 0: none */
	double target_ratio; /* 10^6 / 10^3 at most this; 0: none */
	const char *notes;
	struct series s[2]; /* [0] 10^3, [1] 10^6 */
	double ratio;       /* the median of the runs' ratios */
};
#define OP(name_, ns_, ratio_, notes_)                                                             \
	{                                                                                          \
		.name = name_, .target_ns = ns_, .target_ratio = ratio_, .notes = notes_           \
	}
static struct op_row ops[NOPS] = {
    [OP_MAP] = OP("map 4K", 200, 0, "sigma0 -> space 1, 1 page"),
    [OP_GRANT] = OP("grant 4K", 0, 0, "space 1 -> space 10, 1 page"),
    [OP_UNMAP1] = OP("unmap, k=1", 0, 1.5, "1 derived page removed"),
    [OP_UNMAP8] = OP("unmap, k=8", 0, 1.5, "8 derived pages removed"),
    [OP_FLUSH1] = OP("flush, k=1", 0, 1.5, "the page and 1 derived"),
    [OP_FLUSH8] = OP("flush, k=8", 0, 1.5, "the page and 8 derived"),
    [OP_LOOKUP] = OP("lookup", 0, 0, "space_lookup, 448 pages scrambled"),
};

/* Table 2: one value. */
enum {
	ROW_FIRST_1G,
	ROW_FIRST_2M,
	ROW_MAP_2M,
	ROW_MAP_1G,
	ROW_MAP_2M_4K,
	ROW_COLD_MAP,
	ROW_COLD,
	ROW_BYTES,
	ROW_NODE,
	ROW_CHECK,
	NROWS
};
struct row {
	const char *name, *unit;
	double target;
	bool strict; /* below the target, not at most */
	char notes[96];
	struct series s;
};
#define ROW(name_, unit_, target_, strict_)                                                        \
	{                                                                                          \
		.name = name_, .unit = unit_, .target = target_, .strict = strict_                 \
	}
static struct row rows[NROWS] = {
    [ROW_FIRST_1G] = ROW("first 4K map, 1G node", "ns/call", 0, false),
    [ROW_FIRST_2M] = ROW("first 4K map, 2M node", "ns/call", 0, false),
    [ROW_MAP_2M] = ROW("map 2M (2M node)", "ns/call", 0, false),
    [ROW_MAP_1G] = ROW("map 1G (1G node)", "ns/call", 0, false),
    [ROW_MAP_2M_4K] = ROW("map 2M (512 4K nodes)", "ns/call", 0, false),
    [ROW_COLD_MAP] = ROW("map 4K, cold", "ns/call", 0, false),
    [ROW_COLD] = ROW("unmap k=8, cold", "ns/call", 0, false),
    [ROW_BYTES] = ROW("database per mapping", "bytes", 32, false),
    [ROW_NODE] = ROW("sizeof(struct mdb_node)", "bytes", 32, false),
    [ROW_CHECK] = ROW("check, 10^5 mappings", "ms/call", 1000, true),
};

/* Nodes in the database around the timed calls of table 1, per state. */
static uint64_t nodes_lo[2] = {UINT64_MAX, UINT64_MAX}, nodes_hi[2];
static uint64_t check_model_pages, boot_nodes;

/* ---- timing ------------------------------------------------------------------------- */

/*
 * The timed loops of one row in one sample. The host may be shared: a
 * loop the scheduler interrupted (a time slice is milliseconds, a loop tens
 * of microseconds) is dropped when it took over DROP_FACTOR times the
 * median loop of its row and sample, and counted in the report.
 */
#define MAX_LOOPS   1024
#define DROP_FACTOR 10
struct timing {
	double per_call[MAX_LOOPS];
	uint64_t ns[MAX_LOOPS], calls[MAX_LOOPS];
	unsigned n;
};
static uint64_t loops_timed, loops_dropped;

static void tm_add(struct timing *t, uint64_t ns, uint64_t calls)
{
	if (t->n == MAX_LOOPS)
		die("timing", "too many timed loops in one sample");
	t->ns[t->n] = ns;
	t->calls[t->n] = calls;
	t->per_call[t->n++] = (double)ns / (double)calls;
}

/* ns per call over the loops kept; resets t. */
static double tm_result(struct timing *t)
{
	static double sorted[MAX_LOOPS];
	uint64_t ns = 0, calls = 0;

	memcpy(sorted, t->per_call, t->n * sizeof(*sorted));
	qsort(sorted, t->n, sizeof(*sorted), cmp_double);
	const double m = sorted[t->n / 2];
	for (unsigned i = 0; i < t->n; i++) {
		loops_timed++;
		if (t->per_call[i] > DROP_FACTOR * m) {
			loops_dropped++;
			continue;
		}
		ns += t->ns[i];
		calls += t->calls[i];
	}
	t->n = 0;
	return (double)ns / (double)calls;
}

/* ---- small things ------------------------------------------------------------------- */

static uint64_t db_nodes(void)
{
	struct mdb_stats ms;

	mdb_stats(&ms);
	return ms.nodes;
}

static void note_nodes(int state)
{
	const uint64_t n = db_nodes();

	if (n < nodes_lo[state])
		nodes_lo[state] = n;
	if (n > nodes_hi[state])
		nodes_hi[state] = n;
}

static uint64_t map(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len, unsigned rights,
                    const char *what)
{
	struct space_result r;

	must(space_map(n, v, n2, v2, len, rights, &r), what);
	return r.pages;
}

static uint64_t flush(unsigned n, uint64_t v, uint64_t len, const char *what)
{
	struct space_result r;

	must(space_flush(n, v, len, &r), what);
	return r.pages;
}

static uint64_t unmap(unsigned n, uint64_t v, uint64_t len, const char *what)
{
	struct space_result r;

	must(space_unmap(n, v, len, &r), what);
	return r.pages;
}

/* n:v must translate to frame pa with `rights` through a `level` entry
 * (any level if level < 0). */
static void expect_hit(unsigned n, uint64_t v, uint64_t pa, unsigned rights, int level,
                       const char *what)
{
	struct space_hit h;

	if (!space_lookup(n, v, &h))
		die(what, "a page that should be mapped is not");
	if (pa_addr(h.pa) != pa || h.rights != rights || (level >= 0 && h.level != (unsigned)level))
		die(what, "a page maps the wrong frame, rights or entry size");
}

static void expect_miss(unsigned n, uint64_t v, const char *what)
{
	struct space_hit h;

	if (space_lookup(n, v, &h))
		die(what, "a page that should be gone is still mapped");
}

static void audit(const char *what)
{
	mdb_id bad;

	must(mdb_audit(&bad), what);
	must(frame_audit(), what);
}

/* The sigma0 node holding page v must be `level`, starting at v. */
static bool sigma0_node_is(uint64_t v, unsigned level)
{
	const uint32_t x = space_node(0, v);

	return x && mdb_level(mdb_at(x)) == level && mdb_va(mdb_at(x)) == v;
}

/* The lowest intact 1 GiB sigma0 node above `after`. */
static uint64_t find_1g(uint64_t after, uint64_t ram_bytes)
{
	for (uint64_t g = after + GIB; g + GIB <= ram_bytes; g += GIB)
		if (sigma0_node_is(g, 2))
			return g;
	die("set-up", "sigma0 has too few 1 GiB nodes");
}

static void new_clients(void)
{
	for (unsigned i = 0; i < NCLIENTS; i++) {
		must(space_new(&sp[i]), "space_new");
		if (sp[i] != i + 1)
			die("space_new", "unexpected space number");
	}
}

/* ---- the machine -------------------------------------------------------------------- */

/*
 * Simulated RAM of which only what the core writes is backed: client
 * frames (sigma0's, whatever derives from them) only ever go into entries,
 * so faulting them in, as bench_ram does, would cost seconds for nothing.
 * Every other frame (frame 0, the frame table, the pool, from which every
 * table page, node page and check's model come) is faulted in after boot,
 * before anything is timed, on 2 MiB pages where the host allows.
 */
static void boot(uint64_t ram_bytes, uint64_t pool, uint64_t *huge)
{
	const struct frame_range layout[] = {
	    {.base = 0, .pages = 1, .owner = FRAME_MONITOR},
	    {.base = PAGE_SIZE, .pages = ram_bytes / PAGE_SIZE - 1, .owner = FRAME_FREE},
	};
	const struct space_extent *ext;

	ram = host_ram(ram_bytes);
#ifdef MADV_HUGEPAGE
	uintptr_t lo = ((uintptr_t)ram + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
	uintptr_t hi = ((uintptr_t)ram + ram_bytes) & ~(uintptr_t)(PAGE_SIZE - 1);
	(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* a hint; failure is fine */
#endif
	must(frame_init(layout, ARRAY_SIZE(layout)), "frame_init");
	must(space_boot(pool, true), "space_boot");
	const size_t n = space_extents(&ext); /* sorted by base */
	uint64_t pa = 0;
	for (size_t i = 0; i <= n; i++) {
		const uint64_t end = i < n ? ext[i].base : ram_bytes;
		for (; pa < end; pa += PAGE_SIZE)
			((volatile unsigned char *)ram)[pa] = ((volatile unsigned char *)ram)[pa];
		if (i < n)
			pa = ext[i].base + ext[i].pages * PAGE_SIZE;
	}
	*huge = anon_huge_kib();
}

/* ---- first maps from large sigma0 nodes -------------------------------------------------- */

static void run_first(unsigned r)
{
	const char *what = "first 4K map";
	const unsigned reps = quick ? FIRST_REPS / 2 : FIRST_REPS;
	static struct timing t1g, t2m;

	for (unsigned i = 0; i < reps; i++) {
		must(space_reset(), "space_reset");
		new_clients();
		const uint64_t g = find_1g(0, RAM_BYTES);
		const uint64_t src1 = g + 5 * 2 * MIB + 3 * PAGE_SIZE,
		               dst1 = VA_MEAS + 3 * PAGE_SIZE;
		const uint64_t src2 = g + 7 * 2 * MIB + 9 * PAGE_SIZE,
		               dst2 = VA_MEAS + 9 * PAGE_SIZE;
		struct space_result res;
		uint64_t n0 = db_nodes(), t0, t1;

		t0 = now_ns();
		must(space_map(0, src1, sp[0], dst1, PAGE_SIZE, RIGHTS_RWX, &res), what);
		t1 = now_ns();
		tm_add(&t1g, t1 - t0, 1);
		/* 511 2M pieces, 511 4K pieces, the new node */
		if (res.pages != 1 || db_nodes() != n0 + 511 + 511 + 1)
			die(what, "the 1G node did not split into the expected nodes");
		expect_hit(sp[0], dst1, src1, RIGHTS_RWX, 0, what);

		n0 = db_nodes();
		t0 = now_ns();
		must(space_map(0, src2, sp[0], dst2, PAGE_SIZE, RIGHTS_RWX, &res), what);
		t1 = now_ns();
		tm_add(&t2m, t1 - t0, 1);
		if (res.pages != 1 || db_nodes() != n0 + 511 + 1)
			die(what, "the 2M node did not split into the expected nodes");
		expect_hit(sp[0], dst2, src2, RIGHTS_RWX, 0, what);
	}
	rows[ROW_FIRST_1G].s.v[r] = tm_result(&t1g);
	rows[ROW_FIRST_2M].s.v[r] = tm_result(&t2m);
	snprintf(rows[ROW_FIRST_1G].notes, sizeof(rows[ROW_FIRST_1G].notes),
	         "1G -> 512 2M, one -> 512 4K: +1023 nodes; fresh database");
	snprintf(rows[ROW_FIRST_2M].notes, sizeof(rows[ROW_FIRST_2M].notes),
	         "then another 2M of it: +512 nodes");
}

/* ---- the states -------------------------------------------------------------------------- */

static uint64_t meas_src(uint64_t i)
{
	return G + i * PAGE_SIZE;
}

static uint64_t meas_va(uint64_t i)
{
	return VA_MEAS + i * PAGE_SIZE;
}

/* The 10^3 state: boot, G split into 2M nodes and its block 0 into 4K
 * nodes (by the first pin), pins in every region a timed call writes. */
static void build_small(void)
{
	const char *what = "10^3 state";

	must(space_reset(), "space_reset");
	boot_nodes = db_nodes();
	new_clients();
	G = find_1g(0, RAM_BYTES);
	G1 = find_1g(G, RAM_BYTES);
	for (unsigned i = 0; i < NCLIENTS; i++)
		map(0, G + PIN, sp[i], VA_MEAS + PIN, PAGE_SIZE, PIN_R, what);
	map(0, G + PIN, sp[0], VA_R2 + 511 * 2 * MIB + PIN, PAGE_SIZE, PIN_R, what);
	map(0, G + PIN, sp[0], VA_R4 + 511 * 2 * MIB + PIN, PAGE_SIZE, PIN_R, what);
	/* the 1G destinations share the PDPT of VA_MEAS's pins */
	for (uint64_t i = 0; i < NMEAS; i++)
		if (!sigma0_node_is(meas_src(i), 0))
			die(what, "a measured sigma0 page is not a 4K node");
	for (unsigned j = 0; j < R2_CALLS; j++)
		if (!sigma0_node_is(G + (R2_FIRST + j) * 2 * MIB, 1))
			die(what, "a 2M source is not a 2M node");
	if (!sigma0_node_is(G1, 2))
		die(what, "G1 is not a 1G node");
	audit(what);
}

/* The 10^6 state: the background, and the 2M-from-4K sources split. */
static void build_big(void)
{
	const char *what = "10^6 state";

	for (unsigned j = 0; j < R4_CALLS; j++) {
		const uint64_t b = G + (R4_FIRST + j) * 2 * MIB;
		/* a pin keeps the block split (a childless split tree heals) */
		map(0, b + PIN, sp[9], VA_R4PIN + j * 2 * MIB + PIN, PAGE_SIZE, PIN_R, what);
		if (!sigma0_node_is(b, 0))
			die(what, "a 2M-from-4K source did not split");
	}
	/* each 2M block: 511 more sigma0 nodes, 8 x 512 client nodes */
	bg_blocks = (BIG_NODES - db_nodes()) / (511 + 8 * 512);
	if (BG_FIRST + bg_blocks > 512)
		die(what, "the background does not fit in G");
	const uint64_t src = G + BG_FIRST * 2 * MIB, len = bg_blocks * 2 * MIB;
	for (unsigned s = 0; s < 4; s++)
		if (map(0, src, sp[s], VA_BG, len, RIGHTS_RWX, what) != len / PAGE_SIZE)
			die(what, "the background map set the wrong number of pages");
	for (unsigned s = 4; s < 8; s++)
		if (map(sp[s - 4], VA_BG, sp[s], VA_BG, len, RIGHTS_RWX, what) != len / PAGE_SIZE)
			die(what, "the background map set the wrong number of pages");
	for (uint64_t off = 0; off < len; off += 97 * PAGE_SIZE)
		for (unsigned s = 0; s < 8; s++)
			expect_hit(sp[s], VA_BG + off, src + off, RIGHTS_RWX, 0, what);
	audit(what);
}

/* ---- table 1: the timed batches ------------------------------------------------------------ */

/* Map batch b of sigma0 into space 1, then into spaces 2 .. k + 1 from
 * space 1. */
static void set_up_tree(unsigned b, unsigned k, const char *what)
{
	const uint64_t i0 = (uint64_t)b * BATCH, len = BATCH * PAGE_SIZE;

	map(0, meas_src(i0), sp[0], meas_va(i0), len, RIGHTS_RWX, what);
	for (unsigned j = 1; j <= k; j++)
		map(sp[0], meas_va(i0), sp[j], meas_va(i0), len, RIGHTS_RWX, what);
}

static uint64_t batch_map(unsigned b, int state)
{
	const char *what = "map 4K";
	const uint64_t i0 = (uint64_t)b * BATCH;
	struct space_result r;
	uint64_t pages = 0, t0, t1;

	note_nodes(state);
	t0 = now_ns();
	for (uint64_t i = i0; i < i0 + BATCH; i++) {
		if (space_map(0, meas_src(i), sp[0], meas_va(i), PAGE_SIZE, RIGHTS_RWX, &r))
			die(what, "space_map refused");
		pages += r.pages;
	}
	t1 = now_ns();
	if (pages != BATCH)
		die(what, "the calls did not set one page each");
	for (uint64_t i = i0; i < i0 + BATCH; i++)
		expect_hit(sp[0], meas_va(i), meas_src(i), RIGHTS_RWX, 0, what);
	flush(sp[0], meas_va(i0), BATCH * PAGE_SIZE, what);
	return t1 - t0;
}

static uint64_t batch_grant(unsigned b, int state)
{
	const char *what = "grant 4K";
	const uint64_t i0 = (uint64_t)b * BATCH;
	struct space_result r;
	uint64_t pages = 0, t0, t1;

	set_up_tree(b, 0, what);
	note_nodes(state);
	t0 = now_ns();
	for (uint64_t i = i0; i < i0 + BATCH; i++) {
		if (space_grant(sp[0], meas_va(i), sp[9], meas_va(i), PAGE_SIZE, RIGHTS_RWX, &r))
			die(what, "space_grant refused");
		pages += r.pages;
	}
	t1 = now_ns();
	if (pages != BATCH)
		die(what, "the calls did not set one page each");
	for (uint64_t i = i0; i < i0 + BATCH; i++) {
		expect_hit(sp[9], meas_va(i), meas_src(i), RIGHTS_RWX, 0, what);
		expect_miss(sp[0], meas_va(i), what);
		const uint32_t x = space_node(sp[9], meas_va(i));
		if (!x || mdb_at(x)->parent != space_node(0, meas_src(i)))
			die(what, "the granted page does not derive from sigma0's");
	}
	flush(sp[9], meas_va(i0), BATCH * PAGE_SIZE, what);
	return t1 - t0;
}

static uint64_t batch_unmap(unsigned b, unsigned k, int state)
{
	const char *what = k == 1 ? "unmap k=1" : "unmap k=8";
	const uint64_t i0 = (uint64_t)b * BATCH;
	struct space_result r;
	uint64_t pages = 0, t0, t1;

	set_up_tree(b, k, what);
	note_nodes(state);
	t0 = now_ns();
	for (uint64_t i = i0; i < i0 + BATCH; i++) {
		if (space_unmap(sp[0], meas_va(i), PAGE_SIZE, &r))
			die(what, "space_unmap refused");
		pages += r.pages;
	}
	t1 = now_ns();
	if (pages != (uint64_t)BATCH * k)
		die(what, "the calls did not remove k pages each");
	for (uint64_t i = i0; i < i0 + BATCH; i++) {
		expect_hit(sp[0], meas_va(i), meas_src(i), RIGHTS_RWX, 0, what);
		for (unsigned j = 1; j <= k; j++)
			expect_miss(sp[j], meas_va(i), what);
	}
	flush(sp[0], meas_va(i0), BATCH * PAGE_SIZE, what);
	return t1 - t0;
}

static uint64_t batch_flush(unsigned b, unsigned k, int state)
{
	const char *what = k == 1 ? "flush k=1" : "flush k=8";
	const uint64_t i0 = (uint64_t)b * BATCH;
	struct space_result r;
	uint64_t pages = 0, t0, t1;

	set_up_tree(b, k, what);
	note_nodes(state);
	t0 = now_ns();
	for (uint64_t i = i0; i < i0 + BATCH; i++) {
		if (space_flush(sp[0], meas_va(i), PAGE_SIZE, &r))
			die(what, "space_flush refused");
		pages += r.pages;
	}
	t1 = now_ns();
	if (pages != (uint64_t)BATCH * (k + 1))
		die(what, "the calls did not remove k + 1 pages each");
	for (uint64_t i = i0; i < i0 + BATCH; i++)
		for (unsigned j = 0; j <= k; j++)
			expect_miss(sp[j], meas_va(i), what);
	return t1 - t0;
}

/* ns per lookup over `calls` lookups of the 448 pages of space 1, timed
 * by rounds of 448. */
static double run_lookup(uint64_t calls, int state)
{
	const char *what = "lookup";
	const uint64_t rounds = (calls + NMEAS - 1) / NMEAS;
	static struct timing t;
	uint64_t sum = 0, want = 0;
	bool ok = true;

	map(0, meas_src(0), sp[0], meas_va(0), NMEAS * PAGE_SIZE, RIGHTS_RWX, what);
	for (uint64_t i = 0; i < NMEAS; i++)
		want += meas_src(i);
	note_nodes(state);
	for (uint64_t k = 0; k < rounds; k++) {
		uint64_t t0 = now_ns();
		for (uint64_t i = 0; i < NMEAS; i++) {
			struct space_hit h;
			/* 97 is prime to 448: every page once, scrambled */
			ok &= space_lookup(sp[0], meas_va(i * 97 % NMEAS), &h);
			sum += pa_addr(h.pa) + h.level;
		}
		tm_add(&t, now_ns() - t0, NMEAS);
	}
	if (!ok || sum != want * rounds)
		die(what, "lookups missed or gave the wrong frame or level");
	sink += sum;
	flush(sp[0], meas_va(0), NMEAS * PAGE_SIZE, what);
	return tm_result(&t);
}

static uint64_t batch_op(unsigned op, unsigned b, int state)
{
	switch (op) {
	case OP_MAP:
		return batch_map(b, state);
	case OP_GRANT:
		return batch_grant(b, state);
	case OP_UNMAP1:
		return batch_unmap(b, 1, state);
	case OP_UNMAP8:
		return batch_unmap(b, 8, state);
	case OP_FLUSH1:
		return batch_flush(b, 1, state);
	default:
		return batch_flush(b, 8, state);
	}
}

/* One sample of every operation, each on its own: a pass over the batches
 * untimed (the steady state: what the operation touches is in the caches
 * as far as they hold it; the cold rows show the rest), then all its
 * timed loops, then the next operation's. */
static void run_ops(unsigned r, int state)
{
	const uint64_t calls = quick ? OPS_QUICK : OPS, batches = calls / BATCH;
	static struct timing t;

	for (unsigned op = 0; op < OP_LOOKUP; op++) {
		for (unsigned b = 0; b < NBATCH; b++)
			(void)batch_op(op, b, state);
		for (uint64_t j = 0; j < batches; j++)
			tm_add(&t, batch_op(op, (unsigned)(j % NBATCH), state), BATCH);
		ops[op].s[state].v[r] = tm_result(&t);
	}
	ops[OP_LOOKUP].s[state].v[r] = run_lookup(calls * 16, state);
}

/* ---- table 2: region maps, cold unmaps ---------------------------------------------------- */

static void run_map_2m(unsigned r)
{
	const char *what = "map 2M";
	const unsigned reps = quick ? 4 : 16;
	static struct timing t;

	for (unsigned k = 0; k < reps; k++) {
		const uint64_t n0 = db_nodes();
		uint64_t pages = 0, t0, t1;
		struct space_result res;
		t0 = now_ns();
		for (uint64_t j = 0; j < R2_CALLS; j++) {
			if (space_map(0, G + (R2_FIRST + j) * 2 * MIB, sp[0], VA_R2 + j * 2 * MIB,
			              2 * MIB, RIGHTS_RWX, &res))
				die(what, "space_map refused");
			pages += res.pages;
		}
		t1 = now_ns();
		tm_add(&t, t1 - t0, R2_CALLS);
		if (pages != R2_CALLS * 512 || db_nodes() != n0 + R2_CALLS)
			die(what, "the calls did not make one node each");
		for (uint64_t j = 0; j < R2_CALLS; j++) {
			const uint32_t x = space_node(sp[0], VA_R2 + j * 2 * MIB);
			if (!x || mdb_level(mdb_at(x)) != 1 ||
			    mdb_va(mdb_at(x)) != VA_R2 + j * 2 * MIB)
				die(what, "a destination is not one 2M node");
			expect_hit(sp[0], VA_R2 + j * 2 * MIB + 5 * PAGE_SIZE,
			           G + (R2_FIRST + j) * 2 * MIB + 5 * PAGE_SIZE, RIGHTS_RWX, 1,
			           what);
		}
		flush(sp[0], VA_R2, R2_CALLS * 2 * MIB, what);
	}
	rows[ROW_MAP_2M].s.v[r] = tm_result(&t);
	snprintf(rows[ROW_MAP_2M].notes, sizeof(rows[ROW_MAP_2M].notes),
	         "1 node and one 2M entry per call (checked)");
}

static void run_map_1g(unsigned r)
{
	const char *what = "map 1G";
	const unsigned reps = quick ? 4 : 16;
	static struct timing t;

	for (unsigned k = 0; k < reps; k++) {
		const uint64_t n0 = db_nodes();
		uint64_t pages = 0, t0, t1;
		struct space_result res;
		t0 = now_ns();
		for (uint64_t j = 0; j < G1_CALLS; j++)
			if (space_map(0, G1, sp[j % 8], VA_1G + j / 8 * GIB, GIB, RIGHTS_RWX, &res))
				die(what, "space_map refused");
			else
				pages += res.pages;
		t1 = now_ns();
		tm_add(&t, t1 - t0, G1_CALLS);
		if (pages != G1_CALLS * (GIB / PAGE_SIZE) || db_nodes() != n0 + G1_CALLS)
			die(what, "the calls did not make one node each");
		for (uint64_t j = 0; j < G1_CALLS; j++) {
			const uint64_t v = VA_1G + j / 8 * GIB;
			const uint32_t x = space_node(sp[j % 8], v);
			if (!x || mdb_level(mdb_at(x)) != 2 || mdb_va(mdb_at(x)) != v)
				die(what, "a destination is not one 1G node");
			expect_hit(sp[j % 8], v + 3 * MIB, G1 + 3 * MIB, RIGHTS_RWX, 2, what);
		}
		if (unmap(0, G1, GIB, what) != G1_CALLS * (GIB / PAGE_SIZE))
			die(what, "unmap of the source did not remove every copy");
	}
	rows[ROW_MAP_1G].s.v[r] = tm_result(&t);
	snprintf(rows[ROW_MAP_1G].notes, sizeof(rows[ROW_MAP_1G].notes),
	         "1 node and one 1G entry per call (checked)");
}

static void run_map_2m_4k(unsigned r)
{
	const char *what = "map 2M from 4K nodes";
	const unsigned reps = quick ? 2 : 8;
	static struct timing t;
	struct space_hit h;

	for (unsigned k = 0; k < reps; k++) {
		const uint64_t n0 = db_nodes();
		uint64_t pages = 0, t0, t1;
		struct space_result res;
		t0 = now_ns();
		for (uint64_t j = 0; j < R4_CALLS; j++) {
			if (space_map(0, G + (R4_FIRST + j) * 2 * MIB, sp[0], VA_R4 + j * 2 * MIB,
			              2 * MIB, RIGHTS_RWX, &res))
				die(what, "space_map refused");
			pages += res.pages;
		}
		t1 = now_ns();
		tm_add(&t, t1 - t0, R4_CALLS);
		if (pages != R4_CALLS * 512 || db_nodes() != n0 + R4_CALLS * 512)
			die(what, "the calls did not make 512 nodes each");
		for (uint64_t j = 0; j < R4_CALLS; j++)
			for (uint64_t p = 0; p < 512; p++)
				expect_hit(sp[0], VA_R4 + j * 2 * MIB + p * PAGE_SIZE,
				           G + (R4_FIRST + j) * 2 * MIB + p * PAGE_SIZE, RIGHTS_RWX,
				           -1, what);
		if (!space_lookup(sp[0], VA_R4, &h))
			die(what, "the destination is not mapped");
		flush(sp[0], VA_R4, R4_CALLS * 2 * MIB, what);
	}
	rows[ROW_MAP_2M_4K].s.v[r] = tm_result(&t);
	snprintf(rows[ROW_MAP_2M_4K].notes, sizeof(rows[ROW_MAP_2M_4K].notes),
	         "512 nodes per call (checked); the entry: %s", h.level ? "one 2M" : "512 4K");
}

/* 64 distinct random pages of the background's sigma0 part. */
static void pick_background(uint64_t *pick, uint64_t *rng)
{
	for (unsigned i = 0; i < BATCH; i++) {
		bool fresh;
		do {
			pick[i] = xorshift(rng) % (bg_blocks * 512);
			fresh = true;
			for (unsigned j = 0; j < i; j++)
				fresh &= pick[j] != pick[i];
		} while (!fresh);
	}
}

/* map of a random background page of sigma0 (which has 4 children and 4
 * grandchildren) into space 9, at the measured addresses (pinned). */
static void run_cold_map(unsigned r, uint64_t *rng)
{
	const char *what = "cold map";
	const uint64_t calls = quick ? COLD_OPS / 4 : COLD_OPS;
	const uint64_t src = G + BG_FIRST * 2 * MIB;
	static struct timing t;
	uint64_t pick[BATCH];

	for (uint64_t done = 0; done < calls; done += BATCH) {
		struct space_result res;
		uint64_t pages = 0;
		pick_background(pick, rng);
		note_nodes(1);
		const uint64_t t0 = now_ns();
		for (unsigned i = 0; i < BATCH; i++) {
			if (space_map(0, src + pick[i] * PAGE_SIZE, sp[8], meas_va(i), PAGE_SIZE,
			              RIGHTS_RWX, &res))
				die(what, "space_map refused");
			pages += res.pages;
		}
		tm_add(&t, now_ns() - t0, BATCH);
		if (pages != BATCH)
			die(what, "the calls did not set one page each");
		for (unsigned i = 0; i < BATCH; i++)
			expect_hit(sp[8], meas_va(i), src + pick[i] * PAGE_SIZE, RIGHTS_RWX, 0,
			           what);
		flush(sp[8], meas_va(0), BATCH * PAGE_SIZE, what);
	}
	rows[ROW_COLD_MAP].s.v[r] = tm_result(&t);
	snprintf(rows[ROW_COLD_MAP].notes, sizeof(rows[ROW_COLD_MAP].notes),
	         "random background pages of sigma0 -> space 9; extra");
}

/* A background page of sigma0 with its 8 derived pages (spaces 1-4 from
 * sigma0, 5-8 from those), removed by one unmap; restored untimed. */
static void run_cold(unsigned r, uint64_t *rng)
{
	const char *what = "cold unmap";
	const uint64_t calls = quick ? COLD_OPS / 4 : COLD_OPS;
	const uint64_t src = G + BG_FIRST * 2 * MIB;
	static struct timing t;
	uint64_t pick[BATCH];

	for (uint64_t done = 0; done < calls; done += BATCH) {
		struct space_result res;
		uint64_t removed = 0;
		pick_background(pick, rng);
		note_nodes(1);
		const uint64_t t0 = now_ns();
		for (unsigned i = 0; i < BATCH; i++) {
			if (space_unmap(0, src + pick[i] * PAGE_SIZE, PAGE_SIZE, &res))
				die(what, "space_unmap refused");
			removed += res.pages;
		}
		tm_add(&t, now_ns() - t0, BATCH);
		if (removed != BATCH * 8)
			die(what, "the calls did not remove 8 pages each");
		for (unsigned i = 0; i < BATCH; i++) {
			const uint64_t off = pick[i] * PAGE_SIZE;
			for (unsigned s = 0; s < 8; s++)
				expect_miss(sp[s], VA_BG + off, what);
			for (unsigned s = 0; s < 4; s++)
				map(0, src + off, sp[s], VA_BG + off, PAGE_SIZE, RIGHTS_RWX, what);
			for (unsigned s = 4; s < 8; s++)
				map(sp[s - 4], VA_BG + off, sp[s], VA_BG + off, PAGE_SIZE,
				    RIGHTS_RWX, what);
			expect_hit(sp[7], VA_BG + off, src + off, RIGHTS_RWX, 0, what);
		}
	}
	rows[ROW_COLD].s.v[r] = tm_result(&t);
	snprintf(rows[ROW_COLD].notes, sizeof(rows[ROW_COLD].notes),
	         "random background pages of sigma0 (8 below each); extra");
}

static void measure_bytes(void)
{
	struct mdb_stats ms;

	mdb_stats(&ms);
	const double b = (double)ms.pages * PAGE_SIZE / (double)ms.nodes;
	for (unsigned r = 0; r < MAX_RUNS; r++) {
		rows[ROW_BYTES].s.v[r] = b;
		rows[ROW_NODE].s.v[r] = sizeof(struct mdb_node);
	}
	snprintf(rows[ROW_BYTES].notes, sizeof(rows[ROW_BYTES].notes),
	         "%llu pages (nodes and directory) for %llu nodes, %llu free",
	         (unsigned long long)ms.pages, (unsigned long long)ms.nodes,
	         (unsigned long long)ms.free);
	snprintf(rows[ROW_NODE].notes, sizeof(rows[ROW_NODE].notes),
	         "hash chains live in the nodes' slots");
}

/* ---- check ---------------------------------------------------------------------------------- */

/* A 1 GiB machine with 10^5 client mappings of 4K pages: sigma0's 2M
 * (or larger) blocks, in turn, into spaces 1-8, 4K off 2M so that each
 * page is a node. */
static void build_check(void)
{
	const char *what = "check state";
	uint64_t left = CHECK_MAPS, next[8] = {0};
	unsigned s = 0;

	boot(CHECK_RAM, CHECK_POOL, &check_huge_kib);
	struct space_stats st;
	space_stats(&st);
	check_pool_frames = st.pool;
	for (unsigned i = 0; i < 8; i++)
		must(space_new(&sp[i]), "space_new");
	for (uint64_t b = 0; b + 2 * MIB <= CHECK_RAM && left; b += 2 * MIB) {
		const uint32_t x = space_node(0, b);
		if (!x || mdb_level(mdb_at(x)) == 0)
			continue;
		const uint64_t pages = left < 512 ? left : 512;
		map(0, b, sp[s], VA_CHK + next[s], pages * PAGE_SIZE, RIGHTS_RWX, what);
		next[s] += pages * PAGE_SIZE;
		left -= pages;
		s = (s + 1) % 8;
	}
	if (left)
		die(what, "sigma0 has too few 2M blocks");
	audit(what);
}

static void run_check(unsigned r)
{
	char buf[256];
	struct space_check sum;
	uint64_t t0, t1;

	t0 = now_ns();
	err_t e = space_check(0, buf, sizeof(buf), &sum);
	t1 = now_ns();
	if (e == space_check_failed)
		die("check", buf);
	must(e, "check");
	check_model_pages = sum.pages;
	snprintf(rows[ROW_CHECK].notes, sizeof(rows[ROW_CHECK].notes),
	         "1 GiB machine, %llu nodes, %llu pages mapped", (unsigned long long)sum.mappings,
	         (unsigned long long)sum.pages);
	rows[ROW_CHECK].s.v[r] = (double)(t1 - t0) / 1e6;
}

/* ---- output -----------------------------------------------------------------------------------
 */

static const char *met_op(const struct op_row *o)
{
	if (!o->target_ns && !o->target_ratio)
		return "-";
	if (o->target_ns)
		return o->s[0].med <= o->target_ns && o->s[1].med <= o->target_ns ? "yes" : "no";
	return o->ratio <= o->target_ratio ? "yes" : "no";
}

static const char *met_row(const struct row *w)
{
	if (!w->target)
		return "-";
	return (w->strict ? w->s.med < w->target : w->s.med <= w->target) ? "yes" : "no";
}

static void print_tables(unsigned runs, uint64_t elapsed_ns)
{
	printf("memmon spaces: %llu MiB simulated RAM (client frames not backed; %llu MiB on huge "
	       "pages), pool %llu MiB, %u client spaces, 1G pages\n",
	       (unsigned long long)(RAM_BYTES / MIB), (unsigned long long)(huge_kib / 1024),
	       (unsigned long long)(POOL_FRAMES * PAGE_SIZE / MIB), NCLIENTS);
	print_conditions(runs);
	printf("%.1f s\n", (double)elapsed_ns / 1e9);
	printf("timed loops dropped as interrupted (over %ux the median loop of their row): %llu "
	       "of %llu\n",
	       DROP_FACTOR, (unsigned long long)loops_dropped, (unsigned long long)loops_timed);
	printf("table 1: %u calls per sample, in loops of %u distinct pages (%u pages take turns), "
	       "state set up and restored untimed; nodes in the database during the timed "
	       "calls: %llu..%llu (10^3: %llu after boot), %llu..%llu (10^6); each run builds both "
	       "states, the ratio is the median of the runs' ratios\n",
	       quick ? OPS_QUICK : OPS, BATCH, NMEAS, (unsigned long long)nodes_lo[0],
	       (unsigned long long)nodes_hi[0], (unsigned long long)boot_nodes,
	       (unsigned long long)nodes_lo[1], (unsigned long long)nodes_hi[1]);
	printf("%-12s | %8s | %8s | %9s | %-11s | %-4s | %s\n", "operation", "10^3 ns", "10^6 ns",
	       "10^6/10^3", "target", "met", "notes");
	printf("-------------+----------+----------+-----------+-------------+------+"
	       "-----------------------------------\n");
	for (unsigned i = 0; i < NOPS; i++) {
		const struct op_row *o = &ops[i];
		char target[16];
		if (o->target_ns)
			snprintf(target, sizeof(target), "<=%.0f ns", o->target_ns);
		else if (o->target_ratio)
			snprintf(target, sizeof(target), "ratio<=%.1f", o->target_ratio);
		else
			snprintf(target, sizeof(target), "-");
		printf("%-12s | %8.1f | %8.1f | %8.2fx | %-11s | %-4s | %s\n", o->name, o->s[0].med,
		       o->s[1].med, o->ratio, target, met_op(o), o->notes);
	}
	printf("\ntable 2: region maps and the cold row with the 10^6 state present; check on a "
	       "1 GiB machine (pool %llu MiB; %llu MiB on huge pages)\n",
	       (unsigned long long)(check_pool_frames * PAGE_SIZE / MIB),
	       (unsigned long long)(check_huge_kib / 1024));
	printf("%-23s | %10s | %-7s | %7s | %-4s | %-21s | %s\n", "workload", "value", "unit",
	       "target", "met", "min..max", "notes");
	printf("------------------------+------------+---------+---------+------+-----------------"
	       "------+-----------------------------------\n");
	for (unsigned i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		char range[48], target[16];
		const int p = w->s.max < 100 ? 2 : w->s.max < 1000 ? 1 : 0;
		snprintf(range, sizeof(range), "%.*f..%.*f", p, w->s.min, p, w->s.max);
		if (!w->target)
			snprintf(target, sizeof(target), "-");
		else
			snprintf(target, sizeof(target), "%s%.0f",
			         w->strict ? "<" : "<=", w->target);
		printf("%-23s | %10.*f | %-7s | %7s | %-4s | %-21s | %s\n", w->name,
		       w->s.med < 100 ? 2 : 1, w->s.med, w->unit, target, met_row(w), range,
		       w->notes);
	}
}

static void json_series(FILE *f, const struct series *s)
{
	fprintf(f, "\"median\": %.4f, \"samples\": [", s->med);
	for (unsigned r = 0; r < s->n; r++)
		fprintf(f, "%s%.4f", r ? ", " : "", s->v[r]);
	fprintf(f, "]");
}

static void write_json(const char *path, unsigned runs)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(path, "cannot open for writing");
	fprintf(f, "{\n  \"ram_bytes\": %llu,\n  \"runs\": %u,\n  \"quick\": %s,\n",
	        (unsigned long long)RAM_BYTES, runs, quick ? "true" : "false");
	fprintf(f, "  \"nodes\": {\"small\": [%llu, %llu], \"big\": [%llu, %llu]},\n",
	        (unsigned long long)nodes_lo[0], (unsigned long long)nodes_hi[0],
	        (unsigned long long)nodes_lo[1], (unsigned long long)nodes_hi[1]);
	fprintf(f, "  \"compiler\": \"%s\",\n  \"flags\": \"%s\",\n  \"ops\": [\n", COMPILER,
	        flags_text());
	for (unsigned i = 0; i < NOPS; i++) {
		const struct op_row *o = &ops[i];
		fprintf(f,
		        "    {\"operation\": \"%s\", \"unit\": \"ns\", \"ratio\": %.4f, \"met\": "
		        "\"%s\",\n",
		        o->name, o->ratio, met_op(o));
		fprintf(f, "     \"small\": {");
		json_series(f, &o->s[0]);
		fprintf(f, "},\n     \"big\": {");
		json_series(f, &o->s[1]);
		fprintf(f, "}}%s\n", i + 1 < NOPS ? "," : "");
	}
	fprintf(f, "  ],\n  \"rows\": [\n");
	for (unsigned i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		fprintf(f,
		        "    {\"workload\": \"%s\", \"unit\": \"%s\", \"target\": %.4f, \"met\": "
		        "\"%s\", ",
		        w->name, w->unit, w->target, met_row(w));
		json_series(f, &w->s);
		fprintf(f, "}%s\n", i + 1 < NROWS ? "," : "");
	}
	fprintf(f, "  ],\n  \"check_model_pages\": %llu\n}\n",
	        (unsigned long long)check_model_pages);
	if (fclose(f))
		die(path, "write failed");
}

int main(int argc, char **argv)
{
	struct bench_opts o =
	    bench_options(argc, argv,
	                  "3 runs at most, an eighth of the calls per sample, fewer "
	                  "region maps");
	const unsigned runs = o.quick && o.runs > QUICK_RUNS ? QUICK_RUNS : o.runs;
	const uint64_t start = now_ns();
	uint64_t rng = SEED;

	quick = o.quick;
	boot(RAM_BYTES, POOL_FRAMES, &huge_kib);
	/* Each run builds both states afresh, so that the two samples of a
	 * ratio are taken close together: the host's speed drifts over
	 * seconds. */
	for (unsigned r = 0; r < runs; r++) {
		run_first(r);
		build_small();
		run_ops(r, 0);
		audit("10^3 state, after");
		build_big();
		run_ops(r, 1);
		if (r == 0)
			measure_bytes();
		run_map_2m(r);
		run_map_1g(r);
		run_map_2m_4k(r);
		run_cold_map(r, &rng);
		run_cold(r, &rng);
		audit("10^6 state, after");
	}
	space_shutdown();

	build_check();
	for (unsigned r = 0; r < runs; r++)
		run_check(r);
	space_shutdown();

	for (unsigned i = 0; i < NOPS; i++) {
		double ratio[MAX_RUNS];
		for (unsigned s = 0; s < 2; s++)
			summarise(ops[i].s[s].v, ops[i].s[s].n = runs, &ops[i].s[s].med,
			          &ops[i].s[s].min, &ops[i].s[s].max);
		for (unsigned r = 0; r < runs; r++)
			ratio[r] = ops[i].s[1].v[r] / ops[i].s[0].v[r];
		ops[i].ratio = median(ratio, runs);
	}
	for (unsigned i = 0; i < NROWS; i++)
		summarise(rows[i].s.v, rows[i].s.n = runs, &rows[i].s.med, &rows[i].s.min,
		          &rows[i].s.max);

	print_tables(runs, now_ns() - start);
	if (o.json)
		write_json(o.json, runs);
	return 0;
}
