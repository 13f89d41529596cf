#include "memmap.h"

#include "frame.h"

const char *mm_kind_name(enum fw_kind k)
{
	static const char *const names[FW_KIND_COUNT] = {
	    [FW_CONVENTIONAL] = "conventional", [FW_LOADER_CODE] = "loader-code",
	    [FW_LOADER_DATA] = "loader-data",   [FW_BOOT_CODE] = "boot-code",
	    [FW_BOOT_DATA] = "boot-data",       [FW_RUNTIME_CODE] = "runtime-code",
	    [FW_RUNTIME_DATA] = "runtime-data", [FW_ACPI_RECLAIM] = "acpi-reclaim",
	    [FW_ACPI_NVS] = "acpi-nvs",         [FW_MMIO] = "mmio",
	    [FW_MMIO_PORT] = "mmio-port",       [FW_PAL_CODE] = "pal-code",
	    [FW_PERSISTENT] = "persistent",     [FW_UNUSABLE] = "unusable",
	    [FW_UNACCEPTED] = "unaccepted",     [FW_RESERVED] = "reserved",
	};

	return (unsigned)k < FW_KIND_COUNT ? names[k] : "unknown";
}

enum mm_use mm_disposition(enum fw_kind k, bool keep_boot)
{
	switch (k) {
	case FW_CONVENTIONAL:
		return MM_RECLAIMED;
	case FW_BOOT_CODE:
	case FW_BOOT_DATA:
		return keep_boot ? MM_KEPT : MM_RECLAIMED;
	case FW_LOADER_CODE:
	case FW_LOADER_DATA: /* memmon's own allocations are loader data */
		return keep_boot ? MM_KEPT : MM_RECLAIMED;
	default:
		return MM_RESERVED;
	}
}

const char *mm_use_name(enum mm_use u)
{
	static const char *const names[MM_USES] = {"reclaimed", "kept", "reserved"};

	return names[u];
}

bool mm_is_ram(enum fw_kind k)
{
	return k != FW_MMIO && k != FW_MMIO_PORT && k != FW_RESERVED && k != FW_UNUSABLE &&
	       k != FW_PAL_CODE;
}

void mm_sort(struct boot_info *bi)
{
	/* Insertion sort: a firmware map has a few hundred entries, nearly sorted. */
	for (size_t i = 1; i < bi->nregions; i++) {
		struct mm_region r = bi->regions[i];
		size_t j = i;
		for (; j > 0 && bi->regions[j - 1].base > r.base; j--)
			bi->regions[j] = bi->regions[j - 1];
		bi->regions[j] = r;
	}
}

/* Append [base, end) of `owner` to the takeover list, joining it to the
 * previous piece when they touch and share the owner. */
static bool emit(struct frame_range *out, size_t cap, size_t *n, uint64_t base, uint64_t end,
                 enum frame_owner owner)
{
	if (base >= end)
		return true;
	struct frame_range *last = *n ? &out[*n - 1] : NULL;
	if (last && last->owner == owner && last->base + last->pages * PAGE_SIZE == base) {
		last->pages += (end - base) / PAGE_SIZE;
		return true;
	}
	if (*n == cap)
		return false;
	out[(*n)++] = (struct frame_range){base, (end - base) / PAGE_SIZE, owner};
	return true;
}

/* What memmon may do with memory a descriptor covers, least restrictive
 * first: where descriptors overlap (UEFI forbids it; a broken map may not
 * care), the most restrictive claim wins. */
enum claim { CLAIM_NONE, CLAIM_FREE, CLAIM_KEPT, CLAIM_FIRMWARE, CLAIM_NOT_RAM };

static enum claim region_claim(const struct boot_info *bi, const struct mm_region *r)
{
	if (!mm_is_ram(r->kind))
		return CLAIM_NOT_RAM;
	switch (mm_disposition(r->kind, bi->keep_boot)) {
	case MM_RECLAIMED:
		return CLAIM_FREE;
	case MM_KEPT:
		return CLAIM_KEPT;
	default:
		return CLAIM_FIRMWARE;
	}
}

