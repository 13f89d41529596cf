/*
 * The page-table driver. See pt.h for the contract and pte.h for the entry.
 *
 * Addresses inside this file are 48-bit "linear" offsets: a canonical
 * address with its top 16 bits dropped, so that the upper half is simply
 * [2^47, 2^48) and a range end of 2^48 needs no special case. They become
 * canonical again only where they leave the file (invlpg, runs).
 *
 * Every range operation is one recursive walk (visit) from the root that
 * touches only the tables under the range, run twice: first counting the
 * table pages the change needs (changing nothing; where a table would be
 * created or a superpage split, the walk continues through a "virtual"
 * table whose entries are computed rather than read), then, with that many
 * pages in hand, for real. Both passes make the same decision at every
 * entry, because it is the same code.
 */
#include "pt.h"

#include "frame.h"
#include "platform.h"

#ifdef __FRAMAC__
/* For `make prove` only: what a failed CHECK calls (monitor/types.h) never
 * returns (declared noreturn there; monitor/panic.c ends in plat_halt), so
 * after a CHECK its condition holds. Stated here rather than in
 * proof/prover.h so that it leaves the other units as they were. */
/*@ assigns \nothing;
    ensures \false;
*/
void mon_panic(const char *file, int line, const char *what);
#endif

const char pt_err_nomem[] = "out of memory for page tables";
const char pt_err_align[] = "address or size not 4K-aligned, or size zero";
const char pt_err_range[] = "address not canonical, range crossing the canonical hole, or "
                            "physical address beyond 52 bits";
const char pt_err_rights[] = "attributes without read, or unknown attribute bits";

_Static_assert(PT_ENTRIES * sizeof(pte_t) == PAGE_SIZE, "a table is one page");

#define LIN_BITS      48
#define LIN_TOP       ((uint64_t)1 << LIN_BITS)
#define LIN_HALF      ((uint64_t)1 << (LIN_BITS - 1))
#define PA_TOP        ((uint64_t)1 << 52)
#define NO_PAGE       (~(uint64_t)0) /* the end of a chain of pages */
#define NO_HINT       (~(uint64_t)0)
#define PT_RETIRE_MAX 16 /* retired subtrees an operation holds before it flushes */

/* pte_leaf(0, 0, a) for every attribute value, and (pt_attr0_of, pt.h)
 * pte_attr(e, 0) for every value of a level-0 leaf's bits 8:1 (all its
 * attribute bits but XD), both filled by pt_init: the single-page paths
 * build and read an entry with one load. */
static pte_t leaf0_bits[PT_ATTR_MASK + 1];
pt_attr_t pt_attr0_of[256];

/*@ assigns \nothing; */
static inline pt_attr_t leaf0_attr(pte_t e)
{
	return pt_leaf0_attr(e);
}

/* The root pt_load put in CR3. Code that switches CR3 for a moment (and
 * back) leaves it alone. */
static uint64_t live_root = NO_PAGE;

/*@ assigns \nothing; */
static uint64_t canon(uint64_t lin)
{
	return lin & LIN_HALF ? lin | ~(LIN_TOP - 1) : lin;
}

/*@ assigns \nothing; */
static bool is_canonical(uint64_t va)
{
	uint64_t top = va >> (LIN_BITS - 1);
	return top == 0 || top == (~(uint64_t)0 >> (LIN_BITS - 1));
}

/* The machine seam (pt_table_at, pt.h: for `make prove` a stub contract,
 * assumed): every table address the tree holds is a page of 512 entries in
 * the table memory pt_ram. */
/*@ assigns \nothing;
    ensures \result == pt_ram + pa.pa / 8 && pt_table(\result);
*/
static pte_t *table_at(paddr_t pa)
{
	return pt_table_at(pa);
}

/* What an operation may write in the tables, for `make prove`: any entry
 * of the table memory (pt_ram + pa / 8 for a 64-bit pa). */
#define PT_RAM_ENTRIES pt_ram[0..0x3fffffffffffffff]

/* What the walk over one operation (visit and the functions it calls) may
 * write: the batches, the tally, the stash, and the tables. */
/* (clang-format would write 0..N, which the preprocessor reads as one
 * number and so leaves N unexpanded.) */
// clang-format off
#define OP_WALK_WRITES \
	o->tlb_all, o->ntlb, o->tlb[0 .. PT_TLB_BATCH - 1], o->nretired, \
	o->retired[0 .. PT_RETIRE_MAX - 1], o->need, o->stash, o->pt->tables, o->tally->need, \
	o->tally->seen[0 .. PT_TALLY_SLOTS - 1], o->tally->used, PT_RAM_ENTRIES
// clang-format on

/* After a step of the walk: the operation still well formed, its range
 * the same. */
#define OP_KEPT op_ok(o) && o->a == \old(o->a) && o->b == \old(o->b)

/* ---- the frame allocator as the door ------------------------------------ */

/*@ requires frame_ok && out_ok(out);
    assigns frame_core, frame_core.tab[0 .. frame_core.nframes - 1],
        frame_core.zeroed[0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE], *out;
*/
static err_t frames_get(void *ctx, paddr_t *out)
{
	(void)ctx;
	return kalloc(FRAME_PTABLE, out) ? pt_err_nomem : NULL;
}

/*@ requires frame_ok;
    assigns frame_core, frame_core.tab[0 .. frame_core.nframes - 1],
        frame_core.zeroed[0 .. (frame_core.nframes - 1) / FRAME_PER_PAGE];
*/
static void frames_put(void *ctx, paddr_t pa)
{
	(void)ctx;
	err_t e = kfree(pa, FRAME_PTABLE);
	CHECK(!e);
}

const struct pt_mem pt_mem_frames = {frames_get, frames_put, NULL};

/* Through the door: calls through its pointers. For `make prove` part of
 * the machine seam, stub contracts assumed (WP 25 has no contract for the
 * target of a function pointer): get writes *out and nothing pt.c reads,
 * put writes nothing pt.c reads (a page given back is not read again). */
/*@ requires \valid_read(mem) && \valid(out);
    assigns *out;
*/
static inline err_t mem_get(const struct pt_mem *mem, paddr_t *out)
{
	return mem->get(mem->ctx, out);
}

/*@ requires \valid_read(mem);
    assigns \nothing;
*/
static inline void mem_put(const struct pt_mem *mem, paddr_t pa)
{
	mem->put(mem->ctx, pa);
}

/* ---- one operation ------------------------------------------------------- */

enum op_kind { OP_MAP, OP_UNMAP, OP_PROTECT };

struct op {
	struct pt *pt;
	enum op_kind kind;
	bool counting;     /* the prepare pass: count table pages, change nothing */
	bool merge;        /* merge uniform tables into superpages */
	unsigned max_leaf; /* map: the largest leaf it may write */
	uint64_t a, b;     /* the range [a, b), linear */
	uint64_t pa;       /* map: the frame of a; linear s maps pa + (s - a) */
	pt_attr_t attr;    /* map */
	pt_attr_t clear;   /* protect */
	pt_attr_t set;
	uint64_t need;          /* prepare: table pages the commit takes */
	struct pt_tally *tally; /* a dry run only: count into this, each table once */
	uint64_t stash;         /* commit: pages taken for it, chained through their first word */
	unsigned nretired;      /* commit: tables cut off from the tree, given back (with */
	struct {                /* their subtrees) once no TLB can reach them */
		paddr_t pa;
		unsigned level;
	} retired[PT_RETIRE_MAX];
	bool live;    /* the tree is in CR3 */
	bool tlb_all; /* flush the whole TLB at the end */
	unsigned ntlb;
	uint64_t tlb[PT_TLB_BATCH]; /* canonical addresses to invlpg */
};

/* For `make prove`: an operation in progress. Its state and tree lie apart
 * from the tables and from each other; its range is 4K-aligned, non-empty
 * and linear; a map's frames [pa, pa + (b - a)) are 4K-aligned below
 * 2^52 and its attributes known bits; the batches stay in their arrays. */
/*@ predicate op_ok(struct op *o) =
      \valid(o) && PT_APART(o) && pt_ok(o->pt) && \separated(o, o->pt) &&
      o->ntlb <= PT_TLB_BATCH && o->nretired <= PT_RETIRE_MAX &&
      (\forall integer k; 0 <= k < o->nretired ==> o->retired[k].level < PT_LEVELS) &&
      o->a < o->b <= LIN_TOP && o->a % 0x1000 == 0 && o->b % 0x1000 == 0 &&
      o->max_leaf <= 2 &&
      (o->kind == OP_MAP ==> (o->attr & ~PT_ATTR_MASK) == 0 && o->pa % 0x1000 == 0 &&
        o->pa + (o->b - o->a) <= PA_TOP) &&
      (o->kind == OP_PROTECT ==> (o->set & ~PT_ATTR_MASK) == 0) &&
      (o->tally != \null ==> \valid(o->tally) && PT_APART(o->tally) &&
        \separated(o->tally, o, o->pt));
*/

/* An operation of this kind on pt over the linear [a, b): a map's frames
 * from pa with attributes attr (flags: PT_SMALL), a protect's clear and
 * set; a dry run's tally (else NULL). The batches start empty; the rest is
 * for run or count to set. */
