/*
 * The mapping database: node pages, the hash of (space, block) to node,
 * and the derivation trees. See mdb.h for the model.
 *
 * Index i lives in node page i / 128, slot i % 128. Node page p is
 * mdb_pages[p]: the directory, one array of node-page pointers in a run of
 * frames (a power of two, 512 pointers a frame), taken twice as large and
 * copied when it is full, cut back to the fewest frames that hold it when
 * node pages go. Both come from the frame allocator (owner mdb): node
 * pages one at a time; they go back on mdb_compact (pages past the fewest
 * the nodes need, their nodes moved down first) and mdb_clear.
 *
 * The hash has 2^hbits chains (hbits grows with the node pages, so the
 * load stays at most 2). The head of chain b is slot b's `bucket` field,
 * which exists because there are never more chains than slots.
 */
#include "mdb.h"

#include "frame.h"
#include "platform.h"

#define PER_PAGE      MDB_PER_PAGE
#define DIR_SPAN      512u               /* node-page pointers in a frame of the directory */
#define PAGES_MAX     (1u << 19)         /* node pages: 2^26 nodes at most */
#define KEY_HASH_MASK (~(uint64_t)0xffc) /* space, block and level; not rights or flags */

const char mdb_err_nomem[] = "the pool has no frame left for the mapping database";
const char mdb_err_full[] = "the mapping database is full (2^26 nodes)";

struct mdb_node **mdb_pages; /* the directory: node page p is mdb_pages[p] */

static struct {
	uint32_t npages;   /* node pages */
	uint32_t ndirs;    /* the directory's frames: 0 or a power of two */
	uint32_t freelist; /* through `next`, and back through `prev` (0 at the head) */
	uint32_t last;     /* the node mdb_new made last (a hint) */
	uint64_t nfree, nused;
	unsigned hbits;                    /* 2^hbits chains; 0: no table yet */
	uint32_t count[MDB_MAX_SPACES][3]; /* nodes by space and size */
} M;

static inline struct mdb_node *slot(mdb_id i)
{
	return mdb_at(i);
}

static inline uint64_t hkey(unsigned space, uint64_t va, unsigned level)
{
	return (uint64_t)space << MDB_KEY_SPACE_SHIFT | (va & MDB_KEY_VA_MASK) | level;
}

static inline uint32_t hash(uint64_t key)
{
	return (uint32_t)(((key & KEY_HASH_MASK) * 0x9e3779b97f4a7c15ull) >> (64 - M.hbits));
}

static mdb_id chain_find(uint64_t key)
{
	for (mdb_id i = slot(hash(key))->bucket; i; i = slot(i)->hnext)
		if ((slot(i)->key & KEY_HASH_MASK) == key)
			return i;
	return MDB_NIL;
}

mdb_id mdb_find_level(unsigned space, uint64_t va, unsigned level)
{
	if (!M.hbits || space >= MDB_MAX_SPACES || level > 2 || !M.count[space][level])
		return MDB_NIL;
	return chain_find(hkey(space, va & ~(mdb_level_size(level) - 1), level));
}

mdb_id mdb_find(unsigned space, uint64_t va)
{
	for (unsigned level = 0; level < 3; level++) {
		const mdb_id i = mdb_find_level(space, va, level);
		if (i)
			return i;
	}
	return MDB_NIL;
}

static void chain_insert(mdb_id i)
{
	struct mdb_node *x = slot(i);
	struct mdb_node *b = slot(hash(x->key));

	x->hnext = b->bucket;
	b->bucket = i;
}

static void chain_remove(mdb_id i)
{
	struct mdb_node *x = slot(i);
	uint32_t *p = &slot(hash(x->key))->bucket;

	while (*p != i) {
		CHECK(*p != MDB_NIL);
		p = &slot(*p)->hnext;
	}
	*p = x->hnext;
}

