/*
 * The trampoline (efi/tramp.asm) and its reserved pages, as the rest of
 * efi/ sees them. platform_x86.c implements plat_reserved, plat_access and
 * plat_park with it.
 */
#ifndef MEMMON_EFI_TRAMP_H
#define MEMMON_EFI_TRAMP_H

#include <stdint.h>

/* Frames for the reserved pages that efi_main allocates and keeps: the
 * code page, the data page and the stack, in this order. */
#define TRAMP_FRAMES 4

/* What the trampoline reports (its O_* offsets). */
struct tramp_out {
	uint64_t value;  /* the word read */
	uint64_t vector; /* ~0: no exception */
	uint64_t code;   /* the error code (0 for vectors without one) */
	uint64_t addr;   /* CR2 */
};

/* Its operations (TRAMP_* in tramp.asm). */
enum tramp_op { TRAMP_READ, TRAMP_WRITE, TRAMP_PARK };

/* Bounds of the code blob in the image, its stubs and the slots tramp_init
 * fills in the copy. */
extern __attribute__((visibility("hidden"))) char tramp_start[], tramp_end[], tramp_stubs[],
    tramp_gdtr[], tramp_idtr[], tramp_stack[];

/*
 * Set up the reserved pages in the TRAMP_FRAMES frames at `pa` (4K-aligned,
 * identity-mapped and writable in the tables loaded now; memmon keeps them):
 * copy the trampoline into the code page, write the GDT copy and the IDT
 * into the data page and fill the copy's slots. After this plat_reserved
 * reports the pieces. Once, before monitor_init.
 */
void tramp_init(uint64_t pa);

#endif