/*@ requires \valid(o) && PT_APART(o) && pt_ok(pt) && \separated(o, pt);
    requires a < b <= LIN_TOP && a % 0x1000 == 0 && b % 0x1000 == 0;
    requires kind == OP_MAP ==>
      pa % 0x1000 == 0 && pa + (b - a) <= PA_TOP && (attr & ~PT_ATTR_MASK) == 0;
    requires kind == OP_PROTECT ==> (set & ~PT_ATTR_MASK) == 0;
    requires tally != \null ==> \valid(tally) && PT_APART(tally) && \separated(tally, o, pt);
    assigns *o;
    ensures op_ok(o) && o->pt == pt && o->nretired == 0 && o->tally == tally;
*/
static inline void op_init(struct op *o, struct pt *pt, enum op_kind kind, uint64_t a, uint64_t b,
                           uint64_t pa, pt_attr_t attr, pt_attr_t clear, pt_attr_t set,
                           unsigned flags, struct pt_tally *tally)
{
	o->pt = pt;
	o->kind = kind;
	o->counting = false;
	o->merge = kind != OP_MAP || !(flags & PT_SMALL);
	o->max_leaf = kind == OP_MAP && !(flags & PT_SMALL) ? pt->top_leaf : 0;
	o->a = a;
	o->b = b;
	o->pa = pa;
	o->attr = attr;
	o->clear = clear;
	o->set = set;
	o->need = 0;
	o->tally = tally;
	o->stash = NO_PAGE;
	o->nretired = 0;
	o->live = false;
	o->tlb_all = false;
	o->ntlb = 0;
}

/*@ requires \valid(head) && PT_APART(head);
    assigns *head, PT_RAM_ENTRIES;
    ensures *head == pa.pa;
*/
static void chain_push(uint64_t *head, paddr_t pa)
{
	table_at(pa)[0] = *head;
	*head = pa_addr(pa);
}

/*@ requires \valid(head);
    assigns *head;
    ensures \result.pa == \old(*head);
*/
static paddr_t chain_pop(uint64_t *head)
{
	CHECK(*head != NO_PAGE);
	paddr_t pa = pa_init(*head);
	*head = table_at(pa)[0];
	return pa;
}

/* A translation of [s, s + size) changed. A superpage may sit in the TLB
 * as several smaller entries, so its change flushes everything. */
/*@ requires \valid(o) && o->ntlb <= PT_TLB_BATCH;
    assigns o->tlb_all, o->ntlb, o->tlb[0 .. PT_TLB_BATCH - 1];
    ensures o->ntlb <= PT_TLB_BATCH && o->nretired == \old(o->nretired);
*/
static void tlb_note(struct op *o, uint64_t s, unsigned level)
{
	if (!o->live)
		return;
	if (level > 0 || o->ntlb == PT_TLB_BATCH)
		o->tlb_all = true;
	else
		o->tlb[o->ntlb++] = canon(s);
}

/* Give back the table at `pa` (a level-`level` table) and every table
 * below it. Nothing has written them since they were cut off. */
/*@ requires \valid(pt) && level < PT_LEVELS;
    assigns pt->tables;
*/
static void free_tree(struct pt *pt, paddr_t pa, unsigned level)
{
	if (level > 0) {
		const pte_t *t = table_at(pa);
		/*@ loop invariant 0 <= i <= PT_ENTRIES;
		    loop assigns i, pt->tables; */
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (pte_kind(t[i], level) == PTE_TABLE)
				free_tree(pt, pte_next(t[i]), level - 1);
	}
	mem_put(&pt->mem, pa);
	pt->tables--;
}

/* Give back the retired tables: on a live tree, only after a flush, since
 * the paging-structure caches may still lead into them (and the allocator
 * writes into what it is given). */
/*@ requires \valid(o) && \valid(o->pt) && o->nretired <= PT_RETIRE_MAX;
    requires \forall integer k; 0 <= k < o->nretired ==> o->retired[k].level < PT_LEVELS;
    assigns o->nretired, o->pt->tables;
    ensures o->nretired == 0;
*/
static void drain(struct op *o)
{
	if (o->live && o->nretired)
		plat_flush_tlb();
	/*@ loop invariant 0 <= k <= o->nretired;
	    loop assigns k, o->pt->tables; */
	for (unsigned k = 0; k < o->nretired; k++)
		free_tree(o->pt, o->retired[k].pa, o->retired[k].level);
	o->nretired = 0;
}

/* The entry that led to the table at `pa` (a level-`level` table) no longer
 * does: give it and its subtree back once no TLB can reach them. Neither
 * is written before then. */
/*@ requires \valid(o) && \valid(o->pt) && o->nretired <= PT_RETIRE_MAX && level < PT_LEVELS;
    requires \forall integer k; 0 <= k < o->nretired ==> o->retired[k].level < PT_LEVELS;
    assigns o->nretired, o->retired[0 .. PT_RETIRE_MAX - 1], o->tlb_all, o->pt->tables;
    ensures 0 < o->nretired <= PT_RETIRE_MAX && o->ntlb == \old(o->ntlb);
    ensures \forall integer k; 0 <= k < o->nretired ==> o->retired[k].level < PT_LEVELS;
*/
static void retire(struct op *o, paddr_t pa, unsigned level)
{
	if (o->nretired == PT_RETIRE_MAX)
		drain(o);
	o->retired[o->nretired].pa = pa;
	o->retired[o->nretired++].level = level;
	o->tlb_all |= o->live;
}

/* A fresh table for the commit: empty, or the 512 pieces of leaf `e` (at
 * level + 1) if e is a leaf; its count is 0 or 512. `filled`: the
 * caller writes all 512 entries of this empty level-0 table before anything
 * reads one, so it need not be zeroed. */
/*@ requires \valid(o) && \valid(o->pt) && level < PT_LEVELS - 1;
    requires \separated(o, o->pt) && PT_APART(o) && PT_APART(o->pt);
    requires pte_present(e) ==> pte_is_leaf(e, level + 1);
    assigns o->stash, o->pt->tables, PT_RAM_ENTRIES;
*/
static paddr_t new_table(struct op *o, pte_t e, unsigned level, bool filled)
{
	paddr_t pa = chain_pop(&o->stash);
	pte_t *t = table_at(pa);

	o->pt->tables++;
	if (pte_kind(e, level + 1) == PTE_ABSENT) {
		if (!filled)
			/*@ loop invariant 0 <= i <= PT_ENTRIES;
			    loop assigns i, t[0 .. PT_ENTRIES - 1]; */
			for (unsigned i = 0; i < PT_ENTRIES; i++)
				t[i] = 0;
	} else {
		const uint64_t f = pte_frame(e, level + 1);
		/* For the prover: a split leaf is at level 1, 2 (or 3, which
		 * the tree never holds), so the sizes are numbers, and a frame
		 * aligned to the larger is aligned to the smaller with 511 more
		 * pages below 2^52 (one case each). */
		/*@ assert split_sizes: level == 0 && pt_size_of(level) == 0x1000 &&
		          pt_size_of((unsigned)(level + 1)) == 0x200000 ||
		      level == 1 && pt_size_of(level) == 0x200000 &&
		          pt_size_of((unsigned)(level + 1)) == 0x40000000 ||
		      level == 2 && pt_size_of(level) == 0x40000000 &&
		          pt_size_of((unsigned)(level + 1)) == 0x8000000000;
		*/
		//@ assert split_0: level == 0 ==> f % 0x1000 == 0 && f + 511 * 0x1000 < (1 << 52);
		/*@ assert split_1: level == 1 ==>
		      f % 0x200000 == 0 && f + 511 * 0x200000 < (1 << 52);
		*/
		/*@ assert split_2: level == 2 ==>
		      f % 0x40000000 == 0 && f + 511 * 0x40000000 < (1 << 52);
		*/
		//@ assert split_f: f % pt_size_of(level) == 0;
		//@ assert split_end: f + 511 * pt_size_of(level) < (1 << 52);
		pte_t first = pte_leaf(level, f, pte_attr(e, level + 1));
		/*@ loop invariant 0 <= i <= PT_ENTRIES;
		    loop assigns i, t[0 .. PT_ENTRIES - 1]; */
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			t[i] = pte_leaf_next(first, level, i);
	}
	return pa;
}

/* If the table under entry *slot (at `level`) holds 512 leaves forming one
 * aligned, contiguous, uniform run, the leaf at `level` that replaces it;
 * else 0. */
/*@ requires \valid_read(o) && \valid_read(o->pt) && o->pt->top_leaf <= 2;
    requires 0 < level < PT_LEVELS;
    assigns \nothing;
*/
static pte_t merged(const struct op *o, pte_t slot, unsigned level)
{
	if (!o->merge || level > o->pt->top_leaf || pte_count(slot) != PT_ENTRIES)
		return 0;
	const pte_t *t = table_at(pte_next(slot));
	const unsigned below = level - 1;
	pte_t first = t[0];
	if (pte_kind(first, below) != PTE_LEAF ||
	    (pte_frame(first, below) & (pt_level_size(level) - 1)))
		return 0;
	/* For the prover: the frame is aligned to the larger size, so 511
	 * more pages of the smaller stay below 2^52 (one case a level). */
	/*@ assert merge_sizes: level == 1 && pt_size_of(below) == 0x1000 &&
	        pt_size_of(level) == 0x200000 ||
	      level == 2 && pt_size_of(below) == 0x200000 && pt_size_of(level) == 0x40000000;
	*/
	//@ assert merge_aligned: pte_frame_of(first, below) % pt_size_of(level) == 0;
	/*@ assert merge_room:
	      pte_frame_of(first, below) + 511 * pt_size_of(below) < (1 << 52);
	*/
	/*@ loop invariant 1 <= i <= PT_ENTRIES;
	    loop assigns i; */
	for (unsigned i = 1; i < PT_ENTRIES; i++) {
		/* For the prover: i pages of the smaller size, i < 512 (one case a level). */
		//@ assert merge_le: i * pt_size_of(below) <= 511 * pt_size_of(below);
		/*@ assert merge_next: level == 1 && i * pt_size_of(below) <= 511 * 0x1000 ||
		      level == 2 && i * pt_size_of(below) <= 511 * 0x200000;
		*/
		if (t[i] != pte_leaf_next(first, below, i))
			return 0;
	}
	return pte_leaf(level, pte_frame(first, below), pte_attr(first, below));
}

