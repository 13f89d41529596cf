/*
 * libFuzzer target for the spaces layer through the console.
 *
 * Each input decodes into a bounded sequence of console commands (map,
 * grant, unmap, flush, protect, space new/del/list, reset, pool
 * grow/shrink, lookup, peek, poke, mdb, pt N), with small space numbers,
 * addresses from a small set of aligned places (sigma0's frames and a few
 * client places) and now and then a garbage token. Each runs through
 * con_exec on the console monitor_init set up over a 64 MiB host machine
 * (with the reserved pieces in memmon's image). After each command:
 *   - a failing command printed exactly one line, "error: ...", and a
 *     succeeding one no "error:" line;
 *   - space_check passes (every invariant of SPEC section 1): after each
 *     command that changed the state, and at the end of the input (which
 *     covers the commands that failed or only looked);
 *   - the naive model (model.h), run in lockstep on every command whose
 *     arguments are well formed, agrees: same success or failure, the same
 *     pages reported, the same lookup of the pages the command named, the
 *     same page count in every space; lookup, peek and poke answer (or
 *     fault) as the model says.
 *   - a failing command leaves the database (nodes, free nodes, pages), the
 *     table pages and the pool's free frames as they were; the stash is
 *     empty after every command, and a commit that found it empty would
 *     have halted (stash_get CHECKs: paging's dry run is the only
 *     reservation, and a run finds no shortfall).
 * At the end of each input that changed anything every page of the model
 * is compared, and the spaces go back to their boot state (space_shutdown,
 * space_boot). The pool keeps all but 16 MiB, so that sigma0 and the
 * oracle stay small and inputs run fast.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "frame.h"
#include "host.h"
#include "mdb.h"
#include "model.h"
#include "monitor.h"
#include "platform.h"
#include "space.h"
#include "testlib.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KB4 PAGE_SIZE
#define MB2 ((uint64_t)1 << 21)
#define GIB ((uint64_t)1 << 30)
#define TOP SPACE_USER_TOP

#define MAX_CMDS 40

static char history[MAX_CMDS][200];
static unsigned nhistory;
static bool dirty;           /* a command of this input changed the state */
static bool changed;         /* the last command did */
static bool verbose;         /* FUZZ_SPACE_VERBOSE: print every command and its output */
static uint64_t pool_frames; /* what space_boot keeps: sigma0 about 16 MiB */

static void dump_history(void)
{
	for (unsigned i = 0; i < nhistory; i++)
		fprintf(stderr, "  %s\n", history[i]);
}

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_space.c:%d: property violated: %s\ncommands:\n",     \
			        __LINE__, #cond);                                                  \
			dump_history();                                                            \
			fprintf(stderr, "output of the last:\n%s\n", host_output());               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- the oracle ------------------------------------------------------------- */

static struct model M;

/* The oracle as the layer's boot state (or reset state): sigma0 maps every
 * client extent at v == r. */
static void oracle_boot(void)
{
	const struct space_extent *ext;
	const size_t n = space_extents(&ext);

	model_destroy(&M);
	REQUIRE(model_init(&M, &test_heap, SPACE_MAX) == NULL);
	for (size_t i = 0; i < n; i++)
		REQUIRE(model_sigma0(&M, ext[i].base, ext[i].pages) == NULL);
}

static void compare_page(unsigned n, uint64_t v)
{
	struct space_hit h;
	uint64_t pa = 0;
	unsigned r = 0;
	const bool hs = space_lookup(n, v, &h);
	const bool hm = model_space_exists(&M, n) && model_lookup(&M, n, v, &pa, &r);

	if (hs != hm || (hs && (pa_addr(h.pa) != pa || h.rights != r))) {
		fprintf(stderr, "%u:0x%lx: the layer %d 0x%lx %u, the model %d 0x%lx %u\n", n,
		        (unsigned long)v, hs, (unsigned long)(hs ? pa_addr(h.pa) : 0),
		        hs ? h.rights : 0, hm, (unsigned long)pa, r);
		REQUIRE(!"lookup agrees with the model");
	}
}

static void compare_region(unsigned n, uint64_t v, uint64_t len)
{
	const uint64_t pages = len / KB4;

	if (v >= KB4)
		compare_page(n, v - KB4);
	if (v + len < TOP)
		compare_page(n, v + len);
	for (uint64_t i = 0; i < pages && i < 32; i++)
		compare_page(n, v + i * KB4);
	for (uint64_t i = 32; i < pages; i += 509)
		compare_page(n, v + i * KB4);
	if (pages > 32)
		compare_page(n, v + len - KB4);
}

