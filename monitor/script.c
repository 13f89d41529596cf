#include "script.h"

/* What the runner does when a command fails. */
enum script_onerror { SCRIPT_STOP, SCRIPT_CONTINUE };

static bool script_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* The directive `onerror stop|continue` (surrounding blanks allowed), or
 * false for any other line. */
static bool script_directive(const char *line, enum script_onerror *mode)
{
	static const char word[] = "onerror";
	size_t i = 0;

	for (; word[i]; i++)
		if (line[i] != word[i])
			return false;
	if (!script_blank(line[i]))
		return false;
	while (script_blank(line[i]))
		i++;
	const char *arg = line + i;
	size_t n = 0;
	while (arg[n] && !script_blank(arg[n]))
		n++;
	for (size_t k = n; arg[k]; k++)
		if (!script_blank(arg[k]))
			return false;
	if (n == 4 && arg[0] == 's' && arg[1] == 't' && arg[2] == 'o' && arg[3] == 'p')
		*mode = SCRIPT_STOP;
	else if (n == 8 && arg[0] == 'c' && arg[1] == 'o' && arg[2] == 'n' && arg[3] == 't' &&
	         arg[4] == 'i' && arg[5] == 'n' && arg[6] == 'u' && arg[7] == 'e')
		*mode = SCRIPT_CONTINUE;
	else
		return false;
	return true;
}

/* Echo and run one line of n characters (its blanks at the front trimmed,
 * `typed` the characters it had); returns its error, NULL on success. */
static err_t script_line(struct con *c, const char *line, size_t n, size_t typed,
                         enum script_onerror *mode)
{
	if (c->echo) /* an unprintable byte shows as '?', as the line editor echoes it */
		for (size_t i = 0; i < n; i++)
			con_putc(line[i] >= 0x20 && line[i] <= 0x7e ? line[i] : '?');
	con_puts("\n"); /* with echo off too, as end_line does */
	err_t e = con_refuse_line(c, line, n, typed);
	if (e) {
		con_printf("error: %s\n", e);
		return e;
	}
	if (script_directive(line, mode))
		return NULL;
	return con_exec(c, line);
}

void script_run(struct con *c, const char *text, size_t len)
{
	static char line[CON_LINE_MAX + 1];
	enum script_onerror mode = SCRIPT_STOP;
	unsigned lines = 0;
	size_t at = 0;

	while (at < len) {
		size_t end = at, n = 0, typed = 0;
		bool front = true;

		while (end < len && text[end] != '\n' && text[end] != '\r')
			end++;
		lines++;
		for (size_t i = at; i < end; i++) {
			const char ch = text[i] == '\t' ? ' ' : text[i];
			if (front && ch == ' ')
				continue;
			front = false;
			typed++;
			if (n < CON_LINE_MAX)
				line[n++] = ch;
		}
		line[n] = '\0';
		at = end + 1; /* a line ends in \n, \r or \r\n */
		if (end + 1 < len && text[end] == '\r' && text[end + 1] == '\n')
			at++;
		if (n == 0 || line[0] == '#')
			continue;
		con_prompt(c);
		const err_t e = script_line(c, line, n, typed, &mode);
		if (c->halted)
			return;
		if (e && mode == SCRIPT_STOP) {
			con_printf(SCRIPT_NAME ": stopped at line 0x%x after an error\n", lines);
			con_prompt(c);
			return;
		}
	}
	con_printf(SCRIPT_NAME ": done, 0x%x lines\n", lines);
	con_prompt(c);
}
