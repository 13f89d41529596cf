/*
 * Unit tests of the spaces layer (monitor/space.c, mdb.c, check.c) on the
 * hosted platform.
 *
 * The oracle is the naive model of SPEC section 1 (monitor/model.c, its
 * memory from malloc), run in lockstep: every operation runs on both, and
 * then both must have said the same (error or success, and the pages
 * counted), and the pages the operation touched must look the same in
 * both, through the hardware tables (space_lookup: frame and rights) and
 * through the mapping database (what each page derives from). A full
 * comparison (every page of the model) and space_check run after each step
 * of the scenarios, every 1000 steps of the small random runs and every
 * 10000 of the big one.
 *
 * Two machines: a small one (96 MiB, sigma0 about 64 MiB) where a full
 * check is cheap, and a big one (3.5 GiB of simulated RAM: sigma0 holds the
 * two 1 GiB-aligned GiB at 1G and 2G, the pool 512 MiB above them) for the
 * 1 GiB cases. Frames 1 to 4 are memmon's reserved pieces (host_rsv_base),
 * mapped in every space. Each test boots afresh and ends with every frame
 * back in the allocator.
 *
 * Groups: the small machine (boot state, the paper's scenarios, bad input,
 * the pool, peek and poke, random runs), the big machine (boot state,
 * superpages, every allocation failed in turn, a random run), and what
 * commands need (memory for large regions and chains, time for chains).
 *
 * Environment:
 *   SPACE_OPS      operations of the small machine's random runs, split
 *                  over 4 seeds (default 1000000)
 *   SPACE_BIG_OPS  operations of the big machine's random run (default
 *                  100000)
 *   SPACE_SEED     the first seed (default 1)
 *   SPACE_FILTER, SPACE_SKIP  run or skip tests by name (cmocka's
 *                  patterns: * and ?), e.g. SPACE_SKIP='test_random*'
 *                  for the deterministic tests alone (about 40 s)
 *   SPACE_VERBOSE  progress of the random runs, and any step over 0.5 s
 * The whole binary takes about 90 s with the sanitizers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "host.h"
#include "mdb.h"
#include "model.h"
#include "platform.h"
#include "pt.h"
#include "space.h"

#include "unit.h"

#define KB4      PAGE_SIZE
#define MIB      ((uint64_t)1 << 20)
#define MB2      ((uint64_t)1 << 21)
#define GIB      ((uint64_t)1 << 30)
#define TOP      SPACE_USER_TOP
#define R        RIGHTS_R
#define RW       RIGHTS_RW
#define RX       RIGHTS_RX
#define RWX      RIGHTS_RWX
#define RSV_BASE KB4 /* frames 1 .. 4 */

/* ---- the machines ------------------------------------------------------------ */

struct machine {
	const char *name;
	uint64_t ram; /* bytes of simulated RAM from physical 0 */
	const struct frame_range *ranges;
	size_t nranges;
	uint64_t pool; /* frames space_boot keeps */
};

static const struct frame_range small_ranges[] = {
    {0, 5, FRAME_MONITOR}, /* frame 0, and the reserved pieces' frames */
    {5 * KB4, 96 * MIB / KB4 - 5, FRAME_FREE},
};
static const struct machine small_machine = {"small", 96 * MIB, small_ranges,
                                             ARRAY_SIZE(small_ranges), 8192};

/* space_boot sets the pool aside first, as the largest free blocks: a pool
 * of exactly 512 MiB takes the 512 MiB block at 3G, and sigma0 gets the two
 * GiBs at 1G and 2G whole (and what the frame table leaves of the last
 * range). check's model of 2 GiB needs 256 MiB of the pool in one piece. */
static const struct frame_range big_ranges[] = {
    {0, 5, FRAME_MONITOR},
    {GIB, 2 * GIB / KB4, FRAME_FREE},
    {3 * GIB, 512 * MIB / KB4, FRAME_FREE},
    {3 * GIB + 512 * MIB, 16 * MIB / KB4, FRAME_FREE}, /* the frame table */
};
static const struct machine big_machine = {"big", 3 * GIB + 528 * MIB, big_ranges,
                                           ARRAY_SIZE(big_ranges), 512 * MIB / KB4};

/* ---- the fixture ------------------------------------------------------------- */

static struct {
	const struct machine *mc;
	struct frame_stats init; /* right after frame_init */
	struct frame_stats boot; /* right after space_boot */
	struct space_stats boot_stats;
	struct model m;  /* the oracle */
	bool check_each; /* full comparison and space_check after every step */
	uint64_t steps;
	/* sigma0 at boot: the largest extent, and blocks by size */
	uint64_t a4;    /* a 2M-aligned run of at least 64 pages */
	uint64_t m2;    /* a 2M node not inside a 1G one */
	uint64_t g1[2]; /* 1G nodes (big machine) */
	unsigned ng1;
} fx;

static void check_err(err_t got, err_t want, int line)
{
	if (got != want)
		test_failf("line %d: got \"%s\", want \"%s\"", line, got ? got : "success",
		           want ? want : "success");
}
#define assert_err(got, want) check_err((got), (want), __LINE__)

#define U(x) ((unsigned long long)(x))

/* The node of sigma0 holding page a, if it is of `level`. */
static bool s0_node_is(uint64_t a, unsigned level)
{
	mdb_id x = space_node(0, a);
	return x && mdb_level(mdb_at(x)) == level && mdb_va(mdb_at(x)) == a;
}

/* Find sigma0's blocks the tests use. */
static void find_places(void)
{
	const struct space_extent *ext;
	const size_t n = space_extents(&ext);
	uint64_t best = 0;

	fx.ng1 = 0;
	fx.m2 = fx.a4 = 0;
	for (size_t i = 0; i < n; i++) {
		const uint64_t end = ext[i].base + ext[i].pages * KB4;
		for (uint64_t a = (ext[i].base + GIB - 1) & ~(GIB - 1); a + GIB <= end; a += GIB)
			if (fx.ng1 < 2 && s0_node_is(a, 2))
				fx.g1[fx.ng1++] = a;
		for (uint64_t a = (ext[i].base + MB2 - 1) & ~(MB2 - 1); a + MB2 <= end; a += MB2)
			if (!fx.m2 && s0_node_is(a, 1))
				fx.m2 = a;
		if (ext[i].pages > best) {
			const uint64_t a = (ext[i].base + MB2 - 1) & ~(MB2 - 1);
			if (a + 64 * KB4 <= end) {
				best = ext[i].pages;
				fx.a4 = a;
			}
		}
	}
	assert_true(fx.a4 != 0);
	assert_true(fx.m2 != 0);
}

static int boot(const struct machine *mc)
{
	const struct space_extent *ext;

	fx.mc = mc;
	fx.check_each = true;
	fx.steps = 0;
	snprintf(test_where, sizeof(test_where), "%s machine", mc->name);
	host_ram(mc->ram);
	assert_null(frame_init(mc->ranges, mc->nranges));
	frame_stats(&fx.init);
	host_rsv_base = RSV_BASE;
	assert_null(space_boot(mc->pool, true));
	frame_stats(&fx.boot);
	space_stats(&fx.boot_stats);
	assert_null(model_init(&fx.m, &test_heap, SPACE_MAX));
	const size_t n = space_extents(&ext);
	for (size_t i = 0; i < n; i++)
		assert_null(model_sigma0(&fx.m, ext[i].base, ext[i].pages));
	find_places();
	return 0;
}

static int setup_small(void **state)
{
	(void)state;
	return boot(&small_machine);
}

static int setup_big(void **state)
{
	(void)state;
	return boot(&big_machine);
}

static int teardown(void **state)
{
	(void)state;
	model_destroy(&fx.m);
	space_shutdown();
	host_rsv_base = 0;
	assert_frames_back(&fx.init);
	return 0;
}

/* ---- comparing the layer with the oracle -------------------------------------- */

/* What the database says n:v is, as a model mapping. */
static bool space_get(unsigned n, uint64_t v, struct model_map *out)
{
	const mdb_id x = space_node(n, v);

	if (!x)
		return false;
	const struct mdb_node *p = mdb_at(x);
	const uint64_t off = v - mdb_va(p);
	out->rights = mdb_rights(p);
	if (p->parent) {
		const struct mdb_node *q = mdb_at(p->parent);
		out->src_space = mdb_space(q);
		out->src = mdb_va(q) + off;
	} else {
		out->src_space = MODEL_REAL;
		out->src = pa_addr(space_node_frame(x)) + off;
	}
	return true;
}

static void map_str(char *buf, size_t cap, bool valid, const struct model_map *mp)
{
	if (!valid)
		snprintf(buf, cap, "nothing");
	else if (mp->src_space == MODEL_REAL)
		snprintf(buf, cap, "Real 0x%llx rights %u", U(mp->src), mp->rights);
	else
		snprintf(buf, cap, "Virtual %u:0x%llx rights %u", mp->src_space, U(mp->src),
		         mp->rights);
}

/* Page n:v: the tables against model_lookup, the database against
 * model_get. */
static void compare_page(unsigned n, uint64_t v)
{
	struct space_hit h;
	uint64_t pa = 0;
	unsigned r = 0;
	struct model_map a, b;
	const bool mex = model_space_exists(&fx.m, n);
	const bool hs = space_lookup(n, v, &h);
	const bool hm = mex && model_lookup(&fx.m, n, v, &pa, &r);

	if (hs != hm || (hs && (pa_addr(h.pa) != pa || h.rights != r)))
		test_failf(
		    "lookup %u:0x%llx: the tables say %s 0x%llx rights %u, the model %s 0x%llx "
		    "rights %u",
		    n, U(v), hs ? "" : "none", U(hs ? pa_addr(h.pa) : 0), hs ? h.rights : 0,
		    hm ? "" : "none", U(pa), r);
	const bool gs = space_get(n, v, &a), gm = mex && model_get(&fx.m, n, v, &b);
	if (gs != gm ||
	    (gs && (a.src_space != b.src_space || a.src != b.src || a.rights != b.rights))) {
		char sa[80], sb[80];
		map_str(sa, sizeof(sa), gs, &a);
		map_str(sb, sizeof(sb), gm, &b);
		test_failf("%u:0x%llx: the database says %s, the model %s", n, U(v), sa, sb);
	}
}

/* The pages of a region, all of them or a sample, and the pages either
 * side of it. */
static void compare_region(unsigned n, uint64_t v, uint64_t len)
{
	const uint64_t pages = len / KB4;

	if (v >= KB4)
		compare_page(n, v - KB4);
	if (v + len < TOP)
		compare_page(n, v + len);
	if (pages <= 64) {
		for (uint64_t i = 0; i < pages; i++)
			compare_page(n, v + i * KB4);
		return;
	}
	for (uint64_t i = 0; i < 8; i++) {
		compare_page(n, v + i * KB4);
		compare_page(n, v + len - (i + 1) * KB4);
	}
	/* around 2M boundaries inside, a few of them */
	uint64_t b = (v + MB2) & ~(MB2 - 1);
	for (unsigned k = 0; k < 8 && b < v + len; k++, b += MB2 * (1 + test_below(64))) {
		compare_page(n, b - KB4);
		compare_page(n, b);
	}
	for (unsigned k = 0; k < 24; k++)
		compare_page(n, v + test_below(pages) * KB4);
}

static void compare_counts(void)
{
	for (unsigned n = 0; n < SPACE_MAX; n++) {
		const bool e = space_exists(n);
		if (e != model_space_exists(&fx.m, n))
			test_failf("space %u: exists %d in the layer, %d in the model", n, e,
			           model_space_exists(&fx.m, n));
		if (e && space_pages(n) != model_pages(&fx.m, n))
			test_failf("space %u maps 0x%llx pages, the model 0x%llx", n,
			           U(space_pages(n)), U(model_pages(&fx.m, n)));
	}
}

static bool compare_one(void *ctx, uint32_t n, uint64_t v, const struct model_map *mp)
{
	(void)ctx, (void)mp;
	compare_page(n, v);
	return true;
}

/* Every page of the model against the layer; with equal counts per space,
 * the layer maps nothing more. */
static void compare_all(void)
{
	char why[64] = "";

	compare_counts();
	model_each(&fx.m, compare_one, NULL);
	if (model_check(&fx.m, why, sizeof(why)))
		test_failf("the oracle itself fails its check at %s", why);
}

static uint64_t own_tables(void)
{
	return 0; /* no memmon tables in this fixture */
}

/* space_check passes, and its summary agrees with space_stats. */
static void check_ok(void)
{
	char why[256];
	struct space_check sum;
	struct space_stats st;

	err_t e = space_check(own_tables(), why, sizeof(why), &sum);
	if (e)
		test_failf("space_check: %s: %s", e, why);
	space_stats(&st);
	if (sum.spaces != st.spaces || sum.pages != st.pages || sum.frames != st.client ||
	    sum.orphaned != st.orphaned || sum.mappings != st.mappings)
		test_failf("space_check's summary differs from space_stats");
	if (st.pool != st.pool_free + st.pool_used)
		test_failf("pool 0x%llx is not free 0x%llx + used 0x%llx", U(st.pool),
		           U(st.pool_free), U(st.pool_used));
}

static void full_check(void)
{
	compare_all();
	check_ok();
}

/* ---- operations on both ------------------------------------------------------- */

