/*
 * libFuzzer target for the console core.
 *
 * Each input is fed, byte by byte, to a fresh console (then a final "\r"),
 * as if typed on the serial port, and the output is checked against
 * properties that must always hold. The first line of the input is also fed
 * straight to the parsers, the tokenizer and the formatter, and checked
 * against independent oracles (strtoull, snprintf) and round trips.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "fmt.h"
#include "frame.h"
#include "host.h"
#include "monitor.h"
#include "rights.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_console.c:%d: property violated: %s\n", __LINE__,    \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define SENTINEL ((uint64_t)0x5a5a5a5a5a5a5a5a)

static bool printable(unsigned ch)
{
	return ch >= 0x20 && ch <= 0x7e;
}

/* ---- the parsers, on the first line of the input --------------------------- */

static bool all_of(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

static unsigned suffix_shift(char ch)
{
	switch (ch) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	}
	return 0;
}

/*
 * An independent reading of the number grammar through strtoull: returns
 * true and sets *v when `s` is a valid number, false when it is not.
 */
static bool oracle_number(const char *s, uint64_t *v)
{
	char digits[128];
	size_t n = strlen(s);
	unsigned shift = 0;
	int base = 10;
	const char *set = "0123456789";

	if (n == 0 || n >= sizeof(digits))
		return false;
	if (suffix_shift(s[n - 1])) {
		shift = suffix_shift(s[n - 1]);
		n--;
	}
	memcpy(digits, s, n);
	digits[n] = '\0';
	const char *d = digits;
	if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
		base = 16;
		set = "0123456789abcdefABCDEF";
		d += 2;
	}
	if (!*d || !all_of(d, set))
		return false;
	errno = 0;
	unsigned long long x = strtoull(d, NULL, base);
	if (errno == ERANGE)
		return false;
	if (shift && (x >> (64 - shift)) != 0)
		return false;
	*v = (uint64_t)x << shift;
	return true;
}

static void parse_back(const char *text, uint64_t want)
{
	uint64_t v = SENTINEL;

	REQUIRE(con_parse_number(text, &v) == NULL);
	REQUIRE(v == want);
}

static void fuzz_number(const char *s)
{
	uint64_t v = SENTINEL, ov = 0;
	err_t e = con_parse_number(s, &v);
	bool ok = oracle_number(s, &ov);
	char buf[64];

	REQUIRE((e == NULL) == ok);
	if (e) {
		REQUIRE(v == SENTINEL); /* *out untouched on error */
		REQUIRE(e[0] != '\0');
		return;
	}
	REQUIRE(v == ov);
	/* round trips through the formatter */
	fmt_format(buf, sizeof(buf), "0x%lx", v);
	parse_back(buf, v);
	fmt_format(buf, sizeof(buf), "0X%lx", v);
	parse_back(buf, v);
	fmt_format(buf, sizeof(buf), "%lu", v);
	parse_back(buf, v);
	if ((v & 0x3ff) == 0) {
		fmt_format(buf, sizeof(buf), "0x%lxK", v >> 10);
		parse_back(buf, v);
	}
	if ((v & 0xfffff) == 0) {
		fmt_format(buf, sizeof(buf), "%lum", v >> 20);
		parse_back(buf, v);
	}
	if ((v & 0x3fffffff) == 0) {
		fmt_format(buf, sizeof(buf), "0x%lxG", v >> 30);
		parse_back(buf, v);
	}

	/* an address is a number that is canonical */
	uint64_t a = SENTINEL;
	bool canonical = (v >> 47) == 0 || (v >> 47) == 0x1ffff;
	REQUIRE((con_parse_addr(s, &a) == NULL) == canonical);
	REQUIRE(a == (canonical ? v : SENTINEL));
}

static void fuzz_rights(const char *s)
{
	unsigned r = 0xdead, want = 0;
	bool ok = *s != '\0';

	static const char letters_by_bit[] = "rwx"; /* RIGHTS_R, RIGHTS_W, RIGHTS_X */
	_Static_assert(RIGHTS_R == 1 && RIGHTS_W == 2 && RIGHTS_X == 4, "bit k is letter k");

	for (const char *p = s; *p && ok; p++) {
		const char *at = strchr(letters_by_bit, *p);
		unsigned bit = at ? 1u << (at - letters_by_bit) : 0;
		if (!bit || (want & bit))
			ok = false;
		else
			want |= bit;
	}
	ok = ok && (want & RIGHTS_R);

	err_t e = rights_parse(s, &r);
	REQUIRE((e == NULL) == ok);
	if (e) {
		REQUIRE(r == 0xdead);
		return;
	}
	REQUIRE(r == want);

	char f[4], letters[4];
	size_t n = 0;
	unsigned back = 0;
	rights_format(r, f);
	REQUIRE(strlen(f) == 3);
	for (int i = 0; i < 3; i++)
		if (f[i] != '-')
			letters[n++] = f[i];
	letters[n] = '\0';
	REQUIRE(rights_parse(letters, &back) == NULL && back == r);
}

