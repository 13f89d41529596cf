/*
 * The other CPUs: start-up, the idle loop, the seam's plat_cpu_* and
 * plat_shootdown (smp.h, monitor/platform.h).
 *
 * Start-up, one CPU at a time (the low area's data page serves one CPU at
 * a time): fill the data page (memmon's CR3, CR0 and CR4, the CPU's stack,
 * ap_main and its index), send INIT, wait 10 ms, send a startup IPI naming
 * the low area's code page, and a second one after 200 us if it has not
 * arrived (the sequence the Intel and AMD manuals give); wait up to 200 ms
 * for it to mark itself idle. One that does not arrive gets INIT again,
 * which parks it waiting for a startup IPI that will never name it, so it
 * cannot run later on a data page meant for the next CPU.
 */
#include "smp.h"

#include "apic.h"
#include "cpu.h"
#include "platform.h"
#include "shoot.h"
#include "svm.h"
#include "x86.h"

extern __attribute__((visibility("hidden"))) char apboot_start[], apboot_end[], apboot_pm32[],
    apboot_lm64[];

/* The data page's fields (AD_* in apboot.asm). */
struct ap_data {
	uint64_t gdt[4];
	uint16_t gdt_limit;
	uint32_t gdt_base;
	uint16_t pad0;
	uint32_t far32_off;
	uint16_t far32_sel;
	uint16_t pad1;
	uint32_t far64_off;
	uint16_t far64_sel;
	uint16_t pad2;
	uint64_t cr3, stack, entry, arg, cr0, cr4;
} __attribute__((packed));
_Static_assert(__builtin_offsetof(struct ap_data, gdt_limit) == 0x20, "AD_GDTR");
_Static_assert(__builtin_offsetof(struct ap_data, far32_off) == 0x28, "AD_FAR32");
_Static_assert(__builtin_offsetof(struct ap_data, far64_off) == 0x30, "AD_FAR64");
_Static_assert(__builtin_offsetof(struct ap_data, cr3) == 0x38, "AD_CR3");
_Static_assert(__builtin_offsetof(struct ap_data, cr4) == 0x60, "AD_CR4");

#define SEL32_CODE 0x08
#define SEL64_CODE 0x18

struct cpu {
	uint32_t apic;
	enum plat_cpu_state state; /* atomic */
	void (*fn)(void *);        /* atomic: work plat_cpu_call handed it */
	void *arg;
	uint64_t stacks; /* its SMP_AP_PAGES allocation */
	int arrived;     /* atomic: set by the CPU once it waits for work */
};

static struct cpu cpus[SMP_CPU_MAX] = {{.state = PLAT_CPU_CONSOLE}};
static unsigned ncpus = 1;
static uint8_t index_of[256]; /* APIC ID -> CPU index (0 for unknown) */
static uint64_t low_area;
static const struct smp_boot *boot_cpus; /* from smp_prepare */
static bool aps_woken;                   /* an INIT went out: APIC IDs must be looked up */

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static void send_ipi(unsigned k)
{
	(void)apic_send(cpus[k].apic, APIC_ICR_FIXED | SMP_IPI_VECTOR);
}

static uint64_t now_us(void)
{
	return plat_now_us();
}

/*
 * CPU 0 waiting for acknowledgements sleeps in `hlt` rather than spinning:
 * under QEMU's TCG on a busy host a spinning CPU 0 takes the host time the
 * CPUs it waits for need. A CPU that acknowledges while CPU 0 waits sends
 * it an interrupt; the timer bounds each sleep at 1 ms in case none comes.
 */
static int cpu0_waiting;

static void wait_for_acks(void)
{
	STORE(&cpu0_waiting, 1);
	svm_timer_wake(1000);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	svm_timer_wake(0);
	STORE(&cpu0_waiting, 0);
}

static struct shoot shoot = {.send = send_ipi, .now_us = now_us, .relax = wait_for_acks};

unsigned smp_self(void)
{
	return aps_woken ? index_of[apic_id() & 0xff] : 0;
}

void smp_ipi(void)
{
	const unsigned k = smp_self();

	apic_eoi();
	if (!k)
		return; /* CPU 0 woken from wait_for_acks */
	shoot_ack(&shoot, k);
	if (LOAD(&cpu0_waiting))
		send_ipi(0);
}

bool smp_take_flush(void)
{
	return shoot_take_flush(&shoot, smp_self());
}

void smp_halted(unsigned k)
{
	STORE(&cpus[k].state, PLAT_CPU_HALTED);
}

void smp_prepare(const struct smp_boot *b)
{
	uint8_t *low = (uint8_t *)(uintptr_t)b->low;
	uint64_t *pml4 = (uint64_t *)(low + 0x2000), *pdpt = pml4 + 512, *pd = pdpt + 512;

	low_area = b->low;
	boot_cpus = b;
	if (!low)
		return;
	__builtin_memset(low, 0, SMP_LOW_PAGES * PAGE_SIZE);
	__builtin_memcpy(low, apboot_start, (size_t)(apboot_end - apboot_start));
	pml4[0] = (b->low + 0x3000) | 3; /* present, writable */
	pdpt[0] = (b->low + 0x4000) | 3;
	pd[0] = 0 | 0x83; /* a 2 MiB page at 0: present, writable, large */
}

static void delay_us(uint64_t us)
{
	const uint64_t t = plat_now_us();

	while (plat_now_us() - t < us)
		cpu_pause();
}

static void *stack_top(const struct cpu *c, unsigned first, unsigned pages)
{
	return (void *)(uintptr_t)(c->stacks + (uint64_t)(first + pages) * PAGE_SIZE);
}

