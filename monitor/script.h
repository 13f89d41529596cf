/*
 * Startup scripts: the text of `startup.mon` (plat_script) run at the first
 * prompt, line by line, as if each line had been typed.
 *
 * A line is a command line as typed at the prompt. Blank lines and lines
 * whose first non-blank character is '#' are skipped unseen. Every other
 * line is printed after the prompt (as the echo of a typed line would be,
 * so the transcript reads like a session; not with `echo off`), then run.
 * The run stops at the first command that fails (its `error:` line is the
 * last output) unless the script has said `onerror continue`; `onerror
 * stop` restores the default. These two lines are the script's own
 * directives, not console commands. After the last line the runner prints
 * one line, then the prompt, and the console is live:
 *
 *   startup.mon: done, 0xL lines
 *   startup.mon: stopped at line 0xL after an error
 *
 * (L counts every line of the file, skipped ones included.) A script that
 * runs `halt` ends there.
 */
#ifndef MEMMON_SCRIPT_H
#define MEMMON_SCRIPT_H

#include "console.h"

#define SCRIPT_NAME "startup.mon"

/* Run the script text[0..len) on console c, as described above. The
 * prompt before the first command is printed here (callers print none);
 * so is the one after the closing line. */
void script_run(struct con *c, const char *text, size_t len);

#endif