static void compare_counts(void)
{
	for (unsigned n = 0; n < SPACE_MAX; n++) {
		REQUIRE(space_exists(n) == model_space_exists(&M, n));
		REQUIRE(space_pages(n) == model_pages(&M, n));
	}
}

static bool compare_one(void *ctx, uint32_t n, uint64_t v, const struct model_map *mp)
{
	(void)ctx, (void)mp;
	compare_page(n, v);
	return true;
}

/* ---- tokens ----------------------------------------------------------------- */

struct tok {
	char text[48];
	bool ok;    /* a well-formed value of its kind */
	uint64_t v; /* the value */
};

static const uint8_t *in;
static size_t in_left;

static unsigned byte(void)
{
	if (!in_left)
		return 0;
	in_left--;
	return *in++;
}

static struct tok tok_num(uint64_t v)
{
	struct tok t = {.ok = true, .v = v};

	snprintf(t.text, sizeof(t.text), "0x%lx", (unsigned long)v);
	return t;
}

static struct tok tok_bad(const char *s)
{
	struct tok t = {.ok = false};

	snprintf(t.text, sizeof(t.text), "%s", s);
	return t;
}

static struct tok tok_space(void)
{
	const unsigned b = byte();

	switch (b % 16) {
	case 10:
		return tok_bad("-1");
	case 11:
		return tok_bad("x");
	case 12:
		return tok_num(255);
	case 13:
		return tok_num(SPACE_MAX);
	case 14: {
		struct tok t = tok_num(1);
		snprintf(t.text, sizeof(t.text), "1");
		return t;
	}
	default:
		return tok_num(b % 16 < 10 ? b % 7 : b % 3);
	}
}

/* Places: sigma0's (found at boot) and a client's. */
static uint64_t places[32];
static unsigned nplaces;

static const uint64_t client_places[] = {
    0,        0x1000,   0x2000,     0x3000,         0x5000,         0x200000,
    0x201000, 0x400000, 0x40000000, 0x7ffffffff000, 0x7fffffe00000,
};

static const char *const bad_addrs[] = {
    "0x800000000000",      "0xffff800000000000", "0xffffff8000000000", "zz", "0x",
    "0x10000000000000000", "0xfffffffffffff000",
};

static struct tok tok_addr(uint64_t align)
{
	const unsigned b = byte();

	if (b >= 248)
		return tok_bad(bad_addrs[b % ARRAY_SIZE(bad_addrs)]);
	if (b >= 240) {
		/* not page-aligned: well formed for lookup (any alignment), for peek
		 * and poke when 8-aligned, never for the region commands */
		struct tok t = tok_num(places[b % nplaces] + 1 + 7 * (b % 2));
		t.ok = t.v % align == 0;
		return t;
	}
	uint64_t v =
	    b % 2 ? places[(b / 2) % nplaces] : client_places[(b / 2) % ARRAY_SIZE(client_places)];
	if (align < KB4)
		v += 8 * (byte() % 4) * (1 + 0x1fd * (b % 3 == 0)); /* a word in the page */
	return tok_num(v);
}

static const struct {
	const char *text;
	uint64_t v;
} sizes[] = {
    {"4K", KB4},
    {"8K", 2 * KB4},
    {"0x3000", 3 * KB4},
    {"16K", 4 * KB4},
    {"0x10000", 0x10000},
    {"2M", MB2},
    {"0x201000", MB2 + KB4},
    {"4M", 2 * MB2},
    {"0x1ff000", MB2 - KB4},
    {"1G", GIB},
    {"0", 0},
    {"0x1001", 0x1001},
    {"junk", 0},
};

static struct tok tok_size(void)
{
	const unsigned b = byte() % ARRAY_SIZE(sizes);
	struct tok t = {.ok = sizes[b].v && sizes[b].v % KB4 == 0, .v = sizes[b].v};

	snprintf(t.text, sizeof(t.text), "%s", sizes[b].text);
	return t;
}

static const struct {
	const char *text;
	unsigned v; /* 0: refused */
} rights[] = {
    {"r", RIGHTS_R},   {"rw", RIGHTS_RW}, {"rx", RIGHTS_RX}, {"rwx", RIGHTS_RWX}, {"xr", RIGHTS_RX},
    {"wr", RIGHTS_RW}, {"w", 0},          {"wx", 0},         {"rr", 0},           {"rwxq", 0},
};

