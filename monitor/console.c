#include "console.h"

#include "guest.h"

#include "fmt.h"
#include "platform.h"
#include "x86_exc.h"

/* ---- output ------------------------------------------------------------ */

void con_putc(char ch)
{
	if (ch == '\n')
		plat_putc('\r');
	plat_putc((uint8_t)ch);
}

void con_puts(const char *s)
{
	while (*s)
		con_putc(*s++);
}

void con_printf(const char *fmt, ...)
{
	char buf[512]; /* a line or two; longer texts go through con_puts */
	va_list ap;

	va_start(ap, fmt);
	fmt_vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	con_puts(buf);
}

/* The name in parentheses: console.h makes con_fail a macro for clang's analyzer. */
err_t(con_fail)(struct con *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fmt_vformat(c->errbuf, sizeof(c->errbuf), fmt, ap);
	va_end(ap);
	return c->errbuf;
}

/* ---- parsers ----------------------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

err_t con_tokenize(char *s, char **argv, int max, int *argc)
{
	int n = 0;

	for (;;) {
		while (is_blank(*s))
			*s++ = '\0';
		if (!*s)
			break;
		if (n == max)
			return "too many arguments";
		argv[n++] = s;
		while (*s && !is_blank(*s))
			s++;
	}
	*argc = n;
	return NULL;
}

static int digit_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

err_t con_parse_number(const char *s, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	const char *p = s;

	if (!*p)
		return "empty number";
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	const char *digits = p;
	for (int d; (d = digit_value(*p)) >= 0 && (unsigned)d < base; p++) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return "number out of range (more than 64 bits)";
		v = v * base + (uint64_t)d;
	}
	if (p == digits)
		return "not a number";

	unsigned shift = 0;
	switch (*p) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	}
	if (shift) {
		p++;
		if (v > (UINT64_MAX >> shift))
			return "number out of range (more than 64 bits)";
		v <<= shift;
	}
	if (*p)
		return "not a number";
	*out = v;
	return NULL;
}

err_t con_parse_addr(const char *s, uint64_t *out)
{
	uint64_t v;
	err_t e = con_parse_number(s, &v);

	if (e)
		return e;
	/* Canonical: bits 63..47 are copies of bit 47 (48-bit virtual space). */
	uint64_t top = v >> 47;
	if (top != 0 && top != 0x1ffff)
		return "non-canonical address";
	*out = v;
	return NULL;
}

/* ---- dispatch ---------------------------------------------------------- */

bool con_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

const struct con_cmd *con_find(const char *name)
{
	for (size_t i = 0; i < con_ncmds; i++)
		if (con_streq(con_cmds[i].name, name))
			return &con_cmds[i];
	return NULL;
}

struct guarded {
	struct con *c;
	const struct con_cmd *cmd;
	int argc;
	char **argv;
	err_t err;
};

static int run_guarded(void *arg)
{
	struct guarded *g = arg;

	g->err = g->cmd->run(g->c, g->argc, g->argv);
	return 0;
}

err_t con_exec(struct con *c, const char *line)
{
	char buf[CON_LINE_MAX + 1];
	char *argv[CON_MAX_ARGS];
	int argc;
	size_t n = 0;

	while (n < CON_LINE_MAX && line[n]) {
		buf[n] = line[n];
		n++;
	}
	buf[n] = '\0';

	err_t err = con_tokenize(buf, argv, CON_MAX_ARGS, &argc);
	if (!err && argc > 0) {
		struct guarded g = {c, con_find(argv[0]), argc, argv, NULL};
		int vector;

		if (!g.cmd) {
			err = con_fail(c, "unknown command '%.40s' (try help)", argv[0]);
		} else if (argc - 1 < g.cmd->min_args) {
			err = con_fail(c, "%s: missing argument (see help %s)", argv[0], argv[0]);
		} else if (argc - 1 > g.cmd->max_args) {
			err = con_fail(c, "%s: too many arguments (see help %s)", argv[0], argv[0]);
		} else if (plat_guarded_call(run_guarded, &g, &vector) == PLAT_FAULTED) {
			err = con_fail(c, "%s: aborted by CPU exception %s (vector %d)",
			               g.cmd->name, x86_exc_name(vector), vector);
		} else {
			err = g.err;
		}
	}
	if (err)
		con_printf("error: %s\n", err);
	/* SPEC section 4: a command that changed a space whose guest runs on
	 * another CPU returns only when no CPU can reach what it removed. */
	const uint64_t missed = guest_sync();
	for (unsigned k = 1; k < 64; k++)
		if (missed >> k & 1)
			con_printf("warning: cpu %u did not acknowledge the TLB shootdown\n", k);
	return err;
}

