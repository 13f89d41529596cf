/*
 * bench_frame: the frame allocator (monitor/frame.c) against plain baselines,
 * on simulated RAM, as one table of nanoseconds per operation.
 *
 * Built and run by `make bench-frames`: the hosted core at -O2, no
 * sanitizers, FRAME_JUNK=0 (no fill on alloc and free), as memmon runs.
 *
 * Rows (each the median of --runs runs, default 7):
 *
 *   init      taking over 1 GiB: memmon's frame_init against the baseline's
 *             "freerange" (push every free frame); ns per whole init.
 *   W1A       kalloc every free frame, one at a time, until frame_err_nomem.
 *   W1B       kfree them all, in reverse order.
 *   W1C       1000 frames allocated into ws[]; then 10^7 times: j at random
 *             (xorshift64), kfree(ws[j]), ws[j] = kalloc(). ns per pair,
 *             the pick included (the same for all). memmon's quick stack
 *             and the list are LIFO, so the kalloc gets back the frame the
 *             kfree just gave; the bitmap finds it again (first fit).
 *   W3        lookups through paging/pt.h, as any other file makes them
 *             (pt.c is another translation unit; pt_lookup's hint path is
 *             inline in the header), on a 4K tree mapping virtual [1 GiB,
 *             2 GiB) onto physical [0, 1 GiB) (pt_map with PT_SMALL: every
 *             translation is a 4-level walk): every page in order, then
 *             10^7 at random (page and offset, xorshift64, the pick
 *             included), each hit checked through a sum. Beside them the
 *             walk floors: the same loops around a bare 4-level walk
 *             written here (four entry reads, present bits only, no
 *             attributes, no hint, no checks), which the compiler may
 *             inline into the loop.
 *   run 2^k   k = 0..18: frame_alloc(2^k) / frame_free pairs with a few runs
 *             kept live (see RUN_LIVE): each step frees the oldest live run
 *             and allocates a new one into its slot, so the allocator always
 *             works around live runs instead of ping-ponging one block
 *             (for k = 17 and 18, where at most one run fits in half of RAM,
 *             it is a ping-pong). ns per free + alloc pair. The steps per
 *             sample are calibrated once per row and side so that a sample
 *             lasts about 20 ms.
 *
 * Baselines, written here and built with the same flags:
 *
 *   init, W1A-C  the classic xv6 kalloc/kfree: a singly linked list whose
 *                link is stored in the free frame itself (struct run),
 *                written through the frame's host address; no owner, no
 *                reference count, no checks.
 *                And a hypervisor's page pool: a bitmap of free frames
 *                (one bit per frame), allocation scanning it first-fit a
 *                64-bit word at a time from a hint (the lowest word that
 *                may hold a free bit, lowered by every free; ACRN's page
 *                pool keeps such a hint), no checks.
 *                And, as a floor rather than a rival, a bare free stack
 *                (an array of frame numbers, push and pop, no owner, no
 *                checks, no entry), inline as memmon's path is: the least
 *                a single-frame allocator can do in the same loop. The
 *                table's last lines set each W1 target against it: the
 *                time the target leaves per operation for memmon's checks
 *                and its 16-byte entry, and the time memmon takes for them.
 *   run 2^k      what an allocator without a buddy structure does: a free
 *                bitmap (one bit per frame) scanned first-fit, from frame 0,
 *                a word at a time, for 2^k aligned free frames; the bits are
 *                then set (and cleared on free) a word at a time.
 *
 * Fairness:
 *   - Both sides get exactly the same frames: after frame_init, every frame
 *     is asked with frame_query, and the ones memmon has free (and only
 *     those) are the baseline's, pushed in ascending address order (as
 *     xv6's freerange does) or left clear in the bitmap.
 *   - Each side is called as its own code is meant to be called. memmon's
 *     kalloc/kfree are inline in frame.h (the quick stack's pop and push,
 *     every check; refills, drains and refusals call into frame.c), as
 *     every caller in the monitor gets them. The baselines are noinline, a
 *     call each, as xv6's kalloc.c and a hypervisor's page pool are called
 *     from other files (no LTO). Every address either side hands out is
 *     summed into a volatile sink, so neither loop can be optimised away.
 *   - Both sides run the same loop around the calls, the same PRNG with the
 *     same seed, and check each result the same way.
 *   - Simulated RAM is faulted in once before anything is timed, and
 *     backed by 2 MiB pages where the host allows (MADV_HUGEPAGE), as a
 *     kernel's direct map would be; the header says how much of it is.
 *   - The short phases (init, W1A, W1B) start with cold caches: a 64 MiB
 *     sweep (twice the L3 of the machine this was written on) runs before
 *     each, for both sides. The long loops (W1C, runs) warm up by
 *     themselves.
 *   - memmon and the baseline alternate within each run, and every memmon
 *     phase ends with frame_audit() and a check that all frames came back
 *     (not timed).
 *
 * Layouts:
 *   A (init, W1)  1 GiB of RAM: frame 0 kept by FRAME_MONITOR (as memmon's
 *                 image would be), free [4 KiB, 1 GiB). frame_init carves
 *                 its 4 MiB table (and bitmap) from the top of the free
 *                 range, so "every frame" is the 261118 frames it leaves.
 *   B (run 2^k)   an aligned run of 2^18 frames is all of 1 GiB, and one of
 *                 2^17 is half of it, so with frame 0 or the table inside
 *                 the gigabyte neither could exist. Layout B is 1 GiB all
 *                 free from frame 0, plus an 8 MiB bank just above it, also
 *                 free, where frame_init puts the table (1033 frames; the
 *                 rest of the bank is free too, for both sides).
 *
 * Options: --runs N (1..99), --quick (W1C 10^6 pairs, shorter run rows),
 * --json FILE (every sample, as well as the medians).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "host.h"
#include "platform.h"
#include "pt.h"

#define BENCH_NAME "bench_frame"
#include "bench_util.h"

#define RAM_BYTES     GIB       /* the simulated machine */
#define BANK_BYTES    (8 * MIB) /* layout B's table bank, above it */
#define HOST_BYTES    (RAM_BYTES + BANK_BYTES)
#define MAX_FRAMES    (HOST_BYTES / PAGE_SIZE)
#define EVICT_BYTES   (64 * MIB) /* the cache sweep */
#define WS            1000       /* W1C's working set */
#define W1C_PAIRS     10000000   /* 10^7 */
#define W1C_PAIRS_Q   1000000    /* --quick */
#define RUN_K_MAX     18         /* run rows: k = 0 .. 18 */
#define RUN_LIVE      4          /* live runs kept in the run rows */
#define RUN_TARGET_NS 20000000   /* timed length of one run-row sample */
#define RUN_TARGET_Q  4000000    /* --quick */
#define RUN_WARMUP    16         /* untimed steps before a run-row sample */
#define OWNER         FRAME_CLIENT

