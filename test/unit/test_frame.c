/*
 * Unit tests of the frame allocator (monitor/frame.c) on the hosted
 * platform: takeover, kalloc/kfree, runs, every refusal, references, the
 * junk fill, the lazily written frame table, a long randomized run held
 * against a reference model written here, and carving runs into pieces.
 *
 * Each test starts from a fresh allocator over 64 MiB of simulated RAM that
 * is filled with garbage first, so that the frame table is never clean
 * before the allocator writes it. The teardown checks that the allocator's
 * own audit passes and that the test gave back every frame it took.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "host.h"
#include "memmap.h"
#include "platform.h"

#include "unit.h"

#define SENTINEL  ((uint64_t)0x5a5a5a5a5a5a5a5a)
#define GARBAGE   0x5c /* what RAM holds before takeover */
#define STAMP     ((uint64_t)0x57a3b0c1d2e3f405)
#define JUNK64(b) ((uint64_t)(b) * (uint64_t)0x0101010101010101)

/* ---- the machine ---------------------------------------------------------- */

/* 64 MiB: 16384 frames. Two holes, firmware and memmon's own frames between
 * free ranges, two free ranges that touch (their blocks merge), and the
 * frame table (64 pages of entries, one of bitmap) at the top of the
 * highest free range. */
#define RAM_BYTES ((uint64_t)64 << 20)
#define NF        (RAM_BYTES / PAGE_SIZE)
#define TABLE64   65
static const struct frame_range ranges64[] = {
    {1 * PAGE_SIZE, 159, FRAME_FREE},       /* frames 1..159; frame 0 is a hole */
    {256 * PAGE_SIZE, 256, FRAME_FIRMWARE}, /* 256..511, after a hole at 160..255 */
    {512 * PAGE_SIZE, 32, FRAME_MONITOR},   /* 512..543 */
    {544 * PAGE_SIZE, 2456, FRAME_FREE},    /* 544..2999 */
    {3000 * PAGE_SIZE, 5200, FRAME_FREE},   /* 3000..8199, touching the one before */
    {8200 * PAGE_SIZE, 8, FRAME_FIRMWARE},  /* 8200..8207 */
    {8208 * PAGE_SIZE, 3792, FRAME_FREE},   /* 8208..11999 */
    {12100 * PAGE_SIZE, 4284, FRAME_FREE},  /* 12100..16383, after a hole at 12000..12099 */
};
#define FREE64    (159 + 2456 + 5200 + 3792 + 4284 - TABLE64)
#define MONITOR64 (32 + TABLE64)
#define FW64      (256 + 8)

static const enum frame_owner owners[] = {FRAME_MONITOR, FRAME_PTABLE, FRAME_MDB, FRAME_CLIENT,
                                          FRAME_CONSOLE};

/* ---- fixture ---------------------------------------------------------------- */

static struct {
	uint8_t *ram;
	uint64_t ram_bytes;
	struct frame_stats init; /* right after frame_init */
} fx;

/* A fresh allocator over `ram_bytes` of RAM; fx.init is what a test must
 * leave behind. */
static void start(uint64_t ram_bytes, const struct frame_range *r, size_t n, bool garbage)
{
	fx.ram = host_ram(ram_bytes);
	fx.ram_bytes = ram_bytes;
	if (garbage)
		memset(fx.ram, GARBAGE, ram_bytes);
	assert_null(frame_init(r, n));
	frame_stats(&fx.init);
	assert_null(frame_audit());
}

static int setup(void **state)
{
	(void)state;
	start(RAM_BYTES, ranges64, ARRAY_SIZE(ranges64), true);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_frames_back(&fx.init);
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static paddr_t pf(uint64_t frame)
{
	return pa_init(frame * PAGE_SIZE);
}

static uint64_t fr(paddr_t pa)
{
	return pa_addr(pa) / PAGE_SIZE;
}

static uint8_t *bytes(uint64_t frame)
{
	return plat_pa_to_ptr(pf(frame));
}

static unsigned ceil_log2(uint64_t n)
{
	unsigned k = 0;

	while (((uint64_t)1 << k) < n)
		k++;
	return k;
}

/* Whether frame f of the standard machine is one the allocator may hand out. */
static bool allocatable64(uint64_t f)
{
	if (f >= NF - TABLE64)
		return false;
	for (size_t k = 0; k < ARRAY_SIZE(ranges64); k++) {
		uint64_t b = ranges64[k].base / PAGE_SIZE;
		if (f >= b && f < b + ranges64[k].pages)
			return ranges64[k].owner == FRAME_FREE;
	}
	return false;
}

static void check_err(err_t got, err_t want, int line)
{
	if (got != want)
		fail_msg("line %d: got \"%s\", want \"%s\"", line, got ? got : "success",
		         want ? want : "success");
}
#define assert_err(got, want) check_err((got), (want), __LINE__)

static bool all_bytes(const uint8_t *p, size_t n, uint8_t b)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != b)
			return false;
	return true;
}

static struct frame_info query(paddr_t pa)
{
	struct frame_info fi;

	memset(&fi, 0x77, sizeof(fi));
	assert_null(frame_query(pa, &fi));
	return fi;
}

static void assert_info_equal(const struct frame_info *a, const struct frame_info *b)
{
	assert_int_equal(a->owner, b->owner);
	assert_int_equal(a->managed, b->managed);
	assert_int_equal(pa_addr(a->block), pa_addr(b->block));
	assert_int_equal(a->order, b->order);
	assert_int_equal(pa_addr(a->run), pa_addr(b->run));
	assert_int_equal(a->run_frames, b->run_frames);
}

static void assert_stats_equal(const struct frame_stats *a, const struct frame_stats *b)
{
	assert_int_equal(a->total, b->total);
	assert_int_equal(a->free, b->free);
	assert_int_equal(a->used, b->used);
	for (unsigned o = 0; o < FRAME_OWNERS; o++)
		assert_int_equal(a->owned[o], b->owned[o]);
	assert_int_equal(a->firmware, b->firmware);
	assert_int_equal(pa_addr(a->largest), pa_addr(b->largest));
	assert_int_equal(a->largest_frames, b->largest_frames);
	assert_int_equal(a->table_pages_touched, b->table_pages_touched);
}

/* The counters after a test took `frames` frames for `owner` (negative:
 * gave back) relative to takeover. */
static void assert_taken(int64_t frames, enum frame_owner owner)
{
	struct frame_stats s;

	frame_stats(&s);
	assert_int_equal(s.total, fx.init.total);
	assert_int_equal(s.free, fx.init.free - (uint64_t)frames);
	assert_int_equal(s.used, s.total - s.free);
	assert_int_equal(s.owned[FRAME_FREE], s.free);
	for (unsigned o = 1; o < FRAME_OWNERS; o++)
		assert_int_equal(s.owned[o],
		                 fx.init.owned[o] + (o == (unsigned)owner ? (uint64_t)frames : 0));
	assert_int_equal(s.firmware, fx.init.firmware);
}

/* Snapshot of everything a refusal must leave alone. */
struct snap {
	struct frame_stats s;
	struct frame_info q;
	bool have_page;
	uint8_t page[PAGE_SIZE];
};

static void take_snap(struct snap *sn, paddr_t pa)
{
	paddr_t page = pa_init(pa_addr(pa) & ~(PAGE_SIZE - 1));

	frame_stats(&sn->s);
	sn->q = query(page);
	sn->have_page = pa_addr(page) < fx.ram_bytes; /* RAM is whole pages */
	if (sn->have_page)
		memcpy(sn->page, plat_pa_to_ptr(page), PAGE_SIZE);
}

static void same_as_snap(const struct snap *sn, paddr_t pa)
{
	struct snap now;
	paddr_t page = pa_init(pa_addr(pa) & ~(PAGE_SIZE - 1));

	frame_stats(&now.s);
	assert_stats_equal(&now.s, &sn->s);
	now.q = query(page);
	assert_info_equal(&now.q, &sn->q);
	if (sn->have_page)
		assert_memory_equal(plat_pa_to_ptr(page), sn->page, PAGE_SIZE);
	assert_null(frame_audit());
}

/* frame_free(pa, count, owner) is refused with `want` and changes nothing. */
static void refuse_free_at(paddr_t pa, uint64_t count, enum frame_owner owner, err_t want, int line)
{
	static struct snap sn;

	take_snap(&sn, pa);
	check_err(frame_free(pa, count, owner), want, line);
	same_as_snap(&sn, pa);
}
#define refuse_free(pa, count, owner, want) refuse_free_at((pa), (count), (owner), (want), __LINE__)

/* frame_alloc (count 0: kalloc) is refused with `want`, changes nothing
 * and leaves *out alone. */
static void refuse_alloc_at(uint64_t count, enum frame_owner owner, bool use_kalloc, err_t want,
                            int line)
{
	struct frame_stats before, after;
	paddr_t pa = pa_init(SENTINEL);

	frame_stats(&before);
	check_err(use_kalloc ? kalloc(owner, &pa) : frame_alloc(count, owner, &pa), want, line);
	assert_int_equal(pa_addr(pa), SENTINEL);
	frame_stats(&after);
	assert_stats_equal(&after, &before);
	assert_null(frame_audit());
}
#define refuse_alloc(count, owner, want) refuse_alloc_at((count), (owner), false, (want), __LINE__)
#define refuse_kalloc(owner, want)       refuse_alloc_at(1, (owner), true, (want), __LINE__)

static paddr_t must_alloc(uint64_t count, enum frame_owner owner)
{
	paddr_t pa = pa_init(SENTINEL);

	assert_null(frame_alloc(count, owner, &pa));
	assert_int_equal(pa_addr(pa) % (PAGE_SIZE << ceil_log2(count)), 0);
	return pa;
}

/* ---- names and takeover --------------------------------------------------------- */

/* Every owner has its short name; an owner out of range is "?". */
static void test_owner_names(void **state)
{
	(void)state;
	assert_string_equal(frame_owner_name(FRAME_FREE), "free");
	assert_string_equal(frame_owner_name(FRAME_MONITOR), "monitor");
	assert_string_equal(frame_owner_name(FRAME_PTABLE), "ptables");
	assert_string_equal(frame_owner_name(FRAME_MDB), "mdb");
	assert_string_equal(frame_owner_name(FRAME_CLIENT), "clients");
	assert_string_equal(frame_owner_name(FRAME_CONSOLE), "console");
	assert_string_equal(frame_owner_name(FRAME_FIRMWARE), "firmware");
	assert_string_equal(frame_owner_name(FRAME_OWNERS), "?");
	assert_string_equal(frame_owner_name((enum frame_owner) - 1), "?");
}

/* Takeover counts every range by owner, carves the frame table from the top
 * of the highest free range, merges free ranges that touch, and tells
 * holes, the firmware's frames and memmon's own frames apart. */
static void test_init_layout(void **state)
{
	const struct frame_stats *s = &fx.init;
	struct frame_info fi;

	(void)state;
	assert_int_equal(s->free, FREE64);
	assert_int_equal(s->total, FREE64 + MONITOR64);
	assert_int_equal(s->used, MONITOR64);
	assert_int_equal(s->owned[FRAME_FREE], FREE64);
	assert_int_equal(s->owned[FRAME_MONITOR], MONITOR64);
	for (unsigned o = FRAME_PTABLE; o < FRAME_OWNERS; o++)
		if (o != FRAME_FIRMWARE)
			assert_int_equal(s->owned[o], 0);
	assert_int_equal(s->firmware, FW64);
	assert_int_equal(s->largest_frames, 4096);
	assert_int_equal(pa_addr(s->largest), 4096 * PAGE_SIZE);
	assert_int_equal(frame_table_pages(), TABLE64);
	assert_int_equal(pa_addr(frame_table_base()), (NF - TABLE64) * PAGE_SIZE);

	/* holes, and beyond RAM: not managed, not an error */
	static const uint64_t unmanaged[] = {0, 160, 200, 255, 12000, 12099, NF, NF + 1000};
	for (size_t k = 0; k < ARRAY_SIZE(unmanaged); k++) {
		fi = query(pf(unmanaged[k]));
		assert_false(fi.managed);
		assert_int_equal(fi.owner, FRAME_FREE);
	}
	/* the firmware's */
	static const uint64_t fw[] = {256, 300, 511, 8200, 8207};
	for (size_t k = 0; k < ARRAY_SIZE(fw); k++) {
		fi = query(pf(fw[k]));
		assert_false(fi.managed);
		assert_int_equal(fi.owner, FRAME_FIRMWARE);
	}
	/* memmon's own and the table: a takeover block, not a run */
	static const uint64_t mon[] = {512, 520, 543, NF - TABLE64, NF - 1};
	for (size_t k = 0; k < ARRAY_SIZE(mon); k++) {
		fi = query(pf(mon[k]));
		assert_true(fi.managed);
		assert_int_equal(fi.owner, FRAME_MONITOR);
		assert_int_equal(fi.run_frames, 0);
		assert_int_equal(pa_addr(fi.run), pa_addr(fi.block));
	}
	/* free frames, in blocks aligned to their size */
	fi = query(pf(1));
	assert_true(fi.managed);
	assert_int_equal(fi.owner, FRAME_FREE);
	assert_int_equal(pa_addr(fi.block), 1 * PAGE_SIZE);
	assert_int_equal(fi.order, 0);
	fi = query(pf(5));
	assert_int_equal(pa_addr(fi.block), 4 * PAGE_SIZE);
	assert_int_equal(fi.order, 2);
	fi = query(pf(130));
	assert_int_equal(pa_addr(fi.block), 128 * PAGE_SIZE);
	assert_int_equal(fi.order, 5);
	/* 2048..4095 straddles the two touching ranges: one block */
	fi = query(pf(2999));
	assert_int_equal(pa_addr(fi.block), 2048 * PAGE_SIZE);
	assert_int_equal(fi.order, 11);
	fi = query(pf(3000));
	assert_int_equal(pa_addr(fi.block), 2048 * PAGE_SIZE);
	assert_int_equal(fi.order, 11);
	fi = query(pf(NF - TABLE64 - 1));
	assert_int_equal(fi.owner, FRAME_FREE);
	assert_true(fi.managed);
	assert_null(frame_audit());
}

/* frame_init refuses a map with no free range that can hold the frame table
 * (frame_err_nomem) and leaves the allocator it had as it was. */
