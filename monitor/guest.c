/*
 * guests: guest objects, their VMCBs built from a space, exit decoding and
 * the run loop (guest.h says what and why).
 */
#include "guest.h"

#include "fmt.h"
#include "platform.h"
#include "space.h"
#include "vmcb.h"
#include "x86len.h"

#define LINE_MAX        120       /* a guest console line longer than this is cut */
#define RUNS_MAX        100000u   /* VMRUNs of one guest_run that go on without a stop */
#define HELD_LINES      16        /* console lines a guest on another CPU keeps for guest stop */
#define REMOTE_SLICE_US 60000000u /* another CPU: a backstop (IPIs stop it) */
#define STOP_WAIT_US    1000000u  /* how long guest stop waits for the other CPU */
#define REMOTE_RUNNING  ~(uint64_t)0
#define REMOTE_STOPPED  (~(uint64_t)0 - 1)

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

struct guest {
	bool used;
	unsigned space;
	const struct guest_prog *prog;
	enum guest_stop state;
	bool stepped;         /* guest_skip went past the stop since */
	uint64_t io_next_rip; /* io: the instruction after it */
	uint64_t exit_info1, exit_info2, exit_int_info;
	unsigned vector;   /* exception: the vector it stopped on */
	unsigned soft_len; /* exception: an INT n / INT3 / INTO this long (0: a fault) */
	uint64_t gen;      /* space_generation at the last run; 0: flush */
	uint64_t exits[GUEST_NSTOPS];
	struct plat_gprs gprs;
	char line[LINE_MAX + 1];
	size_t line_len;
	uint8_t shadow[VMCB_SAVE_END - VMCB_ES]; /* the VMCB's state before a run */
	struct plat_gprs before;                 /* and the registers */
	/* Started on another CPU (guest_start): that CPU (0: none), whether
	 * guest_stop asked it back (atomic), the exit code its run loop ended
	 * on (REMOTE_RUNNING while it runs), the generation of its space that
	 * the last shootdown round covered, and the console lines it wrote
	 * there, printed when it comes back. */
	unsigned cpu;
	bool stop_req;
	uint64_t remote_code;
	uint64_t synced;
	char held[HELD_LINES][LINE_MAX + 1];
	unsigned nheld, dropped;
};