/* ---- line editor ------------------------------------------------------- */

void con_init(struct con *c)
{
	for (size_t i = 0; i < sizeof(*c); i++)
		((volatile char *)c)[i] = 0;
	c->echo = true;
	c->hist_view = -1;
}

void con_prompt(struct con *c)
{
	(void)c;
	con_puts(CON_PROMPT);
}

static bool is_printable(uint8_t b)
{
	return b >= 0x20 && b <= 0x7e;
}

/* Echo one stored byte: an unprintable one shows as '?', one column wide. */
static void echo_byte(struct con *c, uint8_t b)
{
	if (c->echo)
		plat_putc(is_printable(b) ? b : '?');
}

static void clear_line(struct con *c)
{
	c->len = 0;
	c->typed = 0;
	c->damaged = false;
	c->line[0] = '\0';
	c->hist_view = -1;
}

/* Redraw the prompt and the line after the line changed as a whole. */
static void redraw(struct con *c)
{
	if (!c->echo)
		return;
	con_puts("\r\x1b[K" CON_PROMPT);
	for (size_t i = 0; i < c->len; i++)
		echo_byte(c, (uint8_t)c->line[i]);
}

static void hist_add(struct con *c, const char *line)
{
	if (c->hist_count) {
		const char *last = c->hist[(c->hist_count - 1) % CON_HISTORY];
		size_t i = 0;
		while (last[i] && last[i] == line[i])
			i++;
		if (last[i] == line[i])
			return; /* same as the newest entry */
	}
	char *dst = c->hist[c->hist_count % CON_HISTORY];
	size_t i = 0;
	for (; line[i]; i++)
		dst[i] = line[i];
	dst[i] = '\0';
	c->hist_count++;
}

static void hist_show(struct con *c, int view)
{
	c->hist_view = view;
	if (view < 0) {
		c->len = 0;
	} else {
		const char *src = c->hist[(c->hist_count - 1 - (unsigned)view) % CON_HISTORY];
		for (c->len = 0; src[c->len]; c->len++)
			c->line[c->len] = src[c->len];
	}
	c->line[c->len] = '\0';
	c->typed = c->len;
	c->damaged = false;
	redraw(c);
}

static void hist_move(struct con *c, int delta)
{
	int stored = (int)(c->hist_count < CON_HISTORY ? c->hist_count : CON_HISTORY);
	int view = c->hist_view + delta;

	if (view >= stored || view < -1)
		return;
	hist_show(c, view);
}

static bool is_blank_line(const char *s)
{
	while (is_blank(*s))
		s++;
	return !*s;
}

err_t con_refuse_line(struct con *c, const char *line, size_t len, size_t typed)
{
	if (typed > CON_LINE_MAX)
		return con_fail(c, "line too long (%zu characters; the limit is %u)", typed,
		                CON_LINE_MAX);
	for (size_t i = 0; i < len; i++)
		if (!is_printable((uint8_t)line[i]))
			return con_fail(c, "line holds an unprintable byte 0x%x; nothing was run",
			                (unsigned)(uint8_t)line[i]);
	return NULL;
}

static void end_line(struct con *c)
{
	err_t e;

	con_puts("\n");
	if (c->typed <= CON_LINE_MAX && c->damaged) {
		con_puts("error: line damaged on the serial line (overrun, parity, framing or "
		         "break); nothing was run\n");
	} else if ((e = con_refuse_line(c, c->line, c->len, c->typed)) != NULL) {
		con_printf("error: %s\n", e);
	} else if (!is_blank_line(c->line)) {
		hist_add(c, c->line);
		con_exec(c, c->line);
	}
	clear_line(c);
	if (!c->halted)
		con_prompt(c);
}

