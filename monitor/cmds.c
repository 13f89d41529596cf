/*
 * The console's command table. The dispatcher checks the number of
 * arguments against the table before a command runs; each command checks
 * the arguments themselves before it changes anything, and reports failure
 * only through its err_t. argv[0] is the command's name.
 */
#include "console.h"
#include "memmap.h"
#include "monitor.h"
#include "fmt.h"
#include "platform.h"

static bool streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

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
		char syn[48];
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

static err_t cmd_memmap(struct con *c, int argc, char **argv)
{
	uint64_t pa;

	if (argc == 1) {
		mm_print(mon_boot);
		return NULL;
	}
	err_t e = con_parse_number(argv[1], &pa);
	if (e)
		return con_fail(c, "memmap: %s: '%.40s'", e, argv[1]);
	if (pa >> MM_PHYS_BITS)
		return con_fail(c, "memmap: 0x%lx is beyond the 52-bit physical address space", pa);
	const struct mm_region *r = mm_find(mon_boot, pa);
	if (r)
		mm_print_region(r);
	else
		con_printf("0x%lx: in no firmware descriptor\n", pa);
	return NULL;
}

static err_t cmd_echo(struct con *c, int argc, char **argv)
{
	if (argc == 1) {
		con_printf("echo %s\n", c->echo ? "on" : "off");
		return NULL;
	}
	if (streq(argv[1], "on"))
		c->echo = true;
	else if (streq(argv[1], "off"))
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

static const struct {
	const char *name;
	int vector;
} trap_kinds[] = {
    {"de", 0}, {"bp", 3}, {"ud", 6}, {"gp", 13}, {"pf", 14},
};

static err_t cmd_trap(struct con *c, int argc, char **argv)
{
	(void)argc;
	for (size_t i = 0; i < ARRAY_SIZE(trap_kinds); i++) {
		if (!streq(argv[1], trap_kinds[i].name))
			continue;
		if (!plat_raise(trap_kinds[i].vector))
			return con_fail(c, "trap: this platform cannot raise %s", argv[1]);
		return con_fail(c, "trap: %s was raised but did not fault", argv[1]);
	}
	return con_fail(c, "trap: unknown kind '%.40s' (de, bp, ud, gp or pf)", argv[1]);
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
              "attribute bits, and memmon's use of it: usable (free RAM), reclaimable (boot-\n"
              "services memory, free after ExitBootServices), kept (memmon's image and\n"
              "allocations) or reserved (never touched). Then a summary in pages.\n"
              "With PA, only the descriptor that holds physical address PA.",
     .run = cmd_memmap},
    {.name = "echo",
     .args = "[on|off]",
     .min_args = 0,
     .max_args = 1,
     .summary = "turn the echo of typed characters on or off",
     .usage = "echo off stops echoing typed characters (each line end is still answered with\n"
              "a new line); echo on restores it; echo alone shows the setting.",
     .run = cmd_echo},
    {.name = "trap",
     .args = "de|bp|ud|gp|pf",
     .min_args = 1,
     .max_args = 1,
     .summary = "raise a CPU exception on purpose (tests the fault path)",
     .usage = "Raises #DE (divide by zero), #BP (int3), #UD (ud2), #GP (non-canonical access)\n"
              "or #PF (access to an unmapped page). memmon prints the exception dump, ends\n"
              "the command with an error and returns to the prompt.",
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