static void test_init_no_room(void **state)
{
	static const struct frame_range small[] = {
	    {1 * PAGE_SIZE, 64, FRAME_FREE}, /* the table needs 65 pages */
	    {65 * PAGE_SIZE, NF - 65, FRAME_FIRMWARE},
	};
	struct frame_stats before, after;
	paddr_t a;

	(void)state;
	assert_null(kalloc(FRAME_CLIENT, &a));
	frame_stats(&before);
	assert_err(frame_init(small, ARRAY_SIZE(small)), frame_err_nomem);
	assert_err(frame_init(small, 0), frame_err_nomem);
	frame_stats(&after);
	assert_stats_equal(&after, &before);
	assert_int_equal(query(a).owner, FRAME_CLIENT);
	assert_null(frame_audit());
	assert_null(kfree(a, FRAME_CLIENT));
}

/* frame_init called again starts over: the old allocations are forgotten although the old table's
 * entries are still in RAM. */
static void test_reinit_starts_over(void **state)
{
	struct frame_stats s;
	paddr_t run[6];

	(void)state;
	for (unsigned k = 0; k < ARRAY_SIZE(run); k++)
		run[k] = must_alloc(1 + 7 * k, owners[k % ARRAY_SIZE(owners)]);
	paddr_t q;
	assert_null(kalloc(FRAME_MDB, &q));
	assert_null(kfree(q, FRAME_MDB)); /* on the quick stack */
	assert_null(frame_init(ranges64, ARRAY_SIZE(ranges64)));
	frame_stats(&s);
	assert_stats_equal(&s, &fx.init);
	for (unsigned k = 0; k < ARRAY_SIZE(run); k++) {
		struct frame_info fi = query(run[k]);
		assert_int_equal(fi.owner, FRAME_FREE);
		refuse_free(run[k], 1 + 7 * k, owners[k % ARRAY_SIZE(owners)], frame_err_double);
	}
	assert_null(frame_audit());
}

/* kalloc every free frame (each once) until frame_err_nomem; returns how
 * many. seen[f] marks the frames handed out. */
static uint64_t take_all(paddr_t *got, uint8_t *seen, uint64_t max)
{
	uint64_t n = 0;
	err_t e;

	memset(seen, 0, NF);
	while ((e = kalloc(FRAME_CLIENT, &got[n])) == NULL) {
		uint64_t f = fr(got[n]);
		assert_true(f < NF);
		assert_false(seen[f]);
		seen[f] = 1;
		assert_true(++n <= max);
	}
	assert_err(e, frame_err_nomem);
	return n;
}

static void give_all(const paddr_t *got, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		assert_null(kfree(got[i], FRAME_CLIENT));
	assert_null(frame_audit());
}

/* When the highest free range is too small for the frame table, the table
 * goes to the top of the next one down that holds it; the small range is
 * handed out, the table never, but for the table pages that describe only
 * the hole 2200..16283 (pages 9..62): their frames are free. */
static void test_init_table_placement(void **state)
{
	static const struct frame_range r[] = {
	    {1 * PAGE_SIZE, 999, FRAME_FREE},         /* 1..999: the table at 935..999 */
	    {1000 * PAGE_SIZE, 1000, FRAME_FIRMWARE}, /* 1000..1999 */
	    {2000 * PAGE_SIZE, 64, FRAME_FREE},       /* 2000..2063: one page too small */
	    {2100 * PAGE_SIZE, 100, FRAME_MONITOR},   /* 2100..2199 */
	    {(NF - 100) * PAGE_SIZE, 100, FRAME_FIRMWARE},
	};
	static paddr_t got[NF];
	static uint8_t seen[NF];

	(void)state;
	start(RAM_BYTES, r, ARRAY_SIZE(r), true);
	enum { HOLE_PAGES = 62 - 9 + 1 };
	assert_int_equal(frame_table_pages(), TABLE64 - HOLE_PAGES);
	assert_int_equal(pa_addr(frame_table_base()), 935 * PAGE_SIZE);
	assert_int_equal(fx.init.free, 999 - TABLE64 + HOLE_PAGES + 64);
	assert_int_equal(fx.init.owned[FRAME_MONITOR], 100 + TABLE64 - HOLE_PAGES);
	assert_int_equal(fx.init.firmware, 1100);
	uint64_t n = take_all(got, seen, NF);
	assert_int_equal(n, fx.init.free);
	for (uint64_t f = 0; f < NF; f++)
		assert_int_equal(seen[f], (f >= 1 && f < 935) || (f >= 935 + 9 && f <= 935 + 62) ||
		                              (f >= 2000 && f < 2064));
	give_all(got, n);
}

/* A free range that starts at frame 0 is managed like any other: frame 0
 * heads a block, is handed out and comes back. (Table page 2, for frames
 * 512..767 of the hole 400..999, is free too.) */
static void test_init_frame0_free(void **state)
{
	static const struct frame_range r[] = {
	    {0, 300, FRAME_FREE},
	    {300 * PAGE_SIZE, 100, FRAME_MONITOR},
	    {1000 * PAGE_SIZE, NF - 1000, FRAME_FREE},
	};
	static paddr_t got[NF];
	static uint8_t seen[NF];
	struct frame_stats s;
	struct frame_info fi;

	(void)state;
	start(RAM_BYTES, r, ARRAY_SIZE(r), true);
	fi = query(pf(0));
	assert_true(fi.managed);
	assert_int_equal(fi.owner, FRAME_FREE);
	assert_int_equal(pa_addr(fi.block), 0);
	assert_int_equal(fi.order, 8);
	assert_int_equal(fx.init.free, 300 + NF - 1000 - TABLE64 + 1);
	assert_int_equal(query(pf(NF - TABLE64 + 2)).owner, FRAME_FREE);
	assert_int_equal(query(pf(NF - TABLE64 + 1)).owner, FRAME_MONITOR);
	uint64_t n = take_all(got, seen, NF);
	assert_int_equal(n, fx.init.free);
	assert_true(seen[0] && seen[299] && !seen[300] && !seen[999] && seen[1000]);
	assert_int_equal(query(pf(0)).owner, FRAME_CLIENT);
	refuse_free(pf(0), 2, FRAME_CLIENT, frame_err_size);
	give_all(got, n);
	frame_stats(&s); /* merges the quick stack */
	fi = query(pf(0));
	assert_int_equal(fi.owner, FRAME_FREE);
	assert_int_equal(pa_addr(fi.block), 0);
	assert_int_equal(fi.order, 8);
}

/* ---- kalloc and runs ---------------------------------------------------------- */

/* kalloc hands out distinct frames of the free ranges, each owned by its
 * caller with no references; kfree takes them back; every counter moves by
 * exactly one frame each time. */
static void test_kalloc_kfree(void **state)
{
	enum { N = 300 };
	static paddr_t got[N];
	static uint8_t seen[NF];
	uint64_t by_owner[FRAME_OWNERS] = {0};

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < N; i++) {
		enum frame_owner o = owners[i % ARRAY_SIZE(owners)];
		got[i] = pa_init(SENTINEL);
		assert_null(kalloc(o, &got[i]));
		uint64_t f = fr(got[i]);
		assert_int_equal(pa_addr(got[i]) % PAGE_SIZE, 0);
		assert_true(allocatable64(f));
		assert_false(seen[f]);
		seen[f] = 1;
		by_owner[o]++;
		struct frame_info fi = query(got[i]);
		assert_true(fi.managed);
		assert_int_equal(fi.owner, o);
		assert_int_equal(pa_addr(fi.run), pa_addr(got[i]));
		assert_int_equal(fi.run_frames, 1);
		assert_int_equal(pa_addr(fi.block), pa_addr(got[i]));
		assert_int_equal(fi.order, 0);
		if (i % 17 == 0) {
			struct frame_stats s;
			frame_stats(&s);
			assert_int_equal(s.free, fx.init.free - (i + 1));
			assert_int_equal(s.used, fx.init.used + (i + 1));
			for (unsigned ow = 1; ow < FRAME_OWNERS; ow++)
				assert_int_equal(s.owned[ow], fx.init.owned[ow] + by_owner[ow]);
			assert_int_equal(s.owned[FRAME_FREE], s.free);
		}
	}
	/* odd ones first, then the even ones backwards */
	uint64_t freed = 0;
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned j = 0; j < N; j++) {
			unsigned i = pass ? N - 1 - j : j;
			if ((i & 1) == pass)
				continue;
			enum frame_owner o = owners[i % ARRAY_SIZE(owners)];
			assert_null(kfree(got[i], o));
			freed++;
			by_owner[o]--;
			assert_int_equal(query(got[i]).owner, FRAME_FREE);
			if (i % 13 == 0) {
				struct frame_stats s;
				frame_stats(&s);
				assert_int_equal(s.free, fx.init.free - N + freed);
				for (unsigned ow = 1; ow < FRAME_OWNERS; ow++)
					assert_int_equal(s.owned[ow],
					                 fx.init.owned[ow] + by_owner[ow]);
			}
		}
	}
	assert_taken(0, FRAME_FREE);
}

/* Record run [f, f+count) in `map` (0: not in a run), checking that it is
 * aligned, allocatable and overlaps no live run; frame_query agrees. */
static void check_new_run(uint16_t *map, uint16_t id, paddr_t pa, uint64_t count,
                          enum frame_owner owner)
{
	uint64_t f = fr(pa);

	assert_int_equal(pa_addr(pa) % (PAGE_SIZE << ceil_log2(count)), 0);
	for (uint64_t j = f; j < f + count; j++) {
		assert_true(allocatable64(j));
		if (map[j])
			fail_msg("run of %lu at frame %lu overlaps run %u at frame %lu",
			         (unsigned long)count, (unsigned long)f, map[j], (unsigned long)j);
		map[j] = id;
		struct frame_info fi = query(pf(j));
		assert_int_equal(fi.owner, owner);
		assert_int_equal(pa_addr(fi.run), pa_addr(pa));
		assert_int_equal(fi.run_frames, count);
		/* its block lies inside the run */
		uint64_t b = fr(fi.block);
		assert_true(b <= j && j < b + ((uint64_t)1 << fi.order));
		assert_true(b >= f && b + ((uint64_t)1 << fi.order) <= f + count);
		assert_int_equal(b % ((uint64_t)1 << fi.order), 0);
	}
}

/* frame_alloc(count) for every count from 1 to 70, all alive at once, gives
 * runs aligned to the next power of two that overlap nothing; frame_query
 * reports each frame's run; frame_free with the same count gives back
 * exactly count frames. */
static void test_runs_aligned(void **state)
{
	enum { MAXC = 70 };
	static uint16_t map[NF];
	paddr_t run[MAXC + 1];
	uint64_t taken = 0;

	(void)state;
	memset(map, 0, sizeof(map));
	for (uint64_t c = 1; c <= MAXC; c++) {
		enum frame_owner o = owners[c % ARRAY_SIZE(owners)];
		run[c] = must_alloc(c, o);
		check_new_run(map, (uint16_t)c, run[c], c, o);
		taken += c;
		struct frame_stats s;
		frame_stats(&s);
		assert_int_equal(s.free, fx.init.free - taken);
		assert_int_equal(s.used, s.total - s.free);
	}
	assert_null(frame_audit());
	for (uint64_t i = 0; i < MAXC; i++) {
		uint64_t c = (i * 37) % MAXC + 1; /* every count once, scrambled */
		assert_null(frame_free(run[c], c, owners[c % ARRAY_SIZE(owners)]));
		taken -= c;
		for (uint64_t j = fr(run[c]); j < fr(run[c]) + c; j++)
			assert_int_equal(query(pf(j)).owner, FRAME_FREE);
		struct frame_stats s;
		frame_stats(&s);
		assert_int_equal(s.free, fx.init.free - taken);
	}
	assert_taken(0, FRAME_FREE);
}

/* Runs of every power of two up to the largest free block (4096 frames)
 * are aligned to their size, each alone and all thirteen alive at once;
 * 8192 frames is refused with frame_err_nomem, changing nothing. */
static void test_runs_powers(void **state)
{
	static uint16_t map[NF];
	paddr_t run[13];
	uint64_t taken = 0;

	(void)state;
	for (unsigned k = 0; k < 13; k++) {
		uint64_t c = (uint64_t)1 << k;
		paddr_t pa = must_alloc(c, FRAME_CLIENT);
		memset(map, 0, sizeof(map));
		check_new_run(map, 1, pa, c, FRAME_CLIENT);
		assert_taken((int64_t)c, FRAME_CLIENT);
		assert_null(frame_free(pa, c, FRAME_CLIENT));
		assert_taken(0, FRAME_CLIENT);
	}
	memset(map, 0, sizeof(map));
	for (unsigned k = 13; k-- > 0;) {
		uint64_t c = (uint64_t)1 << k;
		run[k] = must_alloc(c, FRAME_PTABLE);
		check_new_run(map, (uint16_t)(k + 1), run[k], c, FRAME_PTABLE);
		taken += c;
	}
	assert_taken((int64_t)taken, FRAME_PTABLE);
	for (unsigned k = 0; k < 13; k++)
		assert_null(frame_free(run[k], (uint64_t)1 << k, FRAME_PTABLE));
	refuse_alloc(8192, FRAME_CLIENT, frame_err_nomem);
	refuse_alloc(4097, FRAME_CLIENT, frame_err_nomem);
	refuse_alloc((uint64_t)1 << FRAME_MAX_ORDER, FRAME_CLIENT, frame_err_nomem);
	assert_taken(0, FRAME_CLIENT);
}

/* The frames of the aligned block beyond a run go back to the free lists:
 * after frame_alloc(3) the fourth frame, after frame_alloc(5) the last
 * three, are free, and kalloc hands every one of them out before running
 * out. */
