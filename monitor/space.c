/*
 * The spaces layer: SPEC section 1's operations on the mapping database
 * (mdb.h) and on each space's page tables (pt.h).
 *
 * Every command runs in three steps:
 *  1. check its arguments and the model's precondition (no change);
 *  2. prepare: split database trees where a node straddles a boundary of
 *     the region or is larger than the command can handle in one piece
 *     (mdb_split; no translation changes), then reserve every node and
 *     table page the commit can need (mdb_reserve, stash_fill);
 *  3. commit: change nodes and entries; nothing can fail here.
 * A failure in 1 or 2 leaves the model as it was.
 *
 * Regions. map and grant are defined page by page in address order, and
 * the order matters only when a page of the region derives from another
 * page the same command writes (overlapping regions in one space, or a
 * source that derives from the destination). Such a command is dependent:
 * everything it touches is split to 4K nodes and it runs page by page.
 * Otherwise the whole destination is flushed at once and one node is made
 * per source node, so a 2M or 1G map of one superpage node is one node and
 * one entry.
 *
 * Table pages for every space come through one door, a stash of frames
 * taken from the pool before the commit; what the commit does not use
 * goes back after it.
 */
#include "space.h"

#include "frame.h"
#include "mdb.h"
#include "platform.h"

const char space_err_nospace[] = "no such space";
const char space_err_align[] = "not page-aligned (or a zero size)";
const char space_err_range[] = "not a canonical lower-half address range";
const char space_err_reserved[] = "in the upper half, which memmon reserves for itself";
const char space_err_rights[] = "rights must include r";
const char space_err_invalid[] = "a source page holds no mapping";
const char space_err_nomem[] = "the pool is exhausted";
const char space_err_sigma0[] = "sigma0 cannot be deleted";
const char space_err_full[] = "every space number is in use";
const char space_err_busy[] = "sigma0 has too few frames from which nothing is derived";
const char space_err_occupied[] =
    "sigma0 maps pages where the frames would go (granted there): flush them first";
const char space_err_extents[] = "client memory is too fragmented (extent table full)";

#define EXTENTS_MAX 4096
#define STASH_KEEP  0  /* nothing held between commands: the counts stay exact */
#define PIECES_MAX  64 /* pool grow / shrink: ranges per command */
#define UPPER_HALF  0xffff800000000000ull
#define NO_SPACE    UINT32_MAX

_Static_assert(SPACE_MAX <= MDB_MAX_SPACES, "the database counts nodes per space");

struct space {
	bool used;
	struct pt pt;
	uint64_t pages;
	uint64_t gen; /* space_generation: the clock when its tables last changed */
};
static struct space SP[SPACE_MAX];
static uint64_t gen_clock; /* ticks at every change of any space's tables */

/* Space s's tables are about to change. */
static void touched(unsigned s)
{
	SP[s].gen = ++gen_clock;
}

uint64_t space_generation(unsigned n)
{
	return n < SPACE_MAX && SP[n].used ? SP[n].gen : 0;
}

static struct {
	bool gib;
	struct space_extent ext[EXTENTS_MAX]; /* sorted by base; one allocator run each */
	size_t next;
	uint64_t client;      /* frames in ext[] */
	uint64_t client_boot; /* client when space_boot returned: reset's target */
	uint64_t roots;       /* pages of root nodes: frames some space reaches */
	paddr_t stash;        /* table pages held ready, linked through their first word */
	uint64_t nstash;
	struct plat_rsv rsv[PLAT_RSV_MAX];
	size_t nrsv;
} S;

/* ---- the stash: table pages for every space ---------------------------- */

/* The stash is strict: every page a commit takes was reserved from what
 * paging counted (pt_count_*), so an empty stash here is a bug, never a
 * reason to borrow from the pool. */
static err_t stash_get(void *ctx, paddr_t *out)
{
	(void)ctx;
	CHECK(S.nstash > 0);
	*out = S.stash;
	S.stash = pa_init(*(uint64_t *)plat_pa_to_ptr(S.stash));
	S.nstash--;
	return NULL;
}

static void stash_put(void *ctx, paddr_t pa)
{
	(void)ctx;
	*(uint64_t *)plat_pa_to_ptr(pa) = pa_addr(S.stash);
	S.stash = pa;
	S.nstash++;
}

static const struct pt_mem stash_mem = {.get = stash_get, .put = stash_put, .ctx = NULL};

/* Give stash pages back to the pool until `keep` are left. */
static void stash_trim(uint64_t keep)
{
	while (S.nstash > keep) {
		paddr_t pa;
		stash_get(NULL, &pa);
		CHECK(!kfree(pa, FRAME_PTABLE));
	}
}

/* Hold at least n pages; on failure give back what this call took. */
static err_t stash_fill(uint64_t n)
{
	const uint64_t before = S.nstash;

	while (S.nstash < n) {
		paddr_t pa;
		if (kalloc(FRAME_PTABLE, &pa)) {
			stash_trim(before);
			return space_err_nomem;
		}
		stash_put(NULL, pa);
	}
	return NULL;
}

/* Reserve n nodes and t table pages, or neither. */
static err_t reserve(uint64_t n, uint64_t t)
{
	if (mdb_reserve(n))
		return space_err_nomem;
	return stash_fill(t);
}

/* ---- small helpers ---------------------------------------------------------- */

static inline uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static pt_attr_t attr_of(unsigned rights)
{
	return PT_USER | rights; /* rights are the attributes' rights bits (rights.h) */
}

static unsigned rights_of(pt_attr_t a)
{
	return rights_of_attr(a);
}

static struct mdb_node *N(mdb_id i)
{
	return mdb_at(i);
}

bool space_exists(unsigned n)
{
	return n < SPACE_MAX && SP[n].used;
}

struct pt *space_pt(unsigned n)
{
	return space_exists(n) ? &SP[n].pt : NULL;
}

uint64_t space_pages(unsigned n)
{
	return space_exists(n) ? SP[n].pages : 0;
}

paddr_t space_node_frame(uint32_t node)
{
	struct pt_hit h;
	const struct mdb_node *x = N(node);

	CHECK(pt_lookup(&SP[mdb_space(x)].pt, va_init(mdb_va(x)), &h));
	return h.pa;
}

uint32_t space_node(unsigned n, uint64_t v)
{
	return space_exists(n) ? mdb_find(n, v & ~(PAGE_SIZE - 1)) : MDB_NIL;
}

size_t space_extents(const struct space_extent **out)
{
	*out = S.ext;
	return S.next;
}

static err_t check_space(unsigned n)
{
	return space_exists(n) ? NULL : space_err_nospace;
}

static err_t check_region(uint64_t v, uint64_t len)
{
	if (v >= SPACE_USER_TOP)
		return v >= UPPER_HALF ? space_err_reserved : space_err_range;
	if (v % PAGE_SIZE || len % PAGE_SIZE || !len)
		return space_err_align;
	if (len > SPACE_USER_TOP - v)
		return space_err_range;
	return NULL;
}

