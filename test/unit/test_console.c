/*
 * Unit tests of the console core (monitor/console.c, monitor/cmds.c,
 * monitor/fmt.c) on the hosted platform: parsers, tokenizer, line editor,
 * dispatcher and formatter. Each test gets a fresh console and an empty
 * output buffer from the fixture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "unit.h"
#include "fmt.h"
#include "frame.h"
#include "host.h"
#include "monitor.h"
#include "space.h"
#include "platform.h"

#define SENTINEL ((uint64_t)0x5a5a5a5a5a5a5a5a)

/* ---- helpers ------------------------------------------------------------- */

static const char *out(void)
{
	return host_output();
}

static void feed(struct con *c, const void *bytes, size_t n)
{
	const uint8_t *b = bytes;

	for (size_t i = 0; i < n; i++)
		con_input(c, b[i]);
}

static void feed_str(struct con *c, const char *s)
{
	feed(c, s, strlen(s));
}

/* Lines of `s` (each ending in "\n") that start with `prefix`. */
static unsigned count_lines_starting(const char *s, const char *prefix)
{
	unsigned n = 0;
	size_t plen = strlen(prefix);

	for (const char *p = s; *p;) {
		if (strncmp(p, prefix, plen) == 0)
			n++;
		const char *nl = strchr(p, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

static unsigned count_errors(const char *s)
{
	return count_lines_starting(s, "error:");
}

static unsigned count_newlines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static unsigned count_substr(const char *s, const char *needle)
{
	unsigned n = 0;
	size_t len = strlen(needle);

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += len)
		n++;
	return n;
}

/* Run `line` through the dispatcher on a clean output buffer; check the
 * error-line invariant and return the command's error. */
static err_t exec(struct con *c, const char *line)
{
	host_output_reset();
	err_t e = con_exec(c, line);
	if (e) {
		/* exactly one line, and it is the error line */
		assert_int_equal(count_newlines(out()), 1);
		assert_int_equal(count_errors(out()), 1);
		assert_true(strncmp(out(), "error: ", 7) == 0);
		assert_non_null(strstr(out(), e));
	} else {
		assert_int_equal(count_errors(out()), 0);
	}
	return e;
}

/* Build a line of exactly `len` characters: `cmd` followed by blanks. */
static char *padded_line(const char *cmd, size_t len)
{
	char *s = malloc(len + 1);

	assert_non_null(s);
	memset(s, ' ', len);
	memcpy(s, cmd, strlen(cmd));
	s[len] = '\0';
	return s;
}

/* ---- fixture ------------------------------------------------------------- */

static int group_setup(void **state)
{
	static struct con boot_con;

	(void)state;
	monitor_init(&boot_con, host_boot_info(64));
	host_output_reset();
	return 0;
}

/* ---- con_parse_number ---------------------------------------------------- */

static void check_number(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;

	if (con_parse_number(s, &v) != NULL)
		fail_msg("'%s' refused", s);
	if (v != want)
		fail_msg("'%s' gave 0x%llx, want 0x%llx", s, (unsigned long long)v,
		         (unsigned long long)want);
}

static void check_number_refused(const char *s)
{
	uint64_t v = SENTINEL;
	err_t e = con_parse_number(s, &v);

	if (e == NULL)
		fail_msg("'%s' accepted as 0x%llx", s, (unsigned long long)v);
	assert_true(e[0] != '\0');
	assert_int_equal(v, SENTINEL); /* *out untouched */
}

/* Decimal numbers parse, including 0, leading zeros and UINT64_MAX. */
static void test_number_decimal(void **state)
{
	(void)state;
	check_number("0", 0);
	check_number("1", 1);
	check_number("4096", 4096);
	check_number("007", 7);
	check_number("18446744073709551615", UINT64_MAX);
}

/* Hexadecimal with 0x or 0X and either case of digits parses. */
static void test_number_hex(void **state)
{
	(void)state;
	check_number("0x0", 0);
	check_number("0x1000", 0x1000);
	check_number("0X1000", 0x1000);
	check_number("0xabcdef", 0xabcdef);
	check_number("0XABCDEF", 0xabcdef);
	check_number("0xDeadBeef", 0xdeadbeef);
	check_number("0xffffffffffffffff", UINT64_MAX);
	check_number("0XFFFFFFFFFFFFFFFF", UINT64_MAX);
	check_number("0x0000000000000000001", 1);
}

/* K, M and G (either case) multiply by 2^10, 2^20, 2^30. */
static void test_number_suffix(void **state)
{
	(void)state;
	check_number("4K", 4096);
	check_number("4k", 4096);
	check_number("2M", 2u << 20);
	check_number("2m", 2u << 20);
	check_number("1G", 1u << 30);
	check_number("1g", 1u << 30);
	check_number("0x10G", (uint64_t)0x10 << 30);
	check_number("0x10g", (uint64_t)0x10 << 30);
	check_number("0X1fK", (uint64_t)0x1f << 10);
	check_number("0K", 0);
}

/* One more than UINT64_MAX, in decimal or hex, is refused. */
static void test_number_overflow(void **state)
{
	uint64_t v = SENTINEL;

	(void)state;
	check_number_refused("18446744073709551616");
	check_number_refused("18446744073709551620");
	check_number_refused("99999999999999999999");
	check_number_refused("0x10000000000000000");
	check_number_refused("0x1ffffffffffffffff");
	assert_non_null(strstr(con_parse_number("18446744073709551616", &v), "range"));
	assert_non_null(strstr(con_parse_number("0x10000000000000000", &v), "range"));
	assert_int_equal(v, SENTINEL);
}

/* A suffix that pushes the value past 64 bits is refused, exactly at the boundary. */
static void test_number_suffix_overflow(void **state)
{
	uint64_t v = SENTINEL;

	(void)state;
	/* K: the largest value is 2^54 - 1 */
	check_number("0x3fffffffffffffK", 0xfffffffffffffc00);
	check_number("18014398509481983k", 0xfffffffffffffc00);
	check_number_refused("0x40000000000000K");
	check_number_refused("18014398509481984k");
	/* M: 2^44 - 1 */
	check_number("0xfffffffffffM", 0xfffffffffff00000);
	check_number("17592186044415m", 0xfffffffffff00000);
	check_number_refused("0x100000000000M");
	check_number_refused("17592186044416m");
	/* G: 2^34 - 1 */
	check_number("0x3ffffffffG", 0xffffffffc0000000);
	check_number("17179869183g", 0xffffffffc0000000);
	check_number_refused("0x400000000G");
	check_number_refused("17179869184g");
	check_number_refused("0xffffffffffffffffK");
	assert_non_null(strstr(con_parse_number("0x400000000G", &v), "range"));
}

/* Junk is refused with a message and *out is left alone. */
static void test_number_junk(void **state)
{
	static const char *const junk[] = {
	    "",     "0x",   "0X",  "12z", "-1",    "+1",  " 1",  "1 ",    "1K2",
	    "0xG",  "KK",   "K",   "0xK", "4KK",   "4KB", "1.5", "0b1",   "x10",
	    "00x1", "0x-1", "1e3", "12a", "0x1g0", "1\t", "M",   "0x1 0", "\xd9\xa1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		check_number_refused(junk[i]);
}

/* ---- con_parse_addr ------------------------------------------------------ */

/* Canonical addresses of both halves are accepted, others refused untouched. */
static void test_parse_addr(void **state)
{
	static const char *const bad[] = {
	    "0x0000800000000000",
	    "0xfffe000000000000",
	    "0xffff7fffffffffff",
	    "0x8000000000000000",
	    "0x7fffffffffffffff",
	    "0x10000000000000000",
	    "junk",
	    "",
	};
	uint64_t v;

	(void)state;
	v = SENTINEL;
	assert_null(con_parse_addr("0x00007fffffffffff", &v));
	assert_int_equal(v, 0x00007fffffffffff);
	assert_null(con_parse_addr("0xffff800000000000", &v));
	assert_int_equal(v, 0xffff800000000000);
	assert_null(con_parse_addr("0xffffffffffffffff", &v));
	assert_int_equal(v, UINT64_MAX);
	assert_null(con_parse_addr("0", &v));
	assert_int_equal(v, 0);
	assert_null(con_parse_addr("4K", &v));
	assert_int_equal(v, 4096);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = SENTINEL;
		assert_non_null(con_parse_addr(bad[i], &v));
		assert_int_equal(v, SENTINEL);
	}
	assert_non_null(strstr(con_parse_addr("0x0000800000000000", &v), "canonical"));
}

/* ---- rights -------------------------------------------------------------- */

/* Every arrangement of distinct rwx letters that includes r is accepted. */
static void test_parse_rights_valid(void **state)
{
	static const struct {
		const char *s;
		unsigned r;
	} ok[] = {
	    {"r", RIGHTS_R},     {"rw", RIGHTS_RW},   {"wr", RIGHTS_RW},   {"rx", RIGHTS_RX},
	    {"xr", RIGHTS_RX},   {"rwx", RIGHTS_RWX}, {"rxw", RIGHTS_RWX}, {"wrx", RIGHTS_RWX},
	    {"wxr", RIGHTS_RWX}, {"xrw", RIGHTS_RWX}, {"xwr", RIGHTS_RWX},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		unsigned r = 0xdead;
		if (rights_parse(ok[i].s, &r) != NULL)
			fail_msg("'%s' refused", ok[i].s);
		assert_int_equal(r, ok[i].r);
	}
}

/* Rights without r, repeated letters, other letters and upper case are refused. */
static void test_parse_rights_refused(void **state)
{
	static const char *const bad[] = {
	    "", "w", "x", "wx", "xw", "rr", "rwxr", "rwz", "R", "RW", "r w", "r-x", "rw-", "rwxx",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned r = 0xdead;
		if (rights_parse(bad[i], &r) == NULL)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(r, 0xdead);
	}
}

/* rights_format prints all 8 values as three characters with '-'. */
static void test_format_rights(void **state)
{
	static const char *const want[8] = {"---", "r--", "-w-", "rw-", "--x", "r-x", "-wx", "rwx"};

	(void)state;
	for (unsigned r = 0; r < 8; r++) {
		char buf[4] = "???";
		rights_format(r, buf);
		assert_string_equal(buf, want[r]);
	}
	/* and what it prints parses back (letters only) when r is present */
	for (unsigned r = 0; r < 8; r++) {
		if (!rights_valid(r))
			continue;
		char buf[4], letters[4];
		size_t n = 0;
		unsigned back = 0;
		rights_format(r, buf);
		for (size_t i = 0; i < 3; i++)
			if (buf[i] != '-')
				letters[n++] = buf[i];
		letters[n] = '\0';
		assert_null(rights_parse(letters, &back));
		assert_int_equal(back, r);
	}
}

/* ---- con_tokenize -------------------------------------------------------- */

/* Blanks and tabs separate words; leading and trailing blanks make no words. */
static void test_tokenize_blanks(void **state)
{
	char s[] = "  \tmap\t 1  0x1000\t\t2 rw   \t";
	char *argv[CON_MAX_ARGS];
	int argc = -1;

	(void)state;
	assert_null(con_tokenize(s, argv, CON_MAX_ARGS, &argc));
	assert_int_equal(argc, 5);
	assert_string_equal(argv[0], "map");
	assert_string_equal(argv[1], "1");
	assert_string_equal(argv[2], "0x1000");
	assert_string_equal(argv[3], "2");
	assert_string_equal(argv[4], "rw");

	char e[] = "";
	argc = -1;
	assert_null(con_tokenize(e, argv, CON_MAX_ARGS, &argc));
	assert_int_equal(argc, 0);

	char b[] = " \t \t ";
	argc = -1;
	assert_null(con_tokenize(b, argv, CON_MAX_ARGS, &argc));
	assert_int_equal(argc, 0);

	char one[] = "x";
	assert_null(con_tokenize(one, argv, CON_MAX_ARGS, &argc));
	assert_int_equal(argc, 1);
	assert_string_equal(argv[0], "x");
}

/* Exactly CON_MAX_ARGS words are accepted; one more is refused. */
static void test_tokenize_max_args(void **state)
{
	char s[128], t[128];
	char *argv[CON_MAX_ARGS + 1];
	int argc = -1;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < CON_MAX_ARGS; i++)
		n += (size_t)fmt_format(s + n, sizeof(s) - n, " w%d", i);
	memcpy(t, s, n + 1);
	assert_null(con_tokenize(s, argv, CON_MAX_ARGS, &argc));
	assert_int_equal(argc, CON_MAX_ARGS);
	assert_string_equal(argv[0], "w0");
	assert_string_equal(argv[CON_MAX_ARGS - 1], "w15");

	fmt_format(t + n, sizeof(t) - n, " w%d ", CON_MAX_ARGS);
	argc = -1;
	assert_non_null(con_tokenize(t, argv, CON_MAX_ARGS, &argc));
	assert_int_equal(argc, -1);

	char small[] = "a b c";
	assert_non_null(con_tokenize(small, argv, 2, &argc));
}

/* ---- the line editor ----------------------------------------------------- */

/* Typed printable characters are echoed and collected in the line. */
static void test_editor_echo(void **state)
{
	struct con *c = *state;

	feed_str(c, "abc XYZ~");
	assert_string_equal(out(), "abc XYZ~");
	assert_int_equal(c->len, 8);
	assert_string_equal(c->line, "abc XYZ~");
}

/* Bytes queued on the serial port (host_input) reach the editor via plat_getc. */
static void test_editor_via_host_input(void **state)
{
	struct con *c = *state;
	int b;

	host_input("echo off\r", 9);
	while ((b = plat_getc()) >= 0)
		con_input(c, (uint8_t)b);
	assert_false(c->echo);
	assert_string_equal(out(), "echo off\r\n" CON_PROMPT);
}

/* Backspace (0x08 and 0x7f) erases the last character on screen and in the line. */
static void test_editor_backspace(void **state)
{
	struct con *c = *state;

	feed_str(c, "abx\b");
	assert_string_equal(c->line, "ab");
	assert_string_equal(out(), "abx\b \b");
	host_output_reset();
	feed_str(c, "\x7f");
	assert_string_equal(c->line, "a");
	assert_string_equal(out(), "\b \b");
	feed_str(c, "\x7f\x7f\b");
	assert_int_equal(c->len, 0);
	assert_string_equal(out(), "\b \b\b \b"); /* nothing more on an empty line */
	/* the corrected line is what runs */
	feed_str(c, "echo ofx\bf\r");
	assert_false(c->echo);
	assert_int_equal(count_errors(out()), 0);
}

/* Ctrl-U clears the line and redraws an empty prompt; the cleared text never runs. */
static void test_editor_ctrl_u(void **state)
{
	struct con *c = *state;

	feed_str(c, "halt\x15");
	assert_int_equal(c->len, 0);
	assert_string_equal(c->line, "");
	assert_string_equal(out(), "halt\r\x1b[K" CON_PROMPT);
	feed_str(c, "echo off\r");
	assert_false(c->echo);
	assert_int_equal(host_poweroffs(), 0);
	assert_false(c->halted);
}

/* Ctrl-C abandons the line: "^C", a fresh prompt, nothing run, nothing in history. */
static void test_editor_ctrl_c(void **state)
{
	struct con *c = *state;
	unsigned before = host_poweroffs();

	feed_str(c, "halt\x03");
	assert_string_equal(out(), "halt^C\r\n" CON_PROMPT);
	assert_int_equal(host_poweroffs(), before);
	assert_false(c->halted);
	assert_int_equal(c->len, 0);
	assert_int_equal(c->hist_count, 0);
	/* an Enter afterwards runs an empty line only */
	host_output_reset();
	feed_str(c, "\r");
	assert_string_equal(out(), "\r\n" CON_PROMPT);
	assert_int_equal(host_poweroffs(), before);
}

/* CR, LF and CRLF each end exactly one line: one run, one prompt. */
static void test_editor_line_ends(void **state)
{
	static const char *const ends[] = {"\r", "\n", "\r\n"};
	struct con *c = *state;

	for (size_t i = 0; i < 3; i++) {
		con_init(c);
		host_output_reset();
		feed_str(c, "echo");
		feed_str(c, ends[i]);
		assert_string_equal(out(), "echo\r\necho on\r\n" CON_PROMPT);
	}
	/* CRLF CRLF is two empty lines, LF CR is two as well, CR CR too */
	con_init(c);
	host_output_reset();
	feed_str(c, "\r\n\r\n");
	assert_string_equal(out(), "\r\n" CON_PROMPT "\r\n" CON_PROMPT);
	host_output_reset();
	feed_str(c, "\n\r");
	assert_int_equal(count_substr(out(), CON_PROMPT), 2);
	host_output_reset();
	feed_str(c, "\r\r");
	assert_int_equal(count_substr(out(), CON_PROMPT), 2);
}

/* CRLF after a command does not run it twice (a counted side effect: halt). */
static void test_editor_crlf_runs_once(void **state)
{
	struct con *c = *state;
	unsigned before = host_poweroffs();

	feed_str(c, "echo maybe\r\n");
	assert_int_equal(count_errors(out()), 1);
	assert_int_equal(count_substr(out(), CON_PROMPT), 1);
	feed_str(c, "halt\r\n");
	assert_int_equal(host_poweroffs(), before + 1);
	assert_true(c->halted);
}

/* Up and down arrows (ESC [ A / ESC [ B) walk the history; Enter runs the recalled line. */
static void test_editor_history_arrows(void **state)
{
	struct con *c = *state;

	feed_str(c, "echo off\r");
	feed_str(c, "echo on\r");
	assert_true(c->echo);
	assert_int_equal(c->hist_count, 2);

	feed_str(c, "\x1b[A");
	assert_string_equal(c->line, "echo on");
	feed_str(c, "\x1b[A");
	assert_string_equal(c->line, "echo off");
	feed_str(c, "\x1b[A"); /* past the oldest: stays */
	assert_string_equal(c->line, "echo off");
	feed_str(c, "\x1b[B");
	assert_string_equal(c->line, "echo on");
	feed_str(c, "\x1b[B"); /* past the newest: back to an empty line */
	assert_string_equal(c->line, "");
	assert_int_equal(c->len, 0);
	feed_str(c, "\x1b[B");
	assert_string_equal(c->line, "");

	feed_str(c, "\x1b[A\x1b[A");
	host_output_reset();
	feed_str(c, "\r");
	assert_false(c->echo); /* "echo off" ran again */
	assert_string_equal(out(), "\r\n" CON_PROMPT);
}

/* The recalled line is redrawn on the terminal after the prompt. */
static void test_editor_history_redraw(void **state)
{
	struct con *c = *state;

	feed_str(c, "version\r");
	host_output_reset();
	feed_str(c, "xy\x1b[A");
	assert_string_equal(out(), "xy\r\x1b[K" CON_PROMPT "version");
	/* the recalled line can be edited */
	feed_str(c, "\b\bx");
	assert_string_equal(c->line, "versix");
}

/* SS3 arrows (ESC O A / ESC O B) work like the CSI ones. */
static void test_editor_history_ss3(void **state)
{
	struct con *c = *state;

	feed_str(c, "echo off\r");
	feed_str(c, "echo\r");
	feed_str(c, "\x1bOA");
	assert_string_equal(c->line, "echo");
	feed_str(c, "\x1bOA");
	assert_string_equal(c->line, "echo off");
	feed_str(c, "\x1bOB");
	assert_string_equal(c->line, "echo");
	feed_str(c, "\x1bOA\r");
	assert_false(c->echo);
}

/* The history keeps the newest CON_HISTORY lines and skips an immediate repeat. */
static void test_editor_history_ring(void **state)
{
	struct con *c = *state;
	char buf[16];

	feed_str(c, "x0\r");
	feed_str(c, "x0\r");
	assert_int_equal(c->hist_count, 1);
	for (int i = 1; i < 20; i++) {
		fmt_format(buf, sizeof(buf), "x%d\r", i);
		feed_str(c, buf);
	}
	for (int i = 0; i < CON_HISTORY; i++)
		feed_str(c, "\x1b[A");
	assert_string_equal(c->line, "x4"); /* 16th newest of x0..x19 */
	feed_str(c, "\x1b[A");
	assert_string_equal(c->line, "x4");
	/* blank lines do not enter the history */
	con_init(c);
	feed_str(c, "   \r\r");
	assert_int_equal(c->hist_count, 0);
}

/* Unknown escape sequences are swallowed whole: no characters inserted, nothing echoed. */
static void test_editor_unknown_escape(void **state)
{
	struct con *c = *state;

	feed_str(c, "ab");
	feed_str(c, "\x1b[1;5C"); /* ctrl-right */
	feed_str(c, "\x1b[2~");   /* insert */
	feed_str(c, "\x1b[C");    /* right */
	feed_str(c, "\x1b[D");    /* left */
	feed_str(c, "\x1bOP");    /* F1 */
	feed_str(c, "\x1b[1;5A"); /* ctrl-up: a parameter, so not the history */
	feed_str(c,
	         "\x1b[;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;m");
	feed_str(c, "\x1b]0;window title\x07"); /* OSC ended by BEL */
	feed_str(c, "\x1b]2;title\x1b\\");      /* OSC ended by ESC \ */
	feed_str(c, "\x1bPq#0;2;0;0;0\x1b\\");  /* DCS */
	feed_str(c, "\x1b(B");                  /* nF: designate a character set */
	feed_str(c, "\x1b"
	            "7"
	            "\x1b"
	            "8"); /* two-byte: save and restore cursor */
	feed_str(c, "c");
	assert_string_equal(c->line, "abc");
	assert_string_equal(out(), "abc");
	assert_int_equal(c->esc, ESC_NONE);
}

/* A CSI sequence with many parameters is swallowed up to its final byte; no
 * text after the 16th parameter byte leaks into the line and runs. */
static void test_editor_long_escape_does_not_leak(void **state)
{
	struct con *c = *state;
	unsigned before = host_poweroffs();

	feed_str(c, "\x1b[;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;A\r"); /* params, so no history */
	feed_str(c,
	         "\x1b[;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;~halt\x1b[1;5~\x15");
	assert_int_equal(c->len, 0);
	feed_str(c, "\x1b[11111111111111111111111111111111111111111111111111111111~\r");
	assert_int_equal(host_poweroffs(), before);
	assert_false(c->halted);
	assert_int_equal(count_errors(out()), 0);
}

/* A control byte inside an escape sequence ends it and acts as itself: ESC then
 * Enter still ends the line, ESC ESC [ A is one history step, not "[A". */
static void test_editor_control_ends_escape(void **state)
{
	struct con *c = *state;

	feed_str(c, "echo off\x1b\r");
	assert_false(c->echo);
	feed_str(c, "echo on\x1b[1\r");
	assert_true(c->echo);
	feed_str(c, "\x1b\x1b[A");
	assert_string_equal(c->line, "echo on");
	feed_str(c, "\x1b\x03");
	assert_int_equal(c->len, 0);
	assert_int_equal(c->esc, ESC_NONE);
}

/* A 1023-character line is accepted and runs. */
static void test_editor_line_max(void **state)
{
	struct con *c = *state;
	char *line = padded_line("echo off", CON_LINE_MAX);

	feed_str(c, line);
	assert_int_equal(c->len, CON_LINE_MAX);
	assert_int_equal(host_output_len(), CON_LINE_MAX); /* every character echoed */
	feed_str(c, "\r");
	assert_false(c->echo);
	assert_int_equal(count_errors(out()), 0);
	free(line);
}

/* A 1024-character line is refused whole with "error: line too long", nothing run. */
static void test_editor_line_too_long(void **state)
{
	struct con *c = *state;
	char *line = padded_line("echo off", CON_LINE_MAX + 1);

	feed_str(c, line);
	assert_int_equal(c->len, CON_LINE_MAX);
	assert_int_equal(host_output_len(), CON_LINE_MAX); /* the excess is not echoed */
	host_output_reset();
	feed_str(c, "\r");
	assert_true(c->echo);
	assert_int_equal(count_errors(out()), 1);
	assert_true(strncmp(out(), "\r\nerror: line too long", 22) == 0);
	assert_int_equal(count_newlines(out()), 2);
	assert_int_equal(c->hist_count, 0);
	assert_int_equal(c->len, 0);
	/* far longer lines too */
	host_output_reset();
	for (int i = 0; i < 3; i++)
		feed_str(c, line);
	feed_str(c, "\r");
	assert_int_equal(count_errors(out()), 1);
	assert_true(c->echo);
	free(line);
}

/* Backspace over the excess of a too-long line brings it back within the limit. */
static void test_editor_line_too_long_backspace(void **state)
{
	struct con *c = *state;
	char *line = padded_line("echo off", CON_LINE_MAX + 2);

	feed_str(c, line);
	feed_str(c, "\b\b\r");
	assert_false(c->echo);
	assert_int_equal(count_errors(out()), 0);
	free(line);
}

/* Raw control bytes and bytes >= 0x80 are shown as '?' and kept in the line;
 * a line still holding one gives exactly one error line at its end, nothing run;
 * backspace takes such a byte back like any other. */
static void test_editor_bad_bytes(void **state)
{
	struct con *c = *state;

	for (unsigned b = 0; b < 256; b++) {
		if (b == 0x03 || b == 0x08 || b == '\t' || b == '\n' || b == '\r' || b == 0x15 ||
		    b == 0x1b || (b >= 0x20 && b <= 0x7f))
			continue;
		con_init(c);
		host_output_reset();
		feed_str(c, "echo of");
		con_input(c, (uint8_t)b);
		con_input(c, (uint8_t)b);
		feed_str(c, "f");
		assert_int_equal(c->len, 10);
		assert_int_equal((uint8_t)c->line[7], b);
		assert_string_equal(out(), "echo of??f");
		feed_str(c, "\r");
		if (count_errors(out()) != 1)
			fail_msg("byte 0x%x: %u error lines", b, count_errors(out()));
		assert_non_null(strstr(out(), "unprintable"));
		assert_true(c->echo);
		assert_int_equal(c->hist_count, 0);
		assert_int_equal(c->len, 0);

		/* taken back with backspace, the line is good again */
		host_output_reset();
		feed_str(c, "echo of");
		con_input(c, (uint8_t)b);
		feed_str(c, "\x7f"
		            "f\r");
		assert_int_equal(count_errors(out()), 0);
		assert_false(c->echo);
	}
}

/* A byte garbled on the wire (overrun, parity, framing, break) spoils its line. */
static void test_editor_rx_error(void **state)
{
	struct con *c = *state;

	feed_str(c, "echo o");
	con_rx_error(c);
	feed_str(c, "ff\r");
	assert_true(c->echo);
	assert_int_equal(count_errors(out()), 1);
	assert_non_null(strstr(out(), "error: line damaged on the serial line"));
	host_output_reset();
	feed_str(c, "echo off\r"); /* the next line is whole again */
	assert_false(c->echo);
	assert_int_equal(count_errors(out()), 0);
}

/* A tab is taken as a blank (echoed as one). */
static void test_editor_tab(void **state)
{
	struct con *c = *state;

	feed_str(c, "echo\toff");
	assert_string_equal(out(), "echo off");
	feed_str(c, "\r");
	assert_false(c->echo);
}

/* With echo off, typed characters and backspaces are not echoed but line ends still are. */
static void test_editor_echo_off(void **state)
{
	struct con *c = *state;

	feed_str(c, "echo off\r");
	host_output_reset();
	feed_str(c, "abc\b\x15xyz\x1b[A");
	assert_string_equal(out(), "");
	assert_string_equal(c->line, "echo off");
	feed_str(c, "\x15\r");
	assert_string_equal(out(), "\r\n" CON_PROMPT);
	host_output_reset();
	feed_str(c, "echo\r");
	assert_string_equal(out(), "\r\necho off\r\n" CON_PROMPT);
	host_output_reset();
	feed_str(c, "echo on\r");
	assert_true(c->echo);
	feed_str(c, "ab");
	assert_non_null(strstr(out(), "ab"));
}

/* ---- dispatch ------------------------------------------------------------ */

/* An unknown command prints one "error: " line and nothing else. */
static void test_exec_unknown(void **state)
{
	struct con *c = *state;

	assert_non_null(exec(c, "nosuch 1 2"));
	assert_string_equal(out(), "error: unknown command 'nosuch' (try help)\r\n");
	assert_non_null(exec(c, "hel"));
	assert_non_null(exec(c, "helpx"));
	assert_non_null(exec(c, "HELP"));
}

/* A blank line runs nothing and prints nothing. */
static void test_exec_blank(void **state)
{
	struct con *c = *state;

	assert_null(exec(c, ""));
	assert_string_equal(out(), "");
	assert_null(exec(c, " \t "));
	assert_string_equal(out(), "");
}

/* `help` lists every command of the table, one line each. */
static void test_help_lists_all(void **state)
{
	struct con *c = *state;

	assert_null(exec(c, "help"));
	assert_int_equal(count_newlines(out()), con_ncmds);
	for (size_t i = 0; i < con_ncmds; i++) {
		char want[64];
		fmt_format(want, sizeof(want), "  %s ", con_cmds[i].name);
		if (count_lines_starting(out(), want) != 1)
			fail_msg("help does not list %s", con_cmds[i].name);
		/* the whole synopsis, not cut short */
		char syn[128];
		fmt_format(syn, sizeof(syn), "  %s %s", con_cmds[i].name, con_cmds[i].args);
		if (!strstr(out(), syn))
			fail_msg("help cuts the synopsis of %s short", con_cmds[i].name);
		assert_non_null(strstr(out(), con_cmds[i].summary));
	}
}

/* `help CMD` prints the synopsis line, then the whole usage text of each command. */
static void test_help_cmd(void **state)
{
	struct con *c = *state;

	for (size_t i = 0; i < con_ncmds; i++) {
		const struct con_cmd *cmd = &con_cmds[i];
		char line[64];
		size_t n, len = strlen(cmd->usage);
		char *want = malloc(128 + 2 * len);

		assert_non_null(want);
		assert_true(len > 0);
		n = fmt_format(want, 128, "usage: %s %s\r\n", cmd->name, cmd->args);
		for (size_t k = 0; k < len; k++) {
			if (cmd->usage[k] == '\n')
				want[n++] = '\r';
			want[n++] = cmd->usage[k];
		}
		memcpy(want + n, "\r\n", 3);
		fmt_format(line, sizeof(line), "help %s", cmd->name);
		assert_null(exec(c, line));
		assert_string_equal(out(), want);
		assert_ptr_equal(con_find(cmd->name), cmd);
		free(want);
	}
}

/* `help nosuch` and `help a b` are errors. */
static void test_help_errors(void **state)
{
	struct con *c = *state;

	assert_non_null(exec(c, "help nosuch"));
	assert_non_null(strstr(out(), "nosuch"));
	assert_non_null(exec(c, "help help help"));
}

/* `echo off`/`echo on` switch the echo; `echo` shows it; `echo maybe` is an error. */
static void test_echo_cmd(void **state)
{
	struct con *c = *state;

	assert_null(exec(c, "echo off"));
	assert_string_equal(out(), "");
	assert_false(c->echo);
	assert_null(exec(c, "echo"));
	assert_string_equal(out(), "echo off\r\n");
	assert_non_null(exec(c, "echo maybe"));
	assert_false(c->echo); /* a failing command changes nothing */
	assert_null(exec(c, "echo on"));
	assert_true(c->echo);
	assert_null(exec(c, "echo"));
	assert_string_equal(out(), "echo on\r\n");
	assert_non_null(exec(c, "echo ON"));
	assert_non_null(exec(c, "echo off on"));
	assert_true(c->echo);
}

/* `version` names memmon, its version and the firmware. */
static void test_version(void **state)
{
	struct con *c = *state;

	assert_null(exec(c, "version"));
	assert_non_null(strstr(out(), "memmon"));
	assert_true(strncmp(out(), "memmon " MEMMON_VERSION " build ",
	                    strlen("memmon " MEMMON_VERSION " build ")) == 0);
	assert_non_null(strstr(out(), "firmware host"));
	assert_non_null(exec(c, "version 2"));
}

/* `memmap` prints one line per firmware region, then the summary. */
static void test_memmap(void **state)
{
	struct con *c = *state;

	assert_non_null(mon_boot);
	assert_null(exec(c, "memmap"));
	assert_int_equal(count_lines_starting(out(), "0x"), mon_boot->nregions);
	assert_int_equal(count_lines_starting(out(), "memmap: descriptors "), 1);
	assert_int_equal(count_newlines(out()), mon_boot->nregions + 2);

	/* region lines come first, in order, then the summary */
	const char *p = out();
	for (size_t i = 0; i < mon_boot->nregions; i++) {
		const struct mm_region *r = &mon_boot->regions[i];
		char want[64];
		fmt_format(want, sizeof(want), "0x%lx-0x%lx %-12s", r->base,
		           r->base + r->pages * PAGE_SIZE, mm_kind_name(r->kind));
		assert_true(strncmp(p, want, strlen(want)) == 0);
		p = strchr(p, '\n') + 1;
	}
	char sum[40];
	fmt_format(sum, sizeof(sum), "memmap: descriptors 0x%zx ", mon_boot->nregions);
	assert_true(strncmp(p, sum, strlen(sum)) == 0);
	assert_non_null(exec(c, "memmap all"));
}

/* monitor_init sorts the firmware's regions by address (host_boot_info lists them out of
 * order), and `memmap PA` finds the one region holding PA. */
static void test_memmap_sorted_and_find(void **state)
{
	struct con *c = *state;

	for (size_t i = 1; i < mon_boot->nregions; i++)
		assert_true(mon_boot->regions[i - 1].base +
		                mon_boot->regions[i - 1].pages * PAGE_SIZE <=
		            mon_boot->regions[i].base);
	assert_null(exec(c, "memmap 0x100fff"));
	assert_true(strncmp(out(), "0x100000-0x800000 conventional", 30) == 0);
	assert_null(exec(c, "memmap 0xa0000"));
	assert_string_equal(out(), "0xa0000: in no firmware descriptor\r\n");
	assert_non_null(exec(c, "memmap 0x10000000000000"));
	assert_non_null(exec(c, "memmap 0x1K2"));
}

/* `halt` powers off (plat_poweroff called) and marks the console halted; no prompt follows. */
static void test_halt(void **state)
{
	struct con *c = *state;
	unsigned before = host_poweroffs();

	assert_non_null(exec(c, "halt now"));
	assert_int_equal(host_poweroffs(), before);
	assert_false(c->halted);

	host_output_reset();
	feed_str(c, "halt\r");
	assert_int_equal(host_poweroffs(), before + 1);
	assert_true(c->halted);
	assert_string_equal(out(), "halt\r\nhalting\r\n");
}

/* `trap` cannot raise exceptions on the host: an error, as are bad kinds and arity. */
static void test_trap_host(void **state)
{
	static const char *const kinds[] = {"de", "bp", "ud", "gp", "pf"};
	struct con *c = *state;
	char line[16];

	for (size_t i = 0; i < 5; i++) {
		fmt_format(line, sizeof(line), "trap %s", kinds[i]);
		assert_non_null(exec(c, line));
		assert_non_null(strstr(out(), "cannot raise"));
	}
	assert_non_null(exec(c, "trap"));
	assert_non_null(exec(c, "trap xx"));
	assert_non_null(exec(c, "trap pf pf"));
}

/* Too many arguments is an error, for commands and for the tokenizer's limit. */
static void test_too_many_args(void **state)
{
	struct con *c = *state;

	assert_non_null(exec(c, "help a b"));
	assert_non_null(strstr(out(), "too many"));
	assert_non_null(exec(c, "version x"));
	assert_non_null(exec(c, "memmap 1 2"));
	assert_non_null(exec(c, "echo on off"));
	assert_true(c->echo);
	assert_non_null(exec(c, "help 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"));
	assert_non_null(strstr(out(), "too many"));
}

/* The dispatcher holds every command of the table to its argument counts:
 * one argument too many, or one too few, is an error before the command runs. */
static void test_table_argument_counts(void **state)
{
	struct con *c = *state;

	for (size_t i = 0; i < con_ncmds; i++) {
		const struct con_cmd *cmd = &con_cmds[i];
		char line[128];
		size_t n = fmt_format(line, sizeof(line), "%s", cmd->name);

		assert_true(cmd->min_args >= 0 && cmd->min_args <= cmd->max_args);
		assert_true(cmd->max_args < CON_MAX_ARGS);
		for (int k = 0; k <= cmd->max_args; k++)
			n += fmt_format(line + n, sizeof(line) - n, " zz");
		unsigned before = host_poweroffs();
		assert_non_null(exec(c, line));
		assert_non_null(strstr(out(), "too many arguments"));
		if (cmd->min_args > 0) {
			assert_non_null(exec(c, cmd->name));
			assert_non_null(strstr(out(), "missing argument"));
		}
		assert_int_equal(host_poweroffs(), before);
	}
}

/* A failing command prints exactly one "error:" line; a succeeding one prints none. */
static void test_error_invariant(void **state)
{
	static const struct {
		const char *line;
		bool fails;
	} cases[] = {
	    {"help", false},
	    {"help echo", false},
	    {"help x", true},
	    {"help a b", true},
	    {"version", false},
	    {"version x", true},
	    {"memmap", false},
	    {"memmap x", true},
	    {"echo", false},
	    {"echo off", false},
	    {"echo on", false},
	    {"echo x", true},
	    {"trap", true},
	    {"trap pf", true},
	    {"trap zz", true},
	    {"nosuch", true},
	    {"", false},
	    {"  ", false},
	    {"halt x", true},
	    {"0x10", true},
	    {"help help", false},
	    {"help trap", false},
	    {"error:", true},
	    {"echo on\toff", true},
	    {"help memmap", false},
	    {"help version", false},
	};
	struct con *c = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_t e = exec(c, cases[i].line); /* exec() checks the line counts */
		if ((e != NULL) != cases[i].fails)
			fail_msg("'%s': %s", cases[i].line, e ? e : "succeeded");
	}
	/* the same through the line editor: one error line per failing line */
	con_init(c);
	host_output_reset();
	feed_str(c, "nosuch\rhelp x\recho\rtrap pf\r");
	assert_int_equal(count_errors(out()), 3);
	assert_int_equal(count_substr(out(), CON_PROMPT), 4);
}

