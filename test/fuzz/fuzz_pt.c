/*
 * libFuzzer target for the page-table driver (paging/pt.c).
 *
 * An input is a sequence of range operations (map, map with PT_SMALL,
 * unmap, protect) on one tree, over a window of 2 GiB of virtual address
 * space, some of them with the table-page door set to fail on its Nth page.
 * A flat reference map (one word per 4K page: frame and attributes) is the
 * model; it is written from pt.h's contract, not from pt.c.
 *
 * What is checked:
 * - An operation returns NULL, or pt_err_nomem only when the door failed;
 *   after a failure the tree is byte-for-byte as before (a hash over every
 *   table page and its address), and no frame is lost.
 * - After each operation, the pages of its range (all of them, or every
 *   509th page and both ends of long ranges) translate as the model says
 *   (pt_lookup: frame, attributes; and the leaf size is one the model
 *   allows: a 2M/1G leaf only over an aligned, contiguous, uniform block).
 * - At the end of the input, over every page touched: pt_runs reports
 *   exactly the model's mappings, and, unless PT_SMALL was used, the tree
 *   has the fewest leaves and table pages that can express the model.
 * - No stale translation survives: when the tree is live (pt_load), every
 *   page check caches the translation in the host's model TLB; after each
 *   operation, what invlpg and flushes left there must still translate so.
 * - pt_destroy gives back every table page.
 *
 * Input format (reads past the end give 0):
 *   byte 0      bit 0: the CPU has 1 GiB pages; bit 1: the tree is live
 *   then 8 bytes an operation:
 *     b0  bits 0-1: map, unmap, protect, map PT_SMALL; bits 2-3: the
 *         virtual page's alignment (none, 2M, 1G, 2M); bit 7: fail the
 *         door's (b7 >> 5)th page
 *     b1..b3  the virtual page (within the window)
 *     b4  bits 0-1: length kind: 1..256 pages (b5 + 1), (b5 % 8 + 1) * 2M,
 *         1G, (b5 + 1) * 17 pages
 *     b6  bits 0-1: frame: identity, identity + b6/4 * 2M, identity + 4K *
 *         (b6/4), a fixed 1G-aligned base + va
 *     b7  attributes: bit 0 W, bit 1 X, bit 2 user, bits 3-4 cache index;
 *         protect: bits 0-1 rights to clear, bits 2-4 to set
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "host.h"
#include "platform.h"
#include "pt.h"

/* The model's own loops need no coverage feedback: it would only slow them. */
#define MODEL_LOOP __attribute__((no_sanitize("coverage")))

#define WINDOW_PAGES (1u << 19) /* 2 GiB */
#define PRESENT      ((uint64_t)1 << 63)
#define RAM_BYTES    (64u << 20)

static uint64_t ref[WINDOW_PAGES]; /* 0, or PRESENT | frame | attributes */
static uint32_t lo_touched = WINDOW_PAGES, hi_touched;

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

/* The door: frames, failing on the fail_at'th page from now (-1: never). */
static long fail_at = -1;
static err_t door_get(void *ctx, paddr_t *out)
{
	(void)ctx;
	if (fail_at == 0)
		return pt_err_nomem;
	if (fail_at > 0)
		fail_at--;
	return kalloc(FRAME_PTABLE, out) ? pt_err_nomem : NULL;
}
static void door_put(void *ctx, paddr_t pa)
{
	(void)ctx;
	if (kfree(pa, FRAME_PTABLE))
		FAIL("pt gave back a page that was not a page-table page");
}
static const struct pt_mem door = {door_get, door_put, NULL};

static struct {
	const uint8_t *p;
	size_t n;
} in;
static uint8_t byte(void)
{
	if (!in.n)
		return 0;
	in.n--;
	return *in.p++;
}

/* Hash every table page of the tree, with its address. */
MODEL_LOOP static uint64_t hash_table(paddr_t t, unsigned level)
{
	const uint64_t *e = plat_pa_to_ptr(t);
	uint64_t h = pa_addr(t) * 0x9e3779b97f4a7c15ull;

	for (unsigned i = 0; i < 512; i++) {
		h = (h ^ e[i]) * 0x100000001b3ull;
		if (level > 0 && (e[i] & 1) && !(e[i] & 0x80))
			h ^= hash_table(pa_init(e[i] & 0x000ffffffffff000ull), level - 1) + i;
	}
	return h;
}

static uint64_t free_frames(void)
{
	struct frame_stats s;
	frame_stats(&s);
	return s.free;
}

static uint64_t ref_entry(uint64_t pa, pt_attr_t a)
{
	return PRESENT | pa | a;
}

/* Whether the model's pages [p, p + n) form one aligned, contiguous, uniform block. */
MODEL_LOOP static bool uniform(uint32_t p, uint32_t n)
{
	uint64_t first = ref[p];

	if (!first || ((first & ~PRESENT & ~(uint64_t)0xfff) & ((uint64_t)n * 4096 - 1)))
		return false;
	for (uint32_t k = 1; k < n; k++)
		if (ref[p + k] != first + (uint64_t)k * 4096)
			return false;
	return true;
}