static err_t check_rights(unsigned rights)
{
	return rights_valid(rights) ? NULL : space_err_rights;
}

/*
 * The node of space n holding page v. The tables answer first: a page
 * they do not map holds no node (invariant 5). This keeps the hash (whose
 * chains are cache misses) out of the common case of an empty
 * destination.
 */
static mdb_id find_node(unsigned n, uint64_t v)
{
	struct pt_hit h;

	if (!pt_lookup(&SP[n].pt, va_init(v), &h))
		return MDB_NIL;
	return mdb_find(n, v);
}

/* Past the hole at pos: the end of the largest absent entry on its walk. */
static uint64_t skip_absent(const struct pt *pt, uint64_t pos)
{
	struct pt_walk w;

	pt_walk(pt, va_init(pos), &w);
	if (!w.depth || w.step[w.depth - 1].kind != PTE_ABSENT)
		return pos + PAGE_SIZE;
	const uint64_t span = mdb_level_size(PT_LEVELS - w.depth);
	return (pos & ~(span - 1)) + span;
}

/* The first node of space n holding a page in [*pos, end), with *pos moved
 * to the first page looked at that it holds; MDB_NIL at the end. */
static mdb_id node_from(unsigned n, uint64_t *pos, uint64_t end)
{
	while (*pos < end) {
		mdb_id x = find_node(n, *pos);
		if (x)
			return x;
		*pos = skip_absent(&SP[n].pt, *pos);
	}
	return MDB_NIL;
}

static uint64_t node_end(mdb_id x)
{
	return mdb_va(N(x)) + mdb_size(N(x));
}

/* ---- the database heals ----------------------------------------------------- */

/*
 * A command splits database trees in its prepare step (mdb_split), and its
 * commit removes nodes and cuts rights. Both are undone where they can be:
 *  - a command that fails after splitting joins every tree it split back
 *    to the size it had (the undo list: the root's place and size, noted
 *    before its first split; nothing else changed the tree since);
 *  - a command that succeeds looks at every tree whose nodes it removed or
 *    whose rights it cut (the heal list) and joins it a level up, again
 *    and again, while its group of 512 trees is whole: the same shape and
 *    rights piece for piece, the roots mapping one aligned run of frames
 *    (mdb_joinable). Translations do not change: paging has already
 *    merged the entries of a uniform table on its own.
 * Then the database gives back node pages it no longer needs (mdb_compact;
 * see finish for when). So after every client space is deleted, sigma0's nodes
 * are its boot nodes again, and a failed command leaves the database, and
 * the pool's counts, as they were.
 */
#define UNDO_MAX 4096  /* trees one command may split (pool grow: 64 pieces, 2 ends each) */
#define HEAL_MAX 16384 /* trees one command heals; past that, every tree is looked at */

static struct {
	struct {
		unsigned space, level;
		uint64_t va;
	} split[UNDO_MAX];
	unsigned nsplit;
	mdb_id heal[HEAL_MAX];
	unsigned nheal;
	bool heal_all;
	uint32_t pages0; /* node pages at the start of the command */
} U;

/* Note that the tree holding x changed: heal it at the end. */
static void heal_note(mdb_id x)
{
	if (U.nheal && U.heal[U.nheal - 1] == x)
		return;
	if (U.nheal == HEAL_MAX)
		U.heal_all = true;
	else
		U.heal[U.nheal++] = x;
}

/* Whether the roots of r0's group (piece 0..511) map one aligned run of
 * frames, piece k at frame(r0) + k * size. */
static bool frames_join(mdb_id r0)
{
	const uint64_t size = mdb_size(N(r0)), f0 = pa_addr(space_node_frame(r0));

	if (f0 & (size * 512 - 1))
		return false;
	for (unsigned k = 1; k < 512; k++)
		if (pa_addr(space_node_frame(mdb_piece(r0, k))) != f0 + k * size)
			return false;
	return true;
}

/* The group (space, block a level up, level) of root r, as one key. */
static uint64_t group_of(mdb_id r)
{
	const struct mdb_node *x = N(r);
	const uint64_t span = mdb_level_size(mdb_level(x) + 1);

	return (uint64_t)mdb_space(x) << 48 | (mdb_va(x) & ~(span - 1)) | mdb_level(x);
}

/* Join the tree holding c a level up while its group is whole. *failed:
 * the group last found not whole (no change since), skipped. */
static void heal_tree(mdb_id c, uint64_t *failed)
{
	for (;;) {
		if (!mdb_may_join(c))
			return;
		const mdb_id r = mdb_root(c);
		const uint64_t g = group_of(r);
		if (g == *failed)
			return;
		const mdb_id r0 = mdb_joinable(r);
		if (!r0 || !frames_join(r0)) {
			*failed = g;
			return;
		}
		mdb_join(r0);
		*failed = ~(uint64_t)0; /* a group found not whole may be whole now */
		c = r0;
	}
}

static bool heal_root(void *ctx, mdb_id i)
{
	if (!N(i)->parent)
		heal_tree(i, ctx);
	return true;
}

/* Join the tree of space s whose root held [va, va + size(level)) back to
 * that one root: its pieces first, each back to a piece a level down. */
static void unsplit(unsigned s, uint64_t va, unsigned level)
{
	const mdb_id x = mdb_find(s, va);

	CHECK(x && !N(x)->parent);
	if (mdb_level(N(x)) >= level)
		return;
	for (unsigned k = 0; k < 512; k++)
		unsplit(s, va + k * mdb_level_size(level - 1), level - 1);
	mdb_join(mdb_find(s, va));
}

/* The start of every command that ends in finish: the database's node
 * pages, which a failure goes back to. */
static void begin(void)
{
	U.pages0 = mdb_node_pages();
}

/* The end of every command: undo its splits (failed) or heal what it
 * changed (succeeded); give back the database pages and table pages it
 * no longer needs. A failed command leaves the database the node pages
 * it had (begin); a successful one gives back node pages once two pages'
 * worth of nodes are free (a workload that frees and takes back a page's
 * worth does not move nodes every time), and `exact` (space del) gives
 * back every page the nodes do not need, so that once every client space
 * is deleted the database is its boot size. Returns e. */
