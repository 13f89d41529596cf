/*
 * The console's guest commands (SPEC section 3): guest new, load, run,
 * skip, regs, set, del, list, progs. Each checks its arguments, calls the
 * guest layer (monitor/guest.h) and prints SPEC's forms.
 */
#include "cmds.h"

#include "fmt.h"
#include "guest.h"
#include "platform.h"
#include "space.h"

err_t cmds_guest_bench(struct con *c);

static err_t arg_guest(struct con *c, const char *cmd, const char *s, unsigned *g)
{
	uint64_t v;
	err_t e = con_parse_number(s, &v);

	if (e)
		return con_fail(c, "guest %s: guest: %s: '%.40s'", cmd, e, s);
	if (v > GUEST_MAX || !guest_exists((unsigned)v))
		return con_fail(c, "guest %s: no guest '%.40s' ('guest list' shows them)", cmd, s);
	*g = (unsigned)v;
	return NULL;
}

static void print_line(void *ctx, unsigned g, const char *text)
{
	(void)ctx;
	con_printf("guest %u: %s\n", g, text);
}

static void print_exit(unsigned g, const struct guest_exit *e)
{
	con_printf("exit %u: %s", g, guest_stop_name[e->why]);
	switch (e->why) {
	case GUEST_VMMCALL:
		con_printf(" rip 0x%lx rax 0x%lx\n", e->rip, e->rax);
		return;
	case GUEST_NPF:
		con_printf(" %u:0x%lx %s %s", e->space, e->gpa,
		           e->present ? "protection" : "not-present",
		           e->access == 'x'   ? "exec"
		           : e->access == 'w' ? "write"
		                              : "read");
		break;
	case GUEST_IO:
		con_printf(" 0x%x %s", e->port, e->write ? "out" : "in");
		break;
	case GUEST_MSR:
		con_printf(" 0x%x %s", e->msr, e->write ? "write" : "read");
		break;
	case GUEST_EXCEPTION:
		con_printf(" %u", e->vector);
		break;
	default:
		break;
	}
	con_printf(" rip 0x%lx\n", e->rip);
}

static err_t guest_regs_cmd(unsigned g)
{
	for (unsigned r = 0; r < GUEST_NREGS; r++)
		con_printf("%s 0x%lx%s", guest_reg_name[r], guest_reg(g, r),
		           r + 1 == GUEST_NREGS || r % 6 == 5 ? "\n" : " ");
	return NULL;
}

static err_t guest_list_cmd(void)
{
	unsigned count = 0;

	for (unsigned g = 1; g <= GUEST_MAX; g++) {
		struct guest_info i;
		if (!guest_info(g, &i))
			continue;
		count++;
		uint64_t total = 0; /* the exits (a stop on another CPU is none) */
		for (unsigned k = 1; k < GUEST_STOPPED; k++)
			total += i.exits[k];
		con_printf("guest %u space %u prog %s state ", g, i.space, i.prog ? i.prog : "-");
		if (guest_cpu(g))
			con_printf("cpu-%u", guest_cpu(g));
		else
			con_printf("%s", i.prog ? guest_stop_name[i.state] : "empty");
		con_printf(" exits 0x%lx:", total);
		for (unsigned k = 1; k < GUEST_STOPPED; k++)
			con_printf(" %s 0x%lx", guest_stop_name[k], i.exits[k]);
		con_printf("\n");
	}
	con_printf("guests 0x%x\n", count);
	return NULL;
}

