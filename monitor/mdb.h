/*
 * mdb: the mapping database, the bookkeeping under the spaces layer.
 *
 * A node is one mapping of an aligned block of 4K, 2M or 1G in one space:
 * every page of the block maps with the same rights, and the block's pages
 * derive page for page from the same-sized block of its parent node (or,
 * for a root, map their frames Real). A node's children are the mappings
 * derived from it directly; they always have the node's size (a block that
 * must be cut is split with its whole tree, mdb_split). So the derivation
 * tree of a root is the derivation tree of each of its pages, and unmap of a
 * node touches exactly the k nodes below it.
 *
 * Nodes are 32 bytes, held in pages from the frame allocator (owner mdb),
 * 128 to a page, named by 32-bit indices (0 is none). A node is found from
 * (space, page) through a hash table of chains whose bucket heads live in
 * the nodes' own slots (bucket b is a field of slot b), so the table costs
 * no memory of its own: 32 bytes per mapping, all told.
 *
 * Memory is taken only by mdb_reserve, which either makes `n` free nodes
 * available or changes nothing; mdb_new then cannot fail. Not reentrant.
 */
#ifndef MEMMON_MDB_H
#define MEMMON_MDB_H

#include "rights.h"
#include "types.h"

typedef uint32_t mdb_id;
#define MDB_NIL 0u

/*
 * key, from bit 63 down:
 *   63:48  space
 *   46:12  the block's first page (lower half: bit 47 is 0)
 *   11     free (the node is on the free list)
 *   5      mark (scratch for traversals; clear between operations)
 *   4:2    rights (rights.h's RIGHTS_R, RIGHTS_W, RIGHTS_X)
 *   1:0    level: 0 4K, 1 2M, 2 1G
 */
struct mdb_node {
	uint64_t key;
	uint32_t hnext;  /* next in the hash chain */
	uint32_t parent; /* the node this derives from; MDB_NIL: a root (Real) */
	uint32_t child;  /* first child */
	uint32_t next;   /* siblings: a ring, doubly linked */
	uint32_t prev;
	uint32_t bucket; /* head of hash chain number (this slot's index) */
};
_Static_assert(sizeof(struct mdb_node) == 32, "32 bytes of database per mapping");

#define MDB_KEY_SPACE_SHIFT 48
#define MDB_KEY_VA_MASK     0x00007ffffffff000ull
#define MDB_KEY_FREE        0x800ull
#define MDB_KEY_MARK        0x20ull
#define MDB_KEY_RIGHTS(r)   ((uint64_t)(r) << 2)
#define MDB_MAX_SPACES      256u /* nodes per size are counted per space */

static inline unsigned mdb_space(const struct mdb_node *x)
{
	return (unsigned)(x->key >> MDB_KEY_SPACE_SHIFT);
}
static inline uint64_t mdb_va(const struct mdb_node *x)
{
	return x->key & MDB_KEY_VA_MASK;
}
static inline unsigned mdb_level(const struct mdb_node *x)
{
	return (unsigned)(x->key & 3);
}
static inline unsigned mdb_rights(const struct mdb_node *x)
{
	return (unsigned)(x->key >> 2) & RIGHTS_RWX;
}
static inline uint64_t mdb_level_size(unsigned level)
{
	return PAGE_SIZE << (9 * level);
}
static inline uint64_t mdb_size(const struct mdb_node *x)
{
	return mdb_level_size(mdb_level(x));
}
/* The place (0..511) of x's block in the block a level up. A shift, not a
 * division by the size: the heal's tests run it on every command. */
static inline unsigned mdb_place(const struct mdb_node *x)
{
	return (unsigned)(mdb_va(x) >> (PAGE_SHIFT + 9 * mdb_level(x))) & 511;
}

/* The directory of node pages (mdb.c's own; here only so that mdb_at is
 * inline): index i lives in node page i / 128, slot i % 128, and node page
 * p is mdb_pages[p]. One array, so that a node is two dependent loads
 * away from its index, not three. */
#define MDB_PER_PAGE ((uint32_t)(PAGE_SIZE / sizeof(struct mdb_node))) /* 128 */
extern struct mdb_node **mdb_pages;

/* The node with index i (i != MDB_NIL, allocated). Inline: the spaces
 * layer's walks over nodes make a dozen of these a command. */
static inline struct mdb_node *mdb_at(mdb_id i)
{
	return &mdb_pages[i / MDB_PER_PAGE][i % MDB_PER_PAGE];
}

/* The node of `space` holding page `va` (any level), or MDB_NIL. Probes
 * the sizes from 4K up, skipping sizes of which the space has no node. */
mdb_id mdb_find(unsigned space, uint64_t va);

/* The node of `space` of exactly `level` whose block holds page `va`, or
 * MDB_NIL (check: a page in two nodes of one space). One probe. */
mdb_id mdb_find_level(unsigned space, uint64_t va, unsigned level);

