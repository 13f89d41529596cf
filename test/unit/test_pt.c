/*
 * Unit tests of the page-table driver (paging/pt.c) on the hosted platform.
 *
 * The tables pt.c writes are read by a software MMU of this file's own: it
 * decodes raw 64-bit entries from the AMD64 layout (none of pte.h's
 * helpers) and walks from the root, or from CR3 while the tree is live, as
 * the CPU would: rights are the AND of RW and of US over all levels,
 * execute is the absence of XD at every level, and every present entry is
 * checked to be well formed. What the tree must translate is a flat
 * reference map from 4K page to frame and attributes over ten GiB of
 * virtual windows placed across every boundary (PML4 slots, the hole, the
 * top of the address space); from it the fewest entries (superpages
 * wherever allowed) and table pages are computed incrementally and held
 * against the tree after every operation.
 *
 * Each test starts from a fresh frame allocator over 64 MiB of simulated RAM
 * that is filled with garbage first, so that a table page is never clean
 * before pt.c writes it. Table pages come through a door that counts them
 * and can fail the Nth request. The teardown checks that the allocator's
 * audit passes and that every frame came back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "host.h"
#include "platform.h"
#include "pt.h"

#include "unit.h"

#define U(x) ((unsigned long long)(x))

#define KB4        PAGE_SIZE
#define MB2        ((uint64_t)1 << 21)
#define GIB        ((uint64_t)1 << 30)
#define SLOT       ((uint64_t)1 << 39) /* what one PML4 entry covers */
#define LIN_END    ((uint64_t)1 << 48)
#define LIN_MASK   (LIN_END - 1)
#define LOW_END    ((uint64_t)1 << 47)
#define HIGH_START ((uint64_t)0xffff800000000000)
#define PA_END     ((uint64_t)1 << 52)
#define NEVER      UINT64_MAX
#define GARBAGE    0x5c

/* ---- the machine ------------------------------------------------------------ */

#define RAM_BYTES ((uint64_t)64 << 20)
#define NF        (RAM_BYTES / PAGE_SIZE)
/* Everything but frame 0, so that no table can sit at physical 0 and a CR3
 * of 0 is no tree's. */
static const struct frame_range ram_ranges[] = {{PAGE_SIZE, NF - 1, FRAME_FREE}};

static struct {
	struct frame_stats init; /* right after frame_init */
} fx;

static void unload(void);

static int setup(void **state)
{
	uint8_t *ram;

	(void)state;
	ram = host_ram(RAM_BYTES);
	memset(ram, GARBAGE, RAM_BYTES);
	assert_null(frame_init(ram_ranges, ARRAY_SIZE(ram_ranges)));
	frame_stats(&fx.init);
	unload();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_frames_back(&fx.init);
	return 0;
}

static uint64_t free_frames(void)
{
	struct frame_stats s;

	frame_stats(&s);
	return s.free;
}

static void check_err(err_t got, err_t want, int line)
{
	if (got != want)
		fail_msg("%s: line %d: got \"%s\", want \"%s\"", test_where, line,
		         got ? got : "success", want ? want : "success");
}
#define assert_err(got, want) check_err((got), (want), __LINE__)

/* ---- addresses -------------------------------------------------------------- */

/* A "linear" address is a canonical one with its top 16 bits dropped:
 * 0 .. 2^48, in which the upper half follows the lower without a hole and
 * nothing overflows. */
static uint64_t lin(uint64_t va)
{
	return va & LIN_MASK;
}

static uint64_t canon(uint64_t l)
{
	return (l & LOW_END) ? (l | ~LIN_MASK) : l;
}

static bool canonical(uint64_t va)
{
	return canon(lin(va)) == va;
}

static uint64_t span(unsigned level)
{
	return (uint64_t)1 << (PAGE_SHIFT + 9 * level);
}

static uint64_t rdown(uint64_t x, uint64_t a)
{
	return x & ~(a - 1);
}

static uint64_t rup(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* ---- the windows the reference covers --------------------------------------- */

#define NWIN 5
#define NGIB 10
#define NP   ((uint64_t)NGIB << 18) /* 4K pages */
#define NB2  (NP >> 9)              /* 2M blocks */
#define NB1  (NP >> 18)             /* 1G blocks */

static const struct {
	uint64_t va; /* canonical, 1 GiB-aligned */
	uint64_t gib;
} windef[NWIN] = {
    {0, 4},                 /* the bottom of PML4 slot 0 */
    {511 * GIB, 2},         /* across PML4 slots 0 and 1 */
    {LOW_END - GIB, 1},     /* the last GiB below the hole */
    {HIGH_START, 2},        /* the first two above it */
    {(uint64_t)0 - GIB, 1}, /* the last GiB of the address space */
};

static struct {
	uint64_t lin, end; /* linear range */
	uint64_t first;    /* its first page in the reference */
	uint64_t pages;
} win[NWIN];

static void windows_init(void)
{
	uint64_t first = 0;

	for (unsigned w = 0; w < NWIN; w++) {
		win[w].lin = lin(windef[w].va);
		win[w].end = win[w].lin + windef[w].gib * GIB;
		win[w].first = first;
		win[w].pages = windef[w].gib << 18;
		first += win[w].pages;
	}
	assert_int_equal(first, NP);
}

static int win_of_lin(uint64_t l)
{
	static int last;

	if (l >= win[last].lin && l < win[last].end)
		return last;
	for (int w = 0; w < NWIN; w++)
		if (l >= win[w].lin && l < win[w].end)
			return last = w;
	return -1;
}

static int win_of_page(uint64_t p)
{
	for (int w = 0; w < NWIN; w++)
		if (p >= win[w].first && p < win[w].first + win[w].pages)
			return w;
	return -1;
}

static uint64_t lin_of_page(uint64_t p)
{
	int w = win_of_page(p);

	return win[w].lin + (p - win[w].first) * KB4;
}

static uint64_t va_of_page(uint64_t p)
{
	return canon(lin_of_page(p));
}

/* ---- raw entries, from the AMD64 manual ------------------------------------- */

#define X_P     ((uint64_t)1 << 0)
#define X_RW    ((uint64_t)1 << 1)
#define X_US    ((uint64_t)1 << 2)
#define X_PWT   ((uint64_t)1 << 3)
#define X_PCD   ((uint64_t)1 << 4)
#define X_A     ((uint64_t)1 << 5)
#define X_D     ((uint64_t)1 << 6)
#define X_PS    ((uint64_t)1 << 7) /* PDPT, PD */
#define X_PAT4K ((uint64_t)1 << 7) /* PT */
#define X_G     ((uint64_t)1 << 8)
#define X_AVL   ((uint64_t)7 << 9) /* ignored by the MMU */
#define X_PATLG ((uint64_t)1 << 12)
#define X_ADDR  ((uint64_t)0x000ffffffffff000)
#define X_AVH   ((uint64_t)0x7ff << 52) /* ignored by the MMU in table entries */
#define X_COUNT ((uint64_t)0x3ff << 52) /* where pt.c keeps a table's count */
#define X_XD    ((uint64_t)1 << 63)

/* The present-entry count pt.c keeps in a table entry's ignored bits. */
static unsigned raw_count(uint64_t e)
{
	return (unsigned)((e & X_COUNT) >> 52);
}

static bool is_table(uint64_t e, unsigned level)
{
	return (e & X_P) && level > 0 && !(e & X_PS);
}

static const uint64_t *table_at(uint64_t pa)
{
	if (pa % PAGE_SIZE || pa + PAGE_SIZE > plat_ram_limit) {
		test_failf("a table at %#llx, not a page of RAM", U(pa));
		return NULL;
	}
	return plat_pa_to_ptr(pa_init(pa));
}

/* Whether the CPU has 1 GiB pages, for the tree being checked. */
static bool cur_gib;

/* Check that entry e, at `level` for linear address l, is one the CPU
 * accepts (no reserved bit) and follows memmon's conventions. */
static void check_entry(uint64_t e, unsigned level, uint64_t l)
{
	if (!(e & X_P)) {
		if (e)
			test_failf("va %#llx level %u: absent entry %#llx not zero", U(canon(l)),
			           level, U(e));
		return;
	}
	if (level == 3 && (e & X_PS))
		test_failf("va %#llx: PS set in a PML4 entry %#llx", U(canon(l)), U(e));
	if (is_table(e, level)) {
		if ((e & ~(X_ADDR | X_COUNT)) != (X_P | X_RW | X_US | X_A))
			test_failf(
			    "va %#llx level %u: table entry %#llx is not P|RW|US|A and a count",
			    U(canon(l)), level, U(e));
		if ((e & X_ADDR) + PAGE_SIZE > plat_ram_limit)
			test_failf("va %#llx level %u: table entry %#llx points outside RAM",
			           U(canon(l)), level, U(e));
		return;
	}
	if (level == 2 && !cur_gib)
		test_failf("va %#llx: a 1G page %#llx without 1 GiB pages", U(canon(l)), U(e));
	if (!(e & X_A) || !(e & X_D))
		test_failf("va %#llx level %u: leaf %#llx without A and D", U(canon(l)), level,
		           U(e));
	if (e & X_AVL)
		test_failf("va %#llx level %u: leaf %#llx with ignored bits 11:9 set", U(canon(l)),
		           level, U(e));
	if (e & X_AVH)
		test_failf("va %#llx level %u: leaf %#llx with bits 62:52 set", U(canon(l)), level,
		           U(e));
	if (level > 0 && (e & (span(level) - 1) & ~(X_PATLG | (PAGE_SIZE - 1))))
		test_failf("va %#llx level %u: large leaf %#llx not aligned (reserved bits set)",
		           U(canon(l)), level, U(e));
}

static pt_attr_t leaf_attr(uint64_t e, unsigned level, unsigned rw, unsigned us, unsigned nx)
{
	pt_attr_t a = PT_R;
	unsigned pat = 0;

	if (rw)
		a |= PT_W;
	if (us)
		a |= PT_USER;
	if (!nx)
		a |= PT_X;
	if (e & X_G)
		a |= PT_GLOBAL;
	if (e & X_PWT)
		pat |= 1;
	if (e & X_PCD)
		pat |= 2;
	if (e & (level ? X_PATLG : X_PAT4K))
		pat |= 4;
	return a | ((pt_attr_t)pat << PT_CACHE_SHIFT);
}

static unsigned present_in(uint64_t table)
{
	const uint64_t *t = table_at(table);
	unsigned n = 0;

	for (unsigned i = 0; i < PT_ENTRIES; i++)
		n += (t[i] & X_P) != 0;
	return n;
}

/* What the software MMU makes of one address. */
struct xlat {
	uint64_t pa;
	pt_attr_t attr;
	unsigned level;
};

/* Translate va as the CPU would, from the table at `root`. */
static bool mmu(uint64_t root, uint64_t va, struct xlat *x)
{
	uint64_t table = root;
	unsigned rw = 1, us = 1, nx = 0;

	if (!canonical(va))
		return false; /* #GP */
	for (unsigned level = PT_LEVELS; level-- > 0;) {
		uint64_t e = table_at(table)[(va >> (PAGE_SHIFT + 9 * level)) & 511];

		check_entry(e, level, lin(va));
		if (!(e & X_P))
			return false;
		rw &= (e & X_RW) != 0;
		us &= (e & X_US) != 0;
		nx |= (e & X_XD) != 0;
		if (!is_table(e, level)) {
			x->pa = (e & X_ADDR & ~(span(level) - 1)) | (va & (span(level) - 1));
			x->attr = leaf_attr(e, level, rw, us, nx);
			x->level = level;
			return true;
		}
		table = e & X_ADDR;
	}
	return false;
}

/* Every table page of a tree, each with a copy of its bytes, in walk order. */
struct snap {
	size_t n, cap;
	uint64_t *pa;
	uint8_t *bytes;
	struct pt pt;
	uint64_t free;
};

static void snap_add(struct snap *s, uint64_t table, unsigned level)
{
	const uint64_t *t = table_at(table);

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->pa = realloc(s->pa, s->cap * sizeof(*s->pa));
		s->bytes = realloc(s->bytes, s->cap * PAGE_SIZE);
		assert_non_null(s->pa);
		assert_non_null(s->bytes);
	}
	s->pa[s->n] = table;
	memcpy(s->bytes + s->n * PAGE_SIZE, t, PAGE_SIZE);
	s->n++;
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (is_table(t[i], level))
			snap_add(s, t[i] & X_ADDR, level - 1);
}