/* ---- small things ----------------------------------------------------------- */

/* A multiply-shift pick in [0, n) from the next xorshift64. */
static inline uint32_t pick(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((xorshift(s) >> 32) * n) >> 32);
}

static unsigned char *evict_buf;

/* Push the caches out: read a 64 MiB buffer, a line at a time. */
static void evict_caches(void)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < EVICT_BYTES; i += 64)
		sum += *(volatile uint64_t *)(void *)(evict_buf + i);
	sink += sum;
}

/* ---- the machine and the layouts ----------------------------------------------- */

static unsigned char *ram; /* host address of physical 0 */
static uint64_t huge_kib;  /* AnonHugePages after faulting RAM in */

static const struct frame_range layout_a[] = {
    {.base = 0, .pages = 1, .owner = FRAME_MONITOR},
    {.base = PAGE_SIZE, .pages = RAM_BYTES / PAGE_SIZE - 1, .owner = FRAME_FREE},
};
static const struct frame_range layout_b[] = {
    {.base = 0, .pages = RAM_BYTES / PAGE_SIZE, .owner = FRAME_FREE},
    {.base = RAM_BYTES, .pages = BANK_BYTES / PAGE_SIZE, .owner = FRAME_FREE},
};

static void init_a(void)
{
	must(frame_init(layout_a, ARRAY_SIZE(layout_a)), "frame_init (layout A)");
}

static void init_b(void)
{
	must(frame_init(layout_b, ARRAY_SIZE(layout_b)), "frame_init (layout B)");
}

static void machine_setup(void)
{
	ram = bench_ram(HOST_BYTES, &huge_kib);
	evict_buf = malloc(EVICT_BYTES);
	if (!evict_buf)
		die("malloc", "no memory for the cache sweep");
	memset(evict_buf, 1, EVICT_BYTES);
}

/* The frames memmon has free right after frame_init, asked one by one. */
struct free_set {
	uint64_t nframes; /* frames 0 .. nframes-1 considered */
	uint64_t count;   /* how many are free */
	uint32_t *frames; /* the free ones, ascending */
	uint64_t *used;   /* bitmap, bit set: not free (bitmap baseline) */
	uint64_t nwords;  /* of `used` */
};

static struct free_set free_a, free_b;

static void derive_free(struct free_set *fs, uint64_t nframes)
{
	struct frame_stats st;

	fs->nframes = nframes;
	fs->nwords = (nframes + 63) / 64;
	fs->frames = malloc(nframes * sizeof(*fs->frames));
	fs->used = malloc(fs->nwords * sizeof(*fs->used));
	if (!fs->frames || !fs->used)
		die("malloc", "no memory for the free set");
	memset(fs->used, 0xff, fs->nwords * sizeof(*fs->used));
	fs->count = 0;
	for (uint64_t f = 0; f < nframes; f++) {
		struct frame_info fi;
		must(frame_query(pa_init(f * PAGE_SIZE), &fi), "frame_query");
		if (fi.managed && fi.owner == FRAME_FREE) {
			fs->frames[fs->count++] = (uint32_t)f;
			fs->used[f / 64] &= ~((uint64_t)1 << (f % 64));
		}
	}
	frame_stats(&st);
	if (st.free != fs->count)
		die("free set", "frame_query and frame_stats disagree on the free frames");
}

/* memmon's end-of-phase check: consistent, and every frame back. */
static void mm_check(const struct free_set *fs, const char *what)
{
	struct frame_stats st;

	must(frame_audit(), what);
	frame_stats(&st);
	if (st.free != fs->count)
		die(what, "not every frame came back");
}

/* ---- baseline 1: the xv6 free list ---------------------------------------------- */

struct run {
	struct run *next;
};

static struct run *bl_head;

static __attribute__((noinline)) bool bl_kalloc(uint64_t *pa)
{
	struct run *r = bl_head;

	if (!r)
		return false;
	bl_head = r->next;
	*pa = (uint64_t)((unsigned char *)r - ram);
	return true;
}

