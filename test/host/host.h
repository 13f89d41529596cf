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

/*
 * The simulated guest CPU behind plat_svm_on and plat_svm_run. Off by
 * default (plat_svm_on: no SVM, as on a CPU without it); host_svm(asids)
 * turns it on with that many ASIDs (0: off again, forgetting every TLB).
 *
 * It runs a script, not x86 code: op i sits at offset 16 * i of the page
 * RIP is in (a program loaded at a page starts at op 0), and a RIP between
 * two ops means the next one (so stepping past an op of any length 1-16
 * reaches the next). VMRUN checks what SVM requires (ASID not
 * 0, the VMRUN intercept, EFER.SVME, nested paging on with a root, not
 * CR0.PG without CR0.PE) and
 * otherwise exits VMEXIT_INVALID with the guest's saved state overwritten,
 * as QEMU does. Memory ops walk the nested tables at N_CR3 as the CPU does
 * (every level present and user; write needs W at every level, fetch X)
 * and keep what they found in a TLB per ASID, used before any walk, which
 * only TLB_CONTROL drops: a layer that forgets to flush after a change
 * lets a guest reach a frame through a mapping that is gone. An injected
 * exception always faults in delivery (the guest's IDT is empty): exit #GP
 * with EXITINTINFO holding the event. Each op takes 1 us of the slice;
 * HOST_G_SPIN (and the end of the script) runs out the slice.
 */
enum host_guest_kind {
	HOST_G_READ,  /* RAX = the 8 bytes at guest-physical addr */
	HOST_G_WRITE, /* the 8 bytes at addr = value */
	HOST_G_FETCH, /* an instruction fetch at addr (no data) */
	HOST_G_HLT,
	HOST_G_VMMCALL, /* with RAX = value */
	HOST_G_OUT,     /* a byte out to port addr, AL = value */
	HOST_G_IN,      /* a byte in from port addr */
	HOST_G_WRMSR,   /* MSR addr (ECX), value */
	HOST_G_RDMSR,
	HOST_G_EXC, /* exception vector value, error code addr */
	HOST_G_SHUTDOWN,
	HOST_G_SPIN, /* run until the slice ends */
};
struct host_guest_op {
	enum host_guest_kind kind;
	uint64_t addr, value;
};
void host_svm(uint32_t asids);
/* The script every guest runs (the caller keeps `ops` alive). */
void host_guest_script(const struct host_guest_op *ops, size_t n);
/* VMRUNs so far, and how many of them had TLB_CONTROL set. */
unsigned long host_vmruns(void);
unsigned long host_tlb_flushes(void);
/* Accesses served from the TLB with a translation or rights the nested
 * tables no longer hold (a stale translation: SPEC section 3 says never). */
unsigned long host_stale_accesses(void);

/*
 * CPUs (plat_cpu_*): one by default. host_cpus(n) simulates n, all idle,
 * on the calling thread: plat_cpu_call only records the work; it runs when
 * the test calls host_cpu_run(k) (so the work must end by itself: a guest
 * script that ends in a stopping exit) or when plat_cpu_kick interrupts
 * CPU k (guest stop: the run loop then sees the request at its first
 * interrupt exit). plat_shootdown counts its rounds and has each CPU of the
 * mask flush its TLB before its next VMRUN, but for the CPUs of
 * host_cpu_deaf's mask, which never acknowledge, nor answer a kick.
 */
void host_cpus(unsigned n);
/* Called before each VMRUN on a CPU other than 0 with that CPU's count of
 * runs: what CPU 0 would do meanwhile (change a space, guest_sync). */
void host_cpu_hook(void (*hook)(unsigned k, unsigned long run));
void host_cpu_deaf(uint64_t mask);
bool host_cpu_run(unsigned k);
unsigned long host_shootdowns(void);

#endif
