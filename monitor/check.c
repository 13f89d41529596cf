/*
 * check: the seven invariants of SPEC section 1 over the whole state.
 *
 * The database is turned into the naive model (model.h) with memory the
 * pool lends for the check. A node is a block whose every page derives
 * from the page at the same offset of its parent's block (that is what a
 * node is; mdb_audit checks that parent and child have one size), so the
 * derivation of page k of a node is the derivation of its first page,
 * shifted by k pages: the model holds each node's first page, and the
 * tables are checked at every page against the first page's answer plus
 * the offset. Then:
 *   1-4  model_check on that model (loops, Real reached, lookup a
 *        function, rights within the source's);
 *   5    every leaf of every space's lower half lies in a node and
 *        translates as model_lookup says for it (frame, rights, user); the
 *        tables map as many pages as the nodes hold; the upper half holds
 *        exactly the reserved pieces;
 *   6    every frame a leaf reaches belongs to clients;
 *   7    client frames are the extents, each an allocator run; Real frames
 *        are distinct and counted; the allocator's counters for page
 *        tables and the database agree with the spaces', and its own
 *        audit passes.
 * The database's own structure (mdb_audit) is checked first, and each
 * node against the tables.
 */
#include "fmt.h"
#include "frame.h"
#include "mdb.h"
#include "model.h"
#include "platform.h"
#include "space.h"

const char space_check_failed[] = "check failed";

struct ctx {
	char *buf;
	size_t cap;
	struct model m;
	err_t e; /* an error that stops the check (memory) */
	bool failed;
	uint64_t pages[SPACE_MAX];
	uint64_t roots;
	/* the frames seen Real: a bit per frame of [lo, hi) */
	uint8_t *real;
	uint64_t lo, hi, nreal;
	unsigned space;
	uint64_t seen; /* lower-half pages of the current space */
	size_t rsv_pages;
	struct plat_rsv rsv[PLAT_RSV_MAX];
	size_t nrsv;
};

static bool fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fmt_vformat(c->buf, c->cap, fmt, ap);
	va_end(ap);
	c->failed = true;
	return false;
}

/* The model's memory: frames from the pool, given back after the check. */
static void *pool_alloc(void *ctx, size_t bytes)
{
	paddr_t pa;
	(void)ctx;

	if (frame_alloc((bytes + PAGE_SIZE - 1) / PAGE_SIZE, FRAME_MONITOR, &pa))
		return NULL;
	void *p = plat_pa_to_ptr(pa);
	__builtin_memset(p, 0, bytes);
	return p;
}

static void pool_free(void *ctx, void *p, size_t bytes)
{
	(void)ctx;
	CHECK(!frame_free(pa_init((uint64_t)(uintptr_t)p - plat_ram_base),
	                  (bytes + PAGE_SIZE - 1) / PAGE_SIZE, FRAME_MONITOR));
}

static const struct model_mem pool_mem = {.alloc = pool_alloc, .free = pool_free, .ctx = NULL};

static const char *const level_size[] = {"4K", "2M", "1G"};

/* One node: its first page into the model; its Real frames counted. */
static bool node_in(void *arg, mdb_id i)
{
	struct ctx *c = arg;
	const struct mdb_node *x = mdb_at(i);
	const unsigned n = mdb_space(x);
	const uint64_t va = mdb_va(x), pages = mdb_size(x) / PAGE_SIZE;
	struct space_hit h;

	if (!space_exists(n))
		return fail(c, "database: a node of space %u, which does not exist", n);
	if (va + mdb_size(x) > SPACE_USER_TOP)
		return fail(c, "5 (refinement): node %u:0x%lx leaves the lower half", n, va);
	if (!space_lookup(n, va, &h))
		return fail(c, "5 (refinement): %u:0x%lx (a %s mapping) is not in the tables", n,
		            va, level_size[mdb_level(x)]);
	const struct mdb_node *p = x->parent ? mdb_at(x->parent) : NULL;
	struct model_map mp = {.rights = mdb_rights(x)};
	c->pages[n] += pages;
	if (p) {
		mp.src_space = mdb_space(p);
		mp.src = mdb_va(p);
	} else {
		mp.src_space = MODEL_REAL;
		mp.src = pa_addr(h.pa);
		c->roots += pages;
		for (uint64_t k = 0; k < pages; k++) {
			const uint64_t pa = mp.src + k * PAGE_SIZE;
			if (pa < c->lo || pa >= c->hi)
				return fail(
				    c,
				    "6 (isolation): %u:0x%lx maps frame 0x%lx Real, outside "
				    "client memory",
				    n, va + k * PAGE_SIZE, pa);
			const uint64_t f = (pa - c->lo) / PAGE_SIZE;
			if (c->real[f / 8] & (1u << f % 8))
				return fail(c,
				            "7 (accounting): frame 0x%lx is Real in two mappings "
				            "(one is %u:0x%lx)",
				            pa, n, va + k * PAGE_SIZE);
			c->real[f / 8] |= (uint8_t)(1u << f % 8);
			c->nreal++;
		}
	}
	c->e = model_set(&c->m, n, va, &mp);
	return !c->e;
}

