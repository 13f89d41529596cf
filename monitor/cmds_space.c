/*
 * The console's commands over the spaces layer: space, map, grant, unmap,
 * flush, protect, lookup, pt N, mdb, check, peek, poke, park, pool, reset.
 * Each checks every argument before it calls the layer, and the layer
 * changes nothing when it fails; the messages name the argument.
 */
#include "cmds.h"

#include "frame.h"
#include "guest.h"
#include "monitor.h"
#include "space.h"

/* A space number that exists. */
static err_t arg_space(struct con *c, const char *cmd, const char *s, unsigned *n)
{
	uint64_t v;
	err_t e = con_parse_number(s, &v);

	if (e)
		return con_fail(c, "%s: space: %s: '%.40s'", cmd, e, s);
	if (v >= SPACE_MAX || !space_exists((unsigned)v))
		return con_fail(c, "%s: no space '%.40s' ('space list' shows them)", cmd, s);
	*n = (unsigned)v;
	return NULL;
}

/* A virtual address a client may name: canonical, in the lower half;
 * `align` bytes aligned. */
static err_t arg_va(struct con *c, const char *cmd, const char *s, uint64_t align, uint64_t *v)
{
	err_t e = con_parse_addr(s, v);

	if (e)
		return con_fail(c, "%s: address: %s: '%.40s'", cmd, e, s);
	if (*v >= SPACE_USER_TOP)
		return con_fail(
		    c, "%s: 0x%lx is in the upper half, which memmon reserves for itself", cmd, *v);
	if (*v % align)
		return con_fail(c, "%s: 0x%lx is not 0x%lx-aligned", cmd, *v, align);
	return NULL;
}

/* A region size: a non-zero multiple of 4K. */
static err_t arg_size(struct con *c, const char *cmd, const char *s, uint64_t *len)
{
	err_t e = con_parse_number(s, len);

	if (e)
		return con_fail(c, "%s: size: %s: '%.40s'", cmd, e, s);
	if (!*len || *len % PAGE_SIZE)
		return con_fail(c, "%s: size 0x%lx is not a non-zero multiple of 4K", cmd, *len);
	return NULL;
}

static err_t arg_rights(struct con *c, const char *cmd, const char *s, unsigned *r)
{
	err_t e = rights_parse(s, r);

	return e ? con_fail(c, "%s: %s: '%.40s'", cmd, e, s) : NULL;
}

/* A token that can only be rights: letters only (either case: the rights
 * parser then says what is wrong with it). */
static bool looks_like_rights(const char *s)
{
	for (; *s; s++)
		if ((*s < 'a' || *s > 'z') && (*s < 'A' || *s > 'Z'))
			return false;
	return true;
}

static err_t layer_fail(struct con *c, const char *cmd, err_t e)
{
	return con_fail(c, "%s: %s", cmd, e);
}

static void print_rights(unsigned r, char buf[4])
{
	rights_format(r, buf);
}

/* ---- space ----------------------------------------------------------------- */

err_t cmd_space(struct con *c, int argc, char **argv)
{
	if (con_streq(argv[1], "new")) {
		unsigned n;
		if (argc != 2)
			return con_fail(c, "space: new takes no argument");
		err_t e = space_new(&n);
		if (e)
			return layer_fail(c, "space new", e);
		con_printf("space %u\n", n);
		return NULL;
	}
	if (con_streq(argv[1], "del")) {
		unsigned n;
		uint64_t flushed;
		if (argc != 3)
			return con_fail(c, "space: usage: space del N");
		err_t e = arg_space(c, "space del", argv[2], &n);
		if (e)
			return e;
		if (n && space_exists(n)) {
			e = guest_recall(n); /* none may run on the tables space_del frees */
			if (e)
				return con_fail(c, "space del: %s", e);
		}
		e = space_del(n, &flushed);
		if (e)
			return layer_fail(c, "space del", e);
		guest_space_gone(n);
		con_printf("space %u deleted: 0x%lx pages flushed\n", n, flushed);
		return NULL;
	}
	if (con_streq(argv[1], "list")) {
		if (argc != 2)
			return con_fail(c, "space: list takes no argument");
		unsigned count = 0;
		for (unsigned n = 0; n < SPACE_MAX; n++) {
			if (!space_exists(n))
				continue;
			count++;
			con_printf("space %u%s pages 0x%lx ptpages 0x%lx\n", n,
			           n ? "" : " (sigma0)", space_pages(n), space_tables(n));
		}
		con_printf("spaces 0x%x\n", count);
		return NULL;
	}
	return con_fail(c, "space: say new, del N or list, not '%.40s'", argv[1]);
}