/* The VMCBs: pages of memmon's image, one per guest (index g - 1). */
static uint8_t vmcbs[GUEST_MAX][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static struct guest G[GUEST_MAX + 1];
static unsigned cpu_guest[PLAT_CPU_MAX]; /* the guest started on each CPU (0: none) */
static uint32_t nasids;
static char msg[160];

const char guest_err_nosvm[] = "guest: this CPU has no SVM with nested paging";

const char *const guest_stop_name[GUEST_NSTOPS] = {
    "ready", "hlt", "vmmcall", "npf", "io", "msr", "exception", "shutdown", "timer", "stopped",
};
const char *const guest_reg_name[GUEST_NREGS] = {
    "rip", "rsp", "rax", "rbx", "rcx", "rdx", "rsi",    "rdi", "rbp", "r8",  "r9",
    "r10", "r11", "r12", "r13", "r14", "r15", "rflags", "cr0", "cr3", "cr4", "efer",
};

#define EFER_SVME (1ull << 12)
#define EFER_LMA  (1ull << 10)
#define EFER_BITS ((1ull << 0) | (1ull << 8) | EFER_LMA | (1ull << 11) | EFER_SVME)
#define CR0_PE    (1ull << 0)
#define CR0_ET    (1ull << 4)
#define CR0_PG    (1ull << 31)
#define CR4_PSE   (1ull << 4)
#define CR4_PAE   (1ull << 5)
#define RFLAGS_1  (1ull << 1)

static void *vmcb(unsigned g)
{
	return vmcbs[g - 1];
}

bool guest_available(void)
{
	return plat_svm_on(&nasids) && nasids >= 2; /* the platform remembers */
}

bool guest_exists(unsigned g)
{
	return g >= 1 && g <= GUEST_MAX && G[g].used;
}

static void seg(void *v, unsigned off, uint16_t sel, uint16_t attr, uint32_t limit, uint64_t base)
{
	vmcb_put(v, off, 2, sel);
	vmcb_put(v, off + 2, 2, attr);
	vmcb_put(v, off + 4, 4, limit);
	vmcb_setq(v, off + 8, base);
}

/* A fresh VMCB: every intercept, nested paging on, and a CPU in 32-bit
 * protected mode with flat 4 GiB segments, paging and interrupts off,
 * entering at `entry` with EAX = entry. */
static void vmcb_init(unsigned g, uint64_t entry)
{
	void *v = vmcb(g);

	__builtin_memset(v, 0, PAGE_SIZE);
	vmcb_put(v, VMCB_INTERCEPT_EXC, 4, 0xffffffffu);
	vmcb_put(v, VMCB_INTERCEPT_MISC, 4,
	         VMCB_I_INTR | VMCB_I_NMI | VMCB_I_SMI | VMCB_I_INIT | VMCB_I_INTN | VMCB_I_INVD |
	             VMCB_I_HLT | VMCB_I_INVLPGA | VMCB_I_IOIO | VMCB_I_MSR | VMCB_I_SHUTDOWN);
	vmcb_put(v, VMCB_INTERCEPT_SVM, 4, VMCB_I_SVM_ALL);
	vmcb_put(v, VMCB_ASID, 4, g);
	vmcb_setq(v, VMCB_VINTR, VMCB_V_INTR_MASKING);
	vmcb_setq(v, VMCB_NP_ENABLE, 1);
	seg(v, VMCB_CS, 0x08, VMCB_SEG_CODE32, 0xffffffffu, 0);
	seg(v, VMCB_DS, 0x10, VMCB_SEG_DATA32, 0xffffffffu, 0);
	seg(v, VMCB_ES, 0x10, VMCB_SEG_DATA32, 0xffffffffu, 0);
	seg(v, VMCB_SS, 0x10, VMCB_SEG_DATA32, 0xffffffffu, 0);
	seg(v, VMCB_FS, 0x10, VMCB_SEG_DATA32, 0xffffffffu, 0);
	seg(v, VMCB_GS, 0x10, VMCB_SEG_DATA32, 0xffffffffu, 0);
	seg(v, VMCB_GDTR, 0, 0, 0, 0);
	seg(v, VMCB_IDTR, 0, 0, 0, 0);
	seg(v, VMCB_LDTR, 0, VMCB_SEG_LDT, 0, 0);
	seg(v, VMCB_TR, 0, VMCB_SEG_TSS32, 0x67, 0);
	vmcb_put(v, VMCB_CPL, 1, 0);
	vmcb_setq(v, VMCB_EFER, EFER_SVME);
	vmcb_setq(v, VMCB_CR0, CR0_PE | CR0_ET);
	vmcb_setq(v, VMCB_DR6, 0xffff0ff0u);
	vmcb_setq(v, VMCB_DR7, 0x400);
	vmcb_setq(v, VMCB_RFLAGS, RFLAGS_1);
	vmcb_setq(v, VMCB_RIP, entry);
	vmcb_setq(v, VMCB_RAX, entry);
	vmcb_setq(v, VMCB_G_PAT, 0x0007040600070406ull); /* the power-on PAT */
	__builtin_memset(&G[g].gprs, 0, sizeof(G[g].gprs));
	G[g].gen = 0;
}

err_t guest_new(unsigned n, unsigned *out)
{
	if (!guest_available())
		return guest_err_nosvm;
	if (!n)
		return "guest: sigma0 (space 0) cannot hold a guest";
	if (!space_exists(n))
		return "guest: no such space";
	for (unsigned g = 1; g <= GUEST_MAX && g < nasids; g++) {
		if (G[g].used)
			continue;
		G[g] = (struct guest){.used = true, .space = n};
		vmcb_init(g, 0);
		*out = g;
		return NULL;
	}
	return "guest: every guest number is in use (one ASID each)";
}

static void drop_line(void *ctx, unsigned g, const char *text);

err_t guest_del(unsigned g)
{
	if (!guest_exists(g))
		return "guest: no such guest";
	if (G[g].cpu) {
		struct guest_exit e;
		err_t err = guest_stop(g, drop_line, NULL, &e);
		if (err && G[g].cpu) /* not back (VMEXIT_INVALID still brings it back) */
			return err;
	}
	G[g].used = false;
	return NULL;
}

void guest_space_gone(unsigned n)
{
	for (unsigned g = 1; g <= GUEST_MAX; g++)
		if (G[g].used && (n == SPACE_MAX || G[g].space == n)) {
			CHECK(!G[g].cpu); /* guest_recall(n) brought it back */
			G[g].used = false;
		}
}

/* The frame byte behind guest-physical address gpa of space n, or NULL. */
static uint8_t *gpa_ptr(unsigned n, uint64_t gpa)
{
	struct space_hit h;

	if (gpa >= SPACE_USER_TOP || !space_lookup(n, gpa, &h))
		return NULL;
	return plat_pa_to_ptr(h.pa);
}

err_t guest_load(unsigned g, const char *name, uint64_t gpa, uint64_t *size)
{
	const struct guest_prog *p = NULL;

	if (!guest_exists(g))
		return "guest: no such guest";
	if (G[g].cpu)
		return guest_elsewhere(g);
	for (size_t i = 0; i < guest_nprogs; i++) {
		const char *a = guest_progs[i].name, *b = name;
		while (*a && *a == *b)
			a++, b++;
		if (*a == *b)
			p = &guest_progs[i];
	}
	if (!p)
		return "guest: no such program ('guest progs' lists them)";
	if (gpa % PAGE_SIZE)
		return "guest: the load address is not 4K-aligned";
	if (gpa >= (1ull << 32) - p->size)
		return "guest: a program starts in 32-bit mode: load it below 4 GiB";
	for (uint64_t a = gpa; a < gpa + p->size; a += PAGE_SIZE)
		if (!gpa_ptr(G[g].space, a)) {
			fmt_format(msg, sizeof(msg),
			           "guest: page 0x%lx is not mapped in space %u (map it first)", a,
			           G[g].space);
			return msg;
		}
	for (uint64_t o = 0; o < p->size; o++)
		*gpa_ptr(G[g].space, gpa + o) = p->bytes[o];
	vmcb_init(g, gpa);
	G[g].prog = p;
	G[g].state = GUEST_NONE;
	G[g].stepped = false;
	G[g].line_len = 0;
	*size = p->size;
	return NULL;
}

/* ---- reading the guest's memory as it sees it --------------------------- */

/* The guest-physical address of linear address `la`, walking the guest's
 * own page tables when its paging is on; false when a level is missing. */
static bool linear_to_gpa(unsigned g, uint64_t la, uint64_t *gpa)
{
	const void *v = vmcb(g);
	const uint64_t cr0 = vmcb_q(v, VMCB_CR0), cr4 = vmcb_q(v, VMCB_CR4);
	const uint64_t cr3 = vmcb_q(v, VMCB_CR3), efer = vmcb_q(v, VMCB_EFER);
	const unsigned n = G[g].space;

	if (!(cr0 & CR0_PG)) {
		*gpa = la & 0xffffffffull;
		return true;
	}
	if (!(cr4 & CR4_PAE)) { /* two levels of 4-byte entries */
		const uint32_t a = (uint32_t)la;
		uint64_t t = cr3 & 0xfffff000u;
		for (int shift = 22;; shift -= 10) {
			uint32_t e = 0;
			for (int i = 0; i < 4; i++) {
				const uint8_t *b = gpa_ptr(n, t + ((a >> shift) & 0x3ff) * 4 + i);
				if (!b)
					return false;
				e |= (uint32_t)*b << (8 * i);
			}
			if (!(e & 1))
				return false;
			if (shift == 12 || ((e & 0x80) && (cr4 & CR4_PSE))) {
				const uint32_t mask = (1u << shift) - 1;
				*gpa = (uint64_t)((e & ~mask & 0xfffff000u) | (a & mask));
				return true;
			}
			t = e & 0xfffff000u;
		}
	}
	const bool lm = efer & EFER_LMA;
	uint64_t t = lm ? cr3 & 0x000ffffffffff000ull : cr3 & 0xffffffe0ull;
	for (int shift = lm ? 39 : 30;; shift -= 9) {
		const unsigned bits = (!lm && shift == 30) ? 2 : 9;
		uint64_t e = 0;
		for (int i = 0; i < 8; i++) {
			const uint8_t *b =
			    gpa_ptr(n, t + ((la >> shift) & ((1u << bits) - 1)) * 8 + i);
			if (!b)
				return false;
			e |= (uint64_t)*b << (8 * i);
		}
		if (!(e & 1))
			return false;
		const uint64_t addr = e & 0x000ffffffffff000ull;
		const bool large = (e & 0x80) && (shift == 21 || (lm && shift == 30));
		if (shift == 12 || large) {
			const uint64_t mask = (1ull << shift) - 1;
			*gpa = (addr & ~mask) | (la & mask);
			return true;
		}
		t = addr;
	}
}

static enum x86_mode code_mode(unsigned g)
{
	const void *v = vmcb(g);
	const uint64_t attr = vmcb_get(v, VMCB_CS + 2, 2);

	if ((vmcb_q(v, VMCB_EFER) & EFER_LMA) && (attr & VMCB_SEG_L))
		return X86_MODE_64;
	return attr & (1u << 10) ? X86_MODE_32 : X86_MODE_16;
}

/* CS's base as the CPU uses it (none in 64-bit mode). */
static uint64_t code_base(unsigned g)
{
	return code_mode(g) == X86_MODE_64 ? 0 : vmcb_q(vmcb(g), VMCB_CS + 8);
}

/* Up to `cap` bytes of the instruction at the guest's RIP, as it fetches
 * them (through its own paging, then space N); how many could be read. */
static size_t read_code(unsigned g, uint8_t *code, size_t cap)
{
	const uint64_t at = code_base(g) + vmcb_q(vmcb(g), VMCB_RIP);
	size_t got = 0;

	for (; got < cap; got++) {
		uint64_t gpa;
		const uint8_t *b = NULL;
		if (linear_to_gpa(g, at + got, &gpa))
			b = gpa_ptr(G[g].space, gpa);
		if (!b)
			break;
		code[got] = *b;
	}
	return got;
}

/* The length of the instruction at the guest's RIP, 0 if unknown; its
 * bytes in code[]. */
static unsigned insn_len(unsigned g, uint8_t code[X86_MAX_INSN_LEN])
{
	return x86_insn_len(code, read_code(g, code, X86_MAX_INSN_LEN), code_mode(g));
}

/* A software interrupt at the guest's RIP: INT3 (vector 3), INT n, INTO
 * (vector 4); its vector and length. False if the bytes say otherwise. */
static bool soft_int(unsigned g, unsigned *vector, unsigned *len)
{
	uint8_t code[X86_MAX_INSN_LEN];

	*len = insn_len(g, code);
	if (*len == 1 && (code[0] == 0xcc || code[0] == 0xce)) {
		*vector = code[0] == 0xcc ? 3 : 4;
		return true;
	}
	if (*len == 2 && code[0] == 0xcd) {
		*vector = code[1];
		return true;
	}
	return false;
}

/* ---- running ----------------------------------------------------------------- */

/* Which exceptions push an error code; which are contributory. */
static bool has_error_code(unsigned v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}
static bool contributory(unsigned v)
{
	return v == 0 || (v >= 10 && v <= 13);
}

/* After an exception exit that interrupted the delivery of event `first`:
 * what the CPU delivers instead (-1: shut down). */
static int combine(unsigned first, unsigned second)
{
	if (first == 8)
		return -1;
	if ((contributory(first) && contributory(second)) ||
	    (first == 14 && (contributory(second) || second == 14)))
		return 8;
	return (int)second;
}

/* Set up the delivery of the exception guest g stopped on, as its
 * `guest run` asks. False: it cannot be delivered (a shutdown). */
static bool inject(unsigned g)
{
	void *v = vmcb(g);
	struct guest *x = &G[g];
	unsigned vec = x->vector;
	uint64_t err = x->exit_info1 & 0xffffffffu;

	if ((x->exit_int_info & VMCB_EV_VALID) && ((x->exit_int_info >> 8) & 7) == 3) {
		const int c = combine(x->exit_int_info & 0xff, vec);
		if (c < 0)
			return false;
		if (c == 8)
			err = 0;
		vec = (unsigned)c;
	}
	if (vec == 14)
		vmcb_setq(v, VMCB_CR2, x->exit_info2);
	if (x->soft_len) { /* INT n: delivered after the instruction, no error code */
		vmcb_setq(v, VMCB_RIP, vmcb_q(v, VMCB_RIP) + x->soft_len);
		vmcb_setq(v, VMCB_EVENTINJ, vec | VMCB_EV_SOFT | VMCB_EV_VALID);
		return true;
	}
	uint64_t ev = vec | VMCB_EV_EXC | VMCB_EV_VALID;
	if (has_error_code(vec))
		ev |= VMCB_EV_ERR | (err << 32);
	vmcb_setq(v, VMCB_EVENTINJ, ev);
	return true;
}

static void console_byte(unsigned g, uint8_t b, guest_line_fn *line, void *ctx)
{
	struct guest *x = &G[g];

	if (b == '\r')
		return;
	if (b != '\n') {
		x->line[x->line_len++] = (b >= 0x20 && b < 0x7f) ? (char)b : '?';
		if (x->line_len < LINE_MAX)
			return;
	}
	x->line[x->line_len] = 0;
	line(ctx, g, x->line);
	x->line_len = 0;
}

/* The exit guest g stopped on, decoded into *e. */
static void decode(unsigned g, enum guest_stop why, struct guest_exit *e)
{
	const void *v = vmcb(g);
	const struct guest *x = &G[g];

	*e = (struct guest_exit){.why = why, .rip = vmcb_q(v, VMCB_RIP), .space = x->space};
	switch (why) {
	case GUEST_VMMCALL:
		e->rax = vmcb_q(v, VMCB_RAX);
		break;
	case GUEST_NPF:
		e->gpa = x->exit_info2 & ~(uint64_t)(PAGE_SIZE - 1);
		e->present = x->exit_info1 & VMCB_NPF_P;
		e->access = (x->exit_info1 & VMCB_NPF_FETCH) ? 'x'
		            : (x->exit_info1 & VMCB_NPF_W)   ? 'w'
		                                             : 'r';
		break;
	case GUEST_IO:
		e->port = (uint16_t)(x->exit_info1 >> 16);
		e->write = !(x->exit_info1 & VMCB_IO_IN);
		break;
	case GUEST_MSR:
		e->msr = (uint32_t)x->gprs.rcx;
		e->write = x->exit_info1 & 1;
		break;
	case GUEST_EXCEPTION:
		e->vector = x->vector;
		break;
	default:
		break;
	}
}

/* Why guest g stopped on exit `code` (one that does not just go on). */
static enum guest_stop classify(unsigned g, uint64_t code)
{
	struct guest *x = &G[g];
	enum guest_stop why;

	switch (code) {
	case REMOTE_STOPPED:
		return GUEST_STOPPED;
	case VMEXIT_INTR:
	case VMEXIT_NMI:
	case VMEXIT_SMI:
	case VMEXIT_INIT:
		return GUEST_TIMER;
	case VMEXIT_IOIO:
		x->io_next_rip = x->exit_info2;
		return GUEST_IO;
	case VMEXIT_HLT:
		return GUEST_HLT;
	case VMEXIT_VMMCALL:
		return GUEST_VMMCALL;
	case VMEXIT_NPF:
		return GUEST_NPF;
	case VMEXIT_MSR:
		return GUEST_MSR;
	case VMEXIT_SHUTDOWN:
		return GUEST_SHUTDOWN;
	default:
		why = GUEST_EXCEPTION;
		x->soft_len = 0;
		if (code == VMEXIT_SWINT && soft_int(g, &x->vector, &x->soft_len)) {
			x->exit_info1 = 0;
			x->exit_int_info = 0;
		} else if (code >= VMEXIT_EXC_BASE && code < VMEXIT_EXC_BASE + 32) {
			x->vector = (unsigned)(code - VMEXIT_EXC_BASE);
		} else {
			/* The SVM instructions, invd, wbinvd, monitor/mwait
			 * (and any other intercept): not the guest's to use,
			 * so an invalid opcode, delivered as one on `run`. */
			x->vector = 6;
			x->exit_info1 = 0;
			x->exit_int_info = 0;
		}
		if ((x->exit_int_info & VMCB_EV_VALID) && ((x->exit_int_info >> 8) & 7) == 3 &&
		    (x->exit_int_info & 0xff) == 8)
			why = GUEST_SHUTDOWN; /* a fault delivering a double fault */
		return why;
	}
}

err_t guest_elsewhere(unsigned g)
{
	if (!G[g].cpu)
		return NULL;
	fmt_format(msg, sizeof(msg), "guest: guest %u runs on cpu %u (guest stop %u first)", g,
	           G[g].cpu, g);
	return msg;
}

/* What may stop a guest before it runs (shared by guest run and start). */
static err_t runnable(unsigned g)
{
	const struct guest *x = &G[g];

	if (!guest_exists(g))
		return "guest: no such guest";
	if (x->cpu)
		return guest_elsewhere(g);
	if (!x->prog)
		return "guest: no program loaded (guest load G PROG)";
	if (x->state == GUEST_SHUTDOWN)
		return "guest: it shut down (guest load starts it again)";
	return NULL;
}

/* Record a stop of guest g and describe it in *e. */
static void stopped(unsigned g, enum guest_stop why, struct guest_exit *e)
{
	G[g].state = why;
	G[g].exits[why]++;
	decode(g, why, e);
}

/* The VMCB before a run: nested paging on space N's tables, a flush when
 * asked, nothing cached; and a copy to put back if VMRUN refuses it. */
static void before_run(unsigned g, bool flush)
{
	struct guest *x = &G[g];
	void *v = vmcb(g);

	vmcb_put(v, VMCB_TLB_CONTROL, 1, flush);
	vmcb_setq(v, VMCB_N_CR3, pa_addr(space_root(x->space)));
	vmcb_put(v, VMCB_CLEAN, 4, 0);
	__builtin_memcpy(x->shadow, (uint8_t *)v + VMCB_ES, sizeof(x->shadow));
	x->before = x->gprs;
}

/* After a run: the exit's code, its information kept. */
static uint64_t after_run(unsigned g)
{
	struct guest *x = &G[g];
	void *v = vmcb(g);
	const uint64_t code = vmcb_q(v, VMCB_EXITCODE);

	if ((uint32_t)code == VMEXIT_INVALID) {
		/* VMRUN refused the state and ran nothing; what the VMCB holds
		 * of the guest now may be the host's: put it back. */
		__builtin_memcpy((uint8_t *)v + VMCB_ES, x->shadow, sizeof(x->shadow));
		vmcb_setq(v, VMCB_EVENTINJ, 0);
		x->gprs = x->before;
		return VMEXIT_INVALID;
	}
	x->stepped = false;
	x->exit_info1 = vmcb_q(v, VMCB_EXITINFO1);
	x->exit_info2 = vmcb_q(v, VMCB_EXITINFO2);
	x->exit_int_info = vmcb_q(v, VMCB_EXITINTINFO);
	vmcb_setq(v, VMCB_EVENTINJ, 0);
	return code;
}

/* A byte out to port 0xE9 (the guest's console): true, and RIP past it. */
static bool console_out(unsigned g)
{
	const struct guest *x = &G[g];

	if ((x->exit_info1 >> 16) != 0xe9 || (x->exit_info1 & (VMCB_IO_IN | VMCB_IO_STR)) ||
	    (x->exit_info1 & (7u << 4)) != VMCB_IO_SZ8)
		return false;
	vmcb_setq(vmcb(g), VMCB_RIP, x->exit_info2);
	return true;
}

/* An exit the guest goes on after: a physical interrupt (the timer's, or
 * another CPU's), or a byte to its console (handed to `line` a line at a
 * time, RIP past the `out`). */
static bool passes(unsigned g, uint64_t code, guest_line_fn *line, void *ctx)
{
	if (code == VMEXIT_INTR || code == VMEXIT_NMI || code == VMEXIT_SMI || code == VMEXIT_INIT)
		return true;
	if (code != VMEXIT_IOIO || !console_out(g))
		return false;
	console_byte(g, (uint8_t)vmcb_q(vmcb(g), VMCB_RAX), line, ctx);
	return true;
}

static const char err_invalid[] =
    "guest: the CPU refused the guest's state (VMEXIT_INVALID); nothing ran";

err_t guest_run(unsigned g, uint64_t ms, guest_line_fn *line, void *ctx, struct guest_exit *e)
{
	err_t err = runnable(g);

	if (err)
		return err;
	struct guest *x = &G[g];
	void *v = vmcb(g);
	if (!ms || ms > GUEST_MS_MAX)
		return "guest: the time slice must be 1 to 10000 ms";
	if (x->state == GUEST_EXCEPTION && !x->stepped && !inject(g)) {
		stopped(g, GUEST_SHUTDOWN, e);
		return NULL;
	}
	uint64_t left = ms * 1000;
	for (unsigned runs = 0;; runs++) {
		const uint64_t gen = space_generation(x->space);
		CHECK(gen);
		before_run(g, gen != x->gen);
		left = plat_svm_run(v, &x->gprs, left);
		const uint64_t code = after_run(g);
		if (code == VMEXIT_INVALID)
			return err_invalid;
		x->gen = gen;
		const bool goes_on = passes(g, code, line, ctx);
		if (goes_on && left && runs < RUNS_MAX)
			continue;
		stopped(g, goes_on ? GUEST_TIMER : classify(g, code), e);
		return NULL;
	}
}

/* ---- guests on other CPUs ---------------------------------------------------------- */

/* A console line of a guest on another CPU: kept for guest stop. */
static void hold_line(void *ctx, unsigned g, const char *text)
{
	struct guest *x = &G[g];

	(void)ctx;
	if (x->nheld == HELD_LINES) {
		x->dropped++;
		return;
	}
	size_t n = 0;
	while (n < LINE_MAX && text[n]) {
		x->held[x->nheld][n] = text[n];
		n++;
	}
	x->held[x->nheld++][n] = 0;
}

/*
 * The run loop on the other CPU: VMRUN until an exit that stops the guest,
 * or until guest_stop asks for it back. It touches only the guest's own
 * VMCB, registers and console buffer, never the spaces: exits that need
 * the guest's memory to decode (a software interrupt) are classified by
 * CPU 0 in guest_stop. Physical interrupts (the timer, shootdown rounds,
 * guest_stop's kick) just go on; the platform flushes the TLB before the
 * next run when a round asked it to.
 */
static void remote_loop(void *arg)
{
	struct guest *x = arg;
	const unsigned g = (unsigned)(x - G);
	void *v = vmcb(g);

	for (;;) {
		/* Interrupts are off here: a kick that came before this test
		 * (even one spent waking this CPU) is seen by it; one after it
		 * is still pending at VMRUN, and the guest exits at once. */
		if (LOAD(&x->stop_req)) {
			STORE(&x->remote_code, REMOTE_STOPPED);
			return;
		}
		(void)plat_svm_run(v, &x->gprs, REMOTE_SLICE_US);
		vmcb_put(v, VMCB_TLB_CONTROL, 1, 0);
		const uint64_t code = after_run(g);
		const bool goes_on = passes(g, code, hold_line, NULL);
		if (goes_on && !LOAD(&x->stop_req))
			continue;
		STORE(&x->remote_code, goes_on ? REMOTE_STOPPED : code);
		return;
	}
}

err_t guest_start(unsigned g, unsigned k)
{
	err_t err = runnable(g);

	if (err)
		return err;
	struct guest *x = &G[g];
	if (!k)
		return "guest: cpu 0 serves the console (guest run runs a guest there)";
	if (k >= plat_cpu_count()) {
		fmt_format(msg, sizeof(msg), "guest: no cpu %u (cpu lists them)", k);
		return msg;
	}
	if (cpu_guest[k]) {
		fmt_format(msg, sizeof(msg), "guest: cpu %u runs guest %u (guest stop %u first)", k,
		           cpu_guest[k], cpu_guest[k]);
		return msg;
	}
	if (plat_cpu_state(k) != PLAT_CPU_IDLE) {
		fmt_format(msg, sizeof(msg), "guest: cpu %u is %s", k,
		           plat_cpu_state(k) == PLAT_CPU_HALTED ? "halted" : "busy");
		return msg;
	}
	if (x->state == GUEST_EXCEPTION && !x->stepped && !inject(g)) {
		struct guest_exit e;
		stopped(g, GUEST_SHUTDOWN, &e);
		return "guest: it shut down delivering its exception (guest run shows it)";
	}
	/* The other CPU's TLB may hold this ASID's entries from an earlier
	 * visit: flush on its first run. */
	before_run(g, true);
	x->synced = space_generation(x->space);
	x->stop_req = false;
	x->remote_code = REMOTE_RUNNING;
	x->nheld = x->dropped = 0;
	x->cpu = k;
	cpu_guest[k] = g;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!plat_cpu_call(k, remote_loop, x)) {
		x->cpu = 0;
		cpu_guest[k] = 0;
		fmt_format(msg, sizeof(msg), "guest: cpu %u is busy", k);
		return msg;
	}
	return NULL;
}

