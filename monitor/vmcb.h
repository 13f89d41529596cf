/*
 * The VMCB (virtual machine control block) of AMD SVM: the offsets and bits
 * memmon uses, from the AMD64 Architecture Programmer's Manual, vol. 2,
 * appendix B. One 4K page: the control area from 0, the guest's state
 * save area from 0x400. Portable: the guest layer writes and reads it; the
 * platform only runs it (and the hosted build's simulated CPU reads it).
 */
#ifndef MEMMON_VMCB_H
#define MEMMON_VMCB_H

#include "types.h"

/* ---- control area ---- */
#define VMCB_INTERCEPT_CR   0x000 /* u32: CR reads (low half), writes (high) */
#define VMCB_INTERCEPT_EXC  0x008 /* u32: a bit per exception vector */
#define VMCB_INTERCEPT_MISC 0x00c /* u32: the bits below */
#define VMCB_INTERCEPT_SVM  0x010 /* u32: the bits below */
#define VMCB_IOPM_BASE      0x040 /* u64 (the platform writes it) */
#define VMCB_MSRPM_BASE     0x048 /* u64 (the platform writes it) */
#define VMCB_ASID           0x058 /* u32 */
#define VMCB_TLB_CONTROL    0x05c /* u8: 1 flushes every ASID's entries */
#define VMCB_VINTR          0x060 /* u64: bit 24 V_INTR_MASKING */
#define VMCB_INT_SHADOW     0x068 /* u64 */
#define VMCB_EXITCODE       0x070 /* u64 */
#define VMCB_EXITINFO1      0x078 /* u64 */
#define VMCB_EXITINFO2      0x080 /* u64 */
#define VMCB_EXITINTINFO    0x088 /* u64: an event being delivered at the exit */
#define VMCB_NP_ENABLE      0x090 /* u64: bit 0 nested paging */
#define VMCB_EVENTINJ       0x0a8 /* u64: an event to deliver at VMRUN */
#define VMCB_N_CR3          0x0b0 /* u64: the nested page tables' root */
#define VMCB_CLEAN          0x0c0 /* u32: 0, so the CPU caches nothing */

/* VMCB_INTERCEPT_MISC */
#define VMCB_I_INTR     (1u << 0)
#define VMCB_I_NMI      (1u << 1)
#define VMCB_I_SMI      (1u << 2)
#define VMCB_I_INIT     (1u << 3)
#define VMCB_I_INTN     (1u << 21) /* INT n, INT3, INTO: software interrupts */
#define VMCB_I_INVD     (1u << 22)
#define VMCB_I_HLT      (1u << 24)
#define VMCB_I_INVLPGA  (1u << 26)
#define VMCB_I_IOIO     (1u << 27)
#define VMCB_I_MSR      (1u << 28)
#define VMCB_I_SHUTDOWN (1u << 31)
/* VMCB_INTERCEPT_SVM: VMRUN 0, VMMCALL 1, VMLOAD 2, VMSAVE 3, STGI 4,
 * CLGI 5, SKINIT 6, WBINVD 9, MONITOR 10, MWAIT 11, MWAIT armed 12. */
#define VMCB_I_SVM_ALL      (0x7fu | (1u << 9) | (7u << 10))
#define VMCB_V_INTR_MASKING (1ull << 24)

/* ---- state save area ---- */
#define VMCB_ES       0x400 /* segments: u16 selector, u16 attributes, u32 limit, u64 base */
#define VMCB_CS       0x410
#define VMCB_SS       0x420
#define VMCB_DS       0x430
#define VMCB_FS       0x440
#define VMCB_GS       0x450
#define VMCB_GDTR     0x460
#define VMCB_LDTR     0x470
#define VMCB_IDTR     0x480
#define VMCB_TR       0x490
#define VMCB_CPL      0x4cb /* u8 */
#define VMCB_EFER     0x4d0
#define VMCB_CR4      0x548
#define VMCB_CR3      0x550
#define VMCB_CR0      0x558
#define VMCB_DR7      0x560
#define VMCB_DR6      0x568
#define VMCB_RFLAGS   0x570
#define VMCB_RIP      0x578
#define VMCB_RSP      0x5d8
#define VMCB_RAX      0x5f8
#define VMCB_CR2      0x640
#define VMCB_G_PAT    0x668
#define VMCB_SAVE_END 0x698 /* through the last field memmon writes */