/* ---- map, grant --------------------------------------------------------------- */

static err_t map_like(struct con *c, int argc, char **argv, bool grant)
{
	const char *cmd = argv[0];
	unsigned n, n2, rights = RIGHTS_RWX;
	uint64_t v, v2, len = PAGE_SIZE;
	err_t e = arg_space(c, cmd, argv[1], &n);

	if (!e)
		e = arg_va(c, cmd, argv[2], PAGE_SIZE, &v);
	if (!e)
		e = arg_space(c, cmd, argv[3], &n2);
	if (!e)
		e = arg_va(c, cmd, argv[4], PAGE_SIZE, &v2);
	if (!e && argc == 6) {
		if (looks_like_rights(argv[5]))
			e = arg_rights(c, cmd, argv[5], &rights);
		else
			e = arg_size(c, cmd, argv[5], &len);
	}
	if (!e && argc == 7) {
		e = arg_size(c, cmd, argv[5], &len);
		if (!e)
			e = arg_rights(c, cmd, argv[6], &rights);
	}
	if (e)
		return e;
	struct space_result r;
	e = grant ? space_grant(n, v, n2, v2, len, rights, &r)
	          : space_map(n, v, n2, v2, len, rights, &r);
	if (e == space_err_invalid)
		return con_fail(c, "%s: %u:0x%lx: a page of the source region holds no mapping",
		                cmd, n, v);
	if (e)
		return layer_fail(c, cmd, e);
	char a[4], o[4];
	print_rights(r.rights_and, a);
	print_rights(r.rights_or, o);
	con_printf("%s %u:0x%lx -> %u:0x%lx: 0x%lx pages", cmd, n, v, n2, v2, r.pages);
	if (!r.pages)
		con_puts(" (the source went with the destination's flush)\n");
	else if (r.rights_and == r.rights_or)
		con_printf(", rights %s\n", a);
	else
		con_printf(", rights %s to %s\n", a, o);
	return NULL;
}

err_t cmd_map(struct con *c, int argc, char **argv)
{
	return map_like(c, argc, argv, false);
}

err_t cmd_grant(struct con *c, int argc, char **argv)
{
	return map_like(c, argc, argv, true);
}

/* ---- unmap, flush, protect -------------------------------------------------------- */

err_t cmd_region(struct con *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	const bool protect = con_streq(cmd, "protect");
	unsigned n, rights = RIGHTS_RWX;
	uint64_t v, len = PAGE_SIZE;
	err_t e = arg_space(c, cmd, argv[1], &n);

	if (!e)
		e = arg_va(c, cmd, argv[2], PAGE_SIZE, &v);
	if (!e && argc > 3)
		e = arg_size(c, cmd, argv[3], &len);
	if (!e && protect)
		e = arg_rights(c, cmd, argv[4], &rights);
	if (e)
		return e;
	if (len > SPACE_USER_TOP - v)
		return con_fail(c, "%s: 0x%lx + 0x%lx leaves the lower half", cmd, v, len);
	struct space_result r;
	e = protect                   ? space_protect(n, v, len, rights, &r)
	    : con_streq(cmd, "unmap") ? space_unmap(n, v, len, &r)
	                              : space_flush(n, v, len, &r);
	if (e)
		return layer_fail(c, cmd, e);
	con_printf("%s %u:0x%lx size 0x%lx: 0x%lx pages %s\n", cmd, n, v, len, r.pages,
	           protect ? "changed" : "removed");
	return NULL;
}