err_t guest_stop(unsigned g, guest_line_fn *line, void *ctx, struct guest_exit *e)
{
	if (!guest_exists(g))
		return "guest: no such guest";
	struct guest *x = &G[g];
	const unsigned k = x->cpu;
	if (!k) {
		fmt_format(msg, sizeof(msg), "guest: guest %u is not started (guest start %u CPU)",
		           g, g);
		return msg;
	}
	if (LOAD(&x->remote_code) == REMOTE_RUNNING && plat_cpu_state(k) == PLAT_CPU_HALTED) {
		/* A fault in memmon's code stopped that CPU mid-run: the guest's
		 * state there is lost, as after a triple fault. */
		STORE(&x->remote_code, (uint64_t)VMEXIT_SHUTDOWN);
	}
	if (LOAD(&x->remote_code) == REMOTE_RUNNING) {
		STORE(&x->stop_req, true);
		plat_cpu_kick(k);
		const uint64_t t = plat_now_us();
		while (LOAD(&x->remote_code) == REMOTE_RUNNING && plat_now_us() - t < STOP_WAIT_US)
			plat_idle();
		if (LOAD(&x->remote_code) == REMOTE_RUNNING) {
			fmt_format(msg, sizeof(msg),
			           "guest: cpu %u does not answer; guest %u is left there", k, g);
			return msg;
		}
	}
	/* The loop has returned; wait for the CPU to say so (a few
	 * instructions), so that the next start finds it idle. */
	const uint64_t t = plat_now_us();
	while (plat_cpu_state(k) == PLAT_CPU_BUSY && plat_now_us() - t < STOP_WAIT_US)
		plat_idle();
	for (unsigned i = 0; i < x->nheld; i++)
		line(ctx, g, x->held[i]);
	if (x->dropped) {
		fmt_format(msg, sizeof(msg), "(0x%x more lines dropped)", x->dropped);
		line(ctx, g, msg);
	}
	x->nheld = x->dropped = 0;
	x->cpu = 0;
	cpu_guest[k] = 0;
	x->gen = 0; /* CPU 0's TLB may hold this ASID's entries from before */
	const uint64_t code = x->remote_code;
	if (code == VMEXIT_INVALID)
		return err_invalid;
	stopped(g, classify(g, code), e);
	return NULL;
}

