/*
 * The boot benchmark's yardstick: the least a UEFI application can do that
 * ends at a prompt. It prints a prompt on COM1 and makes QEMU exit through
 * isa-debug-exit. scripts/bootbench.py times QEMU start to this prompt
 * against QEMU start to memmon's.
 */
#include <efi.h>

#include "uart.h"
#include "x86.h"

/* gnu-efi's crt0 calls this with the SysV ABI (not EFIAPI). */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	(void)image;
	(void)systab;
	uart_init();
	uart_puts("\nhello: minimal UEFI application\nmon> ");
	outb(0xf4, 0x10);
	return EFI_SUCCESS;
}