static void snap_take(struct snap *s, const struct pt *pt)
{
	memset(s, 0, sizeof(*s));
	s->pt = *pt;
	s->free = free_frames();
	snap_add(s, pa_addr(pt->root), PT_LEVELS - 1);
}

static void snap_free(struct snap *s)
{
	free(s->pa);
	free(s->bytes);
	memset(s, 0, sizeof(*s));
}

/* The tree is byte for byte what it was when s was taken, its struct too,
 * and no frame was taken or given back. */
static void snap_same(const struct snap *s, const struct pt *pt)
{
	struct snap now;

	if (pa_addr(pt->root) != pa_addr(s->pt.root) || pt->tables != s->pt.tables ||
	    pt->root_count != s->pt.root_count || pt->top_leaf != s->pt.top_leaf)
		test_failf("struct pt changed: tables %llu -> %llu, root_count %u -> %u",
		           U(s->pt.tables), U(pt->tables), s->pt.root_count, pt->root_count);
	snap_take(&now, pt);
	if (now.free != s->free)
		test_failf("free frames %llu -> %llu", U(s->free), U(now.free));
	if (now.n != s->n)
		test_failf("%zu table pages -> %zu", s->n, now.n);
	for (size_t i = 0; i < s->n; i++) {
		if (now.pa[i] != s->pa[i])
			test_failf("table %zu at %#llx -> %#llx", i, U(s->pa[i]), U(now.pa[i]));
		if (memcmp(now.bytes + i * PAGE_SIZE, s->bytes + i * PAGE_SIZE, PAGE_SIZE)) {
			const uint64_t *a = (const uint64_t *)(s->bytes + i * PAGE_SIZE);
			const uint64_t *b = (const uint64_t *)(now.bytes + i * PAGE_SIZE);
			unsigned k = 0;
			while (a[k] == b[k])
				k++;
			test_failf("table at %#llx changed: entry %u %#llx -> %#llx", U(s->pa[i]),
			           k, U(a[k]), U(b[k]));
		}
	}
	snap_free(&now);
}

/* ---- the door ----------------------------------------------------------------- */

/* Table pages from the frame allocator, counted; get number fail_at
 * (counted from 0 since `attempts` was last reset) fails. */
struct door {
	uint64_t gets, puts; /* pages handed out and back */
	uint64_t attempts;
	uint64_t fail_at;
};

static err_t door_get(void *ctx, paddr_t *out)
{
	struct door *d = ctx;

	if (d->attempts++ == d->fail_at)
		return frame_err_nomem;
	err_t e = kalloc(FRAME_PTABLE, out);
	if (!e)
		d->gets++;
	return e;
}

static void door_put(void *ctx, paddr_t pa)
{
	struct door *d = ctx;
	err_t e = kfree(pa, FRAME_PTABLE);

	if (e)
		test_failf("pt gave back %#llx: %s", U(pa_addr(pa)), e);
	d->puts++;
}

/* ---- the model ------------------------------------------------------------------ */

/* A 1G block's share of the fewest entries that translate the reference. */
struct blk {
	bool merge;    /* one aligned, contiguous, uniform run: a 1G page can map it */
	bool nonempty; /* something mapped in it */
	uint64_t leaves[3];
	uint64_t tables; /* its PD and PTs */
};

static struct {
	struct pt pt;
	struct door door;
	struct pt_mem mem;
	bool own_door; /* m.door, not pt_mem_frames */
	bool gib;
	bool live; /* pt_load'ed: the MMU starts from CR3 */
	/* The reference: per page, 0 or the frame's address | its attributes. */
	uint64_t ref[NP];
	/* Per 2M block: pages mapped; whether a 2M page can map it. */
	uint16_t cnt2[NB2];
	uint8_t merge2[NB2];
	struct blk g[NB1];
	uint32_t slot[PT_ENTRIES]; /* nonempty 1G blocks under each PML4 entry */
	/* The fewest entries, and the table pages they need (less the root). */
	uint64_t leaves[3];
	uint64_t tables;
	uint64_t slots; /* PML4 entries present: PDPTs */
	uint64_t pages;
	uint64_t ops;
} m;

static uint64_t want_tables(void)
{
	return 1 + m.slots + m.tables;
}

/* The level of the leaf that maps page p in the fewest entries. */
static unsigned want_level(uint64_t p)
{
	if (m.gib && m.g[p >> 18].merge)
		return 2;
	if (m.merge2[p >> 9])
		return 1;
	return 0;
}

static void scan2(uint64_t b)
{
	const uint64_t *r = &m.ref[b << 9];
	unsigned n = 0;
	bool merge;

	for (unsigned i = 0; i < 512; i++)
		n += r[i] != 0;
	m.cnt2[b] = (uint16_t)n;
	merge = n == 512 && ((r[0] >> PAGE_SHIFT) & 511) == 0;
	for (unsigned i = 1; merge && i < 512; i++)
		merge = r[i] == r[0] + i * KB4;
	m.merge2[b] = merge;
}

static void scan1(uint64_t g)
{
	struct blk *k = &m.g[g];
	const uint64_t *r = &m.ref[g << 18];
	uint64_t b0 = g << 9;

	memset(k, 0, sizeof(*k));
	k->merge = ((r[0] >> PAGE_SHIFT) & ((1u << 18) - 1)) == 0;
	for (unsigned j = 0; j < 512; j++) {
		if (!m.merge2[b0 + j] || r[j << 9] != r[0] + j * MB2)
			k->merge = false;
		if (m.cnt2[b0 + j])
			k->nonempty = true;
	}
	if (m.gib && k->merge) {
		k->leaves[2] = 1;
		return;
	}
	for (unsigned j = 0; j < 512; j++) {
		if (m.merge2[b0 + j]) {
			k->leaves[1]++;
		} else if (m.cnt2[b0 + j]) {
			k->leaves[0] += m.cnt2[b0 + j];
			k->tables++;
		}
	}
	if (k->nonempty)
		k->tables++;
}

static unsigned slot_of_block(uint64_t g)
{
	return (unsigned)((lin_of_page(g << 18) >> 39) & 511);
}

static void blk_count(uint64_t g, int sign)
{
	struct blk *k = &m.g[g];

	for (unsigned l = 0; l < 3; l++)
		m.leaves[l] += (uint64_t)(int64_t)sign * k->leaves[l];
	m.tables += (uint64_t)(int64_t)sign * k->tables;
	if (k->nonempty) {
		unsigned s = slot_of_block(g);
		if (sign > 0 && m.slot[s]++ == 0)
			m.slots++;
		if (sign < 0 && --m.slot[s] == 0)
			m.slots--;
	}
}

enum op_kind { OP_MAP, OP_UNMAP, OP_PROTECT };

struct op {
	enum op_kind kind;
	uint64_t va, pa, len;
	pt_attr_t a, clear, set;
	unsigned flags;
};

static const char *const op_names[] = {"map", "unmap", "protect"};

static void describe(const struct op *o)
{
	snprintf(test_where, sizeof(test_where),
	         "op %llu: %s va %#llx len %#llx pa %#llx attr %#x clear %#x set %#x%s", U(m.ops),
	         op_names[o->kind], U(o->va), U(o->len), U(o->pa), o->a, o->clear, o->set,
	         m.gib ? "" : " (no 1G pages)");
}

/* The first page of o's range; the range must lie in one window. */
static uint64_t page_of_op(const struct op *o)
{
	uint64_t l = lin(o->va);
	int w = win_of_lin(l);

	if (w < 0 || o->len == 0 || o->len > win[w].end - l)
		test_failf("the range is not inside one window");
	return win[w].first + (l - win[w].lin) / KB4;
}

static void model_apply(const struct op *o)
{
	uint64_t p0 = page_of_op(o), n = o->len / KB4, p1 = p0 + n;

	for (uint64_t g = p0 >> 18; g <= (p1 - 1) >> 18; g++)
		blk_count(g, -1);
	switch (o->kind) {
	case OP_MAP:
		for (uint64_t i = 0; i < n; i++)
			m.ref[p0 + i] = (o->pa + i * KB4) | o->a;
		break;
	case OP_UNMAP:
		memset(&m.ref[p0], 0, n * sizeof(m.ref[0]));
		break;
	case OP_PROTECT:
		for (uint64_t p = p0; p < p1; p++)
			if (m.ref[p])
				m.ref[p] = (m.ref[p] & ~(KB4 - 1)) |
				           ((m.ref[p] & (KB4 - 1) & ~o->clear) | o->set);
		break;
	}
	for (uint64_t b = p0 >> 9; b <= (p1 - 1) >> 9; b++) {
		m.pages -= m.cnt2[b];
		scan2(b);
		m.pages += m.cnt2[b];
	}
	for (uint64_t g = p0 >> 18; g <= (p1 - 1) >> 18; g++) {
		scan1(g);
		blk_count(g, 1);
	}
}

