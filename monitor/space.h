/*
 * spaces: the L4 address-space model of SPEC section 1 on real x86-64
 * page tables.
 *
 * Space 0 is sigma0: at boot it maps, at v == r with rights rwx, every
 * frame handed to clients, which is every frame of the allocator but the
 * pool. The pool (a fraction of RAM set aside at boot, SPACE_POOL_SHARE)
 * stays in the frame allocator and serves memmon's own needs: every
 * space's page tables and the mapping database. Only commands change the
 * model; `pool grow` and `pool shrink` move frames between sigma0 and the
 * pool.
 *
 * Each space has its own 4-level table (paging/pt.h): the lower half holds
 * exactly what the model says (a page of rights R maps with PT_USER and R),
 * the last 512 GiB of the upper half holds memmon's reserved pieces
 * (plat_reserved), supervisor-only; clients can never map there.
 *
 * Every command is prepare-then-commit at the level of the model: it
 * first splits what it must split in the database (which changes no
 * translation) and takes every node and every table page the rest needs
 * (table pages: what paging's dry runs count, pt_count_*); only then does
 * it change a mapping. A command that fails (any error below) changes
 * nothing: the model, the tables, the database and the pool's counts are
 * as before, byte for byte (its splits are joined back). A command that
 * succeeds leaves the database healed: trees whose pieces are whole again
 * are joined, and database pages no longer needed go back to the pool.
 * Every command is O(what it touches) but for that healing, which is
 * O(512 * tree) per tree it changed. Not reentrant.
 *
 * Rights are rights.h's RIGHTS_R | RIGHTS_W | RIGHTS_X, always with r.
 * Addresses: page-aligned, canonical, in the lower half; lengths a
 * non-zero multiple of 4K.
 */
#ifndef MEMMON_SPACE_H
#define MEMMON_SPACE_H

#include "pt.h"
#include "rights.h"
#include "types.h"

#define SPACE_MAX        256u                  /* spaces 0 .. SPACE_MAX - 1 */
#define SPACE_USER_TOP   0x0000800000000000ull /* clients map below this */
#define SPACE_POOL_SHARE 16u                   /* the pool: 1/16 of the allocator's frames */
#define SPACE_POOL_MIN   4096u                 /* ... and at least 16 MiB */

/* Take over the allocator's free frames: keep `pool` frames (0: the
 * default share) as the pool and give the rest to sigma0. Called once at
 * boot, right after frame_init (tests: again after a new frame_init; any
 * earlier state is forgotten, not freed). */
err_t space_boot(uint64_t pool, bool gib_pages);

/* Undo space_boot: every space, node and client frame back to the
 * allocator (tests). */
void space_shutdown(void);

/* Whether space n exists (any n). */
bool space_exists(unsigned n);

/* space new: create space *n, the lowest unused number >= 1, with an
 * empty client half and memmon's reserved pieces. Needs: its root table
 * and the tables of the reserved pieces from the pool. Fails with
 * space_err_full or space_err_nomem. */
err_t space_new(unsigned *n);

/* space del: flush every page space n (not 0) maps, with everything
 * derived from it, then free its tables; *flushed the pages removed (in
 * every space). Needs the table pages removing the derived mappings
 * takes in other spaces (splits of superpages). Fails with
 * space_err_nospace, space_err_sigma0 or space_err_nomem. */
err_t space_del(unsigned n, uint64_t *flushed);

/* reset: delete every client space and give sigma0 its boot state again
 * (every client frame, orphans included, at v == r, rwx). Refuses with
 * space_err_nomem, changing nothing, unless the pool, once everything is
 * given back, holds what the boot state takes. */
err_t space_reset(void);

/* What a command did: pages set (map, grant), removed (unmap, flush) or
 * changed (protect), counted in every space; and for map and grant the
 * rights the new mappings got (their union and intersection). */
struct space_result {
	uint64_t pages;
	unsigned rights_or, rights_and;
};

/*
 * map n v n2 v2 len rights: SPEC's map of the region, page by page in
 * address order: each destination page n2:v2+o is flushed, then (if the
 * source page n:v+o still holds a mapping) derives from it with the
 * source's rights cut to `rights`. Needs: every source page valid (else
 * space_err_invalid, nothing done); a node per new mapping and the table
 * pages paging counts, from the pool (else space_err_nomem). *r: pages
 * set and their rights. Argument errors: space_err_nospace, _align,
 * _range, _reserved, _rights.
 */
err_t space_map(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len, unsigned rights,
                struct space_result *r);

/* grant: as map, but each new mapping takes the source's place in the
 * derivation tree (it derives from the source's parent) and the source
 * page is flushed. Same needs and failures. */
