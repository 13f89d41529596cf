/*
 * libFuzzer target for the frame allocator (monitor/frame.c).
 *
 * An input is a machine and a program. Its first bytes lay out up to eight
 * pieces of physical memory below 16 MiB (free ranges of any length and
 * alignment, ranges kept by memmon or by the firmware, holes between them)
 * and frame_init takes them over; the rest is a sequence of operations:
 * kalloc, frame_alloc, frame_free, kfree, frame_carve, frame_query,
 * frame_stats, frame_audit and frame_init again.
 * Every result
 * is held against a model written from frame.h and docs/ARCHITECTURE.md,
 * not from frame.c: one entry per frame (hole, firmware, kept by an owner,
 * free, or in a live run), and the live runs.
 *
 * What is checked:
 * - frame_init: it fails (frame_err_nomem, changing nothing) exactly when no
 *   free range can hold the table (16 bytes a frame and a map of one byte
 *   per table page); otherwise the table is at the top of the highest free
 *   range that can hold it, and every counter matches the layout.
 * - Every refusal is the error the model predicts, in frame.h's order of
 *   checks (for frame_free: alignment, beyond RAM, count, then unmanaged,
 *   double, notrun, foreign, size; for frame_carve the same, size
 *   meaning a range that leaves the run holding its first frame; for
 *   frame_alloc: count, owner, nomem), and changes nothing: the frame
 *   table and its bitmap are
 *   byte-for-byte the same, so are frame_stats before and after (strict
 *   mode), *out is untouched.
 * - An allocation succeeds exactly when the model has an aligned block of
 *   2^ceil(log2 count) free frames (with the quick stack merged, a buddy
 *   system must find one); it returns such a block, entirely free in the
 *   model, filled with FRAME_JUNK_ALLOC. A free fills the run with
 *   FRAME_JUNK_FREE. Each allocated frame carries a tag written by this
 *   fuzzer, checked when the run is freed: no frame was handed out twice
 *   and the allocator never wrote into a frame in use.
 * - frame_carve of a range inside a live run leaves up to three
 *   live runs (before, the range, after), each laid out as maximal aligned
 *   blocks from its own first frame, with the frames untouched (the tags
 *   stay) and no counter changed; the pieces are then freed and carved like
 *   any run.
 * - frame_query for every kind of address: the owner, whether managed, the
 *   run and its length, and the block (for takeover ranges
 *   and runs, the one the layout determines; for free frames, an aligned
 *   block of frames all free).
 * - frame_stats: every counter, and the largest free block, which must be
 *   as large as the largest aligned block of free frames in the model.
 * - frame_audit after every 16 operations and at the end of the input.
 * - At the end every live run is freed, which
 *   must bring the free count and the largest block back to their values
 *   just after frame_init.
 *
 * frame_stats merges the quick stack, so calling it around every operation
 * would hide the quick stack from the other operations: strict mode (flag
 * bit 0) does, the default mode calls it only when the input says so.
 *
 * Input format (reads past the end give 0):
 *   flags       bit 0: strict mode
 *   layout      pieces - 1 (byte % 8), the first piece's base in frames, then
 *               four bytes a piece: type (bits 0-2: 0-3 and 7 free, 4 monitor,
 *               5 firmware, 6 ptables/mdb/clients/console by bits 3-4; bit 7:
 *               a hole before the piece), the hole's length in frames, and
 *               the piece's length in frames (u16 LE & 0x1fff); pieces are
 *               clipped at 16 MiB
 *   operations  an opcode byte (% 32, an index into `ops`), then its
 *               arguments (see enum op)
 *
 * Seeds (test/fuzz/seeds/frame/):
 *   basic        one free range at 1 MiB with a monitor and a firmware range
 *                above it; kalloc, alloc 3, free, double free, query, stats, audit
 *   quick        kalloc 100 frames, kfree them all (the quick stack holds them all),
 *                double-free a frame on the quick stack, kalloc again
 *   runs         odd free ranges around holes; allocations of 0, 1, 5, 7, 8,
 *                33, 2^31, 2^32 and 2^64-1 frames, frees of middles, wrong
 *                counts and owners
 *   refusals     every kind of address (holes, beyond RAM, unaligned, the
 *                frame table, firmware, recently freed) given to free, kfree,
 *                and query
 *   reinit       allocations, then frame_init again with another layout, a
 *                layout with no room for the table, and more allocations
 *   strict       the basic program in strict mode
 *   nomem        a layout with no free range long enough for the table:
 *                frame_init fails and the input ends
 *   table_at_0   a layout whose only free range starts at frame 0 and is
 *                exactly as long as the table (frame_init once refused it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES  4096u /* 16 MiB of simulated RAM */
#define MAX_PIECES  8
#define TABLE_MAX   (MAX_FRAMES / 256 + 1) /* pages of the table and bitmap at most */
#define AUDIT_EVERY 16
/* The model's loops are no coverage the fuzzer should chase (and most of
 * its time when instrumented). */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#define SENTINEL    ((uint64_t)0x5a5a5a5a5a5a5a5a)

#if !defined(FRAME_JUNK) || FRAME_JUNK
#define CHECK_JUNK 1
#else
#define CHECK_JUNK 0
#endif

/* ---- failures and the trace ------------------------------------------------ */

struct step {
	unsigned n;
	const char *op;
	uint64_t a, b;
	int owner;
	err_t want;
};
static struct step trace[32];
static unsigned nsteps;
static bool verbose; /* FUZZ_FRAME_TRACE=1: print every operation */

static const char *err_name(err_t e)
{
	static const struct {
		const char *s, *name;
	} names[] = {
	    {frame_err_nomem, "nomem"},         {frame_err_count, "count"},
	    {frame_err_owner, "owner"},         {frame_err_align, "align"},
	    {frame_err_unmanaged, "unmanaged"}, {frame_err_double, "double"},
	    {frame_err_notrun, "notrun"},       {frame_err_size, "size"},
	    {frame_err_foreign, "foreign"},
	};
	if (!e)
		return "ok";
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (e == names[i].s)
			return names[i].name;
	return e;
}

