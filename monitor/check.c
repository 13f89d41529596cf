/*
 * check: the seven invariants of SPEC section 1 over the whole state, in
 * place. It reads the mapping database and every space's tables as they
 * are and builds no copy of them: the only memory it uses is a bitmap of
 * one bit per frame (Real frames seen), taken out of the allocator at boot
 * (space_check_boot), so it runs in every state the monitor can reach, the
 * pool exhausted included, and cannot fail for want of memory.
 *
 * What a node means: every page of a node derives from the page at the same
 * offset of its parent's block (mdb_audit checks that parent and child have
 * one size), so every node of a derivation tree maps, at its page k, frame
 * F + k pages, where F is the Real frame of the tree's root: the frame its
 * first page maps in its space's tables. The passes, each naming the first
 * violation it meets:
 *   0    the allocator's audit (7) and the database's (mdb_audit: hash
 *        chains, links, sibling rings, sizes, counts);
 *   1    every node in use lies in the tree of some root: pre-order walks
 *        from the roots reach them all. A node they miss has a parent chain
 *        that never ends at a root: a loop;
 *   3, 4 each node: its space exists, it lies in the lower half, no larger
 *        node of its space holds any of its pages (a smaller node inside a
 *        larger one is found from the smaller one), its rights lie within
 *        its parent's;
 *   2, 6, 7, 5  each tree: its root's first page is in the tables (its Real
 *        frame), the root's frames are client memory and no frame is Real
 *        in two roots (the bitmap); every table entry over every node of
 *        the tree maps F plus the node's offset, with the node's rights and
 *        the user bit;
 *   5, 6 every run of every space's tables: each page of the lower half
 *        lies in a node of that space (nothing else is present), the run's
 *        frames belong to clients; the upper half holds exactly the
 *        reserved pieces;
 *   7    the counts: pages per space, Real pages, client extents (each an
 *        allocator run), table pages and database pages against the
 *        allocator's counters.
 * Cost O(slots and chains of the database + nodes + runs + the
 * allocator's blocks), no memory taken; it changes nothing (traversal
 * marks, used only to name a loop, are cleared before it returns).
 */
#include "fmt.h"
#include "frame.h"
#include "mdb.h"
#include "platform.h"
#include "space.h"

const char space_check_failed[] = "check failed";

/* Real frames seen: a bit per frame below frame_limit(), taken at boot. */
static struct {
	uint64_t *bits;
	uint64_t words;  /* of bits */
	uint64_t frames; /* the allocation */
} seen_real;

struct ctx {
	char *buf;
	size_t cap;
	bool failed;
	uint64_t nodes;   /* in use */
	uint64_t reached; /* nodes the walks from the roots met */
	uint64_t pages[SPACE_MAX];
	uint64_t roots; /* pages of roots: Real pages */
	unsigned space;
	uint64_t seen; /* lower-half pages of the current space's tables */
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

err_t space_check_boot(void)
{
	paddr_t pa;

	seen_real.words = (frame_limit() + 63) / 64;
	seen_real.frames = (seen_real.words * 8 + PAGE_SIZE - 1) / PAGE_SIZE;
	seen_real.bits = NULL;
	if (!seen_real.frames)
		return NULL;
	if (frame_alloc(seen_real.frames, FRAME_MONITOR, &pa))
		return space_err_nomem;
	seen_real.bits = plat_pa_to_ptr(pa);
	return NULL;
}

void space_check_shutdown(void)
{
	if (seen_real.bits)
		CHECK(!frame_free(pa_init((uint64_t)(uintptr_t)seen_real.bits - plat_ram_base),
		                  seen_real.frames, FRAME_MONITOR));
	seen_real.bits = NULL;
	seen_real.frames = seen_real.words = 0;
}

/* Mark frames [f, f + k) (frame numbers below the bitmap's end) Real; false,
 * marking nothing, if one of them is marked already. */
static bool mark_real(uint64_t f, uint64_t k)
{
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = f, end = f + k; i < end;) {
			const unsigned bit = (unsigned)(i % 64);
			const uint64_t n = end - i < 64 - bit ? end - i : 64 - bit;
			const uint64_t m = (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1))
			                   << bit;
			if (pass == 0 && (seen_real.bits[i / 64] & m))
				return false;
			if (pass == 1)
				seen_real.bits[i / 64] |= m;
			i += n;
		}
	return true;
}

/* The first frame of [pa, pa + len) that is not a client's (*fi: what the
 * allocator says of it), or pa + len. One query per allocator run. */