static void test_run_tail_free(void **state)
{
	static uint8_t seen[NF];
	struct frame_info fi;

	(void)state;
	paddr_t a = must_alloc(3, FRAME_MDB);
	uint64_t fa = fr(a);
	fi = query(pf(fa + 3));
	assert_true(fi.managed);
	assert_int_equal(fi.owner, FRAME_FREE);
	assert_int_equal(fr(fi.block), fa + 3);
	assert_int_equal(fi.order, 0);
	fi = query(pf(fa + 2));
	assert_int_equal(fi.owner, FRAME_MDB);
	assert_int_equal(fr(fi.run), fa);
	assert_int_equal(fi.run_frames, 3);
	assert_int_equal(fr(fi.block), fa + 2);
	fi = query(a);
	assert_int_equal(fr(fi.block), fa);
	assert_int_equal(fi.order, 1);
	assert_taken(3, FRAME_MDB);

	paddr_t b = must_alloc(5, FRAME_MDB);
	uint64_t fb = fr(b);
	fi = query(pf(fb + 4));
	assert_int_equal(fi.owner, FRAME_MDB);
	assert_int_equal(fr(fi.block), fb + 4);
	assert_int_equal(fi.order, 0);
	fi = query(pf(fb + 5));
	assert_int_equal(fi.owner, FRAME_FREE);
	assert_int_equal(fr(fi.block), fb + 5);
	for (uint64_t j = fb + 6; j < fb + 8; j++) {
		fi = query(pf(j));
		assert_int_equal(fi.owner, FRAME_FREE);
		assert_true(fr(fi.block) <= fb + 6 && fr(fi.block) + (1u << fi.order) <= fb + 8);
	}
	assert_taken(8, FRAME_MDB);

	/* everything else, a frame at a time: the tails are among it */
	memset(seen, 0, sizeof(seen));
	static paddr_t got[NF];
	uint64_t n = 0;
	err_t e;
	while ((e = kalloc(FRAME_CLIENT, &got[n])) == NULL) {
		assert_false(seen[fr(got[n])]);
		seen[fr(got[n])] = 1;
		n++;
	}
	assert_err(e, frame_err_nomem);
	assert_int_equal(n, fx.init.free - 8);
	assert_true(seen[fa + 3] && seen[fb + 5] && seen[fb + 6] && seen[fb + 7]);
	for (uint64_t i = 0; i < n; i++)
		assert_null(kfree(got[i], FRAME_CLIENT));
	assert_null(frame_free(a, 3, FRAME_MDB));
	assert_null(frame_free(b, 5, FRAME_MDB));
	assert_taken(0, FRAME_MDB);
}

/* ---- refusals ----------------------------------------------------------------- */

/* Freeing a run twice is refused with frame_err_double and changes nothing:
 * a single frame still on the quick stack, one merged back since, and a
 * multi-frame run (its first frame and a later one). */
static void test_refuse_double_free(void **state)
{
	paddr_t a;
	struct frame_info before;

	(void)state;
	assert_null(kalloc(FRAME_CLIENT, &a));
	assert_null(kfree(a, FRAME_CLIENT));
	/* no frame_stats here: it would merge the quick list */
	before = query(a);
	assert_int_equal(before.owner, FRAME_FREE);
	assert_err(kfree(a, FRAME_CLIENT), frame_err_double);
	assert_err(frame_free(a, 1, FRAME_MDB), frame_err_double);
	struct frame_info after = query(a);
	assert_info_equal(&after, &before);
	assert_null(frame_audit());
	assert_taken(0, FRAME_CLIENT);

	refuse_free(a, 1, FRAME_CLIENT, frame_err_double); /* merged back by now */
	paddr_t r = must_alloc(6, FRAME_CONSOLE);
	assert_null(frame_free(r, 6, FRAME_CONSOLE));
	refuse_free(r, 6, FRAME_CONSOLE, frame_err_double);
	refuse_free(pa_add(r, 4 * PAGE_SIZE), 2, FRAME_CONSOLE, frame_err_double);
	refuse_free(pa_add(r, 5 * PAGE_SIZE), 1, FRAME_CONSOLE, frame_err_double);
}

/* Freeing a frame that was never allocated, the first frame or an inner
 * one of a free block, is refused with frame_err_double. */
static void test_refuse_never_allocated(void **state)
{
	(void)state;
	refuse_free(pf(4096), 1, FRAME_CLIENT, frame_err_double);    /* head of a 4096-block */
	refuse_free(pf(4096), 4096, FRAME_CLIENT, frame_err_double); /* as a whole */
	refuse_free(pf(5000), 1, FRAME_CLIENT, frame_err_double);    /* inside it */
	refuse_free(pf(1), 1, FRAME_PTABLE, frame_err_double);
	refuse_free(pf(159), 1, FRAME_PTABLE, frame_err_double);    /* last of a range */
	refuse_free(pf(12100), 4, FRAME_MONITOR, frame_err_double); /* first of a range */
	refuse_free(pf(NF - TABLE64 - 1), 1, FRAME_CLIENT, frame_err_double);
}

/* memmon's own frames and the frame table are not runs (frame_err_notrun);
 * the firmware's frames are not memmon's (frame_err_unmanaged). */
static void test_refuse_takeover(void **state)
{
	(void)state;
	refuse_free(pf(512), 32, FRAME_MONITOR, frame_err_notrun);
	refuse_free(pf(512), 1, FRAME_MONITOR, frame_err_notrun);
	refuse_free(pf(520), 1, FRAME_MONITOR, frame_err_notrun);
	refuse_free(pf(543), 1, FRAME_CLIENT, frame_err_notrun);
	refuse_free(frame_table_base(), TABLE64, FRAME_MONITOR, frame_err_notrun);
	refuse_free(frame_table_base(), 1, FRAME_MONITOR, frame_err_notrun);
	refuse_free(pf(NF - 1), 1, FRAME_MONITOR, frame_err_notrun);
	refuse_free(pf(256), 256, FRAME_FIRMWARE, frame_err_unmanaged);
	refuse_free(pf(256), 1, FRAME_MONITOR, frame_err_unmanaged);
	refuse_free(pf(300), 1, FRAME_CLIENT, frame_err_unmanaged);
	refuse_free(pf(8200), 8, FRAME_FIRMWARE, frame_err_unmanaged);
	refuse_free(pf(8207), 1, FRAME_CLIENT, frame_err_unmanaged);
}

/* Every frame of a run but its first, in its first block or in a later one,
 * is refused as the start of a run (frame_err_notrun), whatever the count;
 * the run's contents are left alone. */
static void test_refuse_middle_of_run(void **state)
{
	(void)state;
	paddr_t r = must_alloc(7, FRAME_CLIENT); /* blocks of 4, 2 and 1 frames */
	for (uint64_t i = 0; i < 7; i++)
		memset(bytes(fr(r) + i), 0x30 + (int)i, PAGE_SIZE);
	for (uint64_t i = 1; i < 7; i++) {
		paddr_t pa = pa_add(r, i * PAGE_SIZE);
		refuse_free(pa, 7 - i, FRAME_CLIENT, frame_err_notrun);
		refuse_free(pa, 7, FRAME_CLIENT, frame_err_notrun);
		refuse_free(pa, 1, FRAME_CLIENT, frame_err_notrun);
		refuse_free(pa, 1, FRAME_MDB, frame_err_notrun);
	}
	for (uint64_t i = 0; i < 7; i++)
		assert_true(all_bytes(bytes(fr(r) + i), PAGE_SIZE, (uint8_t)(0x30 + i)));
	assert_null(frame_free(r, 7, FRAME_CLIENT));
}

/* A run freed with another count than its length is refused with
 * frame_err_size: shorter, longer, a kalloc'd frame as two, a run of four
 * through kfree. */
static void test_refuse_wrong_count(void **state)
{
	static const uint64_t wrong[] = {1, 2, 4, 6, 8, 16, 4096};

	(void)state;
	paddr_t r = must_alloc(5, FRAME_PTABLE);
	memset(bytes(fr(r)), 0x44, PAGE_SIZE);
	for (size_t k = 0; k < ARRAY_SIZE(wrong); k++)
		refuse_free(r, wrong[k], FRAME_PTABLE, frame_err_size);
	paddr_t a, q = must_alloc(4, FRAME_PTABLE);
	assert_null(kalloc(FRAME_PTABLE, &a));
	refuse_free(a, 2, FRAME_PTABLE, frame_err_size);
	refuse_free(q, 1, FRAME_PTABLE, frame_err_size);
	assert_err(kfree(q, FRAME_PTABLE), frame_err_size);
	assert_true(all_bytes(bytes(fr(r)), PAGE_SIZE, 0x44));
	assert_null(frame_free(r, 5, FRAME_PTABLE));
	assert_null(frame_free(q, 4, FRAME_PTABLE));
	assert_null(kfree(a, FRAME_PTABLE));
}

/* A count that cannot be any run's length (0, beyond 2^31) is refused with
 * frame_err_count, changing nothing. */
static void test_refuse_free_bad_count(void **state)
{
	static const uint64_t bad[] = {0, ((uint64_t)1 << FRAME_MAX_ORDER) + 1, (uint64_t)1 << 32,
	                               ((uint64_t)1 << 32) + 3, UINT64_MAX};
	struct snap *sn = malloc(sizeof(*sn));

	(void)state;
	assert_non_null(sn);
	paddr_t r = must_alloc(3, FRAME_MDB);
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		take_snap(sn, r);
		err_t e = frame_free(r, bad[k], FRAME_MDB);
		if (e != frame_err_count)
			fail_msg("count 0x%lx: got \"%s\"", (unsigned long)bad[k],
			         e ? e : "success");
		same_as_snap(sn, r);
	}
	free(sn);
	assert_null(frame_free(r, 3, FRAME_MDB));
}

/* A run freed by another owner than its own is refused with
 * frame_err_foreign, also for the owners that cannot hold frames. */
static void test_refuse_wrong_owner(void **state)
{
	static const enum frame_owner wrong[] = {FRAME_FREE,   FRAME_MONITOR, FRAME_MDB,
	                                         FRAME_CLIENT, FRAME_CONSOLE, FRAME_FIRMWARE,
	                                         FRAME_OWNERS};
	(void)state;
	paddr_t r = must_alloc(3, FRAME_PTABLE), a;
	assert_null(kalloc(FRAME_CONSOLE, &a));
	memset(bytes(fr(r)), 0x55, PAGE_SIZE);
	for (size_t k = 0; k < ARRAY_SIZE(wrong); k++)
		if (wrong[k] != FRAME_PTABLE)
			refuse_free(r, 3, wrong[k], frame_err_foreign);
	refuse_free(a, 1, FRAME_CLIENT, frame_err_foreign);
	assert_err(kfree(a, FRAME_MONITOR), frame_err_foreign);
	assert_true(all_bytes(bytes(fr(r)), PAGE_SIZE, 0x55));
	assert_null(frame_free(r, 3, FRAME_PTABLE));
	assert_null(kfree(a, FRAME_CONSOLE));
}

/* Addresses that are not page-aligned are refused with frame_err_align by
 * frame_free and frame_query. */
static void test_refuse_align(void **state)
{
	static const uint64_t off[] = {1, 8, 0x800, 0xfff};
	struct frame_info fi;
	paddr_t a;

	(void)state;
	assert_null(kalloc(FRAME_CLIENT, &a));
	for (size_t k = 0; k < ARRAY_SIZE(off); k++) {
		paddr_t pa = pa_add(a, off[k]);
		refuse_free(pa, 1, FRAME_CLIENT, frame_err_align);
		assert_err(frame_query(pa, &fi), frame_err_align);
		refuse_free(pa_init(NF * PAGE_SIZE + off[k]), 1, FRAME_CLIENT, frame_err_align);
	}
	assert_null(kfree(a, FRAME_CLIENT));
}

/* Frames in a hole, beyond the last range and beyond RAM are refused with
 * frame_err_unmanaged by frame_free, and frame_query says they are not
 * managed. */
static void test_refuse_unmanaged(void **state)
{
	static const uint64_t where[] = {0,
	                                 160 * PAGE_SIZE,
	                                 255 * PAGE_SIZE,
	                                 12000 * PAGE_SIZE,
	                                 12099 * PAGE_SIZE,
	                                 NF * PAGE_SIZE,
	                                 (uint64_t)1 << 40,
	                                 (uint64_t)1 << 44,
	                                 UINT64_MAX & ~(PAGE_SIZE - 1)};
	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(where); k++) {
		paddr_t pa = pa_init(where[k]);
		refuse_free(pa, 1, FRAME_CLIENT, frame_err_unmanaged);
		assert_false(query(pa).managed);
	}
}

/* frame_alloc refuses count 0 and counts beyond 2^31 with frame_err_count,
 * changing nothing; 2^31 itself is a count this machine cannot satisfy. */
static void test_refuse_count(void **state)
{
	(void)state;
	refuse_alloc(0, FRAME_CLIENT, frame_err_count);
	refuse_alloc(((uint64_t)1 << FRAME_MAX_ORDER) + 1, FRAME_CLIENT, frame_err_count);
	refuse_alloc((uint64_t)1 << 32, FRAME_CLIENT, frame_err_count);
	refuse_alloc(((uint64_t)1 << 32) + 1, FRAME_CLIENT, frame_err_count);
	refuse_alloc(UINT64_MAX, FRAME_CLIENT, frame_err_count);
	refuse_alloc(0, FRAME_FREE, frame_err_count);
	refuse_alloc((uint64_t)1 << FRAME_MAX_ORDER, FRAME_CLIENT, frame_err_nomem);
}

/* Neither the allocator (FRAME_FREE), the firmware, nor an owner out of
 * range can take frames: kalloc and frame_alloc refuse with
 * frame_err_owner, also while the quick list holds a frame. */
static void test_refuse_owner(void **state)
{
	static const enum frame_owner bad[] = {FRAME_FREE, FRAME_FIRMWARE, FRAME_OWNERS,
	                                       (enum frame_owner)200};
	paddr_t a, x;

	(void)state;
	assert_null(kalloc(FRAME_CLIENT, &a));
	assert_null(kfree(a, FRAME_CLIENT)); /* a on the quick stack */
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		x = pa_init(SENTINEL);
		assert_err(kalloc(bad[k], &x), frame_err_owner);
		assert_err(frame_alloc(1, bad[k], &x), frame_err_owner);
		assert_int_equal(pa_addr(x), SENTINEL);
		assert_int_equal(query(a).owner, FRAME_FREE);
	}
	assert_null(frame_audit());
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		refuse_kalloc(bad[k], frame_err_owner);
		refuse_alloc(1, bad[k], frame_err_owner);
		refuse_alloc(9, bad[k], frame_err_owner);
	}
}

/* ---- exhaustion ---------------------------------------------------------------- */

/* kalloc hands out every free frame once and none of the frame table, then
 * refuses with frame_err_nomem; once all are freed the blocks merge back
 * as at takeover and the largest block can be allocated again. */
