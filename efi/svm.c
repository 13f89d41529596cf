/*
 * AMD SVM on the real machine: the seam's plat_svm_on and plat_svm_run
 * (monitor/platform.h). Facts from the AMD64 Architecture Programmer's
 * Manual, vol. 2 (chapter 15 and appendix B):
 *
 * - CPUID 8000_0001h ECX bit 2: SVM; 8000_000Ah EDX bit 0: nested paging,
 *   EBX: the number of ASIDs. VM_CR (C001_0114h) bit 4 set means the
 *   firmware disabled SVM.
 * - EFER.SVME (bit 12) enables the SVM instructions; VM_HSAVE_PA
 *   (C001_0117h) names the page where VMRUN keeps the host's state.
 * - The I/O permission map is 12 KiB, the MSR permission map 8 KiB; a set
 *   bit intercepts. Their addresses sit at VMCB offsets 0x40 and 0x48.
 *
 * The time slice is the local APIC timer in one-shot mode (registers: EOI
 * 0xB0, spurious vector 0xF0, LVT timer 0x320, initial count 0x380, current
 * count 0x390, divide 0x3E0), calibrated once against the PIT's channel 2
 * (1.193182 MHz; its output is bit 5 of port 0x61, its gate bit 0).
 */
#include "platform.h"

#include "apic.h"
#include "smp.h"
#include "svm.h"
#include "x86.h"

#define MSR_VM_CR       0xc0010114u
#define MSR_VM_HSAVE_PA 0xc0010117u
#define VM_CR_SVMDIS    (1ull << 4)
#define EFER_SVME       (1ull << 12)

#define VMCB_IOPM_BASE   0x040
#define VMCB_MSRPM_BASE  0x048
#define VMCB_TLB_CONTROL 0x05c /* u8 */

/* Per CPU: the host save area VMRUN uses and the page VMSAVE keeps
 * memmon's FS, GS, TR, LDTR and MSRs in. The permission maps are shared
 * (nothing writes them after plat_svm_on). */
