/*
 * The TLB shootdown protocol between CPU 0 and the CPUs that run guests
 * (SPEC section 4), apart from how an interrupt is sent, so that the same
 * code runs on the machine (efi/smp.c) and, one thread per CPU, under
 * ThreadSanitizer on the host (test/unit/test_shoot.c).
 *
 * CPU 0 is the only writer of page tables. After it changed tables that
 * guests on other CPUs may hold in their TLBs, it calls shoot_round with
 * the set of those CPUs: one round bumps the sequence number, posts it to
 * every CPU of the set, interrupts each once and waits until each has
 * acknowledged that number or a later one, or the bound has passed.
 *
 * A CPU acknowledges (shoot_ack) only from its interrupt handler, which
 * runs only when no guest executes on it: a guest there has exited on the
 * physical interrupt (INTR is intercepted) or was not running. Before it
 * acknowledges it raises its flush flag, and shoot_take_flush, called
 * before each VMRUN on that CPU, turns the flag into a full TLB flush of
 * that run. So once shoot_round returns with a CPU acknowledged, no guest
 * on it can use a translation from before the round: it was out of the
 * guest when it acknowledged and flushes before going back in.
 *
 * Every field is read and written with atomic operations (acquire and
 * release); nothing takes a lock.
 */
#ifndef MEMMON_EFI_SHOOT_H
#define MEMMON_EFI_SHOOT_H

#include <stdbool.h>
#include <stdint.h>

#define SHOOT_CPU_MAX 64

struct shoot_cpu {
	uint64_t posted; /* the newest round sent to this CPU */
	uint64_t acked;  /* the newest round this CPU acknowledged */
	bool flush;      /* flush the TLB before the next guest runs here */
};

struct shoot {
	uint64_t seq; /* rounds so far; only CPU 0 writes it */
	struct shoot_cpu cpu[SHOOT_CPU_MAX];
	/* How a round interrupts CPU k, and the clock its bound is read on. */
	void (*send)(unsigned k);
	uint64_t (*now_us)(void);
	void (*relax)(void); /* called while waiting */
};

/* One round for the CPUs in `mask` (bit k: CPU k; CPU 0's own bit is
 * ignored). Returns the CPUs that had not acknowledged after bound_us
 * (0: all did). */
uint64_t shoot_round(struct shoot *s, uint64_t mask, uint64_t bound_us);

/* CPU k's interrupt handler: acknowledge every round posted to it. */
void shoot_ack(struct shoot *s, unsigned k);

/* Before a guest runs on CPU k: whether a round asked for a flush since
 * the last call (and clear the request). */
bool shoot_take_flush(struct shoot *s, unsigned k);

#endif