/* ---- fmt_format ---------------------------------------------------------- */

/* %s honours a precision and a width, left-aligned with '-'. */
static void test_fmt_strings(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(fmt_format(buf, sizeof(buf), "%.3s", "abcdef"), 3);
	assert_string_equal(buf, "abc");
	fmt_format(buf, sizeof(buf), "%.10s|", "abc");
	assert_string_equal(buf, "abc|");
	fmt_format(buf, sizeof(buf), "[%.0s]", "abc");
	assert_string_equal(buf, "[]");
	fmt_format(buf, sizeof(buf), "[%5s]", "ab");
	assert_string_equal(buf, "[   ab]");
	fmt_format(buf, sizeof(buf), "[%-5s]", "ab");
	assert_string_equal(buf, "[ab   ]");
	fmt_format(buf, sizeof(buf), "[%-6.2s]", "abcdef");
	assert_string_equal(buf, "[ab    ]");
	fmt_format(buf, sizeof(buf), "[%2s]", "abcdef");
	assert_string_equal(buf, "[abcdef]");
	fmt_format(buf, sizeof(buf), "%c%c%%", 'o', 'k');
	assert_string_equal(buf, "ok%");
	const char *volatile nothing = NULL; /* hidden from the format checker */
	fmt_format(buf, sizeof(buf), "%s", nothing);
	assert_string_equal(buf, "(null)");
}