enum op_kind {
	OP_MAP,
	OP_GRANT,
	OP_UNMAP,
	OP_FLUSH,
	OP_PROTECT,
	OP_NEW,
	OP_DEL,
	OP_RESET,
	OP_POOL_GROW, /* the layer only: the oracle follows by hand */
	OP_POOL_SHRINK,
};

struct op {
	enum op_kind kind;
	unsigned n, n2;
	uint64_t v, v2, len;
	unsigned rights;
};

static struct op op_map(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len,
                        unsigned rights)
{
	return (struct op){OP_MAP, n, n2, v, v2, len, rights};
}
static struct op op_grant(unsigned n, uint64_t v, unsigned n2, uint64_t v2, uint64_t len,
                          unsigned rights)
{
	return (struct op){OP_GRANT, n, n2, v, v2, len, rights};
}
static struct op op_unmap(unsigned n, uint64_t v, uint64_t len)
{
	return (struct op){.kind = OP_UNMAP, .n = n, .v = v, .len = len, .rights = RWX};
}
static struct op op_flush(unsigned n, uint64_t v, uint64_t len)
{
	return (struct op){.kind = OP_FLUSH, .n = n, .v = v, .len = len, .rights = RWX};
}
static struct op op_protect(unsigned n, uint64_t v, uint64_t len, unsigned rights)
{
	return (struct op){.kind = OP_PROTECT, .n = n, .v = v, .len = len, .rights = rights};
}
static struct op op_new(void)
{
	return (struct op){.kind = OP_NEW};
}
static struct op op_del(unsigned n)
{
	return (struct op){.kind = OP_DEL, .n = n};
}
static struct op op_reset(void)
{
	return (struct op){.kind = OP_RESET};
}

static const char *const op_names[] = {"map",       "grant",      "unmap",     "flush",
                                       "protect",   "space new",  "space del", "reset",
                                       "pool grow", "pool shrink"};

static void op_str(const struct op *o, char *buf, size_t cap)
{
	switch (o->kind) {
	case OP_MAP:
	case OP_GRANT:
		snprintf(buf, cap, "%s %u 0x%llx %u 0x%llx 0x%llx %u", op_names[o->kind], o->n,
		         U(o->v), o->n2, U(o->v2), U(o->len), o->rights);
		break;
	case OP_UNMAP:
	case OP_FLUSH:
	case OP_PROTECT:
		snprintf(buf, cap, "%s %u 0x%llx 0x%llx %u", op_names[o->kind], o->n, U(o->v),
		         U(o->len), o->rights);
		break;
	case OP_DEL:
		snprintf(buf, cap, "space del %u", o->n);
		break;
	case OP_POOL_GROW:
	case OP_POOL_SHRINK:
		snprintf(buf, cap, "%s 0x%llx", op_names[o->kind], U(o->len));
		break;
	default:
		snprintf(buf, cap, "%s", op_names[o->kind]);
	}
}

/* The layer's side: its error, the pages it reports, the space it made. */
static err_t run_space(const struct op *o, uint64_t *pages, unsigned *made)
{
	struct space_result r = {0};
	err_t e = NULL;

	*made = 0;
	switch (o->kind) {
	case OP_MAP:
		e = space_map(o->n, o->v, o->n2, o->v2, o->len, o->rights, &r);
		break;
	case OP_GRANT:
		e = space_grant(o->n, o->v, o->n2, o->v2, o->len, o->rights, &r);
		break;
	case OP_UNMAP:
		e = space_unmap(o->n, o->v, o->len, &r);
		break;
	case OP_FLUSH:
		e = space_flush(o->n, o->v, o->len, &r);
		break;
	case OP_PROTECT:
		e = space_protect(o->n, o->v, o->len, o->rights, &r);
		break;
	case OP_NEW:
		e = space_new(made);
		break;
	case OP_DEL:
		e = space_del(o->n, &r.pages);
		break;
	case OP_RESET:
		e = space_reset();
		break;
	case OP_POOL_GROW:
		e = space_pool_grow(o->len);
		break;
	case OP_POOL_SHRINK:
		e = space_pool_shrink(o->len);
		break;
	}
	*pages = r.pages;
	if (!e && (o->kind == OP_MAP || o->kind == OP_GRANT)) {
		/* the rights reported: every new mapping has the source's cut to R */
		if (r.pages && ((r.rights_or & ~o->rights) || (r.rights_and & ~r.rights_or) ||
		                !(r.rights_and & R)))
			test_failf("map/grant reports rights and %u or %u for R %u", r.rights_and,
			           r.rights_or, o->rights);
		if (!r.pages && (r.rights_and || r.rights_or))
			test_failf("no pages, but rights %u %u", r.rights_and, r.rights_or);
	}
	return e;
}

static uint64_t model_total(void)
{
	uint64_t t = 0;

	for (unsigned n = 0; n < SPACE_MAX; n++)
		t += model_pages(&fx.m, n);
	return t;
}

/* The lowest space number the model does not use (what space_new gives). */
static unsigned model_free_space(void)
{
	for (unsigned n = 1; n < SPACE_MAX; n++)
		if (!model_space_exists(&fx.m, n))
			return n;
	return SPACE_MAX;
}

static err_t run_model(const struct op *o, unsigned made, uint64_t *pages)
{
	const uint64_t pg = o->len / KB4;
	uint64_t done = 0, before;
	err_t e = NULL;

	switch (o->kind) {
	case OP_MAP:
		e = model_map(&fx.m, o->n, o->v, o->n2, o->v2, pg, o->rights, &done);
		break;
	case OP_GRANT:
		e = model_grant(&fx.m, o->n, o->v, o->n2, o->v2, pg, o->rights, &done);
		break;
	case OP_UNMAP:
		e = model_unmap(&fx.m, o->n, o->v, pg, &done);
		break;
	case OP_FLUSH:
		e = model_flush(&fx.m, o->n, o->v, pg, &done);
		break;
	case OP_PROTECT:
		e = model_protect(&fx.m, o->n, o->v, pg, o->rights, &done);
		break;
	case OP_NEW:
		if (made != model_free_space())
			test_failf("space new made %u, the lowest free number is %u", made,
			           model_free_space());
		e = model_space_create(&fx.m, made);
		break;
	case OP_DEL:
		before = model_total();
		e = model_space_delete(&fx.m, o->n);
		done = before - model_total();
		break;
	case OP_RESET:
		e = model_reset(&fx.m);
		break;
	default:
		test_failf("no model of %s", op_names[o->kind]);
	}
	*pages = done;
	return e;
}

/* The layer's error as the model says it, for the errors both have. */
static err_t as_model(err_t e)
{
	if (e == space_err_nospace || e == space_err_sigma0)
		return model_err_nospace;
	if (e == space_err_invalid)
		return model_err_invalid;
	return e;
}

/* A region a client may name (others are compared by the counts only). */
static bool region_ok(uint64_t v, uint64_t len)
{
	return v % KB4 == 0 && len % KB4 == 0 && len && v < TOP && len <= TOP - v;
}

/* The pages an operation names. */
static void compare_touched(const struct op *o)
{
	switch (o->kind) {
	case OP_MAP:
	case OP_GRANT:
		if (region_ok(o->v2, o->len))
			compare_region(o->n2, o->v2, o->len);
		/* fall through */
	case OP_UNMAP:
	case OP_FLUSH:
	case OP_PROTECT:
		if (region_ok(o->v, o->len))
			compare_region(o->n, o->v, o->len);
		break;
	default:
		break;
	}
	compare_counts();
}

/* Run o on both; they must agree. Returns the layer's error; *pages the
 * pages it reported. */
static err_t step_pages(const struct op *o, uint64_t *pages)
{
	char s[160];
	uint64_t sp = 0, mp = 0;
	unsigned made;

	fx.steps++;
	op_str(o, s, sizeof(s));
	snprintf(test_where, sizeof(test_where), "%s machine, step %llu: %s", fx.mc->name,
	         U(fx.steps), s);
	const err_t se = run_space(o, &sp, &made);
	if (se == space_err_nomem)
		test_failf("the pool ran out");
	const err_t me =
	    (se && as_model(se) != model_err_nospace && as_model(se) != model_err_invalid)
	        ? se /* an argument error the model does not check */
	        : run_model(o, made, &mp);
	if (as_model(se) != me)
		test_failf("the layer says \"%s\", the model \"%s\"", se ? se : "success",
		           me ? me : "success");
	if (!se && sp != mp)
		test_failf("the layer counts 0x%llx pages, the model 0x%llx", U(sp), U(mp));
	compare_touched(o);
	if (fx.check_each)
		full_check();
	*pages = sp;
	return se;
}

static uint64_t step(struct op o)
{
	uint64_t pages;
	err_t e = step_pages(&o, &pages);
	if (e)
		test_failf("failed: %s", e);
	return pages;
}

/* Run o on both; whatever the outcome, they must agree. */
static void step_any(struct op o)
{
	uint64_t pages;
	(void)step_pages(&o, &pages);
}

static void step_fails(struct op o, err_t want)
{
	uint64_t pages;
	err_t e = step_pages(&o, &pages);
	assert_err(e, want);
}

/* ---- small helpers ------------------------------------------------------------- */

static bool lookup(unsigned n, uint64_t v, uint64_t *pa, unsigned *rights, unsigned *level)
{
	struct space_hit h;

	if (!space_lookup(n, v, &h))
		return false;
	if (pa)
		*pa = pa_addr(h.pa);
	if (rights)
		*rights = h.rights;
	if (level)
		*level = h.level;
	return true;
}

/* n:v translates to pa with rights. */
static void expect(unsigned n, uint64_t v, uint64_t pa, unsigned rights, int line)
{
	uint64_t got;
	unsigned r;

	if (!lookup(n, v, &got, &r, NULL))
		test_failf("line %d: %u:0x%llx maps nothing, want 0x%llx", line, n, U(v), U(pa));
	if (got != pa || r != rights)
		test_failf("line %d: %u:0x%llx -> 0x%llx rights %u, want 0x%llx rights %u", line, n,
		           U(v), U(got), r, U(pa), rights);
}
#define EXPECT(n, v, pa, rights) expect((n), (v), (pa), (rights), __LINE__)

static void expect_none(unsigned n, uint64_t v, int line)
{
	uint64_t got;

	if (lookup(n, v, &got, NULL, NULL))
		test_failf("line %d: %u:0x%llx -> 0x%llx, want nothing", line, n, U(v), U(got));
}
#define EXPECT_NONE(n, v) expect_none((n), (v), __LINE__)

static unsigned level_of(unsigned n, uint64_t v)
{
	unsigned level = 9;

	if (!lookup(n, v, NULL, NULL, &level))
		test_failf("%u:0x%llx maps nothing", n, U(v));
	return level;
}

static uint64_t nodes(void)
{
	struct mdb_stats s;

	mdb_stats(&s);
	return s.nodes;
}

static uint64_t rsv_pages(void)
{
	struct plat_rsv rsv[PLAT_RSV_MAX];
	const size_t n = plat_reserved(rsv, PLAT_RSV_MAX);
	uint64_t p = 0;

	for (size_t i = 0; i < n; i++)
		p += rsv[i].pages;
	return p;
}

/* Leaves of space n's tables in the client half: 4K, 2M, 1G. */
static void leaves(unsigned n, uint64_t *l4, uint64_t *l2, uint64_t *l1)
{
	struct pt_census c;

	pt_census(space_pt(n), &c);
	*l4 = c.leaves[0] - rsv_pages(); /* the reserved pieces are 4K leaves */
	*l2 = c.leaves[1];
	*l1 = c.leaves[2];
}

static void expect_leaves(unsigned n, uint64_t l4, uint64_t l2, uint64_t l1, int line)
{
	uint64_t a, b, c;

	leaves(n, &a, &b, &c);
	if (a != l4 || b != l2 || c != l1)
		test_failf(
		    "line %d: space %u has 0x%llx 4K, 0x%llx 2M, 0x%llx 1G leaves; want 0x%llx, "
		    "0x%llx, 0x%llx",
		    line, n, U(a), U(b), U(c), U(l4), U(l2), U(l1));
}
#define EXPECT_LEAVES(n, l4, l2, l1) expect_leaves((n), (l4), (l2), (l1), __LINE__)

static unsigned new_space(void)
{
	const unsigned n = model_free_space();
	step(op_new());
	assert_true(space_exists(n));
	return n;
}

/* ---- a. the boot state --------------------------------------------------------- */

/* sigma0 maps every client frame at v == r, rwx, with the largest pages
 * the alignment allows; nothing else is mapped; check passes. */