err_t cmd_guest(struct con *c, int argc, char **argv)
{
	const char *sub = argv[1];
	unsigned g;
	err_t e;

	if (con_streq(sub, "bench")) {
		if (argc != 2)
			return con_fail(c, "guest bench takes no argument");
		return cmds_guest_bench(c);
	}
	if (con_streq(sub, "progs") || con_streq(sub, "list")) {
		if (argc != 2)
			return con_fail(c, "guest %s takes no argument", sub);
		if (con_streq(sub, "list"))
			return guest_list_cmd();
		for (size_t i = 0; i < guest_nprogs; i++)
			con_printf("%-7s 0x%lx bytes  %s\n", guest_progs[i].name,
			           guest_progs[i].size, guest_progs[i].summary);
		return NULL;
	}
	if (con_streq(sub, "new")) {
		uint64_t n;
		if (argc != 3)
			return con_fail(c, "guest: usage: guest new N");
		if (!guest_available())
			return con_fail(c, "%s", guest_err_nosvm);
		e = con_parse_number(argv[2], &n);
		if (e)
			return con_fail(c, "guest new: space: %s: '%.40s'", e, argv[2]);
		if (n >= SPACE_MAX || !space_exists((unsigned)n))
			return con_fail(c, "guest new: no space '%.40s' ('space list' shows them)",
			                argv[2]);
		e = guest_new((unsigned)n, &g);
		if (e)
			return con_fail(c, "%s", e);
		con_printf("guest %u space %u\n", g, (unsigned)n);
		return NULL;
	}
	static const struct {
		const char *name;
		int min, max; /* arguments after the subcommand */
	} subs[] = {{"load", 2, 3}, {"run", 1, 2},  {"start", 2, 2}, {"stop", 1, 1},
	            {"skip", 1, 1}, {"regs", 1, 1}, {"set", 3, 3},   {"del", 1, 1}};
	size_t k = 0;
	while (k < ARRAY_SIZE(subs) && !con_streq(sub, subs[k].name))
		k++;
	if (k == ARRAY_SIZE(subs))
		return con_fail(
		    c,
		    "guest: say new, load, run, start, stop, skip, regs, set, del, list or "
		    "progs, "
		    "not '%.40s'",
		    sub);
	if (argc - 2 < subs[k].min || argc - 2 > subs[k].max)
		return con_fail(c, "guest %s: wrong number of arguments ('help guest')", sub);
	e = arg_guest(c, sub, argv[2], &g);
	if (e)
		return e;
	if (con_streq(sub, "load")) {
		uint64_t gpa = 0, size;
		if (argc == 5) {
			e = con_parse_addr(argv[4], &gpa);
			if (e)
				return con_fail(c, "guest load: address: %s: '%.40s'", e, argv[4]);
		}
		e = guest_load(g, argv[3], gpa, &size);
		if (e)
			return con_fail(c, "%s", e);
		con_printf("guest %u: loaded %s at 0x%lx, 0x%lx bytes\n", g, argv[3], gpa, size);
		return NULL;
	}
	if (con_streq(sub, "run")) {
		uint64_t ms = GUEST_SLICE_MS;
		struct guest_exit x;
		if (argc == 4) {
			e = con_parse_number(argv[3], &ms);
			if (e)
				return con_fail(c, "guest run: MS: %s: '%.40s'", e, argv[3]);
			if (!ms || ms > GUEST_MS_MAX)
				return con_fail(c, "guest run: MS must be 1 to %u, not 0x%lx",
				                GUEST_MS_MAX, ms);
		}
		e = guest_run(g, ms, print_line, NULL, &x);
		if (e)
			return con_fail(c, "%s", e);
		print_exit(g, &x);
		return NULL;
	}
	if (con_streq(sub, "start")) {
		uint64_t cpu;
		e = con_parse_number(argv[3], &cpu);
		if (e)
			return con_fail(c, "guest start: cpu: %s: '%.40s'", e, argv[3]);
		if (cpu >= guest_ncpus())
			return con_fail(c, "guest start: no cpu '%.40s' ('cpu' lists them)",
			                argv[3]);
		e = guest_start(g, (unsigned)cpu);
		if (e)
			return con_fail(c, "%s", e);
		con_printf("guest %u on cpu %u\n", g, (unsigned)cpu);
		return NULL;
	}
	if (con_streq(sub, "stop")) {
		struct guest_exit x;
		e = guest_stop(g, print_line, NULL, &x);
		if (e)
			return con_fail(c, "%s", e);
		print_exit(g, &x);
		return NULL;
	}
	if (con_streq(sub, "regs") && (e = guest_elsewhere(g)))
		return con_fail(c, "%s", e);
	if (con_streq(sub, "skip")) {
		uint64_t rip;
		e = guest_skip(g, &rip);
		if (e)
			return con_fail(c, "%s", e);
		con_printf("guest %u rip 0x%lx\n", g, rip);
		return NULL;
	}
	if (con_streq(sub, "regs"))
		return guest_regs_cmd(g);
	if (con_streq(sub, "set")) {
		unsigned r = 0;
		uint64_t v, stored;
		while (r < GUEST_NREGS && !con_streq(argv[3], guest_reg_name[r]))
			r++;
		if (r == GUEST_NREGS)
			return con_fail(c, "guest set: no register '%.40s' (guest regs lists them)",
			                argv[3]);
		e = con_parse_number(argv[4], &v);
		if (e)
			return con_fail(c, "guest set: value: %s: '%.40s'", e, argv[4]);
		e = guest_set(g, r, v, &stored);
		if (e)
			return con_fail(c, "%s", e);
		con_printf("guest %u %s = 0x%lx\n", g, guest_reg_name[r], stored);
		return NULL;
	}
	/* del */
	e = guest_del(g);
	if (e)
		return con_fail(c, "%s", e);
	con_printf("guest %u deleted\n", g);
	return NULL;
}