unsigned guest_cpu(unsigned g)
{
	return guest_exists(g) ? G[g].cpu : 0;
}

unsigned guest_on_cpu(unsigned k)
{
	return k < PLAT_CPU_MAX ? cpu_guest[k] : 0;
}

unsigned guest_ncpus(void)
{
	return plat_cpu_count();
}

void guest_cpu_info(unsigned k, struct guest_cpu_info *i)
{
	CHECK(k < plat_cpu_count());
	const enum plat_cpu_state st = plat_cpu_state(k);
	*i = (struct guest_cpu_info){.apic = plat_cpu_apic(k),
	                             .console = st == PLAT_CPU_CONSOLE,
	                             .halted = st == PLAT_CPU_HALTED,
	                             .guest = cpu_guest[k]};
}

uint64_t guest_sync(void)
{
	uint64_t mask = 0;

	for (unsigned g = 1; g <= GUEST_MAX; g++) {
		struct guest *x = &G[g];
		if (!x->used || !x->cpu || plat_cpu_state(x->cpu) == PLAT_CPU_HALTED)
			continue; /* a halted CPU runs nothing and never answers */
		const uint64_t gen = space_generation(x->space);
		if (gen != x->synced) {
			mask |= (uint64_t)1 << x->cpu;
			x->synced = gen;
		}
	}
	return mask ? plat_shootdown(mask) : 0;
}