static void test_exhaust_single(void **state)
{
	static paddr_t got[NF];
	static uint8_t seen[NF];
	struct frame_stats s;
	uint64_t n = 0;
	err_t e;

	(void)state;
	memset(seen, 0, sizeof(seen));
	while ((e = kalloc(owners[n % ARRAY_SIZE(owners)], &got[n])) == NULL) {
		uint64_t f = fr(got[n]);
		assert_true(allocatable64(f));
		assert_false(seen[f]);
		seen[f] = 1;
		n++;
		assert_true(n <= FREE64);
	}
	assert_err(e, frame_err_nomem);
	assert_int_equal(n, FREE64);
	frame_stats(&s);
	assert_int_equal(s.free, 0);
	assert_int_equal(s.largest_frames, 0);
	assert_null(frame_audit());
	refuse_kalloc(FRAME_CLIENT, frame_err_nomem);
	refuse_alloc(1, FRAME_CLIENT, frame_err_nomem);
	refuse_alloc(2, FRAME_CLIENT, frame_err_nomem);
	/* every other frame, then the rest backwards */
	for (uint64_t i = 0; i < n; i += 2)
		assert_null(kfree(got[i], owners[i % ARRAY_SIZE(owners)]));
	assert_null(frame_audit());
	refuse_alloc(2, FRAME_CLIENT, frame_err_nomem); /* no two free frames touch */
	for (uint64_t i = n; i-- > 0;)
		if (i & 1)
			assert_null(kfree(got[i], owners[i % ARRAY_SIZE(owners)]));
	frame_stats(&s);
	assert_int_equal(s.free, fx.init.free);
	assert_int_equal(s.largest_frames, fx.init.largest_frames);
	assert_null(frame_audit());
	paddr_t big = must_alloc(fx.init.largest_frames, FRAME_CLIENT);
	assert_null(frame_free(big, fx.init.largest_frames, FRAME_CLIENT));
}

/* Runs of falling lengths (64 down to 1) fill memory until even one frame
 * is refused: every frame is handed out once, the tails of aligned blocks
 * included, and freeing the runs restores takeover's largest block. */
static void test_exhaust_runs(void **state)
{
	static const uint64_t lens[] = {64, 33, 17, 7, 3, 2, 1};
	static uint16_t map[NF];
	static struct {
		paddr_t pa;
		uint64_t count;
	} runs[NF];
	struct frame_stats s;
	size_t n = 0;
	uint64_t taken = 0;

	(void)state;
	memset(map, 0, sizeof(map));
	for (size_t k = 0; k < ARRAY_SIZE(lens); k++) {
		paddr_t pa;
		err_t e;
		while ((e = frame_alloc(lens[k], FRAME_CONSOLE, &pa)) == NULL) {
			check_new_run(map, 1, pa, lens[k], FRAME_CONSOLE);
			runs[n].pa = pa;
			runs[n++].count = lens[k];
			taken += lens[k];
		}
		assert_err(e, frame_err_nomem);
	}
	assert_int_equal(taken, FREE64);
	frame_stats(&s);
	assert_int_equal(s.free, 0);
	assert_null(frame_audit());
	for (size_t i = 0; i < n; i += 3)
		assert_null(frame_free(runs[i].pa, runs[i].count, FRAME_CONSOLE));
	for (size_t i = n; i-- > 0;)
		if (i % 3)
			assert_null(frame_free(runs[i].pa, runs[i].count, FRAME_CONSOLE));
	frame_stats(&s);
	assert_int_equal(s.free, fx.init.free);
	assert_int_equal(s.largest_frames, fx.init.largest_frames);
}

/* ---- junk ------------------------------------------------------------------------ */

/* With FRAME_JUNK on, kfree fills a frame with FRAME_JUNK_FREE and kalloc
 * (fresh or from the quick stack) with FRAME_JUNK_ALLOC; runs up to
 * FRAME_JUNK_MAX frames are filled whole both ways, longer ones not at all,
 * and frames around them are left alone. */
static void test_junk(void **state)
{
	paddr_t a, b, x;

	(void)state;
	assert_null(kalloc(FRAME_CLIENT, &a));
	assert_true(all_bytes(bytes(fr(a)), PAGE_SIZE, FRAME_JUNK_ALLOC));
	memset(bytes(fr(a)), 0x11, PAGE_SIZE);
	assert_null(kfree(a, FRAME_CLIENT));
	assert_true(all_bytes(bytes(fr(a)), PAGE_SIZE, FRAME_JUNK_FREE));
	assert_null(kalloc(FRAME_CLIENT, &b)); /* from the quick stack */
	assert_true(all_bytes(bytes(fr(b)), PAGE_SIZE, FRAME_JUNK_ALLOC));
	memset(bytes(fr(b)), 0x22, PAGE_SIZE);
	assert_null(kalloc(FRAME_CLIENT, &x));
	memset(bytes(fr(x)), 0x33, PAGE_SIZE);

	paddr_t r = must_alloc(5, FRAME_MDB);
	for (uint64_t i = 0; i < 5; i++)
		assert_true(all_bytes(bytes(fr(r) + i), PAGE_SIZE, FRAME_JUNK_ALLOC));
	memset(bytes(fr(r)), 0x44, 5 * PAGE_SIZE);
	assert_null(frame_free(r, 5, FRAME_MDB));
	for (uint64_t i = 0; i < 5; i++)
		assert_true(all_bytes(bytes(fr(r) + i), PAGE_SIZE, FRAME_JUNK_FREE));
	assert_true(all_bytes(bytes(fr(b)), PAGE_SIZE, 0x22));
	assert_true(all_bytes(bytes(fr(x)), PAGE_SIZE, 0x33));
	assert_null(kfree(b, FRAME_CLIENT));
	assert_null(kfree(x, FRAME_CLIENT));
	assert_true(all_bytes(bytes(fr(b)), PAGE_SIZE, FRAME_JUNK_FREE));
	/* the firmware's and memmon's frames were never written */
	assert_true(all_bytes(bytes(300), PAGE_SIZE, GARBAGE));
	assert_true(all_bytes(bytes(520), PAGE_SIZE, GARBAGE));

	/* runs up to FRAME_JUNK_MAX frames are filled, longer ones are not */
	r = must_alloc(FRAME_JUNK_MAX, FRAME_MDB);
	assert_true(all_bytes(bytes(fr(r) + FRAME_JUNK_MAX - 1), PAGE_SIZE, FRAME_JUNK_ALLOC));
	memset(bytes(fr(r)), 0x55, PAGE_SIZE);
	assert_null(frame_free(r, FRAME_JUNK_MAX, FRAME_MDB));
	assert_true(all_bytes(bytes(fr(r)), PAGE_SIZE, FRAME_JUNK_FREE));
	r = must_alloc(FRAME_JUNK_MAX + 1, FRAME_MDB);
	memset(bytes(fr(r)), 0x66, PAGE_SIZE);
	assert_null(frame_free(r, FRAME_JUNK_MAX + 1, FRAME_MDB));
	assert_true(all_bytes(bytes(fr(r)), PAGE_SIZE, 0x66));
}

/* ---- the lazy table --------------------------------------------------------------- */

/* Takeover of 1 GiB writes only tens of the frame table's 1025 pages, and
 * allocations write only the pages of the entries they change; the table
 * belongs to FRAME_MONITOR and cannot be freed, but for the 30 pages that
 * describe only the hole 102024..109999 (pages 399..428). */
static void test_lazy_table(void **state)
{
	enum { F1G = 262144, T1G = 1025, HOLE_PAGES = 30 };
	static const struct frame_range r1g[] = {
	    {1 * PAGE_SIZE, 159, FRAME_FREE},        {256 * PAGE_SIZE, 768, FRAME_MONITOR},
	    {1024 * PAGE_SIZE, 100000, FRAME_FREE},  {101024 * PAGE_SIZE, 1000, FRAME_FIRMWARE},
	    {110000 * PAGE_SIZE, 77777, FRAME_FREE}, {187777 * PAGE_SIZE, F1G - 187777, FRAME_FREE},
	};
	struct frame_stats s;

	(void)state;
	fx.ram = host_ram((uint64_t)F1G * PAGE_SIZE);
	fx.ram_bytes = (uint64_t)F1G * PAGE_SIZE;
	/* where the table will go holds garbage, as real RAM does */
	memset(fx.ram + (uint64_t)(F1G - T1G) * PAGE_SIZE, 0xff, (uint64_t)T1G * PAGE_SIZE);
	assert_null(frame_init(r1g, ARRAY_SIZE(r1g)));
	frame_stats(&fx.init);
	s = fx.init;
	assert_int_equal(frame_table_pages(), T1G - HOLE_PAGES);
	assert_int_equal(pa_addr(frame_table_base()), (uint64_t)(F1G - T1G) * PAGE_SIZE);
	print_message("1 GiB takeover wrote %lu of %lu table pages\n",
	              (unsigned long)s.table_pages_touched, (unsigned long)frame_table_pages());
	assert_true(s.table_pages_touched > 0);
	assert_true(s.table_pages_touched <= 64);
	assert_true(s.table_pages_touched * 16 < frame_table_pages());
	assert_int_equal(s.free, 159 + 100000 + 77777 + (F1G - 187777) - T1G + HOLE_PAGES);
	assert_int_equal(s.owned[FRAME_MONITOR], 768 + T1G - HOLE_PAGES);
	for (uint64_t p = 0; p < T1G; p++)
		assert_int_equal(query(pf(F1G - T1G + p)).owner,
		                 p >= 399 && p <= 428 ? FRAME_FREE : FRAME_MONITOR);
	assert_int_equal(s.firmware, 1000);
	assert_null(frame_audit());

	/* the table is memmon's, one takeover block per aligned piece */
	for (uint64_t f = F1G - T1G; f < F1G; f += 64) {
		if (f - (F1G - T1G) >= 399 && f - (F1G - T1G) <= 428)
			continue;
		struct frame_info fi = query(pf(f));
		assert_true(fi.managed);
		assert_int_equal(fi.owner, FRAME_MONITOR);
		assert_int_equal(fi.run_frames, 0);
	}
	refuse_free(frame_table_base(), T1G, FRAME_MONITOR, frame_err_notrun);
	refuse_free(pf(F1G - 1), 1, FRAME_MONITOR, frame_err_notrun);

	/* a hundred single frames and a few runs touch a few pages more */
	paddr_t got[100], run[4];
	for (int i = 0; i < 100; i++)
		assert_null(kalloc(FRAME_CLIENT, &got[i]));
	for (int i = 0; i < 4; i++)
		run[i] = must_alloc(64, FRAME_PTABLE);
	for (int i = 0; i < 100; i++)
		assert_null(kfree(got[i], FRAME_CLIENT));
	for (int i = 0; i < 4; i++)
		assert_null(frame_free(run[i], 64, FRAME_PTABLE));
	frame_stats(&s);
	print_message("... and %lu after 100 kalloc and 4 runs\n",
	              (unsigned long)s.table_pages_touched);
	assert_true(s.table_pages_touched <= fx.init.table_pages_touched + 8);
	assert_int_equal(s.free, fx.init.free);
	assert_null(frame_audit());
}

/* ---- randomized, against a reference model -------------------------------------- */

enum { K_HOLE, K_FIRMWARE, K_MONITOR, K_FREE, K_USED };

/* The reference: what every frame is, the live runs and the references. */
static struct model {
	uint8_t kind[NF];
	uint32_t run[NF];  /* K_USED: first frame of its run */
	uint32_t len[NF];  /* first frame of a run: its length */
	uint8_t owner[NF]; /* first frame of a run: its owner */
	uint32_t live[NF]; /* first frames of live runs */
	uint32_t livepos[NF];
	uint32_t nlive;
	uint64_t freebits[NF / 64]; /* bit set: K_FREE */
	uint64_t nfree, owned[FRAME_OWNERS];
} * M;

static void model_init(void)
{
	memset(M, 0, sizeof(*M));
	for (size_t k = 0; k < ARRAY_SIZE(ranges64); k++) {
		uint64_t b = ranges64[k].base / PAGE_SIZE;
		uint8_t kind = ranges64[k].owner == FRAME_FREE       ? K_FREE
		               : ranges64[k].owner == FRAME_FIRMWARE ? K_FIRMWARE
		                                                     : K_MONITOR;
		memset(&M->kind[b], kind, ranges64[k].pages);
	}
	memset(&M->kind[NF - TABLE64], K_MONITOR, TABLE64);
	for (uint64_t f = 0; f < NF; f++)
		if (M->kind[f] == K_FREE) {
			M->freebits[f / 64] |= (uint64_t)1 << (f % 64);
			M->nfree++;
		}
	assert_int_equal(M->nfree, fx.init.free);
}

/* Whether the model has an aligned, wholly free block of 2^k frames. */
static bool model_has_block(unsigned k)
{
	if (k == 0)
		return M->nfree > 0;
	if (k <= 6) {
		/* bit p of w survives iff bits p .. p+2^k-1 are all set */
		uint64_t aligned = 0;
		for (unsigned p = 0; p < 64; p += 1u << k)
			aligned |= (uint64_t)1 << p;
		for (size_t g = 0; g < NF / 64; g++) {
			uint64_t w = M->freebits[g];
			for (unsigned s = 1; s < (1u << k); s <<= 1)
				w &= w >> s;
			if (w & aligned)
				return true;
		}
		return false;
	}
	size_t words = (size_t)1 << (k - 6);
	for (size_t g = 0; g + words <= NF / 64; g += words) {
		size_t j = 0;
		while (j < words && M->freebits[g + j] == UINT64_MAX)
			j++;
		if (j == words)
			return true;
	}
	return false;
}

/* Whether [f, f+n) is all K_FREE in the model. */
static bool model_all_free(uint64_t f, uint64_t n)
{
	for (uint64_t j = f; j < f + n;) {
		if (j >= NF)
			return false;
		if (j % 64 == 0 && j + 64 <= f + n) {
			if (M->freebits[j / 64] != UINT64_MAX)
				return false;
			j += 64;
			continue;
		}
		if (!(M->freebits[j / 64] >> (j % 64) & 1))
			return false;
		j++;
	}
	return true;
}

static void list_add(uint32_t *list, uint32_t *pos, uint32_t *n, uint32_t f)
{
	pos[f] = *n;
	list[(*n)++] = f;
}

static void list_del(uint32_t *list, uint32_t *pos, uint32_t *n, uint32_t f)
{
	uint32_t last = list[--*n];
	list[pos[f]] = last;
	pos[last] = pos[f];
}