static void fuzz_tokenize(const char *s)
{
	char copy[128];
	char *argv[CON_MAX_ARGS];
	int argc = -1;
	unsigned words = 0;

	for (size_t i = 0; s[i]; i++)
		if (s[i] != ' ' && s[i] != '\t' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
			words++;
	strcpy(copy, s);
	err_t e = con_tokenize(copy, argv, CON_MAX_ARGS, &argc);
	REQUIRE((e == NULL) == (words <= CON_MAX_ARGS));
	if (e)
		return;
	REQUIRE(argc >= 0 && (unsigned)argc == words);
	for (int i = 0; i < argc; i++) {
		REQUIRE(argv[i][0] != '\0');
		REQUIRE(!strchr(argv[i], ' ') && !strchr(argv[i], '\t'));
		REQUIRE(strstr(s + (argv[i] - copy), argv[i]) == s + (argv[i] - copy));
		if (i)
			REQUIRE(argv[i] > argv[i - 1]);
	}
}

/* fmt_format agrees with the C library on the conversions both share. */
static void fuzz_fmt(const uint8_t *data, size_t size)
{
	uint64_t u = 0;
	char a[48], b[48];
	size_t n = size > 0 ? data[0] % sizeof(a) : sizeof(a);

	memcpy(&u, data, size < 8 ? size : 8);
	int64_t s = (int64_t)u;
	int i = (int)(uint32_t)u;

#define SAME(...)                                                                                  \
	do {                                                                                       \
		memset(a, 'A', sizeof(a));                                                         \
		memset(b, 'A', sizeof(b));                                                         \
		size_t la = fmt_format(a, n, __VA_ARGS__);                                         \
		int lb = snprintf(b, n, __VA_ARGS__);                                              \
		REQUIRE(lb >= 0 && la == (size_t)lb);                                              \
		REQUIRE(memcmp(a, b, sizeof(a)) == 0);                                             \
	} while (0)

	SAME("%lx|%lu", (unsigned long)u, (unsigned long)u);
	SAME("%ld|%d|%i", (long)s, i, ~i);
	SAME("[%020ld][%-21ld][%22ld]", (long)s, (long)s, (long)s);
	SAME("[%08d][%-8d][%8x][%016lx]", i, i, (unsigned)i, (unsigned long)u);
	SAME("%zu %u %c%%", (size_t)u, (unsigned)u, (char)('a' + (u % 26)));
#undef SAME
}

static void fuzz_parsers(const uint8_t *data, size_t size)
{
	char line[128];
	size_t n = 0;

	while (n < size && n < sizeof(line) - 1 && data[n] != '\r' && data[n] != '\n' && data[n])
		n++;
	memcpy(line, data, n);
	line[n] = '\0';

	fuzz_number(line);
	fuzz_rights(line);
	fuzz_tokenize(line);
	fuzz_fmt(data, size);
}

/* ---- the console, fed the whole input ----------------------------------- */

/*
 * A model of how the line editor splits the byte stream: which bytes end a
 * line and which are Ctrl-C, written from ECMA-48's forms rather than from
 * the editor's code. After ESC: '[' opens a control sequence (bytes
 * 0x20-0x3f, then one final byte), 'O' takes one more byte, ']' 'P' 'X' '^'
 * '_' open a string, 0x20-0x2f are intermediates up to a byte above 0x2f,
 * and anything else is a two-byte sequence. Any byte below 0x20 ends a
 * sequence and then acts as itself, except the BEL that ends a string.
 * "\r\n" counts once, even when the '\r' ended a sequence.
 */
struct model {
	enum con_esc esc;
	bool last_cr;
	unsigned line_ends; /* bytes that ended a line */
	unsigned ctrl_c;    /* Ctrl-C bytes that abandoned a line */
};

/* Returns true when `b` ended a line. */
static bool model_byte(struct model *m, uint8_t b)
{
	bool after_cr = m->last_cr;
	static const char strings[] = "]PX^_";

	m->last_cr = b == '\r';
	if (m->esc != ESC_NONE && b < 0x20) {
		bool bel_ends_string = m->esc == ESC_STR && b == 0x07;
		m->esc = ESC_NONE;
		if (bel_ends_string)
			return false;
	} else if (m->esc == ESC_GOT) {
		m->esc = b == '['                ? ESC_CSI
		         : b == 'O'              ? ESC_SS3
		         : memchr(strings, b, 5) ? ESC_STR
		         : b < 0x30              ? ESC_NF
		                                 : ESC_NONE;
		return false;
	} else if (m->esc != ESC_NONE) {
		bool more = (m->esc == ESC_CSI && b < 0x40) || (m->esc == ESC_NF && b < 0x30) ||
		            m->esc == ESC_STR;
		if (!more)
			m->esc = ESC_NONE;
		return false;
	}
	if (b == 0x1b)
		m->esc = ESC_GOT;
	else if (b == 0x03)
		m->ctrl_c++;
	else if (b == '\r' || (b == '\n' && !after_cr)) {
		m->line_ends++;
		return true;
	}
	return false;
}

/* Cheap checks of the editor's state after every byte. */
static void check_editor(const struct con *c, const struct model *m)
{
	unsigned stored = c->hist_count < CON_HISTORY ? c->hist_count : CON_HISTORY;

	REQUIRE(c->len <= CON_LINE_MAX);
	REQUIRE(c->len == (c->typed < CON_LINE_MAX ? c->typed : CON_LINE_MAX));
	REQUIRE(c->line[c->len] == '\0');
	REQUIRE(c->hist_view >= -1 && c->hist_view < (int)stored);
	REQUIRE(c->esc == m->esc);
	REQUIRE(c->last_cr == m->last_cr);
}

/* Full checks of the line and the history (at line ends and at the end). */
static void check_lines(const struct con *c)
{
	unsigned stored = c->hist_count < CON_HISTORY ? c->hist_count : CON_HISTORY;

	REQUIRE(strlen(c->line) <= c->len); /* the line may hold a NUL byte */
	for (unsigned k = 0; k < stored; k++) {
		const char *h = c->hist[(c->hist_count - 1 - k) % CON_HISTORY];
		size_t n = strnlen(h, CON_LINE_MAX + 1);
		REQUIRE(n > 0 && n <= CON_LINE_MAX);
		for (size_t i = 0; i < n; i++)
			REQUIRE(printable((uint8_t)h[i]));
	}
}

static bool starts_with(const char *s, const char *end, const char *prefix)
{
	size_t n = strlen(prefix);

	return (size_t)(end - s) >= n && memcmp(s, prefix, n) == 0;
}

/*
 * The output, split into lines at '\n', is: a prompt line (starting with
 * the prompt: what was typed, echoed), then the output of what that line
 * did, then the next prompt line. Within one such group, an "error:" line
 * is the only line: a failing line prints exactly one error line and
 * nothing else; a succeeding one prints no "error:" line.
 */
static void check_output(const char *out, size_t len, const struct model *m, bool halted,
                         size_t in_size)
{
	const char *end = out + len;
	unsigned prompts = 0, group = 0, group_errors = 0;

	REQUIRE(len <= (in_size + 2) * 16384); /* finite, and bounded by the input */
	for (size_t i = 0; i < len; i++) {
		unsigned ch = (uint8_t)out[i];
		/* printable text, line ends, backspace and ESC (redraw) only:
		 * raw input bytes are never echoed */
		REQUIRE(printable(ch) || ch == '\r' || ch == '\n' || ch == '\b' || ch == 0x1b);
		if (ch == '\n')
			REQUIRE(i > 0 && out[i - 1] == '\r'); /* "\r\n" only */
	}

	REQUIRE(starts_with(out, end, CON_PROMPT));
	for (const char *p = out; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;

		if (starts_with(p, stop, CON_PROMPT)) {
			REQUIRE(group_errors == 0 || (group_errors == 1 && group == 1));
			prompts++;
			group = group_errors = 0;
		} else {
			group++;
			group_errors += starts_with(p, stop, "error:");
		}
		p = nl ? nl + 1 : end;
	}
	REQUIRE(group_errors == 0 || (group_errors == 1 && group == 1));

	/* one prompt at the start, one after each line end and each Ctrl-C,
	 * except after the line that halted */
	REQUIRE(prompts == 1 + m->line_ends + m->ctrl_c - (halted ? 1 : 0));
	unsigned errors = 0;
	for (const char *p = out; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		errors += starts_with(p, nl ? nl : end, "error:");
		p = nl ? nl + 1 : end;
	}
	REQUIRE(errors <= m->line_ends);
}

static struct con con;

static void fuzz_console(const uint8_t *data, size_t size)
{
	struct model m = {ESC_NONE, false, 0, 0};
	unsigned before = host_poweroffs();

	con_init(&con);
	host_output_reset();
	con_prompt(&con);

	for (size_t i = 0; i <= size && !con.halted; i++) {
		uint8_t b = i < size ? data[i] : '\r';
		bool ended = model_byte(&m, b);

		con_input(&con, b);
		check_editor(&con, &m);
		if (ended && !con.halted) {
			check_lines(&con);
			/* a line end leaves an empty line and the prompt */
			REQUIRE(con.len == 0 && con.typed == 0 && !con.damaged);
			REQUIRE(con.hist_view == -1);
			REQUIRE(host_output_len() >= strlen(CON_PROMPT));
			REQUIRE(strcmp(host_output() + host_output_len() - strlen(CON_PROMPT),
			               CON_PROMPT) == 0);
		}
	}
	check_lines(&con);
	REQUIRE(host_poweroffs() == before + (con.halted ? 1 : 0));
	check_output(host_output(), host_output_len(), &m, con.halted, size);
	host_output_reset();
	/* mem, alloc and free with any arguments leave the allocator whole */
	REQUIRE(frame_audit() == NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct con boot;

	(void)argc;
	(void)argv;
	monitor_init(&boot, host_boot_info(64)); /* sets mon_boot for version and memmap */
	host_output_reset();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parsers(data, size);
	fuzz_console(data, size);
	return 0;
}