err_t cmd_cpu(struct con *c, int argc, char **argv)
{
	(void)c, (void)argc, (void)argv;
	for (unsigned k = 0; k < guest_ncpus(); k++) {
		struct guest_cpu_info i;
		guest_cpu_info(k, &i);
		con_printf("cpu %u apic 0x%x ", k, i.apic);
		if (i.halted)
			con_printf("halted\n");
		else if (i.guest)
			con_printf("guest %u\n", i.guest);
		else
			con_printf("%s\n", i.console ? "console" : "idle");
	}
	return NULL;
}

/* ---- guest bench ---------------------------------------------------------------- */

/* A GiB-aligned GiB of sigma0 with room for `extra` bytes after it (the
 * source of the throughput runs), or 0. */
static uint64_t sigma0_gib(uint64_t extra)
{
	const struct space_extent *ext;
	const uint64_t gib = 1ull << 30;

	for (size_t i = space_extents(&ext); i-- > 0;) {
		const uint64_t a = (ext[i].base + gib - 1) & ~(gib - 1);
		if (a + gib + extra <= ext[i].base + ext[i].pages * PAGE_SIZE)
			return a;
	}
	return 0;
}

struct bench {
	unsigned n, g;
	uint64_t src;                 /* sigma0's GiB */
	unsigned loops[PLAT_CPU_MAX]; /* loop guests started on other CPUs */
	unsigned nloops;
};

/* Run sum (guest b->g, loaded at 0) over [base, base + len) until its
 * vmmcall; *runs the guest_run calls it took (timer exits go on); each npf
 * maps the page from sigma0 at b->src + (gpa - base) read-only when
 * `pager`. */
static err_t bench_run(struct bench *b, uint64_t base, uint64_t len, bool pager, uint64_t *runs,
                       uint64_t *npfs)
{
	struct guest_exit x;
	struct space_result r;
	uint64_t v;
	err_t e;

	*runs = *npfs = 0;
	if ((e = guest_set(b->g, GR_RIP, 0, &v)) || (e = guest_set(b->g, GR_RSI, base, &v)) ||
	    (e = guest_set(b->g, GR_RCX, len, &v)))
		return e;
	for (; !e; ++*runs) {
		e = guest_run(b->g, GUEST_MS_MAX, print_line, NULL, &x);
		if (e || x.why == GUEST_VMMCALL)
			break;
		if (x.why == GUEST_TIMER)
			continue;
		if (x.why != GUEST_NPF || !pager)
			return "guest bench: the guest stopped unexpectedly";
		++*npfs;
		e = space_map(0, b->src + (x.gpa - base), b->n, x.gpa, PAGE_SIZE, RIGHTS_R, &r);
	}
	return e;
}

static void bench_line(const char *what, uint64_t count, const char *unit, uint64_t us)
{
	const uint64_t per_s = us ? count * 1000000 / us : 0;

	con_printf("%-34s %10lu %-6s %10lu us %12lu /s\n", what, count, unit, us, per_s);
}

/*
 * The cost of a shootdown round: unmap one page of the space (and apply
 * the console's rule, guest_sync, as after every command) with 0, 1 and 3
 * guests of the space running `loop` on other CPUs (as many as there are).
 */
static err_t bench_shootdown(struct bench *b)
{
	const uint64_t mib = 1ull << 20, gib = 1ull << 30, page = b->src + gib + 3 * mib;
	const uint64_t code = b->src + gib + mib; /* loop's code and counters */
	static const unsigned counts[] = {0, 1, 3};
	struct space_result r;
	uint64_t size, missed = 0;
	err_t e;

	for (size_t i = 0; i < ARRAY_SIZE(counts) && counts[i] < guest_ncpus(); i++) {
		while (b->nloops < counts[i]) {
			const uint64_t gpa = 0x100000 + 0x2000 * b->nloops;
			unsigned g;
			if ((e = space_map(0, code + 0x2000 * b->nloops, b->n, gpa, 2 * PAGE_SIZE,
			                   RIGHTS_RWX, &r)) ||
			    (e = guest_new(b->n, &g)))
				return e;
			b->loops[b->nloops++] = g;
			if ((e = guest_load(g, "loop", gpa, &size)) ||
			    (e = guest_start(g, b->nloops)))
				return e;
		}
		const uint64_t rounds = 2000;
		uint64_t us = 0;
		for (uint64_t k = 0; k < rounds; k++) {
			if ((e = space_map(0, page, b->n, 0x200000, PAGE_SIZE, RIGHTS_R, &r)))
				return e;
			(void)guest_sync();
			const uint64_t t = plat_now_us();
			e = space_unmap(0, page, PAGE_SIZE, &r);
			missed |= guest_sync();
			us += plat_now_us() - t;
			if (e)
				return e;
		}
		char what[48];
		fmt_format(what, sizeof(what), "unmap 4K, guests on 0x%x other CPUs", counts[i]);
		bench_line(what, rounds, "unmaps", us);
	}
	if (missed)
		return "guest bench: a CPU did not acknowledge a shootdown";
	return NULL;
}