static void print_step(const struct step *s)
{
	fprintf(stderr, "  #%u %s a=0x%llx b=0x%llx owner=%d -> want %s\n", s->n, s->op,
	        (unsigned long long)s->a, (unsigned long long)s->b, s->owner, err_name(s->want));
}

static void step(const char *op, uint64_t a, uint64_t b, int owner, err_t want)
{
	struct step *s = &trace[nsteps % ARRAY_SIZE(trace)];

	*s = (struct step){nsteps++, op, a, b, owner, want};
	if (verbose)
		print_step(s);
}

static void __attribute__((noreturn)) fail(int line, const char *what)
{
	unsigned first = nsteps > ARRAY_SIZE(trace) ? nsteps - (unsigned)ARRAY_SIZE(trace) : 0;

	fprintf(stderr, "fuzz_frame.c:%d: property violated: %s\nlast operations:\n", line, what);
	for (unsigned i = first; i < nsteps; i++)
		print_step(&trace[i % ARRAY_SIZE(trace)]);
	abort();
}

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail(__LINE__, #cond);                                                     \
	} while (0)

#define REQUIRE_ERR(got, want)                                                                     \
	do {                                                                                       \
		err_t g_ = (got), w_ = (want);                                                     \
		if (g_ != w_) {                                                                    \
			fprintf(stderr, "got %s, want %s\n", err_name(g_), err_name(w_));          \
			fail(__LINE__, "the error is not the model's");                            \
		}                                                                                  \
	} while (0)

/* ---- reading the input ---------------------------------------------------------- */

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct reader *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static uint16_t u16(struct reader *r)
{
	uint16_t lo = u8(r);
	return (uint16_t)(lo | (uint16_t)u8(r) << 8);
}

/* ---- the model --------------------------------------------------------------------- */

enum mstate {
	M_HOLE,     /* not RAM: in no range, or beyond the last */
	M_FIRMWARE, /* a firmware range */
	M_KEPT,     /* a takeover range of another owner, or the frame table */
	M_FREE,
	M_RUN, /* in a live run */
};

static struct {
	uint32_t nframes;
	uint8_t state[MAX_FRAMES];
	uint64_t freebits[MAX_FRAMES / 64]; /* bit f: state[f] == M_FREE */
	uint8_t owner[MAX_FRAMES];          /* M_KEPT, M_FIRMWARE, M_RUN */
	uint8_t seg[MAX_FRAMES];            /* M_KEPT, M_FIRMWARE: its takeover range in segs */
	uint16_t start[MAX_FRAMES];         /* M_RUN: the run's first frame */
	/* indexed by a live run's first frame */
	uint32_t len[MAX_FRAMES];
	uint32_t serial[MAX_FRAMES];
	uint16_t pos[MAX_FRAMES]; /* its index in live[] */
	uint16_t live[MAX_FRAMES];
	uint32_t nlive;
	struct {
		uint32_t lo, hi;
	} segs[MAX_PIECES + TABLE_MAX]; /* the ranges, then stretches of kept table pages */
	unsigned nsegs;
	uint64_t total, nfree, owned[FRAME_OWNERS], firmware;
	uint32_t table, table_pages;
	uint64_t base_free, base_largest, touched;
	uint32_t next_serial;
	uint32_t freed[8]; /* first frames of recently freed runs */
	unsigned nfreed;
	bool ready; /* a frame_init of this input succeeded */
} M;

static uint8_t *ram;
static uint8_t page_alloc[PAGE_SIZE], page_free[PAGE_SIZE];
static uint8_t snap[TABLE_MAX * PAGE_SIZE];
static bool strict;

static bool can_own(int o)
{
	return o > FRAME_FREE && o < FRAME_OWNERS && o != FRAME_FIRMWARE;
}

static uint8_t *frame_ptr(uint32_t f)
{
	return ram + (uint64_t)f * PAGE_SIZE;
}

/* The order of the block an allocation of `count` takes (count 1 .. 2^31). */
static unsigned order_for(uint64_t count)
{
	unsigned k = 0;

	while (((uint64_t)1 << k) < count)
		k++;
	return k;
}

/* Frame f's state in the model, and in the bitmap of free frames. */
NO_COVERAGE static void set_state(uint32_t f, enum mstate st)
{
	M.state[f] = (uint8_t)st;
	if (st == M_FREE)
		M.freebits[f / 64] |= (uint64_t)1 << (f % 64);
	else
		M.freebits[f / 64] &= ~((uint64_t)1 << (f % 64));
}

/* The largest order of an aligned block whose frames are all free in the
 * model, -1 if no frame is free: first within each 64-bit word of the
 * bitmap, then over words that are all free. */
NO_COVERAGE static int model_largest(void)
{
	static const uint64_t at[7] = {~(uint64_t)0,
	                               0x5555555555555555,
	                               0x1111111111111111,
	                               0x0101010101010101,
	                               0x0001000100010001,
	                               0x0000000100000001,
	                               1};
	uint64_t full[MAX_FRAMES / 64];
	int best = -1;

	for (unsigned w = 0; w < MAX_FRAMES / 64; w++) {
		uint64_t m = M.freebits[w];
		for (unsigned o = 0; m && o <= 6; o++) {
			if (o)
				m &= m >> (1u << (o - 1)) & at[o];
			if (m && (int)o > best)
				best = (int)o;
		}
		full[w] = M.freebits[w] == ~(uint64_t)0;
	}
	for (unsigned o = 7, n = MAX_FRAMES / 128; best == (int)o - 1 && n; o++, n /= 2)
		for (unsigned j = 0; j < n; j++) {
			full[j] = full[2 * j] && full[2 * j + 1];
			if (full[j])
				best = (int)o;
		}
	return best;
}

