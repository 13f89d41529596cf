/*
 * The length of one x86 instruction, from its bytes: what the hypervisor
 * needs to step a guest past the instruction that stopped it (a nested page
 * fault on a memory access, an exception, an I/O port or MSR intercept) on a
 * CPU without the next-RIP save.
 *
 * The decoder knows the legacy prefixes, REX (64-bit mode only), ModRM, SIB,
 * displacements and immediates of the whole valid one-byte opcode map and of
 * the part of the two-byte map (0F xx) that system and ordinary integer code
 * use; x86len.c lists it. Everything else -- SSE and its successors, VEX,
 * XOP, EVEX, 3DNow!, the 0F 38 and 0F 3A maps, encodings that raise #UD --
 * it does not know, and it answers 0 for them.
 *
 * 0 means "refuse": the caller must then not skip anything (it reflects the
 * event, or stops the guest), which is always safe; a wrong length never is.
 * Where AMD and Intel differ on a length the decoder follows AMD (the CPU
 * under memmon's hypervisor): in 64-bit mode a 66 prefix shortens the
 * displacement of a near call, jmp or jcc to 16 bits.
 */
#ifndef MEMMON_X86LEN_H
#define MEMMON_X86LEN_H

#include "types.h"

/* No x86 instruction is longer, prefixes included: a longer one is #GP. */
#define X86_MAX_INSN_LEN 15

/* Modes the guest can be in: the default operand and address size of its
 * code segment (16: real mode, virtual-8086 mode, a 16-bit segment; 32: a
 * 32-bit segment, compatibility mode too; 64: 64-bit mode, CS.L set). */
enum x86_mode { X86_MODE_16, X86_MODE_32, X86_MODE_64 };

/* Length in bytes (1..15) of the instruction whose bytes start at code[0]
 * (avail bytes readable, avail <= 15 or more), decoded in `mode`; 0 when
 * the bytes are not an instruction it knows (then nobody must skip), or
 * when the instruction would need more than `avail` bytes. Pure; no I/O:
 * it reads code[0 .. min(avail, 15) - 1] at most. */
unsigned x86_insn_len(const uint8_t *code, size_t avail, enum x86_mode mode);

#endif