/* Rebuild every chain for 2^bits chains (bits <= log2 of the slots). */
static void rehash(unsigned bits)
{
	const uint32_t slots = M.npages * PER_PAGE;

	M.hbits = bits;
	for (uint32_t i = 0; i < slots; i++)
		slot(i)->bucket = MDB_NIL;
	for (uint32_t i = 1; i < slots; i++)
		if (!(slot(i)->key & MDB_KEY_FREE))
			chain_insert(i);
}

static paddr_t pa_of(const void *p)
{
	return pa_init((uint64_t)(uintptr_t)p - plat_ram_base);
}

/* Give back directory d of `dirs` frames (none: 0). */
static void dir_free(struct mdb_node **d, uint32_t dirs)
{
	if (dirs)
		CHECK(!frame_free(pa_of(d), dirs, FRAME_MDB));
}

/* Frames a directory of `pages` node pages takes: a power of two. */
static uint32_t dir_frames(uint64_t pages)
{
	uint32_t f = 0;

	if (pages)
		for (f = 1; (uint64_t)f * DIR_SPAN < pages; f *= 2)
			;
	return f;
}

/* A directory twice as large (one frame for the first), the pointers
 * copied. The one it replaces goes back, unless it is `kept`: the one
 * mdb_reserve started with, which goes back only when the reserve
 * succeeds. */
static err_t dir_grow(struct mdb_node **kept)
{
	const uint32_t dirs = M.ndirs ? 2 * M.ndirs : 1;
	paddr_t pa;

	if (frame_alloc(dirs, FRAME_MDB, &pa))
		return mdb_err_nomem;
	struct mdb_node **d = plat_pa_to_ptr(pa);
	for (uint32_t p = 0; p < M.npages; p++)
		d[p] = mdb_pages[p];
	if (mdb_pages != kept)
		dir_free(mdb_pages, M.ndirs);
	mdb_pages = d;
	M.ndirs = dirs;
	return NULL;
}

/* Cut the directory back to the fewest frames that hold its pointers:
 * its tail goes back (frame_carve), its head stays where it is. */
static void dir_fit(void)
{
	const uint32_t dirs = dir_frames(M.npages);

	if (dirs >= M.ndirs)
		return;
	if (!dirs) {
		dir_free(mdb_pages, M.ndirs);
		mdb_pages = NULL;
		M.ndirs = 0;
		return;
	}
	const paddr_t tail = pa_add(pa_of(mdb_pages), (uint64_t)dirs * PAGE_SIZE);
	CHECK(!frame_carve(tail, M.ndirs - dirs, FRAME_MDB));
	CHECK(!frame_free(tail, M.ndirs - dirs, FRAME_MDB));
	M.ndirs = dirs;
}

/* The free list: free slots linked both ways, so that mdb_new can take
 * any of them; every slot's `prev` but the head's is its predecessor (the
 * head's is stale: a pop, the common case, then writes only the head). */
static void free_push(mdb_id i)
{
	struct mdb_node *x = slot(i);

	x->next = M.freelist;
	if (M.freelist)
		slot(M.freelist)->prev = i;
	M.freelist = i;
	M.nfree++;
}

static void free_take(mdb_id i)
{
	const struct mdb_node *x = slot(i);

	M.nfree--;
	if (i == M.freelist) {
		M.freelist = x->next;
		return;
	}
	slot(x->prev)->next = x->next;
	if (x->next)
		slot(x->next)->prev = x->prev;
}

/* Add one node page (and room in the directory when it is full: dir_grow,
 * `kept` as there): its slots go on the free list. */
static err_t add_page(struct mdb_node **kept)
{
	const uint32_t p = M.npages;
	paddr_t pa;

	if (p >= PAGES_MAX)
		return mdb_err_full;
	if (p == M.ndirs * DIR_SPAN && dir_grow(kept))
		return mdb_err_nomem;
	if (kalloc(FRAME_MDB, &pa))
		return mdb_err_nomem;
	mdb_pages[p] = plat_pa_to_ptr(pa);
	M.npages++;
	/* The page's slots go on the free list's head in order, so that it
	 * hands them out in order; slot 0 of page 0 is index 0, never a node. */
	struct mdb_node *x = mdb_pages[p];
	const mdb_id first = p ? p * PER_PAGE : 1, last = (p + 1) * PER_PAGE - 1;
	if (!p)
		x[0] = (struct mdb_node){.key = MDB_KEY_FREE};
	for (mdb_id i = first; i <= last; i++)
		x[i % PER_PAGE] = (struct mdb_node){
		    .key = MDB_KEY_FREE, .next = i < last ? i + 1 : M.freelist, .prev = i - 1};
	if (M.freelist)
		slot(M.freelist)->prev = last;
	M.freelist = first;
	M.nfree += last - first + 1;
	return NULL;
}

