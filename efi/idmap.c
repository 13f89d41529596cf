/*
 * The bootstrap identity map. Long-mode 4-level paging, entries as the
 * AMD64 manual (vol. 2, 5.3) lays them out:
 *   bit 0 P present, bit 1 R/W writable, bit 7 PS (in a PDPT entry: a 1 GiB
 *   page; in a PD entry: a 2 MiB page), bits 51:12 the next table or the
 *   page frame. Nothing else is set: supervisor-only, executable, PAT
 *   index 0 (write-back; the firmware's MTRRs make MMIO uncacheable).
 * With CPUID.80000001h:EDX[26] (1 GiB pages) the map is a PML4 and one
 * PDPT per 512 GiB; without, one page directory of 2 MiB pages per GiB.
 */
#include "idmap.h"

#include "x86.h"

#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define GIB    (1ull << 30)
#define MIB2   (1ull << 21)

bool has_1g_pages(void)
{
	return cpuid_ext_edx(26);
}

uint64_t idmap_pages(uint64_t top)
{
	uint64_t gibs = (top + GIB - 1) / GIB;
	uint64_t pdpts = (gibs + 511) / 512;

	return 1 + pdpts + (has_1g_pages() ? 0 : gibs);
}

void idmap_load(void *mem, uint64_t top)
{
	uint64_t gibs = (top + GIB - 1) / GIB;
	uint64_t pdpts = (gibs + 511) / 512;
	uint64_t *pml4 = mem;
	uint64_t *pdpt = pml4 + 512;
	uint64_t *pd = pdpt + 512 * pdpts;
	bool big = has_1g_pages();

	for (uint64_t i = 0; i < 512 * (1 + pdpts); i++)
		pml4[i] = 0;
	for (uint64_t i = 0; i < pdpts; i++)
		pml4[i] = (uint64_t)(uintptr_t)&pdpt[512 * i] | PTE_P | PTE_RW;
	for (uint64_t g = 0; g < gibs; g++) {
		if (big) {
			pdpt[g] = (g * GIB) | PTE_P | PTE_RW | PTE_PS;
			continue;
		}
		uint64_t *dir = &pd[512 * g];
		pdpt[g] = (uint64_t)(uintptr_t)dir | PTE_P | PTE_RW;
		for (uint64_t m = 0; m < 512; m++)
			dir[m] = (g * GIB + m * MIB2) | PTE_P | PTE_RW | PTE_PS;
	}
	write_cr3((uint64_t)(uintptr_t)pml4);
	tlb_flush_all(); /* global entries the firmware's tables left, too */
}