static err_t finish(err_t e, bool exact)
{
	if (e) {
		while (U.nsplit) {
			U.nsplit--;
			unsplit(U.split[U.nsplit].space, U.split[U.nsplit].va,
			        U.split[U.nsplit].level);
		}
	} else if (U.heal_all) {
		uint64_t failed = ~(uint64_t)0;
		mdb_each(heal_root, &failed);
	} else {
		uint64_t failed = ~(uint64_t)0;
		for (unsigned i = 0; i < U.nheal; i++)
			if (!(N(U.heal[i])->key & MDB_KEY_FREE))
				heal_tree(U.heal[i], &failed);
	}
	U.nsplit = U.nheal = 0;
	U.heal_all = false;
	if (e)
		mdb_compact(U.pages0);
	else if (exact || mdb_free_nodes() >= 2 * PAGE_SIZE / sizeof(struct mdb_node))
		mdb_compact(0);
	stash_trim(STASH_KEEP);
	return e;
}

/* ---- prepare: splits ------------------------------------------------------- */

/* Split the tree of x one level, taking its nodes first; note its root's
 * place and size for the undo, unless the tree is a piece of one this
 * command split already (the last noted: splits of pieces follow the
 * split of their tree). */
static err_t split_tree(mdb_id x)
{
	const mdb_id r = mdb_root(x);
	const struct mdb_node *p = N(r);
	const uint64_t size = mdb_subtree_size(r);
	const unsigned s = mdb_space(p);

	bool noted = false;
	if (U.nsplit) {
		const unsigned last = U.nsplit - 1;
		noted = U.split[last].space == s && U.split[last].level > mdb_level(p) &&
		        mdb_va(p) >= U.split[last].va &&
		        mdb_va(p) < U.split[last].va + mdb_level_size(U.split[last].level);
	}
	if (!noted) {
		if (U.nsplit == UNDO_MAX)
			return space_err_nomem;
		U.split[U.nsplit].space = s;
		U.split[U.nsplit].va = mdb_va(p);
		U.split[U.nsplit].level = mdb_level(p);
		U.nsplit++;
	}
	if (mdb_reserve(size * 511))
		return space_err_nomem;
	mdb_split(x);
	return NULL;
}

enum cut_need { CUT_ALWAYS, CUT_IF_CHILDREN, CUT_IF_RIGHTS };

/* Whether node x, cut by a region, must really be split for the command. */
static bool must_cut(mdb_id x, enum cut_need need, unsigned rights)
{
	switch (need) {
	case CUT_IF_CHILDREN:
		return N(x)->child != MDB_NIL;
	case CUT_IF_RIGHTS:
		return (mdb_rights(N(x)) & ~rights) != 0;
	default:
		return true;
	}
}

/* No node of space n may hold both page a - 4K and page a. Looked at from
 * the side inside the region (`inside` is a - 4K for its end, a for its
 * start), the page the command looks up anyway. */
static err_t cut_at(unsigned n, uint64_t a, uint64_t inside, enum cut_need need, unsigned rights)
{
	if (a >= SPACE_USER_TOP || a == 0)
		return NULL;
	for (;;) {
		mdb_id x = find_node(n, inside);
		if (!x || mdb_va(N(x)) == a || node_end(x) == a || !must_cut(x, need, rights))
			return NULL;
		err_t e = split_tree(x);
		if (e)
			return e;
	}
}

/* Both ends of [v, v + len). */
static err_t cut_region(unsigned n, uint64_t v, uint64_t len, enum cut_need need, unsigned rights)
{
	err_t e = cut_at(n, v, v, need, rights);
	return e ? e : cut_at(n, v + len, v + len - PAGE_SIZE, need, rights);
}

/* Split every node of [v, v + len) (whose ends are cut) above `level`. */
static err_t split_above(unsigned n, uint64_t v, uint64_t len, unsigned level)
{
	for (uint64_t pos = v, end = v + len;;) {
		mdb_id x = node_from(n, &pos, end);
		if (!x)
			return NULL;
		if (mdb_level(N(x)) > level) {
			err_t e = split_tree(x);
			if (e)
				return e;
			continue;
		}
		pos = node_end(x);
	}
}

/*
 * ---- prepare: table pages, as paging counts them ----------------------------
 *
 * A command's commit is a batch of paging operations: pt_unmap of a node's
 * block for each node it removes (drop_node), pt_map of a node's block
 * for each node it makes (add_node), pt_protect of a node's block for each
 * node whose rights it cuts (protect_tree). The prepare step counts every
 * one of them into one tally, on the tables as they are before the commit
 * (pt_count_*), and reserves tally.need table pages: paging's own counting
 * pass is the only authority on table pages. Table pages the commit frees
 * go back into the stash (stash_put) and can serve later operations.
 *
 * Why that is enough (pt.h states the bound and its conditions C1, C2):
 * - unmap, flush, protect and space del only remove nodes and cut rights:
 *   no map in the batch, so C1 and C2 hold trivially.
 * - map and grant, independent: first every node of the destination is
 *   removed (with its subtree), node by node; then one node is made per
 *   source node, each inside the destination; then (grant) the source's
 *   nodes are removed. C1: what a map wrote whole lies in the
 *   destination, and no later removal touches the destination (the
 *   source is disjoint from it, and whatever derived from the source
 *   inside it was removed before the maps). C2: if the tables already
 *   mapped a new node's block exactly so, the node there mapped the same
 *   frames, so it was of the same tree and hence of the same size as the
 *   source node (every node of a tree has one size, and every frame has
 *   one tree): its removal covered exactly the new block, never a larger
 *   entry around it.
 * - map and grant, dependent: every operation is one 4K page, at a page
 *   of the destination, of the source (grant), or of a node derived from
 *   them before the command (the nodes made on the way are in the
 *   destination). A 4K operation makes a table at place P only where no
 *   table is (after a return matched as in pt.h) and P lies on the
 *   page's own path; a table never there before lies, on the tables
 *   before the command, below a leaf (which an unmap of that page
 *   counts) or below an absent entry (which a map of that page counts).
 *   So a map and an unmap counted at each page of the destination and an
 *   unmap at each page of the source and of every derived node bound it.
 * - space new, boot, reset and pool shrink only map, into places holding
 *   nothing; pool grow only removes.
 */
static struct pt_tally tally;

/* What removing node y takes (drop_node). */
static void count_drop(mdb_id y)
{
	const struct mdb_node *x = N(y);

	CHECK(!pt_count_unmap(&SP[mdb_space(x)].pt, va_init(mdb_va(x)), mdb_size(x), &tally));
}

/* What removing the subtree of top takes, top itself only if `self`. */
static void count_remove(mdb_id top, bool self)
{
	for (mdb_id y = self ? top : mdb_next_in(top, top); y; y = mdb_next_in(top, y))
		count_drop(y);
}

/* What protect_tree(top, rights) takes: each node whose rights it cuts. */
static void count_protect(mdb_id top, unsigned rights)
{
	for (mdb_id y = top; y; y = mdb_next_in(top, y)) {
		const struct mdb_node *x = N(y);
		const unsigned old = mdb_rights(x), nr = old & rights;
		if (nr != old)
			CHECK(!pt_count_protect(&SP[mdb_space(x)].pt, va_init(mdb_va(x)),
			                        mdb_size(x), attr_of(old) & ~attr_of(nr), 0,
			                        &tally));
	}
}