/* Whether a tally meets table (root, place) for the first time; past
 * three quarters full it stops remembering and says yes. */
/*@ requires \valid(t);
    assigns t->seen[0 .. PT_TALLY_SLOTS - 1], t->used;
*/
static bool tally_first(struct pt_tally *t, uint64_t root, uint64_t place)
{
	uint64_t h = (root ^ place * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;

	/*@ loop invariant i < PT_TALLY_SLOTS;
	    loop assigns i; */
	for (uint32_t i = (uint32_t)(h >> 52) % PT_TALLY_SLOTS;; i = (i + 1) % PT_TALLY_SLOTS) {
		if (t->seen[i].gen != t->gen) {
			if (t->used >= PT_TALLY_SLOTS / 4 * 3)
				return true;
			t->seen[i].gen = t->gen;
			t->seen[i].root = root;
			t->seen[i].place = place;
			t->used++;
			return true;
		}
		if (t->seen[i].root == root && t->seen[i].place == place)
			return false;
	}
}

/* The prepare pass met a table that must be made: the level-`level`
 * table whose entry 0 maps linear `base`. */
/*@ requires \valid(o) && \valid_read(o->pt);
    requires o->tally != \null ==> \valid(o->tally) && \separated(o->tally, o);
    assigns o->need, o->tally->need, o->tally->seen[0 .. PT_TALLY_SLOTS - 1], o->tally->used;
    ensures \old(op_ok(o)) ==> op_ok(o) && o->a == \old(o->a) && o->b == \old(o->b);
*/
static void count_table(struct op *o, unsigned level, uint64_t base)
{
	if (!o->tally)
		o->need++;
	else if (tally_first(o->tally, pa_addr(o->pt->root), base | level))
		o->tally->need++;
}

/* The commit's level-0 work on real table t: entries lo..hi (inclusive)
 * of the table whose entry 0 maps `base`. Returns the new count. */
/*@ requires op_ok(o) && pt_table(t) && lo <= hi < PT_ENTRIES && base % 0x1000 == 0;
    requires o->a <= base + lo * 0x1000 && base + (hi + 1) * 0x1000 <= o->b;
    assigns o->tlb_all, o->ntlb, o->tlb[0 .. PT_TLB_BATCH - 1], t[lo .. hi];
    ensures op_ok(o);
*/
static unsigned visit_pt(struct op *o, pte_t *t, uint64_t base, unsigned lo, unsigned hi,
                         unsigned count)
{
	uint64_t s = base + (uint64_t)lo * PAGE_SIZE;

	switch (o->kind) {
	case OP_MAP: {
		const uint64_t f = o->pa + (s - o->a); /* the frame s maps */
		/* For the prover: s and the last page lie in [a, b), so the frames
		 * f .. f + (hi - lo) pages are below pa + (b - a) <= 2^52. */
		//@ assert in_range: o->a <= s && s + (hi - lo) * 0x1000 < o->b && s % 0x1000 == 0;
		//@ assert frames: f == o->pa + (s - o->a) && f % 0x1000 == 0;
		//@ assert frames_end: f + (hi - lo) * 0x1000 < PA_TOP;
		const pte_t first = pte_leaf(0, f, o->attr);
		/*@ assert first: pte_is_leaf(first, 0) && pte_frame_of(first, 0) == f &&
		      pt_size_of(0) == 0x1000;
		*/
		if (count == 0) { /* a fresh table: nothing to compare or invalidate */
			const unsigned last = hi - lo;
			//@ assert last == hi - lo;
			/*@ loop invariant 0 <= n <= last + 1;
			    loop assigns n, t[lo .. hi]; */
			for (uint64_t n = 0; n <= last; n++) {
				//@ assert n * 0x1000 <= (hi - lo) * 0x1000;
				t[lo + n] = pte_leaf_next(first, 0, n);
			}
			return last + 1;
		}
		/*@ loop invariant lo <= i <= hi + 1 && n == i - lo && s == base + i * 0x1000 &&
		   op_ok(o); loop assigns i, n, s, count, t[lo .. hi], o->tlb_all, o->ntlb, o->tlb[0
		   .. PT_TLB_BATCH - 1]; */
		for (uint64_t i = lo, n = 0; i <= hi; i++, n++, s += PAGE_SIZE) {
			//@ assert n * 0x1000 <= (hi - lo) * 0x1000;
			const pte_t ne = pte_leaf_next(first, 0, n);
			pte_t old = t[i];
			if (old == ne)
				continue;
			t[i] = ne;
			if (old)
				tlb_note(o, s, 0);
			else
				count++;
		}
		return count;
	}
	case OP_UNMAP:
		/*@ loop invariant lo <= i <= hi + 1 && op_ok(o);
		    loop assigns i, s, count, t[lo .. hi], o->tlb_all, o->ntlb,
		      o->tlb[0 .. PT_TLB_BATCH - 1]; */
		for (unsigned i = lo; i <= hi; i++, s += PAGE_SIZE) {
			if (!t[i])
				continue;
			t[i] = 0;
			count--;
			tlb_note(o, s, 0);
		}
		return count;
	case OP_PROTECT:
		/*@ loop invariant lo <= i <= hi + 1 && op_ok(o);
		    loop assigns i, s, t[lo .. hi], o->tlb_all, o->ntlb,
		      o->tlb[0 .. PT_TLB_BATCH - 1]; */
		for (unsigned i = lo; i <= hi; i++, s += PAGE_SIZE) {
			pte_t old = t[i];
			if (!old)
				continue;
			/* For the prover: the new attributes stay inside the mask,
			 * one step at a time (and_in_mask, or_in_mask). */
			const pt_attr_t keep = pte_attr(old, 0) & ~o->clear;
			//@ assert (keep & ~PT_ATTR_MASK) == 0;
			const pt_attr_t na = keep | o->set;
			//@ assert (na & ~PT_ATTR_MASK) == 0;
			pte_t ne = pte_leaf(0, pte_frame(old, 0), na);
			if (ne == old)
				continue;
			t[i] = ne;
			tlb_note(o, s, 0);
		}
		return count;
	}
	return count;
}

/*
 * Apply the operation to one table at `level` whose entry 0 maps `base`,
 * and which has `count` present entries; returns the new count. t is the
 * table, or NULL in the prepare pass for a table that does not exist yet:
 * then its entries are those of a table split from `vt` (a leaf at
 * level + 1), or all absent (vt == 0).
 */
/*@ requires op_ok(o) && level < PT_LEVELS;
    requires t == \null ? o->counting : pt_table(t);
    requires vt != 0 ==> t == \null && level < PT_LEVELS - 2 && pte_is_leaf(vt, level + 1);
    requires base % pt_size_of(level) == 0 && base + PT_ENTRIES * pt_size_of(level) <= LIN_TOP;
    requires o->a < base + PT_ENTRIES * pt_size_of(level) && base < o->b;
    assigns OP_WALK_WRITES;
    ensures OP_KEPT;
*/
static unsigned visit(struct op *o, pte_t *t, pte_t vt, unsigned level, uint64_t base,
                      unsigned count);

/* visit's work on one entry is split into the functions below (each called
 * once, so the compiler puts them back in place) so that the prover meets
 * them one at a time. */

/* The commit decided entry i of table t (at `level`, of kind `kind`,
 * mapping linear s) at this level: write ne over it, and retire the table
 * or note the leaf it replaces. */
/*@ requires op_ok(o) && pt_table(t) && i < PT_ENTRIES && 0 < level < PT_LEVELS;
    assigns t[i], o->tlb_all, o->ntlb, o->tlb[0 .. PT_TLB_BATCH - 1], o->nretired,
      o->retired[0 .. PT_RETIRE_MAX - 1], o->pt->tables;
    // One behaviour a path, so that the prover meets them one at a time.
    behavior table:
      assumes kind == PTE_TABLE;
      ensures OP_KEPT;
    behavior leaf:
      assumes kind == PTE_LEAF;
      ensures OP_KEPT;
    behavior absent:
      assumes kind != PTE_TABLE && kind != PTE_LEAF;
      ensures OP_KEPT;
    complete behaviors;
    disjoint behaviors;
*/
static void visit_write(struct op *o, pte_t *t, unsigned i, pte_t e, enum pte_kind kind, pte_t ne,
                        unsigned level, uint64_t s)
{
	t[i] = ne;
	if (kind == PTE_TABLE)
		retire(o, pte_next(e), level - 1);
	else if (kind == PTE_LEAF)
		tlb_note(o, s, level);
}

/* The prepare pass goes down through entry e (at `level`, mapping linear
 * s): into the table there, or into the one that would be made or split. */
/*@ requires op_ok(o) && o->counting && 0 < level < PT_LEVELS;
    requires s % pt_size_of(level) == 0 && s + pt_size_of(level) <= LIN_TOP;
    requires o->a < s + pt_size_of(level) && s < o->b;
    assigns OP_WALK_WRITES;
    ensures OP_KEPT;
*/
static void visit_count_down(struct op *o, pte_t e, unsigned level, uint64_t s)
{
	/* For the prover: an entry at level covers 512 of level - 1 (one
	 * case a level, the sizes numbers). */
	/*@ assert down_1: level == 1 ==>
	      pt_size_of(level) == 0x200000 && pt_size_of((unsigned)(level - 1)) == 0x1000;
	*/
	/*@ assert down_2: level == 2 ==>
	      pt_size_of(level) == 0x40000000 && pt_size_of((unsigned)(level - 1)) == 0x200000;
	*/
	/*@ assert down_3: level == 3 ==>
	      pt_size_of(level) == 0x8000000000 && pt_size_of((unsigned)(level - 1)) == 0x40000000;
	*/
	//@ assert down: PT_ENTRIES * pt_size_of((unsigned)(level - 1)) == pt_size_of(level);
	//@ assert down_s1: level == 1 ==> s % 0x200000 == 0 && s % 0x1000 == 0;
	//@ assert down_s2: level == 2 ==> s % 0x40000000 == 0 && s % 0x200000 == 0;
	//@ assert down_s3: level == 3 ==> s % 0x8000000000 == 0 && s % 0x40000000 == 0;
	//@ assert down_aligned: s % pt_size_of((unsigned)(level - 1)) == 0;
	const enum pte_kind kind = pte_kind(e, level);
	if (kind == PTE_TABLE) {
		visit(o, table_at(pte_next(e)), 0, level - 1, s, pte_count(e));
	} else {
		CHECK(kind == PTE_ABSENT || level < PT_LEVELS - 1); /* no leaf in the root */
		count_table(o, level - 1, s);
		visit(o, NULL, kind == PTE_LEAF ? e : 0, level - 1, s, 0);
	}
}

/* The commit came back up to table entry slot, i of table t (at `level`),
 * from the table it points to, which holds cc present entries now: the
 * table goes if it is empty, or becomes a leaf if it merges. Returns the
 * change in t's count. */
/*@ requires op_ok(o);
    requires pt_table(t) && i < PT_ENTRIES && 0 < level < PT_LEVELS;
    assigns t[i], o->tlb_all, o->nretired, o->retired[0 .. PT_RETIRE_MAX - 1], o->pt->tables;
    ensures OP_KEPT;
    ensures -1 <= \result <= 0;
*/
static int visit_commit_up(struct op *o, pte_t *t, unsigned i, pte_t slot, unsigned level,
                           unsigned cc)
{
	if (cc == 0) { /* empty: nothing below it to retire */
		t[i] = 0;
		retire(o, pte_next(slot), 0);
		return -1;
	}
	CHECK(cc <= PT_ENTRIES); /* a count field holds 0..512 present entries */
	t[i] = pte_with_count(slot, cc);
	pte_t leaf = merged(o, t[i], level);
	if (leaf) { /* all leaves: nothing below it to retire */
		/* The pieces this operation changed leave the TLB before
		 * the superpage that joins them arrives. */
		if (o->live)
			plat_flush_tlb();
		t[i] = leaf;
		retire(o, pte_next(slot), 0);
	}
	return 0;
}

/* The commit goes down through entry i of table t (e, at `level`, mapping
 * linear s; `full`: the range covers it whole): into the table there, or
 * into one made for it, empty or split from the leaf e. Afterwards the
 * table goes if it is empty, or becomes a leaf if it merges. Returns the
 * change in t's count. */
/*@ requires op_ok(o) && !o->counting && pt_table(t) && i < PT_ENTRIES && 0 < level < PT_LEVELS;
    requires s % pt_size_of(level) == 0 && s + pt_size_of(level) <= LIN_TOP;
    requires o->a < s + pt_size_of(level) && s < o->b;
    assigns OP_WALK_WRITES;
    ensures op_ok(o);
    ensures o->a == \old(o->a) && o->b == \old(o->b);
    ensures -1 <= \result <= 1;
*/
static int visit_commit_down(struct op *o, pte_t *t, unsigned i, pte_t e, unsigned level,
                             uint64_t s, bool full)
{
	const enum pte_kind kind = pte_kind(e, level);
	int delta = 0;
	unsigned cc;

	/* For the prover: an entry at level covers 512 of level - 1 (one
	 * case a level, the sizes numbers). */
	/*@ assert down_1: level == 1 ==>
	      pt_size_of(level) == 0x200000 && pt_size_of((unsigned)(level - 1)) == 0x1000;
	*/
	/*@ assert down_2: level == 2 ==>
	      pt_size_of(level) == 0x40000000 && pt_size_of((unsigned)(level - 1)) == 0x200000;
	*/
	/*@ assert down_3: level == 3 ==>
	      pt_size_of(level) == 0x8000000000 && pt_size_of((unsigned)(level - 1)) == 0x40000000;
	*/
	//@ assert down: PT_ENTRIES * pt_size_of((unsigned)(level - 1)) == pt_size_of(level);
	//@ assert down_s1: level == 1 ==> s % 0x200000 == 0 && s % 0x1000 == 0;
	//@ assert down_s2: level == 2 ==> s % 0x40000000 == 0 && s % 0x200000 == 0;
	//@ assert down_s3: level == 3 ==> s % 0x8000000000 == 0 && s % 0x40000000 == 0;
	//@ assert down_aligned: s % pt_size_of((unsigned)(level - 1)) == 0;
	if (kind == PTE_TABLE) {
		cc = pte_count(e);
	} else {
		/* A live tree never links a table whose entries are not yet
		 * what they must be: the CPU may walk it at once. */
		bool filled = level == 1 && full && o->kind == OP_MAP && !o->live;
		paddr_t child = new_table(o, e, level - 1, filled);
		cc = kind == PTE_LEAF ? PT_ENTRIES : 0; /* split or empty */
		/* For the prover, one step at a time (the goal after the whole
		 * branch took 7 s). */
		//@ assert made: op_ok(o) && o->a == \at(o->a, Pre) && o->b == \at(o->b, Pre);
		t[i] = pte_table(child, cc);
		//@ assert linked: op_ok(o) && o->a == \at(o->a, Pre) && o->b == \at(o->b, Pre);
		delta = kind == PTE_ABSENT;
		/* A split superpage: its TLB entries must be gone before any
		 * of its pieces changes, or the TLB could hold both (Intel SDM
		 * vol. 3A, 4.10.2.3). */
		if (kind == PTE_LEAF && o->live)
			plat_flush_tlb();
	}
	//@ assert before: op_ok(o) && o->a == \at(o->a, Pre) && o->b == \at(o->b, Pre);
	const pte_t slot = t[i];
	cc = visit(o, table_at(pte_next(slot)), 0, level - 1, s, cc);
	//@ assert o->a == \at(o->a, Pre) && o->b == \at(o->b, Pre);
	return delta + visit_commit_up(o, t, i, slot, level, cc);
}

/* The entries lo .. hi of a table whose entry 0 maps base (entries of
 * `size` bytes) that hold from and to - 1. */
/*@ requires size == 0x1000 || size == 0x200000 || size == 0x40000000 || size == 0x8000000000;
    requires \valid(lo) && \valid(hi) && \separated(lo, hi);
    requires base <= from < to <= base + PT_ENTRIES * size && to <= LIN_TOP;
    assigns *lo, *hi;
    ensures *lo <= *hi < PT_ENTRIES;
    ensures base + *lo * size <= from < base + *lo * size + size;
    ensures base + *hi * size < to <= base + *hi * size + size;
*/
static inline void slots(uint64_t base, uint64_t size, uint64_t from, uint64_t to, unsigned *lo,
                         unsigned *hi)
{
	/* For the prover: bits.h's lemmas on quotients by a variable size. */
	//@ assert (from - base) / size < PT_ENTRIES && (to - 1 - base) / size < PT_ENTRIES;
	*lo = (unsigned)((from - base) / size);
	*hi = (unsigned)((to - 1 - base) / size);
	//@ assert *lo == (from - base) / size && *hi == (to - 1 - base) / size;
	//@ assert *lo <= *hi;
}

/* The linear address entry i maps, of a table whose entry 0 maps base
 * (entries of `size` bytes). For the prover (the ghost arguments): i is
 * one of entries lo .. hi, which hold from and to - 1, so the entry meets
 * [from, to). */
/*@ requires size == 0x200000 || size == 0x40000000 || size == 0x8000000000;
    requires base % size == 0 && base + PT_ENTRIES * size <= LIN_TOP;
    requires lo <= i <= hi < PT_ENTRIES;
    requires from < base + lo * size + size && base + hi * size < to;
    assigns \nothing;
    ensures \result == base + i * size && i * size <= (PT_ENTRIES - 1) * size;
    ensures \result % size == 0;
    ensures \result + size <= LIN_TOP;
    ensures from < \result + size && \result < to;
*/
static inline uint64_t entry_at(uint64_t base, uint64_t size, unsigned i)
/*@ ghost (unsigned lo, unsigned hi, uint64_t from, uint64_t to) */
{
	//@ assert lo * size <= i * size <= hi * size && i * size <= (PT_ENTRIES - 1) * size;
	const uint64_t off = i * size;

	/* For the prover: no wrap, and a multiple of size (one case a size). */
	//@ assert off == i * size;
	/*@ ghost
	  if (size == 0x200000) {
	    /@ assert (base + off) % size == 0; @/
	  } else if (size == 0x40000000) {
	    /@ assert (base + off) % size == 0; @/
	  } else {
	    /@ assert (base + off) % size == 0; @/
	  }
	*/
	return base + off;
}

/* The first of the 512 leaves at `level` that leaf vt (at level + 1)
 * splits into; the last of them still maps frames below 2^52. */
/*@ requires level < PT_LEVELS - 2 && pte_is_leaf(vt, level + 1);
    assigns \nothing;
    ensures pte_is_leaf(\result, level);
    ensures pte_frame_of(\result, level) + 511 * pt_size_of(level) < (1 << 52);
*/
static inline pte_t virt_first(pte_t vt, unsigned level)
{
	const unsigned up = level + 1;
	const uint64_t f = pte_frame(vt, up);

	/* For the prover: the sizes are numbers (one case a level), and a
	 * frame aligned to the larger is aligned to the smaller. */
	/*@ assert level == 0 && pt_size_of(level) == 0x1000 && pt_size_of(up) == 0x200000 ||
	      level == 1 && pt_size_of(level) == 0x200000 && pt_size_of(up) == 0x40000000;
	*/
	//@ assert level == 0 ==> f % 0x200000 == 0 && f % 0x1000 == 0;
	//@ assert level == 0 ==> f + 0x200000 <= (1 << 52);
	//@ assert level == 1 ==> f % 0x40000000 == 0 && f % 0x200000 == 0;
	//@ assert level == 1 ==> f + 0x40000000 <= (1 << 52);
	return pte_leaf(level, f, pte_attr(vt, up));
}

/* What the operation does to entry e (of kind `kind`, at `level`, mapping
 * linear s; `full`: the range covers it whole): nothing when it is already
 * so (act false); else the entry it becomes here (ne), or e when the work
 * goes down to the level below. */
struct decision {
	bool act;
	pte_t ne;
};

/*@ requires op_ok(o) && 0 < level < PT_LEVELS;
    requires s % pt_size_of(level) == 0 && s + pt_size_of(level) <= LIN_TOP;
    requires o->a < s + pt_size_of(level) && s < o->b;
    requires full ==> o->a <= s && s + pt_size_of(level) <= o->b;
    requires kind == PTE_LEAF ==> pte_is_leaf(e, level);
    requires kind == PTE_ABSENT <==> !pte_present(e);
    assigns \nothing;
*/
static inline struct decision visit_decide(const struct op *o, pte_t e, enum pte_kind kind,
                                           unsigned level, uint64_t s, bool full)
{
	const uint64_t size = pt_level_size(level);

	/* For the prover: what op_ok says of this kind. */
	//@ assert o->kind == OP_MAP ==> o->pa + (o->b - o->a) <= PA_TOP && o->max_leaf <= 2;
	//@ assert o->kind == OP_PROTECT ==> (o->set & ~PT_ATTR_MASK) == 0;
	switch (o->kind) {
	case OP_MAP: {
		const uint64_t f = o->pa + (s - o->a); /* the frame s maps (modulo 2^64) */
		if (kind == PTE_LEAF && pte_frame(e, level) == f && pte_attr(e, level) == o->attr)
			return (struct decision){false, e};        /* already mapped so */
		if (full && level <= o->max_leaf && f % size == 0) /* (a mask: size is 2^n) */
			return (struct decision){true, pte_leaf(level, f, o->attr)};
		return (struct decision){true, e};
	}
	case OP_UNMAP:
		if (kind == PTE_ABSENT)
			return (struct decision){false, e};
		return (struct decision){true, full ? 0 : e};
	case OP_PROTECT:
		if (kind == PTE_ABSENT)
			return (struct decision){false, e};
		if (kind == PTE_LEAF) {
			CHECK(level < PT_LEVELS - 1); /* the tree never holds a leaf in the root */
			const pt_attr_t keep = pte_attr(e, level) & ~o->clear;
			//@ assert (keep & ~PT_ATTR_MASK) == 0;
			const pt_attr_t na = keep | o->set;
			//@ assert (na & ~PT_ATTR_MASK) == 0;
			const pte_t leaf = pte_leaf(level, pte_frame(e, level), na);
			if (leaf == e)
				return (struct decision){false, e};
			if (full)
				return (struct decision){true, leaf};
			/* else split below */
		}
		return (struct decision){true, e};
	}
	return (struct decision){true, e};
}

/* The work on entry i of table t (NULL: a virtual table, which only the
 * counting pass walks), e at `level` of kind `kind`, mapping linear s
 * (`full`: the range covers it whole), once decided: write ne over it
 * here, or go down when ne is e. Returns the change in t's count. */
/*@ requires op_ok(o) && 0 < level < PT_LEVELS && i < PT_ENTRIES;
    requires t == \null ? o->counting : pt_table(t);
    requires s % pt_size_of(level) == 0 && s + pt_size_of(level) <= LIN_TOP;
    requires o->a < s + pt_size_of(level) && s < o->b;
    assigns OP_WALK_WRITES;
    ensures -1 <= \result <= 1;
    // One behaviour a path, so that the prover meets them one at a time.
    behavior dry_write:
      assumes ne != e && o->counting;
      ensures OP_KEPT;
    behavior write:
      assumes ne != e && !o->counting;
      ensures OP_KEPT;
    behavior count_down:
      assumes ne == e && o->counting;
      ensures OP_KEPT;
    behavior commit_down:
      assumes ne == e && !o->counting;
      ensures OP_KEPT;
    complete behaviors;
    disjoint behaviors;
*/
static int visit_act(struct op *o, pte_t *t, unsigned i, pte_t e, enum pte_kind kind, pte_t ne,
                     unsigned level, uint64_t s, bool full)
{
	if (ne != e) { /* decided at this level: write the entry */
		if (o->counting)
			return 0;
		visit_write(o, t, i, e, kind, ne, level, s);
		return (ne != 0) - (kind != PTE_ABSENT);
	}
	/* Go down: into the table there, or one made or split for it. */
	if (o->counting) {
		visit_count_down(o, e, level, s);
		return 0;
	}
	return visit_commit_down(o, t, i, e, level, s, full);
}

/* The work on entry i of table t (NULL: a virtual table, which only the
 * counting pass walks), e at `level`, mapping linear s. Returns the change
 * in t's count. */
/*@ requires op_ok(o) && 0 < level < PT_LEVELS && i < PT_ENTRIES;
    requires t == \null ? o->counting : pt_table(t);
    requires s % pt_size_of(level) == 0 && s + pt_size_of(level) <= LIN_TOP;
    requires o->a < s + pt_size_of(level) && s < o->b;
    assigns OP_WALK_WRITES;
    ensures ent_ok: op_ok(o);
    ensures ent_ab: o->a == \old(o->a) && o->b == \old(o->b);
    ensures -1 <= \result <= 1;
*/
static int visit_entry(struct op *o, pte_t *t, unsigned i, pte_t e, unsigned level, uint64_t s)
{
	const enum pte_kind kind = pte_kind(e, level);
	const bool full = o->a <= s && s + pt_level_size(level) <= o->b;
	const struct decision d = visit_decide(o, e, kind, level, s, full);

	return d.act ? visit_act(o, t, i, e, kind, d.ne, level, s, full) : 0;
}

static unsigned visit(struct op *o, pte_t *t, pte_t vt, unsigned level, uint64_t base,
                      unsigned count)
{
	const uint64_t size = pt_level_size(level);
	const uint64_t from = o->a > base ? o->a : base;
	const uint64_t to = o->b < base + PT_ENTRIES * size ? o->b : base + PT_ENTRIES * size;
	unsigned lo, hi;
	slots(base, size, from, to, &lo, &hi);

	if (level == 0) {
		/* For the prover: everything is 4K-aligned here, so lo and hi are
		 * the first and last page of [from, to). */
		/*@ assert pages: size == 0x1000 && from % 0x1000 == 0 && to % 0x1000 == 0 &&
		      lo * 0x1000 == from - base && (hi + 1) * 0x1000 == to - base;
		*/
		return o->counting ? count : visit_pt(o, t, base, lo, hi, count);
	}

	/* For the prover: the sizes are numbers (one case a level). */
	/*@ assert sizes: level == 1 && size == 0x200000 || level == 2 && size == 0x40000000 ||
	      level == 3 && size == 0x8000000000;
	*/
	const pte_t vfirst = vt ? virt_first(vt, level) : 0;

	/*@ loop invariant inv_i: lo <= i <= hi + 1;
	    loop invariant inv_ok: op_ok(o);
	    loop invariant inv_ab: o->a == \at(o->a, Pre) && o->b == \at(o->b, Pre);
	    loop assigns i, count, OP_WALK_WRITES;
	*/
	for (unsigned i = lo; i <= hi; i++) {
		CHECK(t || o->counting); /* only the counting pass walks virtual tables */
		const uint64_t s = entry_at(base, size, i) /*@ ghost (lo, hi, from, to) */;
		/*@ assert entry: s % size == 0 && s + size <= LIN_TOP &&
		      o->a < s + size && s < o->b;
		*/
		const pte_t e = t ? t[i] : vt ? pte_leaf_next(vfirst, level, i) : 0;
		count += visit_entry(o, t, i, e, level, s);
	}
	return count;
}

/* Check a virtual range [va, va + len): sets the linear [a, b). */
/*@ requires \valid(a) && \valid(b) && \separated(a, b);
    assigns *a, *b;
    ensures \result == \null ==> *a < *b <= LIN_TOP && *b - *a == len &&
      *a % 0x1000 == 0 && *b % 0x1000 == 0;
*/
static err_t check_range(vaddr_t va, uint64_t len, uint64_t *a, uint64_t *b)
{
	uint64_t v = va_addr(va);

	if (!len || (v & (PAGE_SIZE - 1)) || (len & (PAGE_SIZE - 1)))
		return pt_err_align;
	if (!is_canonical(v))
		return pt_err_range;
	uint64_t lin = v % LIN_TOP; /* the low 48 bits */
	//@ assert v % 0x1000 == 0 && len % 0x1000 == 0;
	uint64_t end = lin < LIN_HALF ? LIN_HALF : LIN_TOP; /* the end of its half */
	if (len > end - lin)
		return pt_err_range;
	*a = lin;
	*b = lin + len;
	return NULL;
}

/* Prepare, then commit. */
/*@ requires op_ok(o) && o->nretired == 0 && o->tally == \null;
    assigns o->counting, o->live, OP_WALK_WRITES,
      o->pt->hint_tag, o->pt->hint_dtag, o->pt->root_count;
*/
static err_t run(struct op *o)
{
	struct pt *pt = o->pt;
	pte_t *root = table_at(pt->root);

	o->counting = true;
	o->need = 0;
	visit(o, root, 0, PT_LEVELS - 1, 0, pt->root_count);

	o->stash = NO_PAGE;
	/*@ loop invariant op_ok(o);
	    loop assigns k, o->stash, PT_RAM_ENTRIES; */
	for (uint64_t k = 0; k < o->need; k++) {
		paddr_t pa;
		if (mem_get(&pt->mem, &pa)) {
			/*@ loop assigns o->stash; */
			while (o->stash != NO_PAGE)
				mem_put(&pt->mem, chain_pop(&o->stash));
			return pt_err_nomem;
		}
		chain_push(&o->stash, pa);
	}

	o->counting = false;
	o->nretired = 0;
	pt->hint_tag = pt->hint_dtag = NO_HINT; /* tables may be freed or replaced below */
	o->live = pt_live(pt);
	o->tlb_all = false;
	o->ntlb = 0;
	pt->root_count = visit(o, root, 0, PT_LEVELS - 1, 0, pt->root_count);
	CHECK(o->stash == NO_PAGE); /* the prepare pass counted exactly */
	//@ assert run_retired: o->nretired <= PT_RETIRE_MAX && \valid(o) && \valid(o->pt);

	if (o->live) {
		if (o->tlb_all)
			plat_flush_tlb();
		else
			/*@ loop invariant 0 <= k <= o->ntlb;
			    loop assigns k; */
			for (unsigned k = 0; k < o->ntlb; k++)
				plat_invlpg(va_init(o->tlb[k]));
		o->live = false; /* clean: drain need not flush again */
	}
	drain(o);
	return NULL;
}

/*
 * The single-page fast path: the level-0 entry for canonical address `va`
 * when the walk from the root meets tables all the way down, and in *pd the
 * entry above it; NULL when it meets an absent entry or a superpage (the
 * general path then makes or splits tables). Uses and sets the walk hint.
 */
/*@ requires pt_ok(pt) && \valid(pd) && \separated(pd, pt) && PT_APART(pd);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, *pd;
    ensures pt_ok(pt);
    ensures \result != \null ==> \valid(\result) && pt_in_ram(\result) &&
      \valid(*pd) && pt_in_ram(*pd);
*/
static __attribute__((noinline)) pte_t *walk_to_pt_slow(struct pt *pt, uint64_t va, pte_t **pd)
{
	pte_t *t = table_at(pt->root);

	/*@ loop invariant 0 <= level < PT_LEVELS && pt_table(t) && pt_ok(pt);
	    loop invariant level < PT_LEVELS - 1 ==> \valid(*pd) && pt_in_ram(*pd);
	    loop assigns level, t, *pd; */
	for (unsigned level = PT_LEVELS - 1; level > 0; level--) {
		pte_t *slot = &t[pt_index(va, level)];
		if (pte_kind(*slot, level) != PTE_TABLE)
			return NULL;
		*pd = slot;
		t = table_at(pte_next(*slot));
	}
	pt->hint_tag = va >> 21;
	pt->hint_pd = *pd;
	pt->hint_pt = t;
	return &t[pt_index(va, 0)];
}

/*@ requires pt_ok(pt) && \valid(pd) && \separated(pd, pt) && PT_APART(pd);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, *pd;
    ensures pt_ok(pt);
    ensures \result != \null ==> \valid(\result) && pt_in_ram(\result) &&
      \valid(*pd) && pt_in_ram(*pd);
*/
static inline pte_t *walk_to_pt(struct pt *pt, uint64_t va, pte_t **pd)
{
	if (va >> 21 != pt->hint_tag)
		return walk_to_pt_slow(pt, va, pd);
	*pd = pt->hint_pd;
	return &pt->hint_pt[pt_index(va, 0)];
}

/* The general paths, kept out of line so that the single-page paths stay
 * small (no struct op to clear, no registers to save). */
/*@ requires pt_ok(pt) && from < to <= LIN_TOP && from % 0x1000 == 0 && to % 0x1000 == 0;
    requires pa % 0x1000 == 0 && pa + (to - from) <= PA_TOP && (a & ~PT_ATTR_MASK) == 0;
    assigns pt->hint_tag, pt->hint_dtag, pt->root_count, pt->tables, PT_RAM_ENTRIES;
*/
static __attribute__((noinline)) err_t map_range(struct pt *pt, uint64_t from, uint64_t to,
                                                 uint64_t pa, pt_attr_t a, unsigned flags)
{
	struct op o;

	op_init(&o, pt, OP_MAP, from, to, pa, a, 0, 0, flags, NULL);
	return run(&o);
}

/*@ requires pt_ok(pt) && from < to <= LIN_TOP && from % 0x1000 == 0 && to % 0x1000 == 0;
    assigns pt->hint_tag, pt->hint_dtag, pt->root_count, pt->tables, PT_RAM_ENTRIES;
*/
static __attribute__((noinline)) err_t unmap_range(struct pt *pt, uint64_t from, uint64_t to)
{
	struct op o;

	op_init(&o, pt, OP_UNMAP, from, to, 0, 0, 0, 0, 0, NULL);
	return run(&o);
}

/* Read the level-1 entry for v in PD table `dir` and finish the lookup
 * from there, setting the level-0 hint when it leads to a table. */
/*@ requires pt_ok(pt) && pt_table(dir) && \valid(hit) && \separated(pt, hit);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, *hit;
    ensures pt_ok(pt);
*/
static inline bool lookup_from_dir(struct pt *pt, pte_t *dir, uint64_t v, struct pt_hit *hit)
{
	pte_t *pd = &dir[pt_index(v, 1)];
	pte_t e = *pd;
	unsigned level = 1;

	if (pte_kind(e, 1) == PTE_TABLE) {
		pt_hint_set(pt, v, pd, table_at(pte_next(e)));
		e = pt->hint_pt[pt_index(v, 0)];
		level = 0;
	}
	if (pte_kind(e, level) == PTE_ABSENT)
		return false;
	hit->pa = pa_init(pte_frame(e, level) | (v & (pt_level_size(level) - 1)));
	hit->attr = level ? pte_attr(e, level) : leaf0_attr(e);
	hit->level = level;
	return true;
}

/* The whole walk for pt_lookup (the hints missed), one level at a time,
 * setting the hints as it passes a PD and a PT. */
/*@ requires pt_ok(pt) && \valid(hit) && \separated(pt, hit);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->hint_dtag, pt->hint_dir, *hit;
    ensures pt_ok(pt);
*/
bool pt_lookup_walk(struct pt *pt, vaddr_t va, struct pt_hit *hit)
{
	const uint64_t v = va_addr(va);

	if (!is_canonical(v))
		return false;
	pte_t e = table_at(pt->root)[pt_index(v, 3)];
	if (pte_kind(e, 3) != PTE_TABLE)
		return false;
	e = table_at(pte_next(e))[pt_index(v, 2)];
	switch (pte_kind(e, 2)) {
	case PTE_ABSENT:
		return false;
	case PTE_LEAF:
		hit->pa = pa_init(pte_frame(e, 2) | (v & (pt_level_size(2) - 1)));
		hit->attr = pte_attr(e, 2);
		hit->level = 2;
		return true;
	case PTE_TABLE:
		break;
	}
	pt->hint_dtag = v >> 30;
	pt->hint_dir = table_at(pte_next(e));
	return lookup_from_dir(pt, pt->hint_dir, v, hit);
}

/* ---- the interface ------------------------------------------------------- */

/*@ requires \valid(pt) && \valid_read(mem) && PT_APART(pt);
    assigns *pt, leaf0_bits[0 .. PT_ATTR_MASK], pt_attr0_of[0 .. 255], PT_RAM_ENTRIES;
    ensures \result == \null ==> pt->top_leaf <= 2 && pt->hint_tag == 0xffffffffffffffff &&
      pt->hint_dtag == 0xffffffffffffffff;
*/
err_t pt_init(struct pt *pt, const struct pt_mem *mem, bool gib_pages)
{
	paddr_t root;

	if (!leaf0_bits[PT_R]) {
		/*@ loop invariant 0 <= a <= PT_ATTR_MASK + 1;
		    loop assigns a, leaf0_bits[0 .. PT_ATTR_MASK]; */
		for (pt_attr_t a = 0; a <= PT_ATTR_MASK; a++)
			leaf0_bits[a] = pte_leaf(0, 0, a);
		/*@ loop invariant 0 <= b <= 256;
		    loop assigns b, pt_attr0_of[0 .. 255]; */
		for (unsigned b = 0; b < 256; b++) /* XD set: leaf0_attr adds PT_X */
			pt_attr0_of[b] = pte_attr(((pte_t)b << 1) | PTE_XD, 0);
	}
	if (mem_get(mem, &root))
		return pt_err_nomem;
	pte_t *t = table_at(root);
	/*@ loop invariant 0 <= i <= PT_ENTRIES;
	    loop assigns i, t[0 .. PT_ENTRIES - 1]; */
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		t[i] = 0;
	*pt = (struct pt){.root = root,
	                  .top_leaf = gib_pages ? 2 : 1,
	                  .root_count = 0,
	                  .tables = 1,
	                  .mem = *mem,
	                  .hint_tag = NO_HINT,
	                  .hint_dtag = NO_HINT};
	return NULL;
}

/*@ requires \valid(pt);
    assigns pt->hint_tag, pt->hint_dtag, pt->tables, pt->root_count;
*/
void pt_destroy(struct pt *pt)
{
	CHECK(!pt_live(pt));
	pt->hint_tag = pt->hint_dtag = NO_HINT;
	free_tree(pt, pt->root, PT_LEVELS - 1);
	pt->root_count = 0;
}

/*
 * One page whose level-0 table is there: write its entry and the table's
 * count in place. False (nothing written) when the general path must run:
 * the table would fill up (and may merge) or empty (and must go).
 */
/*@ requires \valid_read(pt) && \valid(pd) && \valid(slot);
    assigns *pd, *slot;
*/
static inline bool map_page(struct pt *pt, pte_t *pd, pte_t *slot, uint64_t va, pte_t ne,
                            unsigned flags)
{
	const pte_t old = *slot;

	if (old == ne)
		return true;
	if (old) { /* replaced: the count stays */
		if (pte_count(*pd) == PT_ENTRIES && !(flags & PT_SMALL))
			return false;
		*slot = ne;
		if (pt_live(pt))
			plat_invlpg(va_init(va));
		return true;
	}
	/* Full (512, which a table with an absent entry never is): the general
	 * path, as at 511 unless PT_SMALL. */
	const unsigned c = pte_count(*pd);
	if (c >= PT_ENTRIES - 1 && (c != PT_ENTRIES - 1 || !(flags & PT_SMALL)))
		return false;
	*pd = pte_count_inc(*pd);
	*slot = ne;
	return true;
}

/*@ requires \valid_read(pt) && \valid(pd) && \valid(slot);
    assigns *pd, *slot;
*/
static inline bool unmap_page(struct pt *pt, pte_t *pd, pte_t *slot, uint64_t va)
{
	if (!*slot)
		return true;
	if (pte_count(*pd) <= 1) /* 0, which a table with a present entry never is, too */
		return false;
	*pd = pte_count_dec(*pd);
	*slot = 0;
	if (pt_live(pt))
		plat_invlpg(va_init(va));
	return true;
}

/* pt_map's arguments: sets the linear [from, to). */
/*@ requires \valid(from) && \valid(to) && \separated(from, to);
    assigns *from, *to;
    ensures \result == \null ==> *from < *to <= LIN_TOP && *to - *from == len &&
      *from % 0x1000 == 0 && *to % 0x1000 == 0 &&
      pa.pa % 0x1000 == 0 && pa.pa + len <= PA_TOP && (a & ~PT_ATTR_MASK) == 0;
*/
static err_t check_map(vaddr_t va, paddr_t pa, uint64_t len, pt_attr_t a, uint64_t *from,
                       uint64_t *to)
{
	err_t e = check_range(va, len, from, to);

	if (e)
		return e;
	if (pa_addr(pa) & (PAGE_SIZE - 1))
		return pt_err_align;
	if (pa_addr(pa) >= PA_TOP || len > PA_TOP - pa_addr(pa))
		return pt_err_range;
	if (!(a & PT_R) || (a & ~PT_ATTR_MASK))
		return pt_err_rights;
	return NULL;
}

/* pt_map and pt_unmap past the hint: check everything, try the one page
 * with a full walk, else the general path. */
/*@ requires pt_ok(pt);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->hint_dtag, pt->root_count, pt->tables,
      PT_RAM_ENTRIES;
*/
static __attribute__((noinline)) err_t map_checked(struct pt *pt, vaddr_t va, paddr_t pa,
                                                   uint64_t len, pt_attr_t a, unsigned flags)
{
	uint64_t from, to;
	err_t e = check_map(va, pa, len, a, &from, &to);

	if (e)
		return e;
	pte_t *pd, *slot = len == PAGE_SIZE ? walk_to_pt(pt, va_addr(va), &pd) : NULL;
	if (slot && map_page(pt, pd, slot, va_addr(va), pte_leaf(0, pa_addr(pa), a), flags))
		return NULL;
	return map_range(pt, from, to, pa_addr(pa), a, flags);
}

/*@ requires pt_ok(pt);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->hint_dtag, pt->root_count, pt->tables,
      PT_RAM_ENTRIES;
*/
static __attribute__((noinline)) err_t unmap_checked(struct pt *pt, vaddr_t va, uint64_t len)
{
	uint64_t from, to;
	err_t e = check_range(va, len, &from, &to);

	if (e)
		return e;
	pte_t *pd, *slot = len == PAGE_SIZE ? walk_to_pt(pt, va_addr(va), &pd) : NULL;
	if (slot && unmap_page(pt, pd, slot, va_addr(va)))
		return NULL;
	return unmap_range(pt, from, to);
}

/* A page whose address matches the hint is canonical; its frame and
 * attributes are checked here, in as few tests as will do. */
/*@ requires pt_ok(pt);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->hint_dtag, pt->root_count, pt->tables,
      PT_RAM_ENTRIES;
*/
err_t pt_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t len, pt_attr_t a, unsigned flags)
{
	const uint64_t v = va_addr(va), p = pa_addr(pa);

	if (len == PAGE_SIZE && v >> 21 == pt->hint_tag && !((v | p) & (PAGE_SIZE - 1)) &&
	    p < PA_TOP && (a & (PT_R | ~PT_ATTR_MASK)) == PT_R &&
	    map_page(pt, pt->hint_pd, &pt->hint_pt[pt_index(v, 0)], v, p | leaf0_bits[a], flags))
		return NULL;
	return map_checked(pt, va, pa, len, a, flags);
}