/* Make at least n free nodes available. On failure (mdb_err_nomem, or
 * mdb_err_full past the index space) nothing changed. */
err_t mdb_reserve(uint64_t n);

/* Frames an empty database takes to hold n nodes (mdb_reserve(n) after
 * mdb_clear): node pages and directory pages. */
uint64_t mdb_pages_for(uint64_t n);

/* A new node, unlinked, in the hash table, from the reserve (which must
 * hold one). Its block must not overlap another node of the space. */
mdb_id mdb_new(unsigned space, uint64_t va, unsigned level, unsigned rights);

/* Free an unlinked node (no parent, siblings or children). */
void mdb_free(mdb_id i);

/* Change a node's rights (no rehash: rights are not part of the hash). */
void mdb_set_rights(mdb_id i, unsigned rights);

/* Make `child` (unlinked) a child of `parent`; take `child` out of its
 * parent's list (it keeps its own children). */
void mdb_link(mdb_id parent, mdb_id child);
void mdb_unlink(mdb_id child);

/* The root of the tree holding i. */
mdb_id mdb_root(mdb_id i);

/* Pre-order traversal of the subtree of `top`: the node after i, or
 * MDB_NIL after the last. Links must not change during a traversal, except
 * that the caller may add children to nodes outside the subtree. */
mdb_id mdb_next_in(mdb_id top, mdb_id i);

/* Nodes in the subtree of top, top included. O(subtree). */
uint64_t mdb_subtree_size(mdb_id top);

/*
 * Split the tree holding node i one level down: every node of the tree,
 * of level L > 0, becomes 512 nodes of level L - 1, each derived from the
 * matching piece of its parent's. Needs 511 free nodes per node of the
 * tree (mdb_reserve). Translations do not change.
 */
void mdb_split(mdb_id i);

/* The node of x's space and level at piece k (0..511) of the block one
 * level up that holds x's block; MDB_NIL if there is none. x below 1G. */
mdb_id mdb_piece(mdb_id x, unsigned k);

/*
 * Whether the tree of root r and the trees of the other 511 roots of its
 * group (the pieces 0..511 of one block a level up, in r's space) are the
 * 512 pieces of one tree a level up, as mdb_split would leave it: the
 * same rights piece for piece, every node of piece 0's tree at a block
 * aligned to the size a level up, and piece k of every node derived from
 * piece k of its parent, with no other node in any piece's tree. Returns
 * piece 0 (MDB_NIL: not joinable). That the roots map contiguous frames
 * is the caller's to check (the database holds no frames). O(512 * tree);
 * a group that differs next to r, or where the piece that differed at the
 * last look still does (a memo per group, a hint only), is rejected in
 * O(tree).
 */
mdb_id mdb_joinable(mdb_id r);

/*
 * A necessary condition for mdb_joinable(mdb_root(x)), in O(1): x's
 * counterpart in the next piece's tree (the node of x's space and level
 * one block past x's, wrapping inside the block a level up: mdb_piece)
 * exists, has x's rights, and is a root or has children exactly when x
 * is and does; and x's first child's counterpart is a child of it with
 * the same rights and presence of children (looked for among its first 8
 * children only). False: the group of x's tree is not joinable (x below
 * 1G). True: it may be.
 */
bool mdb_may_join(mdb_id x);

/* Undo mdb_split for a joinable r0: every group of 512 pieces becomes its
 * piece 0, a level up; the other 511 nodes of each group are freed.
 * Translations do not change. */
void mdb_join(mdb_id r0);

/*
 * Give node pages back down to the fewest that hold the nodes, or `floor`
 * node pages if that is more: nodes in the pages past the ones kept move
 * down (their indices change: hold none across this call), the emptied
 * pages (and directory pages) go back to the allocator. O(free + nodes
 * moved) when it acts, O(1) when there is nothing to give back.
 */
void mdb_compact(uint32_t floor);

/* Every node in use, for check: fn(ctx, id), stop when it returns false. */
void mdb_each(bool (*fn)(void *ctx, mdb_id i), void *ctx);

struct mdb_stats {
	uint64_t nodes;   /* in use */
	uint64_t free;    /* on the free list */
	uint64_t pages;   /* frames held: node pages and the directory's pages */
	uint64_t buckets; /* hash chains */
	uint32_t node_pages;
};
void mdb_stats(struct mdb_stats *s);
/* Two of them, for every command's begin and finish (O(1), no copy). */
uint32_t mdb_node_pages(void);
uint64_t mdb_free_nodes(void);

/* Walk the whole database and check its own structure (hash chains, links,
 * sizes, counts). NULL or what is wrong; *bad the node. */
err_t mdb_audit(mdb_id *bad);

/* Free every node and every page (reset, and tests between cases). */
void mdb_clear(void);

/* Start empty, forgetting any earlier pages without freeing them: after
 * frame_init started the allocator afresh. */
void mdb_init(void);

extern const char mdb_err_nomem[];
extern const char mdb_err_full[];

#endif