/* What making a node of `rights` at n:va of `level`, mapping pa, takes. */
static void count_add(unsigned n, uint64_t va, unsigned level, unsigned rights, paddr_t pa)
{
	CHECK(!pt_count_map(&SP[n].pt, va_init(va), pa, mdb_level_size(level), attr_of(rights), 0,
	                    &tally));
}

/* Whether node x is a mapping of space n with a page in [a, a + len). */
static bool overlaps(mdb_id x, unsigned n, uint64_t a, uint64_t len)
{
	const struct mdb_node *p = N(x);
	return mdb_space(p) == n && mdb_va(p) < a + len && a < mdb_va(p) + mdb_size(p);
}

/*
 * What a command on every node of [v, v + len) of space n takes: per
 * node, removing everything below it and (`self`) the node itself; or,
 * for protect (rights not 0), cutting the rights of it and its subtree. A
 * node derived from another node of the region is in that node's
 * subtree, counted with it (so chains cost O(nodes), not O(nodes^2)).
 */
static void count_region(unsigned n, uint64_t v, uint64_t len, bool self, unsigned rights)
{
	for (uint64_t pos = v, end = v + len;;) {
		mdb_id x = node_from(n, &pos, end);
		if (!x)
			return;
		pos = node_end(x);
		const mdb_id p = N(x)->parent;
		if (p && overlaps(p, n, v, len))
			continue;
		if (rights)
			count_protect(x, rights);
		else
			count_remove(x, self);
	}
}

/* ---- commit: node and entry changes ----------------------------------------- */

/* Take node x (unlinked from nothing yet, childless) out of the model:
 * its entries, its node. */
static uint64_t drop_node(mdb_id x)
{
	struct mdb_node *n = N(x);
	const unsigned s = mdb_space(n);
	const uint64_t size = mdb_size(n), pages = size / PAGE_SIZE;

	touched(s);
	CHECK(!pt_unmap(&SP[s].pt, va_init(mdb_va(n)), size));
	SP[s].pages -= pages;
	if (!n->parent)
		S.roots -= pages;
	mdb_unlink(x);
	mdb_free(x);
	return pages;
}

/* Remove top and everything derived from it; pages removed. */
static uint64_t remove_tree(mdb_id top)
{
	uint64_t pages = 0;

	if (N(top)->parent)
		heal_note(N(top)->parent);
	for (mdb_id x = top;;) {
		while (N(x)->child)
			x = N(x)->child;
		const mdb_id up = N(x)->parent;
		pages += drop_node(x);
		if (x == top)
			return pages;
		x = up;
	}
}

/* Remove everything derived from x, keeping x. */
static uint64_t remove_children(mdb_id x)
{
	uint64_t pages = 0;

	heal_note(x);
	while (N(x)->child)
		pages += remove_tree(N(x)->child);
	return pages;
}

/* flush of a region whose ends are cut: every node in it, and below. */
static uint64_t flush_nodes(unsigned n, uint64_t v, uint64_t len)
{
	uint64_t pages = 0;

	for (uint64_t pos = v, end = v + len;;) {
		mdb_id x = node_from(n, &pos, end);
		if (!x)
			return pages;
		pos = node_end(x);
		pages += remove_tree(x);
	}
}

/* A new node in space s at va (level, rights) mapping `pa`, derived from
 * parent (MDB_NIL: a root, the frames Real). */
static mdb_id add_node(unsigned s, uint64_t va, unsigned level, unsigned rights, mdb_id parent,
                       paddr_t pa)
{
	const mdb_id d = mdb_new(s, va, level, rights);
	const uint64_t size = mdb_level_size(level);

	if (parent)
		mdb_link(parent, d);
	else
		S.roots += size / PAGE_SIZE;
	touched(s);
	CHECK(!pt_map(&SP[s].pt, va_init(va), pa, size, attr_of(rights), 0));
	SP[s].pages += size / PAGE_SIZE;
	return d;
}

static void note(struct space_result *r, mdb_id d)
{
	const unsigned rights = mdb_rights(N(d));

	r->pages += mdb_size(N(d)) / PAGE_SIZE;
	r->rights_or |= rights;
	r->rights_and &= rights;
}

/* ---- map and grant ----------------------------------------------------------- */

/*
 * The precondition of map and grant: every page of the source holds a
 * mapping. Also whether the command is dependent: a source page derives
 * from a page of the destination (or, for grant, of the source itself),
 * or the two regions overlap. Counts the source's nodes.
 */
static err_t survey(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len, bool grant,
                    bool *dependent, uint64_t *nodes)
{
	err_t e = NULL;

	*dependent = n == n2 && v < v2 + len && v2 < v + len;
	*nodes = 0;
	/* Each ancestor is looked at once: it is marked when looked at, and a
	 * walk stops at a marked one (whose own ancestors were looked at when
	 * it was). Chains of derivations inside the region stay linear. */
	uint64_t stop = v; /* where the walk ended: marks lie only below it */
	for (uint64_t end = v + len; stop < end && !*dependent;) {
		mdb_id x = find_node(n, stop);
		if (!x) {
			e = space_err_invalid;
			break;
		}
		for (mdb_id p = N(x)->parent; p && !(N(p)->key & MDB_KEY_MARK); p = N(p)->parent) {
			N(p)->key |= MDB_KEY_MARK;
			*dependent = overlaps(p, n2, v2, len) || (grant && overlaps(p, n, v, len));
			if (*dependent)
				break;
		}
		(*nodes)++;
		stop = node_end(x);
	}
	/* the marks go: every marked node lies on a marked path upward from a
	 * source node the walk passed, below `stop` (not up to the region's
	 * end: a huge region whose first page is missing must fail at once) */
	for (uint64_t pos = v; pos < stop;) {
		mdb_id x = find_node(n, pos);
		if (!x) {
			pos += PAGE_SIZE;
			continue;
		}
		for (mdb_id p = N(x)->parent; p && (N(p)->key & MDB_KEY_MARK); p = N(p)->parent)
			N(p)->key &= ~MDB_KEY_MARK;
		pos = node_end(x);
	}
	if (e)
		return e;
	/* a dependent command stopped early: the whole source must be valid */
	for (uint64_t pos = v, end = v + len; *dependent && pos < end;) {
		mdb_id x = find_node(n, pos);
		if (!x)
			return space_err_invalid;
		pos = node_end(x);
	}
	return NULL;
}

/*
 * Count into the tally what map or grant (cut and split for the command)
 * takes in table pages, in the order of its commit (see "prepare: table
 * pages" for why this bounds it); returns the nodes it makes (one per
 * source node).
 */
