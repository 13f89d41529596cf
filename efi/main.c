/*
 * efi_main: the only code that talks to UEFI boot services.
 *
 * Order: disable the watchdog; find memmon's image; read startup.mon from
 * its volume; allocate everything
 * memmon will need (memory-map buffer with headroom, region list, stacks,
 * the trampoline's reserved pages);
 * take the final map and ExitBootServices, retrying on a stale key; from
 * then on no boot service is ever called (efi_exited). Then describe
 * memmon's image and stacks for its own page tables (boot.segs), switch to
 * memmon's own stack, install its GDT and IDT, and enter the monitor.
 */
#include <efi.h>

#include "cpu.h"
#include "fmt.h"
#include "idmap.h"
#include "memmap.h"
#include "monitor.h"
#include "platform_x86.h"
#include "script.h"
#include "smp.h"
#include "apic.h"
#include "svm.h"
#include "tramp.h"
#include "uart.h"
#include "x86.h"

#define MAIN_STACK_PAGES 16 /* 64 KiB */
#define IST_STACK_PAGES  4  /* 16 KiB each, two of them */
#define GUARD_PAGES      1  /* below each stack, never mapped */
#define MAP_HEADROOM     32 /* descriptors the map may grow by before exit */
#define EBS_TRIES        8
#define IDMAP_LIMIT      (1ull << 47)  /* identity addresses must be canonical */
#define SCRIPT_MAX       (256u * 1024) /* the largest startup.mon read */

/* Bounds of memmon's sections, page-aligned by efi/memmon.lds. Hidden, so
 * the compiler addresses them relative to RIP: they are run-time addresses
 * wherever the firmware loaded the image. */
extern __attribute__((visibility("hidden"))) char _text[], _etext[], _data[], _edata[];

/* The firmware's MP services (UEFI PI specification, vol. 2, 13.4): only
 * the two calls memmon makes. */
#define MP_SERVICES_GUID                                                                           \
	{                                                                                          \
		0x3fdda605, 0xa76e, 0x4f46,                                                        \
		{                                                                                  \
			0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08                             \
		}                                                                                  \
	}
#define MP_BSP     (1u << 0) /* StatusFlag: the booting CPU */
#define MP_ENABLED (1u << 1)
struct mp_info {
	UINT64 apic_id; /* ProcessorId */
	UINT32 status;
	UINT32 location[3];
	UINT8 newer[64]; /* room for fields later revisions add */
};
struct mp_services {
	EFI_STATUS(EFIAPI *count)(struct mp_services *self, UINTN *all, UINTN *enabled);
	EFI_STATUS(EFIAPI *info)(struct mp_services *self, UINTN n, struct mp_info *out);
};

static EFI_SYSTEM_TABLE *st;
static bool efi_exited; /* set once ExitBootServices has succeeded */
static struct boot_info boot;
static struct smp_boot smp;
static struct con console;

/* Every boot-service call goes through here, so none can follow the exit. */
static EFI_BOOT_SERVICES *bs(void)
{
	if (efi_exited) {
		uart_puts("memmon: boot service called after ExitBootServices; halted\n");
		cpu_halt_forever();
	}
	return st->BootServices;
}

static void fatal(const char *what, EFI_STATUS s)
{
	char buf[96];

	fmt_format(buf, sizeof(buf), "memmon: %s failed (status 0x%lx)\n", what, (uint64_t)s);
	uart_puts(buf);
	cpu_halt_forever();
}

