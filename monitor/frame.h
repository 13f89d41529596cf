/*
 * frames: the physical page allocator, the bottom layer of the core.
 *
 * Every frame of RAM that memmon took over belongs to exactly one block, an
 * aligned run of 2^k frames that is either free (in the buddy lists) or
 * used by one owner. kalloc/kfree hand out single frames; frame_alloc and
 * frame_free hand out contiguous runs of any length, aligned to the next
 * power of two. Every used frame has an owner, and only its owner frees
 * it.
 *
 * Metadata is 16 bytes per frame, one array allocated once at takeover and
 * touched lazily: boot writes only the head of each block (a few per
 * memory-map region), and a metadata page is zeroed the first time an entry
 * in it is written. See docs/ARCHITECTURE.md for the layout and why.
 *
 * Calls go down only: this layer uses types.h and the machine seam
 * (platform.h), and nothing above it. Not reentrant; memmon has one CPU.
 */
#ifndef MEMMON_FRAME_H
#define MEMMON_FRAME_H

#include "types.h"

enum frame_owner {
	FRAME_FREE,     /* in the allocator */
	FRAME_MONITOR,  /* memmon's image, stacks, frame table, firmware tables it runs on */
	FRAME_PTABLE,   /* page-table pages */
	FRAME_MDB,      /* the mapping database */
	FRAME_CLIENT,   /* client memory: sigma0 and what derives from it */
	FRAME_CONSOLE,  /* taken with the console's `alloc` (a testing aid) */
	FRAME_FIRMWARE, /* RAM the firmware keeps: ACPI, NVS, runtime services */
	FRAME_OWNERS
};

/* Short lowercase name of an owner, as `mem` prints it. */
const char *frame_owner_name(enum frame_owner o);

/* The largest block: 2^31 frames (8 TiB). Frame numbers are 32 bits and
 * 0xffffffff means none, so memmon manages RAM below 16 TiB less a page;
 * frame_init ignores anything above. */
#define FRAME_MAX_ORDER 31
#define FRAME_LIMIT     (((uint64_t)1 << 32) - 1) /* frames */

/* One piece of the takeover: `pages` frames at `base`, all FRAME_FREE (the
 * allocator's to hand out) or all kept by `owner`. */
struct frame_range {
	uint64_t base; /* physical, page-aligned */
	uint64_t pages;
	enum frame_owner owner;
};

/*
 * Take over physical memory. `r` must be sorted by base and disjoint; RAM
 * not listed is not RAM to the allocator (holes, MMIO). The frame table is
 * carved from the highest free range that can hold it and owned by
 * FRAME_MONITOR, but for the table pages that describe only frames outside
 * every range, which are free. Cost: O(n * FRAME_MAX_ORDER) entries written and a map
 * of one byte per 256 frames zeroed, however much RAM there is. Returns
 * frame_err_nomem when no free range can hold the table (nothing changed).
 * May be called again to start over (host tests).
 */
err_t frame_init(const struct frame_range *r, size_t n);

/* The frame table's place: it spans frame_table_span() pages from
 * frame_table_base() (the entries, then the page map), of which memmon holds
 * frame_table_pages(); the others describe only holes, are never read or
 * written, and are free frames like any other. For `mem`, and for the page
 * tables of later layers (which must map only the pages held). */
paddr_t frame_table_base(void);
uint64_t frame_table_pages(void);
uint64_t frame_table_span(void);

/* Frames 0 .. frame_limit() - 1 have entries: every frame the allocator
 * manages lies below it (holes included), for per-frame bitmaps. */
uint64_t frame_limit(void);

/*
 * The quick stack: free single frames waiting in front of the buddy lists,
 * at most FRAME_QUICK_MAX - 1 between calls. kalloc takes the top one; on
 * an empty stack it first pushes every frame of one free block of at most
 * FRAME_QUICK_BLOCK frames (the smallest free block, split down to that),
 * which it then hands out in address order. A single frame freed goes on
 * top; when the stack reaches FRAME_QUICK_MAX, frames from its bottom go
 * back to the buddy lists until at most FRAME_QUICK_KEEP remain, every
 * FRAME_QUICK_BLOCK of them in a row that make up one aligned block as that
 * block. Frames on it are free to every check and count (frame_query says
 * FRAME_FREE, order 0; a second free is frame_err_double); a larger
 * allocation that finds no block, and frame_stats, merge them first.
 */
#define FRAME_QUICK_ORDER 5
#define FRAME_QUICK_BLOCK (1u << FRAME_QUICK_ORDER)
#define FRAME_QUICK_MAX   (4 * FRAME_QUICK_BLOCK)
#define FRAME_QUICK_KEEP  (FRAME_QUICK_MAX / 2)

/* Frames on the quick stack now. O(1); for tests. */
uint64_t frame_quick(void);

/*
 * Allocate one frame for `owner` (not FRAME_FREE or FRAME_FIRMWARE). On
 * success *out is a frame no one else holds; its
 * contents are undefined (junk in debug builds). Refused, changing nothing
 * and leaving *out alone: frame_err_owner, frame_err_nomem (no frame free).
 */