static uint64_t first_foreign(uint64_t pa, uint64_t len, struct frame_info *fi)
{
	const uint64_t end = pa + len;

	while (pa < end) {
		if (frame_query(pa_init(pa), fi) || fi->owner != FRAME_CLIENT)
			return pa;
		const uint64_t next = fi->run_frames
		                          ? pa_addr(fi->run) + fi->run_frames * PAGE_SIZE
		                          : pa_addr(fi->block) + (PAGE_SIZE << fi->order);
		pa = next > pa ? next : pa + PAGE_SIZE;
	}
	return end;
}

static const char *const level_size[] = {"4K", "2M", "1G"};

/* Invariant 1: walk every root's tree, counting the nodes met (a node is
 * met once: rings and parents agree, mdb_audit). Marks the nodes met when
 * `mark`, to find the ones missed. */
struct reach {
	struct ctx *c;
	bool mark;
};

static bool tree_reach(void *arg, mdb_id root)
{
	struct reach *r = arg;

	if (mdb_at(root)->parent)
		return true;
	for (mdb_id i = root; i; i = mdb_next_in(root, i)) {
		if (++r->c->reached > r->c->nodes)
			return fail(r->c, "database: the derivation trees meet a node twice");
		if (r->mark)
			mdb_at(i)->key |= MDB_KEY_MARK;
	}
	return true;
}

static bool first_unmarked(void *arg, mdb_id i)
{
	mdb_id *out = arg;

	if (mdb_at(i)->key & MDB_KEY_MARK)
		return true;
	*out = i;
	return false;
}

static bool unmark(void *arg, mdb_id i)
{
	(void)arg;
	mdb_at(i)->key &= ~MDB_KEY_MARK;
	return true;
}

/* Some node lies in no root's tree: name it. Its parent chain either loops
 * (then, after as many steps as there are nodes, it is on the loop) or
 * reaches a node of a tree whose children's ring does not hold the node
 * below it on the chain. O(nodes). */
static void name_unreached(struct ctx *c)
{
	struct reach r = {.c = c, .mark = true};
	mdb_id x = MDB_NIL;

	c->reached = 0;
	mdb_each(tree_reach, &r);
	mdb_each(first_unmarked, &x);
	if (!c->failed && x) {
		for (uint64_t k = 0; k < c->nodes && mdb_at(x)->parent &&
		                     !(mdb_at(mdb_at(x)->parent)->key & MDB_KEY_MARK);
		     k++)
			x = mdb_at(x)->parent;
		const struct mdb_node *y = mdb_at(x);
		if (y->parent && (mdb_at(y->parent)->key & MDB_KEY_MARK))
			fail(c, "database: %u:0x%lx derives from a node that does not list it",
			     mdb_space(y), mdb_va(y));
		else
			fail(c, "1 (no loops) at %u:0x%lx", mdb_space(y), mdb_va(y));
	}
	mdb_each(unmark, NULL);
}

/* Invariants 3 and 4 (and the node's place) for one node. */
static bool node_ok(void *arg, mdb_id i)
{
	struct ctx *c = arg;
	const struct mdb_node *x = mdb_at(i);
	const unsigned n = mdb_space(x), level = mdb_level(x);
	const uint64_t va = mdb_va(x);

	if (!space_exists(n))
		return fail(c, "database: a node of space %u, which does not exist", n);
	if (va + mdb_size(x) > SPACE_USER_TOP)
		return fail(c, "5 (refinement): node %u:0x%lx leaves the lower half", n, va);
	for (unsigned up = level + 1; up < 3; up++) {
		const mdb_id y = mdb_find_level(n, va, up);
		if (y)
			return fail(c,
			            "3 (lookup is a function) at %u:0x%lx: in a %s mapping and in "
			            "the %s mapping at 0x%lx",
			            n, va, level_size[level], level_size[up], mdb_va(mdb_at(y)));
	}
	if (x->parent && (mdb_rights(x) & ~mdb_rights(mdb_at(x->parent))))
		return fail(c, "4 (rights within the source's) at %u:0x%lx", n, va);
	c->pages[n] += mdb_size(x) / PAGE_SIZE;
	return true;
}

/* Invariant 5 for node x of a tree whose root's first page maps frame f:
 * every entry over x's block maps f plus the offset, with x's rights and
 * the user bit. One lookup per entry over the block. */