/* ---- lookup, pt N, mdb ---------------------------------------------------------------- */

/* lookup's line for n:v: 'N:0xV -> 0xPA RIGHTS SIZE' or 'N:0xV -> none'. */
static void print_lookup(unsigned n, uint64_t v)
{
	struct space_hit h;
	char r[4];

	if (!space_lookup(n, v, &h)) {
		con_printf("%u:0x%lx -> none\n", n, v);
		return;
	}
	print_rights(h.rights, r);
	con_printf("%u:0x%lx -> 0x%lx %s %s\n", n, v, pa_addr(h.pa), r, cmds_size_name[h.level]);
}

err_t cmd_lookup(struct con *c, int argc, char **argv)
{
	unsigned n;
	uint64_t v;
	(void)argc;
	err_t e = arg_space(c, "lookup", argv[1], &n);

	if (!e)
		e = arg_va(c, "lookup", argv[2], 1, &v);
	if (e)
		return e;
	print_lookup(n, v);
	return NULL;
}

err_t cmds_pt_space(struct con *c, int argc, char **argv)
{
	unsigned n;
	err_t e = arg_space(c, "pt", argv[1], &n);

	if (e)
		return e;
	if (argc == 3) {
		uint64_t v;
		struct pt_walk w;
		e = arg_va(c, "pt", argv[2], 1, &v);
		if (e)
			return e;
		con_printf("walk 0x%lx in space %u's tables, root 0x%lx\n", v, n,
		           pa_addr(space_root(n)));
		space_walk(n, v, &w);
		cmds_print_walk(&w);
		print_lookup(n, v);
		return NULL;
	}
	struct cmds_runs d = {.open = false};
	space_runs(n, cmds_run, &d);
	cmds_runs_end(&d);
	con_printf("pt %u: runs 0x%lx pages 0x%lx ptpages 0x%lx\n", n, d.runs, d.pages,
	           space_tables(n));
	return NULL;
}

/* One mapping of a tree, indented by its depth (at most 32 steps). */
static void print_tree_line(const struct space_tree_entry *x)
{
	char r[4];

	print_rights(x->rights, r);
	for (unsigned k = 0; k < x->depth && k < 32; k++)
		con_puts("  ");
	con_printf("%u:0x%lx %s %s%s%s\n", x->space, x->va, r, cmds_size_name[x->level],
	           x->real ? " Real" : "", x->mark ? " <-" : "");
}

#define MDB_PRINT_MAX 4096

err_t cmd_mdb(struct con *c, int argc, char **argv)
{
	unsigned n;
	uint64_t v;
	(void)argc;
	err_t e = arg_space(c, "mdb", argv[1], &n);

	if (!e)
		e = arg_va(c, "mdb", argv[2], 1, &v);
	if (e)
		return e;
	struct space_tree t;
	if (!space_tree_open(n, v, &t)) {
		con_printf("%u:0x%lx: no mapping\n", n, v);
		return NULL;
	}
	const uint64_t frame = pa_addr(t.frame);
	con_printf("mdb %u:0x%lx: frames 0x%lx-0x%lx, a tree of 0x%lx mappings of %s\n", n, v,
	           frame, frame + t.size, t.nodes, cmds_size_name[t.level]);
	struct space_tree_entry x;
	for (uint64_t printed = 0; space_tree_next(&t, &x); printed++) {
		if (printed == MDB_PRINT_MAX) {
			con_puts("... (more not shown)\n");
			break;
		}
		print_tree_line(&x);
	}
	return NULL;
}

