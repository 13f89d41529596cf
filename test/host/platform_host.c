/*
 * The hosted implementation of the machine seam (monitor/platform.h):
 * simulated RAM, a byte-queue serial port, a CR3 that is only a variable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "platform.h"
#include "pte.h"
#include "vmcb.h"

static struct {
	unsigned char in[1 << 16];
	size_t in_head, in_tail;
	char *out;
	size_t out_len, out_cap;
	int to_stdout;
	unsigned poweroffs;
	unsigned protect_on;
	uint64_t cr3;
	unsigned char *ram;
	uint64_t ram_size;
	unsigned long accesses, parks;
	uint64_t parked_root;
} host;

void host_input(const void *bytes, size_t n)
{
	const unsigned char *b = bytes;

	for (size_t i = 0; i < n; i++) {
		size_t next = (host.in_tail + 1) % sizeof(host.in);
		if (next == host.in_head)
			abort(); /* a test queued more than the queue holds */
		host.in[host.in_tail] = b[i];
		host.in_tail = next;
	}
}

const char *host_output(void)
{
	return host.out ? host.out : "";
}
size_t host_output_len(void)
{
	return host.out_len;
}
void host_output_reset(void)
{
	host.out_len = 0;
	if (host.out)
		host.out[0] = '\0';
}
void host_output_to_stdout(int on)
{
	host.to_stdout = on;
}
unsigned host_poweroffs(void)
{
	return host.poweroffs;
}

void plat_putc(uint8_t c)
{
	if (host.to_stdout) {
		putchar(c);
		return;
	}
	if (host.out_len + 2 > host.out_cap) {
		host.out_cap = host.out_cap ? host.out_cap * 2 : 4096;
		host.out = realloc(host.out, host.out_cap);
		if (!host.out)
			abort();
	}
	host.out[host.out_len++] = (char)c;
	host.out[host.out_len] = '\0';
}

int plat_getc(void)
{
	if (host.in_head == host.in_tail)
		return -1;
	int b = host.in[host.in_head];
	host.in_head = (host.in_head + 1) % sizeof(host.in);
	return b;
}

void plat_idle(void) {}
uint64_t plat_read_cr3(void)
{
	return host.cr3;
}
/* The model TLB: translations a test cached; invlpg and flushes drop them
 * as a CPU's would (invlpg: every entry holding the address, of any size). */
static struct host_tlb_entry tlb[HOST_TLB_MAX];
static size_t tlb_n;

void host_tlb_add(uint64_t va, uint64_t size, uint64_t value)
{
	if (tlb_n < HOST_TLB_MAX)
		tlb[tlb_n++] = (struct host_tlb_entry){va & ~(size - 1), size, value};
}

size_t host_tlb(const struct host_tlb_entry **entries)
{
	*entries = tlb;
	return tlb_n;
}

void plat_write_cr3(uint64_t cr3)
{
	host.cr3 = cr3;
	tlb_n = 0;
}
void plat_invlpg(vaddr_t va)
{
	size_t k = 0;

	for (size_t i = 0; i < tlb_n; i++)
		if (va_addr(va) - tlb[i].va >= tlb[i].size)
			tlb[k++] = tlb[i];
	tlb_n = k;
}
void plat_flush_tlb(void)
{
	tlb_n = 0;
}

uintptr_t plat_ram_base;
uint64_t plat_ram_limit; /* 0 until host_ram: every address is refused */

bool plat_protect_on(void)
{
	host.protect_on++;
	return true;
}

int plat_guarded_call(int (*fn)(void *), void *arg, int *vector)
{
	(void)vector;
	return fn(arg);
}

bool plat_raise(enum plat_trap kind, uint64_t addr)
{
	(void)kind, (void)addr;
	return false;
}

uint64_t host_rsv_base;

unsigned long host_accesses(void)
{
	return host.accesses;
}
unsigned long host_parks(void)
{
	return host.parks;
}
uint64_t host_parked_root(void)
{
	return host.parked_root;
}

/* The real machine's layout (efi/platform_x86.c): code r-x, data r--, a
 * guard page, 2 pages of stack rw-; here in consecutive frames. */
size_t plat_reserved(struct plat_rsv *out, size_t cap)
{
	const struct plat_rsv pieces[] = {
	    {PLAT_RSV_BASE, pa_init(host_rsv_base), 1, .write = false, .exec = true},
	    {PLAT_RSV_BASE + 0x1000, pa_init(host_rsv_base + PAGE_SIZE), 1, .write = false,
	     .exec = false},
	    {PLAT_RSV_BASE + 0x3000, pa_init(host_rsv_base + 2 * PAGE_SIZE), 2, .write = true,
	     .exec = false},
	};
	size_t n = 0;

	if (!host_rsv_base)
		return 0;
	for (; n < ARRAY_SIZE(pieces) && n < cap; n++)
		out[n] = pieces[n];
	return n;
}

