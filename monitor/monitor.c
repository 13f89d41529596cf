#include "monitor.h"

#include "frame.h"
#include "platform.h"

const struct boot_info *mon_boot;

void mon_panic(const char *file, int line, const char *what)
{
	con_printf("\npanic: %s:%d: CHECK(%s) failed\n", file, line, what);
	plat_halt();
}

/* The takeover list: descriptors of one owner that touch are joined, so a
 * few dozen pieces are usual. */
#define TAKEOVER_MAX 1024
static struct frame_range takeover[TAKEOVER_MAX];

void monitor_init(struct con *c, struct boot_info *bi)
{
	size_t n;

	mm_sort(bi);
	mon_boot = bi;
	con_init(c);
	err_t e = mm_takeover(bi, takeover, TAKEOVER_MAX, &n);
	if (!e)
		e = frame_init(takeover, n);
	if (e) {
		con_printf("memmon: cannot take over memory: %s\n", e);
		plat_halt();
	}
	const struct mm_totals t = bi->totals;
	struct frame_stats fs;
	frame_stats(&fs);
	con_printf("\nmemmon %s (%s): took over 0x%lx MiB of RAM in 0x%zx regions "
	           "(ExitBootServices after 0x%x tries)\n",
	           MEMMON_VERSION, MEMMON_BUILD, t.ram_pages >> 8, bi->nregions, bi->ebs_tries);
	con_printf("memmon: 0x%lx MiB free in the frame allocator, 0x%lx MiB used; image at 0x%lx, "
	           "0x%lx bytes\n",
	           fs.free >> 8, fs.used >> 8, bi->image_base, bi->image_size);
	con_puts("memmon: type 'help' for commands\n");
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
