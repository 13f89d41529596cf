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
err_t kalloc(enum frame_owner owner, paddr_t *out);

/* Take back a frame kalloc handed to `owner`: exactly frame_free(pa, 1, owner)
 * (the frame goes on the quick stack). */
err_t kfree(paddr_t pa, enum frame_owner owner);

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

#endif
