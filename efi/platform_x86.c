/*
 * The machine seam (monitor/platform.h) on real x86-64 hardware after
 * ExitBootServices: COM1, control registers, identity-mapped RAM, and the
 * trampoline that reaches into client spaces.
 */
#include "platform.h"

#include "cpu.h"
#include "platform_x86.h"
#include "tramp.h"
#include "trapguard.h"
#include "uart.h"
#include "x86.h"

void plat_putc(uint8_t c)
{
	uart_putc(c);
}
int plat_getc(void)
{
	return uart_getc();
}
void plat_idle(void)
{
	cpu_pause();
}
uint64_t plat_read_cr3(void)
{
	return read_cr3();
}
void plat_write_cr3(uint64_t cr3)
{
	write_cr3(cr3);
}
void plat_invlpg(vaddr_t va)
{
	invlpg(va_addr(va));
}
void plat_flush_tlb(void)
{
	tlb_flush_all();
}

static const char *efi_script;
static size_t efi_script_len;

void efi_script_set(const char *text, size_t len)
{
	efi_script = text;
	efi_script_len = text ? len : 0;
}

const char *plat_script(size_t *len)
{
	*len = efi_script_len;
	return efi_script;
}

/* Physical memory is identity-mapped in every table memmon runs on. */
uintptr_t plat_ram_base = 0;
uint64_t plat_ram_limit = (uint64_t)1 << 52;

bool plat_protect_on(void)
{
	if (!cpuid_ext_edx(20)) /* no-execute: without it, EFER.NXE cannot be set */
		return false;
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
	return true;
}

/* The innermost guarded call, if one runs. */
struct guard {
	struct x86_ctx ctx;
	struct guard *outer;
	volatile int vector;
};
static struct guard *volatile current_guard;

void trapguard_recover(int vector)
{
	struct guard *g = current_guard;

	if (!g)
		return;
	g->vector = vector;
	x86_resume_ctx(&g->ctx, 1);
}

int plat_guarded_call(int (*fn)(void *), void *arg, int *vector)
{
	struct guard g = {.outer = current_guard, .vector = -1};

	if (x86_save_ctx(&g.ctx)) {
		current_guard = g.outer;
		*vector = g.vector;
		return PLAT_FAULTED;
	}
	current_guard = &g;
	int r = fn(arg);
	current_guard = g.outer;
	return r;
}

/* A `ret` in memmon's data, which its tables map no-execute. */
static volatile uint8_t data_ret[16] = {0xc3};

/* Recurse until the stack runs into its guard page (long before this
 * limit, which only keeps the compiler from calling the recursion endless). */
static volatile uint64_t deep_limit = ~(uint64_t)0;
static __attribute__((noinline)) uint64_t deeper(uint64_t depth)
{
	volatile uint8_t frame[256];

	frame[0] = (uint8_t)depth;
	if (depth == deep_limit)
		return 0;
	return deeper(depth + 1) + frame[0];
}

bool plat_raise(enum plat_trap kind, uint64_t addr)
{
	switch (kind) {
	case PLAT_TRAP_DE:
		__asm__ volatile("xor %%ecx, %%ecx; mov $1, %%eax; xor %%edx, %%edx; div %%ecx" ::
		                     : "rax", "rcx", "rdx");
		return true;
	case PLAT_TRAP_BP:
		__asm__ volatile("int3");
		return true;
	case PLAT_TRAP_UD:
		__asm__ volatile("ud2");
		return true;
	case PLAT_TRAP_GP:
		(void)*(volatile uint64_t *)0x8000000000000000ull;
		return true;
	case PLAT_TRAP_READ:
		(void)*(volatile uint8_t *)(uintptr_t)addr;
		return true;
	case PLAT_TRAP_WRITE: {
		volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)&plat_raise;
		*code = *code;
		return true;
	}
	case PLAT_TRAP_EXEC:
		((void (*)(void))(uintptr_t)data_ret)();
		return true;
	case PLAT_TRAP_DEEP:
		(void)deeper(0);
		return true;
	}
	return false;
}

/*
 * The reserved pages, at PLAT_RSV_BASE (PML4 slot 511) in every space, in
 * the TRAMP_FRAMES consecutive frames from efi_main (pa):
 *
 *   va offset  frame   rights  piece
 *   0x0000     pa      r-x     code: the trampoline (tramp.asm), then int3
 *   0x1000     pa+4K   r--     data: the GDT copy at +0 (24 bytes), the IDT
 *                              at +0x100 (32 gates, 512 bytes)
 *   0x2000     -       -       guard: never mapped, so an overflow faults
 *   0x3000     pa+8K   rw-     stack, 2 pages, top at 0x5000; memmon's
 *                              state while switched lies at its top
 *
 * Nothing writes the data page after tramp_init (the descriptors' accessed
 * bits are preset and no TSS is loaded from it), so it is read-only.
 */
#define RSV_CODE        PLAT_RSV_BASE
#define RSV_DATA        (PLAT_RSV_BASE + 0x1000)
#define RSV_STACK       (PLAT_RSV_BASE + 0x3000)
#define RSV_STACK_PAGES 2
#define DATA_GDT        0x000
#define DATA_IDT        0x100
_Static_assert(DATA_GDT + CPU_TRAMP_GDT_BYTES <= DATA_IDT &&
                   DATA_IDT + CPU_TRAMP_IDT_BYTES <= PAGE_SIZE,
               "the GDT copy and the IDT fit the data page");
_Static_assert(TRAMP_FRAMES == 2 + RSV_STACK_PAGES, "code, data, stack");

static struct plat_rsv rsv[3];
static size_t nrsv; /* 0 until tramp_init */

