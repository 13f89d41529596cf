#include "memmap.h"

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

enum mm_use mm_disposition(enum fw_kind k)
{
	switch (k) {
	case FW_CONVENTIONAL:
		return MM_USABLE;
	case FW_BOOT_CODE:
	case FW_BOOT_DATA:
		return MM_RECLAIMABLE;
	case FW_LOADER_CODE:
	case FW_LOADER_DATA:
		return MM_KEPT;
	default:
		return MM_RESERVED;
	}
}

const char *mm_use_name(enum mm_use u)
{
	static const char *const names[] = {"usable", "reclaimable", "kept", "reserved"};

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
		t->pages[mm_disposition(r->kind)] += r->pages;
		if (is_ram(r->kind))
			t->ram_pages += r->pages;
	}
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

void mm_print_region(const struct mm_region *r)
{
	con_printf("0x%lx-0x%lx %-12s %lu pages attr 0x%lx %s\n", r->base,
	           r->base + r->pages * PAGE_SIZE, mm_kind_name(r->kind), r->pages, r->attr,
	           mm_use_name(mm_disposition(r->kind)));
}

void mm_print(const struct boot_info *bi)
{
	struct mm_totals t;

	for (size_t i = 0; i < bi->nregions; i++)
		mm_print_region(&bi->regions[i]);
	mm_totals(bi, &t);
	uint64_t usable = t.pages[MM_USABLE] + t.pages[MM_RECLAIMABLE];
	con_printf("memmap: descriptors %zu ram %lu usable %lu (free %lu reclaimable %lu) kept %lu "
	           "reserved %lu\n",
	           bi->nregions, t.ram_pages, usable, t.pages[MM_USABLE], t.pages[MM_RECLAIMABLE],
	           t.pages[MM_KEPT], t.pages[MM_RESERVED]);
	con_printf("memmap: usable %lu MiB of %lu MiB ram\n", usable >> 8, t.ram_pages >> 8);
}
