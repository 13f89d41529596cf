#include "monitor.h"

#include "platform.h"

const struct boot_info *mon_boot;

void mon_panic(const char *file, int line, const char *what)
{
	con_printf("\npanic: %s:%d: CHECK(%s) failed\n", file, line, what);
	plat_halt();
}

void monitor_init(struct con *c, struct boot_info *bi)
{
	struct mm_totals t;

	mm_sort(bi);
	mon_boot = bi;
	mm_totals(bi, &t);
	con_init(c);
	con_printf("\nmemmon %s (%s): took over %lu MiB of RAM in %zu regions "
	           "(ExitBootServices after %u tries)\n",
	           MEMMON_VERSION, MEMMON_BUILD, t.ram_pages >> 8, bi->nregions, bi->ebs_tries);
	con_printf("memmon: image at 0x%lx, 0x%lx bytes; type 'help' for commands\n",
	           bi->image_base, bi->image_size);
	con_prompt(c);
}

void monitor_run(struct con *c)
{
	while (!c->halted) {
		int b = plat_getc();

		if (b == PLAT_RX_NONE)
			plat_idle();
		else if (b == PLAT_RX_ERROR)
			con_rx_error(c);
		else
			con_input(c, (uint8_t)b);
	}
}
