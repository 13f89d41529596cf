/*
 * Unit tests of the naive model (monitor/model.c): the boot state, the
 * scenarios of Tuch & Klein's paper (chains, unmap and flush of subtrees,
 * grant, the map-then-grant-back counterexample, map onto itself), rights,
 * region order, refusals, the *done counts, spaces and reset, model_check
 * catching each invariant on states built with model_set, running out of
 * memory at every allocation, scale, and a long randomized run held
 * against a brute-force reference written here as the definitions read.
 *
 * Memory comes through a door over malloc that records every block, can
 * fail the Nth allocation or a random share of them; the fixture's
 * teardown destroys the model and checks that every block came back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define NSPACES 8
#define BASE    ((uint64_t)0x100000) /* sigma0's boot frames start here */
#define NBOOT   64                   /* ... and are this many */
#define PG(i)   (BASE + (uint64_t)(i)*PAGE_SIZE)
#define R       RIGHTS_R
#define RW      RIGHTS_RW
#define RX      RIGHTS_RX
#define RWX     RIGHTS_RWX

/* ---- the door --------------------------------------------------------------- */

static struct {
	size_t blocks, bytes;   /* outstanding */
	unsigned long calls;    /* allocations asked for so far */
	unsigned long fail_at;  /* fail the call with this number; 0: none */
	unsigned fail_percent;  /* fail this share of calls at random */
	unsigned long failures; /* calls failed */
} door;

static void *door_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	door.calls++;
	if ((door.fail_at && door.calls == door.fail_at) ||
	    (door.fail_percent && (unsigned)(rand() % 100) < door.fail_percent)) {
		door.failures++;
		return NULL;
	}
	size_t *p = calloc(1, bytes + 16);
	assert_non_null(p);
	p[0] = bytes;
	door.blocks++;
	door.bytes += bytes;
	return p + 2;
}

static void door_free(void *ctx, void *q, size_t bytes)
{
	size_t *p = (size_t *)q - 2;

	(void)ctx;
	assert_int_equal(p[0], bytes); /* freed with the size it was taken with */
	assert_true(door.blocks > 0);
	door.blocks--;
	door.bytes -= bytes;
	free(p);
}

static const struct model_mem mem = {.alloc = door_alloc, .free = door_free, .ctx = NULL};

/* The next allocation but n - 1 fails (n >= 1). */
static void fail_nth(unsigned long n)
{
	door.fail_at = door.calls + n;
}

/* ---- fixture ------------------------------------------------------------------ */

static struct model M;

/* A model with NSPACES spaces possible, sigma0 holding NBOOT frames at
 * PG(0 .. NBOOT - 1), spaces 1 to 3 created. */