/* Every translation left in the model TLB is still the tree's. */
static void check_tlb(struct pt *pt)
{
	const struct host_tlb_entry *t;
	size_t n = host_tlb(&t);

	for (size_t i = 0; i < n; i++) {
		struct pt_hit h;
		if (!pt_lookup(pt, va_init(t[i].va), &h) ||
		    ref_entry(pa_addr(h.pa), h.attr) != t[i].value)
			FAIL("stale TLB entry for 0x%lx (size 0x%lx) survived", t[i].va, t[i].size);
	}
}

static uint32_t seen_block = ~0u; /* a superpage block checked since the last operation */

static void check_page(struct pt *pt, uint32_t p, bool gib)
{
	struct pt_hit h;
	bool mapped = pt_lookup(pt, va_init((uint64_t)p << 12), &h);

	if (!ref[p]) {
		if (mapped)
			FAIL("page 0x%x mapped, the model has nothing", p);
		return;
	}
	if (!mapped)
		FAIL("page 0x%x not mapped, the model maps it", p);
	if (ref_entry(pa_addr(h.pa), h.attr) != ref[p])
		FAIL("page 0x%x: 0x%lx attr 0x%x, model 0x%lx", p, pa_addr(h.pa), h.attr, ref[p]);
	if (pt_live(pt)) { /* what a CPU would cache: the whole leaf */
		const uint64_t size = (uint64_t)1 << (12 + 9 * h.level), va = (uint64_t)p << 12;
		host_tlb_add(va, size, ref_entry(pa_addr(h.pa) - (va & (size - 1)), h.attr));
	}
	/* A superpage is checked once per block until the model changes. */
	const uint32_t block = h.level == 2 ? (p & ~0x3ffffu) | 1 : (p & ~0x1ffu);
	if (h.level && block == seen_block)
		return;
	if (h.level == 2 && (!gib || !uniform(p & ~0x3ffffu, 1u << 18)))
		FAIL("page 0x%x: a 1G leaf the model does not allow", p);
	if (h.level == 1 && !uniform(p & ~0x1ffu, 512))
		FAIL("page 0x%x: a 2M leaf over a block that is not uniform", p);
	if (h.level)
		seen_block = block;
}

struct runs_check {
	uint32_t next; /* pages below this were covered by earlier runs */
	uint64_t pages;
};

MODEL_LOOP static bool run_seen(void *ctx, const struct pt_run *r)
{
	struct runs_check *c = ctx;
	uint64_t p = va_addr(r->start) >> 12, n = r->len >> 12;

	if (p + n > WINDOW_PAGES || p < c->next)
		FAIL("run 0x%lx+0x%lx outside the window or out of order", p, n);
	for (uint64_t k = c->next; k < p; k++)
		if (ref[k])
			FAIL("page 0x%lx in the model, in no run", k);
	for (uint64_t k = 0; k < n; k++)
		if (ref[p + k] != ref_entry(pa_addr(r->pa) + k * 4096, r->attr))
			FAIL("run page 0x%lx differs from the model", p + k);
	c->next = (uint32_t)(p + n);
	c->pages += n;
	return true;
}

/* The fewest leaves and tables that express the model over the window. */
MODEL_LOOP static void check_minimal(const struct pt *pt, bool gib)
{
	uint64_t leaves = 0, tables = 1, pdpt = 0;
	struct pt_census c;

	for (uint32_t g = 0; g < WINDOW_PAGES; g += 1u << 18) {
		bool any = false, pd = false;
		if (gib && uniform(g, 1u << 18)) {
			leaves++, pdpt = 1;
			continue;
		}
		for (uint32_t m = g; m < g + (1u << 18); m += 512) {
			if (uniform(m, 512)) {
				leaves++, any = true;
				continue;
			}
			uint64_t small = 0;
			for (uint32_t k = m; k < m + 512; k++)
				small += ref[k] != 0;
			if (small)
				leaves += small, tables++, any = true;
		}
		if (any)
			pd = true, pdpt = 1;
		tables += pd;
	}
	tables += pdpt;
	pt_census(pt, &c);
	if (c.leaves[0] + c.leaves[1] + c.leaves[2] != leaves || c.tables != tables ||
	    pt->tables != tables)
		FAIL("not minimal: leaves %lu tables %lu (held %lu), expected %lu and %lu",
		     c.leaves[0] + c.leaves[1] + c.leaves[2], c.tables, pt->tables, leaves, tables);
}

