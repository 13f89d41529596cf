/*
 * Unit tests of check (monitor/check.c) on the hosted platform: it passes in
 * every state the spaces layer can reach, the pool exhausted included (it
 * takes no memory), and it names the invariant of SPEC section 1 that a
 * corrupted state breaks: the state is corrupted behind the layer's back
 * (a raw page-table entry rewritten, a node's links or rights changed, a
 * frame taken from the allocator unseen), check must say which invariant
 * fails and where, then the corruption is undone and check passes again.
 *
 * One machine: 96 MiB of simulated RAM, frames 0 to 4 memmon's (frames 1
 * to 4 the reserved pieces), a pool of 8192 frames. Each test boots afresh
 * and ends with every frame back in the allocator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "host.h"
#include "mdb.h"
#include "platform.h"
#include "pt.h"
#include "rights.h"
#include "space.h"

#include "unit.h"

#define KB4 PAGE_SIZE
#define MIB ((uint64_t)1 << 20)
#define MB2 ((uint64_t)1 << 21)
#define R   RIGHTS_R
#define RW  RIGHTS_RW
#define RWX RIGHTS_RWX

static const struct frame_range ranges[] = {
    {0, 5, FRAME_MONITOR}, /* frame 0, and the reserved pieces' frames */
    {5 * KB4, 96 * MIB / KB4 - 5, FRAME_FREE},
};

static struct {
	struct frame_stats init;
	uint64_t m2;  /* a 2M root of sigma0 mapped by one 2M entry */
	uint64_t src; /* another 2M root of sigma0: pages to map from */
} fx;

static int setup(void **state)
{
	const struct space_extent *ext;

	(void)state;
	host_ram(96 * MIB);
	assert_null(frame_init(ranges, ARRAY_SIZE(ranges)));
	frame_stats(&fx.init);
	host_rsv_base = KB4;
	assert_null(space_boot(8192, true));
	fx.m2 = fx.src = 0;
	const size_t n = space_extents(&ext);
	for (size_t i = 0; i < n; i++)
		for (uint64_t a = (ext[i].base + MB2 - 1) & ~(MB2 - 1);
		     a + MB2 <= ext[i].base + ext[i].pages * KB4; a += MB2) {
			const mdb_id x = space_node(0, a);
			struct pt_hit h;
			if (!x || mdb_level(mdb_at(x)) != 1 ||
			    !pt_lookup(space_pt(0), va_init(a), &h) || h.level != 1)
				continue;
			if (!fx.m2)
				fx.m2 = a;
			else if (!fx.src)
				fx.src = a;
		}
	assert_true(fx.m2 && fx.src);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	space_shutdown();
	host_rsv_base = 0;
	assert_frames_back(&fx.init);
	return 0;
}

/* check passes. */
static void expect_ok(void)
{
	char why[256];
	struct space_check sum;
	err_t e = space_check(0, why, sizeof(why), &sum);

	if (e)
		fail_msg("check: %s: %s", e, why);
}

/* check fails, naming what `want` starts with. */
static void expect_fail(uint64_t own_tables, const char *want)
{
	char why[256];
	struct space_check sum;
	err_t e = space_check(own_tables, why, sizeof(why), &sum);

	if (e != space_check_failed || strncmp(why, want, strlen(want)))
		fail_msg("check: %s: \"%s\", want \"%s...\"", e ? e : "ok", why, want);
	print_message("  check: FAIL %s\n", why);
}

static unsigned new_space(void)
{
	unsigned n;

	assert_null(space_new(&n));
	return n;
}

static void map(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len, unsigned rights)
{
	struct space_result r;

	assert_null(space_map(n, v, n2, v2, len, rights, &r));
	assert_int_equal(r.pages, len / KB4);
}

/* The leaf entry translating n:v, and its level. */
static pte_t *leaf(unsigned n, uint64_t v, unsigned *level)
{
	struct pt_walk w;

	pt_walk(space_pt(n), va_init(v), &w);
	assert_true(w.depth > 0);
	const unsigned d = w.depth - 1;
	assert_int_equal(w.step[d].kind, PTE_LEAF);
	*level = PT_LEVELS - 1 - d;
	return (pte_t *)plat_pa_to_ptr(w.step[d].table) + w.step[d].index;
}

/* ---- check passes ------------------------------------------------------------------- */