/*@ requires pt_ok(pt);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->hint_dtag, pt->root_count, pt->tables,
      PT_RAM_ENTRIES;
*/
err_t pt_unmap(struct pt *pt, vaddr_t va, uint64_t len)
{
	const uint64_t v = va_addr(va);

	if (len == PAGE_SIZE && v >> 21 == pt->hint_tag && !(v & (PAGE_SIZE - 1)) &&
	    unmap_page(pt, pt->hint_pd, &pt->hint_pt[pt_index(v, 0)], v))
		return NULL;
	return unmap_checked(pt, va, len);
}

/*@ requires \valid(from) && \valid(to) && \separated(from, to);
    assigns *from, *to;
    ensures \result == \null ==> *from < *to <= LIN_TOP && *to - *from == len &&
      *from % 0x1000 == 0 && *to % 0x1000 == 0 && (set & ~PT_ATTR_MASK) == 0;
*/
static err_t check_protect(vaddr_t va, uint64_t len, pt_attr_t clear, pt_attr_t set, uint64_t *from,
                           uint64_t *to)
{
	err_t e = check_range(va, len, from, to);

	if (e)
		return e;
	if ((clear & PT_R) || (clear & ~PT_ATTR_MASK) || (set & ~PT_ATTR_MASK))
		return pt_err_rights;
	return NULL;
}