/* (inline: the fast path below) */

/* Take back a frame kalloc handed to `owner`: exactly frame_free(pa, 1, owner)
 * (the frame goes on the quick stack). */
/* (inline: the fast path below) */

/*
 * Allocate `count` (1 .. 2^FRAME_MAX_ORDER) contiguous frames for `owner`,
 * aligned to the next power of two >= count. O(FRAME_MAX_ORDER): no scan.
 * Frames beyond `count` in the aligned block go back to the free lists.
 */
err_t frame_alloc(uint64_t count, enum frame_owner owner, paddr_t *out);

/*
 * Free a run that frame_alloc (or kalloc) handed out: pa must be its first
 * frame, count its length and owner its owner. Refused, changing nothing:
 * a frame already free (double free), a frame that was never allocated
 * (the firmware's, memmon's own, the middle of a run), the wrong count or
 * owner. Debug builds
 * fill the freed frames with FRAME_JUNK_FREE.
 */
err_t frame_free(paddr_t pa, uint64_t count, enum frame_owner owner);

/*
 * Make [pa, pa + count) a run of its own: it must lie inside one allocated
 * run of `owner`. The frames before
 * and after it stay allocated to `owner` as runs of their own. So a part of
 * a run can be freed (frame_free) and the rest kept. O(FRAME_MAX_ORDER).
 * Refused, changing nothing: what frame_free would refuse for the
 * enclosing run (not allocated, foreign), or a range that
 * leaves the run.
 */
err_t frame_carve(paddr_t pa, uint64_t count, enum frame_owner owner);

/* What the allocator knows about one frame. */
struct frame_info {
	enum frame_owner owner; /* FRAME_FREE for a free frame */
	bool managed;           /* false: not RAM memmon took over */
	paddr_t block;          /* the aligned block holding the frame */
	unsigned order;         /* its order */
	paddr_t run;            /* used: the allocated run holding it */
	uint64_t run_frames;    /* used by frame_alloc: its length; 0 for takeover blocks */
};
err_t frame_query(paddr_t pa, struct frame_info *out);

struct frame_stats {
	uint64_t total;               /* frames the allocator manages: free + used */
	uint64_t free;                /* free, in buddy lists or on the quick stack */
	uint64_t used;                /* total - free */
	uint64_t owned[FRAME_OWNERS]; /* by owner; owned[FRAME_FREE] == free and
	                               * owned[FRAME_FIRMWARE] == firmware */
	uint64_t firmware;            /* kept by the firmware, outside total */
	paddr_t largest;              /* the largest free block ... */
	uint64_t largest_frames;      /* ... and its size (0: nothing free) */
	uint64_t table_pages_touched; /* frame-table pages written so far */
};
/* The counters, and the largest free block (merging the quick stack first,
 * which changes no count). O(FRAME_MAX_ORDER + FRAME_QUICK_MAX). */
void frame_stats(struct frame_stats *s);

/*
 * Walk every block and check the allocator's own invariants against its
 * counters (free lists linked both ways, buddies merged, counts agree).
 * O(blocks); for tests and `check`. Returns NULL or what is wrong.
 */
err_t frame_audit(void);

/* Failures, compared by identity. */
extern const char frame_err_nomem[];     /* no free block of 2^ceil(log2 count) frames */
extern const char frame_err_count[];     /* count 0 or beyond 2^FRAME_MAX_ORDER */
extern const char frame_err_owner[];     /* an owner that cannot allocate */
extern const char frame_err_align[];     /* address not page-aligned */
extern const char frame_err_unmanaged[]; /* not RAM the allocator manages */
extern const char frame_err_double[];    /* the frame is free: double free, or never allocated */
extern const char frame_err_notrun[];    /* not the first frame of an allocated run */
extern const char frame_err_size[];      /* the run has a different length */
extern const char frame_err_foreign[];   /* the run belongs to another owner */

/* Debug builds (FRAME_JUNK defined non-zero) fill frames on kfree and on
 * kalloc, to expose use after free and use before initialisation. */
#define FRAME_JUNK_FREE  0x6b
#define FRAME_JUNK_ALLOC 0xa5
/* Runs longer than this (2 MiB) are not filled: under QEMU's TCG a fill
 * runs at a few hundred MiB a second, and the host must back every byte,
 * so filling a 64 GiB run would take minutes and more memory than the host
 * may have. Page tables, the mapping database and single frames, where
 * dangling use happens, are all small. */
#define FRAME_JUNK_MAX 512

/* ---- the order-0 fast path, inline ---------------------------------------------
 *
 * kalloc and kfree are inline, so that every caller (the mapping database,
 * paging's door to this layer, the benchmarks) pops or pushes the quick
 * stack in its own code, with no call, and the owner check folds away where
 * the owner is a constant. Out of line, in frame.c: a refill of the empty
 * stack (frame_kalloc_refill), a drain of the full one (frame_quick_drain),
 * the junk fill, and every kfree of anything but a one-frame run of the
 * owner (frame_free, which says what is wrong). Everything below is frame.c's
 * own: the entry layout and the allocator's state are no part of the
 * interface, no other file may name them, and they are here only so that
 * these functions can be inline. Their contracts are what `make prove`
 * proves (proof/, docs/ARCHITECTURE.md).
 */

