/* Fault containment for plat_guarded_call (efi/platform_x86.c). */
#ifndef MEMMON_EFI_TRAPGUARD_H
#define MEMMON_EFI_TRAPGUARD_H

/* If a guarded call is running, abandon it with `vector` (never returns);
 * otherwise return. */
void trapguard_recover(int vector);

#endif