static __attribute__((noinline)) void bl_kfree(uint64_t pa)
{
	struct run *r = (struct run *)(void *)(ram + pa);

	r->next = bl_head;
	bl_head = r;
}

/* xv6's kinit: freerange over the free frames, lowest first. */
static void bl_init(const struct free_set *fs)
{
	bl_head = NULL;
	for (uint64_t i = 0; i < fs->count; i++)
		bl_kfree((uint64_t)fs->frames[i] * PAGE_SIZE);
}

static void bl_check(const struct free_set *fs, const char *what)
{
	uint64_t n = 0;

	for (struct run *r = bl_head; r && n <= fs->count; r = r->next)
		n++;
	if (n != fs->count)
		die(what, "baseline list lost frames");
}

/* ---- baseline 2: a first-fit bitmap ----------------------------------------------- */

static uint64_t *bm;   /* bit set: frame used */
static uint64_t bm_nw; /* words */

/* Bits at every 2^k-th position, for k = 0..5. */
static const uint64_t bm_aligned[6] = {
    ~(uint64_t)0,        0x5555555555555555u, 0x1111111111111111u,
    0x0101010101010101u, 0x0001000100010001u, 0x0000000100000001u,
};

static __attribute__((noinline)) bool bm_alloc(unsigned k, uint64_t *pa)
{
	if (k < 6) {
		unsigned s = 1u << k;
		for (uint64_t i = 0; i < bm_nw; i++) {
			uint64_t f = ~bm[i]; /* free bits */
			for (unsigned sh = 1; sh < s; sh <<= 1)
				f &= f >> sh; /* bit p: p .. p+2^k-1 all free */
			f &= bm_aligned[k];
			if (f) {
				unsigned b = (unsigned)__builtin_ctzll(f);
				bm[i] |= (((uint64_t)1 << s) - 1) << b;
				*pa = (i * 64 + b) * PAGE_SIZE;
				return true;
			}
		}
		return false;
	}
	uint64_t wpb = (uint64_t)1 << (k - 6); /* words per block */
	for (uint64_t i = 0; i + wpb <= bm_nw; i += wpb) {
		uint64_t j = 0;
		while (j < wpb && bm[i + j] == 0)
			j++;
		if (j == wpb) {
			memset(&bm[i], 0xff, wpb * sizeof(*bm));
			*pa = i * 64 * PAGE_SIZE;
			return true;
		}
	}
	return false;
}

static __attribute__((noinline)) void bm_free(uint64_t pa, unsigned k)
{
	uint64_t f = pa / PAGE_SIZE;

	if (k < 6)
		bm[f / 64] &= ~((((uint64_t)1 << (1u << k)) - 1) << (f % 64));
	else
		memset(&bm[f / 64], 0, ((uint64_t)1 << (k - 6)) * sizeof(*bm));
}

static void bm_init(const struct free_set *fs)
{
	bm_nw = fs->nwords;
	memcpy(bm, fs->used, bm_nw * sizeof(*bm));
}

static void bm_check(const struct free_set *fs, const char *what)
{
	if (memcmp(bm, fs->used, bm_nw * sizeof(*bm)))
		die(what, "baseline bitmap lost frames");
}

/* The page pool's single frames: first fit from the hint word. */
static uint64_t bm_hint; /* no free bit in the words below it */

static __attribute__((noinline)) bool bm_kalloc(uint64_t *pa)
{
	for (uint64_t i = bm_hint; i < bm_nw; i++) {
		uint64_t f = ~bm[i];
		if (f) {
			unsigned b = (unsigned)__builtin_ctzll(f);
			bm[i] |= (uint64_t)1 << b;
			bm_hint = i;
			*pa = (i * 64 + b) * PAGE_SIZE;
			return true;
		}
	}
	bm_hint = bm_nw;
	return false;
}

static __attribute__((noinline)) void bm_kfree(uint64_t pa)
{
	uint64_t f = pa / PAGE_SIZE;

	bm[f / 64] &= ~((uint64_t)1 << (f % 64));
	if (f / 64 < bm_hint)
		bm_hint = f / 64;
}

static void bm_pool_init(const struct free_set *fs)
{
	bm_init(fs);
	bm_hint = 0;
}

/* ---- the floor: a bare free stack ------------------------------------------------------ */

/* The least any allocator of single frames can do: an array of free frame
 * numbers, push and pop, no owner, no checks, no entry. Inline, as memmon's
 * kalloc and kfree are (the two baselines above are calls), so that the
 * column says what is left, per operation, for memmon's checks and its
 * 16-byte entry: the table had it as its fourth column. */
static uint32_t *st;  /* MAX_FRAMES slots */
static uint64_t st_n; /* frames on it */

static inline bool st_kalloc(uint64_t *pa)
{
	if (!st_n)
		return false;
	*pa = (uint64_t)st[--st_n] * PAGE_SIZE;
	return true;
}

static inline void st_kfree(uint64_t pa)
{
	st[st_n++] = (uint32_t)(pa / PAGE_SIZE);
}

/* Lowest frame on top, as the list hands them out. */
static void st_init(const struct free_set *fs)
{
	st_n = 0;
	for (uint64_t i = fs->count; i-- > 0;)
		st[st_n++] = fs->frames[i];
}

static void st_check(const struct free_set *fs, const char *what)
{
	if (st_n != fs->count)
		die(what, "bare stack lost frames");
}

/* ---- results ---------------------------------------------------------------------- */

