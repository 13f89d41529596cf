/*
 * The built-in guest programs (monitor/progs/NAME.asm, assembled flat and
 * turned into arrays by scripts/progs_c.py). Each is entered at its load
 * address L in 32-bit protected mode with EAX = L; the comment at the top
 * of each source says what it uses and which exits it makes.
 */
#include "guest.h"
#include "progs.h"

#define ENTRY(n, s)                                                                                \
	{                                                                                          \
#n, s, guest_bin_##n, GUEST_BIN_SIZE_##n                                           \
	}

const struct guest_prog guest_progs[] = {
    ENTRY(hello, "prints one line on port 0xE9, then hlt"),
    ENTRY(loop, "adds 1 to the 64-bit counter at L+0x1000, forever"),
    ENTRY(sum, "vmmcall with eax = the 32-bit sum of the dwords at [esi, esi+ecx)"),
    ENTRY(long, "builds page tables at L+0x1000..L+0x4fff, enters long mode (its wrmsr to "
                "efer exits: set efer, skip), then adds 1 to the qword at 4 GiB and "
                "vmmcalls it, forever"),
    ENTRY(escape, "a hostile guest: writes to the frames in ebx..ebp and across 40 bits of "
                  "physical memory, ports, MSRs, cli/hlt, int3, #GP, a triple fault"),
};
const size_t guest_nprogs = ARRAY_SIZE(guest_progs);
