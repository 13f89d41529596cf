/*
 * What efi_main hands the machine seam (efi/platform_x86.c) before it
 * enters the core.
 */
#ifndef MEMMON_PLATFORM_X86_H
#define MEMMON_PLATFORM_X86_H

#include "types.h"

/* The startup script plat_script reports: text[0..len) in memory memmon
 * keeps, or NULL for none. */
void efi_script_set(const char *text, size_t len);

#endif