static uint64_t count_map_or_grant(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len,
                                   unsigned rights, bool grant, bool dep)
{
	uint64_t nodes = 0;

	pt_tally_begin(&tally);
	count_region(n2, v2, len, true, 0);
	for (uint64_t pos = v, end = v + len;;) {
		mdb_id s = node_from(n, &pos, end);
		if (!s)
			break;
		const struct mdb_node *x = N(s);
		if (!dep)
			count_add(n2, v2 + (mdb_va(x) - v), mdb_level(x), mdb_rights(x) & rights,
			          space_node_frame(s));
		nodes++;
		pos = node_end(s);
	}
	if (grant)
		count_region(n, v, len, true, 0);
	for (uint64_t off = 0; dep && off < len; off += PAGE_SIZE) {
		count_add(n2, v2 + off, 0, RIGHTS_R, pa_init(v2 + off));
		CHECK(!pt_count_unmap(&SP[n2].pt, va_init(v2 + off), PAGE_SIZE, &tally));
		if (grant)
			CHECK(!pt_count_unmap(&SP[n].pt, va_init(v + off), PAGE_SIZE, &tally));
	}
	return nodes;
}

/* One page of a dependent map or grant, exactly as SPEC says it. */
static void page_step(unsigned n, uint64_t v, unsigned n2, uint64_t v2, unsigned rights, bool grant,
                      struct space_result *r)
{
	mdb_id s = find_node(n, v);

	if (!s)
		return;
	CHECK(mdb_level(N(s)) == 0);
	const mdb_id parent = N(s)->parent;
	const unsigned srights = mdb_rights(N(s));
	const paddr_t pa = space_node_frame(s);
	mdb_id d = find_node(n2, v2);
	if (d) {
		CHECK(mdb_level(N(d)) == 0);
		remove_tree(d);
	}
	s = find_node(n, v); /* still valid? the flush may have removed it */
	if (!s)
		return;
	d = add_node(n2, v2, 0, srights & rights, grant ? parent : s, pa);
	note(r, d);
	if (grant)
		remove_tree(s);
}

/*
 * map or grant of one page whose source is a 4K node and whose destination
 * is empty: no split, no flush, nothing dependent (the destination holds
 * no node, so no ancestor of the source is there). False: not that case,
 * nothing done; the general path runs.
 */
static bool page_fast(unsigned n, uint64_t v, unsigned n2, uint64_t v2, unsigned rights, bool grant,
                      struct space_result *r, err_t *e)
{
	const mdb_id s = find_node(n, v);

	if (!s) {
		*e = space_err_invalid;
		return true;
	}
	if (mdb_level(N(s)) || (grant && N(s)->child) || find_node(n2, v2))
		return false;
	const unsigned nr = mdb_rights(N(s)) & rights;
	const paddr_t pa = space_node_frame(s);
	pt_tally_begin(&tally);
	count_add(n2, v2, 0, nr, pa);
	if (grant)
		count_drop(s);
	*e = reserve(1, tally.need);
	if (*e)
		return true;
	const mdb_id d = add_node(n2, v2, 0, nr, grant ? N(s)->parent : s, pa);
	note(r, d);
	if (grant)
		remove_tree(s);
	stash_trim(STASH_KEEP);
	return true;
}

/* The arguments of map and grant: both spaces, both regions, the rights. */
static err_t check_map_args(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len,
                            unsigned rights)
{
	err_t e = check_space(n);

	if (!e)
		e = check_space(n2);
	if (!e)
		e = check_region(v, len);
	if (!e)
		e = check_region(v2, len);
	return e ? e : check_rights(rights);
}

/* Prepare map or grant (source valid, dependent or not): cut both regions'
 * ends, split the source's nodes (and a dependent command's destination)
 * down to the size both regions can hold, reserve the nodes and table
 * pages the commit takes. */
static err_t prepare_map(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len,
                         unsigned rights, bool grant, bool dep)
{
	/* The largest node both regions can hold at matching places. */
	unsigned level = 2;
	while (level && ((v ^ v2) & (mdb_level_size(level) - 1)))
		level--;
	if (dep)
		level = 0;
	err_t e = cut_region(n, v, len, CUT_ALWAYS, 0);
	if (!e)
		e = split_above(n, v, len, level);
	if (!e)
		e = cut_region(n2, v2, len, CUT_ALWAYS, 0);
	if (!e && dep)
		e = split_above(n2, v2, len, 0);
	if (e)
		return e;
	const uint64_t nodes = count_map_or_grant(n, v, n2, v2, len, rights, grant, dep);
	return reserve(nodes, tally.need);
}

/* The commit of an independent map or grant: flush the destination, one
 * node per source node, then (grant) flush the source. */
static void commit_map(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len,
                       unsigned rights, bool grant, struct space_result *r)
{
	flush_nodes(n2, v2, len);
	for (uint64_t pos = v, end = v + len;;) {
		mdb_id s = node_from(n, &pos, end);
		if (!s)
			break;
		const struct mdb_node *x = N(s);
		const mdb_id parent = grant ? x->parent : s;
		const mdb_id d = add_node(n2, v2 + (mdb_va(x) - v), mdb_level(x),
		                          mdb_rights(x) & rights, parent, space_node_frame(s));
		note(r, d);
		pos = node_end(s);
	}
	if (grant)
		flush_nodes(n, v, len);
}

static err_t map_or_grant(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len,
                          unsigned rights, bool grant, struct space_result *r)
{
	err_t e = check_map_args(n, v, n2, v2, len, rights);
	bool dep;
	uint64_t nodes;

	*r = (struct space_result){.rights_and = RIGHTS_RWX};
	if (!e && len == PAGE_SIZE && page_fast(n, v, n2, v2, rights, grant, r, &e))
		return e;
	if (!e)
		e = survey(n, v, n2, v2, len, grant, &dep, &nodes);
	if (!e)
		e = prepare_map(n, v, n2, v2, len, rights, grant, dep);
	if (e)
		return e;
	if (dep)
		for (uint64_t off = 0; off < len; off += PAGE_SIZE)
			page_step(n, v + off, n2, v2 + off, rights, grant, r);
	else
		commit_map(n, v, n2, v2, len, rights, grant, r);
	if (!r->pages)
		r->rights_and = 0;
	return NULL;
}

err_t space_map(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len, unsigned rights,
                struct space_result *r)
{
	begin();
	return finish(map_or_grant(n, v, n2, v2, len, rights, false, r), false);
}

err_t space_grant(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len, unsigned rights,
                  struct space_result *r)
{
	begin();
	return finish(map_or_grant(n, v, n2, v2, len, rights, true, r), false);
}

/* ---- unmap, flush, protect ------------------------------------------------------- */

enum range_op { OP_UNMAP, OP_FLUSH, OP_PROTECT };

/* Rights of every node of the subtree of x cut down to `rights`; pages
 * changed. */