static void test_boot_state(void **state)
{
	const struct space_extent *ext;
	const size_t n = space_extents(&ext);
	struct space_stats st;
	struct frame_stats fs;
	const uint64_t stride = fx.mc == &big_machine ? 61 : 1;

	(void)state;
	space_stats(&st);
	frame_stats(&fs);
	assert_int_equal(st.spaces, 1);
	assert_int_equal(st.client, fs.owned[FRAME_CLIENT]);
	assert_int_equal(st.sigma0, st.client);
	assert_int_equal(st.pages, st.client);
	assert_int_equal(st.reachable, st.client);
	assert_int_equal(st.orphaned, 0);
	assert_int_equal(st.pool_free, fs.free);
	assert_true(st.pool >= fx.mc->pool && st.pool <= fx.mc->pool + 64 + 512);
	assert_int_equal(fs.total, st.client + st.pool + fs.owned[FRAME_MONITOR]);
	for (size_t i = 0; i < n; i++) {
		const uint64_t end = ext[i].base + ext[i].pages * KB4;
		for (uint64_t a = ext[i].base; a < end; a += stride * KB4) {
			unsigned want = a % GIB == 0 && a + GIB <= end   ? 2
			                : a % MB2 == 0 && a + MB2 <= end ? 1
			                                                 : 0;
			uint64_t pa;
			unsigned r, level;
			if (!lookup(0, a + 0x123, &pa, &r, &level) || pa != a + 0x123 || r != RWX)
				test_failf("sigma0 does not map 0x%llx at v == r, rwx", U(a));
			if (level < want)
				test_failf("sigma0 maps 0x%llx with a %u-level page, not %u", U(a),
				           level, want);
		}
	}
	/* every frame that is not a client's is not in sigma0 */
	for (uint64_t a = 0; a < fx.mc->ram; a += (stride == 1 ? 1 : 509) * KB4) {
		struct frame_info fi;
		const bool client = !frame_query(pa_init(a), &fi) && fi.owner == FRAME_CLIENT;
		if (client != lookup(0, a, NULL, NULL, NULL))
			test_failf("frame 0x%llx: client %d, mapped in sigma0 %d", U(a), client,
			           !client);
	}
	/* the reserved pieces: in the upper half, supervisor-only */
	struct plat_rsv rsv[PLAT_RSV_MAX];
	const size_t nr = plat_reserved(rsv, PLAT_RSV_MAX);
	assert_int_equal(nr, 3);
	for (size_t i = 0; i < nr; i++) {
		struct pt_hit h;
		assert_true(pt_lookup(space_pt(0), va_init(rsv[i].va), &h));
		assert_int_equal(pa_addr(h.pa), pa_addr(rsv[i].pa));
		assert_int_equal(h.attr & PT_USER, 0);
		assert_false(space_lookup(0, rsv[i].va, &(struct space_hit){0}));
	}
	assert_int_equal(space_node(0, 0), MDB_NIL);
	full_check();
	struct space_check sum;
	char why[128];
	assert_null(space_check(own_tables(), why, sizeof(why), &sum));
	assert_int_equal(sum.spaces, 1);
	assert_int_equal(sum.frames, st.client);
	assert_int_equal(sum.pages, st.client);
	assert_int_equal(sum.orphaned, 0);
}

/* ---- b. the paper's scenarios ------------------------------------------------------ */

/* A chain 0 -> 1 -> 2 -> 3 of maps: each page reaches sigma0's frame;
 * unmap of the middle removes the subtree below it only; flush removes the
 * page too. */
static void test_chain(void **state)
{
	const uint64_t a = fx.a4, b = 0x10000, c = 0x7f000000, d = 0x4000000000;
	(void)state;

	const unsigned s1 = new_space(), s2 = new_space(), s3 = new_space();
	assert_int_equal(step(op_map(0, a, s1, b, KB4, RWX)), 1);
	assert_int_equal(step(op_map(s1, b, s2, c, KB4, RWX)), 1);
	assert_int_equal(step(op_map(s2, c, s3, d, KB4, RWX)), 1);
	EXPECT(s3, d + 0x10, a + 0x10, RWX);
	/* unmap 2:c removes 3:d only */
	assert_int_equal(step(op_unmap(s2, c, KB4)), 1);
	EXPECT(s2, c, a, RWX);
	EXPECT_NONE(s3, d);
	/* rebuild, then unmap 1:b removes 2:c and 3:d */
	step(op_map(s2, c, s3, d, KB4, RWX));
	assert_int_equal(step(op_unmap(s1, b, KB4)), 2);
	EXPECT(s1, b, a, RWX);
	EXPECT_NONE(s2, c);
	EXPECT_NONE(s3, d);
	EXPECT(0, a, a, RWX);
	/* flush 1:b removes it too; flush 0:a orphans the frame */
	step(op_map(s1, b, s2, c, KB4, RWX));
	assert_int_equal(step(op_flush(s1, b, KB4)), 2);
	EXPECT_NONE(s1, b);
	step(op_map(0, a, s1, b, KB4, RWX));
	assert_int_equal(step(op_flush(0, a, KB4)), 2);
	EXPECT_NONE(0, a);
	EXPECT_NONE(s1, b);
	struct space_stats st;
	space_stats(&st);
	assert_int_equal(st.orphaned, 1);
	/* unmap, flush and protect of pages that hold nothing: no error, 0 pages */
	assert_int_equal(step(op_unmap(s1, b, 16 * KB4)), 0);
	assert_int_equal(step(op_flush(s3, 0, MB2)), 0);
	assert_int_equal(step(op_protect(s2, c, KB4, R)), 0);
	/* reset gives the frame back to sigma0 */
	step(op_reset());
	EXPECT(0, a, a, RWX);
	space_stats(&st);
	assert_int_equal(st.orphaned, 0);
	assert_int_equal(st.spaces, 1);
}

/* Unmap of a middle page of a region removes the subtree of that page
 * only; the region's other pages and their subtrees stay. */
static void test_unmap_middle(void **state)
{
	const uint64_t a = fx.a4, b = 0x200000, c = 0x400000;
	(void)state;

	const unsigned s1 = new_space(), s2 = new_space(), s3 = new_space();
	step(op_map(0, a, s1, b, 16 * KB4, RWX));
	step(op_map(s1, b, s2, c, 16 * KB4, RW));
	step(op_map(s2, c + 4 * KB4, s3, c, 4 * KB4, R));
	assert_int_equal(step(op_unmap(s1, b + 5 * KB4, KB4)), 2); /* 2:c+5, 3:c+1 */
	EXPECT(s2, c + 4 * KB4, a + 4 * KB4, RW);
	EXPECT_NONE(s2, c + 5 * KB4);
	EXPECT(s2, c + 6 * KB4, a + 6 * KB4, RW);
	EXPECT(s3, c, a + 4 * KB4, R);
	EXPECT_NONE(s3, c + KB4);
	EXPECT(s3, c + 2 * KB4, a + 6 * KB4, R);
	EXPECT(s1, b + 5 * KB4, a + 5 * KB4, RWX);
	/* flush of a middle range: the pages go, with what derives from them */
	assert_int_equal(step(op_flush(s1, b + 6 * KB4, 2 * KB4)), 6);
	EXPECT_NONE(s1, b + 7 * KB4);
	EXPECT_NONE(s2, c + 6 * KB4);
	EXPECT_NONE(s3, c + 2 * KB4);
	EXPECT_NONE(s3, c + 3 * KB4);
	EXPECT(s2, c + 8 * KB4, a + 8 * KB4, RW);
}

/* Grant moves the mapping (the new page derives from what the granted one
 * derived from) and drops everything derived from the granted page. */
static void test_grant(void **state)
{
	const uint64_t a = fx.a4, b = 0x1000, c = 0x2000, d = 0x3000;
	(void)state;

	const unsigned s1 = new_space(), s2 = new_space(), s3 = new_space();
	step(op_map(0, a, s1, b, KB4, RW));
	step(op_map(s1, b, s2, c, KB4, RWX));
	assert_int_equal(step(op_grant(s1, b, s3, d, KB4, RWX)), 1);
	EXPECT_NONE(s1, b);
	EXPECT_NONE(s2, c);
	EXPECT(s3, d, a, RW);
	struct model_map mp;
	assert_true(space_get(s3, d, &mp));
	assert_int_equal(mp.src_space, 0);
	assert_int_equal(mp.src, a);
	/* grant of a Real page: the frame moves out of sigma0 */
	assert_int_equal(step(op_grant(0, a + KB4, s1, b, KB4, RX)), 1);
	EXPECT_NONE(0, a + KB4);
	EXPECT(s1, b, a + KB4, RX);
	assert_true(space_get(s1, b, &mp));
	assert_int_equal(mp.src_space, MODEL_REAL);
	/* grant back into sigma0 elsewhere: v != r there now */
	assert_int_equal(step(op_grant(s1, b, 0, a + KB4 * 3 + 0x40000, KB4, RWX)), 1);
	EXPECT(0, a + KB4 * 3 + 0x40000, a + KB4, RX);
	/* grant of a region across spaces with children on some pages */
	step(op_map(0, a + 8 * KB4, s1, 0x10000, 8 * KB4, RWX));
	step(op_map(s1, 0x12000, s2, 0x10000, 2 * KB4, RWX));
	assert_int_equal(step(op_grant(s1, 0x10000, s2, 0x20000, 8 * KB4, RW)), 8);
	EXPECT_NONE(s2, 0x10000);
	EXPECT(s2, 0x22000, a + 10 * KB4, RW);
	/* the grant into sigma0 above flushed 0:a+3K+0x40000 first: its frame
	 * is orphaned (no space reaches it) until reset */
	struct space_stats st;
	space_stats(&st);
	assert_int_equal(st.orphaned, 1);
	EXPECT(0, a + 3 * KB4 + 0x40000, a + KB4, RX);
}

/* The paper's counterexample: map sigma0:a to 1:b, then grant 1:b back to
 * sigma0:a. The destination's flush removes 1:b, so the grant sets
 * nothing (without the recheck 0:a would derive from itself). */
static void test_grant_back_no_loop(void **state)
{
	const uint64_t a = fx.a4, b = 0x5000;
	(void)state;

	const unsigned s1 = new_space(), s2 = new_space();
	step(op_map(0, a, s1, b, KB4, RWX));
	assert_int_equal(step(op_grant(s1, b, 0, a, KB4, RWX)), 0);
	EXPECT_NONE(0, a);
	EXPECT_NONE(s1, b);
	/* the same over a region and through a second space */
	step(op_map(0, a + KB4, s1, b, 4 * KB4, RWX));
	step(op_map(s1, b, s2, 0, 4 * KB4, RWX));
	assert_int_equal(step(op_grant(s2, 0, 0, a + KB4, 4 * KB4, RWX)), 0);
	EXPECT_NONE(0, a + KB4);
	EXPECT_NONE(s1, b + 3 * KB4);
	EXPECT_NONE(s2, 0);
	/* a Real page granted away and back: nothing derived from the
	 * destination, so the frame is sigma0's again */
	step(op_grant(0, a + 10 * KB4, s1, b, KB4, RW));
	assert_int_equal(step(op_grant(s1, b, 0, a + 10 * KB4, KB4, RWX)), 1);
	EXPECT(0, a + 10 * KB4, a + 10 * KB4, RW);
	EXPECT_NONE(s1, b);
}

/* Map of a page onto itself: the destination's flush takes the source, so
 * the page is gone; the same for grant, and for sigma0. */
static void test_map_self(void **state)
{
	const uint64_t a = fx.a4;
	(void)state;

	const unsigned s1 = new_space();
	step(op_map(0, a, s1, 0x1000, 4 * KB4, RWX));
	assert_int_equal(step(op_map(s1, 0x1000, s1, 0x1000, KB4, RWX)), 0);
	EXPECT_NONE(s1, 0x1000);
	assert_int_equal(step(op_grant(s1, 0x2000, s1, 0x2000, KB4, RWX)), 0);
	EXPECT_NONE(s1, 0x2000);
	assert_int_equal(step(op_map(s1, 0x3000, s1, 0x3000, 2 * KB4, RWX)), 0);
	EXPECT_NONE(s1, 0x4000);
	assert_int_equal(step(op_map(0, a + MB2, 0, a + MB2, KB4, RWX)), 0);
	EXPECT_NONE(0, a + MB2);
	assert_int_equal(step(op_grant(0, a + 2 * KB4, 0, a + 2 * KB4, 16 * KB4, RWX)), 0);
	EXPECT_NONE(0, a + 17 * KB4);
	/* a superpage onto itself */
	assert_int_equal(step(op_map(0, fx.m2, 0, fx.m2, MB2, RWX)), 0);
	EXPECT_NONE(0, fx.m2);
}

/* Rights only shrink: map cuts them to R, protect cuts the page and
 * everything derived from it, and neither ever adds any. */
static void test_rights(void **state)
{
	const uint64_t a = fx.a4;
	(void)state;

	const unsigned s1 = new_space(), s2 = new_space(), s3 = new_space();
	step(op_map(0, a, s1, 0x1000, 2 * KB4, RW));
	EXPECT(s1, 0x1000, a, RW);
	step(op_map(s1, 0x1000, s2, 0x1000, 2 * KB4, RWX));
	EXPECT(s2, 0x1000, a, RW);
	step(op_map(s2, 0x1000, s3, 0x1000, KB4, RX));
	EXPECT(s3, 0x1000, a, R);
	/* protect with more rights changes nothing */
	assert_int_equal(step(op_protect(s3, 0x1000, KB4, RWX)), 0);
	assert_int_equal(step(op_protect(s1, 0x1000, KB4, RWX)), 0);
	EXPECT(s1, 0x1000, a, RW);
	/* protect cuts the page and its subtree; only changed pages count */
	assert_int_equal(step(op_protect(s1, 0x1000, 2 * KB4, RX)), 4);
	EXPECT(s1, 0x1000, a, R);
	EXPECT(s2, 0x2000, a + KB4, R);
	EXPECT(s3, 0x1000, a, R);
	EXPECT(0, a, a, RWX);
	/* a map of sigma0 again replaces the page with the rights asked */
	step(op_map(0, a, s1, 0x1000, KB4, RWX));
	EXPECT(s1, 0x1000, a, RWX);
	EXPECT_NONE(s2, 0x1000);
	/* protect of a superpage in part: only the pages in the region */
	step(op_map(0, fx.m2, s2, 0x200000, MB2, RWX));
	assert_int_equal(step(op_protect(s2, 0x200000 + 3 * KB4, 5 * KB4, RW)), 5);
	EXPECT(s2, 0x200000 + 2 * KB4, fx.m2 + 2 * KB4, RWX);
	EXPECT(s2, 0x200000 + 3 * KB4, fx.m2 + 3 * KB4, RW);
	EXPECT(s2, 0x200000 + 8 * KB4, fx.m2 + 8 * KB4, RWX);
	/* protect of sigma0 reaches every space */
	assert_int_equal(step(op_protect(0, fx.m2, MB2, R)), 1024);
	EXPECT(s2, 0x200000, fx.m2, R);
	EXPECT(0, fx.m2 + MB2 - KB4, fx.m2 + MB2 - KB4, R);
}

