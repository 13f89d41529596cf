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
 * pt_err_nomem and the tree is bit-for-bit as before, no frame taken. The
 * counting pass alone answers, for callers that reserve table pages ahead
 * of a whole batch of operations, what the batch needs (pt_count_*).
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

#include "platform.h"
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

/*
 * Dry runs: how many table pages operations would take, answered by the
 * operation's own prepare pass (the same walk, changing nothing), so that
 * a layer above reserves exactly what paging says instead of deriving it.
 *
 * A tally adds up the table pages of several operations on one or more
 * trees, counting each table (a tree, a level, a place) once however many
 * counted operations would make it. pt_count_map, pt_count_unmap and
 * pt_count_protect take the arguments of pt_map, pt_unmap and pt_protect
 * (and fail as they would, adding nothing); each counts its operation on
 * the tree as it is now.
 *
 * The bound: let o_1 .. o_m be operations on trees T (unmaps, protects
 * that only clear attributes, and maps, none with PT_SMALL), all counted
 * into one tally on the trees as they are, then run in that order with
 * table pages taken from a stash and given back into it (pt_mem.put).
 * The stash never runs dry if it starts with tally->need pages, provided
 *  (C1) no operation cuts (covers only part of) an entry that an earlier
 *       map of the run wrote whole, and
 *  (C2) no map covers only part of an entry that an earlier operation of
 *       the run covered whole, where the tree at the start already mapped
 *       the map's range exactly as the map would.
 * Why: an operation makes a table at place P (level l) only by going down
 * through an entry E above P that is absent or a leaf. If some table was
 * at P earlier in the run (at the start, or made since) and is gone, it
 * was given back to the stash, and the page is matched with that return
 * (each return at most once: between two tables at P there is a return).
 * Otherwise no table was ever at P, and the tree at the start had, over
 * E's place, a leaf L containing it, or an absent entry. Operations only
 * make leaves by writing a whole entry (excluded under a later cut by
 * C1) or by merging a table (then a table was at P or above it, and the
 * tables it freed are matched as above), so for an unmap or protect E's
 * place is covered by L, which the operation cuts as it cuts E (the same
 * range), with attributes that contain E's (protect only clears), so the
 * operation counted on the start tree splits L down through P: P is in
 * the tally. For a map, the start tree's L or absent entry is likewise
 * split or filled down through P, unless L already mapped the range
 * exactly so, and then E changed since by an earlier operation covering
 * it whole, which C2 excludes. So each page taken is either in the tally
 * or matched with an earlier return: the stash never holds fewer than
 * tally->need minus what the tally's tables already took.
 *
 * Counting costs one walk per operation (a 4K operation whose level-0
 * table is there answers 0 from the walk hint); the tally remembers up to
 * PT_TALLY_SLOTS tables and counts past that without merging duplicates,
 * which only overcounts.
 */
#define PT_TALLY_SLOTS 4096
struct pt_tally {
	uint64_t need; /* table pages */
	uint32_t gen, used;
	struct {
		uint64_t root, place; /* the tree's root; the table's level and place */
		uint32_t gen;
	} seen[PT_TALLY_SLOTS];
};
/* Start a tally at 0 (O(1)). */
void pt_tally_begin(struct pt_tally *t);
/* A tree that does not exist yet, for counting only: what pt_init would
 * make (its root counted as a table), empty. Nothing is taken. */
void pt_blank(struct pt *pt, bool gib_pages);
err_t pt_count_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t len, pt_attr_t a, unsigned flags,
                   struct pt_tally *t);
err_t pt_count_unmap(struct pt *pt, vaddr_t va, uint64_t len, struct pt_tally *t);
err_t pt_count_protect(struct pt *pt, vaddr_t va, uint64_t len, pt_attr_t clear, pt_attr_t set,
                       struct pt_tally *t);

/* What one address translates to. */
struct pt_hit {
	paddr_t pa;     /* the byte va translates to */
	pt_attr_t attr; /* the leaf's attributes */
	unsigned level; /* 0, 1, 2: a 4K, 2M or 1G entry */
};
/* Translate va (any alignment). False if nothing maps it or va is not
 * canonical. Changes nothing but the walk hint. Inline: an address in the
 * 2 MiB of the level-0 hint is one tag compare and one entry read here, in
 * the caller; one in the 1 GiB of the level-1 hint whose PD entry points to
 * a table is two entry reads (and sets the level-0 hint); outside the
 * level-1 hint's 1 GiB it calls pt_lookup_walk (the whole walk, which sets
 * the hints), and for a 2M leaf or an absent PD entry there pt_lookup_slow.
 * pt_lookup_slow is the whole lookup out of line, for callers that may not
 * reach the machine seam themselves (the console). */
