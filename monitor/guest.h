/*
 * guests: virtual CPUs that run real x86 code with a client space as their
 * memory, under AMD SVM with nested paging (SPEC section 3).
 *
 * A guest belongs to one client space N. Guest-physical address g is page
 * g of space N: space N's own x86-64 tables are the nested page tables
 * (nCR3 = space_root(N)), so there is no second table to keep in step.
 * Client tables set U on every level and leaf, which nested paging
 * requires of every guest access; memmon's reserved upper half is
 * supervisor-only and lies beyond any guest-physical address, so no guest
 * reaches it.
 *
 * Each guest has its own ASID (its number) and VMCB. Before each run the
 * layer compares space N's generation (space_generation) with the one its
 * last run saw and, when it changed, has VMRUN flush the TLB
 * (TLB_CONTROL): every change to space N is in force before the guest
 * executes another instruction.
 *
 * Everything the guest could use to reach outside exits (every port, every
 * MSR, hlt, vmmcall, the SVM instructions, invd/wbinvd, shutdown, every
 * exception, physical interrupts); bytes written to port 0xE9 are its
 * console, handed out a line at a time while it goes on.
 *
 * Guests are memmon's own objects: their VMCBs are pages of memmon's image,
 * not the allocator's, so guests change no count that check holds.
 * A lower layer never calls this one: the console deletes a space's guests
 * (guest_space_gone) after space_del, and every guest after space_reset.
 */
#ifndef MEMMON_GUEST_H
#define MEMMON_GUEST_H

#include "types.h"

#define GUEST_MAX      15u    /* guests 1 .. GUEST_MAX (ASIDs 1 .. 15) */
#define GUEST_SLICE_MS 100u   /* the default time slice */
#define GUEST_MS_MAX   10000u /* the longest slice guest_run takes */

/* The built-in programs (guest_progs.c): flat 32-bit code entered at its
 * load address with EAX = that address. */
struct guest_prog {
	const char *name;
	const char *summary;
	const uint8_t *bytes;
	size_t size;
};
extern const struct guest_prog guest_progs[];
extern const size_t guest_nprogs;

/* Whether this CPU can run guests (SVM with nested paging); turns SVM on
 * at the first call. */
bool guest_available(void);

/* guest new: a guest of client space n (n >= 1, existing) as *g, the
 * lowest free number. No program yet. */
err_t guest_new(unsigned n, unsigned *g);
/* guest del. */
err_t guest_del(unsigned g);
bool guest_exists(unsigned g);
/* Delete every guest of space n (after space_del n), or of every space
 * (after space_reset): `n` SPACE_MAX. */
void guest_space_gone(unsigned n);

/* guest load: copy program `prog` into guest g's memory at gpa (4K-aligned,
 * below 4 GiB) and reset its CPU to enter it there. Every page it needs
 * must be mapped in its space (any rights); otherwise nothing is written.
 * *size the program's bytes. */
err_t guest_load(unsigned g, const char *prog, uint64_t gpa, uint64_t *size);

/* Why a guest stopped. */
enum guest_stop {
	GUEST_NONE, /* not run since it was loaded (or stepped past its stop) */
	GUEST_HLT,
	GUEST_VMMCALL,
	GUEST_NPF,
	GUEST_IO,
	GUEST_MSR,
	GUEST_EXCEPTION,
	GUEST_SHUTDOWN,
	GUEST_TIMER,
	GUEST_STOPPED, /* guest stop brought it back from another CPU while it ran */
	GUEST_NSTOPS
};
extern const char *const guest_stop_name[GUEST_NSTOPS];

struct guest_exit {
	enum guest_stop why;
	uint64_t rip;
	uint64_t rax;    /* vmmcall */
	unsigned space;  /* npf: the guest's space */
	uint64_t gpa;    /* npf: the page */
	bool present;    /* npf: a mapping was there (protection) */
	char access;     /* npf: 'r', 'w' or 'x' */
	uint16_t port;   /* io */
	bool write;      /* io out, msr write */
	uint32_t msr;    /* msr */
	unsigned vector; /* exception */
};

/* Console output of a guest: one line (no line end), as it is complete. */
typedef void guest_line_fn(void *ctx, unsigned g, const char *text);

