/*
 * The machine seam: everything the portable core (console, and later
 * spaces, paging and frames) needs from the machine, and nothing more.
 *
 * Two implementations exist: efi/platform_x86.c for the real machine after
 * ExitBootServices, and test/host/platform_host.c for Linux, where "physical
 * memory" is a block of simulated RAM and the serial port is a byte queue.
 * Calls go one way: the core calls these; these never call the core.
 */
#ifndef MEMMON_PLATFORM_H
#define MEMMON_PLATFORM_H

#include "types.h"

/* Console byte I/O. plat_putc sends one raw byte (no newline translation).
 * plat_getc returns the next received byte (0-255), PLAT_RX_NONE at once
 * when none is waiting (it never blocks), or PLAT_RX_ERROR for a byte lost
 * or garbled on the wire (overrun, parity, framing, break). */
#define PLAT_RX_NONE  (-1)
#define PLAT_RX_ERROR (-2)
void plat_putc(uint8_t c);
int plat_getc(void);

/* Called by a polling loop that found nothing to do (pause / nothing). */
void plat_idle(void);

/* Control registers and TLB. plat_flush_tlb drops every entry, global
 * ones included. */
uint64_t plat_read_cr3(void);
void plat_write_cr3(uint64_t cr3);
void plat_invlpg(vaddr_t va);
void plat_flush_tlb(void);

/*
 * The one function that turns a physical address into a pointer. Physical
 * memory appears at plat_ram_base (0 on the machine, where memmon's tables
 * identity-map RAM; a block of simulated RAM on the host); an address at or
 * past plat_ram_limit is a bug in the caller. Inline: page-table walks
 * call it at every level.
 */
extern uintptr_t plat_ram_base;
extern uint64_t plat_ram_limit;
static inline void *plat_pa_to_ptr(paddr_t pa)
{
	CHECK(pa_addr(pa) < plat_ram_limit);
	return (void *)(plat_ram_base + (uintptr_t)pa_addr(pa));
}

/* Turn on the protection memmon's own tables rely on: EFER.NXE, so that
 * no-execute entries are legal, and CR0.WP, so that read-only entries bind
 * the supervisor too. Before loading a table with no-execute entries.
 * False, changing nothing, on a CPU without no-execute. */
bool plat_protect_on(void);

/*
 * Fault containment. Runs fn(arg) and returns its result. If a CPU
 * exception is raised inside it, the platform has already printed the full
 * register dump; the call is abandoned and plat_guarded_call returns
 * PLAT_FAULTED with *vector set to the exception vector.
 */
#define PLAT_FAULTED (-0x7fff)
int plat_guarded_call(int (*fn)(void *), void *arg, int *vector);

/*
 * Deliberately raise a CPU exception (a testing aid for the fault path and
 * for the protection memmon's own page tables give). Returns false,
 * raising nothing, for what it cannot raise. Each access is one that would
 * do no harm if the protection it tests were missing.
 */
enum plat_trap {
	PLAT_TRAP_DE,    /* divide by zero */
	PLAT_TRAP_BP,    /* int3 */
	PLAT_TRAP_UD,    /* ud2 */
	PLAT_TRAP_GP,    /* a read of a non-canonical address */
	PLAT_TRAP_READ,  /* a read of the byte at `addr` (#PF where nothing is mapped) */
	PLAT_TRAP_WRITE, /* a byte of memmon's own code written back unchanged (#PF: read-only) */
	PLAT_TRAP_EXEC,  /* a call into a `ret` in memmon's data (#PF: no-execute) */
	PLAT_TRAP_DEEP,  /* recursion without end (#PF on the stack's guard page) */
};
bool plat_raise(enum plat_trap kind, uint64_t addr);
/* The same on CPU k (1 .., idle), for kinds without an address: the fault
 * stops that CPU (SPEC section 4); returns at once. False where it cannot. */
bool plat_raise_on(unsigned k, enum plat_trap kind);

/*
 * The reserved part of every address space: memmon's own pages, mapped
 * supervisor-only at the same virtual addresses in its own tables and in
 * every client space, so that code running there survives a CR3 switch
 * (the trampoline that runs peek, poke and park, with its GDT, IDT and
 * stack). It lies in the upper half, in the last 512 GiB (PML4 slot 511);
 * clients can never map there.
 */
#define PLAT_RSV_BASE 0xffffff8000000000ull
#define PLAT_RSV_MAX  8
struct plat_rsv {
	uint64_t va; /* page-aligned, at or above PLAT_RSV_BASE */
	paddr_t pa;  /* frames memmon keeps (never the allocator's) */
	uint64_t pages;
	bool write, exec;
};
/* The pieces to map, at most PLAT_RSV_MAX; 0 where the platform has no
 * trampoline (then plat_access and plat_park do not switch CR3). */
size_t plat_reserved(struct plat_rsv *out, size_t cap);

/*
 * Read (write false) or write (write true) the 8-byte word at va, 8-byte
 * aligned, with the tables rooted at `root` loaded in CR3 and CR0.WP on, so
 * that the access obeys exactly what those tables say; CR3 is restored
 * after. True on success (*value read, or written). False when the access
 * faulted: *f says what the CPU reported, and nothing else changed.
 * The tables must map the reserved pieces (plat_reserved).
 */
struct plat_fault {
	unsigned vector; /* 14: #PF */
	uint64_t code;   /* the error code (bit 0: protection, bit 1: write) */
	uint64_t addr;   /* CR2 for #PF */
};
bool plat_access(paddr_t root, vaddr_t va, bool write, uint64_t *value, struct plat_fault *f);

