/*
 * model: the abstract model of SPEC section 1, written as plainly as it
 * reads, so that anyone can hold it against Tuch & Klein's paper.
 *
 * State: for each existing space n and page v, nothing or one mapping,
 * which is `Virtual n' v'` (derived from page v' of space n') or `Real r`
 * (frame r), with rights (rights.h: RIGHTS_R | RIGHTS_W | RIGHTS_X, always with R).
 * Every operation works on one page and follows the definitions of
 * SPEC section 1 word for word; a region is the same operation page by
 * page in increasing address order. Nothing here knows page tables, page
 * sizes, the mapping database or frames' owners.
 *
 * It is the oracle of the host tests (run in lockstep with the real
 * layers) and the model `check` builds from the real state and then holds
 * the hardware tables against. It is deliberately simple, not fast: one
 * hash entry per mapped page, and for each mapping the list of mappings
 * derived from it directly (so that unmap can find them without a scan of
 * the whole state).
 *
 * Memory comes through one door (struct model_mem), so that memmon can
 * lend it frames for a check and a test can fail the Nth allocation. An
 * operation that cannot get memory returns model_err_nomem and changes
 * nothing.
 */
#ifndef MEMMON_MODEL_H
#define MEMMON_MODEL_H

#include "rights.h"
#include "types.h"

#define MODEL_REAL UINT32_MAX /* src_space of a Real mapping */

struct model_map {
	uint32_t src_space; /* the space it derives from, or MODEL_REAL */
	uint64_t src;       /* that space's page address, or the frame's address */
	unsigned rights;    /* rights.h's bits; always with RIGHTS_R */
};

struct model_mem {
	/* Zeroed memory of `bytes`, or NULL. */
	void *(*alloc)(void *ctx, size_t bytes);
	void (*free)(void *ctx, void *p, size_t bytes);
	void *ctx;
};

struct model_entry; /* private to model.c */
struct model_space; /* private to model.c */

struct model {
	struct model_mem mem;
	unsigned max_spaces;        /* spaces are 0 .. max_spaces - 1; 0 is sigma0 */
	bool *exists;               /* exists[n] */
	struct model_space *spaces; /* spaces[n]: pages it maps, and the list of them */
	struct model_entry *tab;
	size_t cap, used, dead; /* slots, live entries, deleted markers */
	/* sigma0's boot frames, for model_reset: [base, base + pages) */
	struct {
		uint64_t base, pages;
	} * boot;
	size_t nboot, boot_cap;
};

/* An empty model with only space 0 (sigma0, mapping nothing yet). */
err_t model_init(struct model *m, const struct model_mem *mem, unsigned max_spaces);
void model_destroy(struct model *m);

/* Boot state: sigma0 maps frames [pa, pa + pages * 4K) at v == pa, rights
 * rwx (Real). Remembered for model_reset. */
err_t model_sigma0(struct model *m, uint64_t pa, uint64_t pages);

/* Set n:v to exactly *mp (NULL: remove it) with no other effect, for
 * building a model from another representation. The space must exist. */
err_t model_set(struct model *m, uint32_t n, uint64_t v, const struct model_map *mp);

bool model_space_exists(const struct model *m, uint32_t n);
/* Create space n (must not exist, n < max_spaces, n != 0). */
err_t model_space_create(struct model *m, uint32_t n);
/* Flush every page space n maps, then delete it (n != 0). */
err_t model_space_delete(struct model *m, uint32_t n);
/* Delete every space but sigma0, and give sigma0 exactly its boot state. */
err_t model_reset(struct model *m);

/* The mapping stored at n:v, if any (no path following). */
bool model_get(const struct model *m, uint32_t n, uint64_t v, struct model_map *out);
/* lookup n v: follow Virtual links to Real r; *pa = r (page address),
 * *rights = rights of n:v. False: none. */
bool model_lookup(const struct model *m, uint32_t n, uint64_t v, uint64_t *pa, unsigned *rights);

/*
 * The region commands, each the single-page command of SPEC section 1 for
 * pages v, v + 4K, ... in increasing order. v, v2 page addresses; pages >= 1.
 * map / grant: model_err_invalid (no change) when any source page holds no
 * mapping at the start, model_err_nospace when a space does not exist;
 * *done = pages for which a mapping was set. unmap / flush: *done = mappings
 * removed (in every space). protect: *done = mappings whose rights changed
 * (in every space). done may be NULL.
 */
err_t model_map(struct model *m, uint32_t n, uint64_t v, uint32_t n2, uint64_t v2, uint64_t pages,
                unsigned rights, uint64_t *done);
err_t model_grant(struct model *m, uint32_t n, uint64_t v, uint32_t n2, uint64_t v2, uint64_t pages,
                  unsigned rights, uint64_t *done);
err_t model_unmap(struct model *m, uint32_t n, uint64_t v, uint64_t pages, uint64_t *done);
err_t model_flush(struct model *m, uint32_t n, uint64_t v, uint64_t pages, uint64_t *done);
err_t model_protect(struct model *m, uint32_t n, uint64_t v, uint64_t pages, unsigned rights,
                    uint64_t *done);

/* Call fn for every mapping (any order); stop when fn returns false. */
void model_each(const struct model *m,
                bool (*fn)(void *ctx, uint32_t n, uint64_t v, const struct model_map *mp),
                void *ctx);
/* Pages space n maps. */
uint64_t model_pages(const struct model *m, uint32_t n);

/*
 * Invariants 1 to 4 of SPEC section 1 over the whole state: no loops;
 * every mapping reaches Real through mappings that exist in spaces that
 * exist; lookup is a function (one entry per space and page, rights always
 * with r); rights of a derived mapping within its source's. NULL, or which
 * one fails; `where` (cap bytes) then names the mapping, "N:0xV".
 */
err_t model_check(const struct model *m, char *where, size_t cap);

extern const char model_err_nomem[];   /* the door gave no memory */
extern const char model_err_invalid[]; /* a source page holds no mapping */
extern const char model_err_nospace[]; /* a space does not exist */
extern const char model_err_exists[];  /* the space exists already */
extern const char model_err_loop[];    /* invariant 1 */
extern const char model_err_noreal[];  /* invariant 2 */
extern const char model_err_notfn[];   /* invariant 3 */
extern const char model_err_rights[];  /* invariant 4 */

#endif