enum {
	ROW_INIT,
	ROW_W1A,
	ROW_W1B,
	ROW_W1C,
	ROW_W3_SEQ,
	ROW_W3_RAND,
	ROW_RUN0,
	NROWS = ROW_RUN0 + RUN_K_MAX + 1
};

/* A row: memmon against one or two baselines (bl, then bm; bm_name NULL:
 * none), each named in the table, and for init and W1 the bare stack (st). */
static struct row {
	char name[32];
	char notes[80];
	const char *bl_name, *bm_name, *st_name;
	double mm[MAX_RUNS], bl[MAX_RUNS], bm[MAX_RUNS], st[MAX_RUNS]; /* ns per op, one per run */
	double mm_med, bl_med, bm_med, st_med;
	double mm_min, mm_max, bl_min, bm_min; /* the spread over the runs */
} rows[NROWS];

/* ---- init, W1A, W1B ------------------------------------------------------------------ */

static uint64_t *pas; /* W1A's frames, in allocation order */

static void w1ab_memmon(unsigned r)
{
	uint64_t n = 0, sum = 0, t0, t1, t2, t3;
	paddr_t pa;

	evict_caches();
	t0 = now_ns();
	init_a();
	t1 = now_ns();
	rows[ROW_INIT].mm[r] = (double)(t1 - t0);

	evict_caches();
	t0 = now_ns();
	while (n < MAX_FRAMES && kalloc(OWNER, &pa) == NULL) {
		pas[n++] = pa_addr(pa);
		sum += pa_addr(pa);
	}
	t1 = now_ns();
	if (n != free_a.count)
		die("W1A (memmon)", "kalloc did not hand out every free frame");

	evict_caches();
	t2 = now_ns();
	for (uint64_t i = n; i-- > 0;)
		if (kfree(pa_init(pas[i]), OWNER))
			die("W1B (memmon)", "kfree refused");
	t3 = now_ns();
	sink += sum;
	rows[ROW_W1A].mm[r] = (double)(t1 - t0) / (double)n;
	rows[ROW_W1B].mm[r] = (double)(t3 - t2) / (double)n;
	mm_check(&free_a, "W1A/W1B (memmon)");
}

/* One baseline's side of init, W1A and W1B, as memmon's. Always inlined,
 * so that the calls are direct, as memmon's are. */
struct baseline {
	const char *what;
	void (*init)(const struct free_set *fs);
	bool (*kalloc)(uint64_t *pa);
	void (*kfree)(uint64_t pa);
	void (*check)(const struct free_set *fs, const char *what);
	double *(*col)(struct row *w); /* the samples it fills */
};

static double *col_list(struct row *w)
{
	return w->bl;
}

static double *col_bitmap(struct row *w)
{
	return w->bm;
}

static double *col_stack(struct row *w)
{
	return w->st;
}

static inline __attribute__((always_inline)) void w1ab_side(unsigned r, const struct baseline *b)
{
	uint64_t n = 0, sum = 0, t0, t1, t2, t3, pa;

	evict_caches();
	t0 = now_ns();
	b->init(&free_a);
	t1 = now_ns();
	b->col(&rows[ROW_INIT])[r] = (double)(t1 - t0);

	evict_caches();
	t0 = now_ns();
	while (n < MAX_FRAMES && b->kalloc(&pa)) {
		pas[n++] = pa;
		sum += pa;
	}
	t1 = now_ns();
	if (n != free_a.count)
		die(b->what, "kalloc did not hand out every free frame");

	evict_caches();
	t2 = now_ns();
	for (uint64_t i = n; i-- > 0;)
		b->kfree(pas[i]);
	t3 = now_ns();
	sink += sum;
	b->col(&rows[ROW_W1A])[r] = (double)(t1 - t0) / (double)n;
	b->col(&rows[ROW_W1B])[r] = (double)(t3 - t2) / (double)n;
	b->check(&free_a, b->what);
}

/* ---- W1C -------------------------------------------------------------------------------- */

static void w1c_memmon(unsigned r, uint64_t pairs)
{
	paddr_t ws[WS], pa;
	uint64_t rng = SEED, sum = 0, t0, t1;

	init_a();
	for (unsigned i = 0; i < WS; i++)
		must(kalloc(OWNER, &ws[i]), "W1C (memmon) working set");
	t0 = now_ns();
	for (uint64_t it = 0; it < pairs; it++) {
		uint32_t j = pick(&rng, WS);
		if (kfree(ws[j], OWNER) || kalloc(OWNER, &pa))
			die("W1C (memmon)", "kfree or kalloc refused");
		ws[j] = pa;
		sum += pa_addr(pa);
	}
	t1 = now_ns();
	sink += sum;
	rows[ROW_W1C].mm[r] = (double)(t1 - t0) / (double)pairs;
	for (unsigned i = 0; i < WS; i++)
		must(kfree(ws[i], OWNER), "W1C (memmon) working set");
	mm_check(&free_a, "W1C (memmon)");
}

static inline __attribute__((always_inline)) void w1c_side(unsigned r, uint64_t pairs,
                                                           const struct baseline *b)
{
	uint64_t ws[WS], pa;
	uint64_t rng = SEED, sum = 0, t0, t1;

	b->init(&free_a);
	for (unsigned i = 0; i < WS; i++)
		if (!b->kalloc(&ws[i]))
			die(b->what, "working set");
	t0 = now_ns();
	for (uint64_t it = 0; it < pairs; it++) {
		uint32_t j = pick(&rng, WS);
		b->kfree(ws[j]);
		if (!b->kalloc(&pa))
			die(b->what, "kalloc failed");
		ws[j] = pa;
		sum += pa;
	}
	t1 = now_ns();
	sink += sum;
	b->col(&rows[ROW_W1C])[r] = (double)(t1 - t0) / (double)pairs;
	for (unsigned i = 0; i < WS; i++)
		b->kfree(ws[i]);
	b->check(&free_a, b->what);
}