NO_COVERAGE static bool all_free(uint64_t f, uint64_t n)
{
	if (f + n > M.nframes)
		return false;
	for (uint64_t i = f; i < f + n; i++)
		if (M.state[i] != M_FREE)
			return false;
	return true;
}

/* The block holding frame f of takeover range [lo, hi): the largest aligned
 * block around f inside the range. */
NO_COVERAGE static void range_block(uint32_t f, uint32_t lo, uint32_t hi, uint64_t *block,
                                    unsigned *order)
{
	unsigned j = 0;

	while (j < FRAME_MAX_ORDER) {
		uint64_t size = (uint64_t)2 << j, b = f & ~(size - 1);
		if (b < lo || b + size > hi)
			break;
		j++;
	}
	*order = j;
	*block = f & ~(((uint64_t)1 << j) - 1);
}

/* The block holding frame f of the run at s: the run is maximal aligned
 * blocks from s, each the largest aligned at its first frame that fits in
 * what is left (for a run that frame_alloc made, aligned to the next power
 * of two, one block per set bit of its length, largest first). */
NO_COVERAGE static void run_block(uint32_t f, uint32_t s, uint64_t *block, unsigned *order)
{
	uint64_t pos = s, end = s + (uint64_t)M.len[s];

	while (pos < end) {
		unsigned j = 0;
		while (j < FRAME_MAX_ORDER && pos % ((uint64_t)2 << j) == 0 &&
		       pos + ((uint64_t)2 << j) <= end)
			j++;
		if (f < pos + ((uint64_t)1 << j)) {
			*block = pos;
			*order = j;
			return;
		}
		pos += (uint64_t)1 << j;
	}
	fail(__LINE__, "frame outside its run");
}

static uint64_t tag(uint32_t s, uint32_t f)
{
	return (uint64_t)M.serial[s] << 32 | f;
}

NO_COVERAGE static void check_fill(uint32_t f, uint64_t n, const uint8_t *page)
{
	if (!CHECK_JUNK || n > FRAME_JUNK_MAX)
		return;
	REQUIRE(memcmp(frame_ptr(f), page, PAGE_SIZE) == 0);
	for (uint64_t i = 1; i < n; i++) {
		const uint8_t *p = frame_ptr((uint32_t)(f + i));
		REQUIRE(p[0] == page[0] && p[2047] == page[0] && p[PAGE_SIZE - 1] == page[0]);
	}
}

NO_COVERAGE static void check_tags(uint32_t s)
{
	for (uint32_t f = s; f < s + M.len[s]; f++) {
		uint64_t t;
		memcpy(&t, frame_ptr(f), sizeof(t));
		REQUIRE(t == tag(s, f)); /* no one else wrote into a frame in use */
	}
}

/* ---- checks against the allocator -------------------------------------------------- */

static void audit(void)
{
	err_t e = frame_audit();

	if (e) {
		fprintf(stderr, "frame_audit: %s\n", e);
		fail(__LINE__, "frame_audit() != NULL");
	}
}

static void check_stats(const struct frame_stats *s)
{
	REQUIRE(s->total == M.total);
	REQUIRE(s->free == M.nfree);
	REQUIRE(s->used == M.total - M.nfree);
	REQUIRE(s->firmware == M.firmware);
	for (unsigned o = 0; o < FRAME_OWNERS; o++)
		if (o != FRAME_FIRMWARE)
			REQUIRE(s->owned[o] == M.owned[o]);
	REQUIRE(s->owned[FRAME_FREE] == s->free);
	/* frame.h does not say whether firmware frames count as owned */
	REQUIRE(s->owned[FRAME_FIRMWARE] == 0 || s->owned[FRAME_FIRMWARE] == M.firmware);

	int largest = model_largest();
	if (largest < 0) {
		REQUIRE(s->largest_frames == 0);
	} else {
		REQUIRE(s->largest_frames == (uint64_t)1 << largest);
		REQUIRE(pa_addr(s->largest) % (s->largest_frames * PAGE_SIZE) == 0);
		REQUIRE(all_free(pa_addr(s->largest) >> PAGE_SHIFT, s->largest_frames));
	}
	REQUIRE(s->table_pages_touched >= M.touched); /* zeroed pages stay zeroed */
	REQUIRE(s->table_pages_touched <= M.table_pages);
	M.touched = s->table_pages_touched;
}

static void stats(void)
{
	struct frame_stats s;

	memset(&s, 0x5a, sizeof(s));
	frame_stats(&s);
	check_stats(&s);
}

/* What a refusal may not change: the frame table, its bitmap, and (strict
 * mode) the counters. */
static struct frame_stats before;

static void counts_before(void)
{
	if (strict) {
		memset(&before, 0x5a, sizeof(before));
		frame_stats(&before);
	}
}

static void counts_unchanged(void)
{
	if (strict) {
		struct frame_stats after;
		memset(&after, 0x5a, sizeof(after));
		frame_stats(&after);
		REQUIRE(memcmp(&before, &after, sizeof(after)) == 0);
	}
}

NO_COVERAGE static void snapshot(void)
{
	counts_before(); /* first: it merges the quick stack */
	memcpy(snap, frame_ptr(M.table), (size_t)M.table_pages * PAGE_SIZE);
}

NO_COVERAGE static void unchanged(void)
{
	REQUIRE(memcmp(snap, frame_ptr(M.table), (size_t)M.table_pages * PAGE_SIZE) == 0);
	counts_unchanged();
}