/* The operation on the model, page by page. */
MODEL_LOOP static void model_apply(int kind, uint32_t p, uint32_t n, uint64_t pa, pt_attr_t a,
                                   pt_attr_t clear, pt_attr_t set)
{
	for (uint32_t k = 0; k < n; k++) {
		uint64_t *r = &ref[p + k];
		if (kind == 0 || kind == 3)
			*r = ref_entry(pa + (uint64_t)k * 4096, a);
		else if (kind == 1)
			*r = 0;
		else if (*r)
			*r = (*r & ~(uint64_t)(clear & ~set)) | set;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static struct pt idle; /* an empty tree to load when the input's tree must go */
	if (!ready) {
		host_ram(RAM_BYTES);
		struct frame_range r = {0x100000, (RAM_BYTES - 0x100000) / 4096, FRAME_FREE};
		if (frame_init(&r, 1) || pt_init(&idle, &pt_mem_frames, true))
			abort();
		ready = true;
	}
	in.p = data, in.n = size;
	memset(ref + (lo_touched < hi_touched ? lo_touched : 0), 0,
	       (lo_touched < hi_touched ? hi_touched - lo_touched : 0) * sizeof(ref[0]));
	lo_touched = WINDOW_PAGES, hi_touched = 0;

	const uint8_t flags = byte();
	const bool gib = flags & 1;
	const uint64_t free0 = free_frames();
	struct pt pt;
	fail_at = -1;
	if (pt_init(&pt, &door, gib))
		abort();
	if (flags & 2)
		pt_load(&pt);
	bool small_used = false;

	for (unsigned op = 0; in.n >= 8 && op < 64; op++) {
		uint8_t b[8];
		for (int k = 0; k < 8; k++)
			b[k] = byte();
		uint32_t p = (b[1] | b[2] << 8 | (uint32_t)b[3] << 16) % WINDOW_PAGES;
		static const uint32_t align[4] = {1, 512, 1u << 18, 512};
		p &= ~(align[(b[0] >> 2) & 3] - 1);
		uint32_t n;
		switch (b[4] & 3) {
		case 0:
			n = b[5] + 1u;
			break;
		case 1:
			n = (b[5] % 8 + 1u) * 512;
			break;
		case 2:
			n = 1u << 18;
			break;
		default:
			n = (b[5] + 1u) * 17;
			break;
		}
		if (n > WINDOW_PAGES - p)
			n = WINDOW_PAGES - p;
		uint64_t va = (uint64_t)p << 12, pa;
		switch (b[6] & 3) {
		case 0:
			pa = va;
			break;
		case 1:
			pa = va + (uint64_t)(b[6] >> 2) * (2u << 20);
			break;
		case 2:
			pa = va + (uint64_t)(b[6] >> 2) * 4096;
			break;
		default:
			pa = va + ((uint64_t)1 << 40);
			break;
		}
		const pt_attr_t a = PT_R | (b[7] & 1 ? PT_W : 0) | (b[7] & 2 ? PT_X : 0) |
		                    (b[7] & 4 ? PT_USER : 0) | PT_CACHE((b[7] >> 3) & 3);
		const pt_attr_t clear = (b[7] & 3) << 1, set = ((b[7] >> 2) & 7) << 1;
		const int kind = b[0] & 3;
		const bool failing = b[0] & 0x80;

		const uint64_t h0 = failing ? hash_table(pt.root, 3) : 0, f0 = free_frames();
		fail_at = failing ? b[7] >> 5 : -1;
		err_t e = NULL;
		switch (kind) {
		case 0:
		case 3:
			e = pt_map(&pt, va_init(va), pa_init(pa), (uint64_t)n << 12, a,
			           kind == 3 ? PT_SMALL : 0);
			small_used |= kind == 3;
			break;
		case 1:
			e = pt_unmap(&pt, va_init(va), (uint64_t)n << 12);
			break;
		case 2:
			e = pt_protect(&pt, va_init(va), (uint64_t)n << 12, clear, set);
			break;
		}
		fail_at = -1;
		check_tlb(&pt);
		if (e) {
			if (e != pt_err_nomem || !failing)
				FAIL("op %d: unexpected error %s", kind, e);
			if (hash_table(pt.root, 3) != h0 || free_frames() != f0)
				FAIL("op %d failed but changed the tree or lost frames", kind);
			continue;
		}
		model_apply(kind, p, n, pa, a, clear, set);
		if (p < lo_touched)
			lo_touched = p;
		if (p + n > hi_touched)
			hi_touched = p + n;
		seen_block = ~0u;
		uint32_t step = n > 4096 ? 509 : 1;
		for (uint32_t k = 0; k < n; k += step)
			check_page(&pt, p + k, gib);
		check_page(&pt, p + n - 1, gib);
	}

	struct runs_check rc = {0, 0};
	pt_runs(&pt, run_seen, &rc);
	for (uint32_t k = rc.next; k < WINDOW_PAGES && k < hi_touched; k++)
		if (ref[k])
			FAIL("page 0x%x in the model, in no run", k);
	if (!small_used)
		check_minimal(&pt, gib);
	if (pt_live(&pt))
		pt_load(&idle); /* off the tree: pt_destroy refuses a live one */
	pt_destroy(&pt);
	if (free_frames() != free0 || frame_audit())
		FAIL("table pages lost: free 0x%lx, was 0x%lx", free_frames(), free0);
	return 0;
}