static err_t bench_body(struct bench *b)
{
	struct space_result r;
	uint64_t size, runs, npfs, t;
	const uint64_t mib = 1ull << 20, gib = 1ull << 30, region = 16 * mib, at = gib;
	err_t e;

	/* The program's page: sum, at guest-physical 0, reading nothing. */
	if ((e = space_map(0, b->src + gib + 2 * mib, b->n, 0, PAGE_SIZE, RIGHTS_RWX, &r)) ||
	    (e = guest_new(b->n, &b->g)) || (e = guest_load(b->g, "sum", 0, &size)))
		return e;
	const uint64_t calls = 20000;
	t = plat_now_us();
	for (uint64_t i = 0; i < calls && !e; i++)
		e = bench_run(b, 0, 0, false, &runs, &npfs);
	if (e)
		return e;
	bench_line("vmmcall exit and resume", calls, "exits", plat_now_us() - t);

	/* The pager loop: sum over 16 MiB at 1 GiB, nothing mapped. */
	t = plat_now_us();
	e = bench_run(b, at, region, true, &runs, &npfs);
	if (e)
		return e;
	bench_line("npf -> map 4K -> resume (16 MiB)", npfs, "npfs", plat_now_us() - t);
	if ((e = space_flush(b->n, at, region, &r)))
		return e;

	/* Throughput: sum over 1 GiB at 1 GiB, mapped with 4K, 2M, 1G pages
	 * (the source's alignment decides: paging picks the largest fit). */
	static const struct {
		const char *what;
		uint64_t offset;
	} kinds[] = {{"read 1 GiB through 4K nested pages", 4096},
	             {"read 1 GiB through 2M nested pages", 2 * mib},
	             {"read 1 GiB through 1G nested pages", 0}};
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct space_hit h;
		if ((e = space_map(0, b->src + kinds[k].offset, b->n, at, gib, RIGHTS_R, &r)))
			return e;
		if (!space_lookup(b->n, at, &h))
			return "guest bench: the region is not mapped";
		t = plat_now_us();
		e = bench_run(b, at, gib, false, &runs, &npfs);
		if (e)
			return e;
		const uint64_t us = plat_now_us() - t;
		con_printf("%-34s %10lu MiB    %10lu us %12lu MiB/s (%s entries, sum 0x%lx)\n",
		           kinds[k].what, gib / mib, us, us ? (gib / mib) * 1000000 / us : 0,
		           cmds_size_name[h.level], guest_reg(b->g, GR_RAX));
		if ((e = space_flush(b->n, at, gib, &r)))
			return e;
	}
	return bench_shootdown(b);
}

/* guest bench: the numbers of issue 12's bench, measured on this machine
 * with a space and a guest of its own, deleted after. */
err_t cmds_guest_bench(struct con *c)
{
	struct bench b = {0};
	uint64_t flushed;

	if (!guest_available())
		return con_fail(c, "%s", guest_err_nosvm);
	b.src = sigma0_gib(4 * (1ull << 20));
	if (!b.src)
		return con_fail(c,
		                "guest bench: no GiB-aligned GiB of sigma0 (boot with 4G or more)");
	err_t e = space_new(&b.n);
	if (e)
		return con_fail(c, "guest bench: %s", e);
	con_printf("%-34s %10s %-6s %13s %15s\n", "guest bench", "count", "", "time", "rate");
	e = bench_body(&b);
	if (b.g)
		guest_del(b.g);
	for (unsigned i = 0; i < b.nloops; i++)
		if (guest_del(b.loops[i])) /* still on its CPU: its tables must stay */
			return con_fail(c,
			                "guest bench: a CPU does not give guest %u back; space %u "
			                "is kept",
			                b.loops[i], b.n);
	err_t d = space_del(b.n, &flushed);
	if (e || d)
		return con_fail(c, "guest bench: %s", e ? e : d);
	return NULL;
}
