/*
 * libFuzzer target for the guest layer through the console, mixed with
 * the space commands that change what guests see.
 *
 * The hosted machine's simulated guest CPU (test/host/host.h) runs a
 * script the input's first bytes choose (reads, writes and fetches of a
 * few guest-physical pages, hlt, vmmcall, port and MSR accesses, 0xE9
 * console bytes, exceptions, a spin); the rest decodes into up to 40
 * console commands: space new/del, map from sigma0 (4K and 2M), unmap,
 * flush, protect, guest new/load/run/skip/set/regs/del/list, reset, and now
 * and then a garbage token. After every command:
 *   - a failing command printed exactly one line, "error: ...", and a
 *     succeeding one none;
 *   - `check` says ok (SPEC section 1 holds with guests present);
 *   - no guest access was served by a translation the nested tables no
 *     longer hold (host_stale_accesses: the flush rule of section 3).
 * Each input ends with `reset`, which also deletes every guest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "host.h"
#include "monitor.h"
#include "space.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_guest.c:%d: property violated: %s\n", __LINE__,      \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_CMDS 40
#define MB2      ((uint64_t)1 << 21)

static struct con con;
static uint64_t src; /* a 2M-aligned run of sigma0's frames, 4 MiB long */
static struct host_guest_op ops[16];
static bool verbose;

/* Guest-physical pages the script and the commands use. */
static const uint64_t gpas[] = {0, 0x1000, 0x2000, 0x200000, 0x201000, 0x40000000};

static unsigned take(const uint8_t **p, const uint8_t *end)
{
	return *p < end ? *(*p)++ : 0;
}

static void script(const uint8_t **p, const uint8_t *end)
{
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		const unsigned k = take(p, end), a = take(p, end);
		ops[i] =
		    (struct host_guest_op){.kind = (enum host_guest_kind)(k % (HOST_G_SPIN + 1)),
		                           .addr = gpas[a % ARRAY_SIZE(gpas)] + 8 * (a / 64),
		                           .value = a};
		switch (ops[i].kind) {
		case HOST_G_OUT:
		case HOST_G_IN:
			ops[i].addr = a & 1 ? 0xe9 : 0x3f8;
			ops[i].value = a & 2 ? '\n' : 'a' + a % 26;
			break;
		case HOST_G_WRMSR:
		case HOST_G_RDMSR:
			ops[i].addr = 0xc0000080;
			break;
		case HOST_G_EXC:
			ops[i].value = a % 32;
			ops[i].addr = 0;
			break;
		default:
			break;
		}
	}
	host_guest_script(ops, ARRAY_SIZE(ops));
}

/* One command from the input into buf. */
static void command(const uint8_t **p, const uint8_t *end, char *buf, size_t cap)
{
	const unsigned op = take(p, end) % 20, a = take(p, end), b = take(p, end);
	const unsigned n = a % 4, g = b % 4;
	const uint64_t gpa = gpas[b % ARRAY_SIZE(gpas)];
	static const char *const rights[] = {"r", "rw", "rx", "rwx"};

	switch (op) {
	case 0:
		snprintf(buf, cap, "space new");
		break;
	case 1:
		snprintf(buf, cap, "space del %u", n);
		break;
	case 2:
	case 3:
		snprintf(buf, cap, "map 0 0x%lx %u 0x%lx 0x1000 %s",
		         src + (uint64_t)(b % 16) * 0x1000, n, gpa, rights[a / 64]);
		break;
	case 4:
		snprintf(buf, cap, "map 0 0x%lx %u 0x200000 0x200000 %s", src + (b & 1) * MB2, n,
		         rights[a / 64]);
		break;
	case 5:
		snprintf(buf, cap, "unmap %u 0x%lx 0x1000", n, gpa);
		break;
	case 6:
		snprintf(buf, cap, "flush %u 0x%lx 0x1000", n, gpa);
		break;
	case 7:
		snprintf(buf, cap, "protect %u 0x%lx 0x1000 %s", n, gpa, rights[a / 64]);
		break;
	case 8:
		snprintf(buf, cap, "guest new %u", n);
		break;
	case 9:
	case 10:
		snprintf(buf, cap, "guest load %u %s 0x%lx", g, a & 1 ? "hello" : "loop", gpa);
		break;
	case 11:
	case 12:
	case 13:
		snprintf(buf, cap, "guest run %u %u", g, a % 3);
		break;
	case 14:
		snprintf(buf, cap, "guest skip %u", g);
		break;
	case 15:
		snprintf(buf, cap, "guest set %u %s 0x%x", g, a & 1 ? "rip" : "cr0", (b % 8) * 16);
		break;
	case 16:
		snprintf(buf, cap, "guest %s %u", a & 1 ? "regs" : "del", g);
		break;
	case 17:
		snprintf(buf, cap, "guest list");
		break;
	case 18:
		snprintf(buf, cap, "reset");
		break;
	default:
		snprintf(buf, cap, "guest %c%c %u", 'a' + a % 26, 'a' + b % 26, g);
		break;
	}
}

static unsigned count(const char *out, const char *what)
{
	unsigned k = 0;

	for (const char *s = out; (s = strstr(s, what)); s++)
		k++;
	return k;
}

static void exec(const char *line)
{
	host_output_reset();
	err_t e = con_exec(&con, line);
	const char *out = host_output();
	if (verbose)
		fprintf(stderr, "> %s\n%s", line, out);
	REQUIRE(count(out, "error:") == (e ? 1u : 0u));
	host_output_reset();
	REQUIRE(!con_exec(&con, "check"));
	REQUIRE(!strncmp(host_output(), "check: ok", 9));
	REQUIRE(host_stale_accesses() == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct space_extent *ext;

	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_GUEST_VERBOSE") != NULL;
	monitor_init(&con, host_boot_info(64));
	host_svm(16);
	for (size_t i = space_extents(&ext); !src && i-- > 0;) {
		const uint64_t a = (ext[i].base + MB2 - 1) & ~(MB2 - 1);
		if (a + 2 * MB2 <= ext[i].base + ext[i].pages * PAGE_SIZE)
			src = a;
	}
	REQUIRE(src);
	host_output_reset();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char line[160];

	script(&p, end);
	for (unsigned i = 0; i < MAX_CMDS && p < end; i++) {
		command(&p, end, line, sizeof(line));
		exec(line);
	}
	exec("reset");
	return 0;
}
