/*
 * The console: a line editor over a byte stream, a tokenizer, the number
 * and rights parsers, and a dispatcher over the command table (cmds.c).
 *
 * Failure convention, used by every function here and by every command:
 * err_t is NULL on success, or a short message saying what was wrong. The
 * dispatcher prints a failing command's message as exactly one line
 * "error: <message>". No command prints "error:" itself.
 */
#ifndef MEMMON_CONSOLE_H
#define MEMMON_CONSOLE_H

#include "types.h"

#define CON_LINE_MAX 1023 /* longest accepted line, in characters */
#define CON_MAX_ARGS 16
#define CON_HISTORY  16
#define CON_PROMPT   "mon> "

enum con_esc { ESC_NONE, ESC_GOT, ESC_CSI, ESC_SS3, ESC_NF, ESC_STR };

struct con {
	char line[CON_LINE_MAX + 1]; /* any bytes but line ends; NUL after them */
	size_t len;                  /* characters in line[] */
	size_t typed;                /* characters typed this line, including refused ones */
	bool damaged;                /* a byte of this line was lost or garbled on the wire */
	bool last_cr;                /* the previous byte was '\r' (so a '\n' ends nothing) */
	enum con_esc esc;            /* where we are in an escape sequence */
	bool esc_params;             /* the CSI sequence has parameter bytes */
	bool echo;
	bool halted; /* `halt` ran and power-off returned (host builds) */

	char hist[CON_HISTORY][CON_LINE_MAX + 1];
	unsigned hist_count; /* lines ever added (ring of CON_HISTORY) */
	int hist_view;       /* -1: editing a new line; k: showing k-th newest */

	char errbuf[160]; /* holds the message of a formatted error */
};

/* Reset `c` to a fresh console with echo on and an empty history. */
void con_init(struct con *c);

/* Print the prompt (at the start of a line). */
void con_prompt(struct con *c);

/* Feed one received byte to the line editor; runs a command at line end. */
void con_input(struct con *c, uint8_t byte);

/* A byte was lost or garbled on the wire: the current line is refused. */
void con_rx_error(struct con *c);

/* Run one command line (already a complete, printable line) and print its
 * output or its single error line. Returns the command's error, if any. */
err_t con_exec(struct con *c, const char *line);

/* Whether a complete line of `len` characters may run, as the line editor
 * judges a typed one: NULL, or why not (more than CON_LINE_MAX characters,
 * `typed` counting those not stored too; an unprintable byte). Prints
 * nothing. The startup script runner (script.c) holds its lines to it. */
err_t con_refuse_line(struct con *c, const char *line, size_t len, size_t typed);

/* Output: '\n' becomes "\r\n" here and only here. */
void con_putc(char ch);
void con_puts(const char *s);
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format an error message into c->errbuf and return it (as err_t). */
err_t con_fail(struct con *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), returns_nonnull));
#ifdef __clang_analyzer__
/* clang's analyzer does not read returns_nonnull on a call's result: say it
 * here, or it follows "failed, yet out-parameters unwritten" paths that the
 * callers' `if (e) return e;` rule out. */
#define con_fail(...) (con_fail(__VA_ARGS__) ?: "")
#endif

/* Split `s` in place on blanks. Returns NULL and sets *argc, or an error
 * when there are more than `max` words. */
err_t con_tokenize(char *s, char **argv, int max, int *argc);

/*
 * Numbers: decimal "4096" or hexadecimal "0x1000", each with an optional
 * binary suffix K, M or G (either case). Refuses empty input, junk, and
 * values that do not fit in 64 bits (also after the suffix).
 */
err_t con_parse_number(const char *s, uint64_t *out);

/* Whether two strings are equal (the console's words: no libc here). */
bool con_streq(const char *a, const char *b);

/* An address: a number that is also canonical (bits 63..47 all equal). */
err_t con_parse_addr(const char *s, uint64_t *out);

/* The command table (cmds.c). */
struct con_cmd {
	const char *name;
	const char *args; /* synopsis of the arguments, "" for none */
	int min_args;     /* arguments after the name, checked by con_exec */
	int max_args;
	const char *summary; /* one line for `help` */
	const char *usage;   /* details for `help CMD` */
	err_t (*run)(struct con *c, int argc, char **argv);
};
extern const struct con_cmd con_cmds[];
extern const size_t con_ncmds;
const struct con_cmd *con_find(const char *name);

#endif
