/*
 * memmon's bootstrap page tables: an identity map of physical memory, so
 * that memmon stops running on the firmware's tables (which live in
 * boot-services memory, and map some of it read-only or not at all) before
 * that memory goes to the frame allocator.
 */
#ifndef MEMMON_IDMAP_H
#define MEMMON_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

/* CPUID.80000001h:EDX[26]: the CPU has 1 GiB pages (pdpe1gb). */
bool has_1g_pages(void);

/* Pages of table needed to map [0, top). Call before ExitBootServices. */
uint64_t idmap_pages(uint64_t top);

/* Fill the tables in `pages` zeroed-or-not pages at `mem` (identity-mapped,
 * writable) to map [0, top) read-write, executable, write-back, and load
 * them into CR3. */
void idmap_load(void *mem, uint64_t top);

#endif
