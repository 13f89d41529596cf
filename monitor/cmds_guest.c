/*
 * The console's guest commands (SPEC section 3): guest new, load, run,
 * skip, regs, set, del, list, progs. Each checks its arguments, calls the
 * guest layer (monitor/guest.h) and prints SPEC's forms.
 */
#include "cmds.h"

#include "guest.h"
#include "space.h"

static bool streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

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
		uint64_t total = 0;
		for (unsigned k = 1; k < GUEST_NSTOPS; k++)
			total += i.exits[k];
		con_printf("guest %u space %u prog %s state %s exits 0x%lx:", g, i.space,
		           i.prog ? i.prog : "-", i.prog ? guest_stop_name[i.state] : "empty",
		           total);
		for (unsigned k = 1; k < GUEST_NSTOPS; k++)
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

	if (streq(sub, "progs") || streq(sub, "list")) {
		if (argc != 2)
			return con_fail(c, "guest %s takes no argument", sub);
		if (streq(sub, "list"))
			return guest_list_cmd();
		for (size_t i = 0; i < guest_nprogs; i++)
			con_printf("%-7s 0x%lx bytes  %s\n", guest_progs[i].name,
			           guest_progs[i].size, guest_progs[i].summary);
		return NULL;
	}
	if (streq(sub, "new")) {
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
	} subs[] = {{"load", 2, 3}, {"run", 1, 2}, {"skip", 1, 1},
	            {"regs", 1, 1}, {"set", 3, 3}, {"del", 1, 1}};
	size_t k = 0;
	while (k < ARRAY_SIZE(subs) && !streq(sub, subs[k].name))
		k++;
	if (k == ARRAY_SIZE(subs))
		return con_fail(c,
		                "guest: say new, load, run, skip, regs, set, del, list or progs, "
		                "not '%.40s'",
		                sub);
	if (argc - 2 < subs[k].min || argc - 2 > subs[k].max)
		return con_fail(c, "guest %s: wrong number of arguments ('help guest')", sub);
	e = arg_guest(c, sub, argv[2], &g);
	if (e)
		return e;
	if (streq(sub, "load")) {
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
	if (streq(sub, "run")) {
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
	if (streq(sub, "skip")) {
		uint64_t rip;
		e = guest_skip(g, &rip);
		if (e)
			return con_fail(c, "%s", e);
		con_printf("guest %u rip 0x%lx\n", g, rip);
		return NULL;
	}
	if (streq(sub, "regs"))
		return guest_regs_cmd(g);
	if (streq(sub, "set")) {
		unsigned r = 0;
		uint64_t v, stored;
		while (r < GUEST_NREGS && !streq(argv[3], guest_reg_name[r]))
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