/* Integers: %d with negatives, %u, %lx, %lu, %zu, widths with '-' and '0'. */
static void test_fmt_numbers(void **state)
{
	char buf[64];

	(void)state;
	fmt_format(buf, sizeof(buf), "%d %d %d", 0, -42, 42);
	assert_string_equal(buf, "0 -42 42");
	fmt_format(buf, sizeof(buf), "%d %i", INT32_MIN, INT32_MAX);
	assert_string_equal(buf, "-2147483648 2147483647");
	fmt_format(buf, sizeof(buf), "%ld %ld", (long)INT64_MIN, (long)INT64_MAX);
	assert_string_equal(buf, "-9223372036854775808 9223372036854775807");
	fmt_format(buf, sizeof(buf), "%lld", -1LL);
	assert_string_equal(buf, "-1");
	fmt_format(buf, sizeof(buf), "%u %x", 4294967295u, 0xdeadbeefu);
	assert_string_equal(buf, "4294967295 deadbeef");
	fmt_format(buf, sizeof(buf), "%lx %lu", (unsigned long)UINT64_MAX,
	           (unsigned long)UINT64_MAX);
	assert_string_equal(buf, "ffffffffffffffff 18446744073709551615");
	fmt_format(buf, sizeof(buf), "0x%lx %zu", 0x1000ul, (size_t)12345);
	assert_string_equal(buf, "0x1000 12345");
	fmt_format(buf, sizeof(buf), "[%5d][%-5d][%05d]", 42, 42, 42);
	assert_string_equal(buf, "[   42][42   ][00042]");
	fmt_format(buf, sizeof(buf), "[%5d][%-5d]", -42, -42);
	assert_string_equal(buf, "[  -42][-42  ]");
	fmt_format(buf, sizeof(buf), "[%08lx][%-6x][%3x]", 0xbeeful, 0xabu, 0x12345u);
	assert_string_equal(buf, "[0000beef][ab    ][12345]");
	fmt_format(buf, sizeof(buf), "%p", (void *)0x1234);
	assert_string_equal(buf, "0x1234");
}

