/*
 * x86-64 instructions the platform needs, as inline functions. Only efi/
 * includes this; the portable core reaches the machine through platform.h.
 */
#ifndef MEMMON_X86_H
#define MEMMON_X86_H

#include <stdbool.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

#define X86_READ_CR(n)                                                                             \
	static inline uint64_t read_cr##n(void)                                                    \
	{                                                                                          \
		uint64_t v;                                                                        \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                  \
		return v;                                                                          \
	}
X86_READ_CR(0)
X86_READ_CR(2)
X86_READ_CR(3)
X86_READ_CR(4)

#define CR0_WP   (1ull << 16) /* write protection binds the supervisor too */
#define CR4_PGE  (1ull << 7)  /* global pages */
#define MSR_EFER 0xc0000080u
#define EFER_NXE (1ull << 11) /* no-execute bit in page-table entries */

static inline void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory");
}
static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}
static inline void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}
static inline void cpu_cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}
static inline void cpu_hlt(void)
{
	__asm__ volatile("hlt" ::: "memory");
}
static inline void cpu_pause(void)
{
	__asm__ volatile("pause");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/* Whether CPUID leaf 80000001h reports feature `bit` in EDX (false where
 * the leaf does not exist). */
static inline bool cpuid_ext_edx(unsigned bit)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000, &a, &b, &c, &d);
	if (a < 0x80000001)
		return false;
	cpuid(0x80000001, &a, &b, &c, &d);
	return (d >> bit) & 1;
}

/* Drop every TLB entry, global ones included: reloading CR3 keeps global
 * entries, toggling CR4.PGE does not. */
static inline void tlb_flush_all(void)
{
	uint64_t cr4 = read_cr4();

	if (cr4 & CR4_PGE) {
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4);
	} else {
		write_cr3(read_cr3());
	}
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

#endif