static void drop_line(void *ctx, unsigned g, const char *text)
{
	(void)ctx;
	(void)g;
	(void)text;
}

err_t guest_recall(unsigned n)
{
	for (unsigned g = 1; g <= GUEST_MAX; g++) {
		struct guest_exit e;
		if (G[g].used && G[g].cpu && (n == SPACE_MAX || G[g].space == n)) {
			err_t err = guest_stop(g, drop_line, NULL, &e);
			if (err && G[g].cpu)
				return err;
		}
	}
	return NULL;
}

err_t guest_skip(unsigned g, uint64_t *rip)
{
	struct guest *x;
	void *v;
	uint8_t code[X86_MAX_INSN_LEN];
	unsigned len = 0;

	if (!guest_exists(g))
		return "guest: no such guest";
	if (G[g].cpu)
		return guest_elsewhere(g);
	x = &G[g];
	v = vmcb(g);
	if (x->stepped || x->state == GUEST_NONE)
		return "guest: nothing stopped it (guest run first)";
	const uint64_t at = vmcb_q(v, VMCB_RIP);
	switch (x->state) {
	case GUEST_HLT:
		len = 1;
		break;
	case GUEST_VMMCALL:
		len = 3;
		break;
	case GUEST_MSR:
		len = 2;
		break;
	case GUEST_IO:
		vmcb_setq(v, VMCB_RIP, x->io_next_rip);
		break;
	case GUEST_NPF:
	case GUEST_EXCEPTION:
		len = insn_len(g, code);
		if (!len) {
			fmt_format(
			    msg, sizeof(msg),
			    "guest: cannot decode the instruction at rip 0x%lx to step past it",
			    at);
			return msg;
		}
		break;
	case GUEST_SHUTDOWN:
		return "guest: it shut down (guest load starts it again)";
	case GUEST_TIMER:
		return "guest: its time slice ended; nothing to step past (guest run goes on)";
	case GUEST_STOPPED:
		return "guest: guest stop brought it back mid-run; nothing to step past";
	default:
		CHECK(false);
	}
	if (len)
		vmcb_setq(v, VMCB_RIP, at + len);
	vmcb_setq(v, VMCB_INT_SHADOW, 0);
	x->stepped = true;
	*rip = vmcb_q(v, VMCB_RIP);
	return NULL;
}