/* The one switch from UEFI memory types to memmon's own. */
static enum fw_kind efi_kind(UINT32 type)
{
	switch (type) {
	case EfiConventionalMemory:
		return FW_CONVENTIONAL;
	case EfiLoaderCode:
		return FW_LOADER_CODE;
	case EfiLoaderData:
		return FW_LOADER_DATA;
	case EfiBootServicesCode:
		return FW_BOOT_CODE;
	case EfiBootServicesData:
		return FW_BOOT_DATA;
	case EfiRuntimeServicesCode:
		return FW_RUNTIME_CODE;
	case EfiRuntimeServicesData:
		return FW_RUNTIME_DATA;
	case EfiACPIReclaimMemory:
		return FW_ACPI_RECLAIM;
	case EfiACPIMemoryNVS:
		return FW_ACPI_NVS;
	case EfiMemoryMappedIO:
		return FW_MMIO;
	case EfiMemoryMappedIOPortSpace:
		return FW_MMIO_PORT;
	case EfiPalCode:
		return FW_PAL_CODE;
	case EfiUnusableMemory:
		return FW_UNUSABLE;
	case 14: /* EfiPersistentMemory (UEFI 2.5) */
		return FW_PERSISTENT;
	case 15: /* EfiUnacceptedMemoryType (UEFI 2.9) */
		return FW_UNACCEPTED;
	default: /* EfiReservedMemoryType and anything newer */
		return FW_RESERVED;
	}
}

static void *alloc_pages(UINTN pages)
{
	EFI_PHYSICAL_ADDRESS pa = 0;
	EFI_STATUS s =
	    uefi_call_wrapper(bs()->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, pages, &pa);
	if (EFI_ERROR(s))
		fatal("AllocatePages", s);
	return (void *)(uintptr_t)pa;
}

static void *stack_top(void *base, UINTN pages)
{
	return (char *)base + pages * 4096;
}

/* A stack of `pages` pages with GUARD_PAGES below it; returns the base of
 * the usable pages. */
static void *alloc_stack(UINTN pages)
{
	return (char *)alloc_pages(GUARD_PAGES + pages) + GUARD_PAGES * 4096;
}

/* Record a span memmon keeps; adjacent spans are joined. When the list is
 * full, boot-services and loader memory are kept whole (safe: only less is
 * reclaimed). */
static void keep(uint64_t base, uint64_t bytes)
{
	uint64_t pages = (bytes + 4095) / 4096;
	struct mm_span *last = boot.nkept ? &boot.kept[boot.nkept - 1] : NULL;

	base &= ~(uint64_t)4095;
	if (last && last->base + last->pages * 4096 == base)
		last->pages += pages;
	else if (boot.nkept < MM_KEPT_MAX)
		boot.kept[boot.nkept++] = (struct mm_span){base, pages};
	else
		boot.keep_boot = true;
}

/* Describe [start, end) to memmon's page tables as `kind`, widened to whole
 * pages. */
static void seg(uint64_t start, uint64_t end, enum mm_seg_kind kind)
{
	start &= ~(uint64_t)4095;
	end = (end + 4095) & ~(uint64_t)4095;
	if (boot.nsegs == MM_SEGS_MAX) {
		uart_puts("memmon: too many image segments; halted\n");
		cpu_halt_forever();
	}
	boot.segs[boot.nsegs++] = (struct mm_seg){start, (end - start) / 4096, kind};
}

/* Keep a stack from alloc_stack, guard pages included (so the allocator
 * never hands them out), and have the guard pages left unmapped. */
static void keep_stack(void *base, UINTN pages)
{
	uint64_t guard = (uint64_t)(uintptr_t)base - GUARD_PAGES * 4096;

	keep(guard, (GUARD_PAGES + pages) * 4096);
	seg(guard, (uint64_t)(uintptr_t)base, MM_SEG_GUARD);
}

/* The startup script as read: its text and the pages that hold it. */
struct script {
	char *text; /* pages from alloc_pages, or NULL */
	UINTN len;
	UINTN pages;
};

/*
 * Read startup.mon from the root of the volume memmon was loaded from (the
 * loaded image's DeviceHandle, through its simple file system), into pages
 * memmon keeps. No file system or no file: no script. A file larger than
 * SCRIPT_MAX or one that cannot be read is announced and left out.
 */