static const struct baseline base_list = {"W1 (list)", bl_init,  bl_kalloc,
                                          bl_kfree,    bl_check, col_list};
static const struct baseline base_bitmap = {"W1 (bitmap)", bm_pool_init, bm_kalloc,
                                            bm_kfree,      bm_check,     col_bitmap};
static const struct baseline base_stack = {"W1 (bare stack)", st_init,  st_kalloc,
                                           st_kfree,          st_check, col_stack};

/* ---- W3 ----------------------------------------------------------------------------------- */

#define W3_VA    GIB /* virtual [1 GiB, 2 GiB) -> physical [0, 1 GiB) */
#define W3_PAGES (RAM_BYTES / PAGE_SIZE)
#define W3_ATTR  (PT_R | PT_W)

static struct pt w3_pt;
static uint64_t w3_rand_sum; /* the random offsets' sum, for the check */

/* A random address of the mapped gigabyte: page and offset. */
static inline uint64_t w3_offset(uint64_t r)
{
	return ((r >> 46) << PAGE_SHIFT) | (r & (PAGE_SIZE - 1));
}

/* The floor: a bare 4-level walk (present bits only) from the root. */
static inline bool floor_lookup(const pte_t *root, uint64_t va, uint64_t *pa)
{
	pte_t e = root[pt_index(va, 3)];

	for (unsigned level = 3; level-- > 0;) {
		if (!(e & PTE_P))
			return false;
		e = ((const pte_t *)(void *)(ram + (e & PTE_ADDR)))[pt_index(va, level)];
	}
	if (!(e & PTE_P))
		return false;
	*pa = (e & PTE_ADDR) | (va & (PAGE_SIZE - 1));
	return true;
}

static void w3_setup(uint64_t nrand)
{
	uint64_t rng = SEED, sum = 0;

	for (uint64_t i = 0; i < nrand; i++)
		sum += w3_offset(xorshift(&rng));
	w3_rand_sum = sum;
}

/* memmon (floor false: pt_lookup through pt.h) or the floor, on a fresh 4K
 * tree; both sums checked. */
static void w3_run(unsigned r, uint64_t nrand, bool floor)
{
	const char *what = floor ? "W3 (floor)" : "W3 (memmon)";
	const uint64_t seq_want = W3_PAGES * (W3_PAGES - 1) / 2 * PAGE_SIZE;
	uint64_t sum = 0, rng = SEED, t0, t1, t2, t3, pa = 0;
	struct pt_hit hit = {.level = 0};
	bool ok = true;

	init_a();
	must(pt_init(&w3_pt, &pt_mem_frames, true), what);
	must(pt_map(&w3_pt, va_init(W3_VA), pa_init(0), RAM_BYTES, W3_ATTR, PT_SMALL), what);
	const pte_t *root = plat_pa_to_ptr(w3_pt.root);

	t0 = now_ns();
	if (floor) {
		for (uint64_t i = 0; i < W3_PAGES; i++) {
			ok &= floor_lookup(root, W3_VA + i * PAGE_SIZE, &pa);
			sum += pa;
		}
	} else {
		for (uint64_t i = 0; i < W3_PAGES; i++) {
			ok &= pt_lookup(&w3_pt, va_init(W3_VA + i * PAGE_SIZE), &hit);
			sum += pa_addr(hit.pa) + hit.level;
		}
	}
	t1 = now_ns();
	if (!ok || sum != seq_want)
		die(what, "sequential lookups missed or gave the wrong frame");
	sink += sum;

	sum = 0;
	t2 = now_ns();
	if (floor) {
		for (uint64_t i = 0; i < nrand; i++) {
			ok &= floor_lookup(root, W3_VA + w3_offset(xorshift(&rng)), &pa);
			sum += pa;
		}
	} else {
		for (uint64_t i = 0; i < nrand; i++) {
			ok &= pt_lookup(&w3_pt, va_init(W3_VA + w3_offset(xorshift(&rng))), &hit);
			sum += pa_addr(hit.pa) + hit.level;
		}
	}
	t3 = now_ns();
	if (!ok || sum != w3_rand_sum)
		die(what, "random lookups missed or gave the wrong frame");
	sink += sum;

	pt_destroy(&w3_pt);
	mm_check(&free_a, what);
	double *seq = floor ? rows[ROW_W3_SEQ].bl : rows[ROW_W3_SEQ].mm;
	double *rnd = floor ? rows[ROW_W3_RAND].bl : rows[ROW_W3_RAND].mm;
	seq[r] = (double)(t1 - t0) / (double)W3_PAGES;
	rnd[r] = (double)(t3 - t2) / (double)nrand;
}

/* ---- run 2^k -------------------------------------------------------------------------------- */

/* Live runs for order k: 4, fewer where 4 would take more than half of the
 * gigabyte, and 1 (a ping-pong) for k = 17 and 18. */
static unsigned run_live(unsigned k)
{
	uint64_t half = RAM_BYTES / PAGE_SIZE / 2 >> k;

	return half >= RUN_LIVE ? RUN_LIVE : half ? (unsigned)half : 1;
}