/* Debug builds fill frames (FRAME_JUNK non-zero, the default); the
 * benchmarks build with FRAME_JUNK=0. */
#ifndef FRAME_JUNK
#define FRAME_JUNK 1
#endif

enum frame_state {
	FS_NONE,  /* not a block head: interior, or not managed */
	FS_FREE,  /* head of a free block, in list frame_core.head[order] */
	FS_QUICK, /* a free single frame on the quick stack */
	FS_USED,  /* head of a used block */
};

enum frame_flags {
	FF_RUN = 1,  /* first block of a run: next = run length */
	FF_CONT = 2, /* later block of a run: next = the run's first frame */
};

/* An entry's byte fields: to the compiler an 8-bit integer that is not a
 * character type. A store through an unsigned char (uint8_t) may change any
 * object, so with uint8_t fields every entry written made the compiler
 * reload the allocator's state (the stack's depth, the counters) from
 * memory, and a kfree then a kalloc could not keep the depth in a register.
 * The prover reads it as uint8_t: the same values 0..255 in the same byte. */
#ifdef __FRAMAC__
typedef uint8_t frame_byte;
#else
typedef unsigned int frame_byte __attribute__((mode(QI)));
#endif
_Static_assert(sizeof(frame_byte) == 1, "an entry's byte fields are one byte each");

struct frame {
	uint32_t next;    /* FS_FREE: next in list; FS_USED: see frame_flags */
	uint32_t prev;    /* FS_FREE: previous in list; 0 otherwise */
	uint32_t spare;   /* 0: keeps an entry 16 bytes, 256 to a table page */
	frame_byte order; /* heads: the block's order */
	frame_byte state; /* enum frame_state */
	frame_byte owner; /* heads: enum frame_owner */
	frame_byte flags; /* FS_USED heads: enum frame_flags */
};
_Static_assert(sizeof(struct frame) == 16, "the issue allows 16 bytes of metadata per frame");

#define FRAME_PER_PAGE (PAGE_SIZE / sizeof(struct frame)) /* 256 entries per table page */

/* The allocator's state (frame.c calls it F). */
struct frame_core {
	struct frame *tab; /* nframes entries, zeroed a page at a time */
	uint8_t *zeroed;   /* zeroed[p]: table page p has been zeroed (a byte, not a bit:
	                    * kfree's fast path tests it in two instructions) */
	uint32_t nframes;  /* frames 0 .. nframes-1 have entries */
	uint32_t head[FRAME_MAX_ORDER + 1];
	uint64_t avail;                  /* bit o: list o is not empty */
	uint32_t depth;                  /* frames on the quick stack */
	uint32_t stack[FRAME_QUICK_MAX]; /* the quick stack: free single frames, top last */
	uint64_t total, firmware, touched;
	/* used frames by owner; free = total less their sum (free_count),
	 * so that a single-frame kalloc or kfree updates one counter */
	uint64_t owned[FRAME_OWNERS];
	paddr_t table;
	uint64_t table_pages, table_span;
};
extern struct frame_core frame_core;

/*
 * The allocator's state as `make prove` reads it (ACSL; see proof/ and
 * docs/ARCHITECTURE.md). table_ok: the table and its page map are valid
 * memory apart from each other and from frame_core. quick_ok: the quick stack holds
 * at most FRAME_QUICK_MAX frames, each a managed frame on a zeroed page in state
 * FS_QUICK, no frame twice (an array, so acyclic by construction; injective
 * by this clause). free_frame: frame i can be handed out, being on the quick
 * stack or inside a block on a buddy list: for some order j, the head at i
 * rounded down to 2^j is free with order j. That "for some j" is written
 * out as one in_free(.., j, 2^j) per order (scripts/prove.py checks each
 * size is 2^j), not as an existential: the provers then need no witness for
 * the order and no shift, and an equivalence across a store is one
 * instance per order (put_in_free). single: frame i is a one-frame run of
 * owner o. The predicates that relate two states (free_frame, used_same)
 * read the table through their pointer arguments (free_in, used_same_in),
 * so that a store to another field of frame_core (a count, the depth)
 * leaves them syntactically the same to the provers.
 */