/* Give back the last node page (the directory is left as it is: dir_fit). */
static void free_last_page(void)
{
	M.npages--;
	CHECK(!kfree(pa_of(mdb_pages[M.npages]), FRAME_MDB));
}

/* Give back node page p (the last), all of whose slots are free and at the
 * head of the free list. */
static void drop_last_page(void)
{
	const uint32_t p = M.npages - 1;

	for (uint32_t k = 0; k < PER_PAGE; k++) {
		const mdb_id i = p * PER_PAGE + k;
		if (i == MDB_NIL)
			continue;
		CHECK(M.freelist == i);
		free_take(i);
	}
	free_last_page();
}

err_t mdb_reserve(uint64_t n)
{
	const uint32_t pages_before = M.npages, dirs_before = M.ndirs;
	struct mdb_node **const dir_before = mdb_pages;

	while (M.nfree < n) {
		err_t e = add_page(dir_before);
		if (e) {
			/* Pages added by this call are all free and their slots
			 * are the newest on the free list: give them back, and
			 * go back to the directory the call started with. */
			while (M.npages > pages_before)
				drop_last_page();
			if (mdb_pages != dir_before) {
				dir_free(mdb_pages, M.ndirs);
				mdb_pages = dir_before;
				M.ndirs = dirs_before;
			}
			return e;
		}
	}
	if (mdb_pages != dir_before)
		dir_free(dir_before, dirs_before);
	/* Chains: the largest power of two not above the slots, and at
	 * least half the nodes the reserve can hold. */
	unsigned bits = M.hbits;
	while (((uint64_t)2 << bits) <= (uint64_t)M.npages * PER_PAGE)
		bits++;
	if (bits != M.hbits)
		rehash(bits);
	return NULL;
}

uint64_t mdb_pages_for(uint64_t n)
{
	if (!n)
		return 0;
	const uint64_t pages = (n + 1 + PER_PAGE - 1) / PER_PAGE; /* slot 0 is no node */
	return pages + dir_frames(pages);
}

/*
 * The slot for a node that mdb_new makes: the one after the node it made
 * last when that is free, else the head of the free list. Nodes made one
 * after another (a region's pages, a chain of derivations) then sit next
 * to each other, so that mdb_piece's guess finds a node's neighbour in the
 * cache line next to it, without a hash probe. (A split takes the head:
 * its 511 pieces come off the list in its order, and taking each from the
 * middle of a list shuffled by frees cost a quarter more instructions a
 * split.)
 */
static inline mdb_id take_slot(void)
{
	const mdb_id n = M.last + 1;

	if (n < M.npages * PER_PAGE && (slot(n)->key & MDB_KEY_FREE))
		return n;
	return M.freelist;
}

/* A new node in free slot i, unlinked, in the hash table. */
static mdb_id new_at(mdb_id i, unsigned space, uint64_t va, unsigned level, unsigned rights)
{
	CHECK(i != MDB_NIL && level < 3 && space < MDB_MAX_SPACES &&
	      !(va & (mdb_level_size(level) - 1)));
	/* one mapping per space and page: never two nodes of one block */
	CHECK(!chain_find(hkey(space, va, level)));
	struct mdb_node *x = slot(i);
	free_take(i);
	M.last = i;
	M.nused++;
	const uint32_t bucket = x->bucket;
	*x = (struct mdb_node){.key = hkey(space, va, level) | MDB_KEY_RIGHTS(rights),
	                       .next = i,
	                       .prev = i,
	                       .bucket = bucket};
	chain_insert(i);
	M.count[space][level]++;
	return i;
}