static void check_query(uint64_t pa)
{
	struct frame_info fi;
	uint64_t block = 0;
	unsigned order = 0;

	memset(&fi, 0x5a, sizeof(fi));
	err_t got = frame_query(pa_init(pa), &fi);
	uint64_t f = pa >> PAGE_SHIFT;
	bool hole = pa % PAGE_SIZE || f >= M.nframes || M.state[f] == M_HOLE;
	REQUIRE_ERR(got, pa % PAGE_SIZE ? frame_err_align : NULL);
	if (hole) {
		REQUIRE(fi.owner == FRAME_FREE && !fi.managed && pa_addr(fi.block) == 0 &&
		        fi.order == 0 && pa_addr(fi.run) == 0 && fi.run_frames == 0);
		return;
	}
	REQUIRE(strcmp(frame_owner_name(fi.owner), "?") != 0);
	REQUIRE(fi.managed == (M.state[f] != M_FIRMWARE));
	switch (M.state[f]) {
	case M_FREE:
		REQUIRE(fi.owner == FRAME_FREE && fi.run_frames == 0);
		REQUIRE(fi.order <= FRAME_MAX_ORDER);
		REQUIRE(pa_addr(fi.block) % (PAGE_SIZE << fi.order) == 0);
		REQUIRE(pa_addr(fi.block) <= pa &&
		        pa < pa_addr(fi.block) + (PAGE_SIZE << fi.order));
		REQUIRE(all_free(pa_addr(fi.block) >> PAGE_SHIFT, (uint64_t)1 << fi.order));
		return;
	case M_FIRMWARE:
	case M_KEPT:
		range_block((uint32_t)f, M.segs[M.seg[f]].lo, M.segs[M.seg[f]].hi, &block, &order);
		REQUIRE(fi.owner == M.owner[f]);
		REQUIRE(pa_addr(fi.run) == pa_addr(fi.block) && fi.run_frames == 0);
		break;
	case M_RUN:
		run_block((uint32_t)f, M.start[f], &block, &order);
		REQUIRE(fi.owner == M.owner[f]);
		REQUIRE(pa_addr(fi.run) == (uint64_t)M.start[f] * PAGE_SIZE);
		REQUIRE(fi.run_frames == M.len[M.start[f]]);
		break;
	}
	REQUIRE(pa_addr(fi.block) == block * PAGE_SIZE);
	REQUIRE(fi.order == order);
}

/* ---- frame_init ------------------------------------------------------------------ */

struct layout {
	struct frame_range r[MAX_PIECES];
	size_t n;
};

static void read_layout(struct reader *rd, struct layout *L)
{
	unsigned n = 1 + u8(rd) % MAX_PIECES;
	uint64_t at = u8(rd);

	L->n = 0;
	for (unsigned k = 0; k < n; k++) {
		uint8_t t = u8(rd), hole = u8(rd);
		uint64_t pages = u16(rd) & 0x1fff;
		static const enum frame_owner others[] = {FRAME_PTABLE, FRAME_MDB, FRAME_CLIENT,
		                                          FRAME_CONSOLE};
		enum frame_owner owner = FRAME_FREE;

		if (t & 0x80)
			at += hole;
		if (at >= MAX_FRAMES)
			break;
		if (pages > MAX_FRAMES - at)
			pages = MAX_FRAMES - at;
		switch (t & 7) {
		case 4:
			owner = FRAME_MONITOR;
			break;
		case 5:
			owner = FRAME_FIRMWARE;
			break;
		case 6:
			owner = others[t >> 3 & 3];
			break;
		}
		L->r[L->n++] = (struct frame_range){at * PAGE_SIZE, pages, owner};
		at += pages;
	}
}

/* Fake entries that would pass for used runs if the table trusted memory it
 * never cleared: written where the table may go, before frame_init. */
static uint8_t page_dirty[PAGE_SIZE];

NO_COVERAGE static void dirty(uint64_t first, uint64_t pages)
{
	for (uint64_t p = 0; p < pages; p++)
		memcpy(frame_ptr((uint32_t)(first + p)), page_dirty, PAGE_SIZE);
}

/* The model of a fresh takeover of L, with the table at frames [table,
 * table + pages). */
NO_COVERAGE static void model_init(const struct layout *L, uint32_t nframes, uint32_t table,
                                   uint32_t pages)
{
	memset(&M, 0, offsetof(typeof(M), ready));
	M.nframes = nframes;
	for (size_t k = 0; k < L->n; k++) {
		uint32_t lo = (uint32_t)(L->r[k].base >> PAGE_SHIFT);
		uint32_t hi = lo + (uint32_t)L->r[k].pages;
		enum frame_owner o = L->r[k].owner;
		if (lo == hi)
			continue;
		if (o != FRAME_FREE)
			M.segs[M.nsegs] = (typeof(M.segs[0])){lo, hi};
		for (uint32_t f = lo; f < hi; f++) {
			set_state(f, o == FRAME_FREE       ? M_FREE
			             : o == FRAME_FIRMWARE ? M_FIRMWARE
			                                   : M_KEPT);
			M.owner[f] = (uint8_t)o;
			M.seg[f] = (uint8_t)M.nsegs;
		}
		M.nsegs += o != FRAME_FREE;
	}
	M.table = table;
	M.table_pages = pages;
	/* Table pages whose 256 frames lie in no range are given back free;
	 * the rest of the table (and its bitmap, after tpages) is memmon's, one
	 * segment per stretch of kept pages. */
	uint32_t tpages = (nframes + 255) / 256, kept = 0;
	bool in_seg = false;
	for (uint32_t p = 0; p < pages; p++) {
		bool hole = p < tpages;
		for (size_t k = 0; hole && k < L->n; k++) {
			uint64_t lo = L->r[k].base >> PAGE_SHIFT, hi = lo + L->r[k].pages;
			hole = !(lo < hi && lo < (uint64_t)(p + 1) * 256 && hi > (uint64_t)p * 256);
		}
		uint32_t f = table + p;
		REQUIRE(M.state[f] == M_FREE);
		if (hole) {
			M.nsegs += in_seg;
			in_seg = false;
			continue;
		}
		if (!in_seg)
			M.segs[M.nsegs] = (typeof(M.segs[0])){f, f};
		in_seg = true;
		M.segs[M.nsegs].hi = f + 1;
		set_state(f, M_KEPT);
		M.owner[f] = FRAME_MONITOR;
		M.seg[f] = (uint8_t)M.nsegs;
		kept++;
	}
	M.nsegs += in_seg;
	REQUIRE(frame_table_pages() == kept);
	for (uint32_t f = 0; f < M.nframes; f++) {
		if (M.state[f] == M_FIRMWARE)
			M.firmware++;
		else if (M.state[f] != M_HOLE)
			M.total++, M.owned[M.owner[f]]++;
	}
	M.nfree = M.owned[FRAME_FREE];
}