/*@ requires pt_ok(pt);
    assigns pt->hint_tag, pt->hint_dtag, pt->root_count, pt->tables, PT_RAM_ENTRIES;
*/
err_t pt_protect(struct pt *pt, vaddr_t va, uint64_t len, pt_attr_t clear, pt_attr_t set)
{
	uint64_t from, to;
	err_t e = check_protect(va, len, clear, set, &from, &to);

	if (e)
		return e;
	struct op o;
	op_init(&o, pt, OP_PROTECT, from, to, 0, 0, clear, set, 0, NULL);
	return run(&o);
}

/* ---- dry runs ------------------------------------------------------------ */

/*@ requires \valid(t);
    assigns t->need, t->used, t->gen, t->seen[0 .. PT_TALLY_SLOTS - 1].gen;
*/
void pt_tally_begin(struct pt_tally *t)
{
	t->need = 0;
	t->used = 0;
	if (++t->gen == 0) { /* wrapped: forget every stamp */
		/*@ loop invariant 0 <= i <= PT_TALLY_SLOTS;
		    loop assigns i, t->seen[0 .. PT_TALLY_SLOTS - 1].gen; */
		for (unsigned i = 0; i < PT_TALLY_SLOTS; i++)
			t->seen[i].gen = 0;
		t->gen = 1;
	}
}

