/* A polled 16550 UART on COM1 (I/O port 0x3f8), 115200 8N1. */
#ifndef MEMMON_EFI_UART_H
#define MEMMON_EFI_UART_H

#include <stdint.h>

void uart_init(void);
void uart_putc(uint8_t c);
/* As plat_getc: a byte, PLAT_RX_NONE at once, or PLAT_RX_ERROR. */
int uart_getc(void);
/* Send a string, '\n' as "\r\n" (for the platform's own messages). */
void uart_puts(const char *s);

#endif
