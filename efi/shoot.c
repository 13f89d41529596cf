/*
 * The shootdown protocol (shoot.h says why it is enough).
 */
#include "shoot.h"

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

uint64_t shoot_round(struct shoot *s, uint64_t mask, uint64_t bound_us)
{
	mask &= ~(uint64_t)1;
	if (!mask)
		return 0;
	const uint64_t seq = s->seq + 1;
	STORE(&s->seq, seq);
	for (unsigned k = 1; k < SHOOT_CPU_MAX; k++)
		if (mask >> k & 1) {
			STORE(&s->cpu[k].posted, seq);
			s->send(k);
		}
	const uint64_t start = s->now_us();
	for (;;) {
		uint64_t left = 0;
		for (unsigned k = 1; k < SHOOT_CPU_MAX; k++)
			if ((mask >> k & 1) && LOAD(&s->cpu[k].acked) < seq)
				left |= (uint64_t)1 << k;
		if (!left || s->now_us() - start > bound_us)
			return left;
		s->relax();
	}
}

void shoot_ack(struct shoot *s, unsigned k)
{
	const uint64_t posted = LOAD(&s->cpu[k].posted);

	if (posted > LOAD(&s->cpu[k].acked)) {
		STORE(&s->cpu[k].flush, true);
		STORE(&s->cpu[k].acked, posted);
	}
}

bool shoot_take_flush(struct shoot *s, unsigned k)
{
	return __atomic_exchange_n(&s->cpu[k].flush, false, __ATOMIC_ACQ_REL);
}