static void model_start(bool gib, bool own_door)
{
	windows_init();
	memset(&m, 0, sizeof(m));
	test_rng_set(0x243f6a8885a308d3); /* tests that want another seed set it after */
	m.gib = cur_gib = gib;
	m.own_door = own_door;
	m.door.fail_at = NEVER;
	m.mem = (struct pt_mem){door_get, door_put, &m.door};
	for (uint64_t g = 0; g < NB1; g++) {
		scan1(g);
		blk_count(g, 1);
	}
	snprintf(test_where, sizeof(test_where), "pt_init%s", gib ? "" : " (no 1G pages)");
	assert_null(pt_init(&m.pt, own_door ? &m.mem : &pt_mem_frames, gib));
	assert_int_equal(m.pt.tables, 1);
	assert_int_equal(m.pt.top_leaf, gib ? 2 : 1);
	if (own_door)
		assert_int_equal(m.door.gets, 1);
}

/* ---- checks against the reference ------------------------------------------------ */

static uint64_t mmu_root(void)
{
	if (m.live) {
		if ((plat_read_cr3() & X_ADDR) != pa_addr(m.pt.root))
			test_failf("CR3 %#llx is not the live tree's root %#llx",
			           U(plat_read_cr3()), U(pa_addr(m.pt.root)));
		return plat_read_cr3() & X_ADDR;
	}
	return pa_addr(m.pt.root);
}

/* The reference maps nothing in the linear range [a, b). */
static void ref_absent(uint64_t a, uint64_t b)
{
	for (int w = 0; w < NWIN; w++) {
		uint64_t x = a > win[w].lin ? a : win[w].lin;
		uint64_t y = b < win[w].end ? b : win[w].end;
		if (x >= y)
			continue;
		uint64_t p = win[w].first + (x - win[w].lin) / KB4, q = p + (y - x) / KB4;
		for (; p < q; p++) {
			if (!(p & 511) && p + 512 <= q && !m.cnt2[p >> 9]) {
				p += 511;
				continue;
			}
			if (m.ref[p])
				test_failf(
				    "va %#llx: the tree maps nothing, the reference pa %#llx attr "
				    "%#llx",
				    U(va_of_page(p)), U(m.ref[p] & ~(KB4 - 1)),
				    U(m.ref[p] & (KB4 - 1)));
		}
	}
}

/* A leaf at `level` maps the linear range [a, b) from pa with attributes at:
 * so must the reference, and the fewest entries must have a leaf of this
 * level there. */
static void ref_leaf(uint64_t a, uint64_t b, uint64_t pa, pt_attr_t at, unsigned level)
{
	int w = win_of_lin(a);

	if (w < 0 || b > win[w].end) {
		test_failf("a level-%u leaf maps va %#llx (pa %#llx), outside the windows", level,
		           U(canon(a)), U(pa));
		return;
	}
	uint64_t p = win[w].first + (a - win[w].lin) / KB4, n = (b - a) / KB4;
	uint64_t v = pa | at;
	for (uint64_t k = 0; k < n; k++)
		if (m.ref[p + k] != v + k * KB4)
			test_failf("va %#llx: the tree maps pa %#llx attr %#x (level %u), the "
			           "reference %#llx attr %#llx",
			           U(va_of_page(p + k)), U(pa + k * KB4), at, level,
			           U(m.ref[p + k] & ~(KB4 - 1)), U(m.ref[p + k] & (KB4 - 1)));
	if (want_level(p) != level)
		test_failf("va %#llx: a level-%u leaf where the fewest entries have a level-%u one",
		           U(va_of_page(p)), level, want_level(p));
}

/* A page table (at level 0) for the 2M block at linear address l with
 * `count` present entries, not looked into: the reference must need one. */
static void ref_shallow(uint64_t l, unsigned count)
{
	int w = win_of_lin(l);

	if (w < 0) {
		test_failf("a page table for va %#llx, outside the windows", U(canon(l)));
		return;
	}
	uint64_t p = win[w].first + (l - win[w].lin) / KB4;
	if (m.cnt2[p >> 9] != count)
		test_failf("va %#llx: a page table with %u entries, the reference maps %u pages",
		           U(canon(l)), count, m.cnt2[p >> 9]);
	if (want_level(p) != 0)
		test_failf("va %#llx: a page table where the fewest entries have a level-%u leaf",
		           U(canon(l)), want_level(p));
}

/* A walk of the raw tree over the linear range [lo, hi). */
struct walk {
	uint64_t lo, hi;
	uint64_t deep_lo, deep_hi; /* page tables elsewhere are judged by their count */
	bool ref;                  /* compare with the reference */
	bool full;                 /* the whole tree: mark every table's frame */
	uint64_t tables, leaves[3];
};

static uint8_t seen[NF];

static void mark_table(uint64_t table)
{
	struct frame_info fi;
	uint64_t f = table / PAGE_SIZE;

	if (seen[f])
		test_failf("table page %#llx is reached twice", U(table));
	seen[f] = 1;
	if (frame_query(pa_init(table), &fi) || fi.owner != FRAME_PTABLE)
		test_failf("table page %#llx is not a FRAME_PTABLE frame", U(table));
}

static void walk_table(struct walk *w, uint64_t table, unsigned level, uint64_t base, unsigned rw,
                       unsigned us, unsigned nx)
{
	const uint64_t *t = table_at(table);
	uint64_t sz = span(level), top = base + sz * PT_ENTRIES;
	uint64_t lo = w->lo > base ? w->lo : base, hi = w->hi < top ? w->hi : top;

	if (lo >= hi)
		return;
	for (unsigned i = (unsigned)((lo - base) / sz); i < PT_ENTRIES; i++) {
		uint64_t e = t[i], elo = base + i * sz;
		if (elo >= hi)
			break;
		uint64_t a = elo > lo ? elo : lo, b = elo + sz < hi ? elo + sz : hi;
		check_entry(e, level, elo);
		if (!(e & X_P)) {
			if (w->ref)
				ref_absent(a, b);
			continue;
		}
		unsigned rw2 = rw & ((e & X_RW) != 0), us2 = us & ((e & X_US) != 0);
		unsigned nx2 = nx | ((e & X_XD) != 0);
		if (is_table(e, level)) {
			uint64_t child = e & X_ADDR;
			unsigned count = raw_count(e);
			if (count == 0 || count > PT_ENTRIES)
				test_failf("va %#llx level %u: a table entry counting %u entries",
				           U(canon(elo)), level, count);
			w->tables++;
			if (w->full)
				mark_table(child);
			if (level == 1 && (elo >= w->deep_hi || elo + sz <= w->deep_lo)) {
				if (w->ref)
					ref_shallow(elo, count);
				continue;
			}
			if (present_in(child) != count)
				test_failf(
				    "va %#llx level %u: the table entry counts %u entries, the "
				    "table holds %u",
				    U(canon(elo)), level, count, present_in(child));
			walk_table(w, child, level - 1, elo, rw2, us2, nx2);
		} else {
			pt_attr_t at = leaf_attr(e, level, rw2, us2, nx2);
			uint64_t frame = e & X_ADDR & ~(sz - 1);
			w->leaves[level]++;
			if (level > 0 && (elo >= w->deep_hi || elo + sz <= w->deep_lo))
				b = a + KB4; /* outside the deep range: its first page */
			if (w->ref)
				ref_leaf(a, b, frame + (a - elo), at, level);
		}
	}
}

static void walk_tree(struct walk *w, uint64_t root)
{
	w->tables = 1;
	if (w->full) {
		memset(seen, 0, sizeof(seen));
		mark_table(root);
	}
	walk_table(w, root, PT_LEVELS - 1, 0, 1, 1, 0);
}

/* Page p, at byte offset off, translates as the reference says, through
 * the software MMU and through pt_lookup. */
static void check_page(uint64_t p, uint64_t off)
{
	uint64_t va = va_of_page(p) + off, v = m.ref[p];
	struct xlat x;
	struct pt_hit h;
	bool hit = mmu(mmu_root(), va, &x);

	memset(&h, 0x5a, sizeof(h));
	bool got = pt_lookup(&m.pt, va_init(va), &h);
	if (!v) {
		if (hit)
			test_failf("va %#llx: the MMU finds pa %#llx, the reference nothing", U(va),
			           U(x.pa));
		if (got)
			test_failf("va %#llx: pt_lookup finds pa %#llx, the reference nothing",
			           U(va), U(pa_addr(h.pa)));
		return;
	}
	uint64_t pa = (v & ~(KB4 - 1)) + off;
	pt_attr_t at = (pt_attr_t)(v & (KB4 - 1));
	unsigned level = want_level(p);
	if (!hit || x.pa != pa || x.attr != at || x.level != level)
		test_failf(
		    "va %#llx: the MMU finds %s pa %#llx attr %#x level %u, want pa %#llx attr "
		    "%#x level %u",
		    U(va), hit ? "" : "nothing:", U(x.pa), x.attr, x.level, U(pa), at, level);
	if (!got || pa_addr(h.pa) != pa || h.attr != at || h.level != level)
		test_failf("va %#llx: pt_lookup finds %s pa %#llx attr %#x level %u, want pa %#llx "
		           "attr %#x level %u",
		           U(va), got ? "" : "nothing:", U(pa_addr(h.pa)), h.attr, h.level, U(pa),
		           at, level);
}

/* pt_walk of va reports the entries the MMU reads. */
static void check_walk(uint64_t va)
{
	struct pt_walk w;
	uint64_t table = mmu_root();
	unsigned depth = 0;

	memset(&w, 0x5a, sizeof(w));
	pt_walk(&m.pt, va_init(va), &w);
	if (!canonical(va)) {
		if (w.depth != 0)
			test_failf("pt_walk of non-canonical %#llx: depth %u", U(va), w.depth);
		return;
	}
	for (unsigned level = PT_LEVELS; level-- > 0;) {
		unsigned i = (unsigned)(va >> (PAGE_SHIFT + 9 * level)) & 511;
		uint64_t e = table_at(table)[i];
		enum pte_kind kind = !(e & X_P)           ? PTE_ABSENT
		                     : is_table(e, level) ? PTE_TABLE
		                                          : PTE_LEAF;
		if (depth >= w.depth)
			test_failf("pt_walk of %#llx: depth %u, but level %u is read", U(va),
			           w.depth, level);
		if (pa_addr(w.step[depth].table) != table || w.step[depth].index != i ||
		    w.step[depth].entry != e || w.step[depth].kind != kind)
			test_failf(
			    "pt_walk of %#llx, step %u: table %#llx index %u entry %#llx kind %d, "
			    "want %#llx %u %#llx %d",
			    U(va), depth, U(pa_addr(w.step[depth].table)), w.step[depth].index,
			    U(w.step[depth].entry), w.step[depth].kind, U(table), i, U(e), kind);
		depth++;
		if (kind != PTE_TABLE)
			break;
		table = e & X_ADDR;
	}
	if (w.depth != depth)
		test_failf("pt_walk of %#llx: depth %u, want %u", U(va), w.depth, depth);
}

