/*
 * Unit tests of startup scripts (monitor/script.c) on the hosted platform:
 * the script monitor_init finds through plat_script, line ends, comments,
 * echo, the stop at the first error and `onerror continue`, refused lines,
 * and `halt`. Each test runs on a fresh console with an empty output buffer
 * and resets the spaces after itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "unit.h"
#include "host.h"
#include "monitor.h"
#include "platform.h"
#include "script.h"

static const char boot_script[] = "# made by the fixture\nspace new\nlookup 1 0x1000\n";
static char boot_out[8192];

static int group_setup(void **state)
{
	static struct con boot_con;

	(void)state;
	host_script(boot_script, strlen(boot_script));
	monitor_init(&boot_con, host_boot_info(64));
	strncpy(boot_out, host_output(), sizeof(boot_out) - 1);
	host_script(NULL, 0);
	con_exec(&boot_con, "reset");
	host_output_reset();
	return 0;
}

static int teardown(void **state)
{
	struct con *c = *state;

	c->halted = false;
	con_exec(c, "reset");
	free(c);
	host_output_reset();
	return 0;
}

static void run(struct con *c, const char *text)
{
	script_run(c, text, strlen(text));
}

/* Whether the output ends with `tail`. */
static bool ends_with(const char *tail)
{
	size_t n = host_output_len(), k = strlen(tail);

	return n >= k && memcmp(host_output() + n - k, tail, k) == 0;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* monitor_init runs the machine's script at the first prompt: each line
 * after a prompt, its output, then the closing line and the live prompt. */
static void test_boot_runs_the_platform_script(void **state)
{
	(void)state;
	const char *at = strstr(boot_out, "memmon: type 'help' for commands\r\n");
	assert_non_null(at);
	assert_string_equal(at, "memmon: type 'help' for commands\r\n"
	                        "mon> space new\r\nspace 1\r\n"
	                        "mon> lookup 1 0x1000\r\n1:0x1000 -> none\r\n"
	                        "startup.mon: done, 0x3 lines\r\nmon> ");
}

/* The first failing command ends the script: nothing after it runs, and the
 * closing line names its line (counting comments and blank lines). */
static void test_stops_at_first_error(void **state)
{
	struct con *c = *state;

	run(c, "space new\n\n# two\nspace nine\nspace new\n");
	assert_non_null(strstr(host_output(), "mon> space nine\r\nerror: "));
	assert_int_equal(count(host_output(), "error: "), 1);
	assert_int_equal(count(host_output(), "space 1\r\n"), 1);
	assert_null(strstr(host_output(), "space 2"));
	assert_true(ends_with("startup.mon: stopped at line 0x4 after an error\r\nmon> "));
}

/* `onerror continue` runs every line; `onerror stop` restores the default. */
static void test_onerror_continue_and_stop(void **state)
{
	struct con *c = *state;

	run(c, "onerror continue\nbogus\nspace new\n  onerror   stop  \nbogus\nspace new\n");
	assert_int_equal(count(host_output(), "error: unknown command 'bogus'"), 2);
	assert_int_equal(count(host_output(), "space 1\r\n"), 1);
	assert_null(strstr(host_output(), "space 2"));
	assert_non_null(strstr(host_output(), "mon> onerror continue\r\nmon> bogus\r\n"));
	assert_true(ends_with("startup.mon: stopped at line 0x5 after an error\r\nmon> "));
}

/* Lines end in \n, \r or \r\n; the last needs none; tabs are blanks;
 * blanks in front are dropped; comments and blank lines are not shown. */
static void test_line_ends_comments_and_blanks(void **state)
{
	struct con *c = *state;

	run(c, "space new\r\n\t lookup\t1 0x2000\r#comment\n   \n\tspace new");
	assert_string_equal(host_output(), "mon> space new\r\nspace 1\r\n"
	                                   "mon> lookup 1 0x2000\r\n1:0x2000 -> none\r\n"
	                                   "mon> space new\r\nspace 2\r\n"
	                                   "startup.mon: done, 0x5 lines\r\nmon> ");
}

/* An empty script (or one of comments only) says so and gives the prompt. */
static void test_empty_script(void **state)
{
	struct con *c = *state;

	run(c, "");
	assert_string_equal(host_output(), "startup.mon: done, 0x0 lines\r\nmon> ");
	host_output_reset();
	run(c, "# nothing\n\n");
	assert_string_equal(host_output(), "startup.mon: done, 0x2 lines\r\nmon> ");
}

/* With `echo off` the lines are not shown, as typed ones would not be. */
static void test_echo_off(void **state)
{
	struct con *c = *state;

	run(c, "echo off\nspace new\n");
	assert_string_equal(host_output(), "mon> echo off\r\n"
	                                   "mon> \r\nspace 1\r\n"
	                                   "startup.mon: done, 0x2 lines\r\nmon> ");
}

/* Lines the line editor would refuse are refused here too: one error line,
 * nothing run, and the script stops. */
static void test_refused_lines(void **state)
{
	struct con *c = *state;
	char *long_line = malloc(CON_LINE_MAX + 32);

	assert_non_null(long_line);
	memset(long_line, 'x', CON_LINE_MAX + 30);
	memcpy(long_line, "space new ", 10);
	long_line[CON_LINE_MAX + 30] = '\0';
	run(c, long_line);
	free(long_line);
	assert_int_equal(count(host_output(), "error: line too long (0x"), 0);
	assert_int_equal(count(host_output(), "error: line too long ("), 1);
	assert_null(strstr(host_output(), "space 1"));
	assert_true(ends_with("startup.mon: stopped at line 0x1 after an error\r\nmon> "));

	host_output_reset();
	run(c, "space \x01new\nspace new\n");
	assert_non_null(strstr(host_output(), "mon> space ?new\r\nerror: line holds an unprintable "
	                                      "byte 0x1; nothing was run\r\n"));
	assert_int_equal(count(host_output(), "error: line holds an unprintable byte 0x1"), 1);
	assert_null(strstr(host_output(), "space 1"));
	assert_true(ends_with("startup.mon: stopped at line 0x1 after an error\r\nmon> "));
}

/* `halt` ends the script: no later line runs and no closing line follows. */
static void test_halt_ends_the_script(void **state)
{
	struct con *c = *state;
	unsigned before = host_poweroffs();

	run(c, "halt\nspace new\n");
	assert_int_equal(host_poweroffs(), before + 1);
	assert_null(strstr(host_output(), "space 1"));
	assert_null(strstr(host_output(), "startup.mon:"));
}

/* A directive with a bad word is no directive: it fails as a command. */
static void test_bad_directive_is_an_error(void **state)
{
	struct con *c = *state;

	run(c, "onerror maybe\nspace new\n");
	assert_int_equal(count(host_output(), "error: unknown command 'onerror'"), 1);
	assert_null(strstr(host_output(), "space 1"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_con_setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_boot_runs_the_platform_script),
	    T(test_stops_at_first_error),
	    T(test_onerror_continue_and_stop),
	    T(test_line_ends_comments_and_blanks),
	    T(test_empty_script),
	    T(test_echo_off),
	    T(test_refused_lines),
	    T(test_halt_ends_the_script),
	    T(test_bad_directive_is_an_error),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