bool pt_lookup_slow(struct pt *pt, vaddr_t va, struct pt_hit *hit);
/* The walk from the root (no hint consulted), setting the hints as it passes
 * a PD and a PT: pt_lookup's call when va is outside both hints, straight to
 * the walk rather than through pt_lookup_slow's hint tests again (a tree of
 * 1G leaves has no level-1 hint, so every lookup in it comes here). */
bool pt_lookup_walk(struct pt *pt, vaddr_t va, struct pt_hit *hit);
extern pt_attr_t pt_attr0_of[256]; /* pte_attr(e, 0) by e's bits 8:1, XD set; by pt_init */

/*
 * For `make prove` (ACSL, see docs/ARCHITECTURE.md): the machine seam as the
 * proof assumes it, and what a struct pt holds between calls.
 *
 * The tables lie in one block of memory, pt_ram (physical memory as pt.c
 * sees it; the table at physical address pa is pt_ram + pa / 8), that holds
 * no struct pt and no operation's state: PT_APART(p). A set hint points
 * into a table (pt_ok), so that the lookups read through it safely.
 */
#define PT_APART(p) (\base_addr(p) != \base_addr(pt_ram)) /* ACSL only */
/*@ axiomatic PtSeam {
      logic pte_t *pt_ram;
    }
    predicate pt_in_ram(pte_t *p) =
      \base_addr(p) == \base_addr(pt_ram) && 0 <= p - pt_ram <= 0x3fffffffffffffff;
    predicate pt_table(pte_t *t) =
      \valid(t + (0 .. PT_ENTRIES - 1)) && pt_in_ram(t) && t - pt_ram <= 0x3ffffffffffffe00;
    predicate pt_ok(struct pt *pt) =
      \valid(pt) && \valid(pt_ram) && PT_APART(pt) && pt->top_leaf <= 2 &&
      (pt->hint_tag != 0xffffffffffffffff ==>
        pt_table(pt->hint_pt) && \valid(pt->hint_pd) && pt_in_ram(pt->hint_pd)) &&
      (pt->hint_dtag != 0xffffffffffffffff ==> pt_table(pt->hint_dir));
*/

/* The machine seam for tables: the page at physical address pa as its 512
 * entries. For `make prove` a stub contract, assumed: every table address
 * the tree holds is a page of 512 entries in pt_ram. */
/*@ assigns \nothing;
    ensures \result == pt_ram + pa.pa / 8 && pt_table(\result);
*/
static inline pte_t *pt_table_at(paddr_t pa)
{
	return plat_pa_to_ptr(pa);
}

/* Make the level-0 table `table`, pointed to by PD entry *pd, the walk hint
 * for va's 2 MiB. */
/*@ requires \valid(pt) && pt_table(table) && \valid(pd) && pt_in_ram(pd);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt;
    ensures pt->hint_tag == v >> 21 && pt->hint_pd == pd && pt->hint_pt == table;
*/
static inline void pt_hint_set(struct pt *pt, uint64_t v, pte_t *pd, pte_t *table)
{
	pt->hint_tag = v >> 21;
	pt->hint_pd = pd;
	pt->hint_pt = table;
}

/* The attributes of a level-0 leaf: one load and the XD bit. */
/*@ assigns \nothing; */
static inline pt_attr_t pt_leaf0_attr(pte_t e)
{
	return pt_attr0_of[(e >> 1) & 0xff] | (pt_attr_t)((~e & PTE_XD) >> 61);
}

/*@ requires pt_ok(pt) && \valid(hit) && \separated(pt, hit);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->hint_dtag, pt->hint_dir, *hit;
    ensures pt_ok(pt);
*/
static inline bool pt_lookup(struct pt *pt, vaddr_t va, struct pt_hit *hit)
{
	const uint64_t v = va_addr(va);

	if (__builtin_expect(v >> 21 != pt->hint_tag, 0)) { /* the tags are canonical */
		if (v >> 30 != pt->hint_dtag) /* first: with no level-1 hint, hint_dir is NULL */
			return pt_lookup_walk(pt, va, hit);
		pte_t *pd = &pt->hint_dir[pt_index(v, 1)];
		if (pte_kind(*pd, 1) != PTE_TABLE)
			return pt_lookup_slow(pt, va, hit);
		pt_hint_set(pt, v, pd, pt_table_at(pte_next(*pd)));
	}
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
/*@ requires \valid_read(pt); assigns \nothing; */
static inline paddr_t pt_root(const struct pt *pt)
{
	return pt->root;
}
/*@ requires \valid_read(pt); assigns \nothing; */
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