/* The walk of va (canonical) through the tables at root, as the MMU does
 * it: the leaf's frame plus the offset in *pa, its attributes in *attr,
 * with PT_W cleared unless every level allows writes. False when some
 * level has no entry. */
static bool host_translate(paddr_t root, uint64_t va, uint64_t *pa, pt_attr_t *attr)
{
	paddr_t table = root;
	pt_attr_t w = PT_W;

	for (unsigned level = PT_LEVELS; level-- > 0;) {
		const pte_t e = ((const pte_t *)plat_pa_to_ptr(table))[pt_index(va, level)];
		switch (pte_kind(e, level)) {
		case PTE_ABSENT:
			return false;
		case PTE_TABLE:
			w &= pte_attr(e, level); /* RW is the same bit in a table entry */
			table = pte_next(e);
			break;
		case PTE_LEAF:
			*pa = pte_frame(e, level) + (va & (pt_level_size(level) - 1));
			*attr = pte_attr(e, level) & (w | ~PT_W);
			return true;
		}
	}
	return false;
}

/* CHECK that root maps every reserved page as the trampoline needs. */
static void host_check_rsv(paddr_t root)
{
	struct plat_rsv rsv[PLAT_RSV_MAX];
	const size_t n = plat_reserved(rsv, PLAT_RSV_MAX);

	for (size_t i = 0; i < n; i++) {
		const pt_attr_t want = PT_R | (rsv[i].write ? PT_W : 0) | (rsv[i].exec ? PT_X : 0);
		for (uint64_t k = 0; k < rsv[i].pages; k++) {
			uint64_t pa;
			pt_attr_t a;
			CHECK(host_translate(root, rsv[i].va + k * PAGE_SIZE, &pa, &a));
			CHECK(pa == pa_addr(rsv[i].pa) + k * PAGE_SIZE);
			CHECK((a & (PT_RIGHTS | PT_USER)) == want);
		}
	}
}

/* As on the real machine, but in simulated RAM: a supervisor access with
 * CR0.WP (a write needs every level writable; user pages are reachable,
 * as with SMAP off or RFLAGS.AC set). A fault is #PF with the x86 error
 * code (bit 0: the page was present, bit 1: a write) and addr = va; a
 * non-canonical va is #GP (vector 13, code 0). */
bool plat_access(paddr_t root, vaddr_t va, bool write, uint64_t *value, struct plat_fault *f)
{
	const uint64_t v = va_addr(va);
	const uint64_t code = write ? 2 : 0;
	uint64_t pa;
	pt_attr_t a;

	CHECK(v % 8 == 0 && v < PLAT_RSV_BASE);
	host_check_rsv(root);
	host.accesses++;
	if (v >= ((uint64_t)1 << 47)) {
		*f = (struct plat_fault){.vector = 13, .code = 0, .addr = 0};
		return false;
	}
	if (!host_translate(root, v, &pa, &a)) {
		*f = (struct plat_fault){.vector = 14, .code = code, .addr = v};
		return false;
	}
	if (write && !(a & PT_W)) {
		*f = (struct plat_fault){.vector = 14, .code = code | 1, .addr = v};
		return false;
	}
	uint64_t *word = plat_pa_to_ptr(pa_init(pa));
	if (write)
		*word = *value;
	else
		*value = *word;
	return true;
}

/* Record the root and consume one queued byte, if there is one (the real
 * park waits for it). */
void plat_park(paddr_t root)
{
	host_check_rsv(root);
	host.parks++;
	host.parked_root = pa_addr(root);
	(void)plat_getc();
}

void plat_halt(void)
{
	abort();
}

void plat_poweroff(void)
{
	host.poweroffs++;
}

static const char *host_script_text;
static size_t host_script_len;

void host_script(const char *text, size_t len)
{
	host_script_text = text;
	host_script_len = text ? len : 0;
}

const char *plat_script(size_t *len)
{
	*len = host_script_len;
	return host_script_text;
}

void *host_ram(uint64_t bytes)
{
	free(host.ram);
	host.ram_size = bytes;
	host.ram = calloc(1, bytes);
	if (!host.ram)
		abort();
	plat_ram_base = (uintptr_t)host.ram;
	plat_ram_limit = bytes;
	return host.ram;
}

