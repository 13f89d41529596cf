/*
 * The console's command table. The dispatcher checks the number of
 * arguments against the table before a command runs; each command checks
 * the arguments themselves before it changes anything, and reports failure
 * only through its err_t. argv[0] is the command's name.
 */
#include "cmds.h"

#include "guest.h"
#include "console.h"
#include "memmap.h"
#include "monitor.h"
#include "fmt.h"
#include "frame.h"
#include "platform.h"

static err_t cmd_help(struct con *c, int argc, char **argv)
{
	if (argc == 2) {
		const struct con_cmd *cmd = con_find(argv[1]);
		if (!cmd)
			return con_fail(c, "help: no command '%.40s'", argv[1]);
		con_printf("usage: %s %s\n", cmd->name, cmd->args);
		con_puts(cmd->usage);
		con_puts("\n");
		return NULL;
	}
	for (size_t i = 0; i < con_ncmds; i++) {
		char syn[80]; /* the longest, guest's, is 69 */
		fmt_format(syn, sizeof(syn), "%s %s", con_cmds[i].name, con_cmds[i].args);
		con_printf("  %-26s %s\n", syn, con_cmds[i].summary);
	}
	return NULL;
}

static err_t cmd_version(struct con *c, int argc, char **argv)
{
	(void)c, (void)argc, (void)argv;
	con_printf("memmon %s build %s\n", MEMMON_VERSION, MEMMON_BUILD);
	con_printf("firmware %s rev 0x%x\n", mon_boot->fw_vendor, mon_boot->fw_revision);
	return NULL;
}

/* A physical address argument: a number below 2^52. */
static err_t parse_pa(struct con *c, const char *cmd, const char *s, uint64_t *pa)
{
	err_t e = con_parse_number(s, pa);
	if (e)
		return con_fail(c, "%s: %s: '%.40s'", cmd, e, s);
	if (*pa >> MM_PHYS_BITS)
		return con_fail(c, "%s: 0x%lx is beyond the 52-bit physical address space", cmd,
		                *pa);
	return NULL;
}

/* One firmware descriptor: range, type, pages, attributes, and what memmon
 * did with it. */
static void print_region(const struct mm_region *r)
{
	char kept[32] = "";

	if (r->kept && r->kept != r->pages)
		fmt_format(kept, sizeof(kept), " (0x%lx kept)", r->kept);
	con_printf("0x%lx-0x%lx %-12s 0x%lx pages attr 0x%lx %s%s\n", r->base,
	           r->base + r->pages * PAGE_SIZE, mm_kind_name(r->kind), r->pages, r->attr,
	           mm_use_name(mm_region_use(mon_boot, r)), kept);
}

/* Every descriptor, then the summary in pages. */
static void print_memmap(void)
{
	const struct mm_totals t = mon_boot->totals;
	const uint64_t managed = t.pages[MM_RECLAIMED] + t.pages[MM_KEPT];

	for (size_t i = 0; i < mon_boot->nregions; i++)
		print_region(&mon_boot->regions[i]);
	con_printf(
	    "memmap: descriptors 0x%zx ram 0x%lx reclaimed 0x%lx kept 0x%lx reserved 0x%lx\n",
	    mon_boot->nregions, t.ram_pages, t.pages[MM_RECLAIMED], t.pages[MM_KEPT],
	    t.pages[MM_RESERVED]);
	con_printf("memmap: memmon manages 0x%lx MiB of 0x%lx MiB ram\n", managed >> 8,
	           t.ram_pages >> 8);
}

static err_t cmd_memmap(struct con *c, int argc, char **argv)
{
	uint64_t pa;

	if (argc == 1) {
		print_memmap();
		return NULL;
	}
	err_t e = parse_pa(c, "memmap", argv[1], &pa);
	if (e)
		return e;
	const struct mm_region *r = mm_find(mon_boot, pa);
	if (r)
		print_region(r);
	else
		con_printf("0x%lx: in no firmware descriptor\n", pa);
	return NULL;
}

