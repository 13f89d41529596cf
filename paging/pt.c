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

/* For `make prove` this is the machine seam, a stub contract it assumes:
 * every table address the tree holds is a page of 512 entries. */
/*@ assigns \nothing;
    ensures \valid(\result + (0 .. PT_ENTRIES - 1));
*/
static pte_t *table_at(paddr_t pa)
{
	return plat_pa_to_ptr(pa);
}

/* ---- the frame allocator as the door ------------------------------------ */

static err_t frames_get(void *ctx, paddr_t *out)
{
	(void)ctx;
	return kalloc(FRAME_PTABLE, out) ? pt_err_nomem : NULL;
}

static void frames_put(void *ctx, paddr_t pa)
{
	(void)ctx;
	err_t e = kfree(pa, FRAME_PTABLE);
	CHECK(!e);
}

const struct pt_mem pt_mem_frames = {frames_get, frames_put, NULL};

/* ---- one operation ------------------------------------------------------- */

enum op_kind { OP_MAP, OP_UNMAP, OP_PROTECT };

struct op {
	struct pt *pt;
	enum op_kind kind;
	bool counting;     /* the prepare pass: count table pages, change nothing */
	bool merge;        /* merge uniform tables into superpages */
	unsigned max_leaf; /* map: the largest leaf it may write */
	uint64_t a, b;     /* the range [a, b), linear */
	uint64_t delta;    /* map: frame = linear address + delta */
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

/*@ requires \valid(head);
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
    ensures o->ntlb <= PT_TLB_BATCH;
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
static void free_tree(struct pt *pt, paddr_t pa, unsigned level)
{
	if (level > 0) {
		const pte_t *t = table_at(pa);
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (pte_kind(t[i], level) == PTE_TABLE)
				free_tree(pt, pte_next(t[i]), level - 1);
	}
	pt->mem.put(pt->mem.ctx, pa);
	pt->tables--;
}

/* Give back the retired tables: on a live tree, only after a flush, since
 * the paging-structure caches may still lead into them (and the allocator
 * writes into what it is given). */
static void drain(struct op *o)
{
	if (o->live && o->nretired)
		plat_flush_tlb();
	for (unsigned k = 0; k < o->nretired; k++)
		free_tree(o->pt, o->retired[k].pa, o->retired[k].level);
	o->nretired = 0;
}

/* The entry that led to the table at `pa` (a level-`level` table) no longer
 * does: give it and its subtree back once no TLB can reach them. Neither
 * is written before then. */
static void retire(struct op *o, paddr_t pa, unsigned level)
{
	if (o->nretired == PT_RETIRE_MAX)
		drain(o);
	o->retired[o->nretired].pa = pa;
	o->retired[o->nretired++].level = level;
	o->tlb_all |= o->live;
}

/* A fresh table for the commit: empty, or the 512 pieces of leaf `e` (at
 * level + 1) if e is a leaf. Returns it and sets *count. `filled`: the
 * caller writes all 512 entries of this empty level-0 table before anything
 * reads one, so it need not be zeroed. */
/*@ requires \valid(o) && \valid(o->pt) && \valid(count) && level < PT_LEVELS - 2;
    requires \separated(o, o->pt, count);
    requires pte_present(e) ==> pte_is_leaf(e, level + 1);
*/
static paddr_t new_table(struct op *o, pte_t e, unsigned level, bool filled, unsigned *count)
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
		*count = 0;
	} else {
		const uint64_t f = pte_frame(e, level + 1);
		/* For the prover: a split leaf is at level 1 or 2, so the sizes
		 * are numbers, and a frame aligned to the larger is aligned to
		 * the smaller with 511 more pages below 2^52 (one case each). */
		/*@ assert split_sizes: level == 0 && pt_size_of(level) == 0x1000 &&
		          pt_size_of((unsigned)(level + 1)) == 0x200000 ||
		      level == 1 && pt_size_of(level) == 0x200000 &&
		          pt_size_of((unsigned)(level + 1)) == 0x40000000;
		*/
		//@ assert split_0: level == 0 ==> f % 0x1000 == 0 && f + 511 * 0x1000 < (1 << 52);
		/*@ assert split_1: level == 1 ==>
		      f % 0x200000 == 0 && f + 511 * 0x200000 < (1 << 52);
		*/
		//@ assert split_f: f % pt_size_of(level) == 0;
		//@ assert split_end: f + 511 * pt_size_of(level) < (1 << 52);
		pte_t first = pte_leaf(level, f, pte_attr(e, level + 1));
		/*@ loop invariant 0 <= i <= PT_ENTRIES;
		    loop assigns i, t[0 .. PT_ENTRIES - 1]; */
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			t[i] = pte_leaf_next(first, level, i);
		*count = PT_ENTRIES;
	}
	return pa;
}