mdb_id mdb_new(unsigned space, uint64_t va, unsigned level, unsigned rights)
{
	return new_at(take_slot(), space, va, level, rights);
}

void mdb_free(mdb_id i)
{
	struct mdb_node *x = slot(i);

	CHECK(!x->parent && !x->child && x->next == i && !(x->key & MDB_KEY_FREE));
	chain_remove(i);
	M.count[mdb_space(x)][mdb_level(x)]--;
	const uint32_t bucket = x->bucket;
	*x = (struct mdb_node){.key = MDB_KEY_FREE, .bucket = bucket};
	free_push(i);
	M.nused--;
}

void mdb_set_rights(mdb_id i, unsigned rights)
{
	struct mdb_node *x = slot(i);

	x->key = (x->key & ~MDB_KEY_RIGHTS(RIGHTS_RWX)) | MDB_KEY_RIGHTS(rights);
}

void mdb_link(mdb_id parent, mdb_id child)
{
	struct mdb_node *p = slot(parent), *c = slot(child);

	CHECK(!c->parent && c->next == child && mdb_level(p) == mdb_level(c));
	c->parent = parent;
	if (!p->child) {
		p->child = child;
		return;
	}
	/* at the end of the ring: before the first child */
	struct mdb_node *first = slot(p->child);
	c->next = p->child;
	c->prev = first->prev;
	slot(first->prev)->next = child;
	first->prev = child;
}

void mdb_unlink(mdb_id child)
{
	struct mdb_node *c = slot(child);

	if (!c->parent)
		return;
	struct mdb_node *p = slot(c->parent);
	if (c->next == child) {
		p->child = MDB_NIL;
	} else {
		slot(c->prev)->next = c->next;
		slot(c->next)->prev = c->prev;
		if (p->child == child)
			p->child = c->next;
	}
	c->parent = MDB_NIL;
	c->next = c->prev = child;
}

mdb_id mdb_root(mdb_id i)
{
	while (slot(i)->parent)
		i = slot(i)->parent;
	return i;
}

mdb_id mdb_next_in(mdb_id top, mdb_id i)
{
	struct mdb_node *x = slot(i);

	if (x->child)
		return x->child;
	while (i != top) {
		x = slot(i);
		/* the last sibling is the one before the parent's first child */
		if (x->next != slot(x->parent)->child)
			return x->next;
		i = x->parent;
	}
	return MDB_NIL;
}

uint64_t mdb_subtree_size(mdb_id top)
{
	uint64_t n = 0;

	for (mdb_id i = top; i; i = mdb_next_in(top, i))
		n++;
	return n;
}

void mdb_split(mdb_id i)
{
	const mdb_id root = mdb_root(i);
	const unsigned level = mdb_level(slot(root));

	CHECK(level > 0);
	const uint64_t piece = mdb_level_size(level - 1);
	/* Pre-order: a node's parent has its pieces before the node is
	 * split, so piece k of the node links under piece k of the parent.
	 * The pieces of node x go under the parent's pieces, never into the
	 * subtree being walked (x itself becomes piece 0 and keeps its
	 * children, which become their own piece 0 in turn). */
	for (mdb_id x = root; x; x = mdb_next_in(root, x)) {
		struct mdb_node *n = slot(x);
		const unsigned space = mdb_space(n);
		const uint64_t va = mdb_va(n);
		const unsigned rights = mdb_rights(n);
		CHECK(mdb_level(n) == level);
		chain_remove(x);
		n->key = hkey(space, va, level - 1) | MDB_KEY_RIGHTS(rights);
		chain_insert(x);
		M.count[space][level]--;
		M.count[space][level - 1]++;
		const struct mdb_node *p = n->parent ? slot(n->parent) : NULL;
		for (uint64_t k = 1; k < 512; k++) {
			mdb_id y = new_at(M.freelist, space, va + k * piece, level - 1, rights);
			if (p)
				mdb_link(chain_find(
				             hkey(mdb_space(p), mdb_va(p) + k * piece, level - 1)),
				         y);
		}
	}
}