/* Overlapping regions in one space: the page-by-page order decides. Map
 * 1:0x1000 to 1:0x2000 (8K) makes every page reach a; the other way round,
 * the second page's flush takes what the first page set. */
static void test_overlap(void **state)
{
	const uint64_t a = fx.a4;
	(void)state;

	const unsigned s1 = new_space(), s2 = new_space();
	step(op_map(0, a, s1, 0x1000, 3 * KB4, RWX));
	assert_int_equal(step(op_map(s1, 0x1000, s1, 0x2000, 2 * KB4, RWX)), 2);
	EXPECT(s1, 0x1000, a, RWX);
	EXPECT(s1, 0x2000, a, RWX);
	EXPECT(s1, 0x3000, a, RWX);
	step(op_flush(s1, 0x1000, 3 * KB4));
	step(op_map(0, a, s1, 0x1000, 3 * KB4, RWX));
	assert_int_equal(step(op_map(s1, 0x2000, s1, 0x1000, 2 * KB4, RWX)), 2);
	EXPECT_NONE(s1, 0x1000);
	EXPECT(s1, 0x2000, a + 2 * KB4, RWX);
	EXPECT(s1, 0x3000, a + 2 * KB4, RWX);
	/* grant with overlap, both ways */
	step(op_flush(s1, 0, MB2));
	step(op_map(0, a, s1, 0x1000, 4 * KB4, RWX));
	step(op_grant(s1, 0x1000, s1, 0x2000, 3 * KB4, RWX));
	step(op_flush(s1, 0, MB2));
	step(op_map(0, a, s1, 0x1000, 4 * KB4, RWX));
	step(op_grant(s1, 0x2000, s1, 0x1000, 3 * KB4, RWX));
	/* the source derives from the destination (another space) */
	step(op_flush(s1, 0, MB2));
	step(op_map(0, a, s1, 0x1000, 4 * KB4, RWX));
	step(op_map(s1, 0x1000, s2, 0x1000, 4 * KB4, RWX));
	assert_int_equal(step(op_map(s2, 0x1000, s1, 0x2000, 2 * KB4, RW)), 1);
	assert_int_equal(step(op_grant(s2, 0x4000, s1, 0x4000, KB4, RW)), 0);
	/* a region overlapping itself at a 4K shift, out of a superpage: a
	 * chain of derivations, then maps and grants along it (64 pages: see
	 * test_bug_chain_reserve for 2M) */
	step(op_map(0, fx.m2, s1, 0x400000, MB2, RWX));
	step(op_map(s1, 0x400000, s1, 0x401000, 64 * KB4, RWX));
	step(op_map(s1, 0x402000, s1, 0x400000, 62 * KB4, RX));
	step_any(op_grant(s1, 0x400000, s1, 0x400000 + 7 * KB4, 64 * KB4, RWX));
	step(op_map(0, fx.m2, s1, 0x400000, MB2, RWX));
	step(op_grant(s1, 0x400000 + 7 * KB4, s1, 0x400000, 128 * KB4, RW));
	step(op_map(s1, 0x400000, s1, 0x401000, 64 * KB4, RWX));
	step_any(op_grant(s1, 0x400000, s1, 0x400000 + 7 * KB4, 64 * KB4, RWX));
}

/* Map and grant fail, changing nothing, when a page of the source holds
 * nothing at the start; pages the command itself would set do not count. */
static void test_invalid_source(void **state)
{
	const uint64_t a = fx.a4;
	(void)state;

	const unsigned s1 = new_space();
	step(op_map(0, a, s1, 0x1000, 2 * KB4, RWX));
	step_fails(op_map(s1, 0x1000, s1, 0x9000, 3 * KB4, RWX), space_err_invalid);
	step_fails(op_grant(s1, 0x1000, s1, 0x9000, 3 * KB4, RWX), space_err_invalid);
	/* 1:0x1000 -> 1:0x2000 would set 0x2000 and 0x3000; 0x3000 is empty at the start */
	step_fails(op_map(s1, 0x2000, s1, 0x3000, 2 * KB4, RWX), space_err_invalid);
	step_fails(op_map(s1, 0x1000, 9, 0x1000, KB4, RWX), space_err_nospace);
	step_fails(op_map(9, 0x1000, s1, 0x1000, KB4, RWX), space_err_nospace);
	step_fails(op_unmap(9, 0x1000, KB4), space_err_nospace);
	step_fails(op_del(9), space_err_nospace);
	EXPECT(s1, 0x1000, a, RWX);
	EXPECT(s1, 0x2000, a + KB4, RWX);
}

/* ---- c. superpages -------------------------------------------------------------- */

/* A 1G map of a sigma0 1G page and a 2M map of a sigma0 2M page make one
 * node and one hardware entry each; a 2M map out of a 1G tree splits that
 * tree once (511 nodes per node of the tree) and makes one node; a map of
 * an unaligned GiB uses 2M entries inside and 4K ones at the ends. */
static void test_superpage_maps(void **state)
{
	const uint64_t g = fx.g1[0], g2 = fx.g1[1];
	uint64_t before;
	(void)state;

	assert_int_equal(fx.ng1, 2);
	fx.check_each = false; /* the big machine: full checks at chosen points */
	const unsigned s1 = new_space(), s2 = new_space(), s3 = new_space(), s4 = new_space();
	before = nodes();
	assert_int_equal(step(op_map(0, g, s1, GIB, GIB, RWX)), GIB / KB4);
	assert_int_equal(nodes(), before + 1);
	assert_int_equal(level_of(s1, GIB + 0x123458), 2);
	EXPECT(s1, GIB + 0x3ff000, g + 0x3ff000, RWX);
	EXPECT_LEAVES(s1, 0, 0, 1);
	before = nodes();
	assert_int_equal(step(op_map(0, fx.m2, s2, 5 * MB2, MB2, RW)), 512);
	assert_int_equal(nodes(), before + 1);
	assert_int_equal(level_of(s2, 5 * MB2 + 0x1000), 1);
	EXPECT_LEAVES(s2, 0, 1, 0);
	before = nodes();
	step(op_map(s1, GIB, s3, 5 * GIB, GIB, RX));
	assert_int_equal(nodes(), before + 1);
	EXPECT_LEAVES(s3, 0, 0, 1);
	/* 2M out of the 1G tree (0:g, 1:1G, 3:5G) into a 2M-aligned place */
	before = nodes();
	step(op_map(s1, GIB + 4 * MB2, s2, 9 * GIB + 6 * MB2, MB2, RWX));
	assert_int_equal(nodes(), before + 3 * 511 + 1);
	assert_int_equal(level_of(s2, 9 * GIB + 6 * MB2), 1);
	assert_int_equal(level_of(s1, GIB), 2); /* the database split, the tables did not */
	/* a GiB at a 2M-aligned, not 1G-aligned place: 512 2M nodes and entries */
	before = nodes();
	step(op_map(0, g2, s4, 3 * GIB + MB2, GIB, RWX));
	assert_int_equal(nodes(), before + 511 + 512);
	EXPECT_LEAVES(s4, 0, 512, 0);
	step(op_flush(s4, 3 * GIB + MB2, GIB));
	/* a GiB shifted by 4K (source and destination alike): 4K at the ends */
	step(op_map(0, g + KB4, s4, KB4, GIB, RW));
	EXPECT_LEAVES(s4, 512, 511, 0);
	EXPECT(s4, KB4, g + KB4, RW);
	EXPECT(s4, GIB, g2, RW);
	assert_int_equal(level_of(s4, 5 * MB2), 1);
	/* grant of a 2M node: one node out, one in */
	before = nodes();
	assert_int_equal(step(op_grant(s2, 5 * MB2, s3, 7 * GIB + 8 * MB2, MB2, RWX)), 512);
	assert_int_equal(nodes(), before);
	assert_int_equal(level_of(s3, 7 * GIB + 8 * MB2), 1);
	EXPECT_NONE(s2, 5 * MB2);
	full_check();
}

/* unmap, protect and flush of one 4K page of a 1G mapping split the node
 * and the entries they must, and the result is what the model says. */
static void test_superpage_splits(void **state)
{
	const uint64_t g = fx.g1[0];
	(void)state;

	fx.check_each = false;
	const unsigned s1 = new_space(), s2 = new_space();
	step(op_map(0, g, s1, GIB, GIB, RWX));
	step(op_map(s1, GIB, s2, 5 * GIB, GIB, RX));
	/* unmap: the child's entry splits; s1's stays one 1G entry */
	assert_int_equal(step(op_unmap(s1, GIB + 0x5000, KB4)), 1);
	EXPECT_NONE(s2, 5 * GIB + 0x5000);
	EXPECT(s2, 5 * GIB + 0x6000, g + 0x6000, RX);
	assert_int_equal(level_of(s2, 5 * GIB + 0x6000), 0);
	assert_int_equal(level_of(s2, 5 * GIB + MB2), 1);
	assert_int_equal(level_of(s1, GIB + 0x5000), 2);
	EXPECT_LEAVES(s2, 511, 511, 0);
	EXPECT_LEAVES(s1, 0, 0, 1);
	/* protect: both split at that page */
	assert_int_equal(step(op_protect(s1, GIB + 0x7000, KB4, R)), 2);
	EXPECT(s1, GIB + 0x7000, g + 0x7000, R);
	EXPECT(s1, GIB + 0x8000, g + 0x8000, RWX);
	EXPECT(s2, 5 * GIB + 0x7000, g + 0x7000, R);
	EXPECT_LEAVES(s1, 512, 511, 0);
	EXPECT_LEAVES(s2, 511, 511, 0);
	/* flush in the second 2M */
	assert_int_equal(step(op_flush(s1, GIB + MB2 + 0x9000, KB4)), 2);
	EXPECT_NONE(s1, GIB + MB2 + 0x9000);
	EXPECT_NONE(s2, 5 * GIB + MB2 + 0x9000);
	EXPECT_LEAVES(s1, 1023, 510, 0);
	/* mapping the page back merges the 2M entry again (the database keeps
	 * its 4K nodes: page sizes are not the model's) */
	step(op_map(0, g + MB2 + 0x9000, s1, GIB + MB2 + 0x9000, KB4, RWX));
	assert_int_equal(level_of(s1, GIB + MB2), 1);
	EXPECT_LEAVES(s1, 512, 511, 0);
	/* a protect of a whole 2M inside the GiB: one 2M entry changes */
	assert_int_equal(step(op_protect(s1, GIB + 8 * MB2, MB2, R)), 1024);
	assert_int_equal(level_of(s1, GIB + 8 * MB2), 1);
	EXPECT(s2, 5 * GIB + 8 * MB2, g + 8 * MB2, R);
	/* unmap of everything derived from the GiB, then flush of it */
	step(op_unmap(0, g, GIB));
	EXPECT_LEAVES(s1, 0, 0, 0);
	EXPECT_LEAVES(s2, 0, 0, 0);
	assert_int_equal(level_of(0, g + 0x77000), 2); /* sigma0's own entry stays whole */
	full_check();
	step(op_reset());
	assert_int_equal(level_of(0, g), 2);
	full_check();
}

/* ---- d. lockstep random testing ------------------------------------------------- */

#define MAX_SPACES 10 /* 0 .. 9 */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static const uint64_t windows[] = {0, GIB, 3 * GIB, 514 * GIB, TOP - GIB};

static uint64_t pick_len(bool gib)
{
	const uint64_t x = test_below(10000);

	if (x < 6000)
		return KB4;
	if (x < 8000)
		return (2 + test_below(15)) * KB4;
	if (x < 9000)
		return (17 + test_below(496)) * KB4;
	if (x < 9600)
		return MB2;
	if (x < 9850)
		return (2 + test_below(3)) * MB2;
	if (x < 9950)
		return MB2 + (1 + test_below(511)) * KB4;
	if (gib && x < 9980)
		return GIB;
	if (gib && x < 9990)
		return GIB + (1 + test_below(4)) * (test_below(2) ? MB2 : KB4);
	return (1 + test_below(8)) * KB4;
}

static uint64_t pick_align(uint64_t len)
{
	const uint64_t x = test_below(10);

	if (len >= GIB)
		return x < 6 ? GIB : x < 9 ? MB2 : KB4;
	if (len >= MB2)
		return x < 8 ? MB2 : KB4;
	return KB4;
}

/* A place for [a, a + len) in [base, base + span): mostly near the start,
 * at a few 2M places and a few pages into them. */
