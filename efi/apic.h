/*
 * The local APIC in xAPIC mode (memory-mapped registers at the base the
 * APIC base MSR names; memmon's own tables map that page uncached,
 * MM_SEG_MMIO). Every CPU sees its own APIC at the same address. Register
 * offsets from the AMD64 Architecture Programmer's Manual, vol. 2, ch. 16.
 */
#ifndef MEMMON_EFI_APIC_H
#define MEMMON_EFI_APIC_H

#include <stdbool.h>
#include <stdint.h>

#define APIC_ID       0x020 /* bits 31:24 */
#define APIC_EOI      0x0b0
#define APIC_SVR      0x0f0 /* bit 8: the APIC on */
#define APIC_ICR_LO   0x300 /* writing it sends; bit 12: still being delivered */
#define APIC_ICR_HI   0x310 /* bits 31:24: the destination's APIC ID */
#define APIC_LVT_TMR  0x320
#define APIC_TMR_INIT 0x380
#define APIC_TMR_CUR  0x390
#define APIC_TMR_DIV  0x3e0

#define APIC_ICR_FIXED  0x4000u /* level assert, fixed delivery; | vector */
#define APIC_ICR_INIT   0x4500u
#define APIC_ICR_SIPI   0x4600u /* | the start page's number */
#define APIC_ICR_BUSY   (1u << 12)
#define APIC_LVT_MASKED (1u << 16)

/* The APIC's physical base, from its MSR (read once). */
uint64_t apic_base(void);

static inline volatile uint32_t *apic_reg(unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(apic_base() + off);
}
static inline uint32_t apic_read(unsigned off)
{
	return *apic_reg(off);
}
static inline void apic_write(unsigned off, uint32_t v)
{
	*apic_reg(off) = v;
}
static inline uint32_t apic_id(void)
{
	return apic_read(APIC_ID) >> 24;
}
static inline void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

/* Send an interrupt command (APIC_ICR_*) to the CPU with APIC ID dest;
 * false if the APIC still had it undelivered after a bounded wait. */
bool apic_send(uint32_t dest, uint32_t icr);

#endif