/* pt->tables, the door and the root's count, and pt_census (which reads
 * every entry: on a grown tree only every 64th operation), agree with the
 * fewest entries for the reference. */
static void check_counts(bool census)
{
	struct pt_census c;
	uint64_t want = want_tables();

	if (m.pt.tables != want)
		test_failf("%llu table pages, the fewest are %llu", U(m.pt.tables), U(want));
	if (m.own_door && m.door.gets - m.door.puts != m.pt.tables)
		test_failf("the door handed out %llu pages net, pt holds %llu",
		           U(m.door.gets - m.door.puts), U(m.pt.tables));
	if (present_in(mmu_root()) != m.pt.root_count)
		test_failf("root_count %u, the root holds %u", m.pt.root_count,
		           present_in(mmu_root()));
	if (!census && m.pt.tables > 64 && m.ops % 64 != 0)
		return;
	memset(&c, 0x5a, sizeof(c));
	pt_census(&m.pt, &c);
	if (c.tables != want)
		test_failf("census: %llu table pages, the fewest are %llu", U(c.tables), U(want));
	for (unsigned l = 0; l < 3; l++)
		if (c.leaves[l] != m.leaves[l])
			test_failf("census: %llu level-%u leaves, the fewest are %llu",
			           U(c.leaves[l]), l, U(m.leaves[l]));
	if (c.pages != m.pages)
		test_failf("census: %llu pages, the reference maps %llu", U(c.pages), U(m.pages));
}

/* The runs the reference makes with the fewest entries, one by one. */
static bool next_ref_run(uint64_t *pp, struct pt_run *r)
{
	uint64_t p = *pp;

	while (p < NP && !m.ref[p]) {
		if (!(p & 511) && !m.cnt2[p >> 9])
			p += 512;
		else
			p++;
	}
	if (p >= NP)
		return false;
	int w = win_of_page(p);
	uint64_t end = win[w].first + win[w].pages, v = m.ref[p], q = p + 1;
	unsigned level = want_level(p);
	while (q < end && m.ref[q] == v + (q - p) * KB4 && want_level(q) == level)
		q++;
	r->start = va_init(va_of_page(p));
	r->len = (q - p) * KB4;
	r->pa = pa_init(v & ~(KB4 - 1));
	r->attr = (pt_attr_t)(v & (KB4 - 1));
	r->level = level;
	*pp = q;
	return true;
}

struct runs_ctx {
	uint64_t p;    /* where the reference's next run starts looking */
	uint64_t n;    /* runs seen */
	uint64_t stop; /* return false on this run */
};

static bool runs_cb(void *ctx, const struct pt_run *r)
{
	struct runs_ctx *c = ctx;
	struct pt_run want;

	if (!next_ref_run(&c->p, &want))
		test_failf("pt_runs: an extra run at %#llx len %#llx", U(va_addr(r->start)),
		           U(r->len));
	if (va_addr(r->start) != va_addr(want.start) || r->len != want.len ||
	    pa_addr(r->pa) != pa_addr(want.pa) || r->attr != want.attr || r->level != want.level)
		test_failf(
		    "pt_runs, run %llu: va %#llx len %#llx pa %#llx attr %#x level %u; want va "
		    "%#llx len %#llx pa %#llx attr %#x level %u",
		    U(c->n), U(va_addr(r->start)), U(r->len), U(pa_addr(r->pa)), r->attr, r->level,
		    U(va_addr(want.start)), U(want.len), U(pa_addr(want.pa)), want.attr,
		    want.level);
	c->n++;
	return c->n != c->stop;
}

static uint64_t check_runs(void)
{
	struct runs_ctx c = {.stop = NEVER};
	struct pt_run extra;

	pt_runs(&m.pt, runs_cb, &c);
	if (next_ref_run(&c.p, &extra))
		test_failf("pt_runs misses the run at %#llx len %#llx", U(va_addr(extra.start)),
		           U(extra.len));
	return c.n;
}

/* The whole tree against the whole reference. */
static void check_full(void)
{
	struct walk w = {
	    .lo = 0, .hi = LIN_END, .deep_lo = 0, .deep_hi = LIN_END, .ref = true, .full = true};

	walk_tree(&w, mmu_root());
	if (w.tables != want_tables())
		test_failf("the walk finds %llu table pages, the fewest are %llu", U(w.tables),
		           U(want_tables()));
	for (unsigned l = 0; l < 3; l++)
		if (w.leaves[l] != m.leaves[l])
			test_failf("the walk finds %llu level-%u leaves, the fewest are %llu",
			           U(w.leaves[l]), l, U(m.leaves[l]));
	check_counts(true);
	check_runs();
}

/* After an operation on o's range: the range, out to the 2M blocks it
 * touches, in full, and its 1G blocks down to the page tables; a few pages
 * at its ends and anywhere; the counts. */
static void check_op(const struct op *o)
{
	uint64_t lo = lin(o->va), hi = lo + o->len;
	struct walk w = {.lo = rdown(lo, GIB),
	                 .hi = rup(hi, GIB),
	                 .deep_lo = rdown(lo, MB2),
	                 .deep_hi = rup(hi, MB2),
	                 .ref = true};
	uint64_t p0 = page_of_op(o), p1 = p0 + o->len / KB4;
	int wi = win_of_page(p0);

	walk_tree(&w, mmu_root());
	check_page(p0, test_below(KB4));
	check_page(p1 - 1, KB4 - 1);
	if (p0 > win[wi].first)
		check_page(p0 - 1, 0);
	if (p1 < win[wi].first + win[wi].pages)
		check_page(p1, test_below(KB4));
	for (unsigned k = 0; k < 6; k++)
		check_page(test_below(NP), test_below(KB4) & ~7);
	check_counts(false);
}

static err_t op_call(const struct op *o)
{
	switch (o->kind) {
	case OP_MAP:
		return pt_map(&m.pt, va_init(o->va), pa_init(o->pa), o->len, o->a, o->flags);
	case OP_UNMAP:
		return pt_unmap(&m.pt, va_init(o->va), o->len);
	case OP_PROTECT:
		return pt_protect(&m.pt, va_init(o->va), o->len, o->clear, o->set);
	}
	return NULL;
}

/* o's dry run into tally t. */
static err_t count_call(const struct op *o, struct pt_tally *t)
{
	switch (o->kind) {
	case OP_MAP:
		return pt_count_map(&m.pt, va_init(o->va), pa_init(o->pa), o->len, o->a, o->flags,
		                    t);
	case OP_UNMAP:
		return pt_count_unmap(&m.pt, va_init(o->va), o->len, t);
	case OP_PROTECT:
		return pt_count_protect(&m.pt, va_init(o->va), o->len, o->clear, o->set, t);
	}
	return NULL;
}

static struct pt_tally tally;

/* Run o on the tree and the reference, and check; its dry run, made
 * first, counted exactly the table pages it took (with the counting
 * door). */
static void run_op(const struct op *o)
{
	describe(o);
	pt_tally_begin(&tally);
	const err_t ce = count_call(o, &tally);
	const uint64_t gets = m.door.gets;
	err_t e = op_call(o);
	if (e)
		test_failf("failed: %s", e);
	if (ce)
		test_failf("the dry run failed: %s", ce);
	if (m.pt.mem.get == door_get && m.door.gets - gets != tally.need)
		test_failf("the dry run counted %llu table pages, the operation took %llu",
		           U(tally.need), U(m.door.gets - gets));
	model_apply(o);
	check_op(o);
	m.ops++;
}

static void do_map(uint64_t va, uint64_t pa, uint64_t len, pt_attr_t a)
{
	struct op o = {.kind = OP_MAP, .va = va, .pa = pa, .len = len, .a = a};
	run_op(&o);
}

static void do_unmap(uint64_t va, uint64_t len)
{
	struct op o = {.kind = OP_UNMAP, .va = va, .len = len};
	run_op(&o);
}

static void do_protect(uint64_t va, uint64_t len, pt_attr_t clear, pt_attr_t set)
{
	struct op o = {.kind = OP_PROTECT, .va = va, .len = len, .clear = clear, .set = set};
	run_op(&o);
}

/*
 * Run o with the door failing get number 0, then 1, 2, ... until it
 * succeeds: each failure returns pt_err_nomem and leaves the tree byte for
 * byte as it was, the allocator's counts too. Returns how many failed.
 */
static uint64_t run_op_failing(const struct op *o, uint64_t from)
{
	struct snap s;
	uint64_t n;

	describe(o);
	snap_take(&s, &m.pt);
	for (n = from;; n++) {
		uint64_t gets = m.door.gets, puts = m.door.puts;
		m.door.fail_at = n;
		m.door.attempts = 0;
		err_t e = op_call(o);
		m.door.fail_at = NEVER;
		if (!e)
			break;
		if (e != pt_err_nomem)
			test_failf("failing get %llu: \"%s\", want pt_err_nomem", U(n), e);
		if (m.door.attempts <= n)
			test_failf("failing get %llu: pt failed after %llu gets", U(n),
			           U(m.door.attempts));
		if (m.door.gets - m.door.puts != gets - puts)
			test_failf("failing get %llu: %llu pages kept", U(n),
			           U((m.door.gets - m.door.puts) - (gets - puts)));
		snap_same(&s, &m.pt);
	}
	snap_free(&s);
	model_apply(o);
	check_op(o);
	m.ops++;
	return n - from;
}

/* Unmap every window in random pieces: only the root remains, all zero. */
static void model_clear(void)
{
	struct pt_census c;

	for (int w = 0; w < NWIN; w++) {
		uint64_t p = 0;
		while (p < win[w].pages) {
			uint64_t n = 1 + test_below(test_below(2) ? 1024 : win[w].pages / 3);
			if (n > win[w].pages - p)
				n = win[w].pages - p;
			do_unmap(canon(win[w].lin + p * KB4), n * KB4);
			p += n;
		}
	}
	snprintf(test_where, sizeof(test_where), "after unmapping everything");
	check_full();
	assert_int_equal(m.pages, 0);
	assert_int_equal(m.pt.tables, 1);
	assert_int_equal(m.pt.root_count, 0);
	const uint64_t *root = table_at(pa_addr(m.pt.root));
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (root[i])
			test_failf("root entry %u is %#llx", i, U(root[i]));
	pt_census(&m.pt, &c);
	assert_int_equal(c.tables, 1);
	assert_int_equal(c.pages, 0);
	if (m.own_door)
		assert_int_equal(m.door.gets - m.door.puts, 1);
}

/* Make no tree live: pt_load of a tree whose root is frame 0, which no
 * tree has (frame 0 is not the allocator's). Only pt_load makes a tree live
 * or not; pt_destroy refuses the live one. */