/*@ predicate zeroed(integer i) = frame_core.zeroed[i / FRAME_PER_PAGE] != 0;
    predicate table_ok =
      0 < frame_core.nframes && \valid(frame_core.tab + (0 .. frame_core.nframes - 1)) &&
      \valid(frame_core.zeroed + (0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE)) &&
      \separated(frame_core.tab + (0 .. frame_core.nframes - 1),
          frame_core.zeroed + (0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE),
                 &frame_core);
    predicate out_ok(paddr_t *out) =
      \valid(out) &&
      \separated(out, &frame_core, frame_core.tab + (0 .. frame_core.nframes - 1),
                 frame_core.zeroed + (0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE));
    predicate quick_ok =
      frame_core.depth < FRAME_QUICK_MAX &&
      (\forall integer k; 0 <= k < frame_core.depth ==>
         frame_core.stack[k] < frame_core.nframes && zeroed(frame_core.stack[k])
             && frame_core.tab[frame_core.stack[k]].state == FS_QUICK) &&
      (\forall integer k, l; 0 <= k < l < frame_core.depth
          ==> frame_core.stack[k] != frame_core.stack[l]);
    predicate frame_ok = table_ok && quick_ok;
    predicate can_own_p(integer o) =
      o != FRAME_FREE && o != FRAME_FIRMWARE && 0 <= o < FRAME_OWNERS;
    predicate single(integer i, integer o) =
      frame_core.tab[i].next == 1 && frame_core.tab[i].prev == 0 && frame_core.tab[i].spare == 0
          && frame_core.tab[i].order == 0 &&
      frame_core.tab[i].state == FS_USED && frame_core.tab[i].owner == o
          && frame_core.tab[i].flags == FF_RUN;
    predicate used_same_in{A, B}(struct frame *ta, uint8_t *za, struct frame *tb, uint8_t *zb,
                                 integer j) =
      \at(za[j / FRAME_PER_PAGE], A) != 0 && \at(ta[j].state, A) == FS_USED ==>
        \at(tb[j], B) == \at(ta[j], A) && \at(zb[j / FRAME_PER_PAGE], B) != 0;
    predicate used_same{A, B}(integer j) =
      used_same_in{A, B}(\at(frame_core.tab, A), \at(frame_core.zeroed, A),
                         \at(frame_core.tab, B), \at(frame_core.zeroed, B), j);
    predicate free_head_in{L}(struct frame *t, uint8_t *z, integer h, integer j) =
      z[h / FRAME_PER_PAGE] != 0 && t[h].state == FS_FREE && t[h].order == j;
    predicate free_head(integer h, integer j) =
      free_head_in(frame_core.tab, frame_core.zeroed, h, j);
    predicate in_free{L}(struct frame *t, uint8_t *z, integer i, integer j, integer size) =
      free_head_in(t, z, i - i % size, j);
    predicate free_in{L}(struct frame *t, uint8_t *z, integer i) =
      z[i / FRAME_PER_PAGE] != 0 && t[i].state == FS_QUICK ||
      in_free(t, z, i, 0, 0x1) || in_free(t, z, i, 1, 0x2) || in_free(t, z, i, 2, 0x4) ||
      in_free(t, z, i, 3, 0x8) || in_free(t, z, i, 4, 0x10) || in_free(t, z, i, 5, 0x20) ||
      in_free(t, z, i, 6, 0x40) || in_free(t, z, i, 7, 0x80) || in_free(t, z, i, 8, 0x100) ||
      in_free(t, z, i, 9, 0x200) || in_free(t, z, i, 10, 0x400) ||
      in_free(t, z, i, 11, 0x800) || in_free(t, z, i, 12, 0x1000) ||
      in_free(t, z, i, 13, 0x2000) || in_free(t, z, i, 14, 0x4000) ||
      in_free(t, z, i, 15, 0x8000) || in_free(t, z, i, 16, 0x10000) ||
      in_free(t, z, i, 17, 0x20000) || in_free(t, z, i, 18, 0x40000) ||
      in_free(t, z, i, 19, 0x80000) || in_free(t, z, i, 20, 0x100000) ||
      in_free(t, z, i, 21, 0x200000) || in_free(t, z, i, 22, 0x400000) ||
      in_free(t, z, i, 23, 0x800000) || in_free(t, z, i, 24, 0x1000000) ||
      in_free(t, z, i, 25, 0x2000000) || in_free(t, z, i, 26, 0x4000000) ||
      in_free(t, z, i, 27, 0x8000000) || in_free(t, z, i, 28, 0x10000000) ||
      in_free(t, z, i, 29, 0x20000000) || in_free(t, z, i, 30, 0x40000000) ||
      in_free(t, z, i, 31, 0x80000000);
    predicate free_frame(integer i) = free_in(frame_core.tab, frame_core.zeroed, i);
*/

/*@ requires table_ok && i < frame_core.nframes;
    assigns \nothing;
    ensures \result <==> zeroed(i);
*/
static inline bool frame_page_zeroed(uint32_t i)
{
	return frame_core.zeroed[i / FRAME_PER_PAGE];
}

/*@ assigns \nothing;
    ensures \result.pa == i * PAGE_SIZE;
*/
static inline paddr_t frame_pa(uint32_t i)
{
	return pa_init((uint64_t)i << PAGE_SHIFT);
}

/*@ assigns \nothing;
    ensures \result <==> can_own_p(owner);
*/
static inline bool frame_can_own(enum frame_owner owner)
{
	return owner != FRAME_FREE && owner != FRAME_FIRMWARE && (unsigned)owner < FRAME_OWNERS;
}

/* The entry of a one-frame run of `owner`: what kalloc writes
 * and kfree's fast path expects. */
/*@ requires can_own_p(owner);
    assigns \nothing;
    ensures \result.next == 1 && \result.prev == 0 && \result.spare == 0 && \result.order == 0 &&
            \result.state == FS_USED && \result.owner == owner && \result.flags == FF_RUN;
*/
static inline struct frame frame_single_entry(enum frame_owner owner)
{
	return (struct frame){
	    .next = 1, .state = FS_USED, .owner = (uint8_t)owner, .flags = FF_RUN};
}

