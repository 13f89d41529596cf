/*
 * The local APIC's base and the interrupt command register (apic.h).
 */
#include "types.h"

#include "apic.h"
#include "x86.h"

#define MSR_APIC_BASE 0x1bu

uint64_t apic_base(void)
{
	static uint64_t base;

	if (!base)
		base = rdmsr(MSR_APIC_BASE) & 0x000ffffffffff000ull;
	return base;
}

bool apic_send(uint32_t dest, uint32_t icr)
{
	unsigned spin = 0;

	apic_write(APIC_ICR_HI, dest << 24);
	apic_write(APIC_ICR_LO, icr);
	while ((apic_read(APIC_ICR_LO) & APIC_ICR_BUSY) && ++spin < 1000000)
		cpu_pause();
	return !(apic_read(APIC_ICR_LO) & APIC_ICR_BUSY);
}