/* guest run: run guest g until its next exit, or for `ms` (1 ..
 * GUEST_MS_MAX) at most; *e says why it stopped. After an npf the same
 * instruction is retried; after an exception the guest's own IDT gets it
 * (and a fault while delivering it is the next exception, as the CPU
 * would combine them: a fault delivering a double fault is a shutdown). */
err_t guest_run(unsigned g, uint64_t ms, guest_line_fn *line, void *ctx, struct guest_exit *e);

/*
 * Guests on other CPUs (SPEC section 4). CPU 0 alone changes every guest's
 * state; a guest started on CPU k is that CPU's until guest_stop brings it
 * back, and every other call on it but guest_stop, guest_del and
 * guest_info is refused meanwhile.
 *
 * guest_start: run guest g on CPU k (1 .. plat_cpu_count() - 1, idle and
 * holding no guest) and return at once. It runs until an exit that would
 * end guest_run (a time slice does not), or until guest_stop. Its console
 * lines are kept (the last HELD_LINES) and handed to `line` by guest_stop.
 *
 * guest_stop: bring guest g back (asking its CPU, which the guest leaves at
 * its next exit) and describe in *e the exit it stopped on: GUEST_STOPPED
 * when it was still running. An error, changing nothing, when the CPU
 * does not answer within a second.
 */
err_t guest_start(unsigned g, unsigned k);
err_t guest_stop(unsigned g, guest_line_fn *line, void *ctx, struct guest_exit *e);
/* Guest g (which exists) was started on another CPU: the error for any call
 * that would touch its state there; NULL otherwise. */
err_t guest_elsewhere(unsigned g);
/* The CPU guest g was started on (0: none); the guest started on CPU k. */
unsigned guest_cpu(unsigned g);
unsigned guest_on_cpu(unsigned k);

/* For cpu: the CPUs guests may use (CPU 0 among them, for guest run) and
 * what each is. */
struct guest_cpu_info {
	uint32_t apic;
	bool console;   /* CPU 0 */
	bool halted;    /* stopped by a fault in memmon's code */
	unsigned guest; /* started there (0: none) */
};
unsigned guest_ncpus(void);
void guest_cpu_info(unsigned k, struct guest_cpu_info *i);

/*
 * The shootdown rule, after every command: for each space that changed
 * (space_generation) since the last call while a guest of it was on
 * another CPU, one round of plat_shootdown to those CPUs. Returns when
 * none of them can still use a translation from before the change: the
 * CPUs that did not acknowledge in time (0: all did).
 */
uint64_t guest_sync(void);

/* Before space_del(n) (or space_reset: SPACE_MAX): bring back every guest
 * of space n from other CPUs, so that none runs on tables about to be
 * freed. An error when a CPU does not answer (then the caller must not
 * delete). */
err_t guest_recall(unsigned n);

/* guest skip: step past the instruction that stopped guest g; *rip the new
 * RIP. */
err_t guest_skip(unsigned g, uint64_t *rip);

/* Registers, in `guest regs` order. */
enum guest_reg {
	GR_RIP,
	GR_RSP,
	GR_RAX,
	GR_RBX,
	GR_RCX,
	GR_RDX,
	GR_RSI,
	GR_RDI,
	GR_RBP,
	GR_R8,
	GR_R9,
	GR_R10,
	GR_R11,
	GR_R12,
	GR_R13,
	GR_R14,
	GR_R15,
	GR_RFLAGS,
	GR_CR0,
	GR_CR3,
	GR_CR4,
	GR_EFER,
	GUEST_NREGS
};
extern const char *const guest_reg_name[GUEST_NREGS];
/* Register r of guest g (which exists). */
uint64_t guest_reg(unsigned g, enum guest_reg r);
/* guest set: *stored what the register holds now (EFER keeps SVME, which
 * SVM requires; RFLAGS keeps bit 1). */
err_t guest_set(unsigned g, enum guest_reg r, uint64_t v, uint64_t *stored);

/* For guest list. */
struct guest_info {
	unsigned space;
	const char *prog;      /* NULL: none loaded */
	enum guest_stop state; /* the last stop, GUEST_NONE before the first */
	uint64_t exits[GUEST_NSTOPS];
};
bool guest_info(unsigned g, struct guest_info *i);

extern const char guest_err_nosvm[];

#endif