/* What frame_free(frame f, count, owner) must answer. */
static err_t model_free_expect(uint64_t f, uint64_t count, enum frame_owner owner)
{
	if (f >= NF)
		return frame_err_unmanaged;
	switch (M->kind[f]) {
	case K_HOLE:
	case K_FIRMWARE:
		return frame_err_unmanaged;
	case K_MONITOR:
		return frame_err_notrun;
	case K_FREE:
		return frame_err_double;
	}
	if (M->run[f] != f)
		return frame_err_notrun;
	if (M->owner[f] != owner)
		return frame_err_foreign;
	if (M->len[f] != count)
		return frame_err_size;
	return NULL;
}

static struct {
	uint64_t ops, allocs, frees, nomem, refusals, queries;
} R;

static void rand_alloc(void)
{
	uint64_t r = test_below(1000), count;
	enum frame_owner owner = owners[test_below(ARRAY_SIZE(owners))];
	paddr_t pa = pa_init(SENTINEL);
	err_t e;

	if (r < 800)
		count = 1;
	else if (r < 950)
		count = 2 + test_below(15);
	else if (r < 998)
		count = 17 + test_below(48);
	else
		count = 65 + test_below(960);
	if (count == 1 && test_below(2))
		e = kalloc(owner, &pa);
	else
		e = frame_alloc(count, owner, &pa);
	unsigned k = ceil_log2(count);
	if (e) {
		assert_err(e, frame_err_nomem);
		assert_int_equal(pa_addr(pa), SENTINEL);
		if (model_has_block(k))
			fail_msg("op %lu: frame_alloc(%lu) refused but a free aligned block exists",
			         (unsigned long)R.ops, (unsigned long)count);
		R.nomem++;
		return;
	}
	uint64_t f = fr(pa), size = (uint64_t)1 << k;
	if (pa_addr(pa) % PAGE_SIZE || f % size || !model_all_free(f, size))
		fail_msg("op %lu: frame_alloc(%lu) gave frame 0x%lx, not a free aligned block",
		         (unsigned long)R.ops, (unsigned long)count, (unsigned long)f);
	for (uint64_t j = f; j < f + count; j++) {
		uint64_t *p = (uint64_t *)(void *)bytes(j);
		if (count <= FRAME_JUNK_MAX &&
		    (p[0] != JUNK64(FRAME_JUNK_ALLOC) || p[511] != JUNK64(FRAME_JUNK_ALLOC)))
			fail_msg("op %lu: frame 0x%lx not junk-filled on allocation",
			         (unsigned long)R.ops, (unsigned long)j);
		p[0] = STAMP ^ j;
		p[511] = STAMP ^ f;
		M->kind[j] = K_USED;
		M->run[j] = (uint32_t)f;
		M->freebits[j / 64] &= ~((uint64_t)1 << (j % 64));
	}
	M->len[f] = (uint32_t)count;
	M->owner[f] = (uint8_t)owner;
	M->nfree -= count;
	M->owned[owner] += count;
	list_add(M->live, M->livepos, &M->nlive, (uint32_t)f);
	R.allocs++;
}

static void rand_free(void)
{
	if (!M->nlive)
		return;
	uint32_t f = M->live[test_below(M->nlive)];
	uint64_t count = M->len[f];
	enum frame_owner owner = M->owner[f];
	err_t want = model_free_expect(f, count, owner);
	for (uint64_t j = f; j < f + count; j++) {
		uint64_t *p = (uint64_t *)(void *)bytes(j);
		if (p[0] != (STAMP ^ j) || p[511] != (STAMP ^ f))
			fail_msg("op %lu: live frame 0x%lx of run 0x%x was overwritten",
			         (unsigned long)R.ops, (unsigned long)j, f);
	}
	err_t e =
	    count == 1 && test_below(2) ? kfree(pf(f), owner) : frame_free(pf(f), count, owner);
	assert_err(e, want);
	if (e) {
		R.refusals++;
		return;
	}
	for (uint64_t j = f; j < f + count; j++) {
		uint64_t *p = (uint64_t *)(void *)bytes(j);
		if (count <= FRAME_JUNK_MAX &&
		    (p[0] != JUNK64(FRAME_JUNK_FREE) || p[511] != JUNK64(FRAME_JUNK_FREE)))
			fail_msg("op %lu: frame 0x%lx not junk-filled on free",
			         (unsigned long)R.ops, (unsigned long)j);
		M->kind[j] = K_FREE;
		M->freebits[j / 64] |= (uint64_t)1 << (j % 64);
	}
	M->nfree += count;
	M->owned[owner] -= count;
	list_del(M->live, M->livepos, &M->nlive, f);
	R.frees++;
}

/* A call that must be refused; the model does not change. */
static void rand_bad(void)
{
	enum frame_owner owner = owners[test_below(ARRAY_SIZE(owners))];
	uint64_t f, count;
	paddr_t pa = pa_init(SENTINEL);

	switch (test_below(8)) {
	case 0: /* a free frame: double free */
		for (int t = 0; t < 8; t++) {
			f = test_below(NF);
			if (M->kind[f] == K_FREE) {
				assert_err(frame_free(pf(f), 1 + test_below(64), owner),
				           frame_err_double);
				break;
			}
		}
		break;
	case 1: /* inside a live run */
		if (M->nlive) {
			f = M->live[test_below(M->nlive)];
			if (M->len[f] > 1)
				assert_err(frame_free(pf(f + 1 + test_below(M->len[f] - 1)),
				                      1 + test_below(3), M->owner[f]),
				           frame_err_notrun);
		}
		break;
	case 2: /* a live run, the wrong count */
		if (M->nlive) {
			f = M->live[test_below(M->nlive)];
			count = test_below(2) && M->len[f] > 1 ? M->len[f] - 1
			                                       : M->len[f] + 1 + test_below(64);
			assert_err(frame_free(pf(f), count, M->owner[f]), frame_err_size);
		}
		break;
	case 3: /* a live run, the wrong owner */
		if (M->nlive) {
			f = M->live[test_below(M->nlive)];
			while (owner == M->owner[f])
				owner = owners[test_below(ARRAY_SIZE(owners))];
			assert_err(frame_free(pf(f), M->len[f], owner), frame_err_foreign);
		}
		break;
	case 4: { /* unaligned */
		paddr_t u = pa_init(test_below(NF) * PAGE_SIZE + 1 + test_below(PAGE_SIZE - 1));
		struct frame_info fi;
		if (test_below(2))
			assert_err(frame_free(u, 1, owner), frame_err_align);
		else
			assert_err(frame_query(u, &fi), frame_err_align);
		break;
	}
	case 5: { /* anywhere, by the model's rules */
		f = test_below(NF + 64);
		count = 1 + test_below(64);
		err_t want = model_free_expect(f, count, owner);
		if (!want) {
			while (owner == M->owner[f])
				owner = owners[test_below(ARRAY_SIZE(owners))];
			want = frame_err_foreign;
		}
		assert_err(frame_free(pf(f), count, owner), want);
		break;
	}
	default: /* a bad count or owner */
		if (test_below(2)) {
			count = test_below(2)
			            ? 0
			            : ((uint64_t)1 << FRAME_MAX_ORDER) + 1 + test_below(1000);
			assert_err(frame_alloc(count, owner, &pa), frame_err_count);
		} else {
			static const enum frame_owner bad[] = {FRAME_FREE, FRAME_FIRMWARE,
			                                       FRAME_OWNERS};
			enum frame_owner b = bad[test_below(ARRAY_SIZE(bad))];
			assert_err(test_below(2) ? kalloc(b, &pa)
			                         : frame_alloc(1 + test_below(64), b, &pa),
			           frame_err_owner);
		}
		assert_int_equal(pa_addr(pa), SENTINEL);
	}
	R.refusals++;
}

/* frame_query of frame f agrees with the model. */
static void model_check_query(uint64_t f)
{
	struct frame_info fi = query(pf(f));

	R.queries++;
	if (f >= NF || M->kind[f] == K_HOLE) {
		assert_false(fi.managed);
		assert_int_equal(fi.owner, FRAME_FREE);
		return;
	}
	switch (M->kind[f]) {
	case K_FIRMWARE:
		assert_false(fi.managed);
		assert_int_equal(fi.owner, FRAME_FIRMWARE);
		return;
	case K_MONITOR:
		assert_true(fi.managed);
		assert_int_equal(fi.owner, FRAME_MONITOR);
		assert_int_equal(fi.run_frames, 0);
		return;
	}
	uint64_t b = fr(fi.block), size = (uint64_t)1 << fi.order;
	assert_true(fi.managed);
	assert_int_equal(b % size, 0);
	assert_true(b <= f && f < b + size);
	if (M->kind[f] == K_FREE) {
		assert_int_equal(fi.owner, FRAME_FREE);
		if (!model_all_free(b, size))
			fail_msg("op %lu: frame 0x%lx in free block 0x%lx order %u, not all free",
			         (unsigned long)R.ops, (unsigned long)f, (unsigned long)b,
			         fi.order);
		return;
	}
	uint64_t run = M->run[f];
	assert_int_equal(fi.owner, M->owner[run]);
	assert_int_equal(fr(fi.run), run);
	assert_int_equal(fi.run_frames, M->len[run]);
	assert_true(b >= run && b + size <= run + M->len[run]);
}

/* frame_stats agrees with the model; the largest free block is the largest
 * the model has (every free buddy merged). */
static void model_check_stats(void)
{
	struct frame_stats s;

	frame_stats(&s);
	assert_int_equal(s.total, fx.init.total);
	assert_int_equal(s.free, M->nfree);
	assert_int_equal(s.used, s.total - s.free);
	assert_int_equal(s.owned[FRAME_FREE], M->nfree);
	for (unsigned o = 1; o < FRAME_OWNERS; o++)
		assert_int_equal(s.owned[o], fx.init.owned[o] + M->owned[o]);
	assert_int_equal(s.firmware, fx.init.firmware);
	unsigned k = 0;
	while (k < 13 && model_has_block(k))
		k++;
	assert_int_equal(s.largest_frames, k ? (uint64_t)1 << (k - 1) : 0);
	if (k)
		assert_true(model_all_free(fr(s.largest), s.largest_frames));
}

/* Four million calls of every kind, mostly single frames, runs of up to 1024
 * frames, references, and calls that must be refused, held against a
 * reference model: every allocation is a wholly free aligned block, every
 * frame_err_nomem is right, every refusal is the expected one, live frames
 * are never written by the allocator, and frame_query, frame_stats and
 * frame_audit agree with the model throughout and at the end. */
