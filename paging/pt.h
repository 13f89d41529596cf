/*
 * paging: a 4-level x86-64 page-table driver.
 *
 * A `struct pt` is one tree of tables under a root (a PML4). Range
 * operations map, unmap, protect and look up; each picks 4K, 2M and 1G
 * entries by itself wherever alignment and physical contiguity allow, splits
 * a superpage that an operation cuts, merges a table whose 512 entries form
 * one aligned, contiguous, uniform run back into a superpage, and frees a
 * table the moment it is empty. So after any sequence of operations (none
 * with PT_SMALL) the tree holds the fewest entries that translate the same.
 *
 * Every operation is prepare-then-commit: it first counts the table pages
 * it will need (walking only the tables it touches), takes them all, and
 * only then changes entries; when memory runs out it fails with
 * pt_err_nomem and the tree is bit-for-bit as before, no frame taken.
 *
 * When the tree is the one in CR3, each operation invalidates the TLB
 * entries it changed (invlpg), or flushes the whole TLB past PT_TLB_BATCH
 * pages or when a table page was freed, before it returns.
 *
 * Addresses: virtual ranges are canonical and lie in one half (below
 * 2^47, or at or above 0xffff800000000000); physical addresses are below
 * 2^52; everything is 4K-aligned; a length of 0 is an error.
 *
 * Table pages come through one narrow door (struct pt_mem), so the layer
 * knows nothing of who owns memory; pt_mem_frames is the frame allocator
 * (owner FRAME_PTABLE). Calls go down only: to frames (through the door),
 * and to the machine seam.
 */
#ifndef MEMMON_PT_H
#define MEMMON_PT_H

#include "pte.h"
#include "types.h"

/* Where table pages come from: get one (contents undefined) or give one
 * back. A test hands in a door that fails on the Nth get. */
struct pt_mem {
	err_t (*get)(void *ctx, paddr_t *out);
	void (*put)(void *ctx, paddr_t pa);
	void *ctx;
};
extern const struct pt_mem pt_mem_frames;

struct pt {
	paddr_t root;        /* the PML4 */
	unsigned top_leaf;   /* the largest leaf: 1 (2M) or 2 (1G, with pdpe1gb) */
	unsigned root_count; /* present entries in the root */
	uint64_t tables;     /* table pages held, the root included */
	struct pt_mem mem;
	/* The walk hint: the last level-0 table walked to, for the 2 MiB of
	 * canonical addresses whose bits 63:21 are hint_tag, and the PD entry pointing
	 * at it. Valid until a general range operation runs (the single-page
	 * paths neither free nor move a table). */
	uint64_t hint_tag;
	pte_t *hint_pt, *hint_pd;
	/* The same one level up: the last level-1 table (PD) walked to, for
	 * the 1 GiB of canonical addresses whose bits 63:30 are hint_dtag. */
	uint64_t hint_dtag;
	pte_t *hint_dir;
};

/* Operation flags. */
#define PT_SMALL 0x1u /* write only 4K entries and merge nothing (benchmarks) */

/* A new, empty tree: takes the root page. gib_pages: the CPU has 1 GiB
 * pages (CPUID 80000001h EDX bit 26). */
err_t pt_init(struct pt *pt, const struct pt_mem *mem, bool gib_pages);

/* Free every table page, the root included. The tree must not be in CR3. */
void pt_destroy(struct pt *pt);

/*
 * Map [va, va + len) to [pa, pa + len) with attributes `a` (PT_R must be
 * set), replacing whatever was mapped there. Needs the table pages for the
 * new entries and for splitting superpages cut at the range's ends.
 */
err_t pt_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t len, pt_attr_t a, unsigned flags);

/* Remove every translation in [va, va + len). Absent pages are no error.
 * May need table pages to split superpages cut at the range's ends. */
err_t pt_unmap(struct pt *pt, vaddr_t va, uint64_t len);

/*
 * Change the attributes of every page mapped in [va, va + len): each becomes
 * (attributes & ~clear) | set. Absent pages stay absent. Clearing PT_W or
 * PT_X takes rights away; clearing PT_R is an error. A superpage is split
 * only where the range cuts it and its attributes change.
 */
err_t pt_protect(struct pt *pt, vaddr_t va, uint64_t len, pt_attr_t clear, pt_attr_t set);

