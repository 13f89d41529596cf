/*
 * The hosted machine: what tests, fuzzers and benchmarks use to drive the
 * hosted implementation of monitor/platform.h.
 */
#ifndef MEMMON_HOST_H
#define MEMMON_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "memmap.h"

/* Queue bytes for plat_getc. */
void host_input(const void *bytes, size_t n);
/* Everything sent through plat_putc since the last host_output_reset. */
const char *host_output(void);
size_t host_output_len(void);
void host_output_reset(void);
/* Also copy output to stdout (the interactive host build). */
void host_output_to_stdout(int on);
/* The startup script plat_script reports from now on (NULL: none, the
 * default). The caller keeps `text` alive; monitor_init runs it. */
void host_script(const char *text, size_t len);
/* How many times plat_poweroff was called. */
unsigned host_poweroffs(void);

/* A model TLB: a test caches translations it read through a live tree;
 * plat_invlpg drops the entries holding the address, plat_flush_tlb and
 * plat_write_cr3 drop all. What remains after an operation must still be
 * true, or the operation left a stale translation behind. */
struct host_tlb_entry {
	uint64_t va, size; /* the page: aligned to its size */
	uint64_t value;    /* what the test cached for it */
};
#define HOST_TLB_MAX 64
void host_tlb_add(uint64_t va, uint64_t size, uint64_t value);
size_t host_tlb(const struct host_tlb_entry **entries);

/*
 * The reserved pieces (plat_reserved). 0, the default: there are none.
 * Set by a test to a page-aligned physical address: the pieces are laid out
 * as on the real machine (efi/platform_x86.c), in consecutive frames from
 * host_rsv_base (code, data, then 2 pages of stack: 4 frames), which the
 * test keeps as memmon's. plat_access and plat_park then CHECK that the
 * tables they are given map every reserved page to its frame, with its
 * rights and supervisor-only, as the real trampoline needs.
 */
extern uint64_t host_rsv_base;
#define HOST_RSV_FRAMES 4

/* plat_access and plat_park calls so far (a test reads differences). */
unsigned long host_accesses(void);
unsigned long host_parks(void);
/* The root the last plat_park ran on (0 before any). */
uint64_t host_parked_root(void);

/* Replace simulated RAM with `bytes` of zeroed memory at physical 0;
 * returns its host address. */
void *host_ram(uint64_t bytes);

/* A boot_info resembling OVMF's map of a machine with `ram_mib` MiB,
 * its regions out of address order as OVMF's can be. */
struct boot_info *host_boot_info(unsigned long ram_mib);

#endif