/* ---- registers ------------------------------------------------------------------- */

static uint64_t *gpr(struct plat_gprs *p, enum guest_reg r)
{
	switch (r) {
	case GR_RBX:
		return &p->rbx;
	case GR_RCX:
		return &p->rcx;
	case GR_RDX:
		return &p->rdx;
	case GR_RSI:
		return &p->rsi;
	case GR_RDI:
		return &p->rdi;
	case GR_RBP:
		return &p->rbp;
	case GR_R8:
		return &p->r8;
	case GR_R9:
		return &p->r9;
	case GR_R10:
		return &p->r10;
	case GR_R11:
		return &p->r11;
	case GR_R12:
		return &p->r12;
	case GR_R13:
		return &p->r13;
	case GR_R14:
		return &p->r14;
	case GR_R15:
		return &p->r15;
	default:
		return NULL;
	}
}

static const unsigned vmcb_off[GUEST_NREGS] = {
    [GR_RIP] = VMCB_RIP, [GR_RSP] = VMCB_RSP, [GR_RAX] = VMCB_RAX, [GR_RFLAGS] = VMCB_RFLAGS,
    [GR_CR0] = VMCB_CR0, [GR_CR3] = VMCB_CR3, [GR_CR4] = VMCB_CR4, [GR_EFER] = VMCB_EFER,
};

