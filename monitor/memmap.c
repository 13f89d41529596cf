#include "memmap.h"

#include "fmt.h"
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
		return MM_FREE;
	case FW_BOOT_CODE:
	case FW_BOOT_DATA:
		return keep_boot ? MM_KEPT : MM_RECLAIMED;
	case FW_LOADER_CODE:
	case FW_LOADER_DATA:
		return MM_RECLAIMED;
	default:
		return MM_RESERVED;
	}
}

const char *mm_use_name(enum mm_use u)
{
	static const char *const names[MM_USES] = {"free", "reclaimed", "kept", "reserved"};

	return names[u];
}

static bool is_ram(enum fw_kind k)
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

void mm_totals(const struct boot_info *bi, struct mm_totals *t)
{
	*t = (struct mm_totals){0};
	for (size_t i = 0; i < bi->nregions; i++) {
		const struct mm_region *r = &bi->regions[i];
		t->pages[mm_disposition(r->kind, bi->keep_boot)] += r->pages - r->kept;
		t->pages[MM_KEPT] += r->kept;
		if (is_ram(r->kind))
			t->ram_pages += r->pages;
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

err_t mm_takeover(struct boot_info *bi, struct frame_range *out, size_t cap, size_t *n)
{
	/* the kept spans by address */
	struct mm_span *k = bi->kept;
	for (size_t i = 1; i < bi->nkept; i++) {
		struct mm_span s = k[i];
		size_t j = i;
		for (; j > 0 && k[j - 1].base > s.base; j--)
			k[j] = k[j - 1];
		k[j] = s;
	}

	uint64_t floor = 0; /* end of what is laid out: overlapping descriptors are clipped */
	bool ok = true;
	*n = 0;
	for (size_t i = 0; i < bi->nregions; i++) {
		struct mm_region *r = &bi->regions[i];
		uint64_t base = r->base > floor ? r->base : floor;
		uint64_t end = r->base + r->pages * PAGE_SIZE;
		enum mm_use use = mm_disposition(r->kind, bi->keep_boot);

		r->kept = 0;
		if (!is_ram(r->kind) || base >= end)
			continue;
		floor = end;
		if (use == MM_RESERVED) {
			ok &= emit(out, cap, n, base, end, FRAME_FIRMWARE);
			continue;
		}
		if (use == MM_KEPT) {
			r->kept = r->pages;
			ok &= emit(out, cap, n, base, end, FRAME_MONITOR);
			continue;
		}
		uint64_t pos = base;
		if (pos == 0) { /* frame 0: its address is the null pointer */
			ok &= emit(out, cap, n, 0, PAGE_SIZE, FRAME_MONITOR);
			r->kept++;
			pos = PAGE_SIZE;
		}
		for (size_t j = 0; j < bi->nkept && pos < end; j++) {
			uint64_t sb = k[j].base, se = sb + k[j].pages * PAGE_SIZE;
			if (se <= pos || sb >= end)
				continue;
			if (sb > pos)
				ok &= emit(out, cap, n, pos, sb, FRAME_FREE);
			sb = sb > pos ? sb : pos;
			se = se < end ? se : end;
			ok &= emit(out, cap, n, sb, se, FRAME_MONITOR);
			r->kept += (se - sb) / PAGE_SIZE;
			pos = se;
		}
		ok &= emit(out, cap, n, pos, end, FRAME_FREE);
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

void mm_print_region(const struct boot_info *bi, const struct mm_region *r)
{
	enum mm_use use = mm_disposition(r->kind, bi->keep_boot);
	char kept[32] = "";

	if (r->kept == r->pages && r->pages)
		use = MM_KEPT;
	else if (r->kept)
		fmt_format(kept, sizeof(kept), " (0x%lx kept)", r->kept);
	con_printf("0x%lx-0x%lx %-12s 0x%lx pages attr 0x%lx %s%s\n", r->base,
	           r->base + r->pages * PAGE_SIZE, mm_kind_name(r->kind), r->pages, r->attr,
	           mm_use_name(use), kept);
}

void mm_print(const struct boot_info *bi)
{
	struct mm_totals t;

	for (size_t i = 0; i < bi->nregions; i++)
		mm_print_region(bi, &bi->regions[i]);
	mm_totals(bi, &t);
	uint64_t managed = t.pages[MM_FREE] + t.pages[MM_RECLAIMED] + t.pages[MM_KEPT];
	con_printf("memmap: descriptors 0x%zx ram 0x%lx free 0x%lx reclaimed 0x%lx kept 0x%lx "
	           "reserved 0x%lx\n",
	           bi->nregions, t.ram_pages, t.pages[MM_FREE], t.pages[MM_RECLAIMED],
	           t.pages[MM_KEPT], t.pages[MM_RESERVED]);
	con_printf("memmap: memmon manages 0x%lx MiB of 0x%lx MiB ram\n", managed >> 8,
	           t.ram_pages >> 8);
}