/* Whether an operation on [a, b) of pt surely makes no table: one 4K
 * page whose level-0 table is there (the walk, or its hint, answers).
 * Asked before a struct op is cleared, which costs more than the walk. */
/*@ requires pt_ok(pt);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt;
    ensures pt_ok(pt);
*/
static bool count_nothing(struct pt *pt, uint64_t a, uint64_t b)
{
	pte_t *pd;

	return b - a == PAGE_SIZE && pa_addr(pt->root) != NO_PAGE && walk_to_pt(pt, canon(a), &pd);
}

/* The prepare pass of o alone, into its tally. */
/*@ requires op_ok(o) && o->tally != \null;
    assigns o->counting, OP_WALK_WRITES;
*/
static err_t count(struct op *o)
{
	o->counting = true;
	if (pa_addr(o->pt->root) == NO_PAGE) { /* pt_blank: the root too */
		count_table(o, PT_LEVELS - 1, 0);
		visit(o, NULL, 0, PT_LEVELS - 1, 0, 0);
		return NULL;
	}
	visit(o, table_at(o->pt->root), 0, PT_LEVELS - 1, 0, o->pt->root_count);
	return NULL;
}

/*@ requires \valid(pt);
    assigns *pt;
    ensures pt->top_leaf <= 2 && pt->hint_tag == 0xffffffffffffffff &&
      pt->hint_dtag == 0xffffffffffffffff;
*/
void pt_blank(struct pt *pt, bool gib_pages)
{
	*pt = (struct pt){.root = pa_init(NO_PAGE),
	                  .top_leaf = gib_pages ? 2 : 1,
	                  .hint_tag = NO_HINT,
	                  .hint_dtag = NO_HINT};
}