static struct tok tok_rights(void)
{
	const unsigned b = byte() % ARRAY_SIZE(rights);
	struct tok t = {.ok = rights[b].v != 0, .v = rights[b].v};

	snprintf(t.text, sizeof(t.text), "%s", rights[b].text);
	return t;
}

static bool region_ok(uint64_t v, uint64_t len)
{
	return v < TOP && len <= TOP - v;
}

/* ---- running a command ------------------------------------------------------ */

static struct con con;

/* Output checks: a failure printed exactly one "error:" line; a success
 * none. */
static void check_output(err_t e)
{
	const char *out = host_output(), *end = out + host_output_len();
	unsigned lines = 0, errors = 0;

	for (const char *p = out; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		lines++;
		errors += (size_t)(end - p) >= 6 && memcmp(p, "error:", 6) == 0;
		p = nl ? nl + 1 : end;
	}
	if (e)
		REQUIRE(lines == 1 && errors == 1);
	else
		REQUIRE(errors == 0);
}

/* The counts a failed command must leave as they were. */
struct counts {
	struct mdb_stats ms;
	uint64_t free, ptables, mdb, stash;
};

static void take_counts(struct counts *c)
{
	struct frame_stats fs;
	struct space_stats st;

	mdb_stats(&c->ms);
	frame_stats(&fs);
	space_stats(&st);
	c->free = fs.free;
	c->ptables = fs.owned[FRAME_PTABLE];
	c->mdb = fs.owned[FRAME_MDB];
	c->stash = st.stash;
}

/* Field by field: the structs have padding, which no copy keeps. */
static bool counts_equal(const struct counts *a, const struct counts *b)
{
	return a->ms.nodes == b->ms.nodes && a->ms.free == b->ms.free &&
	       a->ms.pages == b->ms.pages && a->ms.buckets == b->ms.buckets &&
	       a->ms.node_pages == b->ms.node_pages && a->free == b->free &&
	       a->ptables == b->ptables && a->mdb == b->mdb && a->stash == b->stash;
}

static err_t run(const char *line)
{
	struct counts before, after;

	if (nhistory < MAX_CMDS)
		snprintf(history[nhistory++], sizeof(history[0]), "%s", line);
	host_output_reset();
	take_counts(&before);
	const err_t e = con_exec(&con, line);
	check_output(e);
	take_counts(&after);
	/* a failure changes nothing; no command keeps a table page in the
	 * stash (and one that ran short of it halted: stash_get CHECKs) */
	REQUIRE(!e || counts_equal(&before, &after));
	REQUIRE(after.stash == 0);
	if (verbose)
		fprintf(stderr, "mon> %s\n%s", line, host_output());
	if (!e && strncmp(line, "lookup", 6) && strncmp(line, "peek", 4) &&
	    strncmp(line, "mdb", 3) && strncmp(line, "pt", 2) && strncmp(line, "space list", 10))
		dirty = changed = true;
	return e;
}

static bool said(const char *s)
{
	return strstr(host_output(), s) != NULL;
}

/* The count a command printed after ": 0x". */
static uint64_t printed_pages(void)
{
	const char *p = strstr(host_output(), ": 0x");

	REQUIRE(p);
	return strtoull(p + 2, NULL, 16);
}

static uint64_t nomem_skipped;

/* Compare the layer's answer with the model's for a well-formed command. */
static void agree(err_t e, err_t me, uint64_t mdone, bool counts)
{
	REQUIRE((e == NULL) == (me == NULL));
	if (!e && counts)
		REQUIRE(printed_pages() == mdone);
}