static struct script read_script(EFI_LOADED_IMAGE *li)
{
	struct script sc = {NULL, 0, 0};
	EFI_GUID sfs_guid = SIMPLE_FILE_SYSTEM_PROTOCOL;
	EFI_GUID info_guid = EFI_FILE_INFO_ID;
	EFI_FILE_IO_INTERFACE *fs = NULL;
	EFI_FILE_HANDLE root = NULL, file = NULL;
	union {
		EFI_FILE_INFO info;
		char raw[sizeof(EFI_FILE_INFO) + 64 * sizeof(CHAR16)];
	} info;
	UINTN info_size = sizeof(info);
	EFI_STATUS s;

	s = uefi_call_wrapper(bs()->HandleProtocol, 3, li->DeviceHandle, &sfs_guid, (void **)&fs);
	if (EFI_ERROR(s) || !fs)
		return sc;
	s = uefi_call_wrapper(fs->OpenVolume, 2, fs, &root);
	if (EFI_ERROR(s))
		return sc;
	s = uefi_call_wrapper(root->Open, 5, root, &file, (CHAR16 *)L"\\" SCRIPT_NAME,
	                      EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(s)) {
		uefi_call_wrapper(root->Close, 1, root);
		return sc;
	}
	s = uefi_call_wrapper(file->GetInfo, 4, file, &info_guid, &info_size, &info);
	if (EFI_ERROR(s) || info.info.FileSize > SCRIPT_MAX) {
		uart_puts("memmon: " SCRIPT_NAME
		          " is unreadable or larger than 256 KiB; not run\n");
	} else {
		sc.len = info.info.FileSize;
		sc.pages = sc.len / 4096 + 1;
		sc.text = alloc_pages(sc.pages);
		s = uefi_call_wrapper(file->Read, 3, file, &sc.len, sc.text);
		if (EFI_ERROR(s)) {
			uart_puts("memmon: " SCRIPT_NAME " could not be read; not run\n");
			uefi_call_wrapper(bs()->FreePages, 2,
			                  (EFI_PHYSICAL_ADDRESS)(uintptr_t)sc.text, sc.pages);
			sc = (struct script){NULL, 0, 0};
		}
	}
	uefi_call_wrapper(file->Close, 1, file);
	uefi_call_wrapper(root->Close, 1, root);
	return sc;
}

/*
 * The other CPUs, from the firmware's MP services: their APIC IDs, a stack
 * allocation for each, and the low area that starts them (below 1 MiB).
 * Without MP services or a low area, memmon runs on CPU 0 alone.
 */
static void find_cpus(void)
{
	EFI_GUID guid = MP_SERVICES_GUID;
	struct mp_services *mp = NULL;
	UINTN all = 0, enabled = 0;
	EFI_STATUS s = uefi_call_wrapper(bs()->LocateProtocol, 3, &guid, NULL, (void **)&mp);

	if (EFI_ERROR(s) || !mp) {
		uart_puts("memmon: no MP services: one CPU\n");
		return;
	}
	if (EFI_ERROR(uefi_call_wrapper(mp->count, 3, mp, &all, &enabled)))
		return;
	for (UINTN i = 0; i < all; i++) {
		struct mp_info info;
		if (EFI_ERROR(uefi_call_wrapper(mp->info, 3, mp, i, &info)) ||
		    !(info.status & MP_ENABLED))
			continue;
		smp.reported++;
		if ((info.status & MP_BSP) || smp.n + 1 >= SMP_CPU_MAX)
			continue;
		smp.apic[smp.n++] = (uint32_t)info.apic_id;
	}
	if (!smp.n)
		return;
	EFI_PHYSICAL_ADDRESS low = SMP_LOW_LIMIT;
	s = uefi_call_wrapper(bs()->AllocatePages, 4, AllocateMaxAddress, EfiLoaderData,
	                      SMP_LOW_PAGES, &low);
	if (EFI_ERROR(s)) {
		uart_puts("memmon: no pages below 1 MiB to start the other CPUs from\n");
		smp.n = 0;
		return;
	}
	smp.low = low;
	for (unsigned i = 0; i < smp.n; i++)
		smp.stacks[i] = (uint64_t)(uintptr_t)alloc_pages(SMP_AP_PAGES);
}