/* If the table under entry *slot (at `level`) holds 512 leaves forming one
 * aligned, contiguous, uniform run, the leaf at `level` that replaces it;
 * else 0. */
static pte_t merged(const struct op *o, pte_t slot, unsigned level)
{
	if (!o->merge || level > o->pt->top_leaf || pte_count(slot) != PT_ENTRIES)
		return 0;
	const pte_t *t = table_at(pte_next(slot));
	pte_t first = t[0];
	if (pte_kind(first, level - 1) != PTE_LEAF ||
	    (pte_frame(first, level - 1) & (pt_level_size(level) - 1)))
		return 0;
	for (unsigned i = 1; i < PT_ENTRIES; i++)
		if (t[i] != pte_leaf_next(first, level - 1, i))
			return 0;
	return pte_leaf(level, pte_frame(first, level - 1), pte_attr(first, level - 1));
}

/* Whether a tally meets table (root, place) for the first time; past
 * three quarters full it stops remembering and says yes. */
static bool tally_first(struct pt_tally *t, uint64_t root, uint64_t place)
{
	uint64_t h = (root ^ place * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;

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
static void count_table(struct op *o, unsigned level, uint64_t base)
{
	if (!o->tally)
		o->need++;
	else if (tally_first(o->tally, pa_addr(o->pt->root), base | level))
		o->tally->need++;
}

/* The commit's level-0 work on real table t: entries lo..hi (inclusive)
 * of the table whose entry 0 maps `base`. Returns the new count. */
static unsigned visit_pt(struct op *o, pte_t *t, uint64_t base, unsigned lo, unsigned hi,
                         unsigned count)
{
	uint64_t s = base + (uint64_t)lo * PAGE_SIZE;

	switch (o->kind) {
	case OP_MAP: {
		pte_t ne = pte_leaf(0, s + o->delta, o->attr);
		if (count == 0) { /* a fresh table: nothing to compare or invalidate */
			for (unsigned i = lo; i <= hi; i++, ne = pte_leaf_next(ne, 0, 1))
				t[i] = ne;
			return hi - lo + 1;
		}
		for (unsigned i = lo; i <= hi; i++, s += PAGE_SIZE, ne = pte_leaf_next(ne, 0, 1)) {
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
		for (unsigned i = lo; i <= hi; i++, s += PAGE_SIZE) {
			if (!t[i])
				continue;
			t[i] = 0;
			count--;
			tlb_note(o, s, 0);
		}
		return count;
	case OP_PROTECT:
		for (unsigned i = lo; i <= hi; i++, s += PAGE_SIZE) {
			pte_t old = t[i];
			if (!old)
				continue;
			pte_t ne =
			    pte_leaf(0, pte_frame(old, 0), (pte_attr(old, 0) & ~o->clear) | o->set);
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
static unsigned visit(struct op *o, pte_t *t, pte_t vt, unsigned level, uint64_t base,
                      unsigned count)
{
	const uint64_t size = pt_level_size(level);
	const uint64_t from = o->a > base ? o->a : base;
	const uint64_t to = o->b < base + PT_ENTRIES * size ? o->b : base + PT_ENTRIES * size;
	const unsigned lo = (unsigned)((from - base) / size),
	               hi = (unsigned)((to - 1 - base) / size);

	if (level == 0)
		return o->counting ? count : visit_pt(o, t, base, lo, hi, count);

	pte_t vfirst = 0;
	if (!t && vt)
		vfirst = pte_leaf(level, pte_frame(vt, level + 1), pte_attr(vt, level + 1));

	for (unsigned i = lo; i <= hi; i++) {
		CHECK(t || o->counting); /* only the counting pass walks virtual tables */
		const uint64_t s = base + i * size;
		const pte_t e = t ? t[i] : vt ? pte_leaf_next(vfirst, level, i) : 0;
		const enum pte_kind kind = pte_kind(e, level);
		const bool full = o->a <= s && s + size <= o->b;
		pte_t ne = e; /* what entry i becomes, when it is decided here */

		switch (o->kind) {
		case OP_MAP:
			if (kind == PTE_LEAF && pte_frame(e, level) == s + o->delta &&
			    pte_attr(e, level) == o->attr)
				continue; /* already mapped so */
			if (full && level <= o->max_leaf && !((s + o->delta) & (size - 1)))
				ne = pte_leaf(level, s + o->delta, o->attr);
			break;
		case OP_UNMAP:
			if (kind == PTE_ABSENT)
				continue;
			if (full)
				ne = 0;
			break;
		case OP_PROTECT:
			if (kind == PTE_ABSENT)
				continue;
			if (kind == PTE_LEAF) {
				ne = pte_leaf(level, pte_frame(e, level),
				              (pte_attr(e, level) & ~o->clear) | o->set);
				if (ne == e)
					continue;
				if (!full)
					ne = e; /* split below */
			}
			break;
		}

		if (ne != e) { /* decided at this level: write the entry */
			if (o->counting)
				continue;
			t[i] = ne;
			count += (ne != 0) - (kind != PTE_ABSENT);
			if (kind == PTE_TABLE)
				retire(o, pte_next(e), level - 1);
			else if (kind == PTE_LEAF)
				tlb_note(o, s, level);
			continue;
		}

		/* Go down: into the table there, or one made or split for it. */
		if (o->counting) {
			if (kind == PTE_TABLE) {
				visit(o, table_at(pte_next(e)), 0, level - 1, s, pte_count(e));
			} else {
				count_table(o, level - 1, s);
				visit(o, NULL, e, level - 1, s, 0);
			}
			continue;
		}
		unsigned cc;
		if (kind == PTE_TABLE) {
			cc = pte_count(e);
		} else {
			/* A live tree never links a table whose entries are not yet
			 * what they must be: the CPU may walk it at once. */
			bool filled = level == 1 && full && o->kind == OP_MAP && !o->live;
			paddr_t child = new_table(o, e, level - 1, filled, &cc);
			t[i] = pte_table(child, cc);
			count += kind == PTE_ABSENT;
			/* A split superpage: its TLB entries must be gone before any
			 * of its pieces changes, or the TLB could hold both (Intel SDM
			 * vol. 3A, 4.10.2.3). */
			if (kind == PTE_LEAF && o->live)
				plat_flush_tlb();
		}
		const pte_t slot = t[i];
		cc = visit(o, table_at(pte_next(slot)), 0, level - 1, s, cc);
		if (cc == 0) { /* empty: nothing below it to retire */
			t[i] = 0;
			count--;
			retire(o, pte_next(slot), 0);
			continue;
		}
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
	}
	return count;
}

/* Check a virtual range [va, va + len): sets the linear [a, b). */
/*@ requires \valid(a) && \valid(b) && \separated(a, b);
    assigns *a, *b;
    ensures \result == \null ==> *a < *b <= LIN_TOP && *b - *a == len;
*/
static err_t check_range(vaddr_t va, uint64_t len, uint64_t *a, uint64_t *b)
{
	uint64_t v = va_addr(va);

	if (!len || (v | len) & (PAGE_SIZE - 1))
		return pt_err_align;
	if (!is_canonical(v))
		return pt_err_range;
	uint64_t lin = v & (LIN_TOP - 1);
	uint64_t end = lin < LIN_HALF ? LIN_HALF : LIN_TOP; /* the end of its half */
	if (len > end - lin)
		return pt_err_range;
	*a = lin;
	*b = lin + len;
	return NULL;
}

/* Prepare, then commit. */
static err_t run(struct op *o)
{
	struct pt *pt = o->pt;
	pte_t *root = table_at(pt->root);

	o->counting = true;
	o->need = 0;
	visit(o, root, 0, PT_LEVELS - 1, 0, pt->root_count);

	o->stash = NO_PAGE;
	for (uint64_t k = 0; k < o->need; k++) {
		paddr_t pa;
		if (pt->mem.get(pt->mem.ctx, &pa)) {
			while (o->stash != NO_PAGE)
				pt->mem.put(pt->mem.ctx, chain_pop(&o->stash));
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

	if (o->live) {
		if (o->tlb_all)
			plat_flush_tlb();
		else
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
static __attribute__((noinline)) pte_t *walk_to_pt_slow(struct pt *pt, uint64_t va, pte_t **pd)
{
	pte_t *t = table_at(pt->root);

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

static inline pte_t *walk_to_pt(struct pt *pt, uint64_t va, pte_t **pd)
{
	if (va >> 21 != pt->hint_tag)
		return walk_to_pt_slow(pt, va, pd);
	*pd = pt->hint_pd;
	return &pt->hint_pt[pt_index(va, 0)];
}

/* The general paths, kept out of line so that the single-page paths stay
 * small (no struct op to clear, no registers to save). */
static __attribute__((noinline)) err_t map_range(struct pt *pt, uint64_t from, uint64_t to,
                                                 uint64_t delta, pt_attr_t a, unsigned flags)
{
	struct op o = {.pt = pt,
	               .kind = OP_MAP,
	               .a = from,
	               .b = to,
	               .attr = a,
	               .delta = delta,
	               .merge = !(flags & PT_SMALL),
	               .max_leaf = flags & PT_SMALL ? 0 : pt->top_leaf};
	return run(&o);
}

static __attribute__((noinline)) err_t unmap_range(struct pt *pt, uint64_t from, uint64_t to)
{
	struct op o = {.pt = pt, .kind = OP_UNMAP, .a = from, .b = to, .merge = true};
	return run(&o);
}

/* Read the level-1 entry for v in PD table `dir` and finish the lookup
 * from there, setting the level-0 hint when it leads to a table. */
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

err_t pt_init(struct pt *pt, const struct pt_mem *mem, bool gib_pages)
{
	paddr_t root;

	if (!leaf0_bits[PT_R]) {
		for (pt_attr_t a = 0; a <= PT_ATTR_MASK; a++)
			leaf0_bits[a] = pte_leaf(0, 0, a);
		for (unsigned b = 0; b < 256; b++) /* XD set: leaf0_attr adds PT_X */
			pt_attr0_of[b] = pte_attr(((pte_t)b << 1) | PTE_XD, 0);
	}
	if (mem->get(mem->ctx, &root))
		return pt_err_nomem;
	pte_t *t = table_at(root);
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
	if (pte_count(*pd) == PT_ENTRIES - 1 && !(flags & PT_SMALL))
		return false;
	*pd = pte_count_inc(*pd);
	*slot = ne;
	return true;
}

static inline bool unmap_page(struct pt *pt, pte_t *pd, pte_t *slot, uint64_t va)
{
	if (!*slot)
		return true;
	if (pte_count(*pd) == 1)
		return false;
	*pd = pte_count_dec(*pd);
	*slot = 0;
	if (pt_live(pt))
		plat_invlpg(va_init(va));
	return true;
}

/* pt_map's arguments: sets the linear [from, to). */
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
	return map_range(pt, from, to, pa_addr(pa) - from, a, flags);
}

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
err_t pt_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t len, pt_attr_t a, unsigned flags)
{
	const uint64_t v = va_addr(va), p = pa_addr(pa);

	if (len == PAGE_SIZE && v >> 21 == pt->hint_tag && !((v | p) & (PAGE_SIZE - 1)) &&
	    p < PA_TOP && (a & (PT_R | ~PT_ATTR_MASK)) == PT_R &&
	    map_page(pt, pt->hint_pd, &pt->hint_pt[pt_index(v, 0)], v, p | leaf0_bits[a], flags))
		return NULL;
	return map_checked(pt, va, pa, len, a, flags);
}

err_t pt_unmap(struct pt *pt, vaddr_t va, uint64_t len)
{
	const uint64_t v = va_addr(va);

	if (len == PAGE_SIZE && v >> 21 == pt->hint_tag && !(v & (PAGE_SIZE - 1)) &&
	    unmap_page(pt, pt->hint_pd, &pt->hint_pt[pt_index(v, 0)], v))
		return NULL;
	return unmap_checked(pt, va, len);
}

static err_t check_protect(vaddr_t va, uint64_t len, pt_attr_t clear, pt_attr_t set, uint64_t *from,
                           uint64_t *to)
{
	err_t e = check_range(va, len, from, to);

	if (e)
		return e;
	if ((clear & PT_R) || ((clear | set) & ~PT_ATTR_MASK))
		return pt_err_rights;
	return NULL;
}

err_t pt_protect(struct pt *pt, vaddr_t va, uint64_t len, pt_attr_t clear, pt_attr_t set)
{
	struct op o = {.pt = pt, .kind = OP_PROTECT, .merge = true, .clear = clear, .set = set};
	err_t e = check_protect(va, len, clear, set, &o.a, &o.b);

	return e ? e : run(&o);
}

/* ---- dry runs ------------------------------------------------------------ */

void pt_tally_begin(struct pt_tally *t)
{
	t->need = 0;
	t->used = 0;
	if (++t->gen == 0) { /* wrapped: forget every stamp */
		for (unsigned i = 0; i < PT_TALLY_SLOTS; i++)
			t->seen[i].gen = 0;
		t->gen = 1;
	}
}

/* Whether an operation on [a, b) of pt surely makes no table: one 4K
 * page whose level-0 table is there (the walk, or its hint, answers).
 * Asked before a struct op is cleared, which costs more than the walk. */
static bool count_nothing(struct pt *pt, uint64_t a, uint64_t b)
{
	pte_t *pd;

	return b - a == PAGE_SIZE && pa_addr(pt->root) != NO_PAGE && walk_to_pt(pt, canon(a), &pd);
}

/* The prepare pass of o alone, into tally t. */
static err_t count(struct op *o, struct pt_tally *t)
{
	o->counting = true;
	o->tally = t;
	if (pa_addr(o->pt->root) == NO_PAGE) { /* pt_blank: the root too */
		count_table(o, PT_LEVELS - 1, 0);
		visit(o, NULL, 0, PT_LEVELS - 1, 0, 0);
		return NULL;
	}
	visit(o, table_at(o->pt->root), 0, PT_LEVELS - 1, 0, o->pt->root_count);
	return NULL;
}

void pt_blank(struct pt *pt, bool gib_pages)
{
	*pt = (struct pt){.root = pa_init(NO_PAGE),
	                  .top_leaf = gib_pages ? 2 : 1,
	                  .hint_tag = NO_HINT,
	                  .hint_dtag = NO_HINT};
}

err_t pt_count_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t len, pt_attr_t a, unsigned flags,
                   struct pt_tally *t)
{
	uint64_t from, to;
	err_t e = check_map(va, pa, len, a, &from, &to);

	if (e || count_nothing(pt, from, to))
		return e;
	struct op o = {.pt = pt,
	               .kind = OP_MAP,
	               .a = from,
	               .b = to,
	               .attr = a,
	               .delta = pa_addr(pa) - from,
	               .merge = !(flags & PT_SMALL),
	               .max_leaf = flags & PT_SMALL ? 0 : pt->top_leaf};
	return count(&o, t);
}

err_t pt_count_unmap(struct pt *pt, vaddr_t va, uint64_t len, struct pt_tally *t)
{
	uint64_t from, to;
	err_t e = check_range(va, len, &from, &to);

	if (e || count_nothing(pt, from, to))
		return e;
	struct op o = {.pt = pt, .kind = OP_UNMAP, .a = from, .b = to, .merge = true};
	return count(&o, t);
}

err_t pt_count_protect(struct pt *pt, vaddr_t va, uint64_t len, pt_attr_t clear, pt_attr_t set,
                       struct pt_tally *t)
{
	uint64_t from, to;
	err_t e = check_protect(va, len, clear, set, &from, &to);

	if (e || count_nothing(pt, from, to))
		return e;
	struct op o = {.pt = pt,
	               .kind = OP_PROTECT,
	               .a = from,
	               .b = to,
	               .merge = true,
	               .clear = clear,
	               .set = set};
	return count(&o, t);
}

/* pt_lookup (pt.h) past the level-0 hint: the level-1 hint, or the whole
 * walk. */
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
	if (r->open && !r->fn(r->ctx, c))
		r->stop = true;
	*c = (struct pt_run){va_init(canon(lin)), size, pa_init(pa), a, level};
	r->cur_lin = lin;
	r->open = true;
}

static void runs_table(struct runs *r, paddr_t table, unsigned level, uint64_t base)
{
	const pte_t *t = table_at(table);

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

void pt_runs(const struct pt *pt, bool (*fn)(void *ctx, const struct pt_run *r), void *ctx)
{
	struct runs r = {.fn = fn, .ctx = ctx};

	runs_table(&r, pt->root, PT_LEVELS - 1, 0);
	if (r.open && !r.stop)
		fn(ctx, &r.cur);
}

static void census_table(paddr_t table, unsigned level, struct pt_census *c)
{
	const pte_t *t = table_at(table);

	c->tables++;
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		switch (pte_kind(t[i], level)) {
		case PTE_ABSENT:
			break;
		case PTE_LEAF:
			c->leaves[level]++;
			c->pages += pt_level_size(level) / PAGE_SIZE;
			break;
		case PTE_TABLE:
			census_table(pte_next(t[i]), level - 1, c);
			break;
		}
	}
}

void pt_census(const struct pt *pt, struct pt_census *c)
{
	*c = (struct pt_census){0};
	census_table(pt->root, PT_LEVELS - 1, c);
}

void pt_load(const struct pt *pt)
{
	live_root = pa_addr(pt->root);
	plat_write_cr3(live_root);
}

bool pt_live(const struct pt *pt)
{
	return pa_addr(pt->root) == live_root;
}
