/*
 * The firmware memory map, as memmon took it over.
 *
 * efi/ translates each UEFI descriptor into a struct mm_region through one
 * type switch; from then on the core knows only enum fw_kind and never a
 * UEFI type number. mm_disposition() says what memmon does with each kind.
 */
#ifndef MEMMON_MEMMAP_H
#define MEMMON_MEMMAP_H

#include "console.h"
#include "types.h"

enum fw_kind {
	FW_CONVENTIONAL,
	FW_LOADER_CODE,
	FW_LOADER_DATA,
	FW_BOOT_CODE,
	FW_BOOT_DATA,
	FW_RUNTIME_CODE,
	FW_RUNTIME_DATA,
	FW_ACPI_RECLAIM,
	FW_ACPI_NVS,
	FW_MMIO,
	FW_MMIO_PORT,
	FW_PAL_CODE,
	FW_PERSISTENT,
	FW_UNUSABLE,
	FW_UNACCEPTED,
	FW_RESERVED,
	FW_KIND_COUNT
};

/* What memmon does with a region. */
enum mm_use {
	MM_USABLE,      /* free RAM, memmon's to hand out */
	MM_RECLAIMABLE, /* boot-services memory: free once the firmware has left */
	MM_KEPT,        /* loader memory: memmon's image and what it allocated */
	MM_RESERVED,    /* never touched: ACPI, NVS, runtime, MMIO, reserved */
};

struct mm_region {
	uint64_t base;  /* physical, page-aligned */
	uint64_t pages; /* 4 KiB pages */
	uint64_t attr;  /* firmware attribute bits (EFI_MEMORY_*) */
	uint32_t fw_type;
	uint32_t kind; /* enum fw_kind */
};

/* What efi/ hands to the core after ExitBootServices. */
struct boot_info {
	struct mm_region *regions;
	size_t nregions;
	uint64_t image_base; /* physical address of memmon's loaded image */
	uint64_t image_size;
	unsigned ebs_tries; /* ExitBootServices calls it took */
	char fw_vendor[48]; /* firmware vendor, ASCII */
	uint32_t fw_revision;
};

/* Sort the regions by base address (UEFI does not promise any order). */
void mm_sort(struct boot_info *bi);

const char *mm_kind_name(enum fw_kind k);
enum mm_use mm_disposition(enum fw_kind k);
const char *mm_use_name(enum mm_use u);

struct mm_totals {
	uint64_t pages[4];  /* by enum mm_use */
	uint64_t ram_pages; /* every region that is RAM (not MMIO or reserved) */
};
void mm_totals(const struct boot_info *bi, struct mm_totals *t);

/* x86-64 physical addresses have at most 52 bits. */
#define MM_PHYS_BITS 52

/* The region holding physical address pa, or NULL. */
const struct mm_region *mm_find(const struct boot_info *bi, uint64_t pa);
void mm_print_region(const struct mm_region *r);

/* The `memmap` command's body: one line per region, then the summary. */
void mm_print(const struct boot_info *bi);

#endif
