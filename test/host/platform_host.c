/*
 * The hosted implementation of the machine seam (monitor/platform.h):
 * simulated RAM, a byte-queue serial port, a CR3 that is only a variable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "platform.h"

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

void plat_halt(void)
{
	abort();
}

void plat_poweroff(void)
{
	host.poweroffs++;
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