/* Steps of memmon's run loop: free the oldest live run, allocate anew. */
static uint64_t mm_steps(paddr_t *ring, unsigned live, uint64_t count, uint64_t steps,
                         unsigned *slot)
{
	uint64_t sum = 0;
	unsigned s = *slot;

	for (uint64_t it = 0; it < steps; it++) {
		if (frame_free(ring[s], count, OWNER) || frame_alloc(count, OWNER, &ring[s]))
			die("run 2^k (memmon)", "frame_free or frame_alloc refused");
		sum += pa_addr(ring[s]);
		if (++s == live)
			s = 0;
	}
	*slot = s;
	return sum;
}

/* One sample: total ns of `steps` timed steps (after set-up and warm-up). */
static uint64_t run_memmon(unsigned k, uint64_t steps)
{
	paddr_t ring[RUN_LIVE];
	unsigned live = run_live(k), slot = 0;
	uint64_t count = (uint64_t)1 << k, t0, t1;

	init_b();
	for (unsigned s = 0; s < live; s++)
		must(frame_alloc(count, OWNER, &ring[s]), "run 2^k (memmon) live runs");
	sink += mm_steps(ring, live, count, RUN_WARMUP, &slot);
	t0 = now_ns();
	sink += mm_steps(ring, live, count, steps, &slot);
	t1 = now_ns();
	for (unsigned s = 0; s < live; s++)
		must(frame_free(ring[s], count, OWNER), "run 2^k (memmon) live runs");
	mm_check(&free_b, "run 2^k (memmon)");
	return t1 - t0;
}

static uint64_t bm_steps(uint64_t *ring, unsigned live, unsigned k, uint64_t steps, unsigned *slot)
{
	uint64_t sum = 0;
	unsigned s = *slot;

	for (uint64_t it = 0; it < steps; it++) {
		bm_free(ring[s], k);
		if (!bm_alloc(k, &ring[s]))
			die("run 2^k (baseline)", "no aligned free run");
		sum += ring[s];
		if (++s == live)
			s = 0;
	}
	*slot = s;
	return sum;
}

static uint64_t run_baseline(unsigned k, uint64_t steps)
{
	uint64_t ring[RUN_LIVE], t0, t1;
	unsigned live = run_live(k), slot = 0;

	bm_init(&free_b);
	for (unsigned s = 0; s < live; s++)
		if (!bm_alloc(k, &ring[s]))
			die("run 2^k (baseline)", "live runs");
	sink += bm_steps(ring, live, k, RUN_WARMUP, &slot);
	t0 = now_ns();
	sink += bm_steps(ring, live, k, steps, &slot);
	t1 = now_ns();
	for (unsigned s = 0; s < live; s++)
		bm_free(ring[s], k);
	bm_check(&free_b, "run 2^k (baseline)");
	return t1 - t0;
}

/* Steps that make one sample last about target_ns. */
static uint64_t calibrate(uint64_t (*sample)(unsigned, uint64_t), unsigned k, uint64_t target_ns)
{
	uint64_t steps = 16, t;

	for (;;) {
		t = sample(k, steps);
		if (t >= target_ns / 8 || steps >= ((uint64_t)1 << 30))
			break;
		steps *= 4;
	}
	if (!t)
		t = 1;
	uint64_t want = (uint64_t)((double)steps * (double)target_ns / (double)t);
	return want < 16 ? 16 : want;
}

/* ---- output
 * -------------------------------------------------------------------------------------- */

/* "name ns (ratio)" of one baseline, or "-". */
static void baseline_cell(char *buf, size_t len, const char *name, double med, double mm)
{
	if (!name)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s %.1f (%.2fx)", name, med, mm / med);
}

/* One target: ratio = memmon / a baseline, met when at most `limit`. */
static void print_target(const char *what, const struct row *w, bool second, double limit)
{
	double base = second ? w->bm_med : w->bl_med;
	double ratio = w->mm_med / base;

	printf("  %-34s %.1f / %.1f ns = %.2fx, target <= %.2fx: %s\n", what, w->mm_med, base,
	       ratio, limit, ratio <= limit ? "met" : "NOT met");
}

/* A W1 target in ns (limit times its baseline), against the bare stack's
 * time: the room the target leaves per operation for everything memmon does
 * that the stack does not (owner, double-free and foreign-free checks, the
 * 16-byte entry), and what memmon spends on it. */
static void print_room(const char *what, const struct row *w, bool second, double limit)
{
	double target = limit * (second ? w->bm_med : w->bl_med);

	printf(
	    "  %-4s target %.1f ns - stack %.1f ns = room %.1f ns per op; memmon spends %.1f ns\n",
	    what, target, w->st_med, target - w->st_med, w->mm_med - w->st_med);
}

