/*
 * The other CPUs (SPEC section 4): found through the firmware's MP services
 * before ExitBootServices, started after it with INIT and startup IPIs
 * through the local APIC, each into long mode on memmon's own tables
 * (efi/apboot.asm), with its own stacks (guard pages below each), GDT, TSS
 * and SVM state. CPU 0, the one that booted, serves the console and runs
 * every command; the others wait in `hlt` for a function to run (a guest's
 * run loop, monitor/guest.c) and for the interrupts of the shootdown
 * protocol (efi/shoot.h).
 */
#ifndef MEMMON_EFI_SMP_H
#define MEMMON_EFI_SMP_H

#include <stdbool.h>
#include <stdint.h>

#define SMP_CPU_MAX 16 /* CPUs memmon runs on; more are reported and left out */

/* The low area (efi/apboot.asm describes it): pages below 1 MiB. */
#define SMP_LOW_PAGES 5
#define SMP_LOW_LIMIT 0x9ffffu /* the area ends below the EBDA */

/* Each other CPU's stacks, one allocation: a guard page, the main stack, a
 * guard page, the exception stack, a guard page, the stack for NMI, #DF
 * and #MC. */
#define SMP_STACK_PAGES 4
#define SMP_IST_PAGES   2
#define SMP_AP_PAGES    (3 + SMP_STACK_PAGES + 2 * SMP_IST_PAGES)
/* Offsets of the three guard pages in an allocation, in pages. */
#define SMP_GUARD0 0
#define SMP_GUARD1 (1 + SMP_STACK_PAGES)
#define SMP_GUARD2 (2 + SMP_STACK_PAGES + SMP_IST_PAGES)

/* What efi_main gathered before the exit. */
struct smp_boot {
	uint64_t low;                 /* the low area's address; 0: none */
	unsigned reported;            /* enabled CPUs the firmware reported */
	unsigned n;                   /* other CPUs to start (at most SMP_CPU_MAX - 1) */
	uint32_t apic[SMP_CPU_MAX];   /* their APIC IDs */
	uint64_t stacks[SMP_CPU_MAX]; /* their stack allocations (SMP_AP_PAGES) */
};

/* After the exit, before memmon's own tables are built: copy the start
 * code into the low area and write its small page tables; *b stays valid
 * for plat_start_cpus, which starts every CPU of it, one at a time (one
 * that does not arrive is reported and left out). */
void smp_prepare(const struct smp_boot *b);

/* The index of the CPU this runs on (0: the one that booted). */
unsigned smp_self(void);

/* The vector of the interrupt CPU 0 sends the others (a shootdown round,
 * a stop request, work to do); the handler acknowledges shootdowns. */
#define SMP_IPI_VECTOR 0x41
void smp_ipi(void);

/* A fault on a CPU other than 0: mark it halted (its dump is printed). */
void smp_halted(unsigned k);

/* Before a guest runs on this CPU: whether a shootdown asked for a flush. */
bool smp_take_flush(void);

#endif
