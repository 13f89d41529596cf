/*
 * The helpers every host test shares: unit tests, fuzz targets and
 * benchmarks (no cmocka here; unit.h adds what needs it).
 *
 * - A random number generator (xorshift64*): fast, reproducible from a
 *   seed, the same sequence on every machine, so a failing random run is
 *   replayed by its seed.
 * - The naive model's memory on the heap (struct model_mem over calloc and
 *   free), for tests that hold the real layers against the model.
 */
#ifndef MEMMON_TESTLIB_H
#define MEMMON_TESTLIB_H

#include "types.h"

/* Set the generator's state as it is (0 counts as 1), or from any seed s
 * mixed into a state and stirred, so that seeds 1, 2, 3 start far apart. */
void test_rng_set(uint64_t state);
void test_rng_seed(uint64_t s);
/* The next 64 random bits; a number in [0, n) (0 when n is 0). */
uint64_t test_rnd(void);
uint64_t test_below(uint64_t n);

/* The model's memory from the C heap: zeroed blocks, never refused (a
 * struct model_mem of model.h, declared here without it, so that tests with
 * models of their own can include this file). */
struct model_mem;
extern const struct model_mem test_heap;

#endif