/* An optional frame count, argv[i] if present, else 1. */
static err_t parse_count(struct con *c, const char *cmd, int argc, char **argv, int i,
                         uint64_t *count)
{
	*count = 1;
	if (argc <= i)
		return NULL;
	err_t e = con_parse_number(argv[i], count);
	if (e)
		return con_fail(c, "%s: count: %s: '%.40s'", cmd, e, argv[i]);
	if (*count == 0 || *count > ((uint64_t)1 << FRAME_MAX_ORDER))
		return con_fail(c, "%s: count must be 1 to 0x%lx frames", cmd,
		                (uint64_t)1 << FRAME_MAX_ORDER);
	return NULL;
}

static void mem_frame(uint64_t pa)
{
	struct frame_info fi;
	err_t e = frame_query(pa_init(pa & ~(PAGE_SIZE - 1)), &fi);

	CHECK(!e);
	if (!fi.managed && fi.owner != FRAME_FIRMWARE) {
		con_printf("0x%lx: not managed (not RAM memmon took over)\n", pa);
		return;
	}
	con_printf("0x%lx: %s block 0x%lx order 0x%x", pa, frame_owner_name(fi.owner),
	           pa_addr(fi.block), fi.order);
	if (fi.run_frames)
		con_printf(" run 0x%lx frames 0x%lx", pa_addr(fi.run), fi.run_frames);
	con_puts("\n");
}

static err_t cmd_mem(struct con *c, int argc, char **argv)
{
	struct frame_stats s;

	if (argc == 2) {
		uint64_t pa;
		err_t e = parse_pa(c, "mem", argv[1], &pa);
		if (e)
			return e;
		mem_frame(pa);
		return NULL;
	}
	frame_stats(&s);
	con_printf("frames total 0x%lx free 0x%lx used 0x%lx\n", s.total, s.free, s.used);
	con_puts("used by");
	for (unsigned o = FRAME_FREE + 1; o < FRAME_OWNERS; o++)
		if (o != FRAME_FIRMWARE)
			con_printf(" %s 0x%lx", frame_owner_name(o), s.owned[o]);
	con_printf("\nfirmware keeps 0x%lx frames outside the total\n", s.firmware);
	if (s.largest_frames)
		con_printf("largest free block 0x%lx frames at 0x%lx (the most alloc can take)\n",
		           s.largest_frames, pa_addr(s.largest));
	else
		con_puts("largest free block 0x0 frames\n");
	con_printf("frame table 0x%lx pages at 0x%lx, 0x%lx written\n", frame_table_pages(),
	           pa_addr(frame_table_base()), s.table_pages_touched);
	cmds_mem_spaces();
	return NULL;
}

static err_t cmd_alloc(struct con *c, int argc, char **argv)
{
	uint64_t count;
	paddr_t pa;
	err_t e = parse_count(c, "alloc", argc, argv, 1, &count);

	if (e)
		return e;
	e = frame_alloc(count, FRAME_CONSOLE, &pa);
	if (e)
		return con_fail(c, "alloc: 0x%lx frames: %s", count, e);
	con_printf("alloc 0x%lx count 0x%lx\n", pa_addr(pa), count);
	return NULL;
}

static err_t cmd_free(struct con *c, int argc, char **argv)
{
	uint64_t pa, count;
	err_t e = parse_pa(c, "free", argv[1], &pa);

	if (!e)
		e = parse_count(c, "free", argc, argv, 2, &count);
	if (e)
		return e;
	e = frame_free(pa_init(pa), count, FRAME_CONSOLE);
	if (e == frame_err_foreign || e == frame_err_size) {
		struct frame_info fi;
		frame_query(pa_init(pa), &fi);
		if (e == frame_err_foreign)
			return con_fail(c, "free: 0x%lx: not from alloc: it belongs to %s", pa,
			                frame_owner_name(fi.owner));
		return con_fail(c, "free: 0x%lx: the run is 0x%lx frames, not 0x%lx", pa,
		                fi.run_frames, count);
	}
	if (e)
		return con_fail(c, "free: 0x%lx: %s", pa, e);
	con_printf("free 0x%lx count 0x%lx\n", pa, count);
	return NULL;
}