static void cmd_map_like(bool grant)
{
	const struct tok n = tok_space(), v = tok_addr(KB4), n2 = tok_space(), v2 = tok_addr(KB4);
	const unsigned form = byte() % 4;
	struct tok sz = {.ok = true, .v = KB4}, r = {.ok = true, .v = 7};
	char line[256];

	if (form & 1)
		sz = tok_size();
	if (form & 2)
		r = tok_rights();
	snprintf(line, sizeof(line), "%s %s %s %s %s%s%s%s%s", grant ? "grant" : "map", n.text,
	         v.text, n2.text, v2.text, form & 1 ? " " : "", form & 1 ? sz.text : "",
	         form & 2 ? " " : "", form & 2 ? r.text : "");
	const bool wf = n.ok && v.ok && n2.ok && v2.ok && sz.ok && r.ok && v.v % KB4 == 0 &&
	                v2.v % KB4 == 0 && region_ok(v.v, sz.v) && region_ok(v2.v, sz.v);
	const err_t e = run(line);
	if (!wf) {
		REQUIRE(e);
		return;
	}
	if (e && said(space_err_nomem)) {
		nomem_skipped++;
		compare_region(n.v, v.v, sz.v);
		compare_region(n2.v, v2.v, sz.v);
		return;
	}
	uint64_t done = 0;
	const err_t me = grant ? model_grant(&M, n.v, v.v, n2.v, v2.v, sz.v / KB4, r.v, &done)
	                       : model_map(&M, n.v, v.v, n2.v, v2.v, sz.v / KB4, r.v, &done);
	agree(e, me, done, true);
	compare_region(n.v, v.v, sz.v);
	compare_region(n2.v, v2.v, sz.v);
}

static void cmd_region(unsigned which)
{
	static const char *const names[] = {"unmap", "flush", "protect"};
	const struct tok n = tok_space(), v = tok_addr(KB4);
	struct tok sz = {.ok = true, .v = KB4}, r = {.ok = true, .v = 7};
	const bool with_size = which == 2 || byte() % 2;
	char line[256];

	if (with_size)
		sz = tok_size();
	if (which == 2)
		r = tok_rights();
	snprintf(line, sizeof(line), "%s %s %s%s%s%s%s", names[which], n.text, v.text,
	         with_size ? " " : "", with_size ? sz.text : "", which == 2 ? " " : "",
	         which == 2 ? r.text : "");
	const bool wf = n.ok && v.ok && sz.ok && r.ok && v.v % KB4 == 0 && region_ok(v.v, sz.v);
	const err_t e = run(line);
	if (!wf) {
		REQUIRE(e);
		return;
	}
	if (e && said(space_err_nomem)) {
		nomem_skipped++;
		compare_region(n.v, v.v, sz.v);
		return;
	}
	uint64_t done = 0;
	const uint64_t pages = sz.v / KB4;
	const err_t me = which == 0   ? model_unmap(&M, n.v, v.v, pages, &done)
	                 : which == 1 ? model_flush(&M, n.v, v.v, pages, &done)
	                              : model_protect(&M, n.v, v.v, pages, r.v, &done);
	agree(e, me, done, true);
	compare_region(n.v, v.v, sz.v);
}

static uint64_t model_total(void)
{
	uint64_t t = 0;

	for (unsigned n = 0; n < SPACE_MAX; n++)
		t += model_pages(&M, n);
	return t;
}

static void cmd_space(unsigned which)
{
	char line[64];

	if (which == 0) {
		const err_t e = run("space new");
		if (e) {
			REQUIRE(said(space_err_full) || said(space_err_nomem));
			return;
		}
		unsigned n = 0;
		REQUIRE(sscanf(host_output(), "space %u", &n) == 1);
		REQUIRE(model_space_create(&M, n) == NULL);
		for (unsigned k = 1; k < n; k++)
			REQUIRE(model_space_exists(&M, k)); /* the lowest free number */
		return;
	}
	if (which == 1) {
		const struct tok n = tok_space();
		snprintf(line, sizeof(line), "space del %s", n.text);
		const err_t e = run(line);
		if (!n.ok) {
			REQUIRE(e);
			return;
		}
		if (e && said(space_err_nomem)) {
			nomem_skipped++;
			return;
		}
		const uint64_t before = model_total();
		const err_t me = model_space_delete(&M, n.v);
		agree(e, me, before - model_total(), true);
		return;
	}
	REQUIRE(run("space list") == NULL);
}

static void cmd_reset(void)
{
	const err_t e = run("reset");

	if (e) {
		REQUIRE(said(space_err_nomem));
		nomem_skipped++;
		return;
	}
	oracle_boot(); /* every client frame, as the extents are now */
}

/* The oracle follows the frames pool grow and shrink moved. */
static struct space_extent ext_before[4096];
static size_t next_before;

static bool in_extents(const struct space_extent *e, size_t n, uint64_t pa)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].base <= pa && pa < e[i].base + e[i].pages * KB4)
			return true;
	return false;
}