/* [*base, *end) of a span, page-aligned and clipped to physical addresses. */
static void span_bounds(uint64_t base, uint64_t pages, uint64_t *b, uint64_t *e)
{
	const uint64_t limit = (uint64_t)1 << MM_PHYS_BITS;

	*b = base < limit ? base & ~(PAGE_SIZE - 1) : limit;
	*e = pages < (limit - *b) / PAGE_SIZE ? *b + pages * PAGE_SIZE : limit;
}

/* Lower *next to boundary x if x lies beyond pos. */
static void boundary(uint64_t pos, uint64_t x, uint64_t *next)
{
	if (x > pos && x < *next)
		*next = x;
}

err_t mm_takeover(struct boot_info *bi, struct frame_range *out, size_t cap, size_t *n)
{
	static const enum frame_owner owner_of[] = {[CLAIM_FREE] = FRAME_FREE,
	                                            [CLAIM_KEPT] = FRAME_MONITOR,
	                                            [CLAIM_FIRMWARE] = FRAME_FIRMWARE};
	static const enum mm_use use_of[] = {[CLAIM_FREE] = MM_RECLAIMED,
	                                     [CLAIM_KEPT] = MM_KEPT,
	                                     [CLAIM_FIRMWARE] = MM_RESERVED,
	                                     [CLAIM_NOT_RAM] = MM_RESERVED};
	bool ok = true;

	*n = 0;
	bi->totals = (struct mm_totals){0};
	for (size_t i = 0; i < bi->nregions; i++)
		bi->regions[i].kept = 0;
	/* Sweep the address space from boundary to boundary; between two, every
	 * descriptor and kept span either covers all of it or none. O((regions +
	 * spans)^2), a few hundred squared at most. */
	for (uint64_t pos = 0;;) {
		uint64_t next = UINT64_MAX, b, e;
		enum claim c = CLAIM_NONE;
		bool kept = pos < PAGE_SIZE; /* frame 0: its address is the null pointer */

		boundary(pos, PAGE_SIZE, &next);
		for (size_t i = 0; i < bi->nregions; i++) {
			span_bounds(bi->regions[i].base, bi->regions[i].pages, &b, &e);
			boundary(pos, b, &next);
			boundary(pos, e, &next);
			if (b <= pos && pos < e && region_claim(bi, &bi->regions[i]) > c)
				c = region_claim(bi, &bi->regions[i]);
		}
		for (size_t j = 0; j < bi->nkept; j++) {
			span_bounds(bi->kept[j].base, bi->kept[j].pages, &b, &e);
			boundary(pos, b, &next);
			boundary(pos, e, &next);
			kept |= b <= pos && pos < e;
		}
		if (next == UINT64_MAX)
			break;
		if (c == CLAIM_FREE && kept)
			c = CLAIM_KEPT;
		uint64_t pages = (next - pos) / PAGE_SIZE;
		if (c == CLAIM_FREE || c == CLAIM_KEPT || c == CLAIM_FIRMWARE) {
			ok &= emit(out, cap, n, pos, next, owner_of[c]);
			bi->totals.ram_pages += pages;
		}
		if (c != CLAIM_NONE)
			bi->totals.pages[use_of[c]] += pages;
		for (size_t i = 0; c == CLAIM_KEPT && i < bi->nregions; i++) {
			struct mm_region *r = &bi->regions[i];
			span_bounds(r->base, r->pages, &b, &e);
			if (b <= pos && pos < e && region_claim(bi, r) <= CLAIM_KEPT) {
				r->kept += pages; /* to one descriptor only */
				break;
			}
		}
		pos = next;
	}
	return ok ? NULL : "the memory map is too fragmented for the takeover list";
}

const struct mm_region *mm_find(const struct boot_info *bi, uint64_t pa)
{
	for (size_t i = 0; i < bi->nregions; i++) {
		const struct mm_region *r = &bi->regions[i];
		if (pa >= r->base && (pa - r->base) / PAGE_SIZE < r->pages)
			return r;
	}
	return NULL;
}

enum mm_use mm_region_use(const struct boot_info *bi, const struct mm_region *r)
{
	if (r->kept == r->pages && r->pages)
		return MM_KEPT;
	return mm_disposition(r->kind, bi->keep_boot);
}