/* reset's part: free every run that alloc took, so that the allocator reads
 * as at boot. One frame_query per block of the regions memmon took over. */
uint64_t cmds_free_allocs(void)
{
	struct frame_stats s;
	uint64_t freed = 0;

	frame_stats(&s);
	for (size_t i = 0; i < mon_boot->nregions; i++) {
		const struct mm_region *r = &mon_boot->regions[i];
		if (mm_region_use(mon_boot, r) == MM_RESERVED)
			continue;
		const uint64_t end = r->base / PAGE_SIZE + r->pages;
		for (uint64_t f = r->base / PAGE_SIZE; f < end;) {
			const paddr_t pa = pa_init(f * PAGE_SIZE);
			struct frame_info fi;
			if (freed == s.owned[FRAME_CONSOLE])
				return freed; /* the last one is freed */
			if (frame_query(pa, &fi) || !fi.managed) {
				f++;
				continue;
			}
			if (fi.owner == FRAME_CONSOLE && fi.run_frames &&
			    pa_addr(fi.run) == pa_addr(pa)) {
				CHECK(!frame_free(pa, fi.run_frames, FRAME_CONSOLE));
				freed += fi.run_frames;
				f += fi.run_frames;
				continue;
			}
			f = pa_addr(fi.block) / PAGE_SIZE + ((uint64_t)1 << fi.order);
		}
	}
	return freed;
}

/* ---- page tables ---------------------------------------------------------- */

static err_t cmd_image(struct con *c, int argc, char **argv)
{
	uint64_t bytes;
	const uint64_t sum = plat_image_sum(&bytes);

	(void)c, (void)argc, (void)argv;
	con_printf("image: 0x%lx bytes of code and read-only data, checksum 0x%lx\n", bytes, sum);
	return NULL;
}

const char *const cmds_size_name[3] = {"4K", "2M", "1G"};
static const char *const level_name[PT_LEVELS] = {"pt", "pd", "pdpt", "pml4"};

/* The rights of attributes `a` as SPEC prints them: "rw-", "r-x", "r--". */
static const char *rights_str(pt_attr_t a, char buf[4])
{
	return rights_format(rights_of_attr(a), buf);
}

/* pt's lines join what SPEC calls one run: the same size and rights,
 * consecutive pages, consecutive frames. (pt_runs also splits where the
 * cache type or the user bit changes, which pt does not print.) */
static void print_pending(struct cmds_runs *d)
{
	char rights[4];

	if (!d->open)
		return;
	con_printf("0x%lx-0x%lx -> 0x%lx %s %s\n", va_addr(d->cur.start),
	           va_addr(d->cur.start) + d->cur.len, pa_addr(d->cur.pa),
	           rights_str(d->cur.attr, rights), cmds_size_name[d->cur.level]);
	d->runs++;
	d->pages += d->cur.len / PAGE_SIZE;
	d->open = false;
}

bool cmds_run(void *ctx, const struct pt_run *r)
{
	struct cmds_runs *d = ctx;
	struct pt_run *c = &d->cur;

	if (d->open && c->level == r->level && !((c->attr ^ r->attr) & PT_RIGHTS) &&
	    va_addr(c->start) + c->len == va_addr(r->start) &&
	    pa_addr(c->pa) + c->len == pa_addr(r->pa)) {
		c->len += r->len;
		return true;
	}
	print_pending(d);
	d->cur = *r;
	d->open = true;
	return true;
}

void cmds_runs_end(struct cmds_runs *d)
{
	print_pending(d);
}

static err_t cmd_pt(struct con *c, int argc, char **argv)
{
	struct cmds_runs d = {.open = false};

	if (argc > 1)
		return cmds_pt_space(c, argc, argv);
	pt_runs(&mon_pt, cmds_run, &d);
	cmds_runs_end(&d);
	con_printf("pt monitor: runs 0x%lx pages 0x%lx ptpages 0x%lx\n", d.runs, d.pages,
	           pt_tables(&mon_pt));
	return NULL;
}