/* With the pool driven to exhaustion (maps until the pool refuses, then
 * every free frame taken), check still runs and passes: it takes nothing. */
static void test_pool_exhausted(void **state)
{
	struct frame_stats fs;
	struct space_result r;
	uint64_t v = KB4, maps = 0;
	paddr_t taken[8192];
	size_t ntaken = 0;

	(void)state;
	const unsigned n = new_space();
	/* 4K off 2M: every page a 4K node and a 4K entry, in both spaces */
	for (;; maps++) {
		const err_t e = space_map(0, fx.src, n, v, MB2, RW, &r);
		if (e) {
			assert_ptr_equal(e, space_err_nomem);
			break;
		}
		v += MB2 + KB4;
	}
	assert_true(maps > 0);
	expect_ok();
	while (!kalloc(FRAME_CONSOLE, &taken[ntaken]))
		assert_true(++ntaken < ARRAY_SIZE(taken));
	frame_stats(&fs);
	assert_int_equal(fs.free, 0);
	expect_ok();
	print_message("  %llu maps of 2M, then 0x%zx frames taken: check passes with 0 free\n",
	              (unsigned long long)maps, ntaken);
	while (ntaken)
		assert_null(kfree(taken[--ntaken], FRAME_CONSOLE));
	expect_ok();
}

/* ---- each invariant broken ------------------------------------------------------------ */

/* 1: two mappings that derive from each other (a parent link turned back). */
static void test_loop(void **state)
{
	(void)state;
	const unsigned n1 = new_space(), n2 = new_space();
	map(0, fx.src, n1, 0x10000, KB4, RWX);
	map(n1, 0x10000, n2, 0x20000, KB4, RWX);
	const mdb_id root = space_node(0, fx.src), x = space_node(n1, 0x10000),
	             y = space_node(n2, 0x20000);
	assert_int_equal(mdb_at(x)->parent, root);
	assert_int_equal(mdb_at(y)->parent, x);
	mdb_unlink(x);
	mdb_link(y, x); /* x derives from y, which derives from x */
	expect_fail(0, "1 (no loops) at ");
	mdb_unlink(x);
	mdb_link(root, x);
	expect_ok();
}

/* 2: a root whose frame is gone from its space's tables reaches no Real
 * frame, nor does anything derived from it. */
static void test_no_real(void **state)
{
	unsigned level;
	char want[64];

	(void)state;
	const unsigned n = new_space();
	map(0, fx.m2, n, 0x400000, MB2, RWX);
	pte_t *e = leaf(0, fx.m2, &level);
	assert_int_equal(level, 1);
	const pte_t old = *e;
	*e = 0;
	snprintf(want, sizeof(want), "2 (every mapping reaches Real) at 0:0x%llx",
	         (unsigned long long)fx.m2);
	expect_fail(0, want);
	*e = old;
	expect_ok();
}

/* 3: one page of a space in two mappings (a 2M node over a 4K one). */
static void test_two_mappings(void **state)
{
	(void)state;
	const unsigned n = new_space();
	map(0, fx.src, n, 0x200000, KB4, RWX);
	assert_null(mdb_reserve(1));
	const mdb_id y = mdb_new(n, 0x200000, 1, RWX);
	expect_fail(0, "3 (lookup is a function) at ");
	mdb_free(y);
	expect_ok();
}

/* 4: a derived mapping with more rights than its source, r (the node
 * only: the tables still say r). */
static void test_rights_widened(void **state)
{
	char want[64];

	(void)state;
	const unsigned n1 = new_space(), n = new_space();
	map(0, fx.src, n1, 0x7000, KB4, R);
	map(n1, 0x7000, n, 0x7000, KB4, R);
	const mdb_id x = space_node(n, 0x7000);
	mdb_set_rights(x, RW);
	snprintf(want, sizeof(want), "4 (rights within the source's) at %u:0x7000", n);
	expect_fail(0, want);
	mdb_set_rights(x, R);
	expect_ok();
}

/* 5: raw entries changed: another frame, more rights, no user bit, an
 * entry the model does not hold, a reserved page moved. */