/* Zero padding puts a minus sign before the zeros, as printf does. */
static void test_fmt_zero_pad_negative(void **state)
{
	char buf[32];

	(void)state;
	fmt_format(buf, sizeof(buf), "[%05d]", -42);
	assert_string_equal(buf, "[-0042]");
	fmt_format(buf, sizeof(buf), "[%03d]", -42);
	assert_string_equal(buf, "[-42]");
	fmt_format(buf, sizeof(buf), "[%06ld]", -7L);
	assert_string_equal(buf, "[-00007]");
}

/* A small buffer truncates, still NUL-terminates, and the full length is returned. */
static void test_fmt_truncation(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(fmt_format(buf, sizeof(buf), "%s world", "hello"), 11);
	assert_string_equal(buf, "hello w");
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(fmt_format(buf, 4, "%lx", 0x123456789ul), 9);
	assert_string_equal(buf, "123");
	assert_int_equal(buf[4], 'Z'); /* nothing written past size */
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(fmt_format(buf, 1, "abc"), 3);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'Z');
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(fmt_format(buf, 0, "abc%d", 12), 5);
	assert_int_equal(buf[0], 'Z'); /* size 0: nothing written */
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(fmt_format(buf, sizeof(buf), "%8d", -1), 8);
	assert_string_equal(buf, "      -");
}