static uint64_t place_in(uint64_t base, uint64_t span, uint64_t len, uint64_t align)
{
	const uint64_t start = (base + align - 1) & ~(align - 1);
	uint64_t off;

	if (align == GIB)
		off = test_below(8) ? 0 : test_below(span / GIB + 1) * GIB;
	else if (align == MB2)
		off = (test_below(8) ? test_below(4) : test_below(span / MB2 + 1)) * MB2;
	else
		off = (test_below(8) ? test_below(4) : test_below(span / MB2 + 1)) * MB2 +
		      (test_below(4) ? test_below(24) : test_below(512)) * KB4;
	uint64_t a = start + off;
	if (a + len > base + span)
		a = base + span >= len ? (base + span - len) & ~(align - 1) : base;
	if (a < base && base + span >= len)
		a = base; /* an unaligned region rather than one outside */
	if (a >= TOP || len > TOP - a)
		a = (TOP - len) & ~(align - 1);
	return a;
}

static uint64_t pick_addr(unsigned n, uint64_t len)
{
	const uint64_t align = pick_align(len);
	const struct space_extent *ext;
	const size_t next = space_extents(&ext);

	if (test_below(10) < (n == 0 ? 8u : 3u)) {
		const struct space_extent *e = &ext[test_below(next)];
		for (unsigned k = 0; k < 16 && e->pages * KB4 < len && test_below(10); k++)
			e = &ext[test_below(next)]; /* one that can hold the region, mostly */
		return place_in(e->base, e->pages * KB4, len, align);
	}
	return place_in(windows[test_below(ARRAY_SIZE(windows))], GIB, len, align);
}

static const unsigned rights_set[] = {R, RW, RX, RWX};

/* An existing client space, or 0 when there is none. */
static unsigned pick_client(void)
{
	unsigned have[SPACE_MAX], k = 0;

	for (unsigned n = 1; n < MAX_SPACES; n++)
		if (space_exists(n))
			have[k++] = n;
	return k ? have[test_below(k)] : 0;
}

static unsigned pick_space(unsigned sigma0_percent)
{
	if (test_below(100) == 0)
		return MAX_SPACES + (unsigned)test_below(3); /* one that does not exist */
	if (test_below(100) < sigma0_percent)
		return 0;
	return pick_client();
}

static unsigned count_spaces(void)
{
	unsigned k = 0;

	for (unsigned n = 0; n < SPACE_MAX; n++)
		k += space_exists(n);
	return k;
}

/* Regions recent maps and grants set: half the sources and targets come
 * from here, so that most commands find something to work on. */
#define RECENT 64
static struct {
	unsigned n;
	uint64_t v, len;
} recent[RECENT];
static unsigned nrecent;

static void note_recent(unsigned n, uint64_t v, uint64_t len)
{
	recent[nrecent++ % RECENT] = (typeof(recent[0])){n, v, len};
}

/* A piece of a recent region (or of one near it): n, v and len. */
static bool pick_recent(struct op *o)
{
	if (!nrecent || test_below(2))
		return false;
	const unsigned k = (unsigned)test_below(nrecent < RECENT ? nrecent : RECENT);
	const uint64_t pages = recent[k].len / KB4;
	const uint64_t first = test_below(4) ? test_below(pages) : 0;
	o->n = recent[k].n;
	o->v = recent[k].v + first * KB4;
	if (test_below(4))
		o->len = (test_below(4) ? 1 + test_below(pages - first) : pages - first) * KB4;
	if (o->v >= TOP || o->len > TOP - o->v)
		o->len = KB4;
	return true;
}

/* Whether a page of o's source (up to 512 pages) holds nothing. */
static bool source_holes(const struct op *o)
{
	if (o->len > 512 * KB4)
		return false;
	for (uint64_t off = 0; off < o->len; off += KB4)
		if (!model_get(&fx.m, o->n, o->v + off, NULL))
			return true;
	return false;
}

static struct op random_op(bool gib, uint64_t reset_every)
{
	const uint64_t x = test_below(1000);
	struct op o = {.rights = rights_set[test_below(4)]};

	if (test_below(reset_every) == 0) {
		o.kind = OP_RESET;
		return o;
	}
	o.len = pick_len(gib);
	if (x < 250) {
		o.kind = test_below(3) ? OP_MAP : OP_GRANT;
		o.n = pick_space(40);
	} else if (x < 400) {
		o.kind = OP_MAP; /* feed the clients from sigma0 */
		o.n = 0;
	} else if (x < 500) {
		o.kind = OP_GRANT;
		o.n = pick_space(30);
	} else if (x < 640) {
		o.kind = OP_UNMAP;
		o.n = pick_space(25);
	} else if (x < 780) {
		o.kind = OP_FLUSH;
		o.n = pick_space(15);
	} else if (x < 940) {
		o.kind = OP_PROTECT;
		o.n = pick_space(20);
	} else if (x < 965 && count_spaces() > 1) {
		o.kind = OP_DEL;
		o.n = test_below(20) ? pick_client() : (test_below(2) ? 0 : MAX_SPACES + 1);
		return o;
	} else if (count_spaces() < MAX_SPACES) {
		o.kind = OP_NEW;
		return o;
	} else {
		o.kind = OP_MAP;
		o.n = pick_space(50);
	}
	const bool source = o.kind == OP_MAP || o.kind == OP_GRANT;
	for (unsigned tries = source && test_below(4) ? 4 : 1; tries--;) {
		if (!(o.n < MAX_SPACES && pick_recent(&o)))
			o.v = pick_addr(o.n, o.len);
		if (!source || !source_holes(&o))
			break;
	}
	if (source) {
		o.n2 = pick_space(5);
		if (test_below(20) == 0 && o.len <= MB2) {
			/* the same space, overlapping or near (not larger: chains of
			 * derivations a GiB long make map and flush quadratic, see
			 * test_chain_cost) */
			o.n2 = o.n;
			o.v2 = o.v + (test_below(2) ? 1 : -1) * (int64_t)(test_below(8) * KB4);
			if (o.v2 >= TOP || o.len > TOP - o.v2)
				o.v2 = o.v;
		} else {
			o.v2 = pick_addr(o.n2, o.len);
		}
	}
	return o;
}

struct tally {
	uint64_t ops, failed, invalid, pages, big, gib, kinds[OP_POOL_SHRINK + 1];
};

static void random_run(uint64_t s, uint64_t ops, uint64_t check_every, uint64_t reset_every)
{
	const bool gib = fx.ng1 >= 2;
	struct tally t = {0};
	const clock_t t0 = clock();

	test_rng_seed(s);
	nrecent = 0;
	fx.check_each = false;
	while (count_spaces() < MAX_SPACES)
		new_space();
	for (uint64_t i = 0; i < ops; i++) {
		const struct op o = random_op(gib, reset_every);
		uint64_t pages;
		const clock_t c0 = clock();
		const err_t e = step_pages(&o, &pages);
		if (getenv("SPACE_VERBOSE") && clock() - c0 > CLOCKS_PER_SEC / 2) {
			char d[160];
			op_str(&o, d, sizeof(d));
			print_message("  op %llu took %.1f s: %s: %s\n", U(i),
			              (double)(clock() - c0) / CLOCKS_PER_SEC, d, e ? e : "ok");
		}
		if (!e && (o.kind == OP_MAP || o.kind == OP_GRANT) && pages)
			note_recent(o.n2, o.v2, o.len);
		if (o.kind == OP_RESET && !e)
			nrecent = 0;
		t.ops++;
		t.big += !e && o.len >= MB2 && o.kind <= OP_PROTECT;
		t.gib += !e && o.len >= GIB && o.kind <= OP_PROTECT;
		t.kinds[o.kind]++;
		t.failed += e != NULL;
		t.invalid += e == space_err_invalid;
		t.pages += pages;
		if ((i + 1) % check_every == 0) {
			snprintf(test_where, sizeof(test_where),
			         "%s machine, seed %llu, full check after op %llu", fx.mc->name,
			         U(s), U(i + 1));
			full_check();
			if (getenv("SPACE_VERBOSE"))
				print_message("  op %llu: %.1f s, 0x%llx nodes\n", U(i + 1),
				              (double)(clock() - t0) / CLOCKS_PER_SEC, U(nodes()));
		}
	}
	full_check();
	struct mdb_stats ms;
	struct space_stats st;
	mdb_stats(&ms);
	space_stats(&st);
	print_message("%s machine, seed %llu: %llu ops (map %llu grant %llu unmap %llu flush %llu "
	              "protect %llu new %llu del %llu reset %llu), %llu failed (%llu on an invalid "
	              "source), %llu regions of 2M or "
	              "more and %llu of 1G or more done, 0x%llx pages; "
	              "%.1f s; database pages 0x%llx, pool free 0x%llx of 0x%llx\n",
	              fx.mc->name, U(s), U(t.ops), U(t.kinds[OP_MAP]), U(t.kinds[OP_GRANT]),
	              U(t.kinds[OP_UNMAP]), U(t.kinds[OP_FLUSH]), U(t.kinds[OP_PROTECT]),
	              U(t.kinds[OP_NEW]), U(t.kinds[OP_DEL]), U(t.kinds[OP_RESET]), U(t.failed),
	              U(t.invalid), U(t.big), U(t.gib), U(t.pages),
	              (double)(clock() - t0) / CLOCKS_PER_SEC, U(ms.pages), U(st.pool_free),
	              U(st.pool));
}

#define SMALL_SEEDS 4

static void random_small(unsigned k)
{
	const uint64_t ops = env_u64("SPACE_OPS", 1000000) / SMALL_SEEDS;

	random_run(env_u64("SPACE_SEED", 1) + k, ops, 1000, 500);
}

/* Lockstep with the model over random operations on the small machine
 * (regions of 4K to several 2M, 10 spaces), one seed each. */
static void test_random_small_0(void **state)
{
	(void)state;
	random_small(0);
}
static void test_random_small_1(void **state)
{
	(void)state;
	random_small(1);
}
static void test_random_small_2(void **state)
{
	(void)state;
	random_small(2);
}
static void test_random_small_3(void **state)
{
	(void)state;
	random_small(3);
}

/* Lockstep on the big machine: regions up to and beyond 1G, aligned and
 * not; full checks are costly there (sigma0 maps 2 GiB), so fewer. */
static void test_random_big(void **state)
{
	(void)state;
	random_run(env_u64("SPACE_SEED", 1) + 100, env_u64("SPACE_BIG_OPS", 100000), 10000, 5000);
}

/* ---- e. every allocation point failed in turn ------------------------------------- */

/* The counts a failed command must leave as they were, and that deleting
 * every client space must bring back to their boot values: the database's
 * nodes, free nodes and pages, the table pages, the pool's used and free
 * frames, the stash, sigma0's pages and nodes. */
struct counters {
	uint64_t nodes, mdb_free, mdb_pages, mdb_frames, ptables, pool_used, pool_free, stash,
	    sigma0, s0_nodes;
};

static uint64_t s0_nodes(void)
{
	struct space_stats st;
	uint64_t n = 0;

	space_stats(&st);
	for (uint64_t pos = 0; pos < SPACE_USER_TOP;) {
		struct pt_walk w;
		const mdb_id x = space_node(0, pos);
		if (x) {
			n++;
			pos = mdb_va(mdb_at(x)) + mdb_size(mdb_at(x));
			continue;
		}
		pt_walk(space_pt(0), va_init(pos), &w);
		const uint64_t span = (uint64_t)KB4 << (9 * (PT_LEVELS - w.depth));
		pos =
		    w.step[w.depth - 1].kind == PTE_ABSENT ? (pos & ~(span - 1)) + span : pos + KB4;
	}
	return n;
}

static void take_counters(struct counters *c)
{
	struct space_stats st;
	struct mdb_stats ms;
	struct frame_stats fs;

	space_stats(&st);
	mdb_stats(&ms);
	frame_stats(&fs);
	*c = (struct counters){.nodes = ms.nodes,
	                       .mdb_free = ms.free,
	                       .mdb_pages = ms.pages,
	                       .mdb_frames = fs.owned[FRAME_MDB],
	                       .ptables = fs.owned[FRAME_PTABLE],
	                       .pool_used = st.pool_used,
	                       .pool_free = st.pool_free,
	                       .stash = st.stash,
	                       .sigma0 = st.sigma0,
	                       .s0_nodes = s0_nodes()};
}

static void same_counters(const struct counters *a, const struct counters *b, const char *what)
{
	static const char *const names[] = {
	    "nodes",     "free nodes", "database pages", "mdb frames",   "table pages",
	    "pool used", "pool free",  "stash",          "sigma0 pages", "sigma0 nodes"};
	const uint64_t *x = &a->nodes, *y = &b->nodes;

	_Static_assert(sizeof(struct counters) == sizeof(names) / sizeof(names[0]) * 8,
	               "a name per count");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (x[i] != y[i])
			test_failf("%s: %s 0x%llx, was 0x%llx", what, names[i], U(y[i]), U(x[i]));
}

struct hog_run {
	paddr_t pa;
	uint64_t count;
};
static struct {
	struct hog_run *r;
	size_t n, cap;
} hog;

/* Leave exactly `keep` frames free: the rest goes to the console's owner. */
static void hog_take(uint64_t keep)
{
	struct frame_stats s;

	for (frame_stats(&s); s.free > keep; frame_stats(&s)) {
		uint64_t take = s.free - keep;
		paddr_t pa;
		if (take > s.largest_frames)
			take = s.largest_frames;
		assert_null(frame_alloc(take, FRAME_CONSOLE, &pa));
		if (hog.n == hog.cap) {
			hog.cap = hog.cap ? 2 * hog.cap : 64;
			hog.r = realloc(hog.r, hog.cap * sizeof(*hog.r));
			assert_non_null(hog.r);
		}
		hog.r[hog.n++] = (struct hog_run){pa, take};
	}
	assert_int_equal(s.free, keep);
}