static void test_raw_entry(void **state)
{
	unsigned level;
	char want[96];

	(void)state;
	const unsigned n = new_space();
	map(0, fx.src, n, 0x7000, 2 * KB4, R);
	pte_t *e = leaf(n, 0x7000, &level);
	const pte_t old = *e;
	const pt_attr_t a = pte_attr(old, level);
	assert_int_equal(level, 0);

	*e = pte_leaf(0, pte_frame(old, 0) + 2 * KB4, a);
	snprintf(want, sizeof(want), "5 (refinement): %u:0x7000: the tables say 0x%llx", n,
	         (unsigned long long)(fx.src + 2 * KB4));
	expect_fail(0, want);
	*e = pte_leaf(0, pte_frame(old, 0), a | PT_W);
	expect_fail(0, "5 (refinement): ");
	*e = pte_leaf(0, pte_frame(old, 0), a & ~PT_USER);
	snprintf(want, sizeof(want), "5 (refinement): %u:0x7000 is a client page without the user",
	         n);
	expect_fail(0, want);
	*e = old;
	expect_ok();

	/* an entry next to them that no mapping holds */
	pte_t *after = e + 2;
	assert_int_equal(*after, 0);
	*after = pte_leaf(0, fx.src + 9 * KB4, a);
	snprintf(want, sizeof(want),
	         "5 (refinement): %u:0x9000 is in the tables, the model maps nothing there", n);
	expect_fail(0, want);
	*after = 0;
	expect_ok();

	/* a reserved page of the upper half mapping another frame */
	struct plat_rsv rsv[PLAT_RSV_MAX];
	assert_true(plat_reserved(rsv, PLAT_RSV_MAX) > 0);
	e = leaf(n, rsv[0].va, &level);
	const pte_t rold = *e;
	*e = pte_leaf(level, pte_frame(rold, level) + pt_level_size(level), pte_attr(rold, level));
	snprintf(want, sizeof(want), "5 (refinement): reserved page %u:0x%llx", n,
	         (unsigned long long)rsv[0].va);
	expect_fail(0, want);
	*e = rold;
	expect_ok();
}

/* 6: a root that maps, Real, a frame memmon keeps (frame 0's 2 MiB). */
static void test_isolation(void **state)
{
	unsigned level;
	char want[96];

	(void)state;
	pte_t *e = leaf(0, fx.m2, &level);
	const pte_t old = *e;
	*e = pte_leaf(1, 0, pte_attr(old, 1));
	snprintf(want, sizeof(want), "6 (isolation): 0:0x%llx maps frame 0x0 Real",
	         (unsigned long long)fx.m2);
	expect_fail(0, want);
	*e = old;
	expect_ok();
}

/* 7: a frame Real in two roots; counters that disagree with the state. */
static void test_accounting(void **state)
{
	paddr_t pa;

	(void)state;
	const unsigned n = new_space();
	map(0, fx.src, n, 0x7000, KB4, RWX);
	const mdb_id root = space_node(0, fx.src), x = space_node(n, 0x7000);
	mdb_unlink(x); /* x becomes a root of its own, of sigma0's frame */
	expect_fail(0, "7 (accounting): frame ");
	mdb_link(root, x);
	expect_ok();

	assert_null(kalloc(FRAME_PTABLE, &pa));
	expect_fail(0, "7 (accounting): the allocator counts ");
	assert_null(kfree(pa, FRAME_PTABLE));
	assert_null(kalloc(FRAME_MDB, &pa));
	expect_fail(0, "7 (accounting): the allocator counts ");
	assert_null(kfree(pa, FRAME_MDB));
	assert_null(frame_alloc(1, FRAME_CLIENT, &pa));
	expect_fail(0, "7 (accounting): clients hold ");
	assert_null(frame_free(pa, 1, FRAME_CLIENT));
	expect_fail(1, "7 (accounting): the allocator counts ");
	expect_ok();
}

/* The database's own structure: a node whose parent does not list it. */
static void test_lost_child(void **state)
{
	(void)state;
	const unsigned n = new_space();
	map(0, fx.src, n, 0x7000, KB4, RWX);
	const mdb_id root = space_node(0, fx.src), x = space_node(n, 0x7000);
	mdb_unlink(x);
	mdb_at(x)->parent = root;
	expect_fail(0, "database: ");
	mdb_at(x)->parent = MDB_NIL;
	mdb_link(root, x);
	expect_ok();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pool_exhausted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_real, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_mappings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rights_widened, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_raw_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accounting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_child, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