static void unload(void)
{
	struct pt none;

	memset(&none, 0, sizeof(none));
	pt_load(&none);
}

static void park(void)
{
	unload();
	m.live = false;
	assert_false(pt_live(&m.pt));
	assert_int_equal(plat_read_cr3(), 0);
}

static void model_end(void)
{
	if (m.live)
		park();
	pt_destroy(&m.pt);
	if (m.own_door)
		assert_int_equal(m.door.gets, m.door.puts);
	assert_int_equal(free_frames(), fx.init.free);
}

/* ---- random operations -------------------------------------------------------------- */

#define ID_BASE ((uint64_t)1 << 40) /* a 1 GiB-aligned frame base for fixed tests */
#define STD     (PT_R | PT_W)

static pt_attr_t random_attr(void)
{
	unsigned k = (unsigned)test_below(100);

	if (k < 50)
		return STD;
	if (k < 58)
		return PT_R;
	if (k < 65)
		return PT_R | PT_X;
	pt_attr_t a = PT_R | PT_CACHE(test_below(8));
	if (test_below(2))
		a |= PT_W;
	if (test_below(2))
		a |= PT_X;
	if (test_below(3) == 0)
		a |= PT_USER;
	if (test_below(4) == 0)
		a |= PT_GLOBAL;
	return a;
}

/* A random operation on the first `wins` windows: sizes from one page to a
 * whole window, biased to 2M and 1G blocks and to ranges that cut them by a
 * page or two; frames mostly placed so that superpages and merges arise. */
static void random_op(struct op *o, unsigned wins)
{
	uint64_t total = 0, w, P, s, n;
	unsigned k = (unsigned)test_below(1000);

	for (w = 0; w < wins; w++)
		total += win[w].pages;
	uint64_t pick = test_below(total);
	for (w = 0; pick >= win[w].pages; w++)
		pick -= win[w].pages;
	P = win[w].pages;
	if (k < 330) { /* a few pages */
		n = test_below(3) ? 1 + test_below(16) : 1;
		s = test_below(P);
	} else if (k < 480) { /* up to 8M anywhere */
		n = 1 + test_below(2048);
		s = test_below(P);
	} else if (k < 680) { /* 2M blocks, sometimes a little off */
		s = test_below(P >> 9) << 9;
		n = (1 + test_below(8)) << 9;
		if (test_below(3) == 0) {
			uint64_t d = test_below(3);
			s = s >= d ? s - d : 0;
			n = n + d + test_below(3);
			n = n > 2 ? n - test_below(3) : n;
		}
	} else if (k < 780) { /* from a 2M boundary */
		s = test_below(P >> 9) << 9;
		n = 1 + test_below(4096);
	} else if (k < 965) { /* across 2M boundaries by a page or two */
		uint64_t d = test_below(3);
		s = test_below(P >> 9) << 9;
		s = s >= d ? s - d : 0;
		n = (test_below(5) << 9) + d + test_below(3);
		n = n ? n : 1;
	} else if (k < 985) { /* 1G, or nearly */
		static const int64_t adj[] = {0, 0, 0, -1, 1, -512, 512, 3};
		int64_t a = adj[test_below(ARRAY_SIZE(adj))];
		s = test_below(P >> 18) << 18;
		n = (uint64_t)((int64_t)(1u << 18) + (a > 0 ? a : 0));
		if (a < 0) {
			if (test_below(2))
				s += (uint64_t)-a;
			n -= (uint64_t)-a;
		}
	} else if (k < 995) { /* large, anywhere */
		s = test_below(P);
		n = 1 + test_below(300000);
	} else { /* the whole window */
		s = 0;
		n = P;
	}
	if (s >= P)
		s = P - 1;
	if (n > P - s)
		n = P - s;
	memset(o, 0, sizeof(*o));
	o->va = canon(win[w].lin + s * KB4);
	o->len = n * KB4;

	unsigned kind = (unsigned)test_below(100);
	if (kind < 50) {
		uint64_t l = win[w].lin + s * KB4;
		unsigned pk = (unsigned)test_below(100);
		o->kind = OP_MAP;
		o->a = random_attr();
		if (k >= 965 && test_below(2))
			pk = 0, o->a = STD; /* big identity maps: merges */
		if (pk < 45)                /* pa == va, or its linear address in the upper half */
			o->pa = l;
		else if (pk < 70)
			o->pa = ((1 + test_below(1u << 14)) << 30) + l % GIB;
		else if (pk < 85)
			o->pa = (test_below(1u << 23) << 21) + l % MB2;
		else if (pk < 98)
			o->pa = test_below((uint64_t)1 << 32) << 12;
		else /* near the top of physical addresses */
			o->pa = rdown(PA_END - 2 * GIB - o->len, GIB) + l % GIB;
	} else if (kind < 72) {
		o->kind = OP_UNMAP;
	} else {
		o->kind = OP_PROTECT;
		unsigned pk = (unsigned)test_below(100);
		const pt_attr_t bits[] = {PT_W, PT_X, PT_USER, PT_GLOBAL, PT_CACHE_MASK};
		if (pk < 15) { /* no change */
			o->set = test_below(2) ? PT_R : 0;
		} else if (pk < 40) { /* back to the common attributes */
			o->clear = PT_ATTR_MASK & ~PT_R;
			o->set = STD;
		} else {
			for (unsigned i = 0; i < ARRAY_SIZE(bits); i++) {
				if (test_below(3) == 0)
					o->clear |= bits[i];
				if (test_below(4) == 0)
					o->set |= i == 4 ? PT_CACHE(test_below(8)) : bits[i];
			}
		}
	}
}

#define FULL_EVERY 2000

static void random_run(bool gib, unsigned nops, uint64_t seed)
{
	uint64_t most_tables = 0, most[3] = {0}, merges = 0, failures = 0;

	model_start(gib, true);
	test_rng_set(seed);
	for (unsigned i = 0; i < nops; i++) {
		struct op o;
		uint64_t tables = m.pt.tables;
		if (i == nops / 2) {
			pt_load(&m.pt);
			m.live = true;
			assert_true(pt_live(&m.pt));
		}
		random_op(&o, NWIN);
		if (i % FULL_EVERY == FULL_EVERY / 2)
			failures += run_op_failing(&o, test_below(3)); /* on a grown tree */
		else
			run_op(&o);
		merges += o.kind != OP_UNMAP && m.pt.tables < tables;
		most_tables = m.pt.tables > most_tables ? m.pt.tables : most_tables;
		for (unsigned l = 0; l < 3; l++)
			most[l] = m.leaves[l] > most[l] ? m.leaves[l] : most[l];
		if (i % 97 == 0)
			check_walk(va_of_page(test_below(NP)) + test_below(KB4));
		if (i % FULL_EVERY == 0) {
			snprintf(test_where, sizeof(test_where), "full check after op %llu",
			         U(m.ops));
			check_full();
		}
	}
	snprintf(test_where, sizeof(test_where), "full check at the end");
	check_full();
	print_message("%u operations: up to %llu table pages, %llu 4K, %llu 2M, %llu 1G "
	              "leaves; %llu maps or protects freed tables; %llu failed gets\n",
	              nops, U(most_tables), U(most[0]), U(most[1]), U(most[2]), U(merges),
	              U(failures));
	/* tables and superpages of every size came and went */
	assert_true(most[0] > 1000 && most[1] > 1000 && most_tables > 500 && merges > 1000);
	assert_true(gib ? most[2] >= 4 : most[2] == 0);
	model_clear();
	model_end();
}

/* ---- tests ------------------------------------------------------------------------ */

/* pt_init makes an empty tree: one zeroed root page (RAM held garbage, the
 * allocator's junk), top_leaf from gib_pages; nothing translates, the walk
 * reads one absent root entry, there are no runs; pt_destroy gives the root
 * back. With no frame at all pt_init fails with pt_err_nomem. */
static void test_init_empty(void **state)
{
	(void)state;
	for (int gib = 0; gib < 2; gib++) {
		struct pt_census c;
		struct pt_walk w;
		struct pt_hit h;
		struct frame_info fi;

		model_start(gib, false);
		assert_int_equal(free_frames(), fx.init.free - 1);
		assert_int_equal(m.pt.root_count, 0);
		assert_null(frame_query(m.pt.root, &fi));
		assert_int_equal(fi.owner, FRAME_PTABLE);
		const uint64_t *root = table_at(pa_addr(m.pt.root));
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			assert_int_equal(root[i], 0);
		pt_census(&m.pt, &c);
		assert_int_equal(c.tables, 1);
		assert_int_equal(c.leaves[0] + c.leaves[1] + c.leaves[2], 0);
		assert_int_equal(c.pages, 0);
		assert_false(pt_lookup(&m.pt, va_init(0), &h));
		assert_false(pt_lookup(&m.pt, va_init(0xfffffffffffff000), &h));
		pt_walk(&m.pt, va_init(0x1234), &w);
		assert_int_equal(w.depth, 1);
		assert_int_equal(pa_addr(w.step[0].table), pa_addr(m.pt.root));
		assert_int_equal(w.step[0].index, 0);
		assert_int_equal(w.step[0].entry, 0);
		assert_int_equal(w.step[0].kind, PTE_ABSENT);
		pt_walk(&m.pt, va_init(HIGH_START), &w);
		assert_int_equal(w.depth, 1);
		assert_int_equal(w.step[0].index, 256);
		assert_int_equal(check_runs(), 0);
		check_full();
		model_end();
	}
	/* no frame for the root */
	static paddr_t got[NF];
	uint64_t n = 0;
	while (kalloc(FRAME_CLIENT, &got[n]) == NULL)
		n++;
	struct pt pt;
	memset(&pt, 0, sizeof(pt));
	assert_err(pt_init(&pt, &pt_mem_frames, true), pt_err_nomem);
	struct door d = {.fail_at = 0};
	struct pt_mem mem = {door_get, door_put, &d};
	while (n--)
		assert_null(kfree(got[n], FRAME_CLIENT));
	assert_err(pt_init(&pt, &mem, true), pt_err_nomem);
	assert_int_equal(d.gets, 0);
}

/* A small tree with a page of each size, for the tests of refusals. */
static void small_tree(void)
{
	do_map(GIB, ID_BASE + GIB, GIB, STD);                    /* a 1G page */
	do_map(2 * MB2, ID_BASE + 2 * MB2, MB2, PT_R);           /* a 2M page */
	do_map(KB4, 0x12345000, 2 * KB4, PT_R | PT_W | PT_USER); /* 4K pages */
	do_map(HIGH_START, ID_BASE, KB4, PT_R | PT_X);
}