/* Whether entry e is exactly frame_single_entry(owner). The prover reads it
 * field by field; the compiler gets the same test as two 64-bit compares of
 * the entry's words (next and prev; spare and the bytes) against the single
 * entry's, which test_frame holds to the field-by-field test for every
 * owner and every bit of an entry (test_is_single_fields). */
/*@ requires \valid_read(e);
    assigns \nothing;
    ensures \result <==> e->next == 1 && e->prev == 0 && e->spare == 0 && e->order == 0 &&
                         e->state == FS_USED && e->owner == owner && e->flags == FF_RUN;
*/
static inline bool frame_is_single(const struct frame *e, enum frame_owner owner)
{
#ifdef __FRAMAC__
	return e->next == 1 && e->prev == 0 && e->spare == 0 && e->order == 0 &&
	       e->state == FS_USED && e->owner == owner && e->flags == FF_RUN;
#else
	const struct frame want = {
	    .next = 1, .state = FS_USED, .owner = (frame_byte)owner, .flags = FF_RUN};
	uint64_t have[2], is[2];

	__builtin_memcpy(have, e, sizeof(have));
	__builtin_memcpy(is, &want, sizeof(is));
	return ((have[0] ^ is[0]) | (have[1] ^ is[1])) == 0;
#endif
}

/* Fill frames [i, i + count) with `byte` (debug builds, runs up to
 * FRAME_JUNK_MAX frames). */
/* For the prover a stub: it writes only the frames' bytes, which are not the
 * allocator's state (the table is memmon's own, never handed out). */
/*@ assigns \nothing; */
void frame_junk(uint32_t i, uint64_t count, uint8_t byte);

/* Hand out the frame on top of the (non-empty) quick stack to `owner`. */
/*@ requires frame_ok && frame_core.depth > 0 && can_own_p(owner);
    requires out_ok(out);
    assigns frame_core.depth, frame_core.tab[frame_core.stack[(uint32_t)(frame_core.depth - 1)]],
        frame_core.owned[owner], *out;
    ensures \result == \null;
    ensures frame_core.depth == \old(frame_core.depth) - 1;
    ensures out->pa == frame_core.stack[frame_core.depth] * PAGE_SIZE;
    ensures pop_single: single(frame_core.stack[frame_core.depth], owner)
        && zeroed(frame_core.stack[frame_core.depth]);
    ensures pop_others: \forall integer j; 0 <= j < frame_core.nframes
        && j != frame_core.stack[frame_core.depth] ==>
              frame_core.tab[j] == \old(frame_core.tab[j]);
    behavior stack_kept:
      ensures pop_ok: frame_ok;
*/
static inline err_t frame_quick_pop(enum frame_owner owner, paddr_t *out)
{
	uint32_t depth = frame_core.depth - 1, i = frame_core.stack[depth];

	/* For the prover (stack_kept: its asserts stay out of the other posts'
	 * contexts, which they only slow down): the frames below the top are
	 * not i (the stack is injective) and their entries and pages lie apart
	 * from i's entry, so the store to it keeps them FS_QUICK on zeroed
	 * pages. */
	/*@ for stack_kept: assert pop_depth: depth == frame_core.depth - 1 &&
	      i < frame_core.nframes && zeroed(i) &&
	      \separated(&frame_core.zeroed[i / FRAME_PER_PAGE], &frame_core.tab[i]);
	*/
	/*@ for stack_kept: assert pop_rest: \forall integer k; 0 <= k < depth ==>
	      frame_core.stack[k] != i &&
	      \separated(&frame_core.tab[frame_core.stack[k]].state, &frame_core.tab[i]) &&
	      \separated(&frame_core.zeroed[frame_core.stack[k] / FRAME_PER_PAGE],
	   &frame_core.tab[i]);
	*/
	frame_core.depth = depth;
	frame_core.owned[owner]++;
	frame_core.tab[i] = frame_single_entry(owner);
	/*@ for stack_kept: assert pop_kept: \forall integer k; 0 <= k < depth ==>
	      zeroed(frame_core.stack[k]) && frame_core.tab[frame_core.stack[k]].state == FS_QUICK;
	*/
	//@ for stack_kept: assert pop_table: table_ok && frame_core.depth < FRAME_QUICK_MAX;
	if (FRAME_JUNK)
		frame_junk(i, 1, FRAME_JUNK_ALLOC);
	*out = frame_pa(i);
	return NULL;
}

/* kalloc with the quick stack empty: refill it, then pop. */
/* Assumed by the proof of kalloc, not proved (it takes a block from the
 * buddy lists): as kalloc's contract with an empty stack. */
