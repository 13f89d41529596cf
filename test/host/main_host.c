/*
 * memmon-host: the portable core on Linux, its console on stdin/stdout over
 * simulated RAM. For trying commands without QEMU: build/host/memmon-host,
 * or build/host/memmon-host --script FILE to run a startup script first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "monitor.h"
#include "platform.h"

/* The whole of `path`, or NULL (with a message) when it cannot be read. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t cap = 0, n = 0, got;

	if (!f) {
		perror(path);
		return NULL;
	}
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			char *bigger = realloc(text, cap);
			if (!bigger) {
				free(text);
				fclose(f);
				return NULL;
			}
			text = bigger;
		}
		got = fread(text + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return text;
}

int main(int argc, char **argv)
{
	static struct con c;
	char *script = NULL;
	size_t script_len = 0;
	int ch;

	if (argc == 3 && strcmp(argv[1], "--script") == 0) {
		script = read_file(argv[2], &script_len);
		if (!script)
			return 2;
		host_script(script, script_len);
	} else if (argc != 1) {
		fprintf(stderr, "usage: memmon-host [--script FILE]\n");
		return 2;
	}
	host_output_to_stdout(1);
	monitor_init(&c, host_boot_info(64));
	while (!c.halted && (ch = getchar()) != EOF) {
		con_input(&c, (uint8_t)ch);
		fflush(stdout);
	}
	putchar('\n');
	free(script);
	return 0;
}