/* ---- main ---------------------------------------------------------------- */

#define T(f) cmocka_unit_test_setup_teardown(f, test_con_setup, test_con_teardown)

/* ---- frame commands (mem, alloc, free) ------------------------------------ */

/* A copy of `mem`'s output, to show a refused command changed nothing. */
static void mem_snapshot(struct con *c, char *buf, size_t n)
{
	assert_null(exec(c, "mem"));
	strncpy(buf, out(), n - 1);
	buf[n - 1] = '\0';
}

/* mem prints the fixed form, and its numbers add up: free + used = total,
 * the used frames by owner sum to used; mem PA describes one frame. */
static void test_mem_command(void **state)
{
	struct con *c = *state;
	uint64_t total, free, used, o[5], fw;

	assert_null(exec(c, "mem"));
	assert_int_equal(count_newlines(out()), 6);
	assert_int_equal(
	    sscanf(out(), "frames total 0x%lx free 0x%lx used 0x%lx\r\n", &total, &free, &used), 3);
	assert_int_equal(free + used, total);
	const char *l2 = strchr(out(), '\n') + 1;
	assert_int_equal(sscanf(l2,
	                        "used by monitor 0x%lx ptables 0x%lx mdb 0x%lx clients 0x%lx "
	                        "console 0x%lx\r\n",
	                        &o[0], &o[1], &o[2], &o[3], &o[4]),
	                 5);
	assert_int_equal(o[0] + o[1] + o[2] + o[3] + o[4], used);
	const char *l3 = strchr(l2, '\n') + 1;
	assert_int_equal(sscanf(l3, "firmware keeps 0x%lx frames outside the total", &fw), 1);
	assert_int_equal(fw, 0x8 + 0x100); /* host_boot_info's NVS and runtime data */
	assert_true(strncmp(strchr(l3, '\n') + 1, "largest free block 0x", 21) == 0);
	/* the spaces line: the pool's free frames are the allocator's, every
	 * client frame is reachable or orphaned */
	const char *l6 = strstr(out(), "spaces 0x");
	unsigned nspaces;
	uint64_t pool, pused, pfree, clients, sigma0, reach, orphans, maps;
	assert_non_null(l6);
	assert_int_equal(sscanf(l6,
	                        "spaces 0x%x: pool 0x%lx (used 0x%lx free 0x%lx) clients 0x%lx "
	                        "sigma0 0x%lx reachable 0x%lx orphaned 0x%lx mappings 0x%lx",
	                        &nspaces, &pool, &pused, &pfree, &clients, &sigma0, &reach,
	                        &orphans, &maps),
	                 9);
	assert_int_equal(nspaces, 1);
	assert_int_equal(pfree, free);
	assert_int_equal(pool, pused + pfree);
	assert_int_equal(clients, o[3]);
	assert_int_equal(reach + orphans, clients);
	assert_int_equal(sigma0, clients);

	assert_null(exec(c, "mem 0xa0000"));
	assert_string_equal(out(), "0xa0000: not managed (not RAM memmon took over)\r\n");
	assert_null(exec(c, "mem 0x800fff"));
	assert_true(strncmp(out(), "0x800fff: firmware block 0x800000 ", 34) == 0);
	assert_null(exec(c, "mem 0x0"));
	assert_string_equal(out(), "0x0: monitor block 0x0 order 0x0\r\n");
	assert_null(exec(c, "mem 0x200000"));
	assert_true(strncmp(out(), "0x200000: clients block ", 24) == 0 ||
	            strncmp(out(), "0x200000: free block ", 21) == 0);
	assert_non_null(exec(c, "mem 0x10000000000000"));
	assert_non_null(exec(c, "mem zz"));
}