static void test_random_ops(void **state)
{
	enum { OPS = 4000000, PHASE = 100000 };
	/* the share of free frames to keep in use, phase by phase */
	static const unsigned target[] = {30, 60, 90, 99, 100, 75, 45, 15, 95, 50};
	struct timespec t0, t1;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	M = malloc(sizeof(*M));
	assert_non_null(M);
	model_init();
	test_rng_set(0x9e3779b97f4a7c15);
	memset(&R, 0, sizeof(R));
	for (R.ops = 0; R.ops < OPS; R.ops++) {
		uint64_t used = fx.init.free - M->nfree;
		uint64_t want = fx.init.free * target[R.ops / PHASE % ARRAY_SIZE(target)] / 100;
		uint64_t r = test_below(100);
		if (r < (used < want ? 60u : 35u)) {
			rand_alloc();
		} else {
			r = test_below(100);
			if (r < 80)
				rand_free();
			else
				rand_bad();
		}
		model_check_query(test_below(NF + 16));
		if (R.ops % 4096 == 4095)
			model_check_stats();
		if (R.ops % 50000 == 49999) {
			err_t a = frame_audit();
			if (a)
				fail_msg("op %lu: frame_audit: %s", (unsigned long)R.ops, a);
		}
	}
	model_check_stats();
	assert_null(frame_audit());

	/* free every run */
	while (M->nlive)
		rand_free();
	model_check_stats();
	assert_int_equal(M->nfree, fx.init.free);
	assert_null(frame_audit());
	free(M);
	M = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message(
	    "random: %lu ops (%lu allocs, %lu frees, %lu nomem, %lu refusals) in %.1f s\n",
	    (unsigned long)OPS, (unsigned long)R.allocs, (unsigned long)R.frees,
	    (unsigned long)R.nomem, (unsigned long)R.refusals,
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/* ---- carving ------------------------------------------------------------------ */

/* The block holding frame f of a run of len frames from s, by frame.h's
 * layout rule written afresh: maximal aligned blocks from s, each the
 * largest aligned at its first frame that fits in what is left. */
static void layout_block(uint64_t s, uint64_t len, uint64_t f, uint64_t *block, unsigned *order)
{
	uint64_t pos = s, end = s + len;

	while (pos < end) {
		unsigned j = 0;
		while (pos % ((uint64_t)2 << j) == 0 && pos + ((uint64_t)2 << j) <= end)
			j++;
		if (f < pos + ((uint64_t)1 << j)) {
			*block = pos;
			*order = j;
			return;
		}
		pos += (uint64_t)1 << j;
	}
	fail_msg("frame %lu outside run %lu+%lu", (unsigned long)f, (unsigned long)s,
	         (unsigned long)len);
}

/* Frame f is in the run [s, s+len) of `owner`, in the block the
 * layout rule gives it. */
static void assert_run_frame(uint64_t s, uint64_t len, enum frame_owner owner, uint64_t f)
{
	struct frame_info fi = query(pf(f));
	uint64_t b;
	unsigned o;

	layout_block(s, len, f, &b, &o);
	if (fi.owner != owner || !fi.managed || fr(fi.run) != s || fi.run_frames != len ||
	    fr(fi.block) != b || fi.order != o)
		fail_msg("frame %lu: owner %d run %lu+%lu block %lu order %u; want owner "
		         "%d run %lu+%lu block %lu order %u",
		         (unsigned long)f, fi.owner, (unsigned long)fr(fi.run),
		         (unsigned long)fi.run_frames, (unsigned long)fr(fi.block), fi.order, owner,
		         (unsigned long)s, (unsigned long)len, (unsigned long)b, o);
}

/* Every frame of [s, s+len) is in that run, as assert_run_frame says. */
static void assert_run(uint64_t s, uint64_t len, enum frame_owner owner)
{
	for (uint64_t f = s; f < s + len; f++)
		assert_run_frame(s, len, owner, f);
}

/* Write STAMP ^ f into the first and last words of frames [s, s+n) ... */
static void stamp(uint64_t s, uint64_t n)
{
	for (uint64_t f = s; f < s + n; f++) {
		uint64_t *p = (uint64_t *)(void *)bytes(f);
		p[0] = p[PAGE_SIZE / 8 - 1] = STAMP ^ f;
	}
}

/* ... and check that no one wrote them since. */
static void assert_stamped(uint64_t s, uint64_t n)
{
	for (uint64_t f = s; f < s + n; f++) {
		const uint64_t *p = (const uint64_t *)(const void *)bytes(f);
		if (p[0] != (STAMP ^ f) || p[PAGE_SIZE / 8 - 1] != (STAMP ^ f))
			fail_msg("frame %lu was written", (unsigned long)f);
	}
}

static void audit_at(int line)
{
	err_t a = frame_audit();

	if (a)
		fail_msg("line %d: frame_audit: %s", line, a);
}

/* frame_carve succeeds, moves no frame between owners (every counter but
 * the table pages touched is as before) and leaves a sound allocator. */
static void carve_ok_at(uint64_t f, uint64_t count, enum frame_owner owner, int line)
{
	struct frame_stats before, after;

	frame_stats(&before);
	check_err(frame_carve(pf(f), count, owner), NULL, line);
	frame_stats(&after);
	assert_true(after.table_pages_touched >= before.table_pages_touched);
	after.table_pages_touched = before.table_pages_touched;
	assert_stats_equal(&after, &before);
	audit_at(line);
}
#define carve_ok(f, count, owner) carve_ok_at((f), (count), (owner), __LINE__)

/* frame_free of run [s, s+len) succeeds and gives every frame of it back. */
static void free_run_at(uint64_t s, uint64_t len, enum frame_owner owner, int line)
{
	check_err(frame_free(pf(s), len, owner), NULL, line);
	for (uint64_t f = s; f < s + len; f++)
		if (query(pf(f)).owner != FRAME_FREE)
			fail_msg("line %d: frame %lu not free", line, (unsigned long)f);
	audit_at(line);
}
#define free_run(s, len, owner) free_run_at((s), (len), (owner), __LINE__)

/* frame_carve(pa, count, owner) is refused with `want` and changes nothing:
 * the whole frame table is byte for byte the same (after frame_stats has
 * merged the quick stack), and so are the counters and pa's frame. */
static void refuse_carve_at(paddr_t pa, uint64_t count, enum frame_owner owner, err_t want,
                            int line)
{
	static struct snap sn;
	static uint8_t table[TABLE64 * PAGE_SIZE];
	size_t n = frame_table_span() * PAGE_SIZE;

	assert_true(n <= sizeof(table));
	take_snap(&sn, pa);
	memcpy(table, plat_pa_to_ptr(frame_table_base()), n);
	check_err(frame_carve(pa, count, owner), want, line);
	if (memcmp(table, plat_pa_to_ptr(frame_table_base()), n))
		fail_msg("line %d: a refused frame_carve wrote the frame table", line);
	same_as_snap(&sn, pa);
}
#define refuse_carve(pa, count, owner, want)                                                       \
	refuse_carve_at((pa), (count), (owner), (want), __LINE__)

/* Carving the first frames of a run leaves two runs, the piece and the rest
 * (which starts unaligned), each laid out from its own start, without
 * touching the frames; each piece is freed with its own length only, and
 * freeing both gives every frame back. */
static void test_carve_start(void **state)
{
	(void)state;
	uint64_t s = fr(must_alloc(13, FRAME_CLIENT)); /* blocks of 8, 4, 1 */
	stamp(s, 13);
	carve_ok(s, 5, FRAME_CLIENT);
	assert_run(s, 5, FRAME_CLIENT);
	assert_run(s + 5, 8, FRAME_CLIENT); /* blocks of 1, 2, 4, 1 */
	assert_stamped(s, 13);
	assert_taken(13, FRAME_CLIENT);
	refuse_free(pf(s), 13, FRAME_CLIENT, frame_err_size);
	refuse_free(pf(s + 5), 13, FRAME_CLIENT, frame_err_size);
	refuse_free(pf(s + 6), 7, FRAME_CLIENT, frame_err_notrun);
	free_run(s + 5, 8, FRAME_CLIENT);
	assert_run(s, 5, FRAME_CLIENT);
	assert_stamped(s, 5);
	assert_taken(5, FRAME_CLIENT);
	free_run(s, 5, FRAME_CLIENT);
	assert_taken(0, FRAME_CLIENT);
}

/* Carving the middle of a run leaves three runs; the middle one can be
 * freed and the two others kept, contents and all, then freed too. */
static void test_carve_middle(void **state)
{
	(void)state;
	uint64_t s = fr(must_alloc(100, FRAME_MDB));
	stamp(s, 100);
	carve_ok(s + 37, 29, FRAME_MDB);
	assert_run(s, 37, FRAME_MDB);
	assert_run(s + 37, 29, FRAME_MDB);
	assert_run(s + 66, 34, FRAME_MDB);
	assert_stamped(s, 100);
	free_run(s + 37, 29, FRAME_MDB);
	assert_taken(71, FRAME_MDB);
	assert_run(s, 37, FRAME_MDB);
	assert_run(s + 66, 34, FRAME_MDB);
	assert_stamped(s, 37);
	assert_stamped(s + 66, 34);
	free_run(s, 37, FRAME_MDB);
	free_run(s + 66, 34, FRAME_MDB);
	assert_taken(0, FRAME_MDB);
}

/* Carving the last frames of a run leaves the front and the piece; the
 * piece is freed first, then the front. */
static void test_carve_end(void **state)
{
	(void)state;
	uint64_t s = fr(must_alloc(13, FRAME_PTABLE));
	stamp(s, 13);
	carve_ok(s + 9, 4, FRAME_PTABLE);
	assert_run(s, 9, FRAME_PTABLE);
	assert_run(s + 9, 4, FRAME_PTABLE);
	assert_stamped(s, 13);
	free_run(s + 9, 4, FRAME_PTABLE);
	assert_run(s, 9, FRAME_PTABLE);
	free_run(s, 9, FRAME_PTABLE);
	assert_taken(0, FRAME_PTABLE);
}

/* Carving a whole run, of many frames or of one, changes nothing: the frame
 * table is byte for byte the same, and the run frees with its length. */
static void test_carve_whole(void **state)
{
	static uint8_t table[TABLE64 * PAGE_SIZE];
	size_t n = frame_table_span() * PAGE_SIZE;
	struct frame_stats s0;
	paddr_t a;

	(void)state;
	uint64_t s = fr(must_alloc(13, FRAME_CONSOLE));
	assert_null(kalloc(FRAME_CONSOLE, &a));
	frame_stats(&s0); /* merges the quick stack before the snapshot */
	memcpy(table, plat_pa_to_ptr(frame_table_base()), n);
	carve_ok(s, 13, FRAME_CONSOLE);
	carve_ok(fr(a), 1, FRAME_CONSOLE);
	assert_memory_equal(plat_pa_to_ptr(frame_table_base()), table, n);
	assert_run(s, 13, FRAME_CONSOLE);
	assert_run(fr(a), 1, FRAME_CONSOLE);
	free_run(s, 13, FRAME_CONSOLE);
	assert_null(kfree(a, FRAME_CONSOLE));
	assert_taken(0, FRAME_CONSOLE);
}

/* Every frame of a run carved on its own, in scrambled order, gives single
 * frames that kfree takes (its fast path needs exactly kalloc's entry) as
 * well as frame_free; one frame carved from the middle of a long run leaves
 * it in three runs. */
static void test_carve_single_frames(void **state)
{
	static const uint64_t order[] = {3, 0, 7, 5, 1, 6, 2, 4};

	(void)state;
	uint64_t s = fr(must_alloc(8, FRAME_CLIENT));
	stamp(s, 8);
	for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
		carve_ok(s + order[k], 1, FRAME_CLIENT);
		assert_run(s + order[k], 1, FRAME_CLIENT);
	}
	assert_stamped(s, 8);
	for (uint64_t k = 0; k < 8; k++) {
		assert_run(s + k, 1, FRAME_CLIENT);
		if (k % 2)
			assert_null(kfree(pf(s + k), FRAME_CLIENT));
		else
			free_run(s + k, 1, FRAME_CLIENT);
		audit_at(__LINE__);
	}
	assert_taken(0, FRAME_CLIENT);

	uint64_t t = fr(must_alloc(1000, FRAME_MONITOR));
	carve_ok(t + 517, 1, FRAME_MONITOR);
	assert_run(t, 517, FRAME_MONITOR);
	assert_run(t + 517, 1, FRAME_MONITOR);
	assert_run(t + 518, 482, FRAME_MONITOR);
	assert_null(kfree(pf(t + 517), FRAME_MONITOR));
	audit_at(__LINE__);
	free_run(t + 518, 482, FRAME_MONITOR);
	free_run(t, 517, FRAME_MONITOR);
	assert_taken(0, FRAME_MONITOR);
}

/* A carved piece is a run like any other: pieces carve out of it, and out of
 * those; a range across two pieces leaves the piece it starts in and is
 * refused; the pieces free in any order. */
static void test_carve_carved(void **state)
{
	(void)state;
	uint64_t s = fr(must_alloc(64, FRAME_CLIENT));
	stamp(s, 64);
	carve_ok(s + 10, 40, FRAME_CLIENT); /* [0,10) [10,50) [50,64) */
	carve_ok(s + 20, 10, FRAME_CLIENT); /* [10,20) [20,30) [30,50) */
	carve_ok(s + 30, 1, FRAME_CLIENT);  /* [30,31) [31,50) */
	carve_ok(s + 3, 4, FRAME_CLIENT);   /* [0,3) [3,7) [7,10) */
	carve_ok(s + 63, 1, FRAME_CLIENT);  /* [50,63) [63,64) */
	refuse_carve(pf(s + 15), 10, FRAME_CLIENT, frame_err_size);
	refuse_carve(pf(s + 29), 2, FRAME_CLIENT, frame_err_size);
	refuse_carve(pf(s + 50), 14, FRAME_CLIENT, frame_err_size);
	static const uint64_t piece[][2] = {{0, 3},  {3, 4},   {7, 3},   {10, 10}, {20, 10},
	                                    {30, 1}, {31, 19}, {50, 13}, {63, 1}};
	for (size_t k = 0; k < ARRAY_SIZE(piece); k++)
		assert_run(s + piece[k][0], piece[k][1], FRAME_CLIENT);
	assert_stamped(s, 64);
	assert_taken(64, FRAME_CLIENT);
	static const size_t free_order[] = {4, 0, 8, 2, 6, 1, 7, 3, 5};
	for (size_t k = 0; k < ARRAY_SIZE(free_order); k++) {
		const uint64_t *p = piece[free_order[k]];
		free_run(s + p[0], p[1], FRAME_CLIENT);
	}
	assert_taken(0, FRAME_CLIENT);
}

/* frame_carve refuses, changing nothing (not a byte of the frame table):
 * free frames (frame_err_double), another owner (frame_err_foreign), a
 * range that leaves the run (frame_err_size), counts 0 and beyond 2^31
 * (frame_err_count), unaligned addresses (frame_err_align), holes, RAM's end
 * and the firmware's frames (frame_err_unmanaged), memmon's own frames and
 * the frame table (frame_err_notrun). The run then carves and frees. */
static void test_refuse_carve(void **state)
{
	static const enum frame_owner wrong[] = {FRAME_FREE,   FRAME_MONITOR, FRAME_MDB,
	                                         FRAME_CLIENT, FRAME_CONSOLE, FRAME_FIRMWARE,
	                                         FRAME_OWNERS};
	static const uint64_t bad_count[] = {0, ((uint64_t)1 << FRAME_MAX_ORDER) + 1,
	                                     (uint64_t)1 << 32, UINT64_MAX};
	static const uint64_t off[] = {1, 8, 0x800, 0xfff};
	paddr_t a;

	(void)state;
	uint64_t s = fr(must_alloc(7, FRAME_PTABLE)); /* blocks at +0 (4), +4 (2), +6 (1) */
	paddr_t r = pf(s);
	stamp(s, 7);

	/* free frames: a freed run, a free block's head and inside, a quick frame */
	uint64_t d = fr(must_alloc(6, FRAME_PTABLE));
	free_run(d, 6, FRAME_PTABLE);
	refuse_carve(pf(d), 6, FRAME_PTABLE, frame_err_double);
	refuse_carve(pf(d + 5), 1, FRAME_PTABLE, frame_err_double);
	refuse_carve(pf(4096), 1, FRAME_PTABLE, frame_err_double);
	refuse_carve(pf(5000), 3, FRAME_PTABLE, frame_err_double);
	assert_null(kalloc(FRAME_PTABLE, &a));
	assert_null(kfree(a, FRAME_PTABLE)); /* on the quick stack: no frame_stats */
	struct frame_info before = query(a), after;
	assert_err(frame_carve(a, 1, FRAME_PTABLE), frame_err_double);
	after = query(a);
	assert_info_equal(&after, &before);
	audit_at(__LINE__);

	for (size_t k = 0; k < ARRAY_SIZE(wrong); k++)
		if (wrong[k] != FRAME_PTABLE) {
			refuse_carve(r, 2, wrong[k], frame_err_foreign);
			refuse_carve(pf(s + 5), 1, wrong[k], frame_err_foreign);
		}

	refuse_carve(r, 8, FRAME_PTABLE, frame_err_size);
	refuse_carve(pf(s + 3), 5, FRAME_PTABLE, frame_err_size);
	refuse_carve(pf(s + 6), 2, FRAME_PTABLE, frame_err_size);
	refuse_carve(pf(s + 6), (uint64_t)1 << FRAME_MAX_ORDER, FRAME_PTABLE, frame_err_size);
	for (size_t k = 0; k < ARRAY_SIZE(bad_count); k++) {
		refuse_carve(r, bad_count[k], FRAME_PTABLE, frame_err_count);
		refuse_carve(pf(s + 4), bad_count[k], FRAME_PTABLE, frame_err_count);
	}
	for (size_t k = 0; k < ARRAY_SIZE(off); k++) {
		refuse_carve(pa_add(r, off[k]), 1, FRAME_PTABLE, frame_err_align);
		refuse_carve(pa_add(pf(s + 4), off[k]), 2, FRAME_PTABLE, frame_err_align);
	}

	refuse_carve(pf(0), 1, FRAME_PTABLE, frame_err_unmanaged);
	refuse_carve(pf(200), 1, FRAME_PTABLE, frame_err_unmanaged);
	refuse_carve(pf(NF), 1, FRAME_PTABLE, frame_err_unmanaged);
	refuse_carve(pa_init((uint64_t)1 << 44), 1, FRAME_PTABLE, frame_err_unmanaged);
	refuse_carve(pf(256), 1, FRAME_FIRMWARE, frame_err_unmanaged);
	refuse_carve(pf(8203), 2, FRAME_PTABLE, frame_err_unmanaged);
	refuse_carve(pf(512), 32, FRAME_MONITOR, frame_err_notrun);
	refuse_carve(pf(520), 1, FRAME_MONITOR, frame_err_notrun);
	refuse_carve(frame_table_base(), 1, FRAME_MONITOR, frame_err_notrun);

	assert_run(s, 7, FRAME_PTABLE);
	assert_stamped(s, 7);
	carve_ok(s + 2, 3, FRAME_PTABLE);
	free_run(s, 2, FRAME_PTABLE);
	free_run(s + 2, 3, FRAME_PTABLE);
	free_run(s + 5, 2, FRAME_PTABLE);
	assert_taken(0, FRAME_PTABLE);
}

/* The live runs of the randomized carving test. */
static struct carve_model {
	uint32_t len[NF];  /* first frame of a live run: its length */
	uint8_t owner[NF]; /* first frame of a live run: its owner */
	uint32_t live[NF]; /* first frames of live runs */
	uint32_t livepos[NF];
	uint32_t nlive;
	uint64_t taken;
} * CM;

/* A few frames of run [s, s+len), and all of a short one, are where the
 * layout rule puts them. */
static void check_run_sampled(uint64_t s, uint64_t len, enum frame_owner owner)
{
	if (len <= 48) {
		assert_run(s, len, owner);
		return;
	}
	for (uint64_t k = 0; k < 16; k++) {
		assert_run_frame(s, len, owner, s + k);
		assert_run_frame(s, len, owner, s + len - 1 - k);
		assert_run_frame(s, len, owner, s + test_below(len));
	}
}

static void cm_add(uint64_t s, uint64_t len, enum frame_owner owner)
{
	CM->len[s] = (uint32_t)len;
	CM->owner[s] = (uint8_t)owner;
	list_add(CM->live, CM->livepos, &CM->nlive, (uint32_t)s);
}

/* Runs of random lengths allocated, carved at random and freed a piece at a
 * time, with a few refused carves (another owner, a range leaving the run): every piece is laid out
 * from its own start, no frame is written and no frame changes owner, the audit passes after every
 * call, and every frame comes back at the end. */
static void test_random_carve(void **state)
{
	enum { OPS = 20000 };
	uint64_t carves = 0, refusals = 0, frees = 0;

	(void)state;
	CM = calloc(1, sizeof(*CM));
	assert_non_null(CM);
	test_rng_set(0x2545f4914f6cdd1d);
	for (unsigned op = 0; op < OPS; op++) {
		uint64_t r = test_below(100);
		enum frame_owner owner = owners[test_below(ARRAY_SIZE(owners))];
		if (r < (CM->nlive < 40 ? 30u : 10u)) {
			uint64_t count = test_below(4) ? 1 + test_below(64) : 1 + test_below(2048);
			paddr_t pa = pa_init(SENTINEL);
			err_t e = frame_alloc(count, owner, &pa);
			if (e) {
				assert_err(e, frame_err_nomem);
				continue;
			}
			stamp(fr(pa), count);
			cm_add(fr(pa), count, owner);
			CM->taken += count;
		} else if (CM->nlive && r < 75) {
			uint32_t s = CM->live[test_below(CM->nlive)];
			uint64_t len = CM->len[s], off = test_below(len),
			         count = 1 + test_below(len - off);
			owner = CM->owner[s];
			switch (test_below(16)) {
			case 0: {
				enum frame_owner o = owners[test_below(ARRAY_SIZE(owners))];
				if (o != owner) {
					refuse_carve(pf(s + off), count, o, frame_err_foreign);
					refusals++;
				}
				continue;
			}
			case 1:
				refuse_carve(pf(s + off), len - off + 1 + test_below(3), owner,
				             frame_err_size);
				refusals++;
				continue;
			}
			carve_ok(s + off, count, owner);
			carves++;
			if (off) {
				CM->len[s] = (uint32_t)off;
				cm_add(s + off, count, owner);
			} else {
				CM->len[s] = (uint32_t)count;
			}
			if (off + count < len)
				cm_add(s + off + count, len - off - count, owner);
			check_run_sampled(s, CM->len[s], owner);
			if (off)
				check_run_sampled(s + off, count, owner);
			if (off + count < len)
				check_run_sampled(s + off + count, len - off - count, owner);
		} else if (CM->nlive) {
			uint32_t s = CM->live[test_below(CM->nlive)];
			uint64_t len = CM->len[s];
			assert_stamped(s, len);
			if (len == 1 && test_below(2))
				assert_null(kfree(pf(s), CM->owner[s]));
			else
				assert_null(frame_free(pf(s), len, CM->owner[s]));
			list_del(CM->live, CM->livepos, &CM->nlive, s);
			CM->taken -= len;
			frees++;
		}
		audit_at(__LINE__);
	}
	while (CM->nlive) {
		uint32_t s = CM->live[CM->nlive - 1];
		assert_stamped(s, CM->len[s]);
		free_run(s, CM->len[s], CM->owner[s]);
		list_del(CM->live, CM->livepos, &CM->nlive, s);
	}
	free(CM);
	CM = NULL;
	print_message("carve: %lu carves, %lu refusals, %lu frees\n", (unsigned long)carves,
	              (unsigned long)refusals, (unsigned long)frees);
}

/* ---- the takeover list (mm_takeover) ------------------------------------------ */

static struct mm_region mk_region(uint64_t base, uint64_t pages, enum fw_kind kind)
{
	return (struct mm_region){.base = base, .pages = pages, .kind = kind};
}

static void expect_ranges(const struct frame_range *got, size_t n, const struct frame_range *want,
                          size_t nwant)
{
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(got[i].base, want[i].base);
		assert_int_equal(got[i].pages, want[i].pages);
		assert_int_equal(got[i].owner, want[i].owner);
	}
}