/*@ requires frame_ok && frame_core.depth == 0 && can_own_p(owner);
    requires out_ok(out);
    assigns frame_core, frame_core.tab[0 .. frame_core.nframes - 1],
        frame_core.zeroed[0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE], *out;
    behavior none_free:
      assumes frame_core.depth == 0 && frame_core.avail == 0;
      assigns \nothing;
      ensures \result == frame_err_nomem;
    behavior taken:
      assumes frame_core.depth > 0 || frame_core.avail != 0;
      ensures \result == \null && frame_ok && frame_core.nframes == \old(frame_core.nframes);
      ensures out->pa % PAGE_SIZE == 0 && out->pa / PAGE_SIZE < frame_core.nframes;
      ensures \at(free_frame(out->pa / PAGE_SIZE), Pre);
      ensures single(out->pa / PAGE_SIZE, owner) && zeroed(out->pa / PAGE_SIZE);
      ensures \forall integer j; 0 <= j < frame_core.nframes && j != out->pa / PAGE_SIZE ==>
                (free_frame(j) <==> \at(free_frame(j), Pre)) && used_same{Pre, Post}(j);
    complete behaviors;
    disjoint behaviors;
*/
err_t frame_kalloc_refill(enum frame_owner owner, paddr_t *out);

/* Give frames from the bottom of the quick stack back to the buddy lists
 * until at least n have gone (frame.c says how). */
/* Assumed by the proof of kfree, not proved (it works on the buddy lists):
 * the top frame stays; every frame free before is free after, and no other;
 * used entries do not change. */
/*@ requires frame_ok && n + FRAME_QUICK_BLOCK <= frame_core.depth;
    assigns frame_core, frame_core.tab[0 .. frame_core.nframes - 1],
        frame_core.zeroed[0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE];
    ensures frame_ok && frame_core.nframes == \old(frame_core.nframes) && 0 < frame_core.depth;
    ensures frame_core.tab == \old(frame_core.tab) && frame_core.zeroed == \old(frame_core.zeroed);
    ensures frame_core.depth + n <= \old(frame_core.depth);
    ensures frame_core.stack[frame_core.depth - 1] == \old(frame_core.stack[frame_core.depth - 1]);
    ensures \forall integer j; 0 <= j < frame_core.nframes ==>
              (free_frame(j) <==> \at(free_frame(j), Pre)) && used_same{Pre, Post}(j);
*/
void frame_quick_drain(uint32_t n);

/* The entry of a free frame on the quick stack. */
/*@ assigns \nothing;
    ensures \result.next == 0 && \result.prev == 0 && \result.spare == 0 && \result.order == 0 &&
            \result.state == FS_QUICK && \result.owner == 0 && \result.flags == 0;
*/
static inline struct frame frame_quick_entry(void)
{
	return (struct frame){.state = FS_QUICK};
}

/* The push's stores: frame i (a used frame) on top of a stack of `depth`
 * (frame_core.depth) frames with room for it. A function of its own for the
 * prover only (inline, the same stores), so that frame_quick_push's proof
 * joins its two paths (drained or not) over this contract. */
/*@ requires frame_ok && depth == frame_core.depth && depth < FRAME_QUICK_MAX - 1;
    requires i < frame_core.nframes && zeroed(i) && frame_core.tab[i].state == FS_USED;
    assigns frame_core.stack[depth], frame_core.depth, frame_core.tab[i];
    ensures put_top: zeroed(i) && frame_core.tab[i].state == FS_QUICK;
    ensures frame_core.nframes == \old(frame_core.nframes);
    behavior kept:
      ensures put_ok: frame_ok;
    behavior others:
      ensures put_free: \forall integer j; 0 <= j < frame_core.nframes && j != i ==>
                \at(free_frame(j), Pre) ==> free_frame(j);
      ensures put_free_back: \forall integer j; 0 <= j < frame_core.nframes && j != i ==>
                free_frame(j) ==> \at(free_frame(j), Pre);
      ensures put_used: \forall integer j; 0 <= j < frame_core.nframes && j != i ==>
                used_same{Pre, Post}(j);
*/
static inline void frame_quick_put(uint32_t i, uint32_t depth)
{
	/* For the prover: the frames on the stack are not i (they are FS_QUICK,
	 * i is FS_USED), and the page map lies apart from i's entry. */
	//@ assert put_page: \separated(&frame_core.zeroed[i / FRAME_PER_PAGE], &frame_core.tab[i]);
	/*@ for kept: assert put_apart: \forall integer k; 0 <= k < depth ==>
	      frame_core.stack[k] != i &&
	      \separated(&frame_core.tab[frame_core.stack[k]].state, &frame_core.tab[i]) &&
	      \separated(&frame_core.zeroed[frame_core.stack[k] / FRAME_PER_PAGE],
	   &frame_core.tab[i]);
	*/
	/*@ for others: assert put_pages: \forall integer h; 0 <= h < frame_core.nframes ==>
	      \separated(&frame_core.zeroed[h / FRAME_PER_PAGE], &frame_core.tab[i]);
	*/
	frame_core.stack[depth] = i;
	frame_core.depth = depth + 1;
	frame_core.tab[i] = frame_quick_entry();
	/*@ for others: assert put_same: \forall integer h; h != i ==>
	      frame_core.tab[h] == \at(frame_core.tab[h], Pre);
	*/
	/*@ for others: assert put_zeroed: \forall integer h; 0 <= h < frame_core.nframes ==>
	      (zeroed(h) <==> \at(zeroed(h), Pre));
	*/
	/*@ for others: assert put_heads: \forall integer h, j; 0 <= h < frame_core.nframes ==>
	      (free_head_in(frame_core.tab, frame_core.zeroed, h, j) <==>
	           \at(free_head_in(frame_core.tab, frame_core.zeroed, h, j), Pre));
	*/
	/*@ for others: assert put_in_free: \forall integer j, m, s; 0 <= j < frame_core.nframes &&
	      0 < s ==> (in_free(frame_core.tab, frame_core.zeroed, j, m, s) <==>
	           \at(in_free(frame_core.tab, frame_core.zeroed, j, m, s), Pre));
	*/
	/*@ for others: assert put_quick: \forall integer h; 0 <= h < frame_core.nframes && h != i
	   ==> (zeroed(h) && frame_core.tab[h].state == FS_QUICK <==> \at(zeroed(h) &&
	   frame_core.tab[h].state == FS_QUICK, Pre));
	*/
	/*@ for kept: assert put_kept: \forall integer k; 0 <= k < depth ==>
	      zeroed(frame_core.stack[k]) && frame_core.tab[frame_core.stack[k]].state == FS_QUICK;
	*/
	//@ for kept: assert put_table: table_ok && frame_core.depth < FRAME_QUICK_MAX;
}