/* pt dumps memmon's own tables as SPEC's runs: sorted, disjoint, maximal,
 * identity over the host's RAM but page 0; the summary adds up and counts
 * the table pages the allocator gave to ptables. */
static void test_pt_command(void **state)
{
	struct con *c = *state;
	uint64_t runs = 0, pages = 0, prev_end = 0, prev_pa = 0, r, p, t;
	char prev_rights[4] = "", prev_size[3] = "";

	assert_null(exec(c, "pt"));
	const char *line = out();
	for (;;) {
		uint64_t a, b, pa;
		char rights[4], size[3];
		if (sscanf(line, "0x%lx-0x%lx -> 0x%lx %3s %2s\r\n", &a, &b, &pa, rights, size) !=
		    5)
			break;
		assert_int_equal(a, pa); /* identity */
		assert_true(a < b && a >= prev_end && a % PAGE_SIZE == 0);
		assert_true(strlen(rights) == 3 && rights[0] == 'r');
		assert_true(!strcmp(size, "4K") || !strcmp(size, "2M") || !strcmp(size, "1G"));
		/* maximal: a run that continues the previous one (same rights and
		 * size, next page, next frame) would have been joined to it */
		assert_false(a == prev_end && pa == prev_pa && !strcmp(rights, prev_rights) &&
		             !strcmp(size, prev_size));
		if (!runs)
			assert_int_equal(a, PAGE_SIZE); /* page 0 is not mapped */
		runs++;
		pages += (b - a) / PAGE_SIZE;
		prev_end = b, prev_pa = pa + (b - a);
		strcpy(prev_rights, rights), strcpy(prev_size, size);
		line = strchr(line, '\n') + 1;
	}
	assert_int_equal(
	    sscanf(line, "pt monitor: runs 0x%lx pages 0x%lx ptpages 0x%lx\r\n", &r, &p, &t), 3);
	assert_int_equal(r, runs);
	assert_int_equal(p, pages);
	assert_int_equal(t, mon_pt.tables);
	/* the allocator's table pages: memmon's, sigma0's, and the stash's */
	struct frame_stats fs;
	struct space_stats ss;
	frame_stats(&fs);
	space_stats(&ss);
	assert_int_equal(fs.owned[FRAME_PTABLE], t + space_tables(0) + ss.stash);
	assert_non_null(exec(c, "pt 1"));
	assert_null(exec(c, "pt 0 0x1000"));
	assert_non_null(exec(c, "pt 5 0x1000"));
}