/*
 * A byte of 0x20 or above inside an escape sequence (ECMA-48 forms):
 *   ESC [ params/intermediates (0x20-0x3f)... final (0x40-0x7e)   CSI
 *   ESC O final                                                    SS3
 *   ESC ] | P | X | ^ | _  string...  BEL or ESC \                 OSC, DCS, ...
 *   ESC intermediates (0x20-0x2f)... final (0x30-0x7e)             nF
 *   ESC final (0x30-0x7e)                                          two bytes
 * Only the arrows without parameters, CSI or SS3 'A' and 'B', do something.
 */
static void arrow_key(struct con *c, uint8_t final)
{
	if (final == 'A' || final == 'B')
		hist_move(c, final == 'A' ? 1 : -1);
}

static void escape_input(struct con *c, uint8_t b)
{
	switch (c->esc) {
	case ESC_GOT:
		c->esc_params = false;
		if (b == '[')
			c->esc = ESC_CSI;
		else if (b == 'O')
			c->esc = ESC_SS3;
		else if (b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_')
			c->esc = ESC_STR;
		else if (b <= 0x2f)
			c->esc = ESC_NF;
		else
			c->esc = ESC_NONE;
		return;
	case ESC_CSI:
		if (b <= 0x3f) {
			c->esc_params = true;
			return;
		}
		if (!c->esc_params)
			arrow_key(c, b);
		c->esc = ESC_NONE; /* the final byte (or a stray one above 0x7e) */
		return;
	case ESC_SS3:
		arrow_key(c, b);
		c->esc = ESC_NONE;
		return;
	case ESC_NF:
		if (b > 0x2f)
			c->esc = ESC_NONE;
		return;
	case ESC_STR: /* swallowed up to its terminator, a control byte */
	case ESC_NONE:
		return;
	}
}

void con_rx_error(struct con *c)
{
	c->damaged = true;
}

/* A byte that arrives inside an escape sequence: true when the sequence
 * took it. A control byte ends any sequence and acts as itself, except
 * the BEL that ends a string sequence (taken). */
static bool escape_takes(struct con *c, uint8_t b)
{
	if (c->esc == ESC_NONE)
		return false;
	if (b >= 0x20) {
		escape_input(c, b);
		return true;
	}
	const enum con_esc was = c->esc;
	c->esc = ESC_NONE;
	return was == ESC_STR && b == 0x07;
}

/* Backspace: take back the last character typed. */
static void backspace(struct con *c)
{
	if (c->typed > CON_LINE_MAX) {
		c->typed--; /* still over the limit: nothing shown changes */
	} else if (c->len) {
		c->line[--c->len] = '\0';
		c->typed--;
		if (c->echo)
			con_puts("\b \b");
	}
}

/* Anything else is stored, unprintable bytes too (shown as '?'), so that
 * backspace can take them back; a line still holding one is refused when
 * it ends, and so is a line typed past the limit. */
static void store(struct con *c, uint8_t b)
{
	c->typed++;
	if (c->typed > CON_LINE_MAX)
		return; /* refused whole when the line ends */
	c->line[c->len++] = (char)b;
	c->line[c->len] = '\0';
	echo_byte(c, b);
}

void con_input(struct con *c, uint8_t b)
{
	const bool after_cr = c->last_cr;

	c->last_cr = (b == '\r');
	if (escape_takes(c, b))
		return;
	switch (b) {
	case '\n':
		if (after_cr)
			return; /* the second half of "\r\n" */
		end_line(c);
		return;
	case '\r':
		end_line(c);
		return;
	case 0x1b:
		c->esc = ESC_GOT;
		return;
	case 0x03: /* Ctrl-C: abandon the line */
		con_puts("^C\n");
		clear_line(c);
		con_prompt(c);
		return;
	case 0x15: /* Ctrl-U: clear the line */
		clear_line(c);
		redraw(c);
		return;
	case 0x08:
	case 0x7f:
		backspace(c);
		return;
	case '\t':
		store(c, ' ');
		return;
	default:
		store(c, b);
		return;
	}
}
