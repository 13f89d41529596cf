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
	write_cr3(read_cr3());
}

/* Physical memory is identity-mapped in every table memmon runs on. */
uintptr_t plat_ram_base = 0;
uint64_t plat_ram_limit = (uint64_t)1 << 52;

void plat_protect_on(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
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

bool plat_raise(int vector)
{
	switch (vector) {
	case 0:
		__asm__ volatile("xor %%ecx, %%ecx; mov $1, %%eax; xor %%edx, %%edx; div %%ecx" ::
		                     : "rax", "rcx", "rdx");
		return true;
	case 3:
		__asm__ volatile("int3");
		return true;
	case 6:
		__asm__ volatile("ud2");
		return true;
	case 13: /* a non-canonical address */
		(void)*(volatile uint64_t *)0x8000000000000000ull;
		return true;
	case 14: /* the upper half, which the tables memmon runs on leave unmapped */
		(void)*(volatile uint64_t *)0xffff800000000000ull;
		return true;
	default:
		return false;
	}
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
