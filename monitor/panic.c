/*
 * mon_panic, what a failed CHECK calls (types.h). It sits at the bottom
 * with the machine seam, beside fmt.c, so that every layer may fail a
 * CHECK without calling up into the console: it formats the message
 * itself and writes it byte by byte (turning '\n' into "\r\n" as the
 * console does), then halts.
 */
#include "fmt.h"
#include "platform.h"

void mon_panic(const char *file, int line, const char *what)
{
	char buf[256];

	fmt_format(buf, sizeof(buf), "\npanic: %s:%d: CHECK(%s) failed\n", file, line, what);
	for (const char *p = buf; *p; p++) {
		if (*p == '\n')
			plat_putc('\r');
		plat_putc((uint8_t)*p);
	}
	plat_halt();
}
