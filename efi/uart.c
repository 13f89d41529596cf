#include "uart.h"

#include "platform.h"

#include "x86.h"

#define COM1 0x3f8
/* 16550 registers, as offsets from the base port. */
#define UART_DATA  0 /* receive buffer / transmit holding (DLAB=0) */
#define UART_IER   1 /* interrupt enable (DLAB=0), divisor high (DLAB=1) */
#define UART_FCR   2 /* FIFO control */
#define UART_LCR   3 /* line control: bit 7 DLAB, bits 1:0 word length */
#define UART_MCR   4 /* modem control: DTR, RTS */
#define UART_LSR   5 /* line status: bit 0 data ready, bit 5 THR empty */
#define LSR_DR     0x01
#define LSR_THRE   0x20
#define LSR_ERRORS 0x1e /* overrun, parity, framing, break */

void uart_init(void)
{
	outb(COM1 + UART_IER, 0x00); /* polled: no interrupts */
	outb(COM1 + UART_LCR, 0x80); /* DLAB on to set the divisor */
	outb(COM1 + UART_DATA, 1);   /* 115200 = 115200 / 1 */
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, 0x03); /* 8 data bits, no parity, 1 stop bit */
	outb(COM1 + UART_FCR, 0xc7); /* FIFOs on and cleared, 14-byte threshold */
	outb(COM1 + UART_MCR, 0x03); /* DTR and RTS */
}

void uart_putc(uint8_t c)
{
	/* Bounded wait: a missing or wedged UART must not hang the monitor. */
	for (unsigned spin = 0; !(inb(COM1 + UART_LSR) & LSR_THRE) && spin < (1u << 20); spin++)
		cpu_pause();
	outb(COM1 + UART_DATA, c);
}

int uart_getc(void)
{
	uint8_t lsr = inb(COM1 + UART_LSR); /* reading clears the error bits */

	if (lsr & LSR_ERRORS) {
		if (lsr & LSR_DR)
			(void)inb(COM1 + UART_DATA); /* the garbled byte */
		return PLAT_RX_ERROR;
	}
	if (!(lsr & LSR_DR))
		return PLAT_RX_NONE;
	return inb(COM1 + UART_DATA);
}

void uart_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			uart_putc('\r');
		uart_putc((uint8_t)*s);
	}
}
