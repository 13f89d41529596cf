/*
 * What the console reads and does through a space (space.h, the section
 * "Through a space"): table counts, runs and walks of a space's tables,
 * an access or a park with a space loaded, and the walk of a derivation
 * tree. These are the only doors the console has into a space's tables,
 * the mapping database and the machine seam's access entries, so that
 * neither a `struct pt` field nor a database node is read above this
 * layer. Built on space.h, pt.h and mdb.h alone.
 */
#include "space.h"

#include "mdb.h"
#include "platform.h"

uint64_t space_tables(unsigned n)
{
	const struct pt *pt = space_pt(n);

	return pt ? pt_tables(pt) : 0;
}

paddr_t space_root(unsigned n)
{
	const struct pt *pt = space_pt(n);

	CHECK(pt);
	return pt_root(pt);
}

/* The client half's runs: pt_runs goes through the lower half first, so
 * the first run at or above SPACE_USER_TOP ends the walk. */
struct client_runs {
	bool (*fn)(void *ctx, const struct pt_run *r);
	void *ctx;
};

static bool client_run(void *ctx, const struct pt_run *r)
{
	const struct client_runs *c = ctx;

	return va_addr(r->start) < SPACE_USER_TOP && c->fn(c->ctx, r);
}

void space_runs(unsigned n, bool (*fn)(void *ctx, const struct pt_run *r), void *ctx)
{
	struct client_runs c = {.fn = fn, .ctx = ctx};
	const struct pt *pt = space_pt(n);

	CHECK(pt);
	pt_runs(pt, client_run, &c);
}

void space_walk(unsigned n, uint64_t v, struct pt_walk *w)
{
	const struct pt *pt = space_pt(n);

	CHECK(pt);
	pt_walk(pt, va_init(v), w);
}

/* The #PF error code's bits (the seam passes the CPU's code unchanged). */
#define PF_VECTOR     14
#define PF_PROTECTION 0x1u
#define PF_WRITE      0x2u

bool space_access(unsigned n, uint64_t v, bool write, uint64_t *value, struct space_fault *f)
{
	struct plat_fault pf;

	if (plat_access(space_root(n), va_init(v), write, value, &pf))
		return true;
	*f = (struct space_fault){
	    .page_fault = pf.vector == PF_VECTOR,
	    .protection = pf.code & PF_PROTECTION,
	    .write = pf.code & PF_WRITE,
	    .addr = pf.addr,
	    .vector = pf.vector,
	    .code = pf.code,
	};
	return false;
}

void space_park(unsigned n)
{
	plat_park(space_root(n));
}

bool space_tree_open(unsigned n, uint64_t v, struct space_tree *t)
{
	const mdb_id x = space_node(n, v);

	if (!x)
		return false;
	const mdb_id root = mdb_root(x);
	const struct mdb_node *r = mdb_at(root);
	*t = (struct space_tree){
	    .frame = space_node_frame(root),
	    .size = mdb_size(r),
	    .level = mdb_level(r),
	    .nodes = mdb_subtree_size(root),
	    .root = root,
	    .at = root,
	    .mark = x,
	};
	return true;
}

bool space_tree_next(struct space_tree *t, struct space_tree_entry *out)
{
	const mdb_id i = t->at;

	if (!i)
		return false;
	const struct mdb_node *x = mdb_at(i);
	unsigned depth = 0;
	for (mdb_id p = i; p != t->root; p = mdb_at(p)->parent)
		depth++;
	*out = (struct space_tree_entry){
	    .space = mdb_space(x),
	    .va = mdb_va(x),
	    .rights = mdb_rights(x),
	    .level = mdb_level(x),
	    .depth = depth,
	    .real = !x->parent,
	    .mark = i == t->mark,
	};
	t->at = mdb_next_in(t->root, i);
	return true;
}