static bool node_tables(struct ctx *c, const struct mdb_node *x, uint64_t f)
{
	const unsigned n = mdb_space(x);
	const uint64_t va = mdb_va(x), end = va + mdb_size(x);
	struct pt *pt = space_pt(n);

	for (uint64_t v = va; v < end;) {
		struct pt_hit h;
		if (!pt_lookup(pt, va_init(v), &h))
			return fail(c,
			            "5 (refinement): %u:0x%lx (a %s mapping) is not in the tables",
			            n, v, level_size[mdb_level(x)]);
		if (!(h.attr & PT_USER))
			return fail(
			    c, "5 (refinement): %u:0x%lx is a client page without the user bit", n,
			    v);
		const unsigned r = rights_of_attr(h.attr);
		if (pa_addr(h.pa) != f + (v - va) || r != mdb_rights(x)) {
			char rt[4], rm[4];
			return fail(c,
			            "5 (refinement): %u:0x%lx: the tables say 0x%lx %s, the model "
			            "0x%lx %s",
			            n, v, pa_addr(h.pa), rights_format(r, rt), f + (v - va),
			            rights_format(mdb_rights(x), rm));
		}
		const uint64_t entry = pt_level_size(h.level);
		v = (v & ~(entry - 1)) + entry;
	}
	return true;
}

/* Invariants 2, 6, 7 (Real frames) and 5 for the tree of one root. */
static bool tree_ok(void *arg, mdb_id root)
{
	struct ctx *c = arg;
	const struct mdb_node *r = mdb_at(root);

	if (r->parent)
		return true;
	const unsigned n = mdb_space(r);
	const uint64_t va = mdb_va(r), pages = mdb_size(r) / PAGE_SIZE;
	struct pt_hit h;
	if (!pt_lookup(space_pt(n), va_init(va), &h))
		return fail(c,
		            "2 (every mapping reaches Real) at %u:0x%lx: a root whose frame is "
		            "not in the tables",
		            n, va);
	const uint64_t f = pa_addr(h.pa);
	struct frame_info fi;
	const uint64_t bad = first_foreign(f, pages * PAGE_SIZE, &fi);
	if (bad != f + pages * PAGE_SIZE || f / PAGE_SIZE + pages > seen_real.words * 64)
		return fail(c,
		            "6 (isolation): %u:0x%lx maps frame 0x%lx Real, outside client memory",
		            n, va + (bad - f), bad);
	if (!mark_real(f / PAGE_SIZE, pages))
		return fail(c,
		            "7 (accounting): frame 0x%lx is Real in two mappings (one is %u:0x%lx)",
		            f, n, va);
	c->roots += pages;
	for (mdb_id i = root; i; i = mdb_next_in(root, i))
		if (!node_tables(c, mdb_at(i), f))
			return false;
	return true;
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
	/* Every page lies in a node (whose translation the tree pass checked):
	 * one probe per node the run crosses. */
	for (uint64_t v = va, end = va + r->len; v < end;) {
		const mdb_id i = mdb_find(n, v);
		if (!i)
			return fail(
			    c,
			    "5 (refinement): %u:0x%lx is in the tables, the model maps nothing "
			    "there",
			    n, v);
		const uint64_t xend = mdb_va(mdb_at(i)) + mdb_size(mdb_at(i));
		v = xend < end ? xend : end;
	}
	c->seen += r->len / PAGE_SIZE;
	/* 6: every frame of the run is a client's */
	struct frame_info fi;
	const uint64_t bad = first_foreign(pa_addr(r->pa), r->len, &fi);
	if (bad != pa_addr(r->pa) + r->len)
		return fail(c, "6 (isolation): %u:0x%lx reaches frame 0x%lx, which belongs to %s",
		            n, va + (bad - pa_addr(r->pa)), bad,
		            fi.managed || fi.owner == FRAME_FIRMWARE
		                ? frame_owner_name(fi.owner)
		                : "no one (not RAM memmon manages)");
	return true;
}

/* The passes over the database: 1, then 3 and 4, then 2, 5, 6 and 7 per
 * tree; and the counts they give against the spaces'. */