/* ---- check ------------------------------------------------------------------------------ */

err_t cmd_check(struct con *c, int argc, char **argv)
{
	char why[200];
	struct space_check s;
	(void)c, (void)argc, (void)argv;

	/* check needs no memory: it fails only when an invariant does */
	if (space_check(pt_tables(&mon_pt), why, sizeof(why), &s)) {
		con_printf("check: FAIL %s\n", why);
		return NULL;
	}
	con_printf("check: ok spaces 0x%x mappings 0x%lx pages 0x%lx frames 0x%lx orphaned 0x%lx\n",
	           s.spaces, s.mappings, s.pages, s.frames, s.orphaned);
	return NULL;
}

/* ---- peek, poke, park ----------------------------------------------------------------------- */

static void print_fault(unsigned n, uint64_t v, const struct space_fault *f)
{
	if (f->page_fault)
		con_printf("fault: #PF %u:0x%lx %s %s\n", n, f->addr,
		           f->protection ? "protection" : "not-present",
		           f->write ? "write" : "read");
	else
		con_printf("fault: vector %u %u:0x%lx code 0x%lx\n", f->vector, n, v, f->code);
}

#define PEEK_MAX 512

err_t cmd_peek(struct con *c, int argc, char **argv)
{
	unsigned n;
	uint64_t v, count = 1;
	err_t e = arg_space(c, "peek", argv[1], &n);

	if (!e)
		e = arg_va(c, "peek", argv[2], 8, &v);
	if (!e && argc == 4) {
		e = con_parse_number(argv[3], &count);
		if (e)
			return con_fail(c, "peek: count: %s: '%.40s'", e, argv[3]);
		if (!count || count > PEEK_MAX)
			return con_fail(c, "peek: count must be 1 to 0x%x words", PEEK_MAX);
	}
	if (e)
		return e;
	if (count * 8 > SPACE_USER_TOP - v)
		return con_fail(c, "peek: 0x%lx words from 0x%lx leave the lower half", count, v);
	for (uint64_t k = 0; k < count; k++) {
		uint64_t value;
		struct space_fault f;
		if (!space_access(n, v + 8 * k, false, &value, &f)) {
			print_fault(n, v + 8 * k, &f);
			return NULL;
		}
		con_printf("%u:0x%lx = 0x%lx\n", n, v + 8 * k, value);
	}
	return NULL;
}

err_t cmd_poke(struct con *c, int argc, char **argv)
{
	unsigned n;
	uint64_t v, x;
	(void)argc;
	err_t e = arg_space(c, "poke", argv[1], &n);

	if (!e)
		e = arg_va(c, "poke", argv[2], 8, &v);
	if (e)
		return e;
	e = con_parse_number(argv[3], &x);
	if (e)
		return con_fail(c, "poke: value: %s: '%.40s'", e, argv[3]);
	struct space_fault f;
	if (!space_access(n, v, true, &x, &f)) {
		print_fault(n, v, &f);
		return NULL;
	}
	con_printf("%u:0x%lx = 0x%lx\n", n, v, x);
	return NULL;
}

err_t cmd_park(struct con *c, int argc, char **argv)
{
	unsigned n;
	(void)argc;
	err_t e = arg_space(c, "park", argv[1], &n);

	if (e)
		return e;
	con_printf("parked %u cr3 0x%lx\n", n, pa_addr(space_root(n)));
	space_park(n);
	con_puts("unparked\n");
	return NULL;
}

/* ---- pool, reset ------------------------------------------------------------------------------
 */

static void print_pool(void)
{
	struct space_stats s;
	struct frame_stats fs;

	space_stats(&s);
	frame_stats(&fs);
	con_printf(
	    "pool frames 0x%lx used 0x%lx free 0x%lx (ptables 0x%lx mdb 0x%lx console 0x%lx)\n",
	    s.pool, s.pool_used, s.pool_free, fs.owned[FRAME_PTABLE], fs.owned[FRAME_MDB],
	    fs.owned[FRAME_CONSOLE]);
}