/* The node of `key` (hash bits only), looked for first at slot `guess`:
 * mdb_split takes a node's pieces 1..511 off the free list one after
 * another, so piece j of a group often sits j - i slots after piece i. A
 * right guess saves a hash probe (and reads memory next to the node in
 * hand); a wrong one costs a compare. */
static mdb_id find_near(uint64_t key, uint64_t guess)
{
	if (guess && guess < (uint64_t)M.npages * PER_PAGE &&
	    (slot((mdb_id)guess)->key & (KEY_HASH_MASK | MDB_KEY_FREE)) == key)
		return (mdb_id)guess;
	return chain_find(key);
}

mdb_id mdb_piece(mdb_id x, unsigned k)
{
	const struct mdb_node *p = slot(x);
	const unsigned level = mdb_level(p);
	const uint64_t size = mdb_level_size(level), span = mdb_level_size(level + 1);

	CHECK(level < 2 && k < 512);
	const unsigned kx = mdb_place(p);
	return find_near(hkey(mdb_space(p), (mdb_va(p) & ~(span - 1)) + k * size, level),
	                 (uint64_t)x + k - kx);
}

/* Piece k of node y's group: the node k * size past y's block. */
static mdb_id piece_of(mdb_id y, unsigned k, uint64_t size)
{
	const struct mdb_node *p = slot(y);
	return find_near(hkey(mdb_space(p), mdb_va(p) + k * size, mdb_level(p)), (uint64_t)y + k);
}

/* Whether the tree under piece k (root pk) of r0's group has r0's shape:
 * n0 nodes, each piece k of r0's node there, same rights, piece k of its
 * parent's piece k. */
static bool piece_matches(mdb_id r0, mdb_id pk, unsigned k, uint64_t size, uint64_t n0)
{
	const struct mdb_node *a = slot(r0), *b = slot(pk);

	if (b->parent || mdb_rights(b) != mdb_rights(a) || mdb_subtree_size(pk) != n0)
		return false;
	for (mdb_id y = mdb_next_in(r0, r0); y; y = mdb_next_in(r0, y)) {
		const struct mdb_node *p = slot(y);
		const mdb_id z = piece_of(y, k, size);
		if (!z || mdb_rights(slot(z)) != mdb_rights(p) ||
		    slot(z)->parent != piece_of(p->parent, k, size))
			return false;
	}
	return true;
}

/*
 * A memo for mdb_joinable: per group (space, block a level up, level;
 * direct-mapped by the group's hash), the piece that last differed from
 * piece 0. Only a hint: a hit that still differs rejects the group at
 * once, anything else falls back to the scan, so a stale or overwritten
 * entry costs time, never a wrong answer. It turns the O(512) scan of a
 * group kept split by one pinned piece into O(tree) per heal.
 */
#define WITNESS_BITS 10

struct witness {
	uint64_t group;
	unsigned k;
};

static struct witness W[1u << WITNESS_BITS];