static bool check_nodes(struct ctx *c, const struct space_stats *st)
{
	struct reach r = {.c = c, .mark = false};

	mdb_each(tree_reach, &r);
	if (c->failed)
		return false;
	if (c->reached != c->nodes) {
		name_unreached(c);
		return false;
	}
	mdb_each(node_ok, c);
	if (c->failed)
		return false;
	/* Clear the bitmap where client frames lie: the extents' span. */
	const struct space_extent *ext;
	const size_t next = space_extents(&ext);
	if (next) {
		const uint64_t lo = ext[0].base / PAGE_SIZE / 64,
		               hi =
		                   (ext[next - 1].base / PAGE_SIZE + ext[next - 1].pages + 63) / 64;
		if (hi <= seen_real.words)
			__builtin_memset(seen_real.bits + lo, 0, (hi - lo) * 8);
		else if (seen_real.words)
			__builtin_memset(seen_real.bits, 0, seen_real.words * 8);
	}
	mdb_each(tree_ok, c);
	if (c->failed)
		return false;
	for (unsigned n = 0; n < SPACE_MAX; n++)
		if (space_exists(n) && c->pages[n] != space_pages(n))
			return fail(c,
			            "7 (accounting): space %u's nodes hold 0x%lx pages, its count "
			            "says 0x%lx",
			            n, c->pages[n], space_pages(n));
	if (c->roots != st->reachable)
		return fail(c, "7 (accounting): 0x%lx pages are Real, the count says 0x%lx",
		            c->roots, st->reachable);
	return true;
}

/* Every space's tables, run by run; *tables gets their table pages. */
static bool check_tables(struct ctx *c, uint64_t *tables)
{
	size_t want = 0;

	for (size_t k = 0; k < c->nrsv; k++)
		want += c->rsv[k].pages;
	for (unsigned n = 0; n < SPACE_MAX; n++) {
		if (!space_exists(n))
			continue;
		c->space = n;
		c->seen = 0;
		c->rsv_pages = 0;
		pt_runs(space_pt(n), run_in, c);
		if (c->failed)
			return false;
		if (c->seen != c->pages[n])
			return fail(c,
			            "5 (refinement): space %u's tables map 0x%lx pages, the model "
			            "0x%lx",
			            n, c->seen, c->pages[n]);
		if (c->rsv_pages != want)
			return fail(c,
			            "5 (refinement): space %u maps 0x%lx reserved pages, not 0x%lx",
			            n, (uint64_t)c->rsv_pages, (uint64_t)want);
		*tables += space_pt(n)->tables;
	}
	return true;
}

/* Invariant 7 for the frames: extents, clients, table and database pages. */
static bool check_frames(struct ctx *c, const struct space_stats *st, uint64_t tables)
{
	struct frame_stats fs;
	struct mdb_stats ms;
	const struct space_extent *ext;
	const size_t next = space_extents(&ext);
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
			            ext[i].base, ext[i].pages);
		client += ext[i].pages;
	}
	if (client != fs.owned[FRAME_CLIENT] || client != st->client)
		return fail(c,
		            "7 (accounting): clients hold 0x%lx frames, the allocator says 0x%lx",
		            client, fs.owned[FRAME_CLIENT]);
	if (c->roots > client)
		return fail(c, "7 (accounting): 0x%lx Real pages for 0x%lx client frames", c->roots,
		            client);
	if (fs.owned[FRAME_PTABLE] != tables)
		return fail(
		    c,
		    "7 (accounting): the allocator counts 0x%lx table pages, the spaces and "
		    "memmon hold 0x%lx",
		    fs.owned[FRAME_PTABLE], tables);
	if (fs.owned[FRAME_MDB] != ms.pages)
		return fail(c,
		            "7 (accounting): the allocator counts 0x%lx database pages, the "
		            "database 0x%lx",
		            fs.owned[FRAME_MDB], ms.pages);
	return true;
}

err_t space_check(uint64_t own_tables, char *buf, size_t cap, struct space_check *sum)
{
	static struct ctx c; /* large (a count per space): not on memmon's stack */
	struct space_stats st;
	struct mdb_stats ms;
	mdb_id bad;

	c = (struct ctx){.buf = buf, .cap = cap};
	c.nrsv = plat_reserved(c.rsv, PLAT_RSV_MAX);
	buf[0] = '\0';
	space_stats(&st);
	mdb_stats(&ms);
	c.nodes = ms.nodes;
	err_t e = frame_audit();
	if (e) {
		fail(&c, "7 (accounting): the allocator: %s", e);
		return space_check_failed;
	}
	e = mdb_audit(&bad);
	if (e) {
		if (bad)
			fail(&c, "database: %s (node %u:0x%lx)", e, mdb_space(mdb_at(bad)),
			     mdb_va(mdb_at(bad)));
		else
			fail(&c, "database: %s", e);
		return space_check_failed;
	}
	uint64_t tables = st.stash + own_tables;
	if (!check_nodes(&c, &st) || !check_tables(&c, &tables) || !check_frames(&c, &st, tables))
		return space_check_failed;
	*sum = (struct space_check){.spaces = st.spaces,
	                            .mappings = ms.nodes,
	                            .pages = st.pages,
	                            .frames = st.client,
	                            .orphaned = st.client - c.roots};
	return NULL;
}