static struct mm_region region(uint64_t base, uint64_t pages, uint64_t attr, uint32_t type,
                               enum fw_kind kind)
{
	return (struct mm_region){
	    .base = base, .pages = pages, .attr = attr, .fw_type = type, .kind = kind};
}

/* Modelled on what OVMF reports for q35 with the given RAM below 2 GiB. */
struct boot_info *host_boot_info(unsigned long ram_mib)
{
	static struct mm_region regions[8];
	static struct boot_info bi;
	uint64_t top = (uint64_t)ram_mib << 20;

	regions[7] = region(0x0, 0xa0, 0xf, 7, FW_CONVENTIONAL);
	regions[1] = region(0x100000, 0x700, 0xf, 7, FW_CONVENTIONAL);
	regions[2] = region(0x800000, 0x8, 0xf, 10, FW_ACPI_NVS);
	regions[3] = region(0x808000, ((top - 0x808000) >> 12) - 0x400, 0xf, 7, FW_CONVENTIONAL);
	regions[4] = region(top - 0x400000, 0x200, 0xf, 4, FW_BOOT_DATA);
	regions[5] = region(top - 0x200000, 0x100, 0xf, 2, FW_LOADER_DATA);
	regions[6] = region(top - 0x100000, 0x100, 0x800000000000000f, 6, FW_RUNTIME_DATA);
	regions[0] = region(0xffc00000, 0x400, 0x8000000000000001, 11, FW_MMIO);
	bi = (struct boot_info){.regions = regions,
	                        .nregions = 8,
	                        .image_base = top - 0x200000,
	                        .image_size = 0x40000,
	                        .kept = {{top - 0x200000, 0x40}},
	                        .nkept = 1,
	                        .gib_pages = true,
	                        .ebs_tries = 1,
	                        .fw_vendor = "host",
	                        .fw_revision = 0x10000};
	host_ram(top);
	return &bi;
}

/* ---- the simulated guest CPU (host.h) ----------------------------------------- */

#define SIM_TLB 64
static struct {
	uint32_t asids;
	const struct host_guest_op *ops;
	size_t nops;
	unsigned long vmruns, flushes, stale;
	struct sim_tlb {
		uint32_t asid;     /* 0: empty */
		uint64_t gpa, hpa; /* pages */
		pt_attr_t attr;
	} tlb[SIM_TLB];
	unsigned next;
} sim;

void host_svm(uint32_t asids)
{
	memset(&sim, 0, sizeof(sim));
	sim.asids = asids;
}

void host_guest_script(const struct host_guest_op *ops, size_t n)
{
	sim.ops = ops;
	sim.nops = n;
}

unsigned long host_vmruns(void)
{
	return sim.vmruns;
}
unsigned long host_tlb_flushes(void)
{
	return sim.flushes;
}
unsigned long host_stale_accesses(void)
{
	return sim.stale;
}

uint64_t plat_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

uint64_t plat_image_sum(uint64_t *bytes)
{
	*bytes = 0;
	return 0xcbf29ce484222325ull; /* FNV-1a of nothing */
}

bool plat_svm_on(uint32_t *asids)
{
	if (!sim.asids)
		return false;
	*asids = sim.asids;
	return true;
}

static void sim_exit(uint8_t *v, uint64_t code, uint64_t info1, uint64_t info2)
{
	vmcb_setq(v, VMCB_EXITCODE, code);
	vmcb_setq(v, VMCB_EXITINFO1, info1);
	vmcb_setq(v, VMCB_EXITINFO2, info2);
}

/* The nested translation of gpa for an access (0 read, 1 write, 2 fetch):
 * true and *hpa, or false with the NPF's EXITINFO1 in *info. */