/* Invariants 5 and 6 for one run of space c->space's tables. */
static bool run_in(void *arg, const struct pt_run *r)
{
	struct ctx *c = arg;
	const unsigned n = c->space;
	const uint64_t va = va_addr(r->start);

	if (va >= SPACE_USER_TOP) { /* the reserved half: exactly the pieces */
		for (uint64_t off = 0; off < r->len; off += PAGE_SIZE) {
			size_t k = 0;
			while (k < c->nrsv &&
			       !(c->rsv[k].va <= va + off &&
			         va + off < c->rsv[k].va + c->rsv[k].pages * PAGE_SIZE))
				k++;
			if (k == c->nrsv)
				return fail(c,
				            "5 (refinement): %u:0x%lx in the upper half is no "
				            "reserved page",
				            n, va + off);
			const struct plat_rsv *p = &c->rsv[k];
			const pt_attr_t want = PT_R | (p->write ? PT_W : 0) | (p->exec ? PT_X : 0);
			if (pa_addr(r->pa) + off != pa_addr(p->pa) + (va + off - p->va) ||
			    (r->attr & (PT_RIGHTS | PT_USER)) != want)
				return fail(c,
				            "5 (refinement): reserved page %u:0x%lx maps the wrong "
				            "frame or rights",
				            n, va + off);
			c->rsv_pages++;
		}
		return true;
	}
	if (!(r->attr & PT_USER))
		return fail(c, "5 (refinement): %u:0x%lx is a client page without the user bit", n,
		            va);
	const unsigned rights = rights_of_attr(r->attr);
	/* Run and node are both linear: compare where each node starts in the run. */
	for (uint64_t v = va, end = va + r->len; v < end;) {
		const mdb_id i = mdb_find(n, v);
		if (!i)
			return fail(
			    c,
			    "5 (refinement): %u:0x%lx is in the tables, the model maps nothing "
			    "there",
			    n, v);
		const struct mdb_node *x = mdb_at(i);
		uint64_t pa;
		unsigned mr;
		if (!model_lookup(&c->m, n, mdb_va(x), &pa, &mr))
			return fail(c, "2 (every mapping reaches Real) at %u:0x%lx", n, mdb_va(x));
		pa += v - mdb_va(x);
		if (pa != pa_addr(r->pa) + (v - va) || mr != rights)
			return fail(
			    c,
			    "5 (refinement): %u:0x%lx: the tables say 0x%lx %x, the model 0x%lx "
			    "%x",
			    n, v, pa_addr(r->pa) + (v - va), rights, pa, mr);
		const uint64_t xend = mdb_va(x) + mdb_size(x);
		v = xend < end ? xend : end;
	}
	c->seen += r->len / PAGE_SIZE;
	/* 6: every frame of the run is a client's */
	for (uint64_t pa = pa_addr(r->pa), end = pa + r->len; pa < end;) {
		struct frame_info fi;
		if (frame_query(pa_init(pa), &fi) || fi.owner != FRAME_CLIENT)
			return fail(
			    c, "6 (isolation): %u:0x%lx reaches frame 0x%lx, which belongs to %s",
			    n, va + (pa - pa_addr(r->pa)), pa,
			    fi.managed || fi.owner == FRAME_FIRMWARE
			        ? frame_owner_name(fi.owner)
			        : "no one (not RAM memmon manages)");
		const uint64_t next = fi.run_frames ? pa_addr(fi.run) + fi.run_frames * PAGE_SIZE
		                                    : pa_addr(fi.block) + (PAGE_SIZE << fi.order);
		pa = next > pa ? next : pa + PAGE_SIZE;
	}
	return true;
}