static int setup(void **state)
{
	(void)state;
	memset(&door, 0, sizeof(door));
	assert_null(model_init(&M, &mem, NSPACES));
	assert_null(model_sigma0(&M, BASE, NBOOT));
	for (uint32_t n = 1; n <= 3; n++)
		assert_null(model_space_create(&M, n));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	door.fail_at = 0;
	door.fail_percent = 0;
	model_destroy(&M);
	assert_int_equal(door.blocks, 0);
	assert_int_equal(door.bytes, 0);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static void ok(void)
{
	char where[48];
	err_t e = model_check(&M, where, sizeof(where));

	if (e)
		fail_msg("model_check: %s at %s", e, where);
}

static uint64_t map(uint32_t n, uint64_t v, uint32_t n2, uint64_t v2, uint64_t pages,
                    unsigned rights)
{
	uint64_t done = UINT64_MAX;

	assert_null(model_map(&M, n, v, n2, v2, pages, rights, &done));
	return done;
}

static uint64_t grant(uint32_t n, uint64_t v, uint32_t n2, uint64_t v2, uint64_t pages,
                      unsigned rights)
{
	uint64_t done = UINT64_MAX;

	assert_null(model_grant(&M, n, v, n2, v2, pages, rights, &done));
	return done;
}

static uint64_t unmap(uint32_t n, uint64_t v, uint64_t pages)
{
	uint64_t done = UINT64_MAX;

	assert_null(model_unmap(&M, n, v, pages, &done));
	return done;
}

static uint64_t flush(uint32_t n, uint64_t v, uint64_t pages)
{
	uint64_t done = UINT64_MAX;

	assert_null(model_flush(&M, n, v, pages, &done));
	return done;
}

static uint64_t protect(uint32_t n, uint64_t v, uint64_t pages, unsigned rights)
{
	uint64_t done = UINT64_MAX;

	assert_null(model_protect(&M, n, v, pages, rights, &done));
	return done;
}

static void set(uint32_t n, uint64_t v, uint32_t sn, uint64_t src, unsigned rights)
{
	const struct model_map mp = {.src_space = sn, .src = src, .rights = rights};

	assert_null(model_set(&M, n, v, &mp));
}

/* n:v holds Virtual sn sv (or Real sv when sn is MODEL_REAL) with `rights`. */
static void holds(uint32_t n, uint64_t v, uint32_t sn, uint64_t sv, unsigned rights)
{
	struct model_map mp;

	if (!model_get(&M, n, v, &mp))
		fail_msg("%u:0x%lx holds nothing", n, (unsigned long)v);
	assert_int_equal(mp.src_space, sn);
	assert_int_equal(mp.src, sv);
	assert_int_equal(mp.rights, rights);
}

static void expect_none(uint32_t n, uint64_t v)
{
	uint64_t pa;
	unsigned r;

	assert_false(model_get(&M, n, v, NULL));
	assert_false(model_lookup(&M, n, v, &pa, &r));
}

/* lookup n v answers frame pa with rights. */
static void expect_lookup(uint32_t n, uint64_t v, uint64_t pa, unsigned rights)
{
	uint64_t got = 0;
	unsigned r = 0;

	assert_true(model_lookup(&M, n, v, &got, &r));
	assert_int_equal(got, pa);
	assert_int_equal(r, rights);
}

static uint64_t total_pages(void)
{
	uint64_t t = 0;

	for (uint32_t n = 0; n < NSPACES; n++)
		t += model_pages(&M, n);
	return t;
}

/* ---- snapshots (model_each) ------------------------------------------------------ */

struct rec {
	uint32_t n, src_space;
	uint64_t v, src;
	unsigned rights;
};

struct snap {
	struct rec *r;
	size_t len, cap;
	bool exists[NSPACES];
	uint64_t pages[NSPACES];
};

static bool snap_add(void *ctx, uint32_t n, uint64_t v, const struct model_map *mp)
{
	struct snap *s = ctx;

	if (s->len == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
		assert_non_null(s->r);
	}
	s->r[s->len++] = (struct rec){
	    .n = n, .v = v, .src_space = mp->src_space, .src = mp->src, .rights = mp->rights};
	return true;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return 0;
}

static void snap_take(struct snap *s)
{
	memset(s, 0, sizeof(*s));
	model_each(&M, snap_add, s);
	if (s->len)
		qsort(s->r, s->len, sizeof(*s->r), rec_cmp);
	for (uint32_t n = 0; n < NSPACES; n++) {
		s->exists[n] = model_space_exists(&M, n);
		s->pages[n] = model_pages(&M, n);
	}
}

static void snap_free(struct snap *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

static void assert_snap_equal(const struct snap *a, const struct snap *b)
{
	assert_int_equal(a->len, b->len);
	for (size_t i = 0; i < a->len; i++) {
		assert_int_equal(a->r[i].n, b->r[i].n);
		assert_int_equal(a->r[i].v, b->r[i].v);
		assert_int_equal(a->r[i].src_space, b->r[i].src_space);
		assert_int_equal(a->r[i].src, b->r[i].src);
		assert_int_equal(a->r[i].rights, b->r[i].rights);
	}
	for (uint32_t n = 0; n < NSPACES; n++) {
		assert_int_equal(a->exists[n], b->exists[n]);
		assert_int_equal(a->pages[n], b->pages[n]);
	}
}

/* The model now is exactly as *s recorded. */
static void assert_unchanged(const struct snap *s)
{
	struct snap now;

	snap_take(&now);
	assert_snap_equal(s, &now);
	snap_free(&now);
}

/* ---- boot ------------------------------------------------------------------------- */

/* Boot: only sigma0 exists, mapping its frames at v == pa, Real, rwx. */
static void test_boot_state(void **state)
{
	struct model m2;
	uint64_t pa;
	unsigned r;

	(void)state;
	assert_null(model_init(&m2, &mem, NSPACES));
	assert_true(model_space_exists(&m2, 0));
	for (uint32_t n = 1; n < NSPACES; n++)
		assert_false(model_space_exists(&m2, n));
	assert_null(model_sigma0(&m2, BASE, 3));
	assert_null(model_sigma0(&m2, 0x40000000, 2));
	assert_int_equal(model_pages(&m2, 0), 5);
	assert_true(model_lookup(&m2, 0, PG(2), &pa, &r));
	assert_int_equal(pa, PG(2));
	assert_int_equal(r, RWX);
	assert_true(model_lookup(&m2, 0, 0x40001000, &pa, &r));
	assert_int_equal(pa, 0x40001000);
	assert_false(model_lookup(&m2, 0, PG(3), &pa, &r));
	assert_false(model_lookup(&m2, 1, PG(0), &pa, &r));
	assert_null(model_check(&m2, NULL, 0));
	model_destroy(&m2);

	holds(0, PG(0), MODEL_REAL, PG(0), RWX);
	holds(0, PG(NBOOT - 1), MODEL_REAL, PG(NBOOT - 1), RWX);
	expect_none(0, PG(NBOOT));
	assert_int_equal(total_pages(), NBOOT);
	ok();
}

/* ---- the paper's scenarios ----------------------------------------------------------- */

/* A chain of maps 0 -> 1 -> 2 -> 3: each page is Virtual the one before, all look up one frame. */
static void test_chain(void **state)
{
	(void)state;
	assert_null(model_space_create(&M, 4));
	assert_int_equal(map(0, PG(5), 1, 0x1000, 1, RWX), 1);
	assert_int_equal(map(1, 0x1000, 2, 0x2000, 1, RWX), 1);
	assert_int_equal(map(2, 0x2000, 3, 0x3000, 1, RWX), 1);
	holds(1, 0x1000, 0, PG(5), RWX);
	holds(2, 0x2000, 1, 0x1000, RWX);
	holds(3, 0x3000, 2, 0x2000, RWX);
	expect_lookup(3, 0x3000, PG(5), RWX);
	expect_lookup(1, 0x1000, PG(5), RWX);
	expect_none(4, 0x3000);
	ok();
}

/* A tree under sigma0's page 5: 1:a, and under it 2:b (with 3:c under that) and 3:d;
 * beside 1:a, 2:e. */
static void tree(void)
{
	map(0, PG(5), 1, 0xa000, 1, RWX);
	map(1, 0xa000, 2, 0xb000, 1, RWX);
	map(2, 0xb000, 3, 0xc000, 1, RWX);
	map(1, 0xa000, 3, 0xd000, 1, RWX);
	map(0, PG(5), 2, 0xe000, 1, RWX);
}

/* unmap of a middle page removes what derives from it, in every space; the page stays. */
static void test_unmap_subtree(void **state)
{
	(void)state;
	tree();
	assert_int_equal(unmap(2, 0xb000, 1), 1);
	holds(2, 0xb000, 1, 0xa000, RWX);
	expect_none(3, 0xc000);
	assert_int_equal(unmap(1, 0xa000, 1), 2); /* 2:b and 3:d */
	holds(1, 0xa000, 0, PG(5), RWX);
	expect_none(2, 0xb000);
	expect_none(3, 0xd000);
	holds(2, 0xe000, 0, PG(5), RWX);
	holds(0, PG(5), MODEL_REAL, PG(5), RWX);
	assert_int_equal(unmap(1, 0xa000, 1), 0); /* nothing left below it */
	ok();
}

/* flush removes the subtree and the page itself. */
static void test_flush_subtree(void **state)
{
	(void)state;
	tree();
	assert_int_equal(flush(1, 0xa000, 1), 4); /* 1:a, 2:b, 3:c, 3:d */
	expect_none(1, 0xa000);
	expect_none(2, 0xb000);
	expect_none(3, 0xc000);
	expect_none(3, 0xd000);
	holds(2, 0xe000, 0, PG(5), RWX);
	assert_int_equal(flush(0, PG(5), 1), 2); /* sigma0's page goes too */
	expect_none(0, PG(5));
	assert_int_equal(model_pages(&M, 0), NBOOT - 1);
	ok();
}

/* grant moves the mapping to the target and drops the granted page and its subtree. */
static void test_grant_moves(void **state)
{
	(void)state;
	tree();
	assert_int_equal(grant(1, 0xa000, 3, 0x7000, 1, RX), 1);
	holds(3, 0x7000, 0, PG(5), RX);
	expect_lookup(3, 0x7000, PG(5), RX);
	expect_none(1, 0xa000);
	expect_none(2, 0xb000);
	expect_none(3, 0xc000);
	expect_none(3, 0xd000);
	holds(2, 0xe000, 0, PG(5), RWX);
	/* granting sigma0's page moves the Real frame itself */
	assert_int_equal(grant(0, PG(6), 1, 0x6000, 1, RWX), 1);
	holds(1, 0x6000, MODEL_REAL, PG(6), RWX);
	expect_none(0, PG(6));
	ok();
}

/* The paper's counterexample: map, then grant (or map) back onto the source: no loop. */
static void test_grant_back_no_loop(void **state)
{
	(void)state;
	/* flush 0:v (the target) takes 1:x (the source) with it, so nothing is set */
	assert_int_equal(map(0, PG(7), 1, 0x1000, 1, RWX), 1);
	assert_int_equal(grant(1, 0x1000, 0, PG(7), 1, RWX), 0);
	expect_none(0, PG(7));
	expect_none(1, 0x1000);
	ok();
	/* the same with map back */
	assert_int_equal(map(0, PG(8), 1, 0x2000, 1, RWX), 1);
	assert_int_equal(map(1, 0x2000, 0, PG(8), 1, RWX), 0);
	expect_none(0, PG(8));
	expect_none(1, 0x2000);
	/* and from further down: 2:y derives from 0:v through 1:x */
	map(0, PG(9), 1, 0x3000, 1, RWX);
	map(1, 0x3000, 2, 0x4000, 1, RWX);
	assert_int_equal(grant(2, 0x4000, 0, PG(9), 1, RWX), 0);
	expect_none(0, PG(9));
	expect_none(1, 0x3000);
	expect_none(2, 0x4000);
	ok();
}

/* map or grant of a page onto itself flushes it and maps nothing. */
static void test_onto_itself(void **state)
{
	(void)state;
	map(0, PG(3), 1, 0x3000, 1, RWX);
	map(1, 0x3000, 2, 0x3000, 1, RWX);
	assert_int_equal(map(1, 0x3000, 1, 0x3000, 1, RWX), 0);
	expect_none(1, 0x3000);
	expect_none(2, 0x3000);
	holds(0, PG(3), MODEL_REAL, PG(3), RWX);
	assert_int_equal(grant(0, PG(3), 0, PG(3), 1, RWX), 0);
	expect_none(0, PG(3));
	ok();
}

/* Rights only shrink, through map and protect, over whole subtrees; asking for more gives none. */
static void test_rights_shrink(void **state)
{
	(void)state;
	map(0, PG(1), 1, 0x1000, 1, RX);
	holds(1, 0x1000, 0, PG(1), RX);
	map(1, 0x1000, 2, 0x2000, 1, RW);
	holds(2, 0x2000, 1, 0x1000, R);
	map(2, 0x2000, 3, 0x3000, 1, RWX);
	holds(3, 0x3000, 2, 0x2000, R);
	map(1, 0x1000, 3, 0x4000, 1, RWX);
	holds(3, 0x4000, 1, 0x1000, RX);
	/* protect 0:1 to rw-: x goes from 0:1, 1:0x1000 and 3:0x4000; 2:0x2000 and 3:0x3000
	 * have no x to lose */
	assert_int_equal(protect(0, PG(1), 1, RW), 3);
	holds(0, PG(1), MODEL_REAL, PG(1), RW);
	holds(1, 0x1000, 0, PG(1), R);
	holds(3, 0x4000, 1, 0x1000, R);
	holds(3, 0x3000, 2, 0x2000, R);
	assert_int_equal(protect(0, PG(1), 1, RWX), 0); /* rights never grow */
	holds(0, PG(1), MODEL_REAL, PG(1), RW);
	map(0, PG(1), 2, 0x5000, 1, RWX);
	holds(2, 0x5000, 0, PG(1), RW);
	expect_lookup(2, 0x5000, PG(1), RW);
	ok();
}

/* A region is page by page in increasing order: overlapping regions in one space show it. */
static void test_region_order(void **state)
{
	(void)state;
	/* forwards: page 2 takes the 1:0x2000 that page 1 just set as its source, a chain */
	assert_int_equal(map(0, PG(0), 1, 0x1000, 3, RWX), 3);
	assert_int_equal(map(1, 0x1000, 1, 0x2000, 2, RW), 2);
	holds(1, 0x1000, 0, PG(0), RWX);
	holds(1, 0x2000, 1, 0x1000, RW);
	holds(1, 0x3000, 1, 0x2000, RW);
	expect_lookup(1, 0x3000, PG(0), RW);
	ok();

	/* backwards: page 2's flush of 1:0x2000 takes the 1:0x1000 that page 1 set */
	assert_int_equal(flush(1, 0x1000, 3), 3);
	map(0, PG(0), 1, 0x1000, 3, RWX);
	assert_int_equal(map(1, 0x2000, 1, 0x1000, 2, RWX), 2);
	expect_none(1, 0x1000);           /* set by page 1, flushed by page 2 */
	holds(1, 0x2000, 1, 0x3000, RWX); /* page 2 */
	holds(1, 0x3000, 0, PG(2), RWX);  /* untouched */
	expect_lookup(1, 0x2000, PG(2), RWX);
	ok();
}

/* map and grant with one source page unmapped, or a space missing, fail and change nothing. */
static void test_invalid_source(void **state)
{
	struct snap s;
	uint64_t done = 7;

	(void)state;
	map(0, PG(0), 1, 0x1000, 3, RWX);
	flush(1, 0x2000, 1);
	map(1, 0x1000, 2, 0x9000, 1, RWX);
	snap_take(&s);
	assert_ptr_equal(model_map(&M, 1, 0x1000, 2, 0x8000, 3, RWX, &done), model_err_invalid);
	assert_int_equal(done, 0);
	assert_unchanged(&s);
	assert_ptr_equal(model_grant(&M, 1, 0x1000, 3, 0x8000, 3, RWX, &done), model_err_invalid);
	assert_unchanged(&s);
	assert_ptr_equal(model_map(&M, 1, 0x2000, 2, 0x9000, 1, RWX, NULL), model_err_invalid);
	assert_unchanged(&s);
	assert_ptr_equal(model_map(&M, 1, 0x1000, 5, 0x1000, 1, RWX, &done), model_err_nospace);
	assert_ptr_equal(model_grant(&M, 6, 0x1000, 1, 0x1000, 1, RWX, &done), model_err_nospace);
	assert_ptr_equal(model_map(&M, NSPACES, 0, 1, 0x1000, 1, RWX, &done), model_err_nospace);
	assert_ptr_equal(model_unmap(&M, 5, 0x1000, 1, &done), model_err_nospace);
	assert_ptr_equal(model_flush(&M, 5, 0x1000, 1, &done), model_err_nospace);
	assert_ptr_equal(model_protect(&M, 5, 0x1000, 1, R, &done), model_err_nospace);
	assert_unchanged(&s);
	snap_free(&s);
	ok();
}

/* The done counts of map, grant, unmap, flush and protect; pages holding nothing are no error. */
static void test_done_counts(void **state)
{
	(void)state;
	assert_int_equal(map(0, PG(0), 1, 0x10000, 4, RWX), 4);
	assert_int_equal(map(1, 0x10000, 2, 0x10000, 4, RX), 4);
	assert_int_equal(map(2, 0x10000, 3, 0x10000, 2, RWX), 2);
	assert_int_equal(unmap(1, 0x10000, 8), 6);
	assert_int_equal(unmap(1, 0x10000, 8), 0);
	assert_int_equal(unmap(3, 0x50000, 8), 0);
	assert_int_equal(map(1, 0x10000, 2, 0x10000, 4, RWX), 4);
	assert_int_equal(protect(1, 0x10000, 4, R), 8);
	assert_int_equal(protect(1, 0x10000, 4, R), 0);
	assert_int_equal(protect(3, 0x10000, 4, R), 0);
	assert_int_equal(flush(1, 0x0f000, 6), 8);
	assert_int_equal(flush(1, 0x0f000, 6), 0);
	assert_int_equal(total_pages(), NBOOT);
	/* grant counts pages set; what it removes is not counted */
	map(0, PG(10), 1, 0x1000, 2, RWX);
	map(1, 0x1000, 2, 0x1000, 2, RWX);
	assert_int_equal(grant(1, 0x1000, 3, 0x1000, 2, RWX), 2);
	assert_int_equal(total_pages(), NBOOT + 2);
	ok();
}

/* ---- spaces and reset ------------------------------------------------------------------ */

/* Deleting a space flushes all it maps and what derives from it; the refusals of spaces. */
static void test_space_delete(void **state)
{
	(void)state;
	map(0, PG(0), 1, 0x1000, 8, RWX);
	map(1, 0x1000, 2, 0x1000, 8, RWX);
	map(2, 0x1000, 3, 0x1000, 4, RWX);
	map(0, PG(20), 2, 0x20000, 2, RWX);
	map(2, 0x20000, 3, 0x20000, 2, RWX);
	assert_null(model_space_delete(&M, 1));
	assert_false(model_space_exists(&M, 1));
	assert_int_equal(model_pages(&M, 1), 0);
	assert_int_equal(model_pages(&M, 2), 2);
	assert_int_equal(model_pages(&M, 3), 2);
	holds(3, 0x20000, 2, 0x20000, RWX);
	expect_none(2, 0x1000);
	assert_int_equal(model_pages(&M, 0), NBOOT);
	ok();
	assert_ptr_equal(model_space_delete(&M, 1), model_err_nospace);
	assert_ptr_equal(model_space_delete(&M, 0), model_err_nospace);
	assert_ptr_equal(model_space_delete(&M, NSPACES), model_err_nospace);
	assert_ptr_equal(model_space_create(&M, 2), model_err_exists);
	assert_ptr_equal(model_space_create(&M, 0), model_err_exists);
	assert_ptr_equal(model_space_create(&M, NSPACES), model_err_nospace);
	assert_ptr_equal(model_map(&M, 0, PG(0), 1, 0x1000, 1, RWX, NULL), model_err_nospace);
	/* created again, it is empty */
	assert_null(model_space_create(&M, 1));
	assert_int_equal(model_pages(&M, 1), 0);
	expect_none(1, 0x1000);
	ok();
}

/* reset leaves sigma0 exactly its boot frames (moved ones back, others gone) and no other space. */
static void test_reset(void **state)
{
	struct snap boot;

	(void)state;
	assert_null(model_space_delete(&M, 1));
	assert_null(model_space_delete(&M, 2));
	assert_null(model_space_delete(&M, 3));
	snap_take(&boot);
	assert_null(model_space_create(&M, 5));
	grant(0, PG(0), 5, 0x1000, 4, RWX);  /* frames leave sigma0 */
	map(5, 0x1000, 0, 0x7000000, 2, RW); /* sigma0 maps a page it did not boot with */
	map(0, PG(9), 5, 0x9000, 1, RWX);
	protect(0, PG(9), 1, R);
	flush(0, PG(30), 3);
	ok();
	assert_null(model_reset(&M));
	assert_unchanged(&boot);
	for (uint32_t n = 1; n < NSPACES; n++)
		assert_false(model_space_exists(&M, n));
	ok();
	assert_null(model_reset(&M));
	assert_unchanged(&boot);
	snap_free(&boot);
}

/* ---- model_check over states built with model_set -------------------------------------- */

static void check_says(err_t want, const char *where)
{
	char got[48];

	assert_ptr_equal(model_check(&M, got, sizeof(got)), want);
	if (where)
		assert_string_equal(got, where);
}

/* model_check finds loops (two mappings, or one on itself) before anything else. */
static void test_check_loop(void **state)
{
	char where[48];

	(void)state;
	set(1, 0x1000, 2, 0x2000, R);
	set(2, 0x2000, 1, 0x1000, R);
	assert_ptr_equal(model_check(&M, where, sizeof(where)), model_err_loop);
	assert_true(strcmp(where, "1:0x1000") == 0 || strcmp(where, "2:0x2000") == 0);
	assert_false(model_lookup(&M, 1, 0x1000, NULL, NULL));
	/* a mapping leading into the loop, and one whose source is missing, change nothing */
	set(3, 0x3000, 1, 0x1000, R);
	set(3, 0x4000, 3, 0x5000, R);
	assert_ptr_equal(model_check(&M, where, sizeof(where)), model_err_loop);
	assert_true(strcmp(where, "1:0x1000") == 0 || strcmp(where, "2:0x2000") == 0);
	/* broken, the loop is gone; a self-loop is one too */
	assert_null(model_set(&M, 2, 0x2000, NULL));
	assert_null(model_set(&M, 3, 0x4000, NULL));
	check_says(model_err_noreal, "1:0x1000");
	set(2, 0x2000, 2, 0x2000, R);
	set(1, 0x1000, 0, PG(0), R);
	check_says(model_err_loop, "2:0x2000");
	set(2, 0x2000, 0, PG(1), R);
	check_says(NULL, "");
	/* operations on the loop end */
	set(2, 0x2000, 2, 0x2000, R);
	assert_int_equal(unmap(2, 0x2000, 1), 0);
	protect(2, 0x2000, 1, R);
	flush(2, 0x2000, 1);
	assert_null(model_set(&M, 2, 0x2000, NULL));
	check_says(NULL, "");
}

/* model_check finds a mapping whose source is missing or in no space; set later, it holds. */
static void test_check_noreal(void **state)
{
	(void)state;
	set(2, 0x2000, 1, 0x1000, RWX);
	check_says(model_err_noreal, "2:0x2000");
	set(1, 0x1000, MODEL_REAL, PG(3), RWX);
	check_says(NULL, "");
	expect_lookup(2, 0x2000, PG(3), RWX);
	assert_null(model_set(&M, 1, 0x1000, NULL));
	check_says(model_err_noreal, "2:0x2000");
	set(1, 0x1000, 0, PG(3), RWX);
	check_says(NULL, "");
	set(3, 0x3000, 5, 0x5000, R);
	check_says(model_err_noreal, "3:0x3000");
	set(3, 0x3000, NSPACES + 3, 0x5000, R);
	check_says(model_err_noreal, "3:0x3000");
	assert_null(model_set(&M, 3, 0x3000, NULL));
	check_says(NULL, "");
	assert_ptr_equal(model_set(&M, 5, 0x5000, NULL), model_err_nospace);
	assert_ptr_equal(model_set(&M, NSPACES, 0x5000, NULL), model_err_nospace);
}

/* model_check finds rights without r or beyond rwx (3) and rights beyond the source (4). */
static void test_check_rights(void **state)
{
	(void)state;
	set(0, PG(0), MODEL_REAL, PG(0), RX);
	set(1, 0x1000, 0, PG(0), RX);
	check_says(NULL, "");
	set(1, 0x1000, 0, PG(0), RW);
	check_says(model_err_rights, "1:0x1000");
	set(1, 0x1000, 0, PG(0), RIGHTS_X);
	check_says(model_err_notfn, "1:0x1000");
	set(1, 0x1000, 0, PG(0), R | 8);
	check_says(model_err_notfn, "1:0x1000");
	set(1, 0x1000, 0, PG(0), 0x104);
	check_says(model_err_notfn, "1:0x1000");
	set(0, PG(2), MODEL_REAL, PG(2), 2);
	set(1, 0x1000, 0, PG(0), R);
	check_says(model_err_notfn, "0:0x102000");
	set(0, PG(2), MODEL_REAL, PG(2), RWX);
	check_says(NULL, "");
	/* where is cut to fit, and may be NULL */
	char small[4];
	set(1, 0x1000, 0, PG(0), RWX);
	assert_ptr_equal(model_check(&M, small, sizeof(small)), model_err_rights);
	assert_string_equal(small, "1:0");
	assert_ptr_equal(model_check(&M, NULL, 0), model_err_rights);
}

/* model_set builds the same state in any order, and replaces a mapping leaving its subtree. */
static void test_set_any_order(void **state)
{
	struct snap s;

	(void)state;
	tree();
	snap_take(&s);
	assert_null(model_reset(&M));
	for (uint32_t n = 1; n <= 3; n++)
		assert_null(model_space_create(&M, n));
	for (size_t i = s.len; i-- > 0;)
		set(s.r[i].n, s.r[i].v, s.r[i].src_space, s.r[i].src, s.r[i].rights);
	assert_unchanged(&s);
	ok();
	expect_lookup(3, 0xc000, PG(5), RWX);
	/* replacing 1:a's mapping keeps its subtree under it */
	set(1, 0xa000, 0, PG(6), RX);
	expect_lookup(3, 0xc000, PG(6), RWX);
	assert_ptr_equal(model_check(&M, NULL, 0), model_err_rights);
	assert_int_equal(unmap(1, 0xa000, 1), 3);
	ok();
	snap_free(&s);
}

/* ---- memory ---------------------------------------------------------------------------- */

/* Fill the table to its limit (with mappings in space 3), so that the next entry added
 * must grow it. */
static void fill(void)
{
	static uint64_t next = 0x1000000000;
	size_t room;

	/* a new entry may take a deleted slot, so until the count says so */
	while ((room = M.cap - M.cap / 4 - M.used - M.dead) > 0) {
		if (room >= 2) /* model_set asks room for a head as well */
			set(3, next, MODEL_REAL, next, RWX);
		else
			map(0, PG(NBOOT - 1), 3, next, 1, RWX);
		next += PAGE_SIZE;
	}
}

/* The operations that allocate, each on a full table. */
static err_t nomem_op(int op)
{
	const struct model_map mp = {.src_space = 0, .src = PG(9), .rights = R};

	switch (op) {
	case 0:
		return model_map(&M, 0, PG(0), 1, 0x1000, 4, RX, NULL);
	case 1:
		return model_grant(&M, 1, 0x1000, 2, 0x1000, 2, R, NULL);
	case 2:
		return model_set(&M, 1, 0x50000, &mp);
	case 3:
		return model_sigma0(&M, 0x2000000, 3);
	case 4:
		return model_check(&M, NULL, 0);
	case 5:
		return model_sigma0(&M, 0x3000000, 1); /* the boot list grows too */
	default:
		return model_reset(&M);
	}
}

/* Each allocating call, failed at its 1st, 2nd, ... allocation, changes and leaks nothing. */
static void test_nomem(void **state)
{
	struct snap s;
	unsigned long n;
	err_t e;

	(void)state;
	const size_t held = door.blocks;
	for (n = 1;; n++) {
		struct model m2;
		fail_nth(n);
		e = model_init(&m2, &mem, NSPACES);
		if (!e) {
			model_destroy(&m2);
			break;
		}
		assert_ptr_equal(e, model_err_nomem);
		assert_int_equal(door.blocks, held);
	}
	assert_int_equal(n, 3); /* two arrays */

	for (int op = 0; op <= 6; op++) {
		door.fail_at = 0;
		if (op == 5) /* the next sigma0 range needs a longer boot list */
			while (M.nboot < M.boot_cap)
				assert_null(model_sigma0(&M, 0x4000000 + M.nboot * PAGE_SIZE, 1));
		if (op != 4 && op != 6)
			fill();
		door.failures = 0;
		for (n = 1;; n++) {
			const size_t blocks = door.blocks;
			snap_take(&s);
			fail_nth(n);
			e = nomem_op(op);
			if (!e)
				break;
			assert_ptr_equal(e, model_err_nomem);
			assert_unchanged(&s);
			assert_int_equal(door.blocks, blocks);
			snap_free(&s);
		}
		snap_free(&s);
		assert_int_equal(door.failures, op == 5 ? 2 : 1);
		door.fail_at = 0;
		ok();
		if (op == 1)
			holds(2, 0x1000, 0, PG(0), R);
	}
	/* reset kept every sigma0 range, the ones added last too */
	holds(0, 0x2000000, MODEL_REAL, 0x2000000, RWX);
	holds(0, 0x3000000, MODEL_REAL, 0x3000000, RWX);
	assert_false(model_space_exists(&M, 1));
}

/* ---- scale ------------------------------------------------------------------------------ */

/* Big regions, a long chain, a big tree, many siblings: each costs what it touches. */
static void test_scale(void **state)
{
	const uint64_t big = (uint64_t)1 << 17, hi = 0x100000000;
	uint64_t pa;
	unsigned r;

	(void)state;
	assert_null(model_sigma0(&M, hi, big));
	assert_int_equal(map(0, hi, 1, 0x10000000, big, RWX), big);
	assert_int_equal(map(1, 0x10000000, 2, 0x20000000, big, RX), big);
	assert_int_equal(map(2, 0x20000000, 3, 0x30000000, big, R), big);
	ok();
	assert_int_equal(protect(1, 0x10000000, big, R), 2 * big);
	assert_int_equal(flush(0, hi, big), 4 * big);
	assert_int_equal(total_pages(), NBOOT);

	/* a chain 1:0x1000 -> 1:0x2000 -> ... through one space */
	const uint64_t chain = 20000;
	map(0, PG(0), 1, 0x1000, 1, RWX);
	for (uint64_t i = 1; i < chain; i++)
		assert_int_equal(map(1, i * PAGE_SIZE, 1, (i + 1) * PAGE_SIZE, 1, RWX), 1);
	assert_true(model_lookup(&M, 1, chain * PAGE_SIZE, &pa, &r));
	assert_int_equal(pa, PG(0));
	ok();
	assert_int_equal(unmap(1, 0x1000, 1), chain - 1);
	assert_int_equal(flush(0, PG(0), 1), 2);

	/* a binary tree of 2^13 - 1 mappings over spaces 1 to 3, node i under node i / 2 */
	const uint64_t nodes = ((uint64_t)1 << 13) - 1;
	map(0, PG(2), 2, 0x1000, 1, RWX); /* node 1 */
	for (uint64_t i = 2; i <= nodes; i++)
		map(1 + (i / 2) % 3, (i / 2) * PAGE_SIZE, 1 + i % 3, i * PAGE_SIZE, 1, RWX);
	assert_int_equal(total_pages(), NBOOT - 1 + nodes);
	assert_true(model_lookup(&M, 1 + nodes % 3, nodes * PAGE_SIZE, &pa, &r));
	assert_int_equal(pa, PG(2));
	ok();
	assert_int_equal(protect(2, 0x1000, 1, RX), nodes);
	assert_int_equal(unmap(2, 0x1000, 1), nodes - 1);
	assert_int_equal(flush(2, 0x1000, 1), 1);
	ok();

	/* one page, many siblings */
	const uint64_t wide = 50000;
	for (uint64_t i = 0; i < wide; i++)
		map(0, PG(1), 2, 0x40000000 + i * PAGE_SIZE, 1, RWX);
	ok();
	for (uint64_t i = 0; i < wide; i += 2)
		assert_int_equal(flush(2, 0x40000000 + i * PAGE_SIZE, 1), 1);
	assert_int_equal(model_pages(&M, 2), wide / 2);
	ok();
	assert_int_equal(unmap(0, PG(1), 1), wide / 2);
	assert_int_equal(total_pages(), NBOOT - 1);
	ok();
}

/* ---- a randomized run against a brute-force reference ------------------------------------ */

/*
 * The reference: a flat array over RS spaces and RP pages (page p of every space is
 * PG(p); sigma0's frame p is PG(p)), each operation written over it as SPEC section 1
 * reads, with whole scans where the model follows lists.
 */
#define RS 8
#define RP 64

struct cell {
	bool valid;
	uint32_t sn; /* source space, or MODEL_REAL */
	uint32_t sp; /* source page, or frame */
	unsigned rights;
};

static struct {
	struct cell c[RS][RP];
	bool exists[RS];
	unsigned char memo[RS][RP]; /* derives(): 0 unknown, 1 yes, 2 no */
} ref;

static void ref_boot(void)
{
	memset(&ref, 0, sizeof(ref));
	ref.exists[0] = true;
	for (uint32_t p = 0; p < RP; p++)
		ref.c[0][p] = (struct cell){true, MODEL_REAL, p, RWX};
}

/* Does n:p derive from xn:xp by one or more links? (memo cleared per x) */
static bool derives(uint32_t n, uint32_t p, uint32_t xn, uint32_t xp)
{
	uint32_t pn[RS * RP], pp[RS * RP];
	size_t k = 0;
	bool yes;

	for (;;) {
		const struct cell *c = &ref.c[n][p];
		assert_true(c->valid);
		if (ref.memo[n][p]) {
			yes = ref.memo[n][p] == 1;
			break;
		}
		assert_true(k < RS * RP);
		pn[k] = n;
		pp[k++] = p;
		if (c->sn == MODEL_REAL) {
			yes = false;
			break;
		}
		if (c->sn == xn && c->sp == xp) {
			yes = true;
			break;
		}
		n = c->sn;
		p = c->sp;
	}
	while (k--)
		ref.memo[pn[k]][pp[k]] = yes ? 1 : 2;
	return yes;
}

static uint64_t ref_unmap(uint32_t n, uint32_t p)
{
	bool gone[RS][RP] = {{false}};
	uint64_t count = 0;

	if (!ref.c[n][p].valid)
		return 0;
	memset(ref.memo, 0, sizeof(ref.memo));
	for (uint32_t a = 0; a < RS; a++)
		for (uint32_t b = 0; b < RP; b++)
			if (ref.c[a][b].valid && derives(a, b, n, p))
				gone[a][b] = true;
	for (uint32_t a = 0; a < RS; a++)
		for (uint32_t b = 0; b < RP; b++)
			if (gone[a][b]) {
				ref.c[a][b].valid = false;
				count++;
			}
	return count;
}

static uint64_t ref_flush(uint32_t n, uint32_t p)
{
	if (!ref.c[n][p].valid)
		return 0;
	const uint64_t count = ref_unmap(n, p);
	ref.c[n][p].valid = false;
	return count + 1;
}

static bool ref_map(uint32_t n, uint32_t p, uint32_t n2, uint32_t p2, unsigned rights)
{
	if (!ref.c[n][p].valid)
		return false;
	ref_flush(n2, p2);
	if (!ref.c[n][p].valid)
		return false;
	ref.c[n2][p2] = (struct cell){true, n, p, ref.c[n][p].rights & rights};
	return true;
}

static bool ref_grant(uint32_t n, uint32_t p, uint32_t n2, uint32_t p2, unsigned rights)
{
	bool set = false;

	if (!ref.c[n][p].valid)
		return false;
	const struct cell m = ref.c[n][p];
	ref_flush(n2, p2);
	if (ref.c[n][p].valid) {
		ref.c[n2][p2] = (struct cell){true, m.sn, m.sp, m.rights & rights};
		set = true;
	}
	ref_flush(n, p);
	return set;
}

static uint64_t ref_protect(uint32_t n, uint32_t p, unsigned rights)
{
	uint64_t count = 0;

	if (!ref.c[n][p].valid)
		return 0;
	memset(ref.memo, 0, sizeof(ref.memo));
	for (uint32_t a = 0; a < RS; a++)
		for (uint32_t b = 0; b < RP; b++) {
			struct cell *c = &ref.c[a][b];
			if (c->valid && ((a == n && b == p) || derives(a, b, n, p)) &&
			    (c->rights & rights) != c->rights) {
				c->rights &= rights;
				count++;
			}
		}
	return count;
}

/* The model holds exactly the reference, and lookups agree. */
static void ref_compare(bool lookups)
{
	uint64_t total = 0;

	for (uint32_t n = 0; n < RS; n++) {
		uint64_t pages = 0;
		assert_int_equal(model_space_exists(&M, n), ref.exists[n]);
		for (uint32_t p = 0; p < RP; p++) {
			const struct cell *c = &ref.c[n][p];
			struct model_map mp;
			const bool got = model_get(&M, n, PG(p), &mp);
			assert_int_equal(got, c->valid);
			if (!got)
				continue;
			pages++;
			assert_int_equal(mp.src_space, c->sn);
			assert_int_equal(mp.src, PG(c->sp));
			assert_int_equal(mp.rights, c->rights);
			if (!lookups)
				continue;
			const struct cell *d = c;
			while (d->sn != MODEL_REAL)
				d = &ref.c[d->sn][d->sp];
			expect_lookup(n, PG(p), PG(d->sp), c->rights);
		}
		assert_int_equal(model_pages(&M, n), pages);
		total += pages;
	}
	assert_int_equal(total_pages(), total);
}

static uint32_t rnd(uint32_t n)
{
	return (uint32_t)rand() % n;
}

/* A random existing space, now and then one that does not exist. */
static uint32_t rnd_space(void)
{
	for (;;) {
		const uint32_t n = rnd(RS);
		if (ref.exists[n] || rnd(20) == 0)
			return n;
	}
}

static void random_run(unsigned seed, unsigned long ops, unsigned fail_percent)
{
	uint64_t done;
	err_t e, want;

	srand(seed);
	model_destroy(&M);
	assert_null(model_init(&M, &mem, RS));
	assert_null(model_sigma0(&M, BASE, RP));
	ref_boot();
	door.fail_percent = fail_percent;
	for (unsigned long i = 0; i < ops; i++) {
		const uint32_t op = rnd(1000), pages = 1 + (rnd(4) == 0 ? rnd(8) : 0);
		const uint32_t p2 = rnd(RP - pages + 1);
		const unsigned rights = (const unsigned[]){R, RW, RX, RWX}[rnd(4)];
		uint64_t count = 0;
		uint32_t n = rnd_space(), p = rnd(RP - pages + 1), n2 = rnd_space();

		/* sigma0 as a target seldom: each map onto it loses a frame till reset */
		for (int tries = 0; n2 == 0 && tries < 4; tries++)
			n2 = rnd_space();

		/* mostly a source region that holds mappings, so that most commands act; sigma0
		 * seldom for grant, unmap and flush, so that its frames last between resets */
		const bool harms_sigma0 = op >= 500 && op < 760;
		for (int tries = 0; op < 940 && tries < 32 && rnd(16); tries++) {
			uint32_t k = 0;
			while (n < RS && k < pages && ref.c[n][p + k].valid)
				k++;
			if (k == pages && (n != 0 || !harms_sigma0 || rnd(8) == 0))
				break;
			n = rnd_space();
			p = rnd(RP - pages + 1);
		}

		done = 0;
		if (op < 580) { /* map 50%, grant 8% */
			const bool is_map = op < 500;
			want = NULL;
			if (!ref.exists[n] || !ref.exists[n2])
				want = model_err_nospace;
			for (uint32_t k = 0; !want && k < pages; k++)
				if (!ref.c[n][p + k].valid)
					want = model_err_invalid;
			e = is_map ? model_map(&M, n, PG(p), n2, PG(p2), pages, rights, &done)
			           : model_grant(&M, n, PG(p), n2, PG(p2), pages, rights, &done);
			if (e != model_err_nomem || want)
				assert_ptr_equal(e, want);
			for (uint32_t k = 0; !e && k < pages; k++)
				count += is_map ? ref_map(n, p + k, n2, p2 + k, rights)
				                : ref_grant(n, p + k, n2, p2 + k, rights);
		} else if (op < 940) { /* unmap 10%, flush 8%, protect 18% */
			want = ref.exists[n] ? NULL : model_err_nospace;
			if (op < 680)
				e = model_unmap(&M, n, PG(p), pages, &done);
			else if (op < 760)
				e = model_flush(&M, n, PG(p), pages, &done);
			else
				e = model_protect(&M, n, PG(p), pages, rights, &done);
			assert_ptr_equal(e, want);
			for (uint32_t k = 0; !want && k < pages; k++)
				count += op < 680   ? ref_unmap(n, p + k)
				         : op < 760 ? ref_flush(n, p + k)
				                    : ref_protect(n, p + k, rights);
		} else if (op < 994) { /* space create 5.4% (most exist), delete 0.5%, reset 0.1% */
			n = rnd(RS + 1);
			e = model_space_create(&M, n);
			assert_ptr_equal(e, n == RS         ? model_err_nospace
			                    : ref.exists[n] ? model_err_exists
			                                    : NULL);
			if (n < RS)
				ref.exists[n] = true;
		} else if (op < 999) {
			e = model_space_delete(&M, n);
			assert_ptr_equal(e, n && ref.exists[n] ? NULL : model_err_nospace);
			if (!e) {
				for (uint32_t k = 0; k < RP; k++)
					ref_flush(n, k);
				ref.exists[n] = false;
			}
		} else {
			e = model_reset(&M);
			if (e != model_err_nomem) {
				assert_null(e);
				ref_boot();
			}
		}
		assert_int_equal(done, count);
		ref_compare(i % 16 == 0);
		e = model_check(&M, NULL, 0);
		if (e != model_err_nomem)
			assert_null(e);
	}
	door.fail_percent = 0;
	ref_compare(true);
	ok();
}

/* 10^5 random commands over 8 spaces x 64 pages held against the reference, checked after each. */
static void test_random(void **state)
{
	(void)state;
	random_run(1, 100000, 0);
}

/* The same with a tenth of allocations failing: a failed command changes nothing. */
static void test_random_nomem(void **state)
{
	(void)state;
	random_run(2, 30000, 10);
	assert_true(door.failures > 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_boot_state),     T(test_chain),         T(test_unmap_subtree),
	    T(test_flush_subtree),  T(test_grant_moves),   T(test_grant_back_no_loop),
	    T(test_onto_itself),    T(test_rights_shrink), T(test_region_order),
	    T(test_invalid_source), T(test_done_counts),   T(test_space_delete),
	    T(test_reset),          T(test_check_loop),    T(test_check_noreal),
	    T(test_check_rights),   T(test_set_any_order), T(test_nomem),
	    T(test_scale),          T(test_random),        T(test_random_nomem),
	};

	/* MODEL_TEST=test_scale runs the tests whose name matches (cmocka's filter) */
	if (getenv("MODEL_TEST"))
		cmocka_set_test_filter(getenv("MODEL_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