void cmds_print_walk(const struct pt_walk *w)
{
	char rights[4];

	for (unsigned k = 0; k < w->depth; k++) {
		const unsigned level = w->step[k].level;
		con_printf("  %-4s 0x%lx [0x%x] = 0x%lx ", level_name[level],
		           pa_addr(w->step[k].table), w->step[k].index, w->step[k].entry);
		switch (w->step[k].kind) {
		case PTE_ABSENT:
			con_puts("absent\n");
			break;
		case PTE_TABLE:
			con_printf("table 0x%lx, 0x%x entries present\n", pa_addr(w->step[k].next),
			           w->step[k].count);
			break;
		case PTE_LEAF:
			con_printf("leaf %s 0x%lx %s\n", cmds_size_name[level],
			           pa_addr(w->step[k].frame), rights_str(w->step[k].attr, rights));
			break;
		}
	}
}

static err_t cmd_walk(struct con *c, int argc, char **argv)
{
	uint64_t v;
	char rights[4];
	struct pt_walk w;
	(void)argc;

	err_t e = con_parse_number(argv[1], &v);
	if (e)
		return con_fail(c, "walk: %s: '%.40s'", e, argv[1]);
	if (v >> 47 && v >> 47 != 0x1ffff)
		return con_fail(c, "walk: 0x%lx is not canonical", v);
	con_printf("walk 0x%lx in memmon's tables, root 0x%lx\n", v, pa_addr(pt_root(&mon_pt)));
	pt_walk(&mon_pt, va_init(v), &w);
	cmds_print_walk(&w);
	struct pt_hit h;
	if (pt_lookup_slow(&mon_pt, va_init(v), &h)) /* out of line: the console reaches no seam */
		con_printf("0x%lx -> 0x%lx %s %s\n", v, pa_addr(h.pa), rights_str(h.attr, rights),
		           cmds_size_name[h.level]);
	else
		con_printf("0x%lx -> none\n", v);
	return NULL;
}

static err_t cmd_echo(struct con *c, int argc, char **argv)
{
	if (argc == 1) {
		con_printf("echo %s\n", c->echo ? "on" : "off");
		return NULL;
	}
	if (con_streq(argv[1], "on"))
		c->echo = true;
	else if (con_streq(argv[1], "off"))
		c->echo = false;
	else
		return con_fail(c, "echo: say on or off, not '%.40s'", argv[1]);
	return NULL;
}

static err_t cmd_halt(struct con *c, int argc, char **argv)
{
	(void)argc, (void)argv;
	con_puts("halting\n");
	plat_poweroff();
	c->halted = true; /* only reached where power-off is simulated */
	return NULL;
}

/* The first guard page efi/ described (below memmon's main stack), or 0. */
static uint64_t a_guard_page(void)
{
	for (size_t i = 0; i < mon_boot->nsegs; i++)
		if (mon_boot->segs[i].kind == MM_SEG_GUARD)
			return mon_boot->segs[i].base;
	return 0;
}

static const struct {
	const char *name;
	enum plat_trap kind;
	uint64_t addr;
} trap_kinds[] = {
    {"de", PLAT_TRAP_DE, 0},
    {"bp", PLAT_TRAP_BP, 0},
    {"ud", PLAT_TRAP_UD, 0},
    {"gp", PLAT_TRAP_GP, 0},
    {"pf", PLAT_TRAP_READ, 0xffff800000000000ull}, /* the upper half: memmon maps none of it */
    {"null", PLAT_TRAP_READ, 0},                   /* page 0 is not mapped */
    {"guard", PLAT_TRAP_READ, 0},                  /* a stack's guard page (found below) */
    {"wp", PLAT_TRAP_WRITE, 0},
    {"nx", PLAT_TRAP_EXEC, 0},
    {"overflow", PLAT_TRAP_DEEP, 0},
};