static uint8_t hsave[SMP_CPU_MAX][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t host_state[SMP_CPU_MAX][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t iopm[3 * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t msrpm[2 * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static bool svm_ready;
static uint32_t svm_asids;
static uint64_t ticks_per_ms; /* APIC timer ticks (divide by 16) per ms */

void svm_timer_eoi(void)
{
	apic_eoi();
}

/* SVM with nested paging, not disabled by the firmware: *asids the ASIDs. */
static bool svm_supported(uint32_t *asids)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000, &a, &b, &c, &d);
	if (a < 0x8000000a)
		return false;
	cpuid(0x80000001, &a, &b, &c, &d);
	if (!(c & (1u << 2)))
		return false;
	cpuid(0x8000000a, &a, &b, &c, &d);
	if (!(d & 1) || b < 2 || (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS))
		return false;
	*asids = b;
	return true;
}

void svm_cpu_on(unsigned k)
{
	uint32_t asids;

	if (!svm_supported(&asids))
		return;
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, (uint64_t)(uintptr_t)hsave[k]);
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t tsc_per_us; /* 0 until calibrated */

/* Ticks of the APIC timer (and of the TSC: tsc_per_us) in 10 ms of the
 * PIT's channel 2. */
static uint64_t calibrate(void)
{
	const uint16_t count = 11932; /* 10 ms at 1.193182 MHz */
	const uint8_t p61 = inb(0x61);
	uint64_t spin = 0;

	apic_write(APIC_TMR_DIV, 0x3); /* divide by 16 */
	apic_write(APIC_LVT_TMR, APIC_LVT_MASKED | SVM_TIMER_VECTOR);
	outb(0x61, (uint8_t)((p61 & ~0x02) | 0x01)); /* gate on, speaker off */
	outb(0x43, 0xb0);                            /* channel 2, lo/hi byte, mode 0 */
	outb(0x42, (uint8_t)count);
	outb(0x42, (uint8_t)(count >> 8));
	apic_write(APIC_TMR_INIT, 0xffffffffu);
	const uint64_t t0 = rdtsc();
	while (!(inb(0x61) & 0x20) && ++spin < (1ull << 26))
		cpu_pause();
	const uint64_t used = 0xffffffffu - apic_read(APIC_TMR_CUR);
	tsc_per_us = (rdtsc() - t0) / 10000;
	if (!tsc_per_us)
		tsc_per_us = 1;
	apic_write(APIC_TMR_INIT, 0);
	outb(0x61, p61);
	return spin < (1ull << 26) ? used : 0;
}

bool plat_svm_on(uint32_t *asids)
{
	uint32_t b;

	if (!svm_ready) {
		if (!svm_supported(&b))
			return false;
		const uint64_t per10 = calibrate();
		ticks_per_ms = per10 >= 10 ? per10 / 10 : 62500; /* QEMU: 1 GHz / 16 */
		__builtin_memset(iopm, 0xff, sizeof(iopm));
		__builtin_memset(msrpm, 0xff, sizeof(msrpm));
		apic_write(APIC_SVR,
		           apic_read(APIC_SVR) | 0x100); /* on, if the firmware left it off */
		svm_cpu_on(0);
		svm_asids = b;
		__atomic_store_n(&svm_ready, true, __ATOMIC_RELEASE);
	}
	*asids = svm_asids;
	return true;
}

/* This CPU's timer, one-shot, to interrupt in `us` (at least one tick, at
 * most the counter's range); and stopped again. Its divider is 16 on every
 * CPU (calibrate, ap_main), as ticks_per_ms was measured. */
static void timer_arm(uint64_t us)
{
	uint64_t ticks = us * ticks_per_ms / 1000;

	if (ticks > 0xffffffffu)
		ticks = 0xffffffffu;
	apic_write(APIC_LVT_TMR, SVM_TIMER_VECTOR); /* one-shot, unmasked */
	apic_write(APIC_TMR_INIT, (uint32_t)(ticks ? ticks : 1));
}

static void timer_stop(void)
{
	apic_write(APIC_LVT_TMR, APIC_LVT_MASKED | SVM_TIMER_VECTOR);
	apic_write(APIC_TMR_INIT, 0);
}

void svm_timer_wake(uint64_t us)
{
	CHECK(ticks_per_ms); /* a CPU waits for others only once guests exist */
	if (us)
		timer_arm(us);
	else
		timer_stop();
}

uint64_t plat_now_us(void)
{
	if (!tsc_per_us)
		(void)calibrate();
	return rdtsc() / tsc_per_us;
}

uint64_t plat_svm_run(void *vmcb, struct plat_gprs *g, uint64_t slice_us)
{
	uint8_t *v = vmcb;
	const unsigned k = smp_self();

	CHECK(__atomic_load_n(&svm_ready, __ATOMIC_ACQUIRE) && (uintptr_t)vmcb % PAGE_SIZE == 0 &&
	      slice_us);
	*(uint64_t *)(v + VMCB_IOPM_BASE) = (uint64_t)(uintptr_t)iopm;
	*(uint64_t *)(v + VMCB_MSRPM_BASE) = (uint64_t)(uintptr_t)msrpm;
	if (smp_take_flush())
		v[VMCB_TLB_CONTROL] = 1; /* a shootdown round asked for it */
	timer_arm(slice_us);
	svm_enter((uint64_t)(uintptr_t)vmcb, g, (uint64_t)(uintptr_t)host_state[k]);
	const uint64_t left = apic_read(APIC_TMR_CUR);
	timer_stop();
	/* Take what the guest's run left pending (the timer's interrupt, once
	 * it fired; a shootdown's): trap_dispatch acknowledges it. */
	__asm__ volatile("sti; nop; cli" ::: "memory");
	return left * 1000 / ticks_per_ms;
}