/* Where each new CPU begins in C, on its main stack. */
static void ap_main(uint64_t k) __attribute__((noreturn));
static void ap_main(uint64_t k)
{
	struct cpu *c = &cpus[k];

	cpu_init((unsigned)k, stack_top(c, SMP_GUARD1 + 1, SMP_IST_PAGES),
	         stack_top(c, SMP_GUARD2 + 1, SMP_IST_PAGES));
	apic_write(APIC_SVR, apic_read(APIC_SVR) | 0x100);
	apic_write(APIC_LVT_TMR, APIC_LVT_MASKED | SVM_TIMER_VECTOR);
	apic_write(APIC_TMR_DIV, 0x3); /* divide by 16, as calibrated on CPU 0 */
	svm_cpu_on((unsigned)k);
	STORE(&c->state, PLAT_CPU_IDLE);
	STORE(&c->arrived, 1);
	for (;;) {
		cpu_cli();
		void (*fn)(void *) = LOAD(&c->fn);
		if (fn) {
			fn(c->arg);
			STORE(&c->fn, (void (*)(void *))0);
			STORE(&c->state, PLAT_CPU_IDLE);
			continue;
		}
		/* sti's one-instruction shadow: an interrupt that comes after
		 * the check above still ends the hlt. */
		__asm__ volatile("sti; hlt" ::: "memory");
	}
}

static bool start_one(const struct smp_boot *b, unsigned i)
{
	struct ap_data *d = (struct ap_data *)(uintptr_t)(low_area + 0x1000);
	const uint64_t code = low_area;
	const unsigned k = ncpus;
	struct cpu *c = &cpus[k];

	c->apic = b->apic[i];
	c->stacks = b->stacks[i];
	c->arrived = 0;
	d->gdt[0] = 0;
	d->gdt[1] = 0x00cf9a000000ffffull; /* 32-bit code, flat */
	d->gdt[2] = 0x00cf92000000ffffull; /* data, flat */
	d->gdt[3] = 0x00af9a000000ffffull; /* 64-bit code */
	d->gdt_limit = sizeof(d->gdt) - 1;
	d->gdt_base = (uint32_t)(low_area + 0x1000);
	d->far32_off = (uint32_t)(code + (uint64_t)(apboot_pm32 - apboot_start));
	d->far32_sel = SEL32_CODE;
	d->far64_off = (uint32_t)(code + (uint64_t)(apboot_lm64 - apboot_start));
	d->far64_sel = SEL64_CODE;
	d->cr3 = read_cr3();
	d->cr0 = read_cr0();
	d->cr4 = read_cr4();
	d->stack = (uint64_t)(uintptr_t)stack_top(c, SMP_GUARD0 + 1, SMP_STACK_PAGES);
	d->entry = (uint64_t)(uintptr_t)ap_main;
	d->arg = k;
	index_of[c->apic & 0xff] = (uint8_t)k;
	aps_woken = true;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	const uint32_t page = (uint32_t)(code >> 12);
	bool sent = apic_send(c->apic, APIC_ICR_INIT);
	delay_us(10000);
	for (int sipi = 0; sent && sipi < 2 && !LOAD(&c->arrived); sipi++) {
		sent = apic_send(c->apic, APIC_ICR_SIPI | page);
		delay_us(200);
	}
	const uint64_t t = plat_now_us();
	while (!LOAD(&c->arrived) && plat_now_us() - t < 200000)
		cpu_pause();
	if (LOAD(&c->arrived)) {
		ncpus++;
		return true;
	}
	(void)apic_send(c->apic, APIC_ICR_INIT);
	index_of[c->apic & 0xff] = 0;
	c->state = PLAT_CPU_HALTED;
	return false;
}

void plat_start_cpus(void)
{
	const struct smp_boot *b = boot_cpus;

	cpus[0].apic = apic_id();
	if (b->reported > SMP_CPU_MAX)
		cpu_say("memmon: the firmware reports 0x%x CPUs; memmon runs on the first 0x%x\n",
		        b->reported, SMP_CPU_MAX);
	if (!b || !low_area)
		return;
	for (unsigned i = 0; i < b->n && ncpus < SMP_CPU_MAX; i++)
		if (!start_one(b, i))
			cpu_say("memmon: the CPU with APIC ID 0x%x did not start; left out\n",
			        b->apic[i]);
}

/* ---- the seam ----------------------------------------------------------- */

unsigned plat_cpu_count(void)
{
	return ncpus;
}

uint32_t plat_cpu_apic(unsigned k)
{
	CHECK(k < ncpus);
	return cpus[k].apic;
}

enum plat_cpu_state plat_cpu_state(unsigned k)
{
	CHECK(k < ncpus);
	return LOAD(&cpus[k].state);
}

bool plat_cpu_call(unsigned k, void (*fn)(void *), void *arg)
{
	CHECK(k < ncpus);
	if (!k || LOAD(&cpus[k].state) != PLAT_CPU_IDLE)
		return false;
	cpus[k].arg = arg;
	STORE(&cpus[k].state, PLAT_CPU_BUSY);
	STORE(&cpus[k].fn, fn);
	send_ipi(k);
	return true;
}

void plat_cpu_kick(unsigned k)
{
	CHECK(k && k < ncpus);
	send_ipi(k);
}

uint64_t plat_shootdown(uint64_t mask)
{
	return shoot_round(&shoot, mask, PLAT_SHOOT_BOUND_US);
}

static void raise_job(void *arg)
{
	(void)plat_raise((enum plat_trap)(uintptr_t)arg, 0);
}

bool plat_raise_on(unsigned k, enum plat_trap kind)
{
	return k && k < ncpus && plat_cpu_call(k, raise_job, (void *)(uintptr_t)kind);
}