/* Put single frame i (a one-frame run; the caller drops its owner's count)
 * on the quick stack; a full one (FRAME_QUICK_MAX - 1) is drained first.
 * The drain comes before the stores, and the depth is then known to be
 * below FRAME_QUICK_MAX - 1 on every path (the CHECK), so that a kfree then
 * a kalloc inline in one caller keep the depth, the frame and the owner's
 * count in registers: no refill test, no reload. */
/*@ requires frame_ok && i < frame_core.nframes && zeroed(i) && frame_core.tab[i].state == FS_USED;
    assigns frame_core, frame_core.tab[0 .. frame_core.nframes - 1],
        frame_core.zeroed[0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE];
    ensures push_ok: frame_ok && frame_core.nframes == \old(frame_core.nframes);
    ensures push_top: zeroed(i) && frame_core.tab[i].state == FS_QUICK && free_frame(i);
    ensures push_free: \forall integer j; 0 <= j < frame_core.nframes && j != i ==>
              (free_frame(j) <==> \at(free_frame(j), Pre));
    ensures push_used: \forall integer j; 0 <= j < frame_core.nframes && j != i ==>
              used_same{Pre, Post}(j);
*/
static inline void frame_quick_push(uint32_t i)
{
	uint32_t depth = frame_core.depth;

	if (__builtin_expect(depth >= FRAME_QUICK_MAX - 1, 0)) {
		frame_quick_drain(FRAME_QUICK_MAX - FRAME_QUICK_KEEP);
		//@ assert push_drained: used_same{Pre, Here}(i);
		depth = frame_core.depth;
		CHECK(depth < FRAME_QUICK_MAX - 1);
	}
	//@ ghost drained:;
	frame_quick_put(i, depth);
	/* For the prover: used_same composes across the drain (label drained,
	 * the state the put starts from); the asserts give it the instances. */
	/*@ assert push_chain: \forall integer j; 0 <= j < frame_core.nframes && j != i ==>
	      used_same{Pre, drained}(j) && used_same{drained, Here}(j) ==> used_same{Pre, Here}(j);
	*/
}

/* The order-0 fast path: pop the quick stack (refilled with one block when
 * empty) and write the frame's entry. */
/*
 * kalloc's contract: refused for an owner that cannot hold frames; null
 * exactly when no frame is free (the stack and every buddy list empty);
 * else a frame that was free (on the stack, or in a buddy block when the
 * stack was empty) is now a one-frame run of `owner`; from the stack no
 * other entry changes at all, from a refill no other frame became or stopped
 * being free and no used entry changed; the quick stack stays in range and
 * injective (frame_ok). make prove proves it whole, with kfree's (below),
 * over the contracts of the refill and the drain (the buddy side), which
 * it assumes.
 */