err_t space_grant(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len, unsigned rights,
                  struct space_result *r);

/* unmap n v len: remove every mapping derived from a page of the region
 * (the region's own pages stay). *r: pages removed. Needs the table
 * pages removals take (superpages split in other spaces) and, where the
 * region cuts a node with children, the nodes of that tree's split. */
err_t space_unmap(unsigned n, uint64_t v, uint64_t len, struct space_result *r);

/* flush n v len: unmap, then remove the region's own pages too. Same
 * needs as unmap, for the region's nodes as well. */
err_t space_flush(unsigned n, uint64_t v, uint64_t len, struct space_result *r);

/* protect n v len rights: cut the rights of every page of the region and
 * of everything derived from it to `rights` (never adds a right). *r:
 * pages whose rights changed. Needs the table pages the split
 * superpages take, and the nodes of the splits where the region cuts a
 * node whose rights change. */
err_t space_protect(unsigned n, uint64_t v, uint64_t len, unsigned rights, struct space_result *r);

/* lookup n v, answered from the hardware tables: the byte v translates to,
 * the rights, the entry's level (0 4K, 1 2M, 2 1G). v any alignment. */
struct space_hit {
	paddr_t pa;
	unsigned rights;
	unsigned level;
};
/* True and *h when space n maps v; false when space n does not exist, v
 * is not in the client half, or nothing maps it. Changes nothing. */
bool space_lookup(unsigned n, uint64_t v, struct space_hit *h);

/* Space n's page tables (NULL if it does not exist). Commands keep them
 * as the model says: change nothing through this. */
struct pt *space_pt(unsigned n);

/* The pool and the frames of the model. */
struct space_stats {
	unsigned spaces;      /* existing, sigma0 included */
	uint64_t mappings;    /* database nodes */
	uint64_t pages;       /* pages mapped in every space */
	uint64_t client;      /* frames handed to clients */
	uint64_t client_boot; /* client as space_boot left it: what reset returns to */
	uint64_t sigma0;      /* pages sigma0 maps */
	uint64_t reachable;   /* frames some space maps (Real roots) */
	uint64_t orphaned;    /* client frames no space reaches */
	uint64_t pool;        /* frames of the pool: free + ptables + mdb */
	uint64_t pool_used;   /* ptables + mdb (page tables of every space and of memmon) */
	uint64_t pool_free;   /* free in the allocator */
	uint64_t stash;       /* table pages held ready for the next operation */
};
/* The counts above, now. O(SPACE_MAX). */
void space_stats(struct space_stats *s);
/* Pages space n maps (0 if it does not exist). */
uint64_t space_pages(unsigned n);

/* pool grow: move `count` (> 0) frames that sigma0 maps at v == r, roots
 * from which nothing is derived, from the top of client memory, out of
 * sigma0 into the pool. Needs the splits of the nodes cut and the table
 * pages of the unmaps. Fails with space_err_align (count 0),
 * space_err_busy, space_err_extents or space_err_nomem. */
err_t space_pool_grow(uint64_t count);

/* pool shrink: move `count` (> 0) free frames of the pool to sigma0, at
 * v == r, rwx. Needs their nodes and table pages. Fails with
 * space_err_align, space_err_nomem, space_err_extents or
 * space_err_occupied. */
err_t space_pool_shrink(uint64_t count);

/* The node holding page n:v, for `mdb` and tests (MDB_NIL: none). Valid
 * until the next command (commands move nodes: mdb_compact). */
uint32_t space_node(unsigned n, uint64_t v);
/* The frame the first page of node `node` (valid) maps. */
paddr_t space_node_frame(uint32_t node);

/* Client extents (runs of client frames), for check: *out, sorted by
 * base; returns their number. Valid until pool grow or shrink. */
struct space_extent {
	uint64_t base, pages;
};
size_t space_extents(const struct space_extent **out);

/*
 * check: every invariant of SPEC section 1 over the whole state (check.c),
 * in place: it walks every derivation tree of the database, holding each
 * node against its space's tables, and every run of every space's tables,
 * with no memory but a bitmap taken at boot (space_check_boot), so it runs
 * in every state, the pool exhausted included. O(nodes + runs + database
 * slots + allocator blocks). own_tables: table pages held outside the
 * spaces (memmon's own tables), for the accounting. NULL when all hold;
 * otherwise space_check_failed with the first violation written into buf
 * (cap bytes): "<invariant> at N:0xV ...", "database: ..." for the
 * database's own structure. *summary gets the counts. Changes nothing.
 */