static void print_table(unsigned runs, uint64_t pairs, uint64_t elapsed_ns)
{
	printf("memmon frame allocator vs plain baselines: %llu MiB simulated RAM "
	       "(+%llu MiB table bank in the run rows), %llu MiB on huge pages\n",
	       (unsigned long long)(RAM_BYTES / MIB), (unsigned long long)(BANK_BYTES / MIB),
	       (unsigned long long)(huge_kib / 1024));
	print_conditions(runs);
	printf("W1C %llu pairs; %.1f s\n", (unsigned long long)pairs, (double)elapsed_ns / 1e9);
	printf("ns per op, medians (ratio = memmon / that baseline, < 1: memmon faster)\n");
	printf("%-18s | %8s | %-17s | %-27s | %-26s | %-22s | %s\n", "workload", "memmon",
	       "memmon min..max", "baseline 1 (ratio)", "baseline 2 (ratio)", "floor (ratio)",
	       "notes");
	printf(
	    "-------------------+----------+-------------------+-----------------------------+----"
	    "------------------------+------------------------+------------------------------------"
	    "-"
	    "---------\n");
	for (unsigned i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		char range[40], b1[48], b2[48], b3[48];
		snprintf(range, sizeof(range), "%.*f..%.*f", w->mm_min < 1000 ? 1 : 0, w->mm_min,
		         w->mm_max < 1000 ? 1 : 0, w->mm_max);
		baseline_cell(b1, sizeof(b1), w->bl_name, w->bl_med, w->mm_med);
		baseline_cell(b2, sizeof(b2), w->bm_name, w->bm_med, w->mm_med);
		baseline_cell(b3, sizeof(b3), w->st_name, w->st_med, w->mm_med);
		printf("%-18s | %8.1f | %-17s | %-27s | %-26s | %-22s | %s\n", w->name, w->mm_med,
		       range, b1, b2, b3, w->notes);
	}

	/* The run rows' spread, k = 1..18 (k = 0 is the quick stack, another
	 * path): memmon's should stay flat, the bitmap's grow with 2^k. */
	double mlo = rows[ROW_RUN0 + 1].mm_med, mhi = mlo, blo = rows[ROW_RUN0 + 1].bl_med;
	double bhi = blo;
	unsigned klo = 1, khi = 1, kblo = 1, kbhi = 1;
	for (unsigned k = 1; k <= RUN_K_MAX; k++) {
		const struct row *w = &rows[ROW_RUN0 + k];
		if (w->mm_med < mlo)
			mlo = w->mm_med, klo = k;
		if (w->mm_med > mhi)
			mhi = w->mm_med, khi = k;
		if (w->bl_med < blo)
			blo = w->bl_med, kblo = k;
		if (w->bl_med > bhi)
			bhi = w->bl_med, kbhi = k;
	}
	printf("run 2^1..2^%u (sizes x%llu): memmon %.1f (k=%u) .. %.1f (k=%u) ns, max/min %.2f; "
	       "bitmap %.1f (k=%u) .. %.1f (k=%u) ns, max/min %.0f\n",
	       RUN_K_MAX, (unsigned long long)1 << (RUN_K_MAX - 1), mlo, klo, mhi, khi, mhi / mlo,
	       blo, kblo, bhi, kbhi, bhi / blo);
	printf("targets (issue 15; medians of this run, all of memmon's checks on):\n");
	print_target("W1C vs the free list", &rows[ROW_W1C], false, 0.5);
	print_target("W1A vs the bitmap", &rows[ROW_W1A], true, 1.0);
	print_target("W1B vs the bitmap", &rows[ROW_W1B], true, 1.0);
	print_target("W3 sequential vs its walk floor", &rows[ROW_W3_SEQ], false, 1.5);
	print_target("W3 random vs its walk floor", &rows[ROW_W3_RAND], false, 1.2);
	printf("what a W1 target leaves for memmon's checks and entry, over the bare stack:\n");
	print_room("W1C", &rows[ROW_W1C], false, 0.5);
	print_room("W1A", &rows[ROW_W1A], true, 1.0);
	print_room("W1B", &rows[ROW_W1B], true, 1.0);
}

