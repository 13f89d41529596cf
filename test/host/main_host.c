/*
 * memmon-host: the portable core on Linux, its console on stdin/stdout over
 * simulated RAM. For trying commands without QEMU: build/host/memmon-host.
 */
#include <stdio.h>

#include "host.h"
#include "monitor.h"
#include "platform.h"

int main(void)
{
	static struct con c;
	int ch;

	host_output_to_stdout(1);
	monitor_init(&c, host_boot_info(64));
	while (!c.halted && (ch = getchar()) != EOF) {
		con_input(&c, (uint8_t)ch);
		fflush(stdout);
	}
	putchar('\n');
	return 0;
}