/* Bad input is refused with the right error and changes nothing, not a
 * byte of the tree, no frame: unaligned va, pa or length, a zero length,
 * non-canonical addresses, ranges crossing the hole or wrapping past 2^64,
 * physical addresses at or past 2^52, attributes without PT_R or with bits
 * that are no attribute. pt_lookup of a non-canonical address is false. */
static void test_bad_input(void **state)
{
	struct pt *pt = &m.pt;
	struct snap s;
	struct pt_hit h;
	const uint64_t nc = 0x0000800000000000; /* the first non-canonical address */

	(void)state;
	model_start(true, true);
	small_tree();
	snprintf(test_where, sizeof(test_where), "bad input");
	snap_take(&s, pt);
	uint64_t gets = m.door.gets;
#define BAD(call, want)                                                                            \
	do {                                                                                       \
		snprintf(test_where, sizeof(test_where), "%s", #call);                             \
		assert_err(call, want);                                                            \
		snap_same(&s, pt);                                                                 \
		assert_int_equal(m.door.gets, gets);                                               \
	} while (0)
	/* alignment */
	BAD(pt_map(pt, va_init(0x3000 + 0x800), pa_init(0x5000), KB4, STD, 0), pt_err_align);
	BAD(pt_map(pt, va_init(0x3000), pa_init(0x5010), KB4, STD, 0), pt_err_align);
	BAD(pt_map(pt, va_init(0x3000), pa_init(0x5000), 0x1800, STD, 0), pt_err_align);
	BAD(pt_map(pt, va_init(0x3000), pa_init(0x5000), 0, STD, 0), pt_err_align);
	BAD(pt_map(pt, va_init(GIB + 1), pa_init(0), MB2, STD, 0), pt_err_align);
	BAD(pt_unmap(pt, va_init(GIB + 0x10), KB4), pt_err_align);
	BAD(pt_unmap(pt, va_init(GIB), 0x10), pt_err_align);
	BAD(pt_unmap(pt, va_init(GIB), 0), pt_err_align);
	BAD(pt_protect(pt, va_init(GIB + 0x10), KB4, PT_W, 0), pt_err_align);
	BAD(pt_protect(pt, va_init(GIB), KB4 + 1, PT_W, 0), pt_err_align);
	BAD(pt_protect(pt, va_init(GIB), 0, PT_W, 0), pt_err_align);
	/* virtual range */
	BAD(pt_map(pt, va_init(nc), pa_init(0x5000), KB4, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(HIGH_START - KB4), pa_init(0x5000), KB4, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(0x123400000000000), pa_init(0x5000), KB4, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(LOW_END - KB4), pa_init(0x5000), 2 * KB4, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(0), pa_init(0), LOW_END + GIB, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(0xfffffffffffff000), pa_init(0x5000), 2 * KB4, STD, 0),
	    pt_err_range);
	BAD(pt_map(pt, va_init(HIGH_START), pa_init(0), (uint64_t)0 - HIGH_START + KB4, STD, 0),
	    pt_err_range);
	BAD(pt_map(pt, va_init(0), pa_init(0), (uint64_t)0 - KB4, STD, 0), pt_err_range);
	BAD(pt_unmap(pt, va_init(nc), KB4), pt_err_range);
	BAD(pt_unmap(pt, va_init(LOW_END - GIB), 2 * GIB), pt_err_range);
	BAD(pt_unmap(pt, va_init(0xffffffffc0000000), 2 * GIB), pt_err_range);
	BAD(pt_unmap(pt, va_init(0x1000), (uint64_t)0 - KB4), pt_err_range);
	BAD(pt_protect(pt, va_init(nc + GIB), KB4, PT_W, 0), pt_err_range);
	BAD(pt_protect(pt, va_init(LOW_END - KB4), 2 * KB4, PT_W, 0), pt_err_range);
	BAD(pt_protect(pt, va_init(0xfffffffffffff000), 2 * KB4, PT_W, 0), pt_err_range);
	/* physical range */
	BAD(pt_map(pt, va_init(0x3000), pa_init(PA_END), KB4, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(0x3000), pa_init(PA_END - KB4), 2 * KB4, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(GIB), pa_init(PA_END - GIB / 2), GIB, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(0x3000), pa_init(0xfffffffffffff000), KB4, STD, 0), pt_err_range);
	BAD(pt_map(pt, va_init(0x3000), pa_init((uint64_t)1 << 63), KB4, STD, 0), pt_err_range);
	/* attributes */
	BAD(pt_map(pt, va_init(0x3000), pa_init(0x5000), KB4, 0, 0), pt_err_rights);
	BAD(pt_map(pt, va_init(0x3000), pa_init(0x5000), KB4, PT_W | PT_X, 0), pt_err_rights);
	BAD(pt_map(pt, va_init(0x3000), pa_init(0x5000), KB4, STD | 0x100, 0), pt_err_rights);
	BAD(pt_map(pt, va_init(0x3000), pa_init(0x5000), KB4, STD | 0x80000000u, 0), pt_err_rights);
	BAD(pt_protect(pt, va_init(GIB), KB4, PT_R, 0), pt_err_rights);
	BAD(pt_protect(pt, va_init(GIB), KB4, PT_RIGHTS, PT_W), pt_err_rights);
	BAD(pt_protect(pt, va_init(GIB), KB4, 0, 0x100), pt_err_rights);
	BAD(pt_protect(pt, va_init(GIB), KB4, 0x200, 0), pt_err_rights);
#undef BAD
	snap_free(&s);
	/* lookups of non-canonical addresses */
	snprintf(test_where, sizeof(test_where), "lookup");
	assert_false(pt_lookup(pt, va_init(nc), &h));
	assert_false(pt_lookup(pt, va_init(nc + GIB), &h)); /* would alias the 1G page */
	assert_false(pt_lookup(pt, va_init(0xffff7fffffffffff), &h));
	assert_false(pt_lookup(pt, va_init(0x0001000000000000 + GIB), &h));
	assert_true(pt_lookup(pt, va_init(GIB + 5), &h));
	assert_int_equal(pa_addr(h.pa), ID_BASE + GIB + 5);
	check_walk(nc);
	check_walk(0x0001000000000000 + GIB);
	/* the edges that are allowed */
	do_map(0x5000, PA_END - KB4, KB4, STD);
	do_map(2 * GIB, PA_END - GIB, GIB, STD);
	do_map(LOW_END - KB4, 0, KB4, STD);
	do_map(0xfffffffffffff000, 0, KB4, STD);
	check_full();
	model_clear();
	model_end();
}

/* pt_lookup gives the byte's address, the leaf's attributes and its level
 * for 4K, 2M and 1G pages at any offset; pt_walk reads the entries the MMU
 * reads: a leaf at depth 4, 3 or 2, an absent entry at every level, and no
 * entry for a non-canonical address. */
static void test_lookup_walk(void **state)
{
	struct pt_hit h;
	struct pt_walk w;
	const pt_attr_t a4 = PT_R | PT_W | PT_USER | PT_WT;
	const pt_attr_t a2 = PT_R | PT_X | PT_CACHE(5);
	const pt_attr_t a1 = PT_R | PT_W | PT_X | PT_GLOBAL | PT_CACHE(7);

	(void)state;
	model_start(true, true);
	do_map(KB4, 0x12345000, KB4, a4);
	do_map(2 * MB2, 7 * MB2, MB2, a2);
	do_map(3 * GIB, 5 * GIB, GIB, a1);
	snprintf(test_where, sizeof(test_where), "lookups");
	assert_true(pt_lookup(&m.pt, va_init(KB4 + 0xabc), &h));
	assert_int_equal(pa_addr(h.pa), 0x12345abc);
	assert_int_equal(h.attr, a4);
	assert_int_equal(h.level, 0);
	assert_true(pt_lookup(&m.pt, va_init(2 * MB2 + 0x1fffff), &h));
	assert_int_equal(pa_addr(h.pa), 7 * MB2 + 0x1fffff);
	assert_int_equal(h.attr, a2);
	assert_int_equal(h.level, 1);
	assert_true(pt_lookup(&m.pt, va_init(3 * GIB + 0x2345678), &h));
	assert_int_equal(pa_addr(h.pa), 5 * GIB + 0x2345678);
	assert_int_equal(h.attr, a1);
	assert_int_equal(h.level, 2);
	assert_false(pt_lookup(&m.pt, va_init(2 * KB4), &h));
	assert_false(pt_lookup(&m.pt, va_init(3 * MB2), &h));
	assert_false(pt_lookup(&m.pt, va_init(GIB), &h));
	assert_false(pt_lookup(&m.pt, va_init(SLOT), &h));

	struct {
		uint64_t va;
		unsigned depth;
		enum pte_kind last;
	} cases[] = {
	    {KB4 + 7, 4, PTE_LEAF},
	    {2 * KB4, 4, PTE_ABSENT},
	    {2 * MB2 + 12345, 3, PTE_LEAF},
	    {3 * MB2, 3, PTE_ABSENT},
	    {3 * GIB + 0x12345, 2, PTE_LEAF},
	    {GIB, 2, PTE_ABSENT},
	    {SLOT, 1, PTE_ABSENT},
	    {HIGH_START, 1, PTE_ABSENT},
	    {0x0000800000000000, 0, 0},
	    {0xfff0000000000000, 0, 0},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(test_where, sizeof(test_where), "walk of %#llx", U(cases[i].va));
		memset(&w, 0x5a, sizeof(w));
		pt_walk(&m.pt, va_init(cases[i].va), &w);
		assert_int_equal(w.depth, cases[i].depth);
		if (w.depth) {
			assert_int_equal(w.step[w.depth - 1].kind, cases[i].last);
			for (unsigned d = 0; d + 1 < w.depth; d++)
				assert_int_equal(w.step[d].kind, PTE_TABLE);
			assert_int_equal(pa_addr(w.step[0].table), pa_addr(m.pt.root));
		}
		check_walk(cases[i].va);
	}
	model_clear();
	model_end();

	/* without 1 GiB pages the 1G range is 512 2M pages */
	model_start(false, true);
	do_map(3 * GIB, 5 * GIB, GIB, a1);
	snprintf(test_where, sizeof(test_where), "no 1G pages");
	assert_true(pt_lookup(&m.pt, va_init(3 * GIB + 0x2345678), &h));
	assert_int_equal(h.level, 1);
	assert_int_equal(h.attr, a1);
	pt_walk(&m.pt, va_init(3 * GIB + 0x2345678), &w);
	assert_int_equal(w.depth, 3);
	assert_int_equal(w.step[2].kind, PTE_LEAF);
	check_walk(3 * GIB + 0x2345678);
	assert_int_equal(m.leaves[1], 512);
	model_clear();
	model_end();
}

/* Superpages wherever allowed: a 1G-aligned, physically aligned range maps
 * as one 1G entry (512 2M ones without 1 GiB pages); two halves mapped one
 * after the other merge into it; 4K pages mapped one by one over a 2M block
 * merge into a 2M page the moment the last one lands, and the page table
 * goes back; physically misaligned ranges stay 4K. */
static void test_superpages(void **state)
{
	struct pt_census c;

	(void)state;
	for (int gib = 1; gib >= 0; gib--) {
		model_start(gib, true);
		do_map(0, ID_BASE, GIB, STD);
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[2], gib ? 1 : 0);
		assert_int_equal(c.leaves[1], gib ? 0 : 512);
		assert_int_equal(c.tables, gib ? 2 : 3);
		do_map(GIB, ID_BASE + GIB, GIB / 2, STD);
		do_map(GIB + GIB / 2, ID_BASE + GIB + GIB / 2, GIB / 2, STD);
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[2], gib ? 2 : 0);
		assert_int_equal(c.tables, gib ? 2 : 4);
		/* one by one over a 2M block, from the top down */
		for (unsigned i = 512; i-- > 0;) {
			do_map(2 * GIB + MB2 + i * KB4, 3 * MB2 + i * KB4, KB4, PT_R);
			pt_census(&m.pt, &c);
			assert_int_equal(c.leaves[0], i ? 512 - i : 0);
			assert_int_equal(c.leaves[1], (gib ? 0 : 1024) + (i ? 0 : 1));
		}
		assert_int_equal(c.tables, gib ? 3 : 5);
		/* 2M blocks one by one over a 1G block */
		for (unsigned j = 0; j < 512; j++)
			do_map(SLOT + j * MB2, 9 * GIB + j * MB2, MB2, PT_R | PT_X);
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[2], gib ? 3 : 0);
		assert_int_equal(c.tables, gib ? 4 : 7);
		/* physically misaligned: 4K pages only */
		do_map(3 * GIB, ID_BASE + KB4, 2 * MB2, STD);
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[0], 1024);
		/* then aligned again */
		do_map(3 * GIB, ID_BASE, 2 * MB2, STD);
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[0], 0);
		check_full();
		model_clear();
		model_end();
	}
}