static void cmd_pool(bool grow)
{
	static const char *const counts[] = {"1",      "0x10", "0x100",    "0x201",
	                                     "0x1000", "0",    "0x100000", "x"};
	char line[64];
	const struct space_extent *ext;

	snprintf(line, sizeof(line), "pool %s %s", grow ? "grow" : "shrink", counts[byte() % 8]);
	next_before = space_extents(&ext);
	memcpy(ext_before, ext, next_before * sizeof(*ext));
	if (run(line))
		return;
	const size_t next = space_extents(&ext);
	if (grow) {
		for (size_t i = 0; i < next_before; i++)
			for (uint64_t k = 0; k < ext_before[i].pages; k++) {
				const uint64_t pa = ext_before[i].base + k * KB4;
				if (!in_extents(ext, next, pa)) {
					struct model_map mp;
					REQUIRE(model_get(&M, 0, pa, &mp) &&
					        mp.src_space == MODEL_REAL && mp.src == pa);
					REQUIRE(model_flush(&M, 0, pa, 1, NULL) == NULL);
				}
			}
	} else {
		for (size_t i = 0; i < next; i++)
			for (uint64_t k = 0; k < ext[i].pages; k++) {
				const uint64_t pa = ext[i].base + k * KB4;
				if (!in_extents(ext_before, next_before, pa))
					REQUIRE(model_sigma0(&M, pa, 1) == NULL);
			}
	}
	compare_counts();
}

static void cmd_lookup(void)
{
	const struct tok n = tok_space(), v = tok_addr(1);
	char line[128];

	snprintf(line, sizeof(line), "lookup %s %s", n.text, v.text);
	const err_t e = run(line);
	if (e)
		return;
	REQUIRE(n.ok && v.ok);
	uint64_t pa;
	unsigned r;
	const uint64_t page = v.v & ~(KB4 - 1);
	if (!model_lookup(&M, n.v, page, &pa, &r)) {
		REQUIRE(said("-> none"));
		return;
	}
	char want[64];
	char rs[4];
	rights_format(r, rs);
	snprintf(want, sizeof(want), "-> 0x%lx %s ", (unsigned long)(pa + v.v - page), rs);
	REQUIRE(said(want));
}

static void cmd_access(bool write)
{
	const struct tok n = tok_space(), v = tok_addr(8);
	const uint64_t x = 0x0101010101010101ull * (byte() + 1);
	char line[128];

	if (write)
		snprintf(line, sizeof(line), "poke %s %s 0x%lx", n.text, v.text, (unsigned long)x);
	else
		snprintf(line, sizeof(line), "peek %s %s", n.text, v.text);
	const err_t e = run(line);
	if (e)
		return;
	REQUIRE(n.ok && v.ok && v.v % 8 == 0);
	uint64_t pa;
	unsigned r;
	const uint64_t page = v.v & ~(KB4 - 1);
	if (!model_lookup(&M, n.v, page, &pa, &r)) {
		REQUIRE(said("fault: #PF") && said("not-present"));
		return;
	}
	if (write && !(r & 2)) {
		REQUIRE(said("fault: #PF") && said("protection write"));
		return;
	}
	REQUIRE(!said("fault"));
	const uint64_t word = *(const uint64_t *)plat_pa_to_ptr(pa_init(pa + v.v - page));
	if (write)
		REQUIRE(word == x);
	char want[64];
	snprintf(want, sizeof(want), " = 0x%lx", (unsigned long)word);
	REQUIRE(said(want));
}

static void cmd_show(unsigned which)
{
	const struct tok n = tok_space(), v = tok_addr(1);
	char line[128];

	if (which == 0)
		snprintf(line, sizeof(line), "mdb %s %s", n.text, v.text);
	else if (which == 1)
		snprintf(line, sizeof(line), "pt %s", n.text);
	else
		snprintf(line, sizeof(line), "pt %s %s", n.text, v.text);
	run(line);
}

static void check_all(void)
{
	char why[256];
	struct space_check sum;
	const err_t e = space_check(mon_pt.tables, why, sizeof(why), &sum);

	if (e)
		fprintf(stderr, "space_check: %s: %s\n", e, why);
	REQUIRE(e == NULL);
	compare_counts();
}

