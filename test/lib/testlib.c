/*
 * The helpers every host test shares (testlib.h).
 */
#include "testlib.h"

#include "model.h"

#include <stdlib.h>

static uint64_t rng_state = 1;

void test_rng_set(uint64_t state)
{
	rng_state = state ? state : 1;
}

void test_rng_seed(uint64_t s)
{
	test_rng_set(s * 0x9e3779b97f4a7c15ull + 0x1234567);
	for (int i = 0; i < 8; i++) /* small seeds start far apart */
		test_rnd();
}

uint64_t test_rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * (uint64_t)0x2545f4914f6cdd1d;
}

uint64_t test_below(uint64_t n)
{
	return n ? test_rnd() % n : 0;
}

static void *heap_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	return calloc(1, bytes);
}

static void heap_free(void *ctx, void *p, size_t bytes)
{
	(void)ctx, (void)bytes;
	free(p);
}

const struct model_mem test_heap = {.alloc = heap_alloc, .free = heap_free, .ctx = NULL};