static uint64_t protect_tree(mdb_id top, unsigned rights)
{
	uint64_t pages = 0;

	heal_note(top);
	for (mdb_id x = top; x; x = mdb_next_in(top, x)) {
		const struct mdb_node *n = N(x);
		const unsigned old = mdb_rights(n), nr = old & rights;
		if (nr == old)
			continue;
		const pt_attr_t clear = attr_of(old) & ~attr_of(nr);
		touched(mdb_space(n));
		CHECK(!pt_protect(&SP[mdb_space(n)].pt, va_init(mdb_va(n)), mdb_size(n), clear, 0));
		mdb_set_rights(x, nr);
		pages += mdb_size(n) / PAGE_SIZE;
	}
	return pages;
}

/*
 * unmap or flush of one page n:v: done (true, *e set) when the page holds
 * no node, or a 4K node (no cut needed), or (unmap) a childless node,
 * which unmap leaves alone; false: the general path runs.
 */
static bool range_page_fast(enum range_op op, unsigned n, uint64_t v, struct space_result *r,
                            err_t *e)
{
	const mdb_id x = find_node(n, v);

	*e = NULL;
	if (!x || (op == OP_UNMAP && !N(x)->child))
		return true;
	if (mdb_level(N(x)))
		return false;
	pt_tally_begin(&tally);
	count_remove(x, op == OP_FLUSH);
	*e = reserve(0, tally.need);
	if (!*e)
		r->pages = op == OP_FLUSH ? remove_tree(x) : remove_children(x);
	return true;
}

/* The commit of unmap, flush or protect over [v, v + len) (ends cut):
 * every node the region holds whole. A node the region still cuts is
 * left alone (see must_cut). */
static void commit_range(enum range_op op, unsigned n, uint64_t v, uint64_t len, unsigned rights,
                         struct space_result *r)
{
	for (uint64_t pos = v, end = v + len;;) {
		mdb_id x = node_from(n, &pos, end);
		if (!x)
			return;
		const bool whole = mdb_va(N(x)) >= v && node_end(x) <= end;
		pos = node_end(x);
		if (!whole)
			continue;
		switch (op) {
		case OP_UNMAP:
			r->pages += remove_children(x);
			break;
		case OP_FLUSH:
			r->pages += remove_tree(x);
			break;
		case OP_PROTECT:
			r->pages += protect_tree(x, rights);
			break;
		}
	}
}

static err_t range_op(enum range_op op, unsigned n, uint64_t v, uint64_t len, unsigned rights,
                      struct space_result *r)
{
	static const enum cut_need need[] = {
	    [OP_UNMAP] = CUT_IF_CHILDREN, [OP_FLUSH] = CUT_ALWAYS, [OP_PROTECT] = CUT_IF_RIGHTS};
	err_t e = check_space(n);

	*r = (struct space_result){0};
	if (!e)
		e = check_region(v, len);
	if (!e && op == OP_PROTECT)
		e = check_rights(rights);
	if (!e && len == PAGE_SIZE && op != OP_PROTECT && range_page_fast(op, n, v, r, &e))
		return e;
	if (!e)
		e = cut_region(n, v, len, need[op], rights);
	if (e)
		return e;
	pt_tally_begin(&tally);
	count_region(n, v, len, op == OP_FLUSH, op == OP_PROTECT ? rights : 0);
	e = reserve(0, tally.need);
	if (!e)
		commit_range(op, n, v, len, rights, r);
	return e;
}

err_t space_unmap(unsigned n, uint64_t v, uint64_t len, struct space_result *r)
{
	begin();
	return finish(range_op(OP_UNMAP, n, v, len, RIGHTS_RWX, r), false);
}

err_t space_flush(unsigned n, uint64_t v, uint64_t len, struct space_result *r)
{
	begin();
	return finish(range_op(OP_FLUSH, n, v, len, RIGHTS_RWX, r), false);
}

err_t space_protect(unsigned n, uint64_t v, uint64_t len, unsigned rights, struct space_result *r)
{
	begin();
	return finish(range_op(OP_PROTECT, n, v, len, rights, r), false);
}

bool space_lookup(unsigned n, uint64_t v, struct space_hit *h)
{
	struct pt_hit hit;

	if (!space_exists(n) || v >= SPACE_USER_TOP || !pt_lookup(&SP[n].pt, va_init(v), &hit))
		return false;
	*h = (struct space_hit){.pa = hit.pa, .rights = rights_of(hit.attr), .level = hit.level};
	return true;
}

/* ---- spaces ----------------------------------------------------------------- */

/* Map memmon's reserved pieces into tree pt, or (`dry`) count them into
 * the tally. */
static void map_reserved(struct pt *pt, bool dry)
{
	for (size_t i = 0; i < S.nrsv; i++) {
		const struct plat_rsv *p = &S.rsv[i];
		const pt_attr_t a = PT_R | (p->write ? PT_W : 0) | (p->exec ? PT_X : 0);
		const uint64_t len = p->pages * PAGE_SIZE;
		CHECK(!(dry ? pt_count_map(pt, va_init(p->va), p->pa, len, a, 0, &tally)
		            : pt_map(pt, va_init(p->va), p->pa, len, a, 0)));
	}
}

/* Tables for a new space: its root (taken first), then what paging counts
 * for its reserved pieces. On failure nothing is kept. */
static err_t make_space(unsigned n)
{
	err_t e = stash_fill(1);

	if (e)
		return e;
	CHECK(!pt_init(&SP[n].pt, &stash_mem, S.gib));
	pt_tally_begin(&tally);
	map_reserved(&SP[n].pt, true);
	e = stash_fill(tally.need);
	if (e) {
		pt_destroy(&SP[n].pt);
		stash_trim(STASH_KEEP);
		return e;
	}
	map_reserved(&SP[n].pt, false);
	SP[n].used = true;
	SP[n].pages = 0;
	touched(n);
	stash_trim(STASH_KEEP);
	return NULL;
}

static void drop_space(unsigned n)
{
	touched(n);
	pt_destroy(&SP[n].pt);
	SP[n].used = false;
	SP[n].pages = 0;
}

err_t space_new(unsigned *out)
{
	for (unsigned n = 1; n < SPACE_MAX; n++) {
		if (SP[n].used)
			continue;
		err_t e = make_space(n);
		if (!e)
			*out = n;
		return e;
	}
	return space_err_full;
}

static err_t del_space(unsigned n, uint64_t *flushed)
{
	err_t e = check_space(n);

	*flushed = 0;
	if (e)
		return e;
	if (n == 0)
		return space_err_sigma0;
	pt_tally_begin(&tally);
	count_region(n, 0, SPACE_USER_TOP, true, 0);
	e = reserve(0, tally.need);
	if (e)
		return e;
	*flushed = flush_nodes(n, 0, SPACE_USER_TOP);
	CHECK(SP[n].pages == 0);
	drop_space(n);
	stash_trim(STASH_KEEP);
	return NULL;
}