/* walk shows one line per level read, then the translation; a hole ends the
 * walk early; junk and non-canonical addresses are one error line. */
static void test_walk_command(void **state)
{
	struct con *c = *state;
	char want[64];

	assert_null(exec(c, "walk 0x1234"));
	assert_int_equal(count_newlines(out()), 6);
	assert_non_null(strstr(out(), "  pml4 0x"));
	assert_non_null(strstr(out(), "  pt   0x"));
	assert_non_null(strstr(out(), "leaf 4K 0x1000 rw-"));
	assert_non_null(strstr(out(), "0x1234 -> 0x1234 rw- 4K\r\n"));
	assert_null(exec(c, "walk 0"));
	assert_non_null(strstr(out(), "absent\r\n0x0 -> none\r\n"));
	assert_null(exec(c, "walk 0x200000")); /* a 2M leaf: three levels read */
	assert_int_equal(count_newlines(out()), 5);
	fmt_format(want, sizeof(want), "0x200000 -> 0x200000 rw- 2M\r\n");
	assert_non_null(strstr(out(), want));
	assert_null(exec(c, "walk 0x7ffffffff000"));
	assert_non_null(strstr(out(), "-> none"));
	assert_non_null(exec(c, "walk 0x800000000000"));
	assert_non_null(exec(c, "walk junk"));
	assert_non_null(exec(c, "walk"));
	assert_non_null(exec(c, "walk 1 2"));
	/* the host cannot raise CPU exceptions: one error line, nothing else */
	assert_non_null(exec(c, "trap wp"));
	assert_non_null(strstr(out(), "cannot raise"));
}

/* alloc prints the run it took, aligned to the next power of two; mem PA
 * shows the console owns it; only its first frame and true length free
 * it; a second free is one error line and changes nothing. */
static void test_alloc_free_commands(void **state)
{
	struct con *c = *state;
	char before[1024], during[1024], line[80], want[160];
	uint64_t pa, count;

	mem_snapshot(c, before, sizeof(before));
	assert_null(exec(c, "alloc 3"));
	assert_int_equal(sscanf(out(), "alloc 0x%lx count 0x%lx\r\n", &pa, &count), 2);
	assert_int_equal(count, 3);
	assert_int_equal(pa % (4 * PAGE_SIZE), 0);
	fmt_format(line, sizeof(line), "mem 0x%lx", pa + PAGE_SIZE);
	assert_null(exec(c, line));
	fmt_format(want, sizeof(want),
	           "0x%lx: console block 0x%lx order 0x1 run 0x%lx frames 0x3\r\n", pa + PAGE_SIZE,
	           pa, pa);
	assert_string_equal(out(), want);
	mem_snapshot(c, during, sizeof(during));

	fmt_format(line, sizeof(line), "free 0x%lx 2", pa);
	assert_non_null(strstr(exec(c, line), "the run is 0x3 frames, not 0x2"));
	fmt_format(line, sizeof(line), "free 0x%lx 3", pa + PAGE_SIZE);
	assert_non_null(strstr(exec(c, line), "not the first frame of an allocated run"));
	mem_snapshot(c, line, sizeof(line));
	assert_true(strncmp(line, during, sizeof(line) - 1) == 0);

	fmt_format(line, sizeof(line), "free 0x%lx 3", pa);
	assert_null(exec(c, line));
	fmt_format(want, sizeof(want), "free 0x%lx count 0x3\r\n", pa);
	assert_string_equal(out(), want);
	assert_non_null(strstr(exec(c, line), "double free"));
	mem_snapshot(c, during, sizeof(during));
	assert_string_equal(during, before);
}

/* The figures of `pool` and of `mem`'s first two lines. */
static void pool_mem_lines(struct con *c, char *buf, size_t n)
{
	assert_null(exec(c, "pool"));
	strncpy(buf, out(), n - 1);
	buf[n - 1] = '\0';
	assert_null(exec(c, "mem"));
	const char *end = strchr(strchr(out(), '\n') + 1, '\n') + 1;
	const size_t len = (size_t)(end - out()), room = n - 1 - strlen(buf);
	strncat(buf, out(), len < room ? len : room);
}