/* Overlapping descriptors (a broken map): firmware RAM and MMIO win over the
 * free memory they overlap, which is never handed to the allocator. */
static void test_takeover_overlaps(void **state)
{
	struct mm_region r[] = {
	    mk_region(0x0, 0x10, FW_CONVENTIONAL),       mk_region(0x8000, 0x4, FW_ACPI_NVS),
	    mk_region(0x100000, 0x100, FW_CONVENTIONAL), mk_region(0x180000, 0x10, FW_MMIO),
	    mk_region(0x1f0000, 0x20, FW_RUNTIME_DATA),
	};
	struct boot_info bi = {.regions = r, .nregions = ARRAY_SIZE(r)};
	struct frame_range out[16];
	size_t n;
	static const struct frame_range want[] = {
	    {0x0, 1, FRAME_MONITOR},          {0x1000, 7, FRAME_FREE},
	    {0x8000, 4, FRAME_FIRMWARE},      {0xc000, 4, FRAME_FREE},
	    {0x100000, 0x80, FRAME_FREE},     {0x190000, 0x60, FRAME_FREE},
	    {0x1f0000, 0x20, FRAME_FIRMWARE},
	};

	(void)state;
	assert_null(mm_takeover(&bi, out, ARRAY_SIZE(out), &n));
	expect_ranges(out, n, want, ARRAY_SIZE(want));
	assert_int_equal(r[0].kept, 1);
	/* the totals count each page once, under the claim that won */
	assert_int_equal(bi.totals.pages[MM_RECLAIMED], 7 + 4 + 0x80 + 0x60);
	assert_int_equal(bi.totals.pages[MM_KEPT], 1);
	assert_int_equal(bi.totals.pages[MM_RESERVED], 4 + 0x10 + 0x20);
	assert_int_equal(bi.totals.ram_pages, 7 + 4 + 0x80 + 0x60 + 1 + 4 + 0x20);
}

/* Before any takeover the allocator is empty, not broken: stats are zero,
 * nothing can be allocated, nothing freed. (Runs first, before any
 * frame_init in this process.) */
static void test_before_takeover(void **state)
{
	struct frame_stats s;
	paddr_t pa = pa_init(SENTINEL);

	(void)state;
	frame_stats(&s);
	assert_int_equal(s.total, 0);
	assert_int_equal(s.free, 0);
	assert_int_equal(s.largest_frames, 0);
	assert_err(kalloc(FRAME_CLIENT, &pa), frame_err_nomem);
	assert_err(frame_alloc(4, FRAME_CLIENT, &pa), frame_err_nomem);
	assert_int_equal(pa_addr(pa), SENTINEL);
	assert_err(kfree(pa_init(0x1000), FRAME_CLIENT), frame_err_unmanaged);
	assert_null(frame_audit());
}

/* Kept spans out of order, overlapping each other and crossing from one
 * descriptor into the next become one monitor piece; each descriptor counts
 * the kept pages it holds. */
static void test_takeover_kept_spans(void **state)
{
	struct mm_region r[] = {
	    mk_region(0x0, 0x100, FW_CONVENTIONAL),
	    mk_region(0x100000, 0x100, FW_BOOT_DATA),
	    mk_region(0x200000, 0x100, FW_LOADER_DATA),
	};
	struct boot_info bi = {.regions = r,
	                       .nregions = ARRAY_SIZE(r),
	                       .kept = {{0x1fe000, 4}, {0x52000, 4}, {0x50000, 4}, {0x300000, 8}},
	                       .nkept = 4};
	struct frame_range out[16];
	size_t n;
	static const struct frame_range want[] = {
	    {0x0, 1, FRAME_MONITOR},      {0x1000, 0x4f, FRAME_FREE},
	    {0x50000, 6, FRAME_MONITOR},  {0x56000, 0x1a8, FRAME_FREE},
	    {0x1fe000, 4, FRAME_MONITOR}, {0x202000, 0xfe, FRAME_FREE},
	};

	(void)state;
	assert_null(mm_takeover(&bi, out, ARRAY_SIZE(out), &n));
	expect_ranges(out, n, want, ARRAY_SIZE(want));
	assert_int_equal(r[0].kept, 7);
	assert_int_equal(r[1].kept, 2);
	assert_int_equal(r[2].kept, 2);
	/* a list too short for the pieces is an error */
	assert_non_null(mm_takeover(&bi, out, 3, &n));
}

/* With keep_boot, boot-services and loader memory are kept whole. */
static void test_takeover_keep_boot(void **state)
{
	struct mm_region r[] = {
	    mk_region(0x1000, 0xff, FW_CONVENTIONAL),
	    mk_region(0x100000, 0x100, FW_BOOT_CODE),
	    mk_region(0x200000, 0x100, FW_LOADER_DATA),
	};
	struct boot_info bi = {.regions = r, .nregions = ARRAY_SIZE(r), .keep_boot = true};
	struct frame_range out[16];
	size_t n;
	static const struct frame_range want[] = {
	    {0x1000, 0xff, FRAME_FREE},
	    {0x100000, 0x200, FRAME_MONITOR},
	};

	(void)state;
	assert_null(mm_takeover(&bi, out, ARRAY_SIZE(out), &n));
	expect_ranges(out, n, want, ARRAY_SIZE(want));
	assert_int_equal(r[1].kept, 0x100);
	assert_int_equal(r[2].kept, 0x100);
}

/* ---- the quick stack --------------------------------------------------------------- */

/* Frames on the quick stack are free to every reader: frame_query says
 * FRAME_FREE in an order-0 block, and the audit passes. */
static void assert_quick_frame(paddr_t pa)
{
	struct frame_info fi = query(pa);

	assert_int_equal(fi.owner, FRAME_FREE);
	assert_true(fi.managed);
	assert_int_equal(pa_addr(fi.block), pa_addr(pa));
	assert_int_equal(fi.order, 0);
}

/* A burst of single allocations: each refill of the empty stack pushes one
 * whole aligned block (never more than FRAME_QUICK_BLOCK frames), handed out
 * in address order, its frames still on the stack reading as free. So a
 * burst splits one block per FRAME_QUICK_BLOCK frames. The smallest free
 * blocks go first (the machine's lone frames, then pairs, ...), as a buddy
 * allocation of one frame would take them. */
static void test_quick_burst(void **state)
{
	enum { N = 20 * FRAME_QUICK_BLOCK };
	static paddr_t got[N];
	unsigned refills = 0, big = 0;
	uint64_t left = 0, next = 0, last_size = 0, small_frames = 0;

	(void)state;
	assert_int_equal(frame_quick(), 0);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(frame_quick(), left);
		assert_null(kalloc(FRAME_CLIENT, &got[i]));
		uint64_t f = fr(got[i]);
		if (left == 0) { /* a refill: a whole aligned block */
			uint64_t size = frame_quick() + 1;
			refills++;
			assert_true(size <= FRAME_QUICK_BLOCK);
			assert_int_equal(size & (size - 1), 0);
			assert_int_equal(f % size, 0);
			assert_true(size >= last_size);        /* the smallest block first */
			assert_true(refills > 1 || size == 1); /* the machine has lone frames */
			last_size = size;
			big += size == FRAME_QUICK_BLOCK;
			small_frames += size < FRAME_QUICK_BLOCK ? size : 0;
			for (uint64_t j = f + 1; j < f + size; j++)
				assert_quick_frame(pf(j));
		} else {
			assert_int_equal(f, next); /* address order inside the block */
		}
		assert_int_equal(query(got[i]).owner, FRAME_CLIENT);
		left = frame_quick();
		next = f + 1;
		if (i % 61 == 0)
			assert_null(frame_audit());
	}
	/* past the small blocks, one refill (one split chain) per full block */
	assert_true(big > 0 && small_frames < N / 2);
	assert_true((uint64_t)big * FRAME_QUICK_BLOCK + small_frames >= N);
	assert_true((uint64_t)big * FRAME_QUICK_BLOCK + small_frames < N + FRAME_QUICK_BLOCK);
	assert_null(frame_audit());
	for (unsigned i = 0; i < N; i++)
		assert_null(kfree(got[i], FRAME_CLIENT));
	assert_taken(0, FRAME_FREE);
}

