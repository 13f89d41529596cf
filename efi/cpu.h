/*
 * memmon's own CPU tables and fault handling on the real machine.
 */
#ifndef MEMMON_EFI_CPU_H
#define MEMMON_EFI_CPU_H

#include <stdint.h>

/* What isr_common (entry.asm) pushes, lowest address first. */
struct trap_frame {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap_frame matches entry.asm");

/* Callee-saved registers, stack, resume point and SS: entry.asm's x86_ctx. */
struct x86_ctx {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip, ss;
};

int x86_save_ctx(struct x86_ctx *c) __attribute__((returns_twice));
void x86_resume_ctx(struct x86_ctx *c, int v) __attribute__((noreturn));
void x86_switch_stack(void *top, void (*fn)(void *), void *arg) __attribute__((noreturn));
void x86_load_tables(const void *gdtr, const void *idtr, uint16_t cs, uint16_t ds, uint16_t tss);

/*
 * Install CPU k's GDT (code, data, its own TSS) and the IDT (all 256
 * vectors; CPU 0 writes it, before the others start). The exception
 * handlers run on ist1_top; #DF, NMI and #MC on ist2_top, so that even a
 * broken stack ends in a dump rather than a triple fault. Interrupts must
 * be disabled; they stay so.
 */
void cpu_init(unsigned k, void *ist1_top, void *ist2_top);

/* Called from isr_common. Returns only for events after which the
 * interrupted code may go on (NMI, stray interrupts). */
void trap_dispatch(struct trap_frame *f);

/*
 * The trampoline's descriptor tables (efi/tramp.asm): at gdt_out (8-byte
 * aligned, CPU_TRAMP_GDT_BYTES) a copy of memmon's null, code and data
 * descriptors, so its selectors mean the same, with their accessed bits
 * set, so the CPU never writes the copy; at idt_out (CPU_TRAMP_IDT_BYTES)
 * interrupt gates for vectors 0-31, gate v to stubs_va + 16 * v on the
 * current stack (IST 0).
 */
#define CPU_TRAMP_GDT_BYTES 24
#define CPU_TRAMP_VECTORS   32
#define CPU_TRAMP_IDT_BYTES (CPU_TRAMP_VECTORS * 16)
void cpu_tramp_tables(void *gdt_out, void *idt_out, uint64_t stubs_va);

/* A line of the platform's own (a dump, a CPU that did not start): the
 * format as fmt.h's, at most 159 characters, to COM1 ('\n' as "\r\n").
 * CPUs take turns (a bounded wait, so that a CPU that died holding the
 * turn does not silence the others); the console's output does not. */
void cpu_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Halt for good, with interrupts off. */
void cpu_halt_forever(void) __attribute__((noreturn));

#endif