mdb_id mdb_joinable(mdb_id r)
{
	const struct mdb_node *a = slot(r);
	const unsigned level = mdb_level(a);

	if (level >= 2 || a->parent)
		return MDB_NIL;
	const uint64_t size = mdb_level_size(level), span = mdb_level_size(level + 1);
	const unsigned k0 = mdb_place(a);
	/* A quick look first: r's tree against the next piece's, walked side
	 * by side up to the first difference in shape. */
	const mdb_id next = mdb_piece(r, (k0 + 1) & 511);
	if (!next || slot(next)->parent)
		return MDB_NIL;
	const uint64_t delta = mdb_va(slot(next)) - mdb_va(a); /* modulo 2^64 */
	for (mdb_id y = r, z = next;; y = mdb_next_in(r, y), z = mdb_next_in(next, z)) {
		if (!y || !z) {
			if (y || z)
				return MDB_NIL;
			break;
		}
		const struct mdb_node *p = slot(y), *q = slot(z);
		if (!p->child != !q->child || mdb_space(p) != mdb_space(q) ||
		    mdb_rights(p) != mdb_rights(q) || mdb_va(q) != mdb_va(p) + delta)
			return MDB_NIL;
	}
	const mdb_id r0 = mdb_piece(r, 0);
	if (!r0)
		return MDB_NIL;
	uint64_t n0 = 0;
	for (mdb_id y = r0; y; y = mdb_next_in(r0, y), n0++)
		if (mdb_va(slot(y)) & (span - 1))
			return MDB_NIL;
	/* The piece that differed when this group was last looked at most
	 * likely still does (a pinned page among bare ones): one tree's
	 * look instead of a scan. */
	const uint64_t group = hkey(mdb_space(a), mdb_va(a) & ~(span - 1), level);
	struct witness *w = &W[(group * 0x9e3779b97f4a7c15ull) >> (64 - WITNESS_BITS)];
	if (w->group == group && w->k) {
		const mdb_id pk = piece_of(r0, w->k, size);
		if (!pk || !piece_matches(r0, pk, w->k, size, n0))
			return MDB_NIL;
	}
	/* r's own piece first (what changed is most likely there), then the
	 * rest. */
	for (unsigned j = 0; j < 512; j++) {
		const unsigned k = (k0 + j) & 511;
		if (k == 0)
			continue;
		const mdb_id pk = piece_of(r0, k, size);
		if (!pk || !piece_matches(r0, pk, k, size, n0)) {
			*w = (struct witness){.group = group, .k = k};
			return MDB_NIL;
		}
	}
	return r0;
}

/* Whether node y and the node of its space and level in the next piece
 * of the block a level up have the same rights, the same root-ness and
 * the same presence of children; *z that node. */
static bool next_piece_agrees(mdb_id y, mdb_id *z)
{
	const struct mdb_node *p = slot(y);
	const unsigned k = mdb_place(p);

	*z = mdb_piece(y, (k + 1) & 511);
	if (!*z)
		return false;
	const struct mdb_node *q = slot(*z);
	return mdb_rights(q) == mdb_rights(p) && !q->parent == !p->parent && !q->child == !p->child;
}

/* Children of the next piece's node that mdb_may_join looks at, at most. */
#define MAY_JOIN_RING 8

/*
 * Why this is necessary: if the group of x's root r (piece k0) is
 * joinable, every node y of r's tree is piece k0 of a node y0 of piece
 * 0's tree, and y0 is aligned to the size a level up, so y's own index in
 * its block a level up is k0 and mdb_piece(y, k0 + 1) is piece k0 + 1 of
 * y0 (piece 511's next is piece 0): a node of the next piece's tree, at
 * y's place plus one fixed delta, with y's rights; it is a root just when
 * y is (both are when y0 is), and its children are the pieces k0 + 1 of
 * y0's children as y's are their pieces k0. So x must find such a node z,
 * and x's first child's counterpart must be among z's children: looked
 * for in z's ring (no hash probe), up to MAY_JOIN_RING of them (past
 * that, "may").
 */
bool mdb_may_join(mdb_id x)
{
	const struct mdb_node *p = slot(x);
	mdb_id z;

	if (mdb_level(p) >= 2 || !next_piece_agrees(x, &z))
		return false;
	if (!p->child)
		return true;
	const struct mdb_node *c = slot(p->child);
	const uint64_t want = mdb_va(c) + (mdb_va(slot(z)) - mdb_va(p)); /* modulo 2^64 */
	const mdb_id first = slot(z)->child;
	mdb_id d = first;
	for (unsigned n = 0; n < MAY_JOIN_RING; n++) {
		const struct mdb_node *q = slot(d);
		if (mdb_space(q) == mdb_space(c) && mdb_va(q) == want)
			return mdb_rights(q) == mdb_rights(c) && !q->child == !c->child;
		d = q->next;
		if (d == first)
			return false;
	}
	return true;
}

