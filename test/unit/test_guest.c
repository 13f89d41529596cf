/*
 * Unit tests of the guest layer (monitor/guest.c) on the hosted platform's
 * simulated guest CPU (test/host/host.h): it runs a script of memory
 * accesses and exits rather than x86 code, walks the nested tables (space
 * N's own) as the CPU does and keeps a TLB per ASID that only TLB_CONTROL
 * drops. What is tested: the refusals, the loader, exit decoding, the
 * guest's console, the pager loop (npf, map, run again), the flush rule
 * (every change to the space is in force at the next run, and no flush
 * without a change), VMEXIT_INVALID restoring the state, exception delivery
 * ending in a shutdown, and deleting a space's guests.
 *
 * One machine: 96 MiB of simulated RAM, frames 0 to 4 memmon's (1 to 4 the
 * reserved pieces), a pool of 8192 frames; every test boots afresh and
 * ends with every frame back in the allocator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "frame.h"
#include "guest.h"
#include "host.h"
#include "platform.h"
#include "space.h"

#include "unit.h"

#define KB4 PAGE_SIZE
#define MIB ((uint64_t)1 << 20)
static uint64_t SRC; /* sigma0's frames the tests map from */

static const struct frame_range ranges[] = {
    {0, 5, FRAME_MONITOR},
    {5 * KB4, 96 * MIB / KB4 - 5, FRAME_FREE},
};

static struct frame_stats init;