/* Write `bytes` at offset `slot` - tramp_start of the code copy. */
static void fill_slot(uint8_t *code, const char *slot, const void *v, size_t bytes)
{
	__builtin_memcpy(code + (slot - tramp_start), v, bytes);
}

void tramp_init(uint64_t pa)
{
	uint8_t *code = (uint8_t *)(uintptr_t)pa, *data = code + PAGE_SIZE;
	const size_t size = (size_t)(tramp_end - tramp_start);
	const uint64_t stack_top = RSV_STACK + RSV_STACK_PAGES * PAGE_SIZE;
	const uint64_t gdt = RSV_DATA + DATA_GDT, idt = RSV_DATA + DATA_IDT;
	const uint16_t gdt_limit = CPU_TRAMP_GDT_BYTES - 1, idt_limit = CPU_TRAMP_IDT_BYTES - 1;

	CHECK(size <= PAGE_SIZE && pa % PAGE_SIZE == 0);
	__builtin_memset(code, 0xcc, TRAMP_FRAMES * PAGE_SIZE);
	__builtin_memcpy(code, tramp_start, size);
	__builtin_memset(data, 0, PAGE_SIZE);
	cpu_tramp_tables(data + DATA_GDT, data + DATA_IDT,
	                 RSV_CODE + (uint64_t)(tramp_stubs - tramp_start));
	fill_slot(code, tramp_stack, &stack_top, 8);
	fill_slot(code, tramp_gdtr, &gdt_limit, 2);
	fill_slot(code, tramp_gdtr + 2, &gdt, 8);
	fill_slot(code, tramp_idtr, &idt_limit, 2);
	fill_slot(code, tramp_idtr + 2, &idt, 8);
	rsv[0] = (struct plat_rsv){.va = RSV_CODE, .pa = pa_init(pa), .pages = 1, .exec = true};
	rsv[1] = (struct plat_rsv){.va = RSV_DATA, .pa = pa_init(pa + PAGE_SIZE), .pages = 1};
	rsv[2] = (struct plat_rsv){.va = RSV_STACK,
	                           .pa = pa_init(pa + 2 * PAGE_SIZE),
	                           .pages = RSV_STACK_PAGES,
	                           .write = true};
	nrsv = 3;
}

/* The three pieces above once tramp_init has run, none before. */
size_t plat_reserved(struct plat_rsv *out, size_t cap)
{
	size_t n = nrsv < cap ? nrsv : cap;

	for (size_t i = 0; i < n; i++)
		out[i] = rsv[i];
	return n;
}

/* The copy at RSV_CODE, called with memmon's SysV ABI (tramp.asm's
 * contract): 1 when done, 0 when an exception cut it short. */
typedef int tramp_fn(uint64_t root, uint64_t va, uint64_t op, uint64_t value,
                     struct tramp_out *out);

/* Run op through the trampoline with `root` in CR3. After tramp_init. */
static int tramp_call(paddr_t root, uint64_t va, enum tramp_op op, uint64_t value,
                      struct tramp_out *out)
{
	CHECK(nrsv);
	return ((tramp_fn *)(uintptr_t)RSV_CODE)(pa_addr(root), va, op, value, out);
}

/* As platform.h says; va must lie below the reserved pages (the
 * trampoline's own state is no client's business). An exception inside is
 * contained by the trampoline's IDT (tramp.asm), never by memmon's, and
 * prints nothing; f->addr is CR2 for a #PF, 0 for any other vector. */
bool plat_access(paddr_t root, vaddr_t va, bool write, uint64_t *value, struct plat_fault *f)
{
	struct tramp_out o;

	CHECK(va_addr(va) % 8 == 0 && va_addr(va) < PLAT_RSV_BASE);
	if (tramp_call(root, va_addr(va), write ? TRAMP_WRITE : TRAMP_READ, write ? *value : 0,
	               &o)) {
		if (!write)
			*value = o.value;
		return true;
	}
	*f = (struct plat_fault){
	    .vector = (unsigned)o.vector, .code = o.code, .addr = o.vector == 14 ? o.addr : 0};
	return false;
}

/* As platform.h says. An exception while waiting (only an NMI can come)
 * ends that wait; the park goes on until a byte is read. */
void plat_park(paddr_t root)
{
	struct tramp_out o;

	while (!tramp_call(root, 0, TRAMP_PARK, 0, &o))
		;
}

extern __attribute__((visibility("hidden"))) char _text[], _etext[], _rodata[], _erodata[];

uint64_t plat_image_sum(uint64_t *bytes)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const volatile uint8_t *spans[2][2] = {{(uint8_t *)_text, (uint8_t *)_etext},
	                                       {(uint8_t *)_rodata, (uint8_t *)_erodata}};

	*bytes = 0;
	for (int i = 0; i < 2; i++) {
		for (const volatile uint8_t *p = spans[i][0]; p < spans[i][1]; p++)
			h = (h ^ *p) * 0x100000001b3ull;
		*bytes += (uint64_t)(spans[i][1] - spans[i][0]);
	}
	return h;
}

void plat_halt(void)
{
	uart_puts("memmon: halted\n");
	cpu_halt_forever();
}

void plat_poweroff(void)
{
	outb(0xf4, PLAT_EXIT_CODE); /* QEMU isa-debug-exit: exits (code << 1) | 1 */
	outw(0x604, 0x2000);        /* ACPI PM1a_CNT on QEMU q35: SLP_EN with S5 */
	/* 8042 keyboard controller: wait for its input buffer, then pulse reset. */
	for (unsigned spin = 0; (inb(0x64) & 0x02) && spin < (1u << 16); spin++)
		cpu_pause();
	outb(0x64, 0xfe);
	uart_puts("\nmemmon: power-off failed; halted\n");
	cpu_halt_forever();
}
