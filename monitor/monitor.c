#include "monitor.h"

#include "frame.h"
#include "platform.h"
#include "pt.h"
#include "script.h"
#include "space.h"

const struct boot_info *mon_boot;
struct pt mon_pt;

/* The takeover list: descriptors of one owner that touch are joined, so a
 * few dozen pieces are usual. */
#define TAKEOVER_MAX 1024
static struct frame_range takeover[TAKEOVER_MAX];

/* Identity addresses must be canonical: memmon maps nothing above this. */
#define OWN_MAP_TOP ((uint64_t)1 << 47)

/* Identity-map [base, base + pages) with attributes a, clipped below
 * OWN_MAP_TOP. */
static err_t map_identity(uint64_t base, uint64_t pages, pt_attr_t a)
{
	uint64_t end = base + pages * PAGE_SIZE;

	if (end > OWN_MAP_TOP)
		end = OWN_MAP_TOP;
	if (base >= end)
		return NULL;
	return pt_map(&mon_pt, va_init(base), pa_init(base), end - base, a, 0);
}

/*
 * Build memmon's own address space: every range of RAM the firmware
 * reported (memmon's, the allocator's and the firmware's), and the MMIO the
 * firmware's runtime services need (uncached), identity-mapped read-write
 * and no-execute (the runtime's code read-only and executable) with the
 * largest pages that fit; then the image's and
 * stacks' segments from efi/ (text read-only and executable, read-only
 * data, guard pages unmapped, the platform's device registers uncached),
 * and page 0 unmapped, so that a null pointer
 * faults; and the platform's reserved pieces at their upper-half addresses,
 * supervisor-only with the piece's rights, as every client space maps them,
 * so the trampoline runs on either side of a CR3 switch. Table pages come
 * from the frame allocator (owner ptables).
 */
static err_t build_own_map(const struct boot_info *bi)
{
	err_t e = pt_init(&mon_pt, &pt_mem_frames, bi->gib_pages);
	struct plat_rsv rsv[PLAT_RSV_MAX];
	const size_t nrsv = plat_reserved(rsv, PLAT_RSV_MAX);

	for (size_t i = 0; !e && i < bi->nregions; i++) {
		const struct mm_region *r = &bi->regions[i];
		pt_attr_t a = PT_R | PT_W;
		if (!mm_is_ram(r->kind)) {
			if (!(r->attr & MM_ATTR_RUNTIME))
				continue;
			a |= PT_UC;
		}
		if (r->kind == FW_RUNTIME_CODE)
			a = (a & ~PT_W) | PT_X;
		e = map_identity(r->base, r->pages, a);
	}
	for (size_t i = 0; !e && i < bi->nsegs; i++) {
		const struct mm_seg *g = &bi->segs[i];
		const vaddr_t va = va_init(g->base);
		const uint64_t len = g->pages * PAGE_SIZE;
		switch (g->kind) {
		case MM_SEG_RODATA:
			e = pt_protect(&mon_pt, va, len, PT_W | PT_X, 0);
			break;
		case MM_SEG_TEXT:
			e = pt_protect(&mon_pt, va, len, PT_W, PT_X);
			break;
		case MM_SEG_DATA:
			e = pt_protect(&mon_pt, va, len, PT_X, PT_W);
			break;
		case MM_SEG_GUARD:
			e = pt_unmap(&mon_pt, va, len);
			break;
		case MM_SEG_MMIO:
			e = pt_map(&mon_pt, va, pa_init(g->base), len, PT_R | PT_W | PT_UC, 0);
			break;
		}
	}
	if (!e)
		e = pt_unmap(&mon_pt, va_init(0), PAGE_SIZE);
	for (size_t i = 0; !e && i < nrsv; i++) {
		const pt_attr_t a = PT_R | (rsv[i].write ? PT_W : 0) | (rsv[i].exec ? PT_X : 0);
		e = pt_map(&mon_pt, va_init(rsv[i].va), rsv[i].pa, rsv[i].pages * PAGE_SIZE, a, 0);
	}
	return e;
}

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
	e = build_own_map(bi);
	if (e) {
		con_printf("memmon: cannot build its own page tables: %s\n", e);
		plat_halt();
	}
	if (!plat_protect_on()) {
		con_puts("memmon: this CPU has no no-execute pages (CPUID 80000001h EDX bit 20)\n");
		plat_halt();
	}
	pt_load(&mon_pt);
	e = space_boot(0, bi->gib_pages);
	if (e) {
		con_printf("memmon: cannot give memory to sigma0: %s\n", e);
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
	con_printf("memmon: running on its own page tables: 0x%lx table pages\n",
	           pt_tables(&mon_pt));
	struct space_stats ss;
	space_stats(&ss);
	con_printf("memmon: sigma0 maps 0x%lx frames; the pool keeps 0x%lx (1/%u of RAM)\n",
	           ss.sigma0, ss.pool, SPACE_POOL_SHARE);
	plat_start_cpus();
	con_puts("memmon: type 'help' for commands\n");
	size_t script_len;
	const char *script = plat_script(&script_len);
	if (script)
		script_run(c, script, script_len);
	else
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