static int setup(void **state)
{
	(void)state;
	host_ram(96 * MIB);
	assert_null(frame_init(ranges, ARRAY_SIZE(ranges)));
	frame_stats(&init);
	host_rsv_base = KB4;
	assert_null(space_boot(8192, true));
	const struct space_extent *ext;
	SRC = 0;
	for (size_t i = space_extents(&ext); !SRC && i-- > 0;) {
		const uint64_t a = (ext[i].base + 2 * MIB - 1) & ~(2 * MIB - 1);
		if (a + 4 * MIB <= ext[i].base + ext[i].pages * KB4)
			SRC = a;
	}
	assert_true(SRC);
	host_svm(16);
	host_guest_script(NULL, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	guest_space_gone(SPACE_MAX);
	host_svm(0);
	space_shutdown();
	host_rsv_base = 0;
	assert_frames_back(&init);
	return 0;
}

static unsigned new_space(void)
{
	unsigned n;

	assert_null(space_new(&n));
	return n;
}

/* Map `pages` of sigma0 from SRC + src to n:v. */
static void map(unsigned n, uint64_t v, uint64_t src, uint64_t pages, unsigned rights)
{
	struct space_result r;

	assert_null(space_map(0, SRC + src, n, v, pages * KB4, rights, &r));
	assert_int_equal(r.pages, pages);
}

static uint8_t *byte_at(unsigned n, uint64_t v)
{
	struct space_hit h;

	assert_true(space_lookup(n, v, &h));
	return plat_pa_to_ptr(h.pa);
}

/* A space with pages 0-7 mapped rwx and guest 1 of it with hello loaded at 0. */
static unsigned guest_with_space(unsigned *n)
{
	unsigned g;
	uint64_t size;

	*n = new_space();
	map(*n, 0, 0, 8, RIGHTS_RWX);
	assert_null(guest_new(*n, &g));
	assert_null(guest_load(g, "hello", 0, &size));
	return g;
}

static struct {
	char text[8][128];
	unsigned count;
} lines;

static void on_line(void *ctx, unsigned g, const char *text)
{
	(void)ctx;
	assert_int_equal(g, 1);
	assert_true(lines.count < 8);
	strcpy(lines.text[lines.count++], text);
}

static void run(unsigned g, struct guest_exit *e)
{
	assert_null(guest_run(g, GUEST_SLICE_MS, on_line, NULL, e));
}

static void step(unsigned g)
{
	uint64_t rip;

	assert_null(guest_skip(g, &rip));
}

static void test_refusals(void **state)
{
	unsigned g, n;
	uint64_t size;

	(void)state;
	host_svm(0);
	assert_false(guest_available());
	assert_ptr_equal(guest_new(1, &g), guest_err_nosvm);
	host_svm(4); /* ASIDs 1-3 */
	assert_true(guest_available());
	assert_non_null(guest_new(0, &g)); /* sigma0 */
	assert_non_null(guest_new(7, &g)); /* no such space */
	n = new_space();
	for (unsigned i = 1; i <= 3; i++) {
		assert_null(guest_new(n, &g));
		assert_int_equal(g, i);
	}
	assert_non_null(guest_new(n, &g)); /* out of ASIDs */
	assert_null(guest_del(2));
	assert_non_null(guest_del(2));
	assert_null(guest_new(n, &g));
	assert_int_equal(g, 2);
	/* Nothing loaded: nothing runs, nothing to skip. */
	struct guest_exit e;
	uint64_t rip;
	assert_non_null(guest_run(1, 100, on_line, NULL, &e));
	assert_non_null(guest_skip(1, &rip));
	/* The loader: an unmapped page, a misaligned or high address, a bad name. */
	assert_non_null(guest_load(1, "hello", 0, &size));
	map(n, KB4, 0, 1, RIGHTS_R);
	assert_non_null(guest_load(1, "nosuch", KB4, &size));
	assert_non_null(guest_load(1, "hello", KB4 + 8, &size));
	assert_non_null(guest_load(1, "hello", 1ull << 32, &size));
	for (unsigned i = 0; i < KB4; i++)
		assert_int_equal(byte_at(n, KB4)[i], 0);
	/* Any rights will do: the loader writes the frame itself. */
	assert_null(guest_load(1, "hello", KB4, &size));
	assert_int_equal(size, guest_progs[0].size);
	assert_memory_equal(byte_at(n, KB4), guest_progs[0].bytes, size);
	assert_int_equal(guest_reg(1, GR_RIP), KB4);
	assert_int_equal(guest_reg(1, GR_RAX), KB4);
	assert_int_equal(guest_reg(1, GR_CR0) & 1, 1);
	assert_int_equal(guest_reg(1, GR_EFER) & (1u << 12), 1u << 12);
	assert_null(guest_run(1, 100, on_line, NULL, &e)); /* the script is empty: it spins */
	assert_int_equal(e.why, GUEST_TIMER);
	assert_non_null(guest_run(1, 0, on_line, NULL, &e));
	assert_non_null(guest_run(1, GUEST_MS_MAX + 1, on_line, NULL, &e));
}

static void test_exits(void **state)
{
	static const struct host_guest_op ops[] = {
	    {HOST_G_OUT, 0xe9, 'h'}, {HOST_G_OUT, 0xe9, 'i'},       {HOST_G_OUT, 0xe9, '\n'},
	    {HOST_G_HLT, 0, 0},      {HOST_G_VMMCALL, 0, 0x42},     {HOST_G_OUT, 0x80, 7},
	    {HOST_G_IN, 0x3f8, 0},   {HOST_G_WRMSR, 0xc0000080, 0}, {HOST_G_RDMSR, 0x1b, 0},
	    {HOST_G_SHUTDOWN, 0, 0},
	};
	struct guest_exit e;
	unsigned n, g = guest_with_space(&n);
	uint64_t rip;

	(void)state;
	host_guest_script(ops, ARRAY_SIZE(ops));
	memset(&lines, 0, sizeof(lines));
	run(g, &e);
	assert_int_equal(lines.count, 1);
	assert_string_equal(lines.text[0], "hi");
	assert_int_equal(e.why, GUEST_HLT);
	assert_int_equal(e.rip, 3 * 16);
	run(g, &e); /* run does not step past */
	assert_int_equal(e.why, GUEST_HLT);
	assert_int_equal(e.rip, 3 * 16);
	assert_null(guest_skip(g, &rip));
	assert_int_equal(rip, 3 * 16 + 1);
	assert_non_null(guest_skip(g, &rip)); /* once */
	run(g, &e);
	assert_int_equal(e.why, GUEST_VMMCALL);
	assert_int_equal(e.rax, 0x42);
	step(g);
	run(g, &e);
	assert_int_equal(e.why, GUEST_IO);
	assert_int_equal(e.port, 0x80);
	assert_true(e.write);
	step(g);
	assert_int_equal(guest_reg(g, GR_RIP), 5 * 16 + 2); /* EXITINFO2: the next RIP */
	run(g, &e);
	assert_int_equal(e.why, GUEST_IO);
	assert_int_equal(e.port, 0x3f8);
	assert_false(e.write);
	step(g);
	run(g, &e);
	assert_int_equal(e.why, GUEST_MSR);
	assert_int_equal(e.msr, 0xc0000080);
	assert_true(e.write);
	step(g);
	run(g, &e);
	assert_int_equal(e.why, GUEST_MSR);
	assert_int_equal(e.msr, 0x1b);
	assert_false(e.write);
	step(g);
	run(g, &e);
	assert_int_equal(e.why, GUEST_SHUTDOWN);
	assert_non_null(guest_run(g, 100, on_line, NULL, &e));
	assert_non_null(guest_skip(g, &rip));

	struct guest_info i;
	assert_true(guest_info(g, &i));
	assert_int_equal(i.space, n);
	assert_string_equal(i.prog, "hello");
	assert_int_equal(i.state, GUEST_SHUTDOWN);
	assert_int_equal(i.exits[GUEST_HLT], 2);
	assert_int_equal(i.exits[GUEST_IO], 2);
	assert_int_equal(i.exits[GUEST_MSR], 2);
	assert_int_equal(i.exits[GUEST_VMMCALL], 1);
	assert_int_equal(i.exits[GUEST_SHUTDOWN], 1);
}

/* The pager loop, and the flush rule: a change to the space is in force at
 * the next run (the simulated TLB would otherwise still hold the old
 * translation), and a run after no change flushes nothing. */
static void test_pager_and_flush(void **state)
{
	static const struct host_guest_op ops[] = {
	    {HOST_G_READ, 0x20000, 0}, {HOST_G_HLT, 0, 0},         {HOST_G_WRITE, 0x20000, 0x77},
	    {HOST_G_HLT, 0, 0},        {HOST_G_FETCH, 0x20000, 0}, {HOST_G_HLT, 0, 0},
	};
	struct guest_exit e;
	unsigned n, g = guest_with_space(&n);
	struct space_result r;

	(void)state;
	host_guest_script(ops, ARRAY_SIZE(ops));
	run(g, &e);
	assert_int_equal(e.why, GUEST_NPF);
	assert_int_equal(e.space, n);
	assert_int_equal(e.gpa, 0x20000);
	assert_false(e.present);
	assert_int_equal(e.access, 'r');
	assert_int_equal(e.rip, 0);
	map(n, 0x20000, 0x20000, 1, RIGHTS_R);
	*(uint64_t *)byte_at(n, 0x20000) = 0x1234;
	unsigned long flushes = host_tlb_flushes();
	run(g, &e); /* retried: the read now succeeds */
	assert_int_equal(host_tlb_flushes(), flushes + 1);
	assert_int_equal(e.why, GUEST_HLT);
	assert_int_equal(guest_reg(g, GR_RAX), 0x1234);
	run(g, &e); /* no change to the space: no flush */
	assert_int_equal(host_tlb_flushes(), flushes + 1);
	step(g);
	run(g, &e); /* write to a read-only page */
	assert_int_equal(e.why, GUEST_NPF);
	assert_true(e.present);
	assert_int_equal(e.access, 'w');
	/* Widen by a new mapping (flush, then map rw): the write goes through. */
	assert_null(space_flush(n, 0x20000, KB4, &r));
	map(n, 0x20000, 0x21000, 1, RIGHTS_RW);
	run(g, &e);
	assert_int_equal(e.why, GUEST_HLT);
	assert_int_equal(*(uint64_t *)byte_at(n, 0x20000), 0x77);
	/* Remove it: the next access must miss, though the TLB held it. */
	assert_null(space_unmap(0, SRC + 0x21000, KB4, &r));
	step(g);
	run(g, &e);
	assert_int_equal(e.why, GUEST_NPF);
	assert_false(e.present);
	assert_int_equal(e.access, 'x');
	/* protect reaches the guest too. */
	map(n, 0x20000, 0x22000, 1, RIGHTS_RWX);
	run(g, &e);
	assert_int_equal(e.why, GUEST_HLT);
	assert_null(space_protect(n, 0x20000, KB4, RIGHTS_RW, &r));
	assert_null(guest_set(g, GR_RIP, 4 * 16, &(uint64_t){0}));
	run(g, &e);
	assert_int_equal(e.why, GUEST_NPF);
	assert_true(e.present);
	assert_int_equal(e.access, 'x');
	assert_int_equal(host_stale_accesses(), 0);
}

static void test_set_and_invalid(void **state)
{
	static const struct host_guest_op ops[] = {{HOST_G_HLT, 0, 0}};
	struct guest_exit e;
	unsigned n, g = guest_with_space(&n);
	uint64_t v;

	(void)state;
	host_guest_script(ops, ARRAY_SIZE(ops));
	assert_null(guest_set(g, GR_R12, 0x1234, &v));
	assert_int_equal(v, 0x1234);
	assert_null(guest_set(g, GR_EFER, 0x100, &v));
	assert_int_equal(v, 0x1100); /* SVME stays */
	assert_non_null(guest_set(g, GR_EFER, 1ull << 20, &v));
	assert_null(guest_set(g, GR_RFLAGS, 0, &v));
	assert_int_equal(v, 2);
	/* A state VMRUN refuses: an error, and the guest as it was. */
	assert_null(guest_set(g, GR_CR0, 0x80000000u, &v));
	const uint64_t rip = guest_reg(g, GR_RIP), rsp = guest_reg(g, GR_RSP);
	assert_non_null(guest_run(g, 100, on_line, NULL, &e));
	assert_int_equal(guest_reg(g, GR_RIP), rip);
	assert_int_equal(guest_reg(g, GR_RSP), rsp);
	assert_int_equal(guest_reg(g, GR_CR0), 0x80000000u);
	assert_int_equal(guest_reg(g, GR_R12), 0x1234);
	assert_null(guest_set(g, GR_CR0, 0x11, &v));
	run(g, &e);
	assert_int_equal(e.why, GUEST_HLT);
}

/* An exception goes to the guest on `run`; the simulated guest's IDT is
 * empty, so each delivery faults: #UD, then #GP (benign first: served),
 * #GP again (contributory twice: a double fault), then the fault delivering
 * the double fault is the shutdown. A skip instead steps past. */
static void test_exceptions(void **state)
{
	static const struct host_guest_op ops[] = {{HOST_G_EXC, 0, 6}, {HOST_G_EXC, 0, 13}};
	struct guest_exit e;
	unsigned n, g = guest_with_space(&n);

	(void)state;
	host_guest_script(ops, ARRAY_SIZE(ops));
	*byte_at(n, 0) = 0x90; /* a nop at rip 0, so a skip can decode it */
	run(g, &e);
	assert_int_equal(e.why, GUEST_EXCEPTION);
	assert_int_equal(e.vector, 6);
	assert_int_equal(e.rip, 0);
	step(g);
	assert_int_equal(guest_reg(g, GR_RIP), 1);
	run(g, &e);
	assert_int_equal(e.vector, 13);
	run(g, &e); /* #GP delivered: faults */
	assert_int_equal(e.why, GUEST_EXCEPTION);
	assert_int_equal(e.vector, 13);
	run(g, &e); /* #GP while delivering #GP: #DF, which faults: shutdown */
	assert_int_equal(e.why, GUEST_SHUTDOWN);
}

static void test_space_gone(void **state)
{
	unsigned n, g = guest_with_space(&n), g2;
	unsigned n2 = new_space();
	uint64_t flushed;

	(void)state;
	assert_null(guest_new(n2, &g2));
	assert_null(space_del(n, &flushed));
	guest_space_gone(n);
	assert_false(guest_exists(g));
	assert_true(guest_exists(g2));
	guest_space_gone(SPACE_MAX);
	assert_false(guest_exists(g2));
}

/* ---- guests on other CPUs (simulated one at a time: host.h) ------------------------ */

/* A guest for another CPU: read page 0x3000, write a line (a VMRUN ends
 * there: the hook runs before the next), read the page again, hlt. */
static const struct host_guest_op read_twice[] = {
    {HOST_G_READ, 0x3000, 0}, {HOST_G_OUT, 0xe9, 'a'}, {HOST_G_OUT, 0xe9, '\n'},
    {HOST_G_READ, 0x3000, 0}, {HOST_G_HLT, 0, 0},
};

static uint64_t hook_pa; /* sigma0's page the hook unmaps */
static unsigned long hook_rounds;
static bool hook_sync = true;

/* CPU 0 meanwhile: before the guest's second run on CPU 1, remove the
 * page it read in the first, and apply the shootdown rule as the console
 * does after every command. */
static void unmap_between(unsigned k, unsigned long run)
{
	struct space_result r;

	assert_int_equal(k, 1);
	if (run != 2)
		return;
	assert_null(space_unmap(0, hook_pa, KB4, &r));
	assert_int_equal(r.pages, 1);
	if (hook_sync)
		hook_rounds += guest_sync() == 0;
}

static void test_cpus(void **state)
{
	struct guest_exit e;
	unsigned n, g = guest_with_space(&n), g2;
	uint64_t size, flushed;

	(void)state;
	host_cpus(4);
	host_guest_script(read_twice, ARRAY_SIZE(read_twice));
	/* Refusals. */
	assert_non_null(guest_start(g, 0));
	assert_non_null(guest_start(g, 4));
	assert_non_null(guest_start(9, 1));
	assert_non_null(guest_stop(g, on_line, NULL, &e)); /* not started */
	assert_null(guest_start(g, 1));
	assert_int_equal(guest_cpu(g), 1);
	assert_int_equal(guest_on_cpu(1), g);
	assert_non_null(guest_start(g, 2)); /* already on cpu 1 */
	assert_non_null(guest_run(g, 10, on_line, NULL, &e));
	assert_non_null(guest_load(g, "hello", 0, &size));
	assert_non_null(guest_skip(g, &size));
	assert_non_null(guest_set(g, GR_RAX, 1, &size));
	assert_null(guest_new(n, &g2));
	assert_null(guest_load(g2, "hello", 0, &size));
	assert_non_null(guest_start(g2, 1)); /* cpu 1 holds guest 1 */

	/* It runs there: a change between its runs is shot down before the
	 * next, so the second read misses rather than using the TLB. */
	hook_pa = SRC + 0x3000;
	hook_rounds = 0;
	host_cpu_hook(unmap_between);
	const unsigned long flushes = host_tlb_flushes();
	assert_true(host_cpu_run(1));
	host_cpu_hook(NULL);
	assert_int_equal(hook_rounds, 1);
	assert_int_equal(host_shootdowns(), 1);
	assert_int_equal(host_tlb_flushes(), flushes + 2); /* the start's, the round's */
	assert_int_equal(host_stale_accesses(), 0);
	lines.count = 0;
	assert_null(guest_stop(g, on_line, NULL, &e));
	assert_int_equal(lines.count, 1); /* held on cpu 1, printed at stop */
	assert_string_equal(lines.text[0], "a");
	assert_int_equal(e.why, GUEST_NPF);
	assert_int_equal(e.gpa, 0x3000);
	assert_int_equal(guest_cpu(g), 0);
	assert_int_equal(plat_cpu_state(1), PLAT_CPU_IDLE);

	/* Still running when stopped: 'stopped', at the instruction it would
	 * run next. A command that changes no space sends no round. */
	static const struct host_guest_op spin[] = {{HOST_G_SPIN, 0, 0}};
	host_guest_script(spin, ARRAY_SIZE(spin));
	assert_null(guest_start(g2, 2));
	assert_int_equal(guest_sync(), 0);
	assert_int_equal(host_shootdowns(), 1);
	assert_null(guest_stop(g2, on_line, NULL, &e));
	assert_int_equal(e.why, GUEST_STOPPED);
	assert_int_equal(e.rip, 0);

	/* A CPU that never answers: a round reports it; stop gives up and
	 * leaves the guest there; space del refuses to free its tables. */
	assert_null(guest_start(g2, 3));
	host_cpu_deaf(1u << 3);
	map(n, 0x40000, 0x40000, 1, RIGHTS_R);
	assert_int_equal(guest_sync(), 1u << 3);
	assert_non_null(guest_stop(g2, on_line, NULL, &e));
	assert_int_equal(guest_cpu(g2), 3);
	assert_non_null(guest_recall(n));
	host_cpu_deaf(0);
	/* Deleting the space brings its guests back first. */
	assert_null(guest_recall(n));
	assert_int_equal(guest_cpu(g2), 0);
	assert_null(space_del(n, &flushed));
	guest_space_gone(n);
	assert_false(guest_exists(g2));
	host_cpus(1);
}

/* Without the shootdown rule the same run reads through the stale TLB:
 * what test_cpus checks can fail. */
static void test_cpus_without_rounds(void **state)
{
	struct guest_exit e;
	unsigned n, g = guest_with_space(&n);

	(void)state;
	host_cpus(2);
	host_guest_script(read_twice, ARRAY_SIZE(read_twice));
	assert_null(guest_start(g, 1));
	hook_pa = SRC + 0x3000;
	hook_sync = false;
	host_cpu_hook(unmap_between);
	assert_true(host_cpu_run(1));
	host_cpu_hook(NULL);
	hook_sync = true;
	assert_int_equal(host_stale_accesses(), 1);
	assert_null(guest_stop(g, on_line, NULL, &e));
	assert_int_equal(e.why, GUEST_HLT);
	host_cpus(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pager_and_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_and_invalid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exceptions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_space_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cpus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cpus_without_rounds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
