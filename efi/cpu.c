/*
 * memmon's GDT, TSS and IDT, and the exception dump.
 *
 * GDT layout: 0x00 null, 0x08 64-bit code, 0x10 data, 0x18 TSS (16 bytes).
 * Every IDT entry is an interrupt gate (interrupts stay off in handlers)
 * to stub N of entry.asm, on an interrupt stack from the TSS.
 */
#include "cpu.h"

#include "fmt.h"
#include "smp.h"
#include "svm.h"
#include "trapguard.h"
#include "uart.h"
#include "x86.h"
#include "x86_exc.h"

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS  0x18

#define DESC_CODE     0x00af9a000000ffffull /* P, DPL0, exec/read, L=1, G */
#define DESC_DATA     0x00cf92000000ffffull /* P, DPL0, read/write, G */
#define DESC_ACCESSED (1ull << 40)          /* set by the CPU on a load, unless already set */

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS is 104 bytes");

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;       /* bits 2:0: interrupt stack table index, 0 = none */
	uint8_t type_attr; /* P, DPL, type (0xe = 64-bit interrupt gate) */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t zero;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate is 16 bytes");

struct table_reg {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* A GDT and TSS per CPU (loading a TSS marks its descriptor busy, so no two
 * CPUs can share one); one IDT for all, written once by CPU 0. */
static struct tss tss[SMP_CPU_MAX] __attribute__((aligned(16)));
static uint64_t gdt[SMP_CPU_MAX][5] __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));

extern char isr_stubs[]; /* entry.asm: 256 stubs of 16 bytes */

/* An interrupt gate (interrupts stay off) to `handler` in memmon's code
 * segment, on interrupt stack `ist` (0: the current stack). */
static struct idt_gate gate(uint64_t handler, uint8_t ist)
{
	return (struct idt_gate){
	    .offset_lo = (uint16_t)handler,
	    .selector = SEL_CODE,
	    .ist = ist,
	    .type_attr = 0x8e,
	    .offset_mid = (uint16_t)(handler >> 16),
	    .offset_hi = (uint32_t)(handler >> 32),
	};
}

void cpu_init(unsigned k, void *ist1_top, void *ist2_top)
{
	struct tss *t = &tss[k];
	uint64_t *d = gdt[k];
	uint64_t base = (uint64_t)(uintptr_t)t, limit = sizeof(*t) - 1;

	t->ist[0] = (uint64_t)(uintptr_t)ist1_top;
	t->ist[1] = (uint64_t)(uintptr_t)ist2_top;
	t->iomap_base = sizeof(*t); /* no I/O permission bitmap */

	d[0] = 0;
	d[1] = DESC_CODE;
	d[2] = DESC_DATA;
	/* 64-bit available TSS (type 9), P=1; the base spans both quadwords. */
	d[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
	       (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	d[4] = base >> 32;

	if (k == 0)
		for (int v = 0; v < 256; v++) {
			bool critical = v == 2 || v == 8 || v == 18; /* NMI, #DF, #MC */
			idt[v] = gate((uint64_t)(uintptr_t)(isr_stubs + 16 * v), critical ? 2 : 1);
		}
	struct table_reg gdtr = {sizeof(gdt[k]) - 1, (uint64_t)(uintptr_t)d};
	struct table_reg idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
	x86_load_tables(&gdtr, &idtr, SEL_CODE, SEL_DATA, SEL_TSS);
}

void cpu_tramp_tables(void *gdt_out, void *idt_out, uint64_t stubs_va)
{
	const uint64_t copy[CPU_TRAMP_GDT_BYTES / 8] = {0, DESC_CODE | DESC_ACCESSED,
	                                                DESC_DATA | DESC_ACCESSED};
	struct idt_gate gates[CPU_TRAMP_VECTORS];

	_Static_assert(sizeof(gates) == CPU_TRAMP_IDT_BYTES, "CPU_TRAMP_IDT_BYTES");
	for (unsigned v = 0; v < CPU_TRAMP_VECTORS; v++)
		gates[v] = gate(stubs_va + 16 * v, 0);
	__builtin_memcpy(gdt_out, copy, sizeof(copy));
	__builtin_memcpy(idt_out, gates, sizeof(gates));
}

void cpu_halt_forever(void)
{
	for (;;) {
		cpu_cli();
		cpu_hlt();
	}
}

void cpu_say(const char *fmt, ...)
{
	static int turn;
	char buf[160];
	va_list ap;
	unsigned spin = 0;

	va_start(ap, fmt);
	fmt_vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	while (__atomic_exchange_n(&turn, 1, __ATOMIC_ACQUIRE) && ++spin < 10000000)
		cpu_pause();
	uart_puts(buf);
	__atomic_store_n(&turn, 0, __ATOMIC_RELEASE);
}

static void dump(const struct trap_frame *f)
{
	cpu_say("\nexception %s vector %lu error 0x%lx rip 0x%lx cr2 0x%lx\n",
	        x86_exc_name((int)f->vector), f->vector, f->error, f->rip, read_cr2());
	cpu_say("  rax 0x%lx rbx 0x%lx rcx 0x%lx rdx 0x%lx\n", f->rax, f->rbx, f->rcx, f->rdx);
	cpu_say("  rsi 0x%lx rdi 0x%lx rbp 0x%lx rsp 0x%lx\n", f->rsi, f->rdi, f->rbp, f->rsp);
	cpu_say("  r8 0x%lx r9 0x%lx r10 0x%lx r11 0x%lx\n", f->r8, f->r9, f->r10, f->r11);
	cpu_say("  r12 0x%lx r13 0x%lx r14 0x%lx r15 0x%lx\n", f->r12, f->r13, f->r14, f->r15);
	cpu_say("  cs 0x%lx ss 0x%lx rflags 0x%lx cr0 0x%lx cr3 0x%lx cr4 0x%lx\n", f->cs, f->ss,
	        f->rflags, read_cr0(), read_cr3(), read_cr4());
}

void trap_dispatch(struct trap_frame *f)
{
	static volatile int depth; /* CPU 0's exceptions being handled, NMIs aside */

	if (f->vector == SMP_IPI_VECTOR) { /* CPU 0 wants something */
		smp_ipi();
		return;
	}
	if (f->vector == SVM_TIMER_VECTOR) { /* a guest's time slice ended */
		svm_timer_eoi();
		return;
	}
	const unsigned k = smp_self();
	if (f->vector == 2) { /* NMI: not caused by the code, so it may go on */
		if (k)
			cpu_say("\ncpu 0x%x:", k);
		dump(f);
		return;
	}
	if (f->vector >= 32) {
		cpu_say("\nmemmon: stray interrupt vector %lu on cpu 0x%x ignored\n", f->vector, k);
		return;
	}
	if (k) { /* another CPU: stop it; CPU 0 carries on */
		cpu_say("\ncpu 0x%x:", k);
		dump(f);
		cpu_say("memmon: cpu 0x%x halted\n", k);
		smp_halted(k);
		cpu_halt_forever();
	}
	if (++depth > 2) { /* the nested dump itself faulted: say the least */
		cpu_say("\nexception vector %lu rip 0x%lx; halted\n", f->vector, f->rip);
		cpu_halt_forever();
	}
	dump(f);
	if (depth > 1) {
		cpu_say("memmon: exception while handling an exception; halted\n");
		cpu_halt_forever();
	}
	if (f->vector != 8 && f->vector != 18) {
		depth--;
		trapguard_recover((int)f->vector); /* returns if no command runs */
		depth++;
	}
	cpu_say("memmon: fatal exception outside any command; halted\n");
	cpu_halt_forever();
}