/* Load `root` into CR3 and idle until a byte arrives on the serial port;
 * the byte is consumed; then restore CR3. The tables must map the reserved
 * pieces. */
void plat_park(paddr_t root);

/*
 * The startup script: the text of `startup.mon` that the machine found
 * before the core started (on the real machine, read from the root of the
 * volume memmon was loaded from, before ExitBootServices, into memory
 * memmon keeps), or NULL with *len 0 when there is none. The text stays
 * valid and unchanged for memmon's lifetime; it is not NUL-terminated and
 * may hold any bytes (the core's script runner judges them). monitor_init
 * runs it at the first prompt (monitor/script.h).
 */
const char *plat_script(size_t *len);

/*
 * Hardware virtualization: AMD SVM with nested paging, for the guest layer
 * (monitor/guest.h). The VMCB's format is architectural and the guest
 * layer writes it (monitor/vmcb.h); the platform runs it.
 *
 * plat_svm_on: whether guests can run here: the CPU has SVM with nested
 * paging and the firmware left SVM enabled. The first call turns SVM on
 * (EFER.SVME, the host save area) and sets up what the platform owns: the
 * I/O and MSR permission maps (every port and every MSR intercepted) and the
 * time-slice timer. True with *asids the number of ASIDs (ASID 0 is the
 * host's, so guests get 1 .. *asids - 1); false, changing nothing, otherwise.
 */
bool plat_svm_on(uint32_t *asids);

/* A guest's general registers that VMRUN does not load from the VMCB (RAX,
 * RSP, RIP and RFLAGS live there). */
struct plat_gprs {
	uint64_t rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/*
 * Run the guest whose VMCB is the 4K-aligned page `vmcb` (memory memmon
 * keeps, never the allocator's) once, until its next #VMEXIT, with *g as its
 * other registers (updated on return). The platform writes the VMCB's I/O
 * and MSR permission map addresses, swaps the state VMLOAD/VMSAVE move (FS,
 * GS, TR, LDTR and the system-call MSRs) around the run, and arms its timer
 * for slice_us microseconds (> 0); a guest still running then exits with
 * the physical-interrupt code. Returns the microseconds left of the slice
 * (0: it ran out). memmon's interrupts are off again on return. On any
 * CPU; the run flushes the TLB when a shootdown round asked this CPU to.
 */
uint64_t plat_svm_run(void *vmcb, struct plat_gprs *g, uint64_t slice_us);

/*
 * CPUs (SPEC section 4). CPU 0 is the one that booted: it serves the
 * console and runs every command, and it alone changes frames, tables and
 * the database. The others, 1 .. plat_cpu_count() - 1 (those that arrived
 * when the platform started them), run what CPU 0 hands them.
 *
 * plat_cpu_call: CPU k (1 ..) runs fn(arg) and goes back to idle when fn
 * returns; plat_cpu_call returns at once. False, changing nothing, when k
 * is not idle. plat_cpu_kick interrupts CPU k (a guest running there exits
 * with the physical-interrupt code; fn sees it on its next exit).
 *
 * plat_shootdown: after CPU 0 changed page tables that guests on the CPUs
 * in `mask` (bit k: CPU k) may hold in their TLBs, one round of
 * interrupts: returns when each of them has acknowledged, from outside its
 * guest, and will flush its TLB before the guest runs again (plat_svm_run
 * does), or when PLAT_SHOOT_BOUND_US has passed: the CPUs that did not
 * acknowledge in time.
 */
#define PLAT_CPU_MAX 16
/* Start the other CPUs: once, from monitor_init, on memmon's own tables,
 * before the console's first prompt. */
void plat_start_cpus(void);
#define PLAT_SHOOT_BOUND_US 200000u
enum plat_cpu_state {
	PLAT_CPU_CONSOLE, /* CPU 0 */
	PLAT_CPU_IDLE,
	PLAT_CPU_BUSY,   /* running what plat_cpu_call gave it */
	PLAT_CPU_HALTED, /* stopped by a fault in memmon's code (its dump was printed) */
};
unsigned plat_cpu_count(void);
uint32_t plat_cpu_apic(unsigned k);
enum plat_cpu_state plat_cpu_state(unsigned k);
bool plat_cpu_call(unsigned k, void (*fn)(void *), void *arg);
void plat_cpu_kick(unsigned k);
uint64_t plat_shootdown(uint64_t mask);

/* Microseconds since some fixed moment (the TSC, calibrated once against
 * the PIT): for measuring, never for correctness. */
uint64_t plat_now_us(void);

/* A checksum (FNV-1a, 64 bits) of memmon's code and read-only data as they
 * are in memory now, and their size in *bytes: what nothing may ever
 * write (`image` prints it; the tests compare it before and after a
 * hostile guest). The host has no image: 0 bytes. */
uint64_t plat_image_sum(uint64_t *bytes);

/* Stop for good after a fatal error (a failed CHECK): the real machine
 * halts with interrupts off; the host aborts, so tests see the failure. */
void plat_halt(void) __attribute__((noreturn));

/*
 * Power off. On QEMU with isa-debug-exit it exits with status
 * (PLAT_EXIT_CODE << 1) | 1; otherwise it tries ACPI S5, then a reset
 * through the keyboard controller. Returns only where nothing worked (or
 * on the host, where it just records the request).
 */
#define PLAT_EXIT_CODE 0x10
void plat_poweroff(void);

#endif