static void write_json(const char *path, unsigned runs, uint64_t pairs)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(path, "cannot open for writing");
	fprintf(f, "{\n  \"ram_bytes\": %llu,\n  \"runs\": %u,\n  \"w1c_pairs\": %llu,\n",
	        (unsigned long long)RAM_BYTES, runs, (unsigned long long)pairs);
	fprintf(f, "  \"compiler\": \"%s\",\n  \"flags\": \"%s\",\n  \"rows\": [\n", COMPILER,
	        flags_text());
	for (unsigned i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		fprintf(f,
		        "    {\"workload\": \"%s\", \"memmon_ns\": %.3f, \"baseline\": \"%s\", "
		        "\"baseline_ns\": %.3f, \"ratio\": %.4f, \"notes\": \"%s\",\n",
		        w->name, w->mm_med, w->bl_name, w->bl_med, w->mm_med / w->bl_med, w->notes);
		if (w->bm_name)
			fprintf(f,
			        "     \"baseline2\": \"%s\", \"baseline2_ns\": %.3f, \"ratio2\": "
			        "%.4f,\n",
			        w->bm_name, w->bm_med, w->mm_med / w->bm_med);
		if (w->st_name)
			fprintf(f, "     \"floor\": \"%s\", \"floor_ns\": %.3f,\n", w->st_name,
			        w->st_med);
		fprintf(f, "     \"memmon_samples\": [");
		for (unsigned r = 0; r < runs; r++)
			fprintf(f, "%s%.3f", r ? ", " : "", w->mm[r]);
		fprintf(f, "], \"baseline_samples\": [");
		for (unsigned r = 0; r < runs; r++)
			fprintf(f, "%s%.3f", r ? ", " : "", w->bl[r]);
		if (w->bm_name) {
			fprintf(f, "], \"baseline2_samples\": [");
			for (unsigned r = 0; r < runs; r++)
				fprintf(f, "%s%.3f", r ? ", " : "", w->bm[r]);
		}
		if (w->st_name) {
			fprintf(f, "], \"floor_samples\": [");
			for (unsigned r = 0; r < runs; r++)
				fprintf(f, "%s%.3f", r ? ", " : "", w->st[r]);
		}
		fprintf(f, "]}%s\n", i + 1 < NROWS ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	if (fclose(f))
		die(path, "write failed");
}

int main(int argc, char **argv)
{
	struct bench_opts o =
	    bench_options(argc, argv, "fewer iterations (W1C 10^6 pairs, short run rows)");
	unsigned runs = o.runs;
	uint64_t pairs = o.quick ? W1C_PAIRS_Q : W1C_PAIRS;
	uint64_t target = o.quick ? RUN_TARGET_Q : RUN_TARGET_NS;
	uint64_t nrand = pairs; /* W3's random lookups: as many as W1C's pairs */
	uint64_t start = now_ns();

	machine_setup();
	pas = malloc(MAX_FRAMES * sizeof(*pas));
	bm = malloc(((MAX_FRAMES + 63) / 64) * sizeof(*bm));
	st = malloc(MAX_FRAMES * sizeof(*st));
	if (!pas || !bm || !st)
		die("malloc", "no memory");
	init_a();
	derive_free(&free_a, RAM_BYTES / PAGE_SIZE);
	init_b();
	derive_free(&free_b, MAX_FRAMES);
	w3_setup(nrand);

	snprintf(rows[ROW_INIT].name, sizeof(rows[0].name), "init (takeover)");
	snprintf(rows[ROW_INIT].notes, sizeof(rows[0].notes),
	         "ns per whole init; base: push %llu frames", (unsigned long long)free_a.count);
	snprintf(rows[ROW_W1A].name, sizeof(rows[0].name), "W1A alloc all");
	snprintf(rows[ROW_W1A].notes, sizeof(rows[0].notes), "%llu kallocs, one at a time",
	         (unsigned long long)free_a.count);
	snprintf(rows[ROW_W1B].name, sizeof(rows[0].name), "W1B free all");
	snprintf(rows[ROW_W1B].notes, sizeof(rows[0].notes), "%llu kfrees, reverse order",
	         (unsigned long long)free_a.count);
	snprintf(rows[ROW_W1C].name, sizeof(rows[0].name), "W1C random pairs");
	snprintf(rows[ROW_W1C].notes, sizeof(rows[0].notes),
	         "kfree(ws[rand]) + kalloc, ws of %u; op = pair", WS);
	for (unsigned i = ROW_INIT; i <= ROW_W1C; i++) {
		rows[i].bl_name = "list";
		rows[i].bm_name = "bitmap";
		rows[i].st_name = "stack";
	}
	snprintf(rows[ROW_W3_SEQ].name, sizeof(rows[0].name), "W3 lookup seq");
	snprintf(rows[ROW_W3_SEQ].notes, sizeof(rows[0].notes),
	         "pt_lookup via pt.h, every page of a 4K tree in order");
	snprintf(rows[ROW_W3_RAND].name, sizeof(rows[0].name), "W3 lookup random");
	snprintf(rows[ROW_W3_RAND].notes, sizeof(rows[0].notes),
	         "%llu at random (page + offset, pick included)", (unsigned long long)nrand);
	rows[ROW_W3_SEQ].bl_name = rows[ROW_W3_RAND].bl_name = "floor";
	for (unsigned k = 0; k <= RUN_K_MAX; k++) {
		struct row *w = &rows[ROW_RUN0 + k];
		snprintf(w->name, sizeof(w->name), "run 2^%u", k);
		snprintf(w->notes, sizeof(w->notes), "%llu frame%s, %u live; op = free+alloc%s",
		         (unsigned long long)1 << k, k ? "s" : "", run_live(k),
		         k == 0 ? " (quick stack)" : "");
		w->bl_name = "bitmap";
	}

	uint64_t mm_iters[RUN_K_MAX + 1], bl_iters[RUN_K_MAX + 1];
	for (unsigned k = 0; k <= RUN_K_MAX; k++) {
		mm_iters[k] = calibrate(run_memmon, k, target);
		bl_iters[k] = calibrate(run_baseline, k, target);
	}

	for (unsigned r = 0; r < runs; r++) {
		w1ab_memmon(r);
		w1ab_side(r, &base_list);
		w1ab_side(r, &base_bitmap);
		w1ab_side(r, &base_stack);
		w1c_memmon(r, pairs);
		w1c_side(r, pairs, &base_list);
		w1c_side(r, pairs, &base_bitmap);
		w1c_side(r, pairs, &base_stack);
		w3_run(r, nrand, false);
		w3_run(r, nrand, true);
		for (unsigned k = 0; k <= RUN_K_MAX; k++) {
			rows[ROW_RUN0 + k].mm[r] =
			    (double)run_memmon(k, mm_iters[k]) / (double)mm_iters[k];
			rows[ROW_RUN0 + k].bl[r] =
			    (double)run_baseline(k, bl_iters[k]) / (double)bl_iters[k];
		}
	}
	for (unsigned i = 0; i < NROWS; i++) {
		struct row *w = &rows[i];
		double min, max;
		summarise(w->mm, runs, &w->mm_med, &w->mm_min, &w->mm_max);
		summarise(w->bl, runs, &w->bl_med, &w->bl_min, &max);
		summarise(w->bm, runs, &w->bm_med, &w->bm_min, &max);
		summarise(w->st, runs, &w->st_med, &min, &max);
	}

	print_table(runs, pairs, now_ns() - start);
	if (o.json)
		write_json(o.json, runs, pairs);
	return 0;
}