/* trap KIND CPU: the exception on another CPU (idle), which stops that
 * CPU with a dump; CPU 0 waits (a second at most) to see it halted. */
static err_t trap_on(struct con *c, const char *kind_name, enum plat_trap kind, const char *cpu)
{
	struct guest_cpu_info i;
	uint64_t k;
	err_t e = con_parse_number(cpu, &k);

	if (e)
		return con_fail(c, "trap: cpu: %s: '%.40s'", e, cpu);
	if (!k || k >= guest_ncpus())
		return con_fail(c, "trap: no other cpu '%.40s' ('cpu' lists them)", cpu);
	if (kind != PLAT_TRAP_DE && kind != PLAT_TRAP_BP && kind != PLAT_TRAP_UD &&
	    kind != PLAT_TRAP_GP)
		return con_fail(c, "trap: only de, bp, ud and gp go to another cpu, not %s",
		                kind_name);
	guest_cpu_info((unsigned)k, &i);
	if (i.guest || i.halted)
		return con_fail(c, "trap: cpu %u is not idle", (unsigned)k);
	if (!plat_raise_on((unsigned)k, kind))
		return con_fail(c, "trap: this platform cannot raise %s on cpu %u", kind_name,
		                (unsigned)k);
	const uint64_t t = plat_now_us();
	do {
		plat_idle();
		guest_cpu_info((unsigned)k, &i);
	} while (!i.halted && plat_now_us() - t < 1000000);
	if (!i.halted)
		return con_fail(c, "trap: %s was raised on cpu %u but did not fault", kind_name,
		                (unsigned)k);
	con_printf("trap: cpu %u halted; the others carry on\n", (unsigned)k);
	return NULL;
}

static err_t cmd_trap(struct con *c, int argc, char **argv)
{
	for (size_t i = 0; i < ARRAY_SIZE(trap_kinds); i++) {
		if (!con_streq(argv[1], trap_kinds[i].name))
			continue;
		if (argc == 3)
			return trap_on(c, argv[1], trap_kinds[i].kind, argv[2]);
		uint64_t addr = trap_kinds[i].addr;
		if (con_streq(argv[1], "guard") && !(addr = a_guard_page()))
			return con_fail(c, "trap: memmon has no guard page here");
		if (!plat_raise(trap_kinds[i].kind, addr))
			return con_fail(c, "trap: this platform cannot raise %s", argv[1]);
		return con_fail(c, "trap: %s was raised but did not fault", argv[1]);
	}
	return con_fail(
	    c, "trap: unknown kind '%.40s' (de, bp, ud, gp, pf, null, guard, wp, nx or overflow)",
	    argv[1]);
}

