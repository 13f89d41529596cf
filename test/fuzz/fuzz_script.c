/*
 * libFuzzer target for startup scripts (monitor/script.c).
 *
 * Each input is a whole startup.mon, run on a fresh console. Checked: the
 * run ends at a prompt with exactly one closing line (unless the script
 * halted); a script that ran to its end names every line of the input,
 * counted here independently (a line ends in \r\n, \r or \n; a last line
 * needs none); one that stopped did so right after an error line; a
 * script that never says `onerror` and ran to its end printed no error
 * line. Then `reset`, and the frame allocator must be whole.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "frame.h"
#include "host.h"
#include "monitor.h"
#include "script.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_script.c:%d: property violated: %s\n", __LINE__,     \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input's lines, counted without the runner's code. */
static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned ends = 0;

	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && i > 0 && data[i - 1] == '\r')
			continue; /* the \n of \r\n */
		if (data[i] == '\r' || data[i] == '\n')
			ends++;
	}
	return ends + (size > 0 && data[size - 1] != '\r' && data[size - 1] != '\n');
}

static bool contains(const uint8_t *data, size_t size, const char *word)
{
	const size_t n = strlen(word);

	for (size_t i = 0; i + n <= size; i++)
		if (memcmp(data + i, word, n) == 0)
			return true;
	return false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct con boot;

	(void)argc;
	(void)argv;
	monitor_init(&boot, host_boot_info(64));
	host_output_reset();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct con con;
	char want[64];

	con_init(&con);
	host_output_reset();
	script_run(&con, (const char *)data, size);
	const char *out = host_output();
	const size_t len = host_output_len();
	const char *done = strstr(out, "\r\n" SCRIPT_NAME ": done, 0x");
	const char *stopped = strstr(out, "\r\n" SCRIPT_NAME ": stopped at line 0x");
	if (len >= 2 && strncmp(out, SCRIPT_NAME ": ", strlen(SCRIPT_NAME ": ")) == 0)
		done = out - 2; /* nothing ran: the closing line comes first */

	if (con.halted) {
		REQUIRE(!done && !stopped);
	} else {
		REQUIRE(len >= 5 && memcmp(out + len - 5, "mon> ", 5) == 0);
		REQUIRE((done != NULL) != (stopped != NULL));
		if (done) {
			snprintf(want, sizeof(want), SCRIPT_NAME ": done, 0x%x lines\r\nmon> ",
			         count_lines(data, size));
			REQUIRE(strcmp(done + 2, want) == 0);
			if (!contains(data, size, "onerror"))
				REQUIRE(strstr(out, "\r\nerror: ") == NULL &&
				        strncmp(out, "error: ", 7) != 0);
		} else {
			REQUIRE(strstr(stopped + 2, "\r\nmon> ") == out + len - 7);
			const char *e = stopped;
			while (e > out && e[-1] != '\n')
				e--;
			REQUIRE(strncmp(e, "error: ", 7) == 0);
		}
	}
	con.halted = false;
	con_exec(&con, "reset");
	host_output_reset();
	REQUIRE(frame_audit() == NULL);
	return 0;
}