/* What one address translates to. */
struct pt_hit {
	paddr_t pa;     /* the byte va translates to */
	pt_attr_t attr; /* the leaf's attributes */
	unsigned level; /* 0, 1, 2: a 4K, 2M or 1G entry */
};
/* Translate va (any alignment). False if nothing maps it or va is not
 * canonical. Changes nothing but the walk hint. Inline: an address in the
 * 2 MiB of the level-0 hint is one tag compare and one entry read here, in
 * the caller; anything else calls pt_lookup_slow (the level-1 hint, or the
 * whole walk, which sets the hints). */
bool pt_lookup_slow(struct pt *pt, vaddr_t va, struct pt_hit *hit);
extern pt_attr_t pt_attr0_of[256]; /* pte_attr(e, 0) by e's bits 8:1, XD set; by pt_init */

/* The attributes of a level-0 leaf: one load and the XD bit. */
static inline pt_attr_t pt_leaf0_attr(pte_t e)
{
	return pt_attr0_of[(e >> 1) & 0xff] | (pt_attr_t)((~e & PTE_XD) >> 61);
}

static inline bool pt_lookup(struct pt *pt, vaddr_t va, struct pt_hit *hit)
{
	const uint64_t v = va_addr(va);

	if (__builtin_expect(v >> 21 != pt->hint_tag, 0)) /* the tag is canonical */
		return pt_lookup_slow(pt, va, hit);
	const pte_t e = pt->hint_pt[pt_index(v, 0)];
	if (pte_kind(e, 0) == PTE_ABSENT)
		return false;
	hit->pa = pa_init(pte_frame(e, 0) | (v & (PAGE_SIZE - 1)));
	hit->attr = pt_leaf0_attr(e);
	hit->level = 0;
	return true;
}

/* The walk of one address, for `walk`: the entry read at each level from
 * the root down, until a leaf or an absent entry, raw and decoded (so that
 * no caller decodes an entry itself). */
struct pt_walk {
	unsigned depth; /* entries read (1..4); 0: va not canonical */
	struct {
		paddr_t table; /* the table read */
		unsigned index;
		unsigned level; /* what one entry of this table covers: 3 (root) .. 0 */
		pte_t entry;    /* the raw entry, as the MMU reads it */
		enum pte_kind kind;
		paddr_t next;   /* PTE_TABLE: the table it points to */
		unsigned count; /* PTE_TABLE: present entries in that table */
		paddr_t frame;  /* PTE_LEAF: the first frame it maps */
		pt_attr_t attr; /* PTE_LEAF: its attributes */
	} step[PT_LEVELS];      /* step[0] is the root (level 3) */
};
void pt_walk(const struct pt *pt, vaddr_t va, struct pt_walk *w);

/* A run of leaves: same size and attributes, consecutive virtual pages
 * mapping consecutive frames. */
struct pt_run {
	vaddr_t start; /* canonical */
	uint64_t len;  /* bytes */
	paddr_t pa;
	pt_attr_t attr;
	unsigned level;
};
/* Call fn for each maximal run in address order (lower half, then upper
 * half; no run crosses the canonical hole); stop early if fn returns
 * false. O(entries of every table). */
void pt_runs(const struct pt *pt, bool (*fn)(void *ctx, const struct pt_run *r), void *ctx);

/* Counts of the tree: table pages, and leaves by level. Reads every entry
 * of every table: O(512 * tables). */
struct pt_census {
	uint64_t tables;
	uint64_t leaves[3];
	uint64_t pages; /* 4K pages mapped */
};
void pt_census(const struct pt *pt, struct pt_census *c);

/* The tree's root (the PML4, what CR3 holds when it is live) and the
 * table pages it holds, the root included. */
static inline paddr_t pt_root(const struct pt *pt)
{
	return pt->root;
}
static inline uint64_t pt_tables(const struct pt *pt)
{
	return pt->tables;
}

/* Make this tree the live one: load its root into CR3. It stays the live
 * one (operations on it keep the TLB clean, pt_destroy refuses it) until
 * another tree is loaded; code that switches CR3 for a moment and back
 * does not change that. */
void pt_load(const struct pt *pt);
bool pt_live(const struct pt *pt);

/* Failures, compared by identity. */
extern const char pt_err_nomem[];  /* no frame for a table page */
extern const char pt_err_align[];  /* an address or length not 4K-aligned, or a zero length */
extern const char pt_err_range[];  /* not canonical, crossing the hole, or beyond 2^52 physical */
extern const char pt_err_rights[]; /* attributes without PT_R, or bits that are no attribute */

/* Past this many changed pages in one operation, flush the whole TLB. */
#define PT_TLB_BATCH 32

#endif
