/*
 * The firmware memory map, as memmon took it over.
 *
 * efi/ translates each UEFI descriptor into a struct mm_region through one
 * type switch; from then on the core knows only enum fw_kind and never a
 * UEFI type number. mm_disposition() says what memmon does with each kind.
 */
#ifndef MEMMON_MEMMAP_H
#define MEMMON_MEMMAP_H

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

/* What memmon did with a region at takeover. */
enum mm_use {
	MM_RECLAIMED, /* given to the frame allocator: conventional memory, and after
	               * the exit boot-services and loader memory */
	MM_KEPT,      /* memmon's own: its image, stacks, boot data, live page tables */
	MM_RESERVED,  /* never touched: ACPI, NVS, runtime services, MMIO, reserved */
	MM_USES
};

struct mm_region {
	uint64_t base;  /* physical, page-aligned */
	uint64_t pages; /* 4 KiB pages */
	uint64_t attr;  /* firmware attribute bits (EFI_MEMORY_*) */
	uint32_t fw_type;
	uint32_t kind; /* enum fw_kind */
	uint64_t kept; /* pages of a free or reclaimed region memmon kept (mm_takeover) */
};

/* A span of physical memory memmon keeps for itself, page-aligned. */
struct mm_span {
	uint64_t base;
	uint64_t pages;
};
#define MM_KEPT_MAX 256

/* Pages by what memmon did with them, as the takeover laid them out (where
 * descriptors overlap, each page counts once, under the claim that won). */
struct mm_totals {
	uint64_t pages[MM_USES]; /* by enum mm_use */
	uint64_t ram_pages;      /* every page that is RAM (not MMIO or reserved) */
};

/* How memmon's own page tables map a span of its image or stacks. RAM is
 * otherwise mapped read-write and no-execute; segments are applied in
 * order, so a later one overrides an earlier one. */
enum mm_seg_kind {
	MM_SEG_RODATA, /* read-only, no-execute */
	MM_SEG_TEXT,   /* read-only, executable */
	MM_SEG_DATA,   /* read-write, no-execute */
	MM_SEG_GUARD,  /* not mapped: a guard page below a stack */
	MM_SEG_MMIO,   /* device registers the platform drives (the local APIC):
	                * read-write, no-execute, uncached; outside RAM */
};
struct mm_seg {
	uint64_t base; /* page-aligned */
	uint64_t pages;
	enum mm_seg_kind kind;
};
#define MM_SEGS_MAX 64

/* What efi/ hands to the core after ExitBootServices. */
struct boot_info {
	struct mm_region *regions;
	size_t nregions;
	uint64_t image_base; /* physical address of memmon's loaded image */
	uint64_t image_size;
	/* What memmon still uses of loader and boot-services memory: its image,
	 * what it allocated, the page tables it runs on. Unsorted, may touch. */
	struct mm_span kept[MM_KEPT_MAX];
	size_t nkept;
	struct mm_seg segs[MM_SEGS_MAX]; /* memmon's image and stacks, for its own tables */
	size_t nsegs;
	bool gib_pages;          /* the CPU has 1 GiB pages (pdpe1gb) */
	struct mm_totals totals; /* set by mm_takeover */
	bool keep_boot;     /* keep all boot-services and loader memory (the spans did not fit) */
	unsigned ebs_tries; /* ExitBootServices calls it took */
	char fw_vendor[48]; /* firmware vendor, ASCII */
	uint32_t fw_revision;
};

/* Sort the regions by base address (UEFI does not promise any order). */
void mm_sort(struct boot_info *bi);

const char *mm_kind_name(enum fw_kind k);
const char *mm_use_name(enum mm_use u);
/* What memmon does with a region of kind k, before any pages are kept. */
enum mm_use mm_disposition(enum fw_kind k, bool keep_boot);

/*
 * Turn the map into the frame allocator's takeover list: free and reclaimed
 * regions less the kept spans (and frame 0, whose address is the null
 * pointer), memmon's own spans, and the firmware's RAM; sorted, disjoint,
 * adjacent pieces of one owner joined. Where descriptors overlap, the most
 * restrictive wins (not RAM, then firmware, then kept, then free). Sets each
 * region's `kept`.
 * Returns an error when more than `cap` pieces would be needed.
 */
struct frame_range;
err_t mm_takeover(struct boot_info *bi, struct frame_range *out, size_t cap, size_t *n);

/* Whether a region of kind k is RAM (as opposed to MMIO, reserved or
 * unusable ranges). */
bool mm_is_ram(enum fw_kind k);

/* The region's attribute bit (mm_region.attr keeps the firmware's bits)
 * saying the firmware's runtime services need the range mapped. */
#define MM_ATTR_RUNTIME ((uint64_t)1 << 63)

/* x86-64 physical addresses have at most 52 bits. */
#define MM_PHYS_BITS 52

/* The region holding physical address pa, or NULL. */
const struct mm_region *mm_find(const struct boot_info *bi, uint64_t pa);
/* What memmon did with region r as a whole: MM_KEPT when it kept every
 * page, else its kind's disposition (r->kept says how many pages of it
 * memmon kept). */
enum mm_use mm_region_use(const struct boot_info *bi, const struct mm_region *r);

#endif