static bool sim_translate(uint8_t *v, uint64_t gpa, int how, uint64_t *hpa, uint64_t *info)
{
	const uint32_t asid = (uint32_t)vmcb_get(v, VMCB_ASID, 4);
	const uint64_t page = gpa & ~(uint64_t)(PAGE_SIZE - 1);
	const uint64_t acc = (how == 1 ? VMCB_NPF_W : 0) | (how == 2 ? VMCB_NPF_FETCH : 0) |
	                     (1u << 2) /* user: every nested access is */ | (1ull << 32);
	struct sim_tlb *t = NULL;
	pt_attr_t attr;
	uint64_t pa;

	for (unsigned i = 0; i < SIM_TLB; i++)
		if (sim.tlb[i].asid == asid && sim.tlb[i].gpa == page)
			t = &sim.tlb[i];
	if (t) {
		pa = t->hpa;
		attr = t->attr;
	} else {
		if (gpa >= (1ull << 47) ||
		    !host_translate(pa_init(vmcb_q(v, VMCB_N_CR3)), page, &pa, &attr)) {
			*info = acc;
			return false;
		}
	}
	if (!(attr & PT_USER) || (how == 1 && !(attr & PT_W)) || (how == 2 && !(attr & PT_X))) {
		*info = acc | VMCB_NPF_P;
		return false;
	}
	if (t) { /* the oracle: does the space still map what the TLB says? */
		uint64_t now;
		pt_attr_t a;
		if (!host_translate(pa_init(vmcb_q(v, VMCB_N_CR3)), page, &now, &a) || now != pa ||
		    (t->attr & ~a & (PT_RIGHTS | PT_USER)))
			sim.stale++;
	}
	if (!t) {
		t = &sim.tlb[sim.next++ % SIM_TLB];
		*t = (struct sim_tlb){.asid = asid, .gpa = page, .hpa = pa, .attr = attr};
	}
	*hpa = pa + (gpa - page);
	return true;
}

/* ---- CPUs: simulated one at a time, on the calling thread ---------------------------- */

static struct {
	unsigned n;
	unsigned current; /* the CPU whose work runs now (0: the console's) */
	enum plat_cpu_state state[PLAT_CPU_MAX];
	void (*fn[PLAT_CPU_MAX])(void *);
	void *arg[PLAT_CPU_MAX];
	bool flush[PLAT_CPU_MAX];
	uint64_t deaf; /* CPUs that never acknowledge */
	unsigned long rounds, kicks;
	unsigned long runs[PLAT_CPU_MAX];
	void (*hook)(unsigned k, unsigned long run);
} cpus = {.n = 1};

void host_cpu_hook(void (*hook)(unsigned k, unsigned long run))
{
	cpus.hook = hook;
}

void host_cpus(unsigned n)
{
	CHECK(n >= 1 && n <= PLAT_CPU_MAX);
	memset(&cpus, 0, sizeof(cpus));
	cpus.n = n;
	for (unsigned k = 1; k < n; k++)
		cpus.state[k] = PLAT_CPU_IDLE;
}

void host_cpu_deaf(uint64_t mask)
{
	cpus.deaf = mask;
}

bool host_cpu_run(unsigned k)
{
	CHECK(k && k < cpus.n);
	if (cpus.state[k] != PLAT_CPU_BUSY)
		return false;
	cpus.current = k;
	cpus.fn[k](cpus.arg[k]);
	cpus.current = 0;
	cpus.state[k] = PLAT_CPU_IDLE;
	return true;
}

unsigned long host_shootdowns(void)
{
	return cpus.rounds;
}

void plat_start_cpus(void) {}

bool plat_raise_on(unsigned k, enum plat_trap kind)
{
	(void)k;
	(void)kind;
	return false;
}

unsigned plat_cpu_count(void)
{
	return cpus.n;
}

uint32_t plat_cpu_apic(unsigned k)
{
	CHECK(k < cpus.n);
	return k;
}

enum plat_cpu_state plat_cpu_state(unsigned k)
{
	CHECK(k < cpus.n);
	return k ? cpus.state[k] : PLAT_CPU_CONSOLE;
}

bool plat_cpu_call(unsigned k, void (*fn)(void *), void *arg)
{
	CHECK(k < cpus.n);
	if (!k || cpus.state[k] != PLAT_CPU_IDLE)
		return false;
	cpus.fn[k] = fn;
	cpus.arg[k] = arg;
	cpus.state[k] = PLAT_CPU_BUSY;
	return true;
}

void plat_cpu_kick(unsigned k)
{
	CHECK(k && k < cpus.n);
	cpus.kicks++;
	if (!(cpus.deaf >> k & 1))
		(void)host_cpu_run(k);
}

uint64_t plat_shootdown(uint64_t mask)
{
	mask &= ~(uint64_t)1;
	if (!mask)
		return 0;
	cpus.rounds++;
	for (unsigned k = 1; k < cpus.n; k++)
		if ((mask >> k & 1) && !(cpus.deaf >> k & 1))
			cpus.flush[k] = true;
	return mask & cpus.deaf;
}