/* A burst of frees: the stack grows by one a free up to FRAME_QUICK_MAX - 1;
 * the free that fills it sends frames from its bottom back to the buddy
 * lists, leaving at most FRAME_QUICK_KEEP (and no fewer than
 * FRAME_QUICK_KEEP - FRAME_QUICK_BLOCK + 1). Frames freed in whole aligned
 * blocks go back as those blocks, merged at once with their buddies. */
static void test_quick_drain(void **state)
{
	enum { N = 8 * FRAME_QUICK_MAX };
	static paddr_t got[N];
	unsigned drains = 0;

	(void)state;
	for (unsigned i = 0; i < N; i++)
		assert_null(kalloc(FRAME_MDB, &got[i]));
	uint64_t q = frame_quick();
	assert_true(q < FRAME_QUICK_BLOCK);
	/* give back in reverse: the last block's frames first, so the stack's
	 * bottom holds whole aligned blocks once the first drain is past */
	for (unsigned i = N; i-- > 0;) {
		assert_null(kfree(got[i], FRAME_MDB));
		uint64_t now = frame_quick();
		if (q + 1 < FRAME_QUICK_MAX) {
			assert_int_equal(now, q + 1);
			assert_quick_frame(got[i]);
		} else {
			drains++;
			assert_true(now <= FRAME_QUICK_KEEP);
			assert_true(now > FRAME_QUICK_KEEP - FRAME_QUICK_BLOCK);
			assert_null(frame_audit());
		}
		q = now;
	}
	assert_true(drains >= N / (FRAME_QUICK_MAX - FRAME_QUICK_KEEP + FRAME_QUICK_BLOCK));
	/* the frames freed first (got[N-1] down) went back as merged blocks:
	 * every frame of their first block lies in one free block at least that
	 * large (the drain cleared each stacked frame's state, so none is left
	 * a head of its own) */
	struct frame_info fi = query(got[N - 1]);
	assert_int_equal(fi.owner, FRAME_FREE);
	assert_true(fi.order >= FRAME_QUICK_ORDER);
	const uint64_t first = pa_addr(got[N - 1]) & ~((uint64_t)FRAME_QUICK_BLOCK * PAGE_SIZE - 1);
	for (uint64_t f = 0; f < FRAME_QUICK_BLOCK; f++) {
		struct frame_info fb = query(pa_init(first + f * PAGE_SIZE));
		assert_int_equal(fb.owner, FRAME_FREE);
		assert_true(fb.order >= FRAME_QUICK_ORDER);
		assert_int_equal(pa_addr(fb.block), pa_addr(fi.block));
	}
	assert_null(frame_audit());
	assert_taken(0, FRAME_FREE);
}

/* kfree, then kalloc, gets the same frame back (the stack is LIFO), and
 * interleaved pairs never refill or drain. */
static void test_quick_lifo(void **state)
{
	paddr_t a, b, c;

	(void)state;
	assert_null(kalloc(FRAME_PTABLE, &a));
	assert_null(kalloc(FRAME_PTABLE, &b));
	uint64_t q = frame_quick();
	for (unsigned i = 0; i < 3 * FRAME_QUICK_MAX; i++) {
		assert_null(kfree(a, FRAME_PTABLE));
		assert_int_equal(frame_quick(), q + 1);
		assert_null(kalloc(FRAME_PTABLE, &c));
		assert_int_equal(pa_addr(c), pa_addr(a));
		assert_int_equal(frame_quick(), q);
	}
	assert_null(kfree(a, FRAME_PTABLE));
	assert_null(kfree(b, FRAME_PTABLE));
	assert_taken(0, FRAME_FREE);
}

/* A frame sitting on the quick stack is free: a second kfree or frame_free
 * is frame_err_double, carving it is refused; none of them changes the stack or the counts. */
static void test_quick_double_free(void **state)
{
	paddr_t a, b;
	struct frame_info before;

	(void)state;
	assert_null(kalloc(FRAME_CLIENT, &a));
	assert_null(kalloc(FRAME_CLIENT, &b));
	assert_null(kfree(a, FRAME_CLIENT));
	uint64_t q = frame_quick();
	before = query(a);
	assert_quick_frame(a);
	assert_err(kfree(a, FRAME_CLIENT), frame_err_double);
	assert_err(kfree(a, FRAME_MDB), frame_err_double);
	assert_err(frame_free(a, 1, FRAME_CLIENT), frame_err_double);
	assert_err(frame_free(a, 2, FRAME_CLIENT), frame_err_double);
	assert_err(frame_carve(a, 1, FRAME_CLIENT), frame_err_double);
	assert_int_equal(frame_quick(), q);
	struct frame_info after = query(a);
	assert_info_equal(&after, &before);
	assert_null(frame_audit());
	/* the frames under it on the stack, from the refill, too */
	if (q > 1) {
		assert_err(kfree(pa_init(pa_addr(b) + PAGE_SIZE), FRAME_CLIENT), frame_err_double);
		assert_int_equal(frame_quick(), q);
	}
	/* it is handed out again, once */
	paddr_t c;
	assert_null(kalloc(FRAME_CLIENT, &c));
	assert_int_equal(pa_addr(c), pa_addr(a));
	assert_null(kfree(c, FRAME_CLIENT));
	assert_null(kfree(b, FRAME_CLIENT));
	assert_err(kfree(b, FRAME_CLIENT), frame_err_double);
	assert_taken(0, FRAME_FREE);
}

/* kfree of another owner's frame, or with an owner that cannot hold frames,
 * is frame_err_foreign and pushes nothing; the frame stays its owner's. */
static void test_quick_foreign(void **state)
{
	paddr_t a;

	(void)state;
	assert_null(kalloc(FRAME_CLIENT, &a));
	uint64_t q = frame_quick();
	assert_err(kfree(a, FRAME_MDB), frame_err_foreign);
	assert_err(kfree(a, FRAME_PTABLE), frame_err_foreign);
	assert_err(kfree(a, FRAME_FREE), frame_err_foreign);
	assert_err(kfree(a, FRAME_FIRMWARE), frame_err_foreign);
	assert_err(kfree(a, (enum frame_owner)99), frame_err_foreign);
	assert_int_equal(frame_quick(), q);
	assert_int_equal(query(a).owner, FRAME_CLIENT);
	assert_null(frame_audit());
	/* a run of two is no single frame */
	paddr_t r = must_alloc(2, FRAME_CLIENT);
	assert_err(kfree(r, FRAME_CLIENT), frame_err_size);
	assert_int_equal(frame_quick(), q);
	assert_null(frame_free(r, 2, FRAME_CLIENT));
	assert_null(kfree(a, FRAME_CLIENT));
	assert_int_equal(frame_quick(), q + 1);
	assert_taken(0, FRAME_FREE);
}

/* With frames on the quick stack the audit passes and the counts hold them
 * as free: every frame of the machine taken but the ones on the stack, the
 * free count is exactly the stack's depth, and frame_stats (merging them)
 * changes no count. */
static void test_quick_counted(void **state)
{
	static paddr_t got[NF];
	uint64_t n = 0;
	struct frame_stats s;

	(void)state;
	while (kalloc(FRAME_CONSOLE, &got[n]) == NULL)
		n++;
	assert_int_equal(n, FREE64);
	for (uint64_t i = 0; i < 40; i++)
		assert_null(kfree(got[n - 1 - i], FRAME_CONSOLE));
	assert_int_equal(frame_quick(), 40);
	assert_null(frame_audit());
	frame_stats(&s);
	assert_int_equal(frame_quick(), 0);
	assert_int_equal(s.free, 40);
	assert_int_equal(s.owned[FRAME_CONSOLE], fx.init.owned[FRAME_CONSOLE] + n - 40);
	assert_null(frame_audit());
	for (uint64_t i = 40; i < n; i++)
		assert_null(kfree(got[n - 1 - i], FRAME_CONSOLE));
	assert_taken(0, FRAME_FREE);
}

/* kfree's entry test (frame_is_single, two 64-bit compares in the build)
 * is the field-by-field test the prover reads: for every owner, on the
 * single entry itself, with each one of its 128 bits flipped, and with each
 * byte set to every value. */
static bool single_by_fields(const struct frame *e, enum frame_owner o)
{
	return e->next == 1 && e->prev == 0 && e->spare == 0 && e->order == 0 &&
	       e->state == FS_USED && e->owner == o && e->flags == FF_RUN;
}

static void test_is_single_fields(void **state)
{
	(void)state;
	for (unsigned o = FRAME_FREE + 1; o < FRAME_OWNERS; o++) {
		if (o == FRAME_FIRMWARE)
			continue;
		const struct frame single = frame_single_entry((enum frame_owner)o);
		for (unsigned p = 0; p < FRAME_OWNERS; p++) {
			struct frame e = single;
			assert_int_equal(frame_is_single(&e, (enum frame_owner)p),
			                 single_by_fields(&e, (enum frame_owner)p));
			for (unsigned bit = 0; bit < 8 * sizeof(e); bit++) {
				e = single;
				((unsigned char *)&e)[bit / 8] ^= (unsigned char)(1u << bit % 8);
				assert_int_equal(frame_is_single(&e, (enum frame_owner)p),
				                 single_by_fields(&e, (enum frame_owner)p));
			}
			for (unsigned byte = 0; byte < sizeof(e); byte++)
				for (unsigned v = 0; v < 256; v++) {
					e = single;
					((unsigned char *)&e)[byte] = (unsigned char)v;
					assert_int_equal(frame_is_single(&e, (enum frame_owner)p),
					                 single_by_fields(&e, (enum frame_owner)p));
				}
		}
	}
}

/* Allocation failures around the stack: an owner that cannot take frames is
 * refused with frames on the stack, touching none; with memory exhausted,
 * kalloc is frame_err_nomem on an empty stack and succeeds while one frame
 * is on it; a run of two finds two buddies sitting on the stack (merging it
 * first) and a run of four, which does not exist, is refused with no count
 * changed. */
static void test_quick_failures(void **state)
{
	static paddr_t got[NF];
	uint64_t n = 0;

	(void)state;
	paddr_t a;
	assert_null(kalloc(FRAME_CLIENT, &a));
	assert_null(kfree(a, FRAME_CLIENT));
	uint64_t q = frame_quick();
	paddr_t pa = pa_init(SENTINEL);
	assert_err(kalloc(FRAME_FREE, &pa), frame_err_owner);
	assert_err(kalloc(FRAME_FIRMWARE, &pa), frame_err_owner);
	assert_err(kalloc((enum frame_owner)99, &pa), frame_err_owner);
	assert_err(frame_alloc(1, FRAME_FREE, &pa), frame_err_owner);
	assert_int_equal(pa_addr(pa), SENTINEL);
	assert_int_equal(frame_quick(), q);

	while (kalloc(FRAME_CLIENT, &got[n]) == NULL)
		n++;
	assert_int_equal(n, FREE64);
	assert_int_equal(frame_quick(), 0);
	assert_err(kalloc(FRAME_CLIENT, &pa), frame_err_nomem);
	assert_int_equal(pa_addr(pa), SENTINEL);
	refuse_kalloc(FRAME_CLIENT, frame_err_nomem);

	/* find two frames handed out that are buddies, both even-odd */
	uint64_t k = 0;
	while (!(fr(got[k]) % 2 == 0 && k + 1 < n && fr(got[k + 1]) == fr(got[k]) + 1))
		k++;
	assert_null(kfree(got[k + 1], FRAME_CLIENT));
	assert_null(kfree(got[k], FRAME_CLIENT));
	assert_int_equal(frame_quick(), 2);
	struct frame_stats s0, s1;
	/* kalloc takes one from the stack, and frees it again */
	assert_null(kalloc(FRAME_CLIENT, &pa));
	assert_int_equal(pa_addr(pa), pa_addr(got[k]));
	assert_null(kfree(pa, FRAME_CLIENT));
	/* four: nowhere, even merged; the counts stay */
	pa = pa_init(SENTINEL);
	assert_err(frame_alloc(4, FRAME_CLIENT, &pa), frame_err_nomem);
	assert_int_equal(pa_addr(pa), SENTINEL);
	frame_stats(&s0);
	assert_int_equal(s0.free, 2);
	assert_int_equal(s0.largest_frames, 2);
	assert_null(frame_audit());
	/* two: the pair, merged back */
	assert_null(frame_alloc(2, FRAME_CLIENT, &pa));
	assert_int_equal(pa_addr(pa), pa_addr(got[k]));
	frame_stats(&s1);
	assert_int_equal(s1.free, 0);
	assert_null(frame_free(pa, 2, FRAME_CLIENT));
	for (uint64_t i = 0; i < n; i++)
		if (i != k && i != k + 1)
			assert_null(kfree(got[i], FRAME_CLIENT));
	assert_taken(0, FRAME_FREE);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_before_takeover),
	    cmocka_unit_test(test_takeover_overlaps),
	    cmocka_unit_test(test_takeover_kept_spans),
	    cmocka_unit_test(test_takeover_keep_boot),
	    T(test_owner_names),
	    T(test_init_layout),
	    T(test_init_no_room),
	    T(test_reinit_starts_over),
	    T(test_init_table_placement),
	    T(test_init_frame0_free),
	    T(test_kalloc_kfree),
	    T(test_runs_aligned),
	    T(test_runs_powers),
	    T(test_run_tail_free),
	    T(test_refuse_double_free),
	    T(test_refuse_never_allocated),
	    T(test_refuse_takeover),
	    T(test_refuse_middle_of_run),
	    T(test_refuse_wrong_count),
	    T(test_refuse_free_bad_count),
	    T(test_refuse_wrong_owner),
	    T(test_refuse_align),
	    T(test_refuse_unmanaged),
	    T(test_refuse_count),
	    T(test_refuse_owner),
	    T(test_exhaust_single),
	    T(test_exhaust_runs),
	    T(test_junk),
	    T(test_lazy_table),
	    T(test_random_ops),
	    T(test_carve_start),
	    T(test_carve_middle),
	    T(test_carve_end),
	    T(test_carve_whole),
	    T(test_carve_single_frames),
	    T(test_carve_carved),
	    T(test_refuse_carve),
	    T(test_random_carve),
	    T(test_quick_burst),
	    T(test_quick_drain),
	    T(test_quick_lifo),
	    T(test_quick_double_free),
	    T(test_quick_foreign),
	    T(test_quick_counted),
	    T(test_quick_failures),
	    T(test_is_single_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