/*@ requires frame_ok;
    requires out_ok(out);
    assigns frame_core, frame_core.tab[0 .. frame_core.nframes - 1],
        frame_core.zeroed[0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE], *out;
    behavior refused:
      assumes !can_own_p(owner);
      assigns \nothing;
      ensures \result == frame_err_owner;
    behavior none_free:
      assumes can_own_p(owner) && frame_core.depth == 0 && frame_core.avail == 0;
      ensures \result == frame_err_nomem;
    behavior from_stack:
      assumes can_own_p(owner) && frame_core.depth > 0;
      ensures \result == \null && frame_ok && frame_core.nframes == \old(frame_core.nframes);
      ensures out->pa == \old(frame_core.stack[frame_core.depth - 1]) * PAGE_SIZE;
      ensures \at(frame_core.tab[\at(frame_core.stack[frame_core.depth - 1], Pre)].state,
          Pre) == FS_QUICK;
      ensures single(out->pa / PAGE_SIZE, owner) && zeroed(out->pa / PAGE_SIZE);
      ensures \forall integer j; 0 <= j < frame_core.nframes && j != out->pa / PAGE_SIZE ==>
                frame_core.tab[j] == \at(frame_core.tab[j], Pre);
    behavior refilled:
      assumes can_own_p(owner) && frame_core.depth == 0 && frame_core.avail != 0;
      ensures \result == \null && frame_ok && frame_core.nframes == \old(frame_core.nframes);
      ensures out->pa % PAGE_SIZE == 0 && out->pa / PAGE_SIZE < frame_core.nframes;
      ensures \at(free_frame(out->pa / PAGE_SIZE), Pre);
      ensures single(out->pa / PAGE_SIZE, owner) && zeroed(out->pa / PAGE_SIZE);
      ensures \forall integer j; 0 <= j < frame_core.nframes && j != out->pa / PAGE_SIZE ==>
                (free_frame(j) <==> \at(free_frame(j), Pre)) && used_same{Pre, Post}(j);
    complete behaviors;
    disjoint behaviors;
*/
static inline err_t kalloc(enum frame_owner owner, paddr_t *out)
{
	if (__builtin_expect(!frame_can_own(owner), 0))
		return frame_err_owner;
	if (__builtin_expect(frame_core.depth == 0, 0))
		return frame_kalloc_refill(owner, out);
	return frame_quick_pop(owner, out);
}

/* Why kfree refuses pa: what frame_free(pa, 1, owner) would refuse it for,
 * never NULL (a frame that frame_free would take as a one-frame run of
 * `owner` is one that kfree's fast path takes; in a table where it is not,
 * a CHECK fails). Changes nothing. Out of line, and known to the compiler
 * to return an error, so that a caller's fast path goes on alone. */
/*@ assigns \nothing;
    ensures \result != \null;
*/
err_t frame_kfree_refused(paddr_t pa, enum frame_owner owner) __attribute__((returns_nonnull));

/* kfree's fast path checks the whole entry: a single-frame run of `owner`.
 * Anything else is refused (frame_kfree_refused says why). */
/*
 * kfree's contract: a frame that is a one-frame run of `owner`
 * becomes free; no other frame became or stopped being free, no used entry
 * changed, and the quick stack stays injective. Anything else is refused
 * and changes nothing.
 */
/*@ requires frame_ok;
    assigns frame_core, frame_core.tab[0 .. frame_core.nframes - 1],
        frame_core.zeroed[0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE];
    ensures frame_core.nframes == \old(frame_core.nframes);
    behavior kept:
      ensures kfree_ok: frame_ok;
    behavior owned_single:
      assumes pa.pa % PAGE_SIZE == 0 && pa.pa / PAGE_SIZE < frame_core.nframes
          && can_own_p(owner) &&
              zeroed(pa.pa / PAGE_SIZE) && single(pa.pa / PAGE_SIZE, owner);
      ensures kfree_freed: \result == \null && free_frame(pa.pa / PAGE_SIZE);
      ensures kfree_free: \forall integer j;
          0 <= j < frame_core.nframes && j != pa.pa / PAGE_SIZE ==>
              (free_frame(j) <==> \at(free_frame(j), Pre));
      ensures kfree_used: \forall integer j;
          0 <= j < frame_core.nframes && j != pa.pa / PAGE_SIZE ==> used_same{Pre, Post}(j);
    behavior refused:
      assumes !(pa.pa % PAGE_SIZE == 0 && pa.pa / PAGE_SIZE < frame_core.nframes
          && can_own_p(owner) &&
              zeroed(pa.pa / PAGE_SIZE) && single(pa.pa / PAGE_SIZE, owner));
      assigns \nothing;
      ensures kfree_refused: \result != \null;
*/
static inline err_t kfree(paddr_t pa, enum frame_owner owner)
{
	const uint64_t a = pa_addr(pa);

	if (__builtin_expect(a % PAGE_SIZE == 0 && a >> PAGE_SHIFT < frame_core.nframes &&
	                         frame_can_own(owner),
	                     1)) {
		/* one frame number for the test and the push: with a kalloc inline
		 * after it, the compiler sees the popped frame is this one */
		const uint32_t i = (uint32_t)(a >> PAGE_SHIFT);
		if (__builtin_expect(
		        frame_page_zeroed(i) && frame_is_single(&frame_core.tab[i], owner), 1)) {
			if (FRAME_JUNK)
				frame_junk(i, 1, FRAME_JUNK_FREE);
			frame_quick_push(i);
			//@ for kept: assert kfree_pushed: frame_ok;
			/* after the push's drain: a kalloc's ++ meets it */
			/* for the prover: the count is no part of free_frame */
			//@ ghost pushed:;
			frame_core.owned[owner]--;
			/*@ for owned_single: assert kfree_count: \forall integer j;
			      0 <= j < frame_core.nframes ==>
			        (free_frame(j) <==> \at(free_frame(j), pushed));
			*/
			/*@ for kept: assert kfree_table: table_ok; */
			/*@ for kept: assert kfree_quick: quick_ok; */
			return NULL;
		}
	}
	return frame_kfree_refused(pa, owner);
}

#endif