err_t space_del(unsigned n, uint64_t *flushed)
{
	begin();
	return finish(del_space(n, flushed), true);
}

/* The level of the largest block (1G, 2M, 4K) aligned at pos that fits
 * before end. */
static unsigned block_level(uint64_t pos, uint64_t end)
{
	unsigned level = 2;

	while (level && (pos % mdb_level_size(level) || end - pos < mdb_level_size(level)))
		level--;
	return level;
}

/* Number of maximal aligned blocks of [pa, pa + pages). */
static uint64_t blocks(uint64_t pa, uint64_t pages)
{
	uint64_t c = 0;

	for (uint64_t pos = pa, end = pa + pages * PAGE_SIZE; pos < end; c++)
		pos += mdb_level_size(block_level(pos, end));
	return c;
}

/* sigma0 maps [pa, pa + pages) at v == r, rwx, as root nodes of the
 * largest blocks; the nodes and tables are reserved. `dry`: count the
 * table pages that takes on tree pt into the tally instead. */
static void give_sigma0(uint64_t pa, uint64_t pages, struct pt *pt, bool dry)
{
	for (uint64_t pos = pa, end = pa + pages * PAGE_SIZE; pos < end;) {
		const unsigned level = block_level(pos, end);
		const uint64_t size = mdb_level_size(level);
		if (dry)
			CHECK(!pt_count_map(pt, va_init(pos), pa_init(pos), size,
			                    attr_of(RIGHTS_RWX), 0, &tally));
		else
			add_node(0, pos, level, RIGHTS_RWX, MDB_NIL, pa_init(pos));
		pos += size;
	}
}

/* Insert an extent, keeping ext[] sorted (room is checked by the caller). */
static void extent_add(uint64_t base, uint64_t pages)
{
	size_t i = S.next;

	CHECK(S.next < EXTENTS_MAX);
	while (i > 0 && S.ext[i - 1].base > base) {
		S.ext[i] = S.ext[i - 1];
		i--;
	}
	S.ext[i] = (struct space_extent){base, pages};
	S.next++;
	S.client += pages;
}

/* Take [base, base + pages) out of the extent holding it. */
static void extent_cut(uint64_t base, uint64_t pages)
{
	size_t i = 0;

	while (i < S.next &&
	       !(S.ext[i].base <= base &&
	         base + pages * PAGE_SIZE <= S.ext[i].base + S.ext[i].pages * PAGE_SIZE))
		i++;
	CHECK(i < S.next);
	const struct space_extent e = S.ext[i];
	for (size_t k = i; k + 1 < S.next; k++)
		S.ext[k] = S.ext[k + 1];
	S.next--;
	S.client -= e.pages;
	const uint64_t end = base + pages * PAGE_SIZE, eend = e.base + e.pages * PAGE_SIZE;
	if (base > e.base)
		extent_add(e.base, (base - e.base) / PAGE_SIZE);
	if (eend > end)
		extent_add(end, (eend - end) / PAGE_SIZE);
}

/* Take up to `want` frames for clients as runs, largest first: their
 * number in *nruns (at most PIECES_MAX). On failure every run is back. */
static err_t take_client_runs(uint64_t want, struct space_extent *runs, size_t *nruns)
{
	*nruns = 0;
	for (uint64_t got = 0; got < want;) {
		struct frame_stats fs;
		paddr_t pa;
		frame_stats(&fs);
		const uint64_t take = min64(fs.largest_frames, want - got);
		if (!take || *nruns == PIECES_MAX || frame_alloc(take, FRAME_CLIENT, &pa)) {
			for (; *nruns; --*nruns)
				CHECK(!frame_free(pa_init(runs[*nruns - 1].base),
				                  runs[*nruns - 1].pages, FRAME_CLIENT));
			return space_err_nomem;
		}
		runs[(*nruns)++] = (struct space_extent){pa_addr(pa), take};
		got += take;
	}
	return NULL;
}

/* Hand runs to sigma0: reserve, then map. On failure the runs are freed. */
static err_t adopt_runs(const struct space_extent *runs, size_t nruns)
{
	uint64_t nodes = 0;

	pt_tally_begin(&tally);
	for (size_t i = 0; i < nruns; i++) {
		nodes += blocks(runs[i].base, runs[i].pages);
		give_sigma0(runs[i].base, runs[i].pages, &SP[0].pt, true);
	}
	err_t e = S.next + nruns > EXTENTS_MAX ? space_err_extents : reserve(nodes, tally.need);
	if (e) {
		for (size_t i = 0; i < nruns; i++)
			CHECK(!frame_free(pa_init(runs[i].base), runs[i].pages, FRAME_CLIENT));
		return e;
	}
	for (size_t i = 0; i < nruns; i++) {
		give_sigma0(runs[i].base, runs[i].pages, NULL, false);
		extent_add(runs[i].base, runs[i].pages);
	}
	stash_trim(STASH_KEEP);
	return NULL;
}

err_t space_boot(uint64_t pool, bool gib_pages)
{
	struct frame_stats fs;

	/* A fresh start: the allocator behind us was just set up. */
	mdb_init();
	__builtin_memset(SP, 0, sizeof(SP));
	__builtin_memset(&S, 0, sizeof(S));
	S.gib = gib_pages;
	S.nrsv = plat_reserved(S.rsv, PLAT_RSV_MAX);
	frame_stats(&fs);
	if (!pool)
		pool = fs.total / SPACE_POOL_SHARE < SPACE_POOL_MIN ? SPACE_POOL_MIN
		                                                    : fs.total / SPACE_POOL_SHARE;
	if (pool > fs.free)
		pool = fs.free;
	err_t e = make_space(0);
	if (e)
		return e;
	/* The pool is set aside first, as the largest free blocks; then
	 * check's bitmap (memmon's, out of what would be sigma0's); sigma0
	 * gets the rest: runs of the largest blocks left, each reserving its
	 * nodes and tables out of what stays free. */
	struct space_extent kept[PIECES_MAX];
	size_t nkept;
	e = take_client_runs(pool, kept, &nkept);
	if (!e)
		e = space_check_boot();
	for (; !e;) {
		frame_stats(&fs);
		if (fs.free <= PIECES_MAX)
			break;
		struct space_extent runs[PIECES_MAX];
		size_t nruns;
		e = take_client_runs(min64(fs.largest_frames, fs.free - PIECES_MAX), runs, &nruns);
		if (!e)
			e = adopt_runs(runs, nruns);
	}
	for (size_t i = 0; i < nkept; i++)
		CHECK(!frame_free(pa_init(kept[i].base), kept[i].pages, FRAME_CLIENT));
	S.client_boot = S.client;
	return e;
}