struct space_check {
	unsigned spaces;
	uint64_t mappings, pages, frames, orphaned;
};
err_t space_check(uint64_t own_tables, char *buf, size_t cap, struct space_check *summary);
/* check's memory: a bit per frame below frame_limit(), owner monitor.
 * space_boot takes it before sigma0 gets its frames (space_err_nomem if it
 * cannot); space_shutdown gives it back. */
err_t space_check_boot(void);
void space_check_shutdown(void);
extern const char space_check_failed[];

/*
 * ---- Through a space (space_view.c) ----------------------------------------
 * What the console reads and does with a space: it reaches a space's page
 * tables, the mapping database and the machine's access entries only
 * through these. n must exist (space_exists) unless said otherwise.
 */

/* Table pages space n holds, its root and the tables of the reserved
 * upper half included; 0 when space n does not exist. */
uint64_t space_tables(unsigned n);

/* Space n's root table: what CR3 holds while space n is loaded (and
 * what a guest of space n has as its nested page tables' root). */
paddr_t space_root(unsigned n);

/* A stamp that changes whenever space n's tables change (a mapping set,
 * removed or reduced, a table split or merged), and never goes back: a
 * reader that caches translations of space n (a guest's TLB, by ASID) must
 * drop them when the stamp differs from the one it saw. 0: no space n. */
uint64_t space_generation(unsigned n);

/* Each maximal run of space n's client half (below SPACE_USER_TOP), in
 * address order, as pt_runs gives them; stops early when fn returns false.
 * O(entries of the client half's tables). */
void space_runs(unsigned n, bool (*fn)(void *ctx, const struct pt_run *r), void *ctx);

/* The 4-level walk of v (any address) in space n's tables, decoded. */
void space_walk(unsigned n, uint64_t v, struct pt_walk *w);

/* What the CPU reported when an access through a space faulted. */
struct space_fault {
	bool page_fault; /* #PF; otherwise only vector and code say what */
	bool protection; /* #PF: the page is present, its rights forbid the access */
	bool write;      /* #PF: the access was a write (else a read) */
	uint64_t addr;   /* #PF: the address that faulted (CR2) */
	unsigned vector;
	uint64_t code; /* the CPU's error code, raw */
};

/* Read (write false) or write (write true) the 8-byte word at n:v (8-byte
 * aligned) through the MMU with space n's tables loaded, so that exactly
 * what the tables say is obeyed. True on success (*value read or written);
 * false when the access faulted, *f saying how, nothing changed. */
bool space_access(unsigned n, uint64_t v, bool write, uint64_t *value, struct space_fault *f);

/* Load space n's tables and idle until a byte arrives on the serial line
 * (which is consumed); then memmon's tables are back. */
void space_park(unsigned n);

/* The derivation tree holding one page, for `mdb`: space_tree_open finds
 * it (false: n:v holds no mapping, or space n does not exist), then each
 * space_tree_next gives one mapping of it in pre-order, the root (Real)
 * first, until it returns false. Nothing may change the spaces in between.
 * O(depth) per mapping. */
struct space_tree {
	paddr_t frame;           /* the first frame the root maps */
	uint64_t size;           /* bytes each mapping of the tree covers */
	unsigned level;          /* their entry level: 0 4K, 1 2M, 2 1G */
	uint64_t nodes;          /* mappings in the tree */
	uint32_t root, at, mark; /* the walk's own state */
};
struct space_tree_entry {
	unsigned space;
	uint64_t va; /* the first page of the mapping's block */
	unsigned rights;
	unsigned level;
	unsigned depth; /* links from the root: 0 for the root */
	bool real;      /* the root: it maps its frames Real */
	bool mark;      /* the mapping that holds the page the tree was opened at */
};
bool space_tree_open(unsigned n, uint64_t v, struct space_tree *t);
bool space_tree_next(struct space_tree *t, struct space_tree_entry *out);

/* Failures, compared by identity. */
extern const char space_err_nospace[];  /* no such space */
extern const char space_err_align[];    /* address or length not 4K-aligned, or length 0 */
extern const char space_err_range[];    /* not canonical, or the region leaves the lower half */
extern const char space_err_reserved[]; /* in the upper half, memmon's */
extern const char space_err_rights[];   /* rights without r, or unknown bits */
extern const char space_err_invalid[];  /* a source page holds no mapping */
extern const char space_err_nomem[];    /* the pool cannot give what the operation needs */
extern const char space_err_sigma0[];   /* sigma0 cannot be deleted */
extern const char space_err_full[];     /* every space number is in use */
extern const char space_err_busy[];     /* pool grow: not enough frames free of derivations */
extern const char space_err_extents[];  /* pool: too many client extents */
extern const char space_err_occupied[]; /* pool shrink: sigma0 maps something at v == r there */

#endif