const struct con_cmd con_cmds[] = {
    {.name = "help",
     .args = "[CMD]",
     .min_args = 0,
     .max_args = 1,
     .summary = "list commands, or show the usage of one",
     .usage = "Without CMD, one line per command. With CMD, its arguments and meaning.",
     .run = cmd_help},
    {.name = "version",
     .args = "",
     .min_args = 0,
     .max_args = 0,
     .summary = "name, version and build of memmon, and the firmware it took over from",
     .usage = "Prints memmon's version and build stamp, then the firmware vendor and revision.",
     .run = cmd_version},
    {.name = "memmap",
     .args = "[PA]",
     .min_args = 0,
     .max_args = 1,
     .summary = "the firmware memory map as taken over, and what memmon did with it",
     .usage = "One line per firmware descriptor: physical range (end exclusive), type, pages,\n"
              "attribute bits, and what memmon did with it: reclaimed (given to the frame\n"
              "allocator: conventional memory, and boot-services and loader memory once\n"
              "the firmware has left), kept (memmon's image, stacks, boot data and the page\n"
              "tables it runs on; '(N kept)' when part of a reclaimed region) or reserved\n"
              "(never touched). Then a summary in pages.\n"
              "With PA, only the descriptor that holds physical address PA.",
     .run = cmd_memmap},
    {.name = "image",
     .args = "",
     .min_args = 0,
     .max_args = 0,
     .summary = "checksum memmon's code and read-only data (nothing may change them)",
     .usage = "Prints 'image: 0xBYTES bytes of code and read-only data, checksum 0xSUM'\n"
              "(FNV-1a, 64 bits), the same at every call unless something wrote to them.",
     .run = cmd_image},
    {.name = "mem",
     .args = "[PA]",
     .min_args = 0,
     .max_args = 1,
     .summary = "frame allocator figures: total, free, used, by owner, largest free block",
     .usage = "Prints 'frames total T free F used U', the used frames by owner (monitor,\n"
              "ptables, mdb, clients, console), the firmware's RAM outside the total, the\n"
              "largest free block and the frame table's size. With PA, what the allocator\n"
              "knows of the frame holding physical address PA: owner, block, run.",
     .run = cmd_mem},
    {.name = "alloc",
     .args = "[COUNT]",
     .min_args = 0,
     .max_args = 1,
     .summary = "take COUNT contiguous frames (default 1) from the allocator (testing aid)",
     .usage = "Allocates COUNT contiguous frames (1 to 0x80000000), aligned to the next\n"
              "power of two, owned by 'console'; prints 'alloc 0xPA count 0xCOUNT'.",
     .run = cmd_alloc},
    {.name = "free",
     .args = "PA [COUNT]",
     .min_args = 1,
     .max_args = 2,
     .summary = "return COUNT frames (default 1) that alloc took",
     .usage = "Frees the run of COUNT frames at PA that alloc handed out. A double free, a\n"
              "free of anything alloc did not hand out, or a wrong COUNT is an error and\n"
              "changes nothing.",
     .run = cmd_free},
    {.name = "pt",
     .args = "[N [V]]",
     .min_args = 0,
     .max_args = 2,
     .summary = "dump memmon's own page tables, or space N's, as runs; or walk N:V",
     .usage = "One line per run of entries with the same page size and rights mapping\n"
              "consecutive frames: '0xVSTART-0xVEND -> 0xPSTART RIGHTS SIZE' (VEND\n"
              "exclusive), then 'pt monitor: runs R pages P ptpages T' (T: table pages,\n"
              "the root included). With N, space N's client half, and 'pt N: ...'; the\n"
              "reserved upper half is not listed but its tables count in T. With N and V,\n"
              "the 4-level walk of V in space N, then 'N:0xV -> 0xPA RIGHTS SIZE' or none.",
     .run = cmd_pt},
    {.name = "walk",
     .args = "V",
     .min_args = 1,
     .max_args = 1,
     .summary = "the 4-level walk of address V in memmon's own page tables",
     .usage = "One line per level read, from the root (pml4) down: the table's physical\n"
              "address, the index V selects, the raw entry and what it is (absent, a table\n"
              "with its count of present entries, or a leaf with its size, frame and\n"
              "rights); then '0xV -> 0xPA RIGHTS SIZE' or '0xV -> none'.",
     .run = cmd_walk},
    {.name = "space",
     .args = "new|del N|list",
     .min_args = 1,
     .max_args = 2,
     .summary = "create a space, delete one, or list them",
     .usage = "space new prints 'space N' (the lowest free number). space del N flushes\n"
              "everything N maps (and what derives from it) and frees its tables; sigma0\n"
              "(space 0) cannot be deleted. space list: one line per space with its pages\n"
              "and table pages.",
     .run = cmd_space},
    {.name = "map",
     .args = "N V N2 V2 [SIZE] [RIGHTS]",
     .min_args = 4,
     .max_args = 6,
     .summary = "map N:V into N2:V2 (SIZE default 4K, RIGHTS default rwx)",
     .usage = "For each page in address order: flush N2:V2, then map it to N:V with the\n"
              "rights of N:V cut to RIGHTS. Fails, changing nothing, when a page of the\n"
              "source holds no mapping. Prints the pages mapped and their rights.",
     .run = cmd_map},
    {.name = "grant",
     .args = "N V N2 V2 [SIZE] [RIGHTS]",
     .min_args = 4,
     .max_args = 6,
     .summary = "move N:V's mappings to N2:V2 (SIZE default 4K, RIGHTS default rwx)",
     .usage = "For each page in address order: flush N2:V2, give it N:V's mapping (rights\n"
              "cut to RIGHTS), then flush N:V. Fails, changing nothing, when a page of the\n"
              "source holds no mapping.",
     .run = cmd_grant},
    {.name = "unmap",
     .args = "N V [SIZE]",
     .min_args = 2,
     .max_args = 3,
     .summary = "remove everything derived from N:V (N:V stays)",
     .usage = "Removes every mapping derived from a page of the region, in every space;\n"
              "prints how many pages were removed. Unmapped pages are no error.",
     .run = cmd_region},
    {.name = "flush",
     .args = "N V [SIZE]",
     .min_args = 2,
     .max_args = 3,
     .summary = "unmap N:V, then remove N:V itself",
     .usage = "unmap, then remove the region's own mappings; prints the pages removed.",
     .run = cmd_region},
    {.name = "protect",
     .args = "N V SIZE RIGHTS",
     .min_args = 4,
     .max_args = 4,
     .summary = "cut the rights of N:V and of everything derived from it to RIGHTS",
     .usage = "Rights only shrink; prints how many pages changed.",
     .run = cmd_region},
    {.name = "lookup",
     .args = "N V",
     .min_args = 2,
     .max_args = 2,
     .summary = "what N:V translates to, from space N's page tables",
     .usage = "Prints 'N:0xV -> 0xPA RIGHTS SIZE' (SIZE: the hardware entry's page size)\n"
              "or 'N:0xV -> none'.",
     .run = cmd_lookup},
    {.name = "mdb",
     .args = "N V",
     .min_args = 2,
     .max_args = 2,
     .summary = "the derivation tree holding N:V, from its root down",
     .usage = "One line per mapping, indented by depth: 'SPACE:0xV RIGHTS SIZE', the root\n"
              "marked Real, N:V marked '<-'.",
     .run = cmd_mdb},
    {.name = "check",
     .args = "",
     .min_args = 0,
     .max_args = 0,
     .summary = "verify every invariant of the model over the whole state",
     .usage = "Holds every space's page tables against a naive model built from the\n"
              "mapping database; prints 'check: ok ...' or 'check: FAIL <invariant and\n"
              "where>'.",
     .run = cmd_check},
    {.name = "peek",
     .args = "N V [COUNT]",
     .min_args = 2,
     .max_args = 3,
     .summary = "read COUNT 8-byte words at N:V through the MMU with space N loaded",
     .usage = "Prints 'N:0xV = 0xVALUE' per word; a fault prints 'fault: #PF N:0xV\n"
              "<not-present|protection> <read|write>' and ends the command.",
     .run = cmd_peek},
    {.name = "poke",
     .args = "N V X",
     .min_args = 3,
     .max_args = 3,
     .summary = "write the 8-byte word X at N:V through the MMU with space N loaded",
     .usage = "Prints 'N:0xV = 0xX', or the fault line.",
     .run = cmd_poke},
    {.name = "park",
     .args = "N",
     .min_args = 1,
     .max_args = 1,
     .summary = "load space N's tables into CR3 and wait for a byte on the serial port",
     .usage = "Prints 'parked N cr3 0x...', idles with space N live (for QEMU's info mem,\n"
              "info tlb, gva2gpa), consumes the byte that wakes it, prints 'unparked'.",
     .run = cmd_park},
    {.name = "pool",
     .args = "[grow|shrink COUNT]",
     .min_args = 0,
     .max_args = 2,
     .summary = "show memmon's pool; move COUNT frames from sigma0 into it, or back",
     .usage = "The pool feeds every space's page tables and the mapping database. grow takes\n"
              "frames from which nothing is derived out of sigma0; shrink gives free pool\n"
              "frames to sigma0.",
     .run = cmd_pool},
    {.name = "reset",
     .args = "",
     .min_args = 0,
     .max_args = 0,
     .summary = "delete every client space and guest and return to the boot state",
     .usage = "Every client frame, orphans included, returns to sigma0; frames taken with\n"
              "alloc are freed and the pool gets its boot size back (after pool grow or\n"
              "shrink, sigma0 may then hold other frames, and its tables differ).",
     .run = cmd_reset},
    {.name = "cpu",
     .args = "",
     .min_args = 0,
     .max_args = 0,
     .summary = "list the CPUs: 'cpu K apic 0xID console|idle|guest G'",
     .usage = "CPU 0 booted memmon and serves the console; the others run guests (guest start).\n"
              "A CPU stopped by a fault in memmon's code shows 'halted'.",
     .run = cmd_cpu},
    {.name = "guest",
     .args = "new|load|run|start|stop|skip|regs|set|del|list|progs|bench ...",
     .min_args = 1,
     .max_args = 4,
     .summary = "run x86 code inside client space N under AMD SVM (its tables: the nested ones)",
     .usage = "new N: a guest of space N ('guest G space N'). load G PROG [GPA]: copy a built-in\n"
              "program to guest-physical GPA (default 0; every page mapped in N) and enter it\n"
              "there in 32-bit protected mode, eax = GPA. run G [MS]: run until an exit or MS\n"
              "ms (default 100): 'exit G: hlt|vmmcall|npf|io|msr|exception|shutdown|timer ...'.\n"
              "Port 0xE9 bytes print as 'guest G: TEXT'. After an npf run retries the access;\n"
              "after an exception run delivers it to the guest. skip G: step past what stopped\n"
              "it. regs G / set G REG V: rip rsp rax ... r15 rflags cr0 cr3 cr4 efer. del G,\n"
              "list (space, state, exit counts), progs (the built-in programs). bench: exit,\n"
              "pager and nested-paging throughput numbers (needs a GiB-aligned GiB of sigma0).\n"
              "start G K: run G on CPU K until it exits or stop ('guest G on cpu K'); stop G:\n"
              "bring it back and print its exit ('exit G: stopped rip 0xRIP' if it still ran).",
     .run = cmd_guest},
    {.name = "echo",
     .args = "[on|off]",
     .min_args = 0,
     .max_args = 1,
     .summary = "turn the echo of typed characters on or off",
     .usage = "echo off stops echoing typed characters (each line end is still answered with\n"
              "a new line); echo on restores it; echo alone shows the setting.",
     .run = cmd_echo},
    {.name = "trap",
     .args = "de|bp|ud|gp|pf|null|guard|wp|nx|overflow [CPU]",
     .min_args = 1,
     .max_args = 2,
     .summary = "raise a CPU exception on purpose (tests the fault path and memmon's tables)",
     .usage = "Raises #DE (divide by zero), #BP (int3), #UD (ud2), #GP (non-canonical access)\n"
              "or #PF: pf reads the unmapped upper half, null reads page 0, guard reads the\n"
              "guard page below memmon's stack, wp writes a byte of memmon's code back\n"
              "unchanged (read-only), nx calls a 'ret' in memmon's data (no-execute),\n"
              "overflow recurses until the stack meets its guard page. memmon prints the\n"
              "exception dump, ends the command with an error and returns to the prompt;\n"
              "'did not fault' means the protection is missing. With CPU (1 or more, idle;\n"
              "de, bp, ud or gp), that CPU raises it: its dump is printed, it halts for good\n"
              "('cpu' shows it halted), CPU 0 carries on: 'trap: cpu K halted; ...'.",
     .run = cmd_trap},
    {.name = "halt",
     .args = "",
     .min_args = 0,
     .max_args = 0,
     .summary = "power off (QEMU exits)",
     .usage = "Writes to QEMU's isa-debug-exit port (exit status 33); without that device it\n"
              "tries ACPI S5, then a reset through the keyboard controller.",
     .run = cmd_halt},
};
const size_t con_ncmds = ARRAY_SIZE(con_cmds);
