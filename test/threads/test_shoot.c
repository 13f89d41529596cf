/*
 * The shootdown protocol (efi/shoot.c) under threads: one thread per CPU,
 * built with ThreadSanitizer (make unit runs it), so that a data race in
 * the protocol fails the run as surely as a broken guarantee does.
 *
 * The model: a "mapping" is a version number CPU 0 bumps; each CPU thread
 * loops over what a CPU running a guest does: take a pending interrupt
 * (shoot_ack, as the interrupt handler does between guest runs), then
 * before the "VMRUN" refill its TLB if shoot_take_flush says so, then let
 * the "guest" use the translation its TLB holds. After each round CPU 0
 * publishes the version no CPU may use any more; a use of an older one is
 * a stale access, which the protocol promises never happens.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shoot.h"

#define CPUS   4
#define ROUNDS 2000

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static struct shoot S;
static uint64_t version = 1;   /* the mapping as CPU 0's tables hold it */
static uint64_t oldest_ok = 1; /* no CPU may use a version below this */
static int ipi[CPUS];          /* a pending interrupt per CPU */
static int deaf[CPUS];         /* this CPU takes no interrupt */
static int quit;
static unsigned long stale, uses[CPUS], acks[CPUS];

static void send(unsigned k)
{
	STORE(&ipi[k], 1);
}

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static void relax(void)
{
	sched_yield();
}

static void *cpu(void *arg)
{
	const unsigned k = (unsigned)(uintptr_t)arg;
	uint64_t tlb = LOAD(&version); /* filled at the first run */

	while (!LOAD(&quit)) {
		if (!LOAD(&deaf[k]) && __atomic_exchange_n(&ipi[k], 0, __ATOMIC_ACQ_REL)) {
			shoot_ack(&S, k);
			acks[k]++;
		}
		if (shoot_take_flush(&S, k))
			tlb = LOAD(&version);
		/* The guest runs on what the TLB holds. */
		if (tlb < LOAD(&oldest_ok))
			__atomic_fetch_add(&stale, 1, __ATOMIC_RELAXED);
		uses[k]++;
		sched_yield();
	}
	return NULL;
}

static int failures;
#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

int main(void)
{
	pthread_t t[CPUS];

	S.send = send;
	S.now_us = now_us;
	S.relax = relax;
	for (unsigned k = 1; k < CPUS; k++)
		pthread_create(&t[k], NULL, cpu, (void *)(uintptr_t)k);

	/* Every CPU answers: each round returns with none missing, and no
	 * CPU ever uses a translation older than the last round. */
	const uint64_t all = ((1u << CPUS) - 1) & ~1u;
	uint64_t missed = 0;
	for (unsigned r = 0; r < ROUNDS; r++) {
		const uint64_t v = LOAD(&version) + 1;
		STORE(&version, v); /* CPU 0 changes the tables */
		missed |= shoot_round(&S, all, 5000000);
		STORE(&oldest_ok, v);
	}
	EXPECT(!missed, "rounds missed CPUs 0x%lx", (unsigned long)missed);
	EXPECT(LOAD(&S.seq) == ROUNDS, "0x%lx rounds counted", (unsigned long)LOAD(&S.seq));
	const unsigned long stale_now = LOAD(&stale);
	EXPECT(!stale_now, "%lu uses of a translation older than the last round", stale_now);
	EXPECT(!shoot_round(&S, 1, 1000), "CPU 0's own bit is no round");
	EXPECT(LOAD(&S.seq) == ROUNDS, "CPU 0's bit alone sent a round");

	/* CPU 3 never acknowledges: a round reports it after the bound and
	 * does not wait longer; the others still answer. */
	STORE(&deaf[3], 1);
	const uint64_t t0 = now_us();
	const uint64_t v = LOAD(&version) + 1;
	STORE(&version, v);
	missed = shoot_round(&S, all, 50000);
	const uint64_t took = now_us() - t0;
	EXPECT(missed == (1u << 3), "missed 0x%lx, not CPU 3 alone", (unsigned long)missed);
	EXPECT(took >= 50000 && took < 2000000, "the round took %lu us for a 50 ms bound",
	       (unsigned long)took);
	STORE(&oldest_ok, v - 1); /* CPU 3 may still use v - 1: it never flushed */

	/* It wakes up: the next round's acknowledgement covers both. */
	STORE(&deaf[3], 0);
	STORE(&version, v + 1);
	missed = shoot_round(&S, all, 5000000);
	EXPECT(!missed, "after waking, missed 0x%lx", (unsigned long)missed);
	STORE(&oldest_ok, v + 1);
	for (int spin = 0; spin < 1000; spin++)
		sched_yield();

	STORE(&quit, 1);
	for (unsigned k = 1; k < CPUS; k++)
		pthread_join(t[k], NULL);
	EXPECT(!stale, "%lu stale uses", stale);
	for (unsigned k = 1; k < CPUS; k++)
		EXPECT(uses[k] && acks[k], "CPU %u ran %lu times, acknowledged %lu", k, uses[k],
		       acks[k]);
	printf("test_shoot: %u CPUs, %u rounds, %s\n", CPUS, ROUNDS + 2,
	       failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