/* (The counting pass writes no table and no count of the tree; the
 * contract says what visit's does, which covers both passes.) */
/*@ requires pt_ok(pt) && \valid(t) && PT_APART(t) && \separated(t, pt);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->tables, t->need,
      t->seen[0 .. PT_TALLY_SLOTS - 1], t->used, PT_RAM_ENTRIES;
*/
err_t pt_count_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t len, pt_attr_t a, unsigned flags,
                   struct pt_tally *t)
{
	uint64_t from, to;
	err_t e = check_map(va, pa, len, a, &from, &to);

	if (e || count_nothing(pt, from, to))
		return e;
	struct op o;
	op_init(&o, pt, OP_MAP, from, to, pa_addr(pa), a, 0, 0, flags, t);
	return count(&o);
}

/* As pt_count_map's. */
/*@ requires pt_ok(pt) && \valid(t) && PT_APART(t) && \separated(t, pt);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->tables, t->need,
      t->seen[0 .. PT_TALLY_SLOTS - 1], t->used, PT_RAM_ENTRIES;
*/
err_t pt_count_unmap(struct pt *pt, vaddr_t va, uint64_t len, struct pt_tally *t)
{
	uint64_t from, to;
	err_t e = check_range(va, len, &from, &to);

	if (e || count_nothing(pt, from, to))
		return e;
	struct op o;
	op_init(&o, pt, OP_UNMAP, from, to, 0, 0, 0, 0, 0, t);
	return count(&o);
}

