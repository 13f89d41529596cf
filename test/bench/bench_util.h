/*
 * What the benchmarks in this folder share: failing, the clock, the PRNG,
 * simulated RAM on huge pages, medians, the options and the lines that say
 * under which conditions a table was measured.
 *
 * Each benchmark is one program built from one .c file, so everything here
 * is static inline; define BENCH_NAME (the program's name, for messages)
 * before including it.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "host.h"
#include "types.h"

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

#define GIB          ((uint64_t)1 << 30)
#define MIB          ((uint64_t)1 << 20)
#define MAX_RUNS     99 /* --runs at most */
#define DEFAULT_RUNS 7
#define SEED         0x9e3779b97f4a7c15u /* where every xorshift64 sequence starts */

static volatile uint64_t sink; /* results no loop may optimise away are summed here */

/* Stops the benchmark: "BENCH_NAME: what: why" on stderr, exit status 1. */
static inline __attribute__((noreturn)) void die(const char *what, const char *why)
{
	fprintf(stderr, BENCH_NAME ": %s: %s\n", what, why ? why : "failed");
	exit(1);
}

/* Stops the benchmark if a core call returned an error. */
static inline void must(err_t err, const char *what)
{
	if (err)
		die(what, err);
}

/* The monotonic clock in nanoseconds. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64 (Marsaglia): the next number of the sequence in *s. */
static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* This process's AnonHugePages in KiB (0 if the kernel does not say). */
static inline uint64_t anon_huge_kib(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	unsigned long long kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Simulated RAM of `bytes` (host_ram), backed by 2 MiB pages where the host
 * allows (MADV_HUGEPAGE, a hint), faulted in page by page so that nothing
 * timed later faults; *huge_kib is how much of the process is then on huge
 * pages. Returns the host address of physical 0. */
static inline unsigned char *bench_ram(uint64_t bytes, uint64_t *huge_kib)
{
	unsigned char *ram = host_ram(bytes);

#ifdef MADV_HUGEPAGE
	uintptr_t lo = ((uintptr_t)ram + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
	uintptr_t hi = ((uintptr_t)ram + bytes) & ~(uintptr_t)(PAGE_SIZE - 1);
	(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* a hint; failure is fine */
#endif
	for (uint64_t i = 0; i < bytes; i += PAGE_SIZE)
		((volatile unsigned char *)ram)[i] = 0;
	*huge_kib = anon_huge_kib();
	return ram;
}

/* qsort's comparison for doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n-1] (n <= MAX_RUNS); v is left as it is. */
static inline double median(const double *v, unsigned n)
{
	double s[MAX_RUNS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The median, least and greatest of the samples v[0..n-1] (n >= 1). */
static inline void summarise(const double *v, unsigned n, double *med, double *min, double *max)
{
	*med = median(v, n);
	*min = *max = v[0];
	for (unsigned r = 1; r < n; r++) {
		if (v[r] < *min)
			*min = v[r];
		if (v[r] > *max)
			*max = v[r];
	}
}

/* The options every benchmark takes. */
struct bench_opts {
	unsigned runs;    /* --runs N: samples per row, the median is reported */
	bool quick;       /* --quick: fewer iterations */
	const char *json; /* --json FILE: also every sample as JSON; NULL: not */
};

/* Prints the usage (with `quick_help`, what --quick does) and exits with
 * status 2. */
static inline __attribute__((noreturn)) void bench_usage(const char *quick_help)
{
	fprintf(stderr,
	        "usage: " BENCH_NAME " [--runs N] [--quick] [--json FILE]\n"
	        "  --runs N     runs per row, the median is reported (1..%d, default %d)\n"
	        "  --quick      %s\n"
	        "  --json FILE  also write every sample as JSON\n",
	        MAX_RUNS, DEFAULT_RUNS, quick_help);
	exit(2);
}

/* Reads the options; anything else gets the usage. */
static inline struct bench_opts bench_options(int argc, char **argv, const char *quick_help)
{
	struct bench_opts o = {.runs = DEFAULT_RUNS, .quick = false, .json = NULL};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (*end || v < 1 || v > MAX_RUNS)
				bench_usage(quick_help);
			o.runs = (unsigned)v;
		} else if (!strcmp(argv[i], "--quick")) {
			o.quick = true;
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			o.json = argv[++i];
		} else {
			bench_usage(quick_help);
		}
	}
	return o;
}

/* The host CPU's model name from /proc/cpuinfo into buf ("?" if unknown). */
static inline void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && c) {
			c += 1 + (c[1] == ' ');
			c[strcspn(c, "\n")] = 0;
			snprintf(buf, len, "%s", c);
			break;
		}
	}
	fclose(f);
}

/* The compiler and its version, as the report and the JSON give it. */
#if defined(__clang__) || !defined(__GNUC__)
#define COMPILER __VERSION__
#else
#define COMPILER "gcc " __VERSION__
#endif

/* How the benchmark was built, as far as it changes the numbers. */
static inline const char *flags_text(void)
{
	return
#ifdef __OPTIMIZE__
	    "optimised"
#else
	    "NOT optimised"
#endif
#if defined(__SANITIZE_ADDRESS__)
	    ", ASan"
#endif
#if !defined(FRAME_JUNK) || FRAME_JUNK
	    ", FRAME_JUNK on (frames filled on alloc and free)"
#else
	    ", FRAME_JUNK=0"
#endif
	    ;
}

/* The start of the report's second line: "median of N runs; compiler,
 * flags; cpu; ", for the benchmark to finish. */
static inline void print_conditions(unsigned runs)
{
	char cpu[128];

	cpu_model(cpu, sizeof(cpu));
	printf("median of %u runs; %s, %s; %s; ", runs, COMPILER, flags_text(), cpu);
}

#endif
