/*
 * The machine seam (monitor/platform.h) on real x86-64 hardware after
 * ExitBootServices: COM1, control registers, identity-mapped RAM.
 */
#include "platform.h"

#include "cpu.h"
#include "trapguard.h"
#include "uart.h"
#include "x86.h"

void plat_putc(uint8_t c)
{
	uart_putc(c);
}
int plat_getc(void)
{
	return uart_getc();
}
void plat_idle(void)
{
	cpu_pause();
}
uint64_t plat_read_cr3(void)
{
	return read_cr3();
}
void plat_write_cr3(uint64_t cr3)
{
	write_cr3(cr3);
}
void plat_invlpg(vaddr_t va)
{
	invlpg(va_addr(va));
}
void plat_flush_tlb(void)
{
	tlb_flush_all();
}

/* Physical memory is identity-mapped in every table memmon runs on. */
uintptr_t plat_ram_base = 0;
uint64_t plat_ram_limit = (uint64_t)1 << 52;

bool plat_protect_on(void)
{
	if (!cpuid_ext_edx(20)) /* no-execute: without it, EFER.NXE cannot be set */
		return false;
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
	return true;
}

/* The innermost guarded call, if one runs. */
struct guard {
	struct x86_ctx ctx;
	struct guard *outer;
	volatile int vector;
};
static struct guard *volatile current_guard;

void trapguard_recover(int vector)
{
	struct guard *g = current_guard;

	if (!g)
		return;
	g->vector = vector;
	x86_resume_ctx(&g->ctx, 1);
}

int plat_guarded_call(int (*fn)(void *), void *arg, int *vector)
{
	struct guard g = {.outer = current_guard, .vector = -1};

	if (x86_save_ctx(&g.ctx)) {
		current_guard = g.outer;
		*vector = g.vector;
		return PLAT_FAULTED;
	}
	current_guard = &g;
	int r = fn(arg);
	current_guard = g.outer;
	return r;
}

/* A `ret` in memmon's data, which its tables map no-execute. */
static volatile uint8_t data_ret[16] = {0xc3};

/* Recurse until the stack runs into its guard page (long before this
 * limit, which only keeps the compiler from calling the recursion endless). */
static volatile uint64_t deep_limit = ~(uint64_t)0;
static __attribute__((noinline)) uint64_t deeper(uint64_t depth)
{
	volatile uint8_t frame[256];

	frame[0] = (uint8_t)depth;
	if (depth == deep_limit)
		return 0;
	return deeper(depth + 1) + frame[0];
}

bool plat_raise(enum plat_trap kind, uint64_t addr)
{
	switch (kind) {
	case PLAT_TRAP_DE:
		__asm__ volatile("xor %%ecx, %%ecx; mov $1, %%eax; xor %%edx, %%edx; div %%ecx" ::
		                     : "rax", "rcx", "rdx");
		return true;
	case PLAT_TRAP_BP:
		__asm__ volatile("int3");
		return true;
	case PLAT_TRAP_UD:
		__asm__ volatile("ud2");
		return true;
	case PLAT_TRAP_GP:
		(void)*(volatile uint64_t *)0x8000000000000000ull;
		return true;
	case PLAT_TRAP_READ:
		(void)*(volatile uint8_t *)(uintptr_t)addr;
		return true;
	case PLAT_TRAP_WRITE: {
		volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)&plat_raise;
		*code = *code;
		return true;
	}
	case PLAT_TRAP_EXEC:
		((void (*)(void))(uintptr_t)data_ret)();
		return true;
	case PLAT_TRAP_DEEP:
		(void)deeper(0);
		return true;
	}
	return false;
}

void plat_halt(void)
{
	uart_puts("memmon: halted\n");
	cpu_halt_forever();
}

void plat_poweroff(void)
{
	outb(0xf4, PLAT_EXIT_CODE); /* QEMU isa-debug-exit: exits (code << 1) | 1 */
	outw(0x604, 0x2000);        /* ACPI PM1a_CNT on QEMU q35: SLP_EN with S5 */
	/* 8042 keyboard controller: wait for its input buffer, then pulse reset. */
	for (unsigned spin = 0; (inb(0x64) & 0x02) && spin < (1u << 16); spin++)
		cpu_pause();
	outb(0x64, 0xfe);
	uart_puts("\nmemmon: power-off failed; halted\n");
	cpu_halt_forever();
}