/* A protect that changes no attribute splits nothing and writes nothing:
 * no change at all, setting what is set, clearing what is clear, or a
 * range with nothing mapped. */
static void test_protect_no_change(void **state)
{
	struct snap s;

	(void)state;
	for (int gib = 1; gib >= 0; gib--) {
		model_start(gib, true);
		do_map(GIB, ID_BASE + GIB, GIB, STD);
		do_map(2 * MB2, ID_BASE + 2 * MB2, MB2, PT_R | PT_CACHE(6));
		do_map(8 * MB2, 0x40000000, 4 * KB4, PT_R | PT_X);
		snprintf(test_where, sizeof(test_where), "protect without change");
		snap_take(&s, &m.pt);
		do_protect(GIB + KB4, KB4, 0, 0);
		do_protect(GIB + 3 * MB2 + KB4, 5 * MB2, 0, PT_R | PT_W);
		do_protect(GIB + 5 * KB4, 7 * KB4, PT_X | PT_USER | PT_GLOBAL | PT_CACHE_MASK, 0);
		do_protect(2 * MB2 + KB4, KB4, PT_W, PT_CACHE(6));
		do_protect(8 * MB2 + KB4, 2 * KB4, PT_W, PT_X);
		do_protect(0, 3 * GIB, PT_USER, 0);
		do_protect(SLOT, GIB, PT_W, PT_USER);
		snap_same(&s, &m.pt);
		snap_free(&s);
		model_clear();
		model_end();
	}
}

/* Protecting one page of a superpage splits it, down to the page; protecting
 * it back merges it all again and frees the tables the split took. */
static void test_reprotect_merges(void **state)
{
	struct pt_census c;

	(void)state;
	for (int gib = 1; gib >= 0; gib--) {
		model_start(gib, true);
		do_map(GIB, ID_BASE + GIB, GIB, STD);
		uint64_t t0 = m.pt.tables;
		do_protect(GIB + 77 * MB2 + 5 * KB4, KB4, PT_W, 0);
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[0], 512);
		assert_int_equal(c.leaves[1], 511);
		assert_int_equal(c.leaves[2], 0);
		assert_int_equal(m.pt.tables, t0 + (gib ? 2 : 1));
		do_protect(GIB + 77 * MB2 + 5 * KB4, KB4, 0, PT_W);
		assert_int_equal(m.pt.tables, t0);
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[0], 0);
		assert_int_equal(c.leaves[gib ? 2 : 1], gib ? 1 : 512);
		/* a 2M page, its cache type */
		do_protect(GIB + 3 * MB2, MB2, PT_CACHE_MASK, PT_UC);
		assert_int_equal(m.pt.tables, t0 + (gib ? 1 : 0));
		do_protect(GIB + 3 * MB2 + MB2 - KB4, KB4, PT_CACHE_MASK, PT_WB);
		assert_int_equal(m.pt.tables, t0 + (gib ? 2 : 1));
		do_protect(GIB + 3 * MB2, MB2 - KB4, PT_CACHE_MASK, 0);
		assert_int_equal(m.pt.tables, t0);
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[0] + c.leaves[1] + c.leaves[2], gib ? 1 : 512);
		model_clear();
		model_end();
	}
}

/* PT_SMALL writes 4K entries only, even for aligned 1G ranges, and merges
 * nothing; unmapping it all leaves only the root. */
static void test_small_flag(void **state)
{
	struct pt_census c;
	struct walk w = {.lo = 0, .hi = LIN_END, .deep_lo = 0, .deep_hi = LIN_END};
	struct xlat x;

	(void)state;
	model_start(true, true);
	snprintf(test_where, sizeof(test_where), "PT_SMALL");
	assert_null(pt_map(&m.pt, va_init(GIB), pa_init(ID_BASE), 2 * GIB, STD, PT_SMALL));
	assert_null(pt_map(&m.pt, va_init(HIGH_START), pa_init(0), 4 * MB2, STD, PT_SMALL));
	/* over what is mapped already, in the same way: still 4K */
	assert_null(pt_map(&m.pt, va_init(GIB), pa_init(ID_BASE), MB2, STD, PT_SMALL));
	walk_tree(&w, pa_addr(m.pt.root));
	assert_int_equal(w.leaves[0], 2 * 262144 + 4 * 512);
	assert_int_equal(w.leaves[1] + w.leaves[2], 0);
	assert_int_equal(w.tables, 1 + 2 + 3 + 1024 + 4);
	pt_census(&m.pt, &c);
	assert_int_equal(c.leaves[0], w.leaves[0]);
	assert_int_equal(c.leaves[1] + c.leaves[2], 0);
	assert_int_equal(c.tables, w.tables);
	assert_int_equal(m.pt.tables, w.tables);
	assert_int_equal(c.pages, w.leaves[0]);
	assert_true(mmu(pa_addr(m.pt.root), GIB + GIB + 0x123456, &x));
	assert_int_equal(x.pa, ID_BASE + GIB + 0x123456);
	assert_int_equal(x.level, 0);
	assert_null(pt_unmap(&m.pt, va_init(GIB), 2 * GIB));
	assert_null(pt_unmap(&m.pt, va_init(HIGH_START), 4 * MB2));
	assert_int_equal(m.pt.tables, 1);
	assert_int_equal(m.door.gets - m.door.puts, 1);
	check_full();
	model_end();
}

/* The upper half works like the lower: 1G pages at its bottom, the last
 * page of the address space (a run that ends at 2^64), sign-extended run
 * starts; the last page below the hole and the first above it are not one
 * run although their frames follow each other. */
static void test_upper_half(void **state)
{
	struct pt_hit h;
	struct pt_census c;

	(void)state;
	model_start(true, true);
	do_map(HIGH_START + GIB, 4 * GIB, GIB, PT_R | PT_W | PT_X);
	do_map(0xfffffffffffff000, 0x7000, KB4, PT_R);
	do_map(LOW_END - KB4, 0x10000000, KB4, STD);
	do_map(HIGH_START, 0x10001000, KB4, STD);
	do_map(LOW_END - GIB, 0x10002000, KB4, STD);
	snprintf(test_where, sizeof(test_where), "upper half");
	assert_true(pt_lookup(&m.pt, va_init(0xffffffffffffffff), &h));
	assert_int_equal(pa_addr(h.pa), 0x7fff);
	assert_true(pt_lookup(&m.pt, va_init(HIGH_START + GIB + 0x3456789), &h));
	assert_int_equal(pa_addr(h.pa), 4 * GIB + 0x3456789);
	assert_int_equal(h.level, 2);
	pt_census(&m.pt, &c);
	assert_int_equal(c.leaves[2], 1);
	assert_int_equal(c.leaves[0], 4);
	/* the root; PDPTs under PML4 entries 255, 256, 511; one PD and two PTs
	 * below the hole, a PD and a PT above it, a PD and a PT at the top */
	assert_int_equal(c.tables, 11);
	assert_int_equal(check_runs(), 5);
	do_map(HIGH_START + KB4, 0x10002000, KB4, STD);
	assert_int_equal(check_runs(), 5); /* it joins the page before it */
	check_walk(0xffffffffffffffff);
	check_walk(HIGH_START + 5);
	check_full();
	model_clear();
	model_end();
}

/* pt_runs reports maximal runs of same-size leaves in address order: 2M
 * pages join with each other but not with the 4K pages after them; 4K
 * pages join across a 2M boundary; attributes or a gap in frames end a
 * run; a run crosses PML4 entries; returning false stops the walk. */
static void test_runs(void **state)
{
	struct runs_ctx c = {.stop = 3};

	(void)state;
	model_start(true, true);
	do_map(0, ID_BASE, 3 * MB2, STD);                                /* 3 2M pages */
	do_map(3 * MB2, ID_BASE + 3 * MB2, 5 * KB4, STD);                /* 4K after them */
	do_map(5 * MB2 - 2 * KB4, 0x800000, 4 * KB4, PT_R);              /* across 2M */
	do_map(5 * MB2 + 2 * KB4, 0x800000 + 4 * KB4, KB4, PT_R | PT_W); /* attr differs */
	do_map(5 * MB2 + 3 * KB4, 0x800000 + 6 * KB4, KB4, PT_R | PT_W); /* frame gap */
	do_map(SLOT - MB2, 0x40000000, 2 * MB2, PT_R);                   /* across PML4 entries */
	do_map(SLOT - GIB, 0x80000000, GIB - MB2, PT_R);                 /* 2M pages before that */
	snprintf(test_where, sizeof(test_where), "runs");
	assert_int_equal(check_runs(), 7);
	pt_runs(&m.pt, runs_cb, &c);
	assert_int_equal(c.n, 3);
	c = (struct runs_ctx){.stop = 1};
	pt_runs(&m.pt, runs_cb, &c);
	assert_int_equal(c.n, 1);
	/* the 2M pages below 512G and the first above now follow each other */
	do_map(SLOT - GIB, 0x40000000 - (GIB - MB2), GIB - MB2, PT_R);
	assert_int_equal(check_runs(), 6);
	model_clear();
	model_end();
}