/* Cut node z's children loose (each becomes a root of its own tree). */
static void orphan_children(struct mdb_node *z)
{
	const mdb_id first = z->child;

	if (!first)
		return;
	mdb_id c = first;
	do {
		struct mdb_node *x = slot(c);
		const mdb_id next = x->next;
		x->parent = MDB_NIL;
		x->next = x->prev = c;
		c = next;
	} while (c != first);
	z->child = MDB_NIL;
}

void mdb_join(mdb_id r0)
{
	const unsigned level = mdb_level(slot(r0));
	const uint64_t size = mdb_level_size(level);

	CHECK(level < 2);
	/* Pre-order over r0's tree, which only changes keys; the pieces freed
	 * lie in the other pieces' trees, cut loose from their parents and
	 * children first (those children are freed in turn as pieces of the
	 * nodes that come after). */
	for (mdb_id y = r0; y; y = mdb_next_in(r0, y)) {
		struct mdb_node *p = slot(y);
		const unsigned space = mdb_space(p);
		const uint64_t va = mdb_va(p);
		for (unsigned k = 1; k < 512; k++) {
			const mdb_id z = piece_of(y, k, size);
			CHECK(z);
			orphan_children(slot(z));
			mdb_unlink(z);
			mdb_free(z);
		}
		chain_remove(y);
		p->key = hkey(space, va, level + 1) | MDB_KEY_RIGHTS(mdb_rights(p));
		chain_insert(y);
		M.count[space][level]--;
		M.count[space][level + 1]++;
	}
}

/* Move the node at slot i to free slot j (off the free list): every link
 * to it follows. */
static void move_node(mdb_id i, mdb_id j)
{
	struct mdb_node *x = slot(i), *y = slot(j);

	chain_remove(i); /* may change slot j's chain head: read it after */
	const uint32_t bucket = y->bucket;
	*y = *x;
	y->bucket = bucket;
	chain_insert(j);
	if (y->parent && slot(y->parent)->child == i)
		slot(y->parent)->child = j;
	if (y->next == i) {
		y->next = y->prev = j;
	} else {
		slot(y->prev)->next = j;
		slot(y->next)->prev = j;
	}
	if (y->child) {
		mdb_id c = y->child;
		do {
			slot(c)->parent = j;
			c = slot(c)->next;
		} while (c != y->child);
	}
	*x = (struct mdb_node){.key = MDB_KEY_FREE, .bucket = x->bucket};
}

void mdb_compact(uint32_t floor)
{
	uint32_t keep = (uint32_t)((M.nused + 1 + PER_PAGE - 1) / PER_PAGE);

	if (keep < floor)
		keep = floor;
	if (M.npages <= keep)
		return;
	const uint32_t limit = keep * PER_PAGE, slots = M.npages * PER_PAGE;

	/* The free list keeps the slots below the limit; nodes above move
	 * into them (there is room: limit - 1 >= nodes). */
	mdb_id low = MDB_NIL;
	for (mdb_id i = M.freelist, next; i; i = next) {
		next = slot(i)->next;
		if (i < limit) {
			slot(i)->next = low;
			low = i;
		}
	}
	for (uint32_t i = limit; i < slots; i++) {
		if (slot(i)->key & MDB_KEY_FREE)
			continue;
		const mdb_id j = low;
		CHECK(j != MDB_NIL);
		low = slot(j)->next;
		move_node(i, j);
	}
	M.freelist = low;
	for (mdb_id i = low, prev = MDB_NIL; i; prev = i, i = slot(i)->next)
		slot(i)->prev = prev;
	M.last = MDB_NIL;
	while (M.npages > keep)
		free_last_page();
	dir_fit();
	M.nfree = (uint64_t)limit - 1 - M.nused;
	/* Chain heads live in slots: fewer slots may need fewer chains. */
	if (M.npages == 0) {
		M.hbits = 0;
	} else if (((uint64_t)1 << M.hbits) > (uint64_t)M.npages * PER_PAGE) {
		unsigned bits = 0;
		while (((uint64_t)2 << bits) <= (uint64_t)M.npages * PER_PAGE)
			bits++;
		rehash(bits);
	}
}