struct takeover {
	void *main_stack, *ist1, *ist2;
};
static struct takeover take;

/* Runs on memmon's own stack, after the exit. Never returns. */
static void monitor_entry(void *arg)
{
	struct takeover *t = arg;

	cpu_init(0, stack_top(t->ist1, IST_STACK_PAGES), stack_top(t->ist2, IST_STACK_PAGES));
	monitor_init(&console, &boot); /* starts the other CPUs: plat_start_cpus */
	monitor_run(&console);
	cpu_halt_forever();
}

/* gnu-efi's crt0 calls this with the SysV ABI (not EFIAPI). */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	EFI_STATUS s;

	st = systab;
	uefi_call_wrapper(bs()->SetWatchdogTimer, 4, 0, 0, 0, NULL);
	uart_init();
	uart_puts("\nmemmon: starting\n");

	EFI_GUID lip_guid = LOADED_IMAGE_PROTOCOL;
	EFI_LOADED_IMAGE *li = NULL;
	s = uefi_call_wrapper(bs()->HandleProtocol, 3, image, &lip_guid, (void **)&li);
	if (EFI_ERROR(s))
		fatal("HandleProtocol(LoadedImage)", s);
	boot.image_base = (uint64_t)(uintptr_t)li->ImageBase;
	boot.image_size = li->ImageSize;
	boot.fw_revision = st->FirmwareRevision;
	for (size_t i = 0;
	     st->FirmwareVendor && st->FirmwareVendor[i] && i + 1 < sizeof(boot.fw_vendor); i++) {
		CHAR16 ch = st->FirmwareVendor[i];
		boot.fw_vendor[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}

	const struct script sc = read_script(li);

	/* Probe the map's size, then allocate with headroom for what follows. */
	UINTN map_size = 0, key = 0, desc_size = 0;
	UINT32 desc_version = 0;
	s = uefi_call_wrapper(bs()->GetMemoryMap, 5, &map_size, NULL, &key, &desc_size,
	                      &desc_version);
	if (s != EFI_BUFFER_TOO_SMALL || desc_size < sizeof(EFI_MEMORY_DESCRIPTOR))
		fatal("GetMemoryMap (size probe)", s);
	UINTN map_cap = map_size + MAP_HEADROOM * desc_size;
	size_t region_cap = map_cap / desc_size;
	char *map = alloc_pages((map_cap + 4095) / 4096);

	/* The highest address in the map bounds memmon's identity map. */
	map_size = map_cap;
	s = uefi_call_wrapper(bs()->GetMemoryMap, 5, &map_size, (EFI_MEMORY_DESCRIPTOR *)map, &key,
	                      &desc_size, &desc_version);
	if (EFI_ERROR(s))
		fatal("GetMemoryMap", s);
	uint64_t top = 0;
	for (UINTN off = 0; off + desc_size <= map_size; off += desc_size) {
		const EFI_MEMORY_DESCRIPTOR *d = (const EFI_MEMORY_DESCRIPTOR *)(map + off);
		uint64_t end = d->PhysicalStart + d->NumberOfPages * 4096;
		if (end > top)
			top = end;
	}
	if (top > IDMAP_LIMIT)
		top = IDMAP_LIMIT;
	UINTN idmap_n = idmap_pages(top);
	void *idmap = alloc_pages(idmap_n);
	boot.regions = alloc_pages((region_cap * sizeof(struct mm_region) + 4095) / 4096);
	take.main_stack = alloc_stack(MAIN_STACK_PAGES);
	take.ist1 = alloc_stack(IST_STACK_PAGES);
	take.ist2 = alloc_stack(IST_STACK_PAGES);
	void *rsv = alloc_pages(TRAMP_FRAMES);
	find_cpus();

	/* The final map, and the exit; a stale key means the map changed. */
	for (boot.ebs_tries = 1;; boot.ebs_tries++) {
		map_size = map_cap;
		s = uefi_call_wrapper(bs()->GetMemoryMap, 5, &map_size,
		                      (EFI_MEMORY_DESCRIPTOR *)map, &key, &desc_size,
		                      &desc_version);
		if (EFI_ERROR(s))
			fatal("GetMemoryMap", s);
		s = uefi_call_wrapper(bs()->ExitBootServices, 2, image, key);
		if (!EFI_ERROR(s))
			break;
		if (s != EFI_INVALID_PARAMETER || boot.ebs_tries == EBS_TRIES)
			fatal("ExitBootServices", s);
	}
	efi_exited = true;
	cpu_cli();

	/* The image for memmon's own page tables: all of it read-only, then
	 * code executable and data writable (the core applies segments in
	 * order). The linker script puts each on pages of its own. */
	seg(boot.image_base, boot.image_base + boot.image_size, MM_SEG_RODATA);
	seg((uint64_t)(uintptr_t)_text, (uint64_t)(uintptr_t)_etext, MM_SEG_TEXT);
	seg((uint64_t)(uintptr_t)_data, (uint64_t)(uintptr_t)_edata, MM_SEG_DATA);
	boot.gib_pages = has_1g_pages();
	/* The local APIC's registers, for the guests' time slices (svm.c). */
	seg(apic_base(), apic_base() + 4096, MM_SEG_MMIO);

	/* What memmon keeps of loader memory; the map buffer is not among it:
	 * it is read below, before the allocator exists. keep_stack adds each
	 * stack's guard page to boot.segs. */
	keep(boot.image_base, boot.image_size);
	keep((uint64_t)(uintptr_t)boot.regions, region_cap * sizeof(struct mm_region));
	keep_stack(take.main_stack, MAIN_STACK_PAGES);
	keep_stack(take.ist1, IST_STACK_PAGES);
	keep_stack(take.ist2, IST_STACK_PAGES);
	keep((uint64_t)(uintptr_t)idmap, idmap_n * 4096);
	keep((uint64_t)(uintptr_t)rsv, TRAMP_FRAMES * 4096);
	if (smp.low) {
		keep(smp.low, SMP_LOW_PAGES * 4096);
		seg(smp.low, smp.low + 4096, MM_SEG_TEXT); /* the start code */
	}
	static const unsigned guards[] = {SMP_GUARD0, SMP_GUARD1, SMP_GUARD2};
	for (unsigned i = 0; i < smp.n; i++) {
		keep(smp.stacks[i], SMP_AP_PAGES * 4096);
		for (unsigned gp = 0; gp < ARRAY_SIZE(guards); gp++) {
			const uint64_t at = smp.stacks[i] + 4096ull * guards[gp];
			seg(at, at + 4096, MM_SEG_GUARD);
		}
	}
	if (sc.text) {
		keep((uint64_t)(uintptr_t)sc.text, sc.pages * 4096);
		efi_script_set(sc.text, sc.len);
	}

	/* Leave the firmware's page tables: they are boot-services memory. */
	idmap_load(idmap, top);
	tramp_init((uint64_t)(uintptr_t)rsv); /* the pieces plat_reserved reports */
	smp_prepare(&smp);

	/* Walk by desc_size: descriptors may be larger than the struct. */
	for (UINTN off = 0; off + desc_size <= map_size && boot.nregions < region_cap;
	     off += desc_size) {
		const EFI_MEMORY_DESCRIPTOR *d = (const EFI_MEMORY_DESCRIPTOR *)(map + off);
		boot.regions[boot.nregions++] = (struct mm_region){
		    .base = d->PhysicalStart,
		    .pages = d->NumberOfPages,
		    .attr = d->Attribute,
		    .fw_type = d->Type,
		    .kind = efi_kind(d->Type),
		};
	}

	x86_switch_stack(stack_top(take.main_stack, MAIN_STACK_PAGES), monitor_entry, &take);
}