static void hog_give(void)
{
	while (hog.n) {
		hog.n--;
		assert_null(frame_free(hog.r[hog.n].pa, hog.r[hog.n].count, FRAME_CONSOLE));
	}
}

/* What must not change when an operation fails. */
struct snap {
	struct space_stats st;
	uint64_t ptables, mdb, console;
};

static void take_snap(struct snap *s)
{
	struct frame_stats fs;

	space_stats(&s->st);
	frame_stats(&fs);
	s->ptables = fs.owned[FRAME_PTABLE];
	s->mdb = fs.owned[FRAME_MDB];
	s->console = fs.owned[FRAME_CONSOLE];
}

static void same_model_state(const struct snap *a, const struct snap *b)
{
	if (a->st.spaces != b->st.spaces || a->st.pages != b->st.pages ||
	    a->st.client != b->st.client || a->st.sigma0 != b->st.sigma0 ||
	    a->st.reachable != b->st.reachable || a->st.orphaned != b->st.orphaned ||
	    a->st.pool != b->st.pool)
		test_failf(
		    "the counts changed: spaces %u/%u pages 0x%llx/0x%llx client 0x%llx/0x%llx "
		    "sigma0 0x%llx/0x%llx reachable 0x%llx/0x%llx pool 0x%llx/0x%llx",
		    a->st.spaces, b->st.spaces, U(a->st.pages), U(b->st.pages), U(a->st.client),
		    U(b->st.client), U(a->st.sigma0), U(b->st.sigma0), U(a->st.reachable),
		    U(b->st.reachable), U(a->st.pool), U(b->st.pool));
	if (a->ptables != b->ptables)
		test_failf("table pages 0x%llx before, 0x%llx after a failure", U(a->ptables),
		           U(b->ptables));
	if (b->console != a->console)
		test_failf("console frames changed");
}

/* Client extents, copied (pool grow and shrink change them). */
struct extents {
	struct space_extent e[4096];
	size_t n;
};

static void copy_extents(struct extents *x)
{
	const struct space_extent *ext;

	x->n = space_extents(&ext);
	memcpy(x->e, ext, x->n * sizeof(*ext));
}

static bool in_extents(const struct extents *x, uint64_t pa)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		const size_t mid = (lo + hi) / 2;
		if (pa < x->e[mid].base)
			hi = mid;
		else if (pa >= x->e[mid].base + x->e[mid].pages * KB4)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Pages of a that b lacks, as runs: fn(base, pages); their count. */
static uint64_t extents_minus(const struct extents *a, const struct extents *b,
                              void (*fn)(uint64_t base, uint64_t pages))
{
	uint64_t total = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint64_t run = 0, start = 0;
		for (uint64_t k = 0; k <= a->e[i].pages; k++) {
			const uint64_t pa = a->e[i].base + k * KB4;
			if (k < a->e[i].pages && !in_extents(b, pa)) {
				if (!run++)
					start = pa;
				continue;
			}
			if (run && fn)
				fn(start, run);
			total += run;
			run = 0;
		}
	}
	return total;
}

/* The oracle follows pool grow (frames leave sigma0) and shrink (frames
 * join it, at v == r, rwx). */
static void left_sigma0(uint64_t base, uint64_t pages)
{
	uint64_t done;

	for (uint64_t k = 0; k < pages; k++)
		if (space_lookup(0, base + k * KB4, &(struct space_hit){0}))
			test_failf("0x%llx left the clients but sigma0 still maps it",
			           U(base + k * KB4));
	assert_null(model_flush(&fx.m, 0, base, pages, &done));
	assert_int_equal(done, pages);
}

static void joined_sigma0(uint64_t base, uint64_t pages)
{
	for (uint64_t k = 0; k < pages; k++)
		EXPECT(0, base + k * KB4, base + k * KB4, RWX);
	assert_null(model_sigma0(&fx.m, base, pages));
}

static struct extents ext_before, ext_after;

/* The layer's result of o against the model (or, for the pool, against the
 * extents), as step does. */
static void agree(const struct op *o, err_t se, uint64_t sp, unsigned made)
{
	uint64_t mp = 0;

	if (o->kind == OP_POOL_GROW || o->kind == OP_POOL_SHRINK) {
		copy_extents(&ext_after);
		if (o->kind == OP_POOL_GROW) {
			assert_int_equal(extents_minus(&ext_before, &ext_after, left_sigma0),
			                 o->len);
			assert_int_equal(extents_minus(&ext_after, &ext_before, NULL), 0);
		} else {
			assert_int_equal(extents_minus(&ext_after, &ext_before, joined_sigma0),
			                 o->len);
			assert_int_equal(extents_minus(&ext_before, &ext_after, NULL), 0);
		}
		compare_counts();
		return;
	}
	const err_t me = run_model(o, made, &mp);
	if (as_model(se) != me)
		test_failf("the layer says \"%s\", the model \"%s\"", se ? se : "success",
		           me ? me : "success");
	if (!se && sp != mp)
		test_failf("the layer counts 0x%llx pages, the model 0x%llx", U(sp), U(mp));
	compare_touched(o);
}

/*
 * Run o with exactly K frames free in the pool, for K = 0, 1, 2, ... until
 * it succeeds. Each failure must be space_err_nomem and leave the model's
 * state as it was (the touched pages and every space's count against the
 * oracle, which did not run; the counts; no table page kept), and check
 * must pass once the frames are back. Returns the K that sufficed.
 */
static uint64_t fail_each(struct op o, unsigned check_every)
{
	char s[160];

	op_str(&o, s, sizeof(s));
	for (uint64_t k = 0;; k++) {
		struct snap a, b;
		uint64_t pages;
		unsigned made;

		snprintf(test_where, sizeof(test_where), "%s machine: %s with 0x%llx frames free",
		         fx.mc->name, s, U(k));
		if (k > 20000)
			test_failf("never succeeds");
		take_snap(&a);
		copy_extents(&ext_before);
		struct counters ca, cb;
		hog_take(k);
		take_counters(&ca);
		const err_t e = run_space(&o, &pages, &made);
		take_counters(&cb);
		hog_give();
		if (!e) {
			agree(&o, e, pages, made);
			check_ok();
			return k;
		}
		if (e != space_err_nomem)
			test_failf("fails with \"%s\"", e);
		same_counters(&ca, &cb, "after a failure");
		take_snap(&b);
		same_model_state(&a, &b);
		compare_touched(&o);
		copy_extents(&ext_after);
		if (ext_after.n != ext_before.n ||
		    memcmp(ext_after.e, ext_before.e, ext_after.n * sizeof(ext_after.e[0])))
			test_failf("the client extents changed");
		if (k < 4 || (k & (k - 1)) == 0 || k % check_every == 0)
			check_ok();
	}
}

/* A tree of five 1G nodes from sigma0's second GiB: 0:g2 -> 1:1G -> 2:1G,
 * 1:1G -> 3:2G, 2:1G -> 4:1G. */
static void gib_tree(void)
{
	const uint64_t g2 = fx.g1[1];

	while (count_spaces() < 6)
		new_space();
	step(op_map(0, g2, 1, GIB, GIB, RWX));
	step(op_map(1, GIB, 2, GIB, GIB, RW));
	step(op_map(1, GIB, 3, 2 * GIB, GIB, RX));
	step(op_map(2, GIB, 4, GIB, GIB, R));
}

static void report_k(const char *what, uint64_t k)
{
	struct snap a;

	take_snap(&a);
	print_message("  %-44s succeeds with 0x%llx free frames (stash 0x%llx)\n", what, U(k),
	              U(a.st.stash));
}

/* Each operation, with the pool made to hold K free frames for K = 0, 1,
 * ...: every failure is nomem and changes nothing, then it succeeds; a
 * reset and the console's frames back leave the pool as it was at boot
 * but for the database pages and stash it holds on to. */
static void test_nomem_each(void **state)
{
	struct frame_stats fs;
	struct mdb_stats ms;
	const uint64_t g = fx.g1[0], g2 = fx.g1[1];
	(void)state;

	assert_int_equal(fx.ng1, 2);
	fx.check_each = false;
	while (count_spaces() < 6)
		new_space();
	report_k("map 4K from a sigma0 1G page",
	         fail_each(op_map(0, g + 0x5000, 1, 0x3000, KB4, RW), 64));
	report_k("map 1G", fail_each(op_map(0, g2, 2, GIB, GIB, RWX), 64));
	report_k("grant 1G", fail_each(op_grant(2, GIB, 3, 4 * GIB, GIB, RX), 64));
	step(op_reset());
	gib_tree();
	report_k("map 4K out of a tree of five 1G nodes",
	         fail_each(op_map(1, GIB + 0x201000, 5, 0x1000, KB4, RWX), 64));
	step(op_reset());
	gib_tree();
	report_k("unmap 4K of a 1G tree", fail_each(op_unmap(1, GIB + 0x7000, KB4), 64));
	step(op_reset());
	gib_tree();
	report_k("flush 4K of a 1G tree", fail_each(op_flush(1, GIB + 0x3000, KB4), 64));
	step(op_reset());
	gib_tree();
	report_k("protect 8K of a 1G tree", fail_each(op_protect(1, GIB + 0x3000, 2 * KB4, R), 64));
	step(op_reset());
	gib_tree();
	report_k("unmap 2M of a 1G tree", fail_each(op_unmap(1, GIB + 4 * MB2, MB2), 64));
	step(op_reset());
	gib_tree();
	report_k("grant 4K out of a 1G tree",
	         fail_each(op_grant(1, GIB + 0x2000, 5, 0x10000, KB4, RWX), 64));
	report_k("grant 2M out of a 1G tree",
	         fail_each(op_grant(2, GIB + 6 * MB2, 5, 0x400000, MB2, RWX), 64));
	report_k("space new", fail_each(op_new(), 64));
	step(op_reset());
	gib_tree();
	report_k("space del (with a 1G tree below)", fail_each(op_del(1), 64));
	full_check();
	step(op_reset());
	report_k("pool grow 0x100", fail_each((struct op){.kind = OP_POOL_GROW, .len = 0x100}, 64));
	report_k("pool shrink 0x40",
	         fail_each((struct op){.kind = OP_POOL_SHRINK, .len = 0x40}, 64));
	/* the oracle's boot frames are no longer sigma0's after the pool moved
	 * frames: no model_reset from here on */
	assert_null(space_reset());
	full_check();
	frame_stats(&fs);
	mdb_stats(&ms);
	struct space_stats st;
	space_stats(&st);
	print_message(
	    "  after reset: free 0x%llx (boot 0x%llx), database pages 0x%llx (boot 0x%llx), "
	    "table pages 0x%llx (boot 0x%llx), stash 0x%llx\n",
	    U(fs.free), U(fx.boot.free), U(ms.pages), U(fx.boot.owned[FRAME_MDB]),
	    U(fs.owned[FRAME_PTABLE]), U(fx.boot.owned[FRAME_PTABLE]), U(st.stash));
	/* pool grow 0x100 then shrink 0x40: 0xc0 more frames in the pool */
	assert_int_equal(st.pool, fx.boot_stats.pool + 0xc0);
	assert_int_equal(fs.free + fs.owned[FRAME_MDB] + fs.owned[FRAME_PTABLE],
	                 fx.boot.free + fx.boot.owned[FRAME_MDB] + fx.boot.owned[FRAME_PTABLE] +
	                     0xc0);
	assert_int_equal(fs.owned[FRAME_CONSOLE], 0);
}

/* ---- f. bad input ------------------------------------------------------------------ */

/* Nonexistent spaces, bad addresses, sizes and rights: each the documented
 * error, nothing changed. */