void mdb_each(bool (*fn)(void *ctx, mdb_id i), void *ctx)
{
	const uint32_t slots = M.npages * PER_PAGE;

	for (uint32_t i = 1; i < slots; i++)
		if (!(slot(i)->key & MDB_KEY_FREE) && !fn(ctx, i))
			return;
}

void mdb_stats(struct mdb_stats *s)
{
	*s = (struct mdb_stats){.nodes = M.nused,
	                        .free = M.nfree,
	                        .pages = (uint64_t)M.npages + M.ndirs,
	                        .buckets = M.hbits ? (uint64_t)1 << M.hbits : 0,
	                        .node_pages = M.npages};
}

uint32_t mdb_node_pages(void)
{
	return M.npages;
}

uint64_t mdb_free_nodes(void)
{
	return M.nfree;
}

err_t mdb_audit(mdb_id *bad)
{
	static uint32_t count[MDB_MAX_SPACES][3];
	const uint32_t slots = M.npages * PER_PAGE;
	uint64_t used = 0, chained = 0, free = 0;

	__builtin_memset(count, 0, sizeof(count));
	*bad = MDB_NIL;
	for (uint32_t i = 1; i < slots; i++) {
		const struct mdb_node *x = slot(i);
		*bad = i;
		if (x->key & MDB_KEY_FREE)
			continue;
		used++;
		count[mdb_space(x)][mdb_level(x)]++;
		if (chain_find(x->key & KEY_HASH_MASK) != i)
			return "a node is not where the hash says";
		if (x->key & MDB_KEY_MARK)
			return "a node kept a traversal mark";
		if (!rights_valid(mdb_rights(x)))
			return "a node's rights lack r";
		if (x->parent) {
			const struct mdb_node *p = slot(x->parent);
			if (p->key & MDB_KEY_FREE)
				return "a node's parent is free";
			if (mdb_level(p) != mdb_level(x))
				return "a child's size differs from its parent's";
		}
		if (slot(x->next)->prev != i || slot(x->prev)->next != i)
			return "a sibling ring is broken";
		if (slot(x->next)->parent != x->parent)
			return "siblings have different parents";
		if (x->child && slot(x->child)->parent != i)
			return "a first child has another parent";
	}
	for (uint32_t b = 0; M.hbits && b < ((uint32_t)1 << M.hbits); b++)
		for (mdb_id i = slot(b)->bucket; i; i = slot(i)->hnext) {
			*bad = i;
			if (slot(i)->key & MDB_KEY_FREE)
				return "a free node is in a hash chain";
			if (hash(slot(i)->key) != b)
				return "a node is in the wrong chain";
			chained++;
		}
	for (mdb_id i = M.freelist, prev = MDB_NIL; i; prev = i, i = slot(i)->next) {
		*bad = i;
		if (!(slot(i)->key & MDB_KEY_FREE) || (prev && slot(i)->prev != prev))
			return "the free list is not linked both ways through free slots";
		if (free++ > (uint64_t)slots)
			return "the free list loops";
	}
	*bad = MDB_NIL;
	if (__builtin_memcmp(count, M.count, sizeof(count)))
		return "the count of nodes by space and size is wrong";
	if (used != M.nused || chained != M.nused)
		return "the count of nodes in use is wrong";
	if (free != M.nfree || used + free + (slots ? 1 : 0) != (uint64_t)slots)
		return "the count of free nodes is wrong";
	return NULL;
}

void mdb_clear(void)
{
	while (M.npages)
		free_last_page();
	dir_fit();
	M.freelist = M.last = MDB_NIL;
	M.nfree = M.nused = 0;
	M.hbits = 0;
	__builtin_memset(M.count, 0, sizeof(M.count));
	__builtin_memset(W, 0, sizeof(W));
}

void mdb_init(void)
{
	__builtin_memset(&M, 0, sizeof(M));
	mdb_pages = NULL;
	__builtin_memset(W, 0, sizeof(W));
}