/* Every node and every space gone, their pages back in the pool. */
static void drop_all(void)
{
	mdb_clear();
	for (unsigned n = 0; n < SPACE_MAX; n++)
		if (SP[n].used)
			drop_space(n);
	S.roots = 0;
}

void space_shutdown(void)
{
	drop_all();
	for (size_t i = 0; i < S.next; i++)
		CHECK(!frame_free(pa_init(S.ext[i].base), S.ext[i].pages, FRAME_CLIENT));
	stash_trim(0);
	S.next = 0;
	S.client = S.roots = 0;
	space_check_shutdown();
}

err_t space_reset(void)
{
	struct frame_stats fs;
	struct mdb_stats ms;
	uint64_t held = S.nstash;

	/* Refuse, changing nothing, unless what the boot state needs fits in
	 * what the pool will hold once everything is given back. */
	frame_stats(&fs);
	mdb_stats(&ms);
	for (unsigned n = 0; n < SPACE_MAX; n++)
		if (SP[n].used)
			held += SP[n].pt.tables;
	/* What sigma0's boot state takes: paging counts its tables on a tree
	 * not made yet, the database its pages for the nodes. */
	struct pt blank;
	uint64_t nodes = 0;
	pt_blank(&blank, S.gib);
	pt_tally_begin(&tally);
	map_reserved(&blank, true);
	for (size_t i = 0; i < S.next; i++) {
		nodes += blocks(S.ext[i].base, S.ext[i].pages);
		give_sigma0(S.ext[i].base, S.ext[i].pages, &blank, true);
	}
	if (fs.free + held + ms.pages < tally.need + mdb_pages_for(nodes))
		return space_err_nomem;
	drop_all();
	CHECK(!make_space(0));
	pt_tally_begin(&tally);
	for (size_t i = 0; i < S.next; i++)
		give_sigma0(S.ext[i].base, S.ext[i].pages, &SP[0].pt, true);
	/* Everything was given back first: the pool holds what the counts
	 * above said, which bound what sigma0's boot state takes. */
	CHECK(!reserve(nodes, tally.need));
	for (size_t i = 0; i < S.next; i++)
		give_sigma0(S.ext[i].base, S.ext[i].pages, NULL, false);
	stash_trim(STASH_KEEP);
	return NULL;
}

/* ---- the pool ------------------------------------------------------------------- */

static err_t shrink_pool(uint64_t count)
{
	struct space_extent runs[PIECES_MAX];
	size_t nruns;

	if (!count)
		return space_err_align;
	err_t e = take_client_runs(count, runs, &nruns);
	if (e)
		return e;
	/* sigma0 maps frames at v == r; a page granted to it at such a v since
	 * would be replaced: refuse rather than change the model */
	for (size_t i = 0; i < nruns; i++) {
		uint64_t pos = runs[i].base;
		if (node_from(0, &pos, runs[i].base + runs[i].pages * PAGE_SIZE)) {
			for (size_t k = 0; k < nruns; k++)
				CHECK(!frame_free(pa_init(runs[k].base), runs[k].pages,
				                  FRAME_CLIENT));
			return space_err_occupied;
		}
	}
	return adopt_runs(runs, nruns);
}

err_t space_pool_shrink(uint64_t count)
{
	begin();
	return finish(shrink_pool(count), false);
}

/* sigma0's frames from which nothing is derived, mapped at v == r: up to
 * `want` pages as ranges inside single extents, from the top of memory. */
static err_t pick_free_sigma0(uint64_t want, struct space_extent *out, size_t *nout)
{
	uint64_t got = 0;

	*nout = 0;
	for (size_t i = S.next; i-- > 0 && got < want;) {
		const uint64_t base = S.ext[i].base, end = base + S.ext[i].pages * PAGE_SIZE;
		for (uint64_t pos = base; got < want;) {
			mdb_id x = node_from(0, &pos, end);
			if (!x)
				break;
			const struct mdb_node *p = N(x);
			const uint64_t a = mdb_va(p) > base ? mdb_va(p) : base;
			const uint64_t b = min64(node_end(x), end);
			pos = node_end(x);
			if (p->parent || p->child || pa_addr(space_node_frame(x)) != mdb_va(p))
				continue;
			const uint64_t take = min64((b - a) / PAGE_SIZE, want - got);
			if (*nout && out[*nout - 1].base + out[*nout - 1].pages * PAGE_SIZE == a) {
				out[*nout - 1].pages += take;
			} else {
				if (*nout == PIECES_MAX)
					return space_err_busy;
				out[(*nout)++] = (struct space_extent){a, take};
			}
			got += take;
		}
	}
	return got < want ? space_err_busy : NULL;
}

static err_t grow_pool(uint64_t count)
{
	struct space_extent r[PIECES_MAX];
	size_t nr;

	if (!count)
		return space_err_align;
	err_t e = pick_free_sigma0(count, r, &nr);
	if (!e && S.next + 2 * nr > EXTENTS_MAX)
		e = space_err_extents;
	for (size_t i = 0; !e && i < nr; i++)
		e = cut_region(0, r[i].base, r[i].pages * PAGE_SIZE, CUT_ALWAYS, 0);
	pt_tally_begin(&tally);
	for (size_t i = 0; !e && i < nr; i++)
		count_region(0, r[i].base, r[i].pages * PAGE_SIZE, true, 0);
	if (!e)
		e = reserve(0, tally.need);
	if (e)
		return e;
	for (size_t i = 0; i < nr; i++) {
		CHECK(flush_nodes(0, r[i].base, r[i].pages * PAGE_SIZE) == r[i].pages);
		CHECK(!frame_carve(pa_init(r[i].base), r[i].pages, FRAME_CLIENT));
		CHECK(!frame_free(pa_init(r[i].base), r[i].pages, FRAME_CLIENT));
		extent_cut(r[i].base, r[i].pages);
	}
	stash_trim(STASH_KEEP);
	return NULL;
}

err_t space_pool_grow(uint64_t count)
{
	begin();
	return finish(grow_pool(count), false);
}

void space_stats(struct space_stats *s)
{
	struct frame_stats fs;
	struct mdb_stats ms;

	frame_stats(&fs);
	mdb_stats(&ms);
	*s = (struct space_stats){.mappings = ms.nodes,
	                          .client = S.client,
	                          .client_boot = S.client_boot,
	                          .sigma0 = SP[0].pages,
	                          .reachable = S.roots,
	                          .orphaned = S.client - S.roots,
	                          .pool_free = fs.free,
	                          .pool_used = fs.owned[FRAME_PTABLE] + fs.owned[FRAME_MDB] +
	                                       fs.owned[FRAME_CONSOLE],
	                          .stash = S.nstash};
	s->pool = s->pool_free + s->pool_used;
	for (unsigned n = 0; n < SPACE_MAX; n++)
		if (SP[n].used) {
			s->spaces++;
			s->pages += SP[n].pages;
		}
}