static void test_bad_input(void **state)
{
	const uint64_t a = fx.a4;
	(void)state;

	const unsigned s1 = new_space();
	step(op_map(0, a, s1, 0x1000, 4 * KB4, RWX));
	step(op_map(0, fx.m2, s1, 0x200000, MB2, RWX));
	const struct {
		struct op o;
		err_t want;
	} cases[] = {
	    {op_map(0, a, 200, 0x1000, KB4, RWX), space_err_nospace},
	    {op_map(200, a, s1, 0x1000, KB4, RWX), space_err_nospace},
	    {op_map(0, a, SPACE_MAX, 0x1000, KB4, RWX), space_err_nospace},
	    {op_grant(0, a, 0xffffffffu, 0x1000, KB4, RWX), space_err_nospace},
	    {op_unmap(SPACE_MAX + 5, 0x1000, KB4), space_err_nospace},
	    {op_flush(77, 0x1000, KB4), space_err_nospace},
	    {op_protect(200, 0x1000, KB4, R), space_err_nospace},
	    {op_del(77), space_err_nospace},
	    {op_del(SPACE_MAX), space_err_nospace},
	    {op_del(0), space_err_sigma0},
	    {op_map(0, a + 1, s1, 0x5000, KB4, RWX), space_err_align},
	    {op_map(0, a, s1, 0x5008, KB4, RWX), space_err_align},
	    {op_map(0, a, s1, 0x5000, 0, RWX), space_err_align},
	    {op_grant(0, a, s1, 0x5000, 0x1800, RWX), space_err_align},
	    {op_unmap(s1, 0x1001, KB4), space_err_align},
	    {op_unmap(s1, 0x1000, 0), space_err_align},
	    {op_protect(s1, 0x1000, 0x10, R), space_err_align},
	    {op_flush(s1, 0x1000, KB4 + 1), space_err_align},
	    {op_unmap(s1, 0x0000800000000000, KB4), space_err_range},
	    {op_map(0, a, s1, 0x00ff000000000000, KB4, RWX), space_err_range},
	    {op_flush(s1, 0x8000000000000000, KB4), space_err_range},
	    {op_map(0, 0x0000800000001000, s1, 0x1000, KB4, RWX), space_err_range},
	    {op_unmap(s1, 0xffff800000000000, KB4), space_err_reserved},
	    {op_map(0, a, s1, PLAT_RSV_BASE, KB4, RWX), space_err_reserved},
	    {op_map(0, PLAT_RSV_BASE, s1, 0x1000, KB4, RWX), space_err_reserved},
	    {op_protect(s1, 0xfffffffffffff000, KB4, R), space_err_reserved},
	    {op_flush(0, PLAT_RSV_BASE + 0x3000, KB4), space_err_reserved},
	    {op_map(0, a, s1, TOP - KB4, 2 * KB4, RWX), space_err_range},
	    {op_unmap(s1, TOP - KB4, 2 * KB4), space_err_range},
	    {op_flush(s1, 0, TOP + KB4), space_err_range},
	    {op_unmap(s1, KB4, ~(uint64_t)0xfff), space_err_range},
	    {op_protect(s1, TOP - MB2, (uint64_t)1 << 63, R), space_err_range},
	    {op_map(s1, 0x1000, s1, 0x5000, KB4, 0), space_err_rights},
	    {op_map(s1, 0x1000, s1, 0x5000, KB4, RIGHTS_W), space_err_rights},
	    {op_grant(s1, 0x1000, s1, 0x5000, KB4, RIGHTS_W | RIGHTS_X), space_err_rights},
	    {op_map(s1, 0x1000, s1, 0x5000, KB4, RIGHTS_X), space_err_rights},
	    {op_map(s1, 0x1000, s1, 0x5000, KB4, RIGHTS_R | 0x8), space_err_rights},
	    {op_protect(s1, 0x1000, KB4, RIGHTS_W), space_err_rights},
	    {op_protect(s1, 0x1000, KB4, RIGHTS_R | 0x10), space_err_rights},
	    {op_protect(s1, 0x1000, KB4, 0), space_err_rights},
	    {op_map(s1, 0x1000, s1, 0x9000, 5 * KB4, RWX), space_err_invalid},
	    {op_grant(s1, 0x4000, 0, 0x9000, 2 * KB4, RWX), space_err_invalid},
	    {op_map(s1, 0x200000, 0, 0x9000, MB2 + KB4, RWX), space_err_invalid},
	    {op_map(s1, 0x1ff000, 0, 0x9000, 2 * KB4, RWX), space_err_invalid},
	};
	struct snap before, after;
	take_snap(&before);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		step_fails(cases[i].o, cases[i].want);
		take_snap(&after);
		same_model_state(&before, &after);
	}
	/* lookup refuses what no client can map */
	struct space_hit h;
	assert_false(space_lookup(s1, TOP, &h));
	assert_false(space_lookup(s1, PLAT_RSV_BASE, &h));
	assert_false(space_lookup(77, 0x1000, &h));
	assert_true(space_lookup(s1, 0x1234, &h));
	assert_int_equal(pa_addr(h.pa), a + 0x234);
	/* pool: zero counts, and more than there is */
	assert_err(space_pool_grow(0), space_err_align);
	assert_err(space_pool_shrink(0), space_err_align);
	assert_err(space_pool_grow((uint64_t)1 << 40), space_err_busy);
	assert_err(space_pool_shrink((uint64_t)1 << 40), space_err_nomem);
	take_snap(&after);
	same_model_state(&before, &after);
	/* every space number in use */
	unsigned n;
	fx.check_each = false;
	while (count_spaces() < SPACE_MAX)
		new_space();
	assert_err(space_new(&n), space_err_full);
	full_check();
	step(op_reset());
}

/* ---- g. the pool ------------------------------------------------------------------------ */

static void counts_add_up(void)
{
	struct frame_stats fs;
	struct space_stats st;

	frame_stats(&fs);
	space_stats(&st);
	assert_int_equal(st.client, fs.owned[FRAME_CLIENT]);
	assert_int_equal(st.pool_free, fs.free);
	assert_int_equal(st.pool_used,
	                 fs.owned[FRAME_PTABLE] + fs.owned[FRAME_MDB] + fs.owned[FRAME_CONSOLE]);
	assert_int_equal(st.pool, st.pool_free + st.pool_used);
	assert_int_equal(fs.total, st.client + st.pool + fs.owned[FRAME_MONITOR]);
	assert_int_equal(fs.owned[FRAME_MONITOR], fx.boot.owned[FRAME_MONITOR]);
	assert_int_equal(st.orphaned + st.reachable, st.client);
}

static void pool_op(enum op_kind kind, uint64_t count)
{
	const struct op o = {.kind = kind, .len = count};
	uint64_t pages;
	unsigned made;
	char s[64];

	op_str(&o, s, sizeof(s));
	snprintf(test_where, sizeof(test_where), "%s", s);
	copy_extents(&ext_before);
	const err_t e = run_space(&o, &pages, &made);
	if (e)
		test_failf("%s", e);
	agree(&o, e, pages, made);
	full_check();
	counts_add_up();
}

/* pool grow and shrink move frames between sigma0 and the pool; grow takes
 * only frames from which nothing derives, and refuses when there are too
 * few; the counts always add up. */
static void test_pool(void **state)
{
	struct space_stats a, b;
	(void)state;

	counts_add_up();
	space_stats(&a);
	pool_op(OP_POOL_GROW, 100);
	space_stats(&b);
	assert_int_equal(b.pool, a.pool + 100);
	assert_int_equal(b.sigma0, a.sigma0 - 100);
	assert_int_equal(b.client, a.client - 100);
	pool_op(OP_POOL_SHRINK, 300);
	space_stats(&a);
	assert_int_equal(a.pool, b.pool - 300);
	assert_int_equal(a.sigma0, b.sigma0 + 300);
	pool_op(OP_POOL_GROW, 513); /* across node boundaries */
	pool_op(OP_POOL_SHRINK, 1);
	/* map every sigma0 page to space 1: then nothing can go to the pool */
	const unsigned s1 = new_space();
	const struct space_extent *ext;
	struct extents all;
	copy_extents(&all);
	for (size_t i = 0; i < all.n; i++)
		step(op_map(0, all.e[i].base, s1, all.e[i].base, all.e[i].pages * KB4, R));
	space_stats(&a);
	assert_err(space_pool_grow(1), space_err_busy);
	space_stats(&b);
	assert_int_equal(b.sigma0, a.sigma0);
	assert_int_equal(b.pool, a.pool);
	/* free five pages of their derivations: exactly those can go */
	(void)space_extents(&ext);
	const uint64_t p = all.e[all.n / 2].base;
	step(op_unmap(0, p + 3 * KB4, 5 * KB4));
	pool_op(OP_POOL_GROW, 5);
	for (uint64_t k = 3; k < 8; k++)
		EXPECT_NONE(0, p + k * KB4);
	EXPECT(s1, p + 8 * KB4, p + 8 * KB4, R);
	assert_err(space_pool_grow(1), space_err_busy);
	/* a page granted within sigma0 (v != r) is not taken either */
	step(op_del(s1));
	step(op_grant(0, p + 16 * KB4, 0, p + 3 * KB4, KB4, RWX));
	space_stats(&a);
	const uint64_t s0 = a.sigma0;
	pool_op(OP_POOL_GROW, s0 - 1);
	EXPECT(0, p + 3 * KB4, p + 16 * KB4, RWX);
	assert_err(space_pool_grow(1), space_err_busy);
	/* shrink refuses, changing nothing, when sigma0 maps something (a page
	 * granted there) at the place a frame of the pool would take */
	struct frame_stats fs;
	frame_stats(&fs);
	const uint64_t q = pa_addr(fs.largest) + 5 * KB4;
	step(op_grant(0, p + 3 * KB4, 0, q, KB4, RW));
	space_stats(&a);
	assert_err(space_pool_shrink(fs.largest_frames), space_err_occupied);
	space_stats(&b);
	assert_int_equal(b.pool, a.pool);
	assert_int_equal(b.sigma0, a.sigma0);
	assert_int_equal(b.client, a.client);
	EXPECT(0, q, p + 16 * KB4, RW);
	check_ok();
	step(op_grant(0, q, 0, p + 3 * KB4, KB4, RWX));
	/* and back: every frame to sigma0 but what the pool needs */
	pool_op(OP_POOL_SHRINK, s0 - 1024);
	space_stats(&b);
	assert_int_equal(b.sigma0, 1 + s0 - 1024);
	/* reset: sigma0 maps exactly the extents, at v == r */
	assert_null(space_reset());
	copy_extents(&all);
	for (size_t i = 0; i < all.n; i++)
		for (uint64_t k = 0; k < all.e[i].pages; k++)
			EXPECT(0, all.e[i].base + k * KB4, all.e[i].base + k * KB4, RWX);
	space_stats(&b);
	assert_int_equal(b.sigma0, b.client);
	check_ok();
	counts_add_up();
}

/* ---- h. peek and poke through the MMU ------------------------------------------------------ */

static bool access_word(unsigned n, uint64_t v, bool write, uint64_t *value, struct plat_fault *f)
{
	return plat_access(space_pt(n)->root, va_init(v), write, value, f);
}

/* A word poked through one space is read through another that maps the
 * same frame; a read-only page faults on write (protection, write); an
 * unmapped one faults not-present. */
static void test_peek_poke(void **state)
{
	const uint64_t a = fx.a4;
	struct plat_fault f;
	uint64_t x = 0x1122334455667788, y = 0;
	(void)state;

	const unsigned s1 = new_space(), s2 = new_space();
	step(op_map(0, a, s1, 0x1000, KB4, RW));
	step(op_map(s1, 0x1000, s2, 0x7000, KB4, RX));
	assert_true(access_word(s1, 0x1008, true, &x, &f));
	assert_true(access_word(s2, 0x7008, false, &y, &f));
	assert_int_equal(y, x);
	assert_true(access_word(0, a + 8, false, &y, &f));
	assert_int_equal(y, x);
	assert_int_equal(*(uint64_t *)plat_pa_to_ptr(pa_init(a + 8)), x);
	/* read-only: a write faults, protection + write, and writes nothing */
	y = 0xdead;
	assert_false(access_word(s2, 0x7010, true, &y, &f));
	assert_int_equal(f.vector, 14);
	assert_int_equal(f.code & 3, 3);
	assert_int_equal(f.addr, 0x7010);
	assert_true(access_word(s1, 0x1010, false, &y, &f));
	assert_int_equal(y, 0);
	/* not present: read and write */
	assert_false(access_word(s2, 0x9000, false, &y, &f));
	assert_int_equal(f.vector, 14);
	assert_int_equal(f.code & 3, 0);
	assert_false(access_word(s2, 0x9000, true, &y, &f));
	assert_int_equal(f.code & 3, 2);
	/* protect takes write away through the MMU too */
	step(op_protect(s1, 0x1000, KB4, R));
	assert_false(access_word(s1, 0x1008, true, &x, &f));
	assert_int_equal(f.code & 3, 3);
	/* unmap: the derived page is gone from the MMU */
	step(op_unmap(s1, 0x1000, KB4));
	assert_false(access_word(s2, 0x7008, false, &y, &f));
	assert_int_equal(f.code & 1, 0);
	/* through a superpage, at its far end */
	step(op_map(0, fx.m2, s2, 0x40000000, MB2, RW));
	x = 0xfeedface;
	assert_true(access_word(s2, 0x40000000 + MB2 - 8, true, &x, &f));
	assert_true(access_word(0, fx.m2 + MB2 - 8, false, &y, &f));
	assert_int_equal(y, x);
	/* after grant the new place reads the same word, the old one faults */
	step(op_grant(s2, 0x40000000 + MB2 - KB4, s1, 0x5000, KB4, RW));
	assert_true(access_word(s1, 0x5ff8, false, &y, &f));
	assert_int_equal(y, x);
	assert_false(access_word(s2, 0x40000000 + MB2 - 8, false, &y, &f));
}

/* ---- what commands need: memory and time ------------------------------------------ */

/* A 2M-aligned run of sigma0 of `bytes`, mapped at v == r (0: none). */
static uint64_t s0_run(uint64_t bytes)
{
	const struct space_extent *ext;
	const size_t n = space_extents(&ext);

	for (size_t i = 0; i < n; i++) {
		const uint64_t a = (ext[i].base + MB2 - 1) & ~(MB2 - 1);
		if (a + bytes <= ext[i].base + ext[i].pages * KB4)
			return a;
	}
	return 0;
}

/* flush, unmap and protect of the whole lower half of a space that maps
 * one page: SPEC's region commands cost O(pages), and need no memory for
 * pages that hold nothing. (The oracle would walk 2^35 pages: it follows
 * by hand.) */