static err_t check_all(struct ctx *c, uint64_t own_tables, struct space_check *sum)
{
	mdb_id bad;
	err_t e = frame_audit();

	if (e)
		return fail(c, "7 (accounting): the allocator: %s", e), NULL;
	e = mdb_audit(&bad);
	if (e) {
		if (bad)
			fail(c, "database: %s (node %u:0x%lx)", e, mdb_space(mdb_at(bad)),
			     mdb_va(mdb_at(bad)));
		else
			fail(c, "database: %s", e);
		return NULL;
	}
	mdb_each(node_in, c);
	if (c->failed || c->e)
		return c->e;

	struct space_stats st;
	space_stats(&st);
	for (unsigned n = 0; n < SPACE_MAX; n++)
		if (space_exists(n) && c->pages[n] != space_pages(n))
			return fail(c,
			            "7 (accounting): space %u's nodes hold 0x%lx pages, its count "
			            "says 0x%lx",
			            n, c->pages[n], space_pages(n)),
			       NULL;
	if (c->roots != st.reachable)
		return fail(c, "7 (accounting): 0x%lx pages are Real, the count says 0x%lx",
		            c->roots, st.reachable),
		       NULL;

	char where[48] = "";
	e = model_check(&c->m, where, sizeof(where));
	if (e) {
		const char *inv = e == model_err_loop     ? "1 (no loops)"
		                  : e == model_err_noreal ? "2 (every mapping reaches Real)"
		                  : e == model_err_notfn  ? "3 (lookup is a function)"
		                  : e == model_err_rights ? "4 (rights within the source's)"
		                                          : e;
		return fail(c, "%s at %s", inv, where), NULL;
	}

	uint64_t tables = st.stash;
	for (unsigned n = 0; n < SPACE_MAX; n++) {
		if (!space_exists(n))
			continue;
		c->space = n;
		c->seen = 0;
		c->rsv_pages = 0;
		pt_runs(space_pt(n), run_in, c);
		if (c->failed)
			return NULL;
		if (c->seen != c->pages[n])
			return fail(c,
			            "5 (refinement): space %u's tables map 0x%lx pages, the model "
			            "0x%lx",
			            n, c->seen, c->pages[n]),
			       NULL;
		size_t want = 0;
		for (size_t k = 0; k < c->nrsv; k++)
			want += c->rsv[k].pages;
		if (c->rsv_pages != want)
			return fail(c,
			            "5 (refinement): space %u maps 0x%lx reserved pages, not 0x%lx",
			            n, (uint64_t)c->rsv_pages, (uint64_t)want),
			       NULL;
		tables += space_pt(n)->tables;
	}

	/* 7: the frames */
	struct frame_stats fs;
	struct mdb_stats ms;
	const struct space_extent *ext;
	size_t next = space_extents(&ext);
	uint64_t client = 0;
	frame_stats(&fs);
	mdb_stats(&ms);
	for (size_t i = 0; i < next; i++) {
		struct frame_info fi;
		frame_query(pa_init(ext[i].base), &fi);
		if (fi.owner != FRAME_CLIENT || pa_addr(fi.run) != ext[i].base ||
		    fi.run_frames != ext[i].pages)
			return fail(c,
			            "7 (accounting): client extent 0x%lx (0x%lx frames) is not one "
			            "client run of the allocator",
			            ext[i].base, ext[i].pages),
			       NULL;
		client += ext[i].pages;
	}
	if (client != fs.owned[FRAME_CLIENT] || client != st.client)
		return fail(c,
		            "7 (accounting): clients hold 0x%lx frames, the allocator says 0x%lx",
		            client, fs.owned[FRAME_CLIENT]),
		       NULL;
	if (c->nreal != c->roots || c->roots > client)
		return fail(c, "7 (accounting): 0x%lx Real frames for 0x%lx Real pages of 0x%lx",
		            c->nreal, c->roots, client),
		       NULL;
	if (fs.owned[FRAME_PTABLE] != tables + own_tables)
		return fail(
		           c,
		           "7 (accounting): the allocator counts 0x%lx table pages, the spaces and "
		           "memmon hold 0x%lx",
		           fs.owned[FRAME_PTABLE], tables + own_tables),
		       NULL;
	if (fs.owned[FRAME_MDB] != ms.pages)
		return fail(c,
		            "7 (accounting): the allocator counts 0x%lx database pages, the "
		            "database "
		            "0x%lx",
		            fs.owned[FRAME_MDB], ms.pages),
		       NULL;
	*sum = (struct space_check){.spaces = st.spaces,
	                            .mappings = ms.nodes,
	                            .pages = st.pages,
	                            .frames = client,
	                            .orphaned = client - c->roots};
	return NULL;
}

err_t space_check(uint64_t own_tables, char *buf, size_t cap, struct space_check *sum)
{
	static struct ctx c; /* large (a count per space): not on memmon's stack */
	err_t e;

	c = (struct ctx){.buf = buf, .cap = cap};
	c.nrsv = plat_reserved(c.rsv, PLAT_RSV_MAX);
	buf[0] = '\0';
	const struct space_extent *ext;
	const size_t next = space_extents(&ext);
	c.lo = next ? ext[0].base : 0;
	c.hi = next ? ext[next - 1].base + ext[next - 1].pages * PAGE_SIZE : 0;
	const size_t bitmap = (c.hi - c.lo) / PAGE_SIZE / 8 + 1;
	c.real = pool_alloc(NULL, bitmap);
	if (!c.real)
		return space_err_nomem;
	e = model_init(&c.m, &pool_mem, SPACE_MAX);
	if (e) {
		pool_free(NULL, c.real, bitmap);
		return space_err_nomem;
	}
	for (unsigned n = 1; !e && n < SPACE_MAX; n++)
		if (space_exists(n))
			e = model_space_create(&c.m, n);
	if (!e)
		e = check_all(&c, own_tables, sum);
	model_destroy(&c.m);
	pool_free(NULL, c.real, bitmap);
	if (e)
		return e == model_err_nomem ? space_err_nomem : e;
	return c.failed ? space_check_failed : NULL;
}