/* The pool's size after a reset, which must be its boot size with sigma0
 * mapping s0 frames and check holding. */
static void reset_to_boot_size(struct con *c, uint64_t s0, uint64_t pool0)
{
	char want[128];
	uint64_t pool, x;

	assert_null(exec(c, "reset"));
	fmt_format(want, sizeof(want), "reset: sigma0 maps 0x%lx frames, no client spaces\r\n", s0);
	assert_string_equal(out(), want);
	assert_null(exec(c, "pool"));
	assert_int_equal(sscanf(out(), "pool frames 0x%lx used 0x%lx", &pool, &x), 2);
	assert_int_equal(pool, pool0);
	assert_non_null(strstr(out(), "console 0x0)\r\n"));
	assert_null(exec(c, "check"));
}

/* reset returns to the boot state. Frames alloc took are freed: after
 * allocs and spaces, mem and pool read exactly as at boot. The pool gets
 * its boot size back (sigma0 may then hold other frames, so only the sizes
 * are compared): after a grow, a shrink, a shrink that leaves the pool
 * 3 frames (the grow back goes in steps, each funding the next), and a
 * fragmented pool that a single shrink of everything cannot take (more runs
 * than one shrink takes: the step halves). */
static void test_reset_boot_state(void **state)
{
	struct con *c = *state;
	char boot[1024], now[1024], line[64];
	uint64_t s0, pool0, used0, free0, x;

	assert_null(exec(c, "reset"));
	assert_int_equal(sscanf(out(), "reset: sigma0 maps 0x%lx frames", &s0), 1);
	pool_mem_lines(c, boot, sizeof(boot));
	assert_int_equal(
	    sscanf(boot, "pool frames 0x%lx used 0x%lx free 0x%lx", &pool0, &used0, &free0), 3);

	assert_null(exec(c, "alloc 3"));
	assert_null(exec(c, "alloc 0x10"));
	assert_null(exec(c, "space new"));
	reset_to_boot_size(c, s0, pool0);
	pool_mem_lines(c, now, sizeof(now));
	assert_string_equal(now, boot);

	assert_null(exec(c, "pool grow 0x11"));
	reset_to_boot_size(c, s0, pool0);
	assert_null(exec(c, "pool shrink 0x321"));
	assert_null(exec(c, "alloc"));
	reset_to_boot_size(c, s0, pool0);

	assert_null(exec(c, "pool"));
	assert_int_equal(
	    sscanf(out(), "pool frames 0x%lx used 0x%lx free 0x%lx", &x, &used0, &free0), 3);
	for (uint64_t n = free0; n;) { /* as far as shrinks go */
		fmt_format(line, sizeof(line), "pool shrink 0x%lx", n);
		if (exec(c, line))
			n /= 2;
	}
	assert_null(exec(c, "pool"));
	assert_int_equal(
	    sscanf(out(), "pool frames 0x%lx used 0x%lx free 0x%lx", &x, &used0, &free0), 3);
	assert_true(free0 < 0x10);
	reset_to_boot_size(c, s0, pool0);

	fmt_format(line, sizeof(line), "pool grow 0x%lx", s0);
	assert_null(exec(c, line));
	/* the pool taken by allocs of falling sizes, as far as each goes, so
	 * that the frames the shrinks give sigma0 lie far apart */
	for (unsigned k = 0; k < 80; k++)
		exec(c, "alloc 0xff");
	for (unsigned n = 0x80; n >= 2; n /= 2)
		for (unsigned k = 0; k < 40; k++) {
			fmt_format(line, sizeof(line), "alloc 0x%x", n);
			exec(c, line);
		}
	assert_null(exec(c, "pool shrink 0x1a"));
	assert_null(exec(c, "pool shrink 8"));
	reset_to_boot_size(c, s0, pool0);
	reset_to_boot_size(c, s0, pool0);
}

/* free refuses what alloc did not hand out (memmon's frames, the
 * firmware's, holes) and bad arguments; alloc refuses bad counts and runs
 * larger than any free block. None of it changes anything. */
static void test_frame_command_refusals(void **state)
{
	static const struct {
		const char *line, *why;
	} cases[] = {
	    {"free 0x0", "not the first frame of an allocated run"},
	    {"free 0x3e00000", "not the first frame of an allocated run"}, /* the image */
	    {"free 0x800000", "not RAM that memmon manages"},              /* NVS */
	    {"free 0xa0000", "not RAM that memmon manages"},               /* a hole */
	    {"free 0xffc00000", "not RAM that memmon manages"},            /* MMIO */
	    {"free 0x100001", "not page-aligned"},
	    {"free 0x10000000000000", "52-bit"},
	    {"free 0x1000 0", "count must be"},
	    {"free 0x1000 0x80000001", "count must be"},
	    {"free 0x1000 zz", "count"},
	    {"alloc 0", "count must be"},
	    {"alloc 0x80000001", "count must be"},
	    {"alloc 0xffffffffffffffffff", "alloc"},
	    {"alloc 0x4000", "no free aligned block that large"},
	};
	struct con *c = *state;
	char before[1024], after[1024];

	mem_snapshot(c, before, sizeof(before));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		err_t e = exec(c, cases[i].line);
		if (!e || !strstr(e, cases[i].why))
			fail_msg("%s: got %s", cases[i].line, e ? e : "success");
	}
	mem_snapshot(c, after, sizeof(after));
	assert_string_equal(after, before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_number_decimal),
	    T(test_number_hex),
	    T(test_number_suffix),
	    T(test_number_overflow),
	    T(test_number_suffix_overflow),
	    T(test_number_junk),
	    T(test_parse_addr),
	    T(test_parse_rights_valid),
	    T(test_parse_rights_refused),
	    T(test_format_rights),
	    T(test_tokenize_blanks),
	    T(test_tokenize_max_args),
	    T(test_editor_echo),
	    T(test_editor_via_host_input),
	    T(test_editor_backspace),
	    T(test_editor_ctrl_u),
	    T(test_editor_ctrl_c),
	    T(test_editor_line_ends),
	    T(test_editor_crlf_runs_once),
	    T(test_editor_history_arrows),
	    T(test_editor_history_redraw),
	    T(test_editor_history_ss3),
	    T(test_editor_history_ring),
	    T(test_editor_unknown_escape),
	    T(test_editor_long_escape_does_not_leak),
	    T(test_editor_control_ends_escape),
	    T(test_editor_line_max),
	    T(test_editor_line_too_long),
	    T(test_editor_line_too_long_backspace),
	    T(test_editor_bad_bytes),
	    T(test_editor_rx_error),
	    T(test_editor_tab),
	    T(test_editor_echo_off),
	    T(test_exec_unknown),
	    T(test_exec_blank),
	    T(test_help_lists_all),
	    T(test_help_cmd),
	    T(test_help_errors),
	    T(test_echo_cmd),
	    T(test_version),
	    T(test_memmap),
	    T(test_memmap_sorted_and_find),
	    T(test_mem_command),
	    T(test_alloc_free_commands),
	    T(test_reset_boot_state),
	    T(test_pt_command),
	    T(test_walk_command),
	    T(test_frame_command_refusals),
	    T(test_halt),
	    T(test_trap_host),
	    T(test_too_many_args),
	    T(test_table_argument_counts),
	    T(test_error_invariant),
	    T(test_fmt_strings),
	    T(test_fmt_numbers),
	    T(test_fmt_zero_pad_negative),
	    T(test_fmt_truncation),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