static void test_whole_half(void **state)
{
	struct space_result r;
	(void)state;

	const unsigned s1 = new_space();
	step(op_map(0, fx.a4, s1, 0x7f0000001000, KB4, RWX));
	assert_null(space_protect(s1, 0, TOP, RX, &r));
	assert_int_equal(r.pages, 1);
	assert_null(model_protect(&fx.m, s1, 0x7f0000001000, 1, RX, NULL));
	assert_null(space_unmap(s1, 0, TOP, &r));
	assert_int_equal(r.pages, 0);
	assert_null(space_flush(s1, 0, TOP, &r));
	assert_int_equal(r.pages, 1);
	assert_null(model_flush(&fx.m, s1, 0x7f0000001000, 1, NULL));
	assert_null(space_flush(0, 0, TOP, &r)); /* sigma0, every page */
	assert_int_equal(r.pages, fx.boot_stats.sigma0);
	assert_null(model_reset(&fx.m));
	assert_null(model_space_create(&fx.m, s1));
	assert_null(space_reset());
	assert_null(model_reset(&fx.m));
	full_check();
}

/* protect along a chain of derivations (1:v+4K derives from 1:v, ...,
 * which one overlapping map makes) needs no table page. (It failed with
 * "the pool is exhausted" before 079860c: 3 table pages were reserved per
 * node of every node's subtree, about 394000 for a 2M chain.) */
static void test_chain_protect_reserve(void **state)
{
	(void)state;
	const unsigned s1 = new_space();
	step(op_map(0, fx.m2, s1, 0x400000, MB2, RWX));
	assert_int_equal(step(op_map(s1, 0x400000, s1, 0x401000, MB2 - KB4, RWX)), 511);
	assert_int_equal(step(op_unmap(s1, 0x400000, KB4)), 511); /* the whole chain below */
	step(op_map(0, fx.m2, s1, 0x400000, MB2, RWX));
	step(op_map(s1, 0x400000, s1, 0x401000, MB2 - KB4, RWX));
	assert_int_equal(step(op_protect(s1, 0x400000, MB2, R)), 512);
}

/* unmap of 4K nodes that still sit in superpage entries: the nodes of one
 * leaf share the tables its split needs. Three spaces map 16 MiB of space
 * 1 with 2M entries, a fourth map splits the database tree to 4K nodes,
 * and "unmap 1 V 16M" needs 3 * 8 page tables. (Before 079860c it asked
 * for 3 * 4096, more than the pool, and failed with "the pool is
 * exhausted".) */
static void test_shared_leaf_reserve(void **state)
{
	const uint64_t base = s0_run(16 * MIB), v = 0x40000000;
	(void)state;

	assert_true(base != 0);
	const unsigned s1 = new_space(), s2 = new_space(), s3 = new_space(), s4 = new_space(),
	               s5 = new_space();
	fx.check_each = false;
	step(op_map(0, base, s1, v, 16 * MIB, RWX));
	step(op_map(s1, v, s2, v, 16 * MIB, RWX));
	step(op_map(s1, v, s4, v, 16 * MIB, RWX));
	step(op_map(s1, v, s5, v, 16 * MIB, RWX));
	assert_int_equal(level_of(s2, v), 1);
	step(op_map(s1, v, s3, v + KB4, 16 * MIB, RWX)); /* 4K nodes for the whole tree */
	assert_int_equal(level_of(s2, v), 1);
	full_check();
	assert_int_equal(step(op_unmap(s1, v, 16 * MIB)), 4 * 4096);
	full_check();
}

/* Seconds the layer takes for o (run in lockstep, the model's time not
 * counted). */
static double timed_step(struct op o)
{
	uint64_t pages;
	unsigned made;
	char d[160];

	op_str(&o, d, sizeof(d));
	snprintf(test_where, sizeof(test_where), "%s machine, timed: %s", fx.mc->name, d);
	const clock_t c0 = clock();
	const err_t e = run_space(&o, &pages, &made);
	const double t = (double)(clock() - c0) / CLOCKS_PER_SEC;
	if (e)
		test_failf("%s", e);
	agree(&o, e, pages, made);
	return t;
}

/* A chain of n pages in sigma0 (page k + 1 derives from page k, which one
 * overlapping map makes), then a map of the chain into space s and a flush
 * of it; the layer's seconds for each. */
static void chain_costs(uint64_t base, uint64_t n, double *map, double *flush)
{
	const unsigned s = new_space();

	timed_step(op_map(0, base, 0, base + KB4, (n - 1) * KB4, RWX));
	*map = timed_step(op_map(0, base + KB4, s, 0x1000, (n - 1) * KB4, RWX));
	*flush = timed_step(op_flush(0, base + KB4, (n - 1) * KB4));
	step(op_reset());
}

/* map, grant and flush of a region whose pages derive from each other in
 * long chains cost O(pages): four times the pages cost about four times as
 * much, not sixteen. (Before fc9946c survey() walked each source node's
 * whole ancestor chain and the table-page count each node's whole subtree:
 * a 1G chain, "map 0 G 0 G+4K 0x3ffff000" then "flush 0 G+4K 0x3ffff000",
 * ran for hours, and a 4096-page chain took 1 s to flush.) */
static void test_chain_cost(void **state)
{
	const uint64_t base = s0_run(16 * MIB);
	double m1, f1, m4, f4;
	(void)state;

	assert_true(base != 0);
	fx.check_each = false;
	chain_costs(base, 1024, &m1, &f1);
	chain_costs(base, 4096, &m4, &f4);
	print_message("  chain of 1024 pages: map %.3f s, flush %.3f s; of 4096: map %.3f s, flush "
	              "%.3f s\n",
	              m1, f1, m4, f4);
	full_check();
	snprintf(test_where, sizeof(test_where), "%s machine, chain costs", fx.mc->name);
	if (m4 > 0.05 && m4 > 8 * m1)
		test_failf("map of a chain: 4 times the pages cost %.1f times as much", m4 / m1);
	if (f4 > 0.05 && f4 > 8 * f1)
		test_failf("flush of a chain: 4 times the pages cost %.1f times as much", f4 / f1);
}

/* ---- f. the database heals ------------------------------------------------------- */

/* One random cycle: a few client spaces, random maps out of sigma0 (from
 * 4K to 8M, aligned or not against the destination), remaps of single
 * pages with other rights, maps and grants between clients, unmaps in
 * sigma0 and in clients, flushes and protects in clients; then every
 * client space deleted in random order. */
static void heal_cycle(uint64_t base, uint64_t span)
{
	static const uint64_t lens[] = {KB4, 3 * KB4, 64 * KB4, MB2, MB2 + KB4, 4 * MB2};
	unsigned sp[3];
	const unsigned nsp = 1 + (unsigned)test_below(3);

	for (unsigned i = 0; i < nsp; i++)
		sp[i] = new_space();
	for (unsigned k = 1 + (unsigned)test_below(6); k > 0; k--) {
		const uint64_t len = lens[test_below(6)];
		const uint64_t v =
		    base + (test_below(2) ? 0 : test_below((span - len) / KB4) * KB4);
		const uint64_t d =
		    (test_below(4) + 1) * 4 * MB2 + (test_below(2) ? 0 : test_below(512) * KB4);
		const unsigned c = sp[test_below(nsp)], c2 = sp[test_below(nsp)];
		const unsigned r = rights_set[test_below(4)];
		switch (test_below(7)) {
		case 0:
		case 1:
			step_any(op_map(0, v, c, d, len, r));
			break;
		case 2: /* remap one page of it */
			step_any(op_map(0, v + test_below(len / KB4) * KB4, c, d, KB4, r));
			break;
		case 3:
			step_any(op_map(c, d, c2, d + test_below(2) * 8 * MB2, len, r));
			break;
		case 4:
			step_any(op_unmap(0, v, len));
			break;
		case 5:
			step_any(test_below(2) ? op_flush(c, d, len) : op_protect(c, d, len, r));
			break;
		default:
			step_any(op_grant(c, d, c2, d + 8 * MB2, len, r));
			break;
		}
	}
	for (unsigned i = nsp; i > 0; i--) {
		const unsigned j = (unsigned)test_below(i);
		step(op_del(sp[j]));
		sp[j] = sp[i - 1];
	}
}

/* After each of HEAL_CYCLES (10^4) random cycles that end with every
 * client space deleted, the database has healed: sigma0's nodes and
 * pages, the node count, the database's pages and free nodes, the table
 * pages and the pool's used and free frames are their boot values, while
 * the model agrees with every step. */
static void test_heal_cycles(void **state)
{
	const uint64_t cycles = env_u64("HEAL_CYCLES", 10000);
	const uint64_t span = 16 * MIB, base = s0_run(span);
	struct counters boot, now;
	(void)state;

	assert_true(base != 0);
	fx.check_each = false;
	test_rng_seed(11);
	take_counters(&boot);
	for (uint64_t i = 0; i < cycles; i++) {
		snprintf(test_where, sizeof(test_where), "%s machine, heal cycle %llu", fx.mc->name,
		         U(i));
		heal_cycle(base, span);
		take_counters(&now);
		same_counters(&boot, &now, "after every client space was deleted");
		if (i % 1000 == 0)
			check_ok();
	}
	full_check();
}

/* The cycle, on the big machine: map 256 MiB of sigma0 to a
 * misaligned place (sigma0's tree splits to 0x10000 4K nodes), remap a
 * page, unmap the region in sigma0, delete the space; twenty times. The
 * counts are the boot counts after each. */
static void test_heal_big_cycle(void **state)
{
	struct counters boot, now;
	const uint64_t g = fx.g1[0];
	(void)state;

	fx.check_each = false;
	take_counters(&boot);
	for (unsigned i = 0; i < 20; i++) {
		const unsigned s1 = new_space();
		step(op_map(0, g, s1, 0x1000, 0x10000000, RW));
		assert_int_equal(level_of(s1, 0x1000), 0);
		step(op_map(0, g + 0x5000, s1, 0x3000, KB4, R));
		step(op_unmap(0, g, 0x10000000));
		step(op_del(s1));
		take_counters(&now);
		same_counters(&boot, &now, "after a map, remap, unmap, space del cycle");
	}
	full_check();
}

/* The size of the database node of n holding v (0 4K, 1 2M, 2 1G). */
static unsigned node_level(unsigned n, uint64_t v)
{
	const uint32_t x = space_node(n, v);

	assert_true(x != MDB_NIL);
	return mdb_level(mdb_at(x));
}

/* A group whose pieces all still have mappings derived from them heals
 * too, and one that differs below its roots does not: sigma0's 2M block
 * mapped 2M into space a and 2M into b; a flush of one page of b splits
 * the tree (each of its three nodes into 512 4K nodes, one of b's gone);
 * the flush of the rest of b leaves every piece of sigma0 with one child
 * in a, the same shape: the tree joins back to one 2M node in sigma0 and
 * one in a. With one page of a made read-only first, it stays split. */
static void test_heal_shaped(void **state)
{
	const uint64_t s = s0_run(MB2), d = 4 * MB2;
	(void)state;

	assert_true(s != 0);
	for (unsigned pin = 0; pin < 2; pin++) {
		const unsigned a = new_space(), b = new_space();
		step(op_map(0, s, a, d, MB2, RWX));
		step(op_map(0, s, b, d, MB2, RWX));
		assert_int_equal(node_level(b, d), 1);
		const uint64_t n1 = nodes();
		step(op_flush(b, d + 5 * KB4, KB4));
		assert_int_equal(node_level(a, d), 0);
		assert_int_equal(nodes(), n1 + 3 * 511 - 1);
		if (pin)
			step(op_protect(a, d + 7 * KB4, KB4, R));
		step(op_flush(b, d, MB2));
		assert_int_equal(node_level(a, d), pin ? 0 : 1);
		assert_int_equal(node_level(0, s + 9 * KB4), pin ? 0 : 1);
		/* the three 2M nodes were n1's; now 2 x 512 4K nodes, or 2 */
		assert_int_equal(nodes(), pin ? n1 - 3 + 2 * 512 : n1 - 1);
		full_check();
		step(op_del(b));
		step(op_del(a));
	}
}

int main(void)
{
	const struct CMUnitTest small_tests[] = {
	    cmocka_unit_test_setup_teardown(test_boot_state, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_chain, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_unmap_middle, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_grant, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_grant_back_no_loop, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_map_self, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_rights, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_overlap, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_source, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_pool, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_peek_poke, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_random_small_0, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_random_small_1, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_random_small_2, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_random_small_3, setup_small, teardown),
	};
	const struct CMUnitTest big_tests[] = {
	    cmocka_unit_test_setup_teardown(test_boot_state, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_superpage_maps, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_superpage_splits, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_nomem_each, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_heal_big_cycle, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_random_big, setup_big, teardown),
	};
	const struct CMUnitTest cost_tests[] = {
	    cmocka_unit_test_setup_teardown(test_whole_half, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_protect_reserve, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_shared_leaf_reserve, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_cost, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_heal_cycles, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_heal_shaped, setup_small, teardown),
	};
	if (getenv("SPACE_FILTER"))
		cmocka_set_test_filter(getenv("SPACE_FILTER"));
	if (getenv("SPACE_SKIP"))
		cmocka_set_skip_filter(getenv("SPACE_SKIP"));
	int failed = cmocka_run_group_tests_name("space, small machine", small_tests, NULL, NULL);

	failed += cmocka_run_group_tests_name("space, big machine", big_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("space, what commands need", cost_tests, NULL, NULL);
	free(hog.r);
	return failed;
}