/* As pt_count_map's. */
/*@ requires pt_ok(pt) && \valid(t) && PT_APART(t) && \separated(t, pt);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->tables, t->need,
      t->seen[0 .. PT_TALLY_SLOTS - 1], t->used, PT_RAM_ENTRIES;
*/
err_t pt_count_protect(struct pt *pt, vaddr_t va, uint64_t len, pt_attr_t clear, pt_attr_t set,
                       struct pt_tally *t)
{
	uint64_t from, to;
	err_t e = check_protect(va, len, clear, set, &from, &to);

	if (e || count_nothing(pt, from, to))
		return e;
	struct op o;
	op_init(&o, pt, OP_PROTECT, from, to, 0, 0, clear, set, 0, t);
	return count(&o);
}

/* pt_lookup (pt.h) past the level-0 hint: the level-1 hint, or the whole
 * walk. */
/*@ requires pt_ok(pt) && \valid(hit) && \separated(pt, hit);
    assigns pt->hint_tag, pt->hint_pd, pt->hint_pt, pt->hint_dtag, pt->hint_dir, *hit;
    ensures pt_ok(pt);
*/
bool pt_lookup_slow(struct pt *pt, vaddr_t va, struct pt_hit *hit)
{
	const uint64_t v = va_addr(va);

	if (v >> 21 == pt->hint_tag)
		return pt_lookup(pt, va, hit);
	if (v >> 30 == pt->hint_dtag) /* the tags are of canonical addresses */
		return lookup_from_dir(pt, pt->hint_dir, v, hit);
	return pt_lookup_walk(pt, va, hit);
}

/*@ requires \valid_read(pt) && \valid(w);
    assigns *w;
    ensures w->depth <= PT_LEVELS;
*/
void pt_walk(const struct pt *pt, vaddr_t va, struct pt_walk *w)
{
	const uint64_t v = va_addr(va);
	paddr_t table = pt->root;

	w->depth = 0;
	if (!is_canonical(v))
		return;
	/*@ loop invariant level < PT_LEVELS && w->depth == PT_LEVELS - 1 - level;
	    loop assigns level, table, *w; */
	for (unsigned level = PT_LEVELS - 1;; level--) {
		const unsigned i = pt_index(v, level);
		const pte_t e = table_at(table)[i];
		const enum pte_kind kind = pte_kind(e, level);
		w->step[w->depth] = (typeof(w->step[0])){
		    .table = table,
		    .index = i,
		    .level = level,
		    .entry = e,
		    .kind = kind,
		    .next = kind == PTE_TABLE ? pte_next(e) : pa_init(0),
		    .count = kind == PTE_TABLE ? pte_count(e) : 0,
		    .frame = pa_init(kind == PTE_LEAF ? pte_frame(e, level) : 0),
		    .attr = kind == PTE_LEAF ? pte_attr(e, level) : 0,
		};
		w->depth++;
		if (kind != PTE_TABLE)
			return;
		table = pte_next(e);
	}
}

/* ---- whole-tree walks ------------------------------------------------------ */

struct runs {
	bool (*fn)(void *ctx, const struct pt_run *r);
	void *ctx;
	bool open, stop;
	struct pt_run cur;
	uint64_t cur_lin;
};

/* Hand run c to the caller's function. For `make prove` part of the seam
 * (a call through a pointer), a stub contract assumed: fn writes nothing
 * pt.c reads (pt_runs' contract: fn does not change the tree). */
/*@ requires \valid_read(r) && \valid_read(c);
    assigns \nothing;
*/
static inline bool runs_out(const struct runs *r, const struct pt_run *c)
{
	return r->fn(r->ctx, c);
}

/*@ requires \valid(r) && level < PT_LEVELS;
    assigns r->stop, r->cur, r->cur_lin, r->open;
*/
static void runs_leaf(struct runs *r, uint64_t lin, pte_t e, unsigned level)
{
	const uint64_t size = pt_level_size(level);
	const uint64_t pa = pte_frame(e, level);
	const pt_attr_t a = pte_attr(e, level);
	struct pt_run *c = &r->cur;

	/* Linear addresses are contiguous across the canonical hole; runs are not. */
	if (r->open && c->level == level && c->attr == a && r->cur_lin + c->len == lin &&
	    lin != LIN_HALF && pa_addr(c->pa) + c->len == pa) {
		c->len += size;
		return;
	}
	if (r->open && !runs_out(r, c))
		r->stop = true;
	*c = (struct pt_run){va_init(canon(lin)), size, pa_init(pa), a, level};
	r->cur_lin = lin;
	r->open = true;
}

/*@ requires \valid(r) && level < PT_LEVELS;
    assigns r->stop, r->cur, r->cur_lin, r->open;
*/
static void runs_table(struct runs *r, paddr_t table, unsigned level, uint64_t base)
{
	const pte_t *t = table_at(table);

	/*@ loop invariant 0 <= i <= PT_ENTRIES;
	    loop assigns i, r->stop, r->cur, r->cur_lin, r->open; */
	for (unsigned i = 0; i < PT_ENTRIES && !r->stop; i++) {
		const uint64_t s = base + i * pt_level_size(level);
		switch (pte_kind(t[i], level)) {
		case PTE_ABSENT:
			break;
		case PTE_LEAF:
			runs_leaf(r, s, t[i], level);
			break;
		case PTE_TABLE:
			runs_table(r, pte_next(t[i]), level - 1, s);
			break;
		}
	}
}

/*@ requires \valid_read(pt);
    assigns \nothing;
*/
void pt_runs(const struct pt *pt, bool (*fn)(void *ctx, const struct pt_run *r), void *ctx)
{
	struct runs r = {.fn = fn, .ctx = ctx};

	runs_table(&r, pt->root, PT_LEVELS - 1, 0);
	if (r.open && !r.stop)
		runs_out(&r, &r.cur);
}

/*@ requires \valid(c) && level < PT_LEVELS && PT_APART(c);
    assigns c->tables, c->leaves[0 .. 2], c->pages;
*/
static void census_table(paddr_t table, unsigned level, struct pt_census *c)
{
	const pte_t *t = table_at(table);

	c->tables++;
	/*@ loop invariant 0 <= i <= PT_ENTRIES;
	    loop assigns i, c->tables, c->leaves[0 .. 2], c->pages; */
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		switch (pte_kind(t[i], level)) {
		case PTE_ABSENT:
			break;
		case PTE_LEAF:
			CHECK(level < PT_LEVELS - 1); /* the tree never holds a leaf in the root */
			c->leaves[level]++;
			c->pages += pt_level_size(level) / PAGE_SIZE;
			break;
		case PTE_TABLE:
			census_table(pte_next(t[i]), level - 1, c);
			break;
		}
	}
}

/*@ requires \valid_read(pt) && \valid(c) && PT_APART(c);
    assigns *c;
*/
void pt_census(const struct pt *pt, struct pt_census *c)
{
	*c = (struct pt_census){0};
	census_table(pt->root, PT_LEVELS - 1, c);
}

/*@ requires \valid_read(pt);
    assigns live_root;
*/
void pt_load(const struct pt *pt)
{
	live_root = pa_addr(pt->root);
	plat_write_cr3(live_root);
}

/*@ requires \valid_read(pt);
    assigns \nothing;
*/
bool pt_live(const struct pt *pt)
{
	return pa_addr(pt->root) == live_root;
}