/* Segment attributes (the descriptor's bits 8-15 and 20-23, packed):
 * type 0-3, S 4, DPL 5-6, P 7, AVL 8, L 9, D/B 10, G 11. */
#define VMCB_SEG_CODE32 0xc9b /* execute/read, accessed, S, P, D, G */
#define VMCB_SEG_DATA32 0xc93 /* read/write, accessed, S, P, D(B), G */
#define VMCB_SEG_TSS32  0x08b /* busy 32-bit TSS, P */
#define VMCB_SEG_LDT    0x082 /* LDT, P */
#define VMCB_SEG_L      (1u << 9)

/* Exit codes. */
#define VMEXIT_EXC_BASE 0x40 /* + vector, 0x40 .. 0x5f */
#define VMEXIT_INTR     0x60
#define VMEXIT_NMI      0x61
#define VMEXIT_SMI      0x62
#define VMEXIT_INIT     0x63
#define VMEXIT_SWINT    0x75
#define VMEXIT_INVD     0x76
#define VMEXIT_HLT      0x78
#define VMEXIT_INVLPGA  0x7a
#define VMEXIT_IOIO     0x7b
#define VMEXIT_MSR      0x7c
#define VMEXIT_SHUTDOWN 0x7f
#define VMEXIT_VMRUN    0x80 /* .. 0x86: VMRUN, VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, SKINIT */
#define VMEXIT_VMMCALL  0x81
#define VMEXIT_SKINIT   0x86
#define VMEXIT_WBINVD   0x89
#define VMEXIT_MONITOR  0x8a /* .. 0x8c: MONITOR, MWAIT, MWAIT armed */
#define VMEXIT_MWAIT_C  0x8c
#define VMEXIT_NPF      0x400
#define VMEXIT_INVALID  0xffffffffu /* the low 32 bits: VMRUN refused the state */

/* EXITINFO1 of an I/O exit: bit 0 in, bit 2 string, bits 4-6 size (1, 2, 4
 * bytes), bits 16-31 port; EXITINFO2: the next instruction's RIP. */
#define VMCB_IO_IN  (1u << 0)
#define VMCB_IO_STR (1u << 2)
#define VMCB_IO_SZ8 (1u << 4)
/* EXITINFO1 of a nested page fault: present, write, user, fetch; EXITINFO2
 * the guest-physical address. */
#define VMCB_NPF_P     (1ull << 0)
#define VMCB_NPF_W     (1ull << 1)
#define VMCB_NPF_FETCH (1ull << 4)
#define VMCB_NPF_WALK  (1ull << 33) /* at the guest's own table walk */
/* EVENTINJ / EXITINTINFO: vector 0-7, type 8-10 (3: exception), EV 11
 * (error code valid), V 31, error code 32-63. */
#define VMCB_EV_EXC   (3u << 8)
#define VMCB_EV_SOFT  (4u << 8) /* a software interrupt (INT n) */
#define VMCB_EV_ERR   (1u << 11)
#define VMCB_EV_VALID (1u << 31)

static inline uint64_t vmcb_get(const void *v, unsigned off, unsigned bytes)
{
	const uint8_t *p = (const uint8_t *)v + off;
	uint64_t x = 0;

	for (unsigned i = 0; i < bytes; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}
static inline void vmcb_put(void *v, unsigned off, unsigned bytes, uint64_t x)
{
	uint8_t *p = (uint8_t *)v + off;

	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(x >> (8 * i));
}
static inline uint64_t vmcb_q(const void *v, unsigned off)
{
	return vmcb_get(v, off, 8);
}
static inline void vmcb_setq(void *v, unsigned off, uint64_t x)
{
	vmcb_put(v, off, 8, x);
}

#endif