/* While the tree is in CR3 (pt_load), pt_live says so and every operation
 * takes its TLB path; loading another tree makes it not live. */
static void test_live(void **state)
{
	struct pt other;

	(void)state;
	model_start(true, true);
	assert_false(pt_live(&m.pt));
	pt_load(&m.pt);
	m.live = true;
	assert_true(pt_live(&m.pt));
	assert_int_equal(plat_read_cr3() & X_ADDR, pa_addr(m.pt.root));
	small_tree();
	do_map(0, ID_BASE, 64 * KB4, STD); /* more than PT_TLB_BATCH pages */
	do_protect(GIB + 5 * KB4, KB4, PT_W, 0);
	do_protect(GIB, GIB, PT_W, 0);
	do_unmap(0, 2 * MB2);
	do_unmap(GIB + 3 * KB4, KB4);
	assert_null(pt_init(&other, &pt_mem_frames, true));
	assert_false(pt_live(&other));
	pt_load(&other);
	assert_true(pt_live(&other));
	assert_false(pt_live(&m.pt));
	m.live = false;
	do_map(7 * MB2, 0, MB2, STD);
	pt_load(&m.pt);
	m.live = true;
	pt_destroy(&other);
	model_clear();
	assert_true(pt_live(&m.pt));
	model_end();
}

/* One page at a time (pt.c's single-page paths, with and without its walk
 * hint): a page remapped back into a full page table merges it into a 2M
 * page; unmapping the last page of a table frees it; then random single
 * pages over four 2M blocks, mostly mapped so that they merge, each one
 * checked like any operation. */
static void test_single_pages(void **state)
{
	struct pt_census c;

	(void)state;
	for (int gib = 1; gib >= 0; gib--) {
		model_start(gib, true);
		do_map(4 * MB2, ID_BASE, MB2, STD);
		do_map(4 * MB2 + 7 * KB4, 0x5000, KB4, STD); /* splits the 2M page */
		do_map(4 * MB2 + 9 * KB4, 0x6000, KB4, STD);
		do_map(4 * MB2 + 7 * KB4, ID_BASE + 7 * KB4, KB4, STD);
		do_map(4 * MB2 + 9 * KB4, ID_BASE + 9 * KB4, KB4, STD); /* merges again */
		pt_census(&m.pt, &c);
		assert_int_equal(c.leaves[0], 0);
		assert_int_equal(c.leaves[1], 1);
		do_map(6 * MB2 + 5 * KB4, 0x9000, KB4, PT_R);
		do_map(6 * MB2 + 6 * KB4, 0xa000, KB4, PT_R);
		do_unmap(6 * MB2 + 5 * KB4, KB4);
		do_unmap(6 * MB2 + 6 * KB4, KB4); /* the table goes */
		assert_int_equal(m.pt.tables, 3);
		do_unmap(4 * MB2, MB2);
		assert_int_equal(m.pt.tables, 1);
		for (unsigned i = 0; i < 6000; i++) {
			uint64_t p = test_below(4 * 512), va = 8 * MB2 + p * KB4;
			unsigned k = (unsigned)test_below(100);
			if (k < 55)
				do_map(va, k < 45 ? ID_BASE + p * KB4 : test_below(1u << 20) << 12,
				       KB4, k < 50 ? STD : PT_R);
			else if (k < 80)
				do_unmap(va, KB4);
			else
				do_protect(va, KB4, PT_W, k < 90 ? PT_W : 0);
		}
		check_full();
		model_clear();
		model_end();
	}
}

/* pt_destroy gives back every table page of a grown tree. */
static void test_destroy(void **state)
{
	(void)state;
	model_start(true, false);
	test_rng_set(99);
	for (unsigned i = 0; i < 1500; i++) {
		struct op o;
		random_op(&o, NWIN);
		if (o.kind == OP_MAP)
			run_op(&o);
	}
	assert_true(m.pt.tables > 100);
	model_end();
}

/* Operations that need several table pages, with the door failing each get
 * in turn, fail with pt_err_nomem leaving the tree byte for byte as it was
 * and no frame taken, until they succeed: maps into empty space (across
 * PML4 entries, in the upper half), maps cutting 1G and 2M pages at both
 * ends, unmap and protect of the middle of a 1G page. */
static void test_nomem_cases(void **state)
{
	(void)state;
	for (int gib = 1; gib >= 0; gib--) {
		struct op o = {0};
		model_start(gib, true);
		o = (struct op){.kind = OP_MAP, .va = KB4, .pa = 0x5000, .len = 2 * KB4, .a = STD};
		assert_int_equal(run_op_failing(&o, 0), 3);
		o = (struct op){
		    .kind = OP_MAP, .va = SLOT - KB4, .pa = 0x9000, .len = 2 * KB4, .a = PT_R};
		assert_int_equal(run_op_failing(&o, 0), 5); /* PDPT, 2 PDs, 2 PTs */
		o = (struct op){.kind = OP_MAP,
		                .va = HIGH_START + GIB + 3 * MB2,
		                .pa = 0,
		                .len = 3 * MB2 + KB4,
		                .a = PT_R};
		assert_int_equal(run_op_failing(&o, 0), 3);
		/* 1G pages cut at both ends */
		do_map(GIB, ID_BASE + GIB, 2 * GIB, STD);
		o = (struct op){.kind = OP_MAP,
		                .va = GIB + KB4,
		                .pa = 0x200000000 + KB4,
		                .len = 2 * GIB - 2 * KB4,
		                .a = STD};
		assert_int_equal(run_op_failing(&o, 0), gib ? 4 : 2);
		/* 2M pages cut at both ends */
		do_map(SLOT + 4 * MB2, 8 * MB2, 4 * MB2, PT_R);
		o = (struct op){.kind = OP_MAP,
		                .va = SLOT + 5 * MB2 - KB4,
		                .pa = 0x300000000 - KB4,
		                .len = MB2 + 2 * KB4,
		                .a = PT_R};
		assert_int_equal(run_op_failing(&o, 0), 2);
		o = (struct op){.kind = OP_UNMAP, .va = SLOT + 4 * MB2 + KB4, .len = 3 * MB2};
		assert_int_equal(run_op_failing(&o, 0), 1);
		/* the middle of a 1G page */
		do_map(0, ID_BASE, GIB, STD);
		o = (struct op){.kind = OP_UNMAP, .va = 3 * MB2 + KB4, .len = KB4};
		assert_int_equal(run_op_failing(&o, 0), gib ? 2 : 1);
		do_map(0, ID_BASE, GIB, STD);
		o = (struct op){.kind = OP_PROTECT,
		                .va = 300 * MB2 + 9 * KB4,
		                .len = MB2,
		                .clear = PT_W,
		                .set = PT_USER};
		assert_int_equal(run_op_failing(&o, 0), gib ? 3 : 2);
		o = (struct op){.kind = OP_PROTECT,
		                .va = HIGH_START,
		                .len = 2 * GIB,
		                .clear = PT_W,
		                .set = PT_USER};
		assert_int_equal(run_op_failing(&o, 0), 0);
		check_full();
		model_clear();
		model_end();
	}
}

/* Random operations, each tried with the door failing every get in turn
 * before it succeeds. */
static void test_nomem_random(void **state)
{
	uint64_t failures = 0;

	(void)state;
	for (int gib = 1; gib >= 0; gib--) {
		model_start(gib, true);
		test_rng_set(0x5eed0000u + (unsigned)gib);
		for (unsigned i = 0; i < 400; i++) {
			struct op o;
			random_op(&o, 2);
			failures += run_op_failing(&o, 0);
		}
		snprintf(test_where, sizeof(test_where), "full check");
		check_full();
		model_clear();
		model_end();
	}
	assert_true(failures > 500);
}

/* When the frame allocator itself runs out, an operation fails with
 * pt_err_nomem and changes nothing. */
static void test_frames_exhausted(void **state)
{
	static paddr_t got[NF];
	struct snap s;
	uint64_t n = 0;

	(void)state;
	model_start(true, false);
	small_tree();
	while (kalloc(FRAME_CLIENT, &got[n]) == NULL)
		n++;
	snprintf(test_where, sizeof(test_where), "allocator empty");
	snap_take(&s, &m.pt);
	assert_err(pt_map(&m.pt, va_init(SLOT), pa_init(0), KB4, STD, 0), pt_err_nomem);
	snap_same(&s, &m.pt);
	assert_err(pt_protect(&m.pt, va_init(GIB + MB2), KB4, PT_W, 0), pt_err_nomem);
	snap_same(&s, &m.pt);
	assert_err(pt_unmap(&m.pt, va_init(2 * MB2 + KB4), KB4), pt_err_nomem);
	snap_same(&s, &m.pt);
	/* what needs no table page still works */
	snap_free(&s);
	do_unmap(GIB, GIB);
	do_map(KB4, 0x5000, KB4, PT_R);
	while (n--)
		assert_null(kfree(got[n], FRAME_CLIENT));
	model_clear();
	model_end();
}

/* 50,000 random operations with 1 GiB pages, the second half on the live
 * tree: after each, the tree translates as the reference around the range
 * and at sampled pages, with the fewest entries there and the fewest table
 * pages overall (pt_census's leaf counts every 64th operation); every 2,000
 * the whole tree and pt_runs are compared and one operation is failed
 * first; at the end, unmapping everything leaves only the root and
 * pt_destroy returns every frame. */
static void test_random_gib(void **state)
{
	(void)state;
	random_run(true, 50000, 0x9e3779b97f4a7c15);
}

/* The same without 1 GiB pages. */
static void test_random_2m(void **state)
{
	(void)state;
	random_run(false, 50000, 0xc2b2ae3d27d4eb4f);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_init_empty),  T(test_bad_input),         T(test_lookup_walk),
	    T(test_superpages),  T(test_protect_no_change), T(test_reprotect_merges),
	    T(test_small_flag),  T(test_upper_half),        T(test_runs),
	    T(test_live),        T(test_single_pages),      T(test_destroy),
	    T(test_nomem_cases), T(test_nomem_random),      T(test_frames_exhausted),
	    T(test_random_gib),  T(test_random_2m),
	};

	/* PT_TEST=test_runs runs the tests whose name matches (cmocka's filter) */
	if (getenv("PT_TEST"))
		cmocka_set_test_filter(getenv("PT_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