/* Takes over layout L, checking frame_init against the model. Returns false
 * when it (rightly) refused. */
static bool do_init(const struct layout *L)
{
	uint64_t nframes = 0;

	for (size_t k = 0; k < L->n; k++)
		if (L->r[k].pages && (L->r[k].base >> PAGE_SHIFT) + L->r[k].pages > nframes)
			nframes = (L->r[k].base >> PAGE_SHIFT) + L->r[k].pages;
	/* the table: 16 bytes a frame, then a map of one byte per table page */
	uint64_t tpages = (nframes * 16 + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t need = tpages + (tpages + PAGE_SIZE - 1) / PAGE_SIZE;
	int host = -1; /* the highest free range that can hold the table */
	for (size_t k = 0; k < L->n; k++)
		if (L->r[k].owner == FRAME_FREE && L->r[k].pages && L->r[k].pages >= need)
			host = (int)k;
	step("init", nframes, need, (int)L->n, host < 0 ? frame_err_nomem : NULL);

	uint64_t top = 0;
	if (host >= 0) {
		top = (L->r[host].base >> PAGE_SHIFT) + L->r[host].pages;
		for (size_t k = 0; k < L->n; k++)
			if (L->r[k].owner == FRAME_FREE && L->r[k].pages >= need)
				dirty((L->r[k].base >> PAGE_SHIFT) + L->r[k].pages - need, need);
	} else if (M.ready) {
		snapshot();
	}

	err_t got = frame_init(L->r, L->n);
	REQUIRE_ERR(got, host < 0 ? frame_err_nomem : NULL);
	if (got) {
		if (M.ready)
			unchanged(); /* the allocator goes on as before */
		return false;
	}

	/* the table, at the top of the host range (model_init checks its size) */
	REQUIRE(pa_addr(frame_table_base()) == (top - need) * PAGE_SIZE);
	model_init(L, (uint32_t)nframes, (uint32_t)(top - need), (uint32_t)need);
	M.ready = true;

	struct frame_stats s;
	frame_stats(&s);
	check_stats(&s);
	M.base_free = s.free;
	M.base_largest = s.largest_frames;
	return true;
}

/* ---- operations -------------------------------------------------------------------- */

static void live_add(uint32_t s)
{
	M.pos[s] = (uint16_t)M.nlive;
	M.live[M.nlive++] = (uint16_t)s;
}

static void live_remove(uint32_t s)
{
	uint32_t last = M.live[--M.nlive];

	M.live[M.pos[s]] = (uint16_t)last;
	M.pos[last] = M.pos[s];
	M.freed[M.nfreed++ % ARRAY_SIZE(M.freed)] = s;
}

static void op_alloc(uint64_t count, int owner, bool via_kalloc)
{
	err_t want = NULL;
	unsigned k = 0;

	if (!via_kalloc && (count == 0 || count > (uint64_t)1 << FRAME_MAX_ORDER))
		want = frame_err_count;
	else if (!can_own(owner))
		want = frame_err_owner;
	else if ((int)(k = order_for(count)) > model_largest())
		want = frame_err_nomem;
	step(via_kalloc ? "kalloc" : "alloc", count, 0, owner, want);

	paddr_t out = pa_init(SENTINEL);
	if (want == frame_err_nomem)
		counts_before();
	else if (want)
		snapshot();
	err_t got = via_kalloc ? kalloc((enum frame_owner)owner, &out)
	                       : frame_alloc(count, (enum frame_owner)owner, &out);
	REQUIRE_ERR(got, want);
	if (want) {
		REQUIRE(pa_addr(out) == SENTINEL); /* *out untouched */
		/* nomem may merge the quick stack: the table changes, no count does */
		if (want == frame_err_nomem)
			counts_unchanged();
		else
			unchanged();
		return;
	}

	uint64_t pa = pa_addr(out), f = pa >> PAGE_SHIFT;
	REQUIRE(pa % (PAGE_SIZE << k) == 0);
	REQUIRE(all_free(f, (uint64_t)1 << k)); /* the whole aligned block was free */
	check_fill((uint32_t)f, count, page_alloc);

	uint32_t s = (uint32_t)f;
	M.len[s] = (uint32_t)count;
	M.serial[s] = ++M.next_serial;
	for (uint32_t i = s; i < s + count; i++) {
		set_state(i, M_RUN);
		M.owner[i] = (uint8_t)owner;
		M.start[i] = (uint16_t)s;
		uint64_t t = tag(s, i);
		memcpy(frame_ptr(i), &t, sizeof(t));
	}
	live_add(s);
	M.nfree -= count;
	M.owned[FRAME_FREE] -= count;
	M.owned[owner] += count;
}

static err_t predict_free(uint64_t pa, uint64_t count, int owner)
{
	uint64_t f = pa >> PAGE_SHIFT;

	if (pa % PAGE_SIZE)
		return frame_err_align;
	if (f >= M.nframes)
		return frame_err_unmanaged;
	if (count == 0 || count > (uint64_t)1 << FRAME_MAX_ORDER)
		return frame_err_count;
	switch (M.state[f]) {
	case M_HOLE:
	case M_FIRMWARE:
		return frame_err_unmanaged;
	case M_FREE:
		return frame_err_double;
	case M_KEPT:
		return frame_err_notrun;
	}
	if (M.start[f] != f)
		return frame_err_notrun;
	if (M.owner[f] != owner)
		return frame_err_foreign;
	if (M.len[f] != count)
		return frame_err_size;
	return NULL;
}

static void op_free(uint64_t pa, uint64_t count, int owner, bool via_kfree)
{
	if (via_kfree)
		count = 1;
	err_t want = predict_free(pa, count, owner);

	step(via_kfree ? "kfree" : "free", pa, count, owner, want);
	if (want) {
		snapshot();
		err_t got = via_kfree ? kfree(pa_init(pa), (enum frame_owner)owner)
		                      : frame_free(pa_init(pa), count, (enum frame_owner)owner);
		REQUIRE_ERR(got, want);
		unchanged();
		if (want != frame_err_align && want != frame_err_unmanaged &&
		    M.state[pa >> PAGE_SHIFT] == M_RUN)
			check_tags(M.start[pa >> PAGE_SHIFT]);
		return;
	}

	uint32_t s = (uint32_t)(pa >> PAGE_SHIFT);
	check_tags(s);
	err_t got = via_kfree ? kfree(pa_init(pa), (enum frame_owner)owner)
	                      : frame_free(pa_init(pa), count, (enum frame_owner)owner);
	REQUIRE_ERR(got, NULL);
	check_fill(s, count, page_free);
	for (uint32_t i = s; i < s + count; i++)
		set_state(i, M_FREE);
	live_remove(s);
	M.nfree += count;
	M.owned[FRAME_FREE] += count;
	M.owned[owner] -= count;
}

/* What frame_carve(pa, count, owner) must answer. */
static err_t predict_carve(uint64_t pa, uint64_t count, int owner)
{
	uint64_t f = pa >> PAGE_SHIFT;

	if (pa % PAGE_SIZE)
		return frame_err_align;
	if (f >= M.nframes)
		return frame_err_unmanaged;
	if (count == 0 || count > (uint64_t)1 << FRAME_MAX_ORDER)
		return frame_err_count;
	switch (M.state[f]) {
	case M_HOLE:
	case M_FIRMWARE:
		return frame_err_unmanaged;
	case M_FREE:
		return frame_err_double;
	case M_KEPT:
		return frame_err_notrun;
	}
	uint32_t s = M.start[f];
	if (M.owner[s] != owner)
		return frame_err_foreign;
	if (f + count > (uint64_t)s + M.len[s])
		return frame_err_size;
	return NULL;
}

/* Frames [p, p + n) of a live run of tags `serial` become a live run of
 * their own (p is already live when it is the run's first frame). */
NO_COVERAGE static void model_piece(uint32_t p, uint32_t n, uint32_t serial, bool first)
{
	for (uint32_t i = p; i < p + n; i++)
		M.start[i] = (uint16_t)p;
	M.len[p] = n;
	M.serial[p] = serial;
	if (!first)
		live_add(p);
}

static void op_carve(uint64_t pa, uint64_t count, int owner)
{
	err_t want = predict_carve(pa, count, owner);

	step("carve", pa, count, owner, want);
	if (want) {
		snapshot();
		REQUIRE_ERR(frame_carve(pa_init(pa), count, (enum frame_owner)owner), want);
		unchanged();
		if (want != frame_err_align && want != frame_err_unmanaged &&
		    M.state[pa >> PAGE_SHIFT] == M_RUN)
			check_tags(M.start[pa >> PAGE_SHIFT]);
		return;
	}

	uint32_t f = (uint32_t)(pa >> PAGE_SHIFT), s = M.start[f], end = s + M.len[s];
	uint32_t n = (uint32_t)count, serial = M.serial[s];
	check_tags(s);
	REQUIRE_ERR(frame_carve(pa_init(pa), count, (enum frame_owner)owner), NULL);
	if (f > s)
		model_piece(s, f - s, serial, true);
	model_piece(f, n, serial, f == s);
	if (f + n < end)
		model_piece(f + n, end - f - n, serial, false);
	/* the frames are untouched, and each piece is a run of its own, laid
	 * out from its own start: the frames either side of each cut */
	check_tags(s);
	check_tags(f);
	if (f + n < end)
		check_tags(f + n);
	const uint32_t probe[] = {s, f - 1, f, f + n - 1, f + n, end - 1};
	for (size_t k = 0; k < ARRAY_SIZE(probe); k++)
		if (probe[k] >= s && probe[k] < end)
			check_query((uint64_t)probe[k] * PAGE_SIZE);
}

/* The nth frame (modulo their number) in state `st`; M.nframes if none. */
NO_COVERAGE static uint32_t nth_frame(uint8_t st, uint32_t nth)
{
	uint32_t count = 0;

	for (uint32_t f = 0; f < M.nframes; f++)
		count += M.state[f] == st;
	if (count)
		for (uint32_t f = 0, k = nth % count;; f++)
			if (M.state[f] == st && k-- == 0)
				return f;
	return M.nframes;
}

/* An address to free, reference or query, of a kind the input chooses. */
static uint64_t pick_addr(struct reader *rd)
{
	uint8_t kind = u8(rd), x = u8(rd);
	uint32_t n = M.nframes;

	switch (kind % 8) {
	case 0: /* the first frame of a live run */
		if (M.nlive)
			return (uint64_t)M.live[M.nlive - 1 - x % M.nlive] * PAGE_SIZE;
		break;
	case 1: /* a frame inside a live run */
		if (M.nlive) {
			uint32_t s = M.live[M.nlive - 1 - x % M.nlive];
			return ((uint64_t)s + u16(rd) % M.len[s]) * PAGE_SIZE;
		}
		break;
	case 2: /* a frame of a given state (hole, firmware, kept, free, run) */
	{
		uint32_t f = nth_frame(x % 5, u16(rd));
		if (f < n)
			return (uint64_t)f * PAGE_SIZE;
		break;
	}
	case 3: /* not page-aligned */
		return ((uint64_t)u16(rd) % (n + 1)) * PAGE_SIZE + 1 +
		       (x * 16u + x) % (PAGE_SIZE - 1);
	case 4: /* beyond RAM */
	{
		const uint64_t far[] = {0,
		                        1,
		                        16,
		                        FRAME_LIMIT - 1,
		                        FRAME_LIMIT,
		                        (uint64_t)1 << 40,
		                        ((uint64_t)1 << 52) - 1,
		                        (UINT64_MAX >> PAGE_SHIFT) - n};
		return ((uint64_t)n + far[x % 8]) * PAGE_SIZE;
	}
	case 5: /* the first frame of a run freed recently */
		if (M.nfreed)
			return (uint64_t)M.freed[(M.nfreed - 1 - x % 8) % ARRAY_SIZE(M.freed)] *
			       PAGE_SIZE;
		break;
	case 6: /* the frame table */
		return ((uint64_t)M.table + x % M.table_pages) * PAGE_SIZE;
	}
	/* any frame, or just beyond the last */
	return (((uint64_t)x << 8 | u8(rd)) % (n + 8)) * PAGE_SIZE;
}

static int pick_owner(uint8_t b)
{
	return b % 8; /* FRAME_FREE .. FRAME_FIRMWARE, and FRAME_OWNERS */
}

static uint64_t pick_count(struct reader *rd)
{
	uint8_t c = u8(rd), x = u8(rd);
	static const uint64_t huge[] = {(uint64_t)1 << 31,
	                                ((uint64_t)1 << 31) + 1,
	                                ((uint64_t)1 << 31) - 1,
	                                (uint64_t)1 << 32,
	                                ((uint64_t)1 << 32) + 1,
	                                (uint64_t)1 << 63,
	                                UINT64_MAX,
	                                MAX_FRAMES};

	switch (c % 8) {
	case 0:
		return 1 + x % 16;
	case 1:
		return 0;
	case 2:
		return (uint64_t)1 << (x % 13);
	case 3:
		return ((uint64_t)1 << (x % 13)) + 1;
	case 4:
		return ((uint64_t)1 << (x % 13)) - 1;
	case 5:
		return ((uint64_t)x | (uint64_t)u8(rd) << 8) % (MAX_FRAMES + 1);
	case 6:
		return huge[x % 8];
	}
	return 1;
}

/* A free of a chosen address, with the run's own count and owner or not. */
static void op_free_any(struct reader *rd, bool via_kfree)
{
	uint64_t pa = pick_addr(rd), f = pa >> PAGE_SHIFT;
	uint8_t mode = u8(rd);
	bool in_run = pa % PAGE_SIZE == 0 && f < M.nframes && M.state[f] == M_RUN;
	uint64_t count = in_run ? M.len[M.start[f]] : 1;
	int owner = in_run ? M.owner[f] : FRAME_CLIENT;

	switch (mode & 3) {
	case 1:
		count += mode & 0x10 ? 1 : (uint64_t)-1;
		break;
	case 2:
		count = pick_count(rd);
		break;
	case 3:
		count = 0;
		break;
	}
	switch (mode >> 2 & 3) {
	case 2:
		owner = pick_owner(u8(rd));
		break;
	case 3:
		owner = FRAME_PTABLE + (owner + 1 - FRAME_PTABLE + 4) % 4; /* another owner */
		break;
	}
	op_free(pa, count, owner, via_kfree);
}

static uint32_t pick_run(struct reader *rd)
{
	return M.live[M.nlive - 1 - u8(rd) % M.nlive];
}

/* A carve: by the mode byte (bit 0 clear, and a run is live) a range inside
 * a live run, of a count inside it or (bit 1) a count of any class, or (bit 0
 * set) of a chosen address and count; with the run's owner, or by bits 2-3
 * as a free's mode byte says. */
static void op_carve_any(struct reader *rd)
{
	uint8_t mode = u8(rd);
	uint64_t pa, count, f;
	int owner = FRAME_CLIENT;

	if (!(mode & 1) && M.nlive) {
		uint32_t s = pick_run(rd);
		uint64_t off = u16(rd) % M.len[s];
		pa = (s + off) * PAGE_SIZE;
		count = mode & 2 ? pick_count(rd) : 1 + u16(rd) % (M.len[s] - off);
	} else {
		pa = pick_addr(rd);
		count = pick_count(rd);
	}
	f = pa >> PAGE_SHIFT;
	if (pa % PAGE_SIZE == 0 && f < M.nframes && M.state[f] == M_RUN)
		owner = M.owner[f];
	switch (mode >> 2 & 3) {
	case 2:
		owner = pick_owner(u8(rd));
		break;
	case 3:
		owner = FRAME_PTABLE + (owner + 1 - FRAME_PTABLE + 4) % 4; /* another owner */
		break;
	}
	op_carve(pa, count, owner);
}

/*
 * Operations and their arguments. An address is a kind byte (% 8) and a
 * byte x, then: 0 the first frame of live run x (counted from the latest),
 * 1 a frame inside it (u16 offset), 2 the u16-th frame in state x % 5
 * (hole, firmware, kept, free, run), 3 an unaligned address (u16 frame),
 * 4 beyond RAM (x % 8 picks how far), 5 a run freed recently, 6 the frame
 * table; anything else, or a kind with nothing to pick, any frame (x and
 * one more byte). A count is a class byte (% 8) and x: 1 + x % 16, 0,
 * 2^(x % 13), that +1, that -1, u16 % 4097 (x and one more byte), huge
 * (x % 8 picks 2^31, 2^31 + 1, ...), 1. An owner is a byte % 8 (7 is
 * FRAME_OWNERS, not an owner). A free's mode byte: bits 0-1 the count (the
 * run's own, its own +1 if bit 4 else -1, a count, 0), bits 2-3 the owner
 * (the run's own twice, an owner byte, another owner that can allocate).
 * A carve's mode byte: see op_carve_any.
 */
enum op {
	OP_KALLOC,   /* owner */
	OP_ALLOC,    /* count, owner */
	OP_FREE,     /* address, mode, [count], [owner] */
	OP_KFREE,    /* address, mode, [count, ignored], [owner] */
	OP_QUERY,    /* address */
	OP_STATS,    /* (none) */
	OP_AUDIT,    /* (none) */
	OP_FREE_RUN, /* run x, freed with its own count and owner */
	OP_KALLOC_N, /* n, owner: 1 + n % 128 kallocs */
	OP_KFREE_N,  /* n: kfree the last 1 + n % 128 single frames allocated */
	OP_INIT,     /* a layout: frame_init again */
	OP_CARVE,    /* mode, then run x, u16 offset, u16 count or a count; or
	              * address, count; then [owner] (op_carve_any) */
};

/* Opcode bytes to operations, the common ones more often. */
static const uint8_t ops[32] = {
    OP_KALLOC, OP_KALLOC, OP_ALLOC,    OP_ALLOC,    OP_ALLOC,    OP_FREE,  OP_FREE,     OP_FREE,
    OP_KFREE,  OP_KFREE,  OP_QUERY,    OP_QUERY,    OP_FREE,     OP_KFREE, OP_QUERY,    OP_QUERY,
    OP_STATS,  OP_AUDIT,  OP_FREE_RUN, OP_FREE_RUN, OP_FREE_RUN, OP_CARVE, OP_KALLOC_N, OP_KFREE_N,
    OP_CARVE,  OP_ALLOC,  OP_CARVE,    OP_KALLOC,   OP_FREE_RUN, OP_CARVE, OP_FREE_RUN, OP_INIT,
};

static void run_op(struct reader *rd, enum op op)
{
	switch (op) {
	case OP_KALLOC:
		op_alloc(1, pick_owner(u8(rd)), true);
		break;
	case OP_ALLOC: {
		uint64_t count = pick_count(rd);
		op_alloc(count, pick_owner(u8(rd)), false);
		break;
	}
	case OP_FREE:
		op_free_any(rd, false);
		break;
	case OP_KFREE:
		op_free_any(rd, true);
		break;
	case OP_QUERY: {
		uint64_t pa = pick_addr(rd);
		step("query", pa, 0, 0, NULL);
		check_query(pa);
		break;
	}
	case OP_STATS:
		step("stats", 0, 0, 0, NULL);
		stats();
		break;
	case OP_AUDIT:
		step("audit", 0, 0, 0, NULL);
		audit();
		break;
	case OP_FREE_RUN:
		if (M.nlive) {
			uint32_t s = pick_run(rd);
			op_free((uint64_t)s * PAGE_SIZE, M.len[s], M.owner[s], false);
		}
		break;
	case OP_KALLOC_N: {
		unsigned n = 1 + u8(rd) % 128;
		int owner = pick_owner(u8(rd));
		for (unsigned i = 0; i < n; i++)
			op_alloc(1, owner, true);
		break;
	}
	case OP_KFREE_N: {
		unsigned n = 1 + u8(rd) % 128;
		for (uint32_t i = M.nlive; i-- > 0 && n;) {
			uint32_t s = M.live[i];
			if (M.len[s] == 1 && i < M.nlive) {
				op_free((uint64_t)s * PAGE_SIZE, 1, M.owner[s], true);
				n--;
			}
		}
		break;
	}
	case OP_CARVE:
		op_carve_any(rd);
		break;
	case OP_INIT: {
		struct layout L;
		read_layout(rd, &L);
		do_init(&L);
		break;
	}
	}
}

/* Free every live run: the allocator must be back where frame_init left
 * it. */
static void finish(void)
{
	while (M.nlive) {
		uint32_t s = M.live[M.nlive - 1];
		op_free((uint64_t)s * PAGE_SIZE, M.len[s], M.owner[s], M.len[s] == 1);
	}
	step("finish", 0, 0, 0, NULL);
	struct frame_stats s;
	frame_stats(&s);
	check_stats(&s);
	REQUIRE(s.free == M.base_free);
	REQUIRE(s.largest_frames == M.base_largest);
	audit();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ram = host_ram((uint64_t)MAX_FRAMES * PAGE_SIZE);
	memset(page_alloc, FRAME_JUNK_ALLOC, sizeof(page_alloc));
	memset(page_free, FRAME_JUNK_FREE, sizeof(page_free));
	for (size_t i = 0; i < sizeof(page_dirty);
	     i += 16) /* next 1, spare 7, used, monitor, FF_RUN */
		memcpy(page_dirty + i,
		       (const uint8_t[16]){1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 3, 1, 1}, 16);
	verbose = getenv("FUZZ_FRAME_TRACE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader rd = {data, size};
	struct layout L;

	nsteps = 0;
	M.ready = false;
	strict = u8(&rd) & 1;
	read_layout(&rd, &L);
	if (!do_init(&L))
		return 0;

	for (unsigned n = 1; rd.n; n++) {
		run_op(&rd, (enum op)ops[u8(&rd) % ARRAY_SIZE(ops)]);
		if (strict)
			stats();
		if (n % AUDIT_EVERY == 0)
			audit();
	}
	finish();
	return 0;
}
