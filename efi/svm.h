/*
 * AMD SVM on the real machine (efi/svm.c, efi/vmrun.asm): what the rest of
 * efi/ needs of it. The seam's side is plat_svm_on and plat_svm_run
 * (monitor/platform.h).
 */
#ifndef MEMMON_EFI_SVM_H
#define MEMMON_EFI_SVM_H

#include <stdint.h>

/* The vector of the time-slice timer's interrupt: the guest exits on it
 * (INTR intercepted); memmon then takes it with interrupts briefly on, and
 * trap_dispatch hands it here to be acknowledged. */
#define SVM_TIMER_VECTOR 0x40
void svm_timer_eoi(void);
/* Arm this CPU's timer to interrupt once in `us` microseconds (0: stop
 * it): a bound on a `hlt` that waits for another CPU. */
void svm_timer_wake(uint64_t us);

/* Turn SVM on for CPU k (EFER.SVME and its own host save area), if the CPU
 * has it: plat_svm_on does it for CPU 0, efi/smp.c for the others as they
 * start. */
void svm_cpu_on(unsigned k);

/* vmrun.asm: VMSAVE the host's state to host_pa, load *g and VMLOAD and
 * VMRUN the guest at vmcb_pa with memmon's interrupts on but GIF clear
 * (so only the guest sees them: V_INTR_MASKING), and after the #VMEXIT
 * VMSAVE the guest, store *g, VMLOAD the host and set GIF with interrupts
 * off. Saves the callee-saved registers VMRUN does not. */
struct plat_gprs;
void svm_enter(uint64_t vmcb_pa, struct plat_gprs *g, uint64_t host_pa);

#endif