static void one_command(void)
{
	const unsigned op = byte();

	switch (op % 32) {
	case 0 ... 5:
		cmd_map_like(false);
		break;
	case 6 ... 8:
		cmd_map_like(true);
		break;
	case 9 ... 11:
		cmd_region(0);
		break;
	case 12 ... 14:
		cmd_region(1);
		break;
	case 15 ... 17:
		cmd_region(2);
		break;
	case 18 ... 20:
		cmd_space(0);
		break;
	case 21 ... 22:
		cmd_space(1);
		break;
	case 23:
		if (op >= 128)
			cmd_reset();
		else
			cmd_space(2);
		break;
	case 24:
		cmd_pool(true);
		break;
	case 25:
		cmd_pool(false);
		break;
	case 26:
	case 27:
		cmd_lookup();
		break;
	case 28:
		cmd_access(false);
		break;
	case 29:
		cmd_access(true);
		break;
	case 30:
		cmd_show(op % 3);
		break;
	default:
		/* a line of raw bytes from the input, printable */
		{
			char line[64];
			size_t k = 0;
			const size_t len = byte() % sizeof(line);
			while (k < len && in_left) {
				const unsigned ch = byte();
				line[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
			}
			line[k] = '\0';
			const struct space_stats before = ({
				struct space_stats s;
				space_stats(&s);
				s;
			});
			if (strncmp(line, "reset", 5) && strncmp(line, "pool", 4) &&
			    strncmp(line, "halt", 4) && strncmp(line, "alloc", 5) &&
			    strncmp(line, "free", 4) && strncmp(line, "park", 4) &&
			    strncmp(line, "echo", 4))
				run(line);
			struct space_stats after;
			space_stats(&after);
			/* a raw line may be a well-formed command: follow it by counts
			 * only if it changed nothing the model sees */
			if (after.pages != before.pages || after.spaces != before.spaces ||
			    after.reachable != before.reachable) {
				/* resynchronise: the oracle cannot know what a raw line did */
				REQUIRE(run("reset") == NULL);
				oracle_boot();
			}
		}
	}
	/* space_check after every command that changed the state, and at the
	 * end of the input; the cheap comparisons after every command */
	if (changed)
		check_all();
	else
		compare_counts();
	changed = false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct con boot;
	const struct space_extent *ext;

	(void)argc, (void)argv;
	/* the reserved pieces: the last 4 frames of the image, which memmon keeps */
	host_rsv_base = ((uint64_t)64 << 20) - 0x200000 + 0x40000 - HOST_RSV_FRAMES * KB4;
	monitor_init(&boot, host_boot_info(64));
	host_output_reset();
	con_init(&con);
	/* a pool of all but 16 MiB, so that sigma0 (and the oracle) stay small */
	struct frame_stats fs;
	space_shutdown();
	frame_stats(&fs);
	pool_frames = fs.free - 4096;
	REQUIRE(space_boot(pool_frames, true) == NULL);
	/* sigma0's places, from its largest extents: the start, a page in, a 2M
	 * place and a few pages into it */
	const size_t n = space_extents(&ext);
	bool used[4096] = {false};
	while (nplaces + 4 <= ARRAY_SIZE(places)) {
		size_t best = n;
		for (size_t i = 0; i < n && i < ARRAY_SIZE(used); i++)
			if (!used[i] && (best == n || ext[i].pages > ext[best].pages))
				best = i;
		if (best == n)
			break;
		used[best] = true;
		const uint64_t b = ext[best].base, end = b + ext[best].pages * KB4;
		const uint64_t m = (b + MB2 - 1) & ~(MB2 - 1);
		places[nplaces++] = b;
		places[nplaces++] = b + KB4;
		if (m + MB2 <= end) {
			places[nplaces++] = m + MB2 < end ? m + MB2 : m;
			places[nplaces++] = m + 3 * KB4;
		}
	}
	oracle_boot();
	verbose = getenv("FUZZ_SPACE_VERBOSE") != NULL;
	if (verbose)
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "sigma0 extent 0x%lx 0x%lx pages\n",
			        (unsigned long)ext[i].base, (unsigned long)ext[i].pages);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in = data;
	in_left = size;
	nhistory = 0;
	for (unsigned k = 0; k < MAX_CMDS && in_left; k++)
		one_command();
	check_all();
	if (dirty) {
		model_each(&M, compare_one, NULL);
		compare_counts();
		/* back to the boot state for the next input */
		space_shutdown();
		REQUIRE(space_boot(pool_frames, true) == NULL);
		oracle_boot();
		dirty = false;
	}
	host_output_reset();
	return 0;
}