uint64_t guest_reg(unsigned g, enum guest_reg r)
{
	CHECK(guest_exists(g) && r < GUEST_NREGS);
	const uint64_t *p = gpr(&G[g].gprs, r);
	return p ? *p : vmcb_q(vmcb(g), vmcb_off[r]);
}

err_t guest_set(unsigned g, enum guest_reg r, uint64_t val, uint64_t *stored)
{
	if (!guest_exists(g))
		return "guest: no such guest";
	if (G[g].cpu)
		return guest_elsewhere(g);
	CHECK(r < GUEST_NREGS);
	uint64_t *p = gpr(&G[g].gprs, r);
	if (p) {
		*p = val;
	} else {
		if (r == GR_EFER) {
			if (val & ~EFER_BITS)
				return "guest: efer: only SCE, LME, LMA, NXE and SVME may be set";
			val |= EFER_SVME;
		}
		if (r == GR_RFLAGS)
			val |= RFLAGS_1;
		vmcb_setq(vmcb(g), vmcb_off[r], val);
	}
	*stored = guest_reg(g, r);
	return NULL;
}

bool guest_info(unsigned g, struct guest_info *i)
{
	if (!guest_exists(g))
		return false;
	*i = (struct guest_info){
	    .space = G[g].space, .prog = G[g].prog ? G[g].prog->name : NULL, .state = G[g].state};
	__builtin_memcpy(i->exits, G[g].exits, sizeof(i->exits));
	return true;
}