uint64_t plat_svm_run(void *vmcb, struct plat_gprs *g, uint64_t slice_us)
{
	uint8_t *v = vmcb;
	const uint32_t asid = (uint32_t)vmcb_get(v, VMCB_ASID, 4);

	CHECK(sim.asids && slice_us);
	sim.vmruns++;
	if (cpus.current && cpus.hook)
		cpus.hook(cpus.current, ++cpus.runs[cpus.current]);
	vmcb_setq(v, VMCB_IOPM_BASE, 0x1000); /* what the platform owns: any value */
	vmcb_setq(v, VMCB_MSRPM_BASE, 0x4000);
	if (!asid || asid >= sim.asids || !(vmcb_get(v, VMCB_INTERCEPT_SVM, 4) & 1) ||
	    !(vmcb_q(v, VMCB_EFER) & (1ull << 12)) || !(vmcb_q(v, VMCB_NP_ENABLE) & 1) ||
	    !vmcb_q(v, VMCB_N_CR3) || (vmcb_q(v, VMCB_CR0) & 0x80000001u) == 0x80000000u) {
		memset(v + VMCB_ES, 0xa5,
		       VMCB_SAVE_END - VMCB_ES); /* the host's state, as it were */
		sim_exit(v, VMEXIT_INVALID, 0, 0);
		return slice_us;
	}
	if (vmcb_get(v, VMCB_TLB_CONTROL, 1) || cpus.flush[cpus.current]) {
		cpus.flush[cpus.current] = false;
		sim.flushes++;
		memset(sim.tlb, 0, sizeof(sim.tlb));
	}
	vmcb_setq(v, VMCB_EXITINTINFO, 0);
	const uint64_t ev = vmcb_q(v, VMCB_EVENTINJ);
	if (ev & VMCB_EV_VALID) { /* delivery through an empty IDT: #GP */
		vmcb_setq(v, VMCB_EXITINTINFO, ev);
		vmcb_setq(v, VMCB_EVENTINJ, 0);
		sim_exit(v, VMEXIT_EXC_BASE + 13, 0, 0);
		return slice_us - 1;
	}
	for (uint64_t left = slice_us;; left--) {
		const uint64_t rip = vmcb_q(v, VMCB_RIP), i = (rip % PAGE_SIZE + 15) / 16;
		const uint64_t at = rip - rip % PAGE_SIZE + 16 * i;
		if (!left || i >= sim.nops || sim.ops[i].kind == HOST_G_SPIN) {
			sim_exit(v, VMEXIT_INTR, 0, 0);
			return 0;
		}
		const struct host_guest_op *op = &sim.ops[i];
		uint64_t hpa, info;
		vmcb_setq(v, VMCB_RIP, at);
		switch (op->kind) {
		case HOST_G_READ:
		case HOST_G_WRITE:
		case HOST_G_FETCH: {
			const int how = op->kind == HOST_G_READ    ? 0
			                : op->kind == HOST_G_WRITE ? 1
			                                           : 2;
			if (!sim_translate(v, op->addr, how, &hpa, &info)) {
				sim_exit(v, VMEXIT_NPF, info, op->addr);
				return left - 1;
			}
			uint64_t *w = plat_pa_to_ptr(pa_init(hpa & ~7ull));
			if (how == 0)
				vmcb_setq(v, VMCB_RAX, *w);
			else if (how == 1)
				*w = op->value;
			vmcb_setq(v, VMCB_RIP, at + 16);
			continue;
		}
		case HOST_G_HLT:
			sim_exit(v, VMEXIT_HLT, 0, 0);
			return left - 1;
		case HOST_G_VMMCALL:
			vmcb_setq(v, VMCB_RAX, op->value);
			sim_exit(v, VMEXIT_VMMCALL, 0, 0);
			return left - 1;
		case HOST_G_OUT:
		case HOST_G_IN:
			vmcb_setq(v, VMCB_RAX, op->value);
			sim_exit(v, VMEXIT_IOIO,
			         (op->addr << 16) | VMCB_IO_SZ8 |
			             (op->kind == HOST_G_IN ? VMCB_IO_IN : 0),
			         at + 2);
			return left - 1;
		case HOST_G_WRMSR:
		case HOST_G_RDMSR:
			g->rcx = op->addr;
			sim_exit(v, VMEXIT_MSR, op->kind == HOST_G_WRMSR, 0);
			return left - 1;
		case HOST_G_EXC:
			sim_exit(v, VMEXIT_EXC_BASE + op->value, op->addr, 0);
			return left - 1;
		case HOST_G_SHUTDOWN:
			sim_exit(v, VMEXIT_SHUTDOWN, 0, 0);
			return left - 1;
		case HOST_G_SPIN:
			break;
		}
	}
}