err_t cmd_pool(struct con *c, int argc, char **argv)
{
	if (argc == 1) {
		print_pool();
		return NULL;
	}
	const bool grow = con_streq(argv[1], "grow");
	if (!grow && !con_streq(argv[1], "shrink"))
		return con_fail(c, "pool: say grow COUNT or shrink COUNT, not '%.40s'", argv[1]);
	if (argc != 3)
		return con_fail(c, "pool: usage: pool %s COUNT", argv[1]);
	uint64_t count;
	err_t e = con_parse_number(argv[2], &count);
	if (e)
		return con_fail(c, "pool %s: count: %s: '%.40s'", argv[1], e, argv[2]);
	if (!count || count > ((uint64_t)1 << FRAME_MAX_ORDER))
		return con_fail(c, "pool %s: count must be 1 to 0x%lx frames", argv[1],
		                (uint64_t)1 << FRAME_MAX_ORDER);
	e = grow ? space_pool_grow(count) : space_pool_shrink(count);
	if (e)
		return con_fail(c, "pool %s: 0x%lx frames: %s", argv[1], count, e);
	print_pool();
	return NULL;
}

/* reset's last step: move frames between sigma0 and the pool until sigma0
 * has as many as at boot. One grow or shrink may not fit (a shrink takes at
 * most a fixed number of runs; a grow's splits need pool pages), so the
 * step halves on a failure and doubles on a success; a failure at one frame
 * ends it (a pool shrunk nearly to nothing cannot fund the splits a grow
 * needs). Each success moves at least a frame: at most O(log) failures
 * between them. */
static err_t pool_to_boot(void)
{
	struct space_stats s;
	uint64_t step = (uint64_t)1 << FRAME_MAX_ORDER;

	space_stats(&s);
	while (s.client != s.client_boot) {
		const bool grow = s.client > s.client_boot;
		const uint64_t diff = grow ? s.client - s.client_boot : s.client_boot - s.client;
		const uint64_t n = diff < step ? diff : step;
		err_t e = grow ? space_pool_grow(n) : space_pool_shrink(n);
		if (e) {
			if (n == 1)
				return e;
			step = n / 2;
			continue;
		}
		if (step <= ((uint64_t)1 << FRAME_MAX_ORDER) / 2)
			step *= 2;
		space_stats(&s);
	}
	return NULL;
}

err_t cmd_reset(struct con *c, int argc, char **argv)
{
	(void)argc, (void)argv;
	err_t e = guest_recall(SPACE_MAX); /* none may run on the tables reset frees */

	if (e)
		return con_fail(c, "reset: %s", e);
	e = space_reset();

	if (e)
		return layer_fail(c, "reset", e);
	guest_space_gone(SPACE_MAX);
	/* What alloc and pool grow/shrink moved, back as at boot. */
	cmds_free_allocs();
	e = pool_to_boot();
	struct space_stats s;
	space_stats(&s);
	if (e)
		con_printf(
		    "reset: sigma0 maps 0x%lx frames, no client spaces; the pool keeps 0x%lx "
		    "frames, not its boot size: %s\n",
		    s.sigma0, s.pool, e);
	else
		con_printf("reset: sigma0 maps 0x%lx frames, no client spaces\n", s.sigma0);
	return NULL;
}

void cmds_mem_spaces(void)
{
	struct space_stats s;

	space_stats(&s);
	con_printf("spaces 0x%x: pool 0x%lx (used 0x%lx free 0x%lx) clients 0x%lx sigma0 0x%lx "
	           "reachable 0x%lx orphaned 0x%lx mappings 0x%lx\n",
	           s.spaces, s.pool, s.pool_used, s.pool_free, s.client, s.sigma0, s.reachable,
	           s.orphaned, s.mappings);
}
