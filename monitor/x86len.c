/*
 * x86 instruction lengths (x86len.h), from two opcode maps laid out as in
 * the Intel SDM vol. 2 appendix A and the AMD64 APM vol. 3 appendix A: one
 * byte per opcode says whether a ModRM byte follows and which immediate
 * class the instruction has. An instruction is then
 *
 *	prefixes  [0F] opcode  [ModRM [SIB] [disp]]  [immediate]
 *
 * Prefixes: the legacy ones (66 operand size, 67 address size, F0 lock,
 * F2/F3 rep, 2E 36 3E 26 64 65 segments) in any order and number, and in
 * 64-bit mode REX (40-4F), which counts only right before the opcode (a
 * legacy prefix after it makes the CPU ignore it). The operand size, 2, 4
 * or 8 bytes, is the mode's default, flipped between 2 and 4 by 66, and 8
 * by REX.W in 64-bit mode whatever 66 says; the address size is the mode's
 * default (2, 4, 8), flipped by 67 to 4, 2, 4.
 *
 * ModRM (mod, reg, rm), with 16-bit addressing: mod 0 rm 6 is disp16, mod 1
 * disp8, mod 2 disp16. With 32- or 64-bit addressing: rm 4 brings a SIB
 * byte, mod 0 rm 5 is disp32 (RIP-relative in 64-bit mode), mod 0 with a
 * SIB base of 5 is disp32, mod 1 disp8, mod 2 disp32. mod 3 names a
 * register and brings nothing, as does every ModRM of mov to or from a
 * control or debug register (0F 20-23), whose mod the CPU ignores.
 *
 * What the decoder refuses (0), besides truncation and lengths over 15:
 * - one-byte map: 62 (BOUND, EVEX), D6 (SALC), and in 64-bit mode the
 *   opcodes it removed (06 07 0E 16 17 1E 1F 27 2F 37 3F 60 61 82 9A C4 C5
 *   CE D4 D5 EA; C4/C5 are VEX there); C4/C5 with mod 3 (VEX) elsewhere;
 *   8F /1-7 (XOP), C6/C7 /1-7 (xabort, xbegin), and ModRM forms that are
 *   #UD (see modrm_ok);
 * - two-byte map: all but 0F 00 01 05-09 0B 0D 18-1F 20-23 30-35 40-4F
 *   80-9F A0-A5 A8 A9 AB-B7 BA-C1 C7 C8-CF: so SSE, MMX, 3DNow! (0F 0F),
 *   the three-byte maps 0F 38 and 0F 3A, and rarer system instructions
 *   (lar, lsl, rsm, popcnt, ud1, ...).
 * LOCK on an instruction that cannot take it, and reg values of 0F 01,
 * 0F AE, 0F C7 and the x87 escapes that name no instruction, are not
 * checked: the length is the same either way, and such an instruction
 * raises #UD before any memory access, port or MSR could stop it.
 */
#include "x86len.h"

/* The immediate classes: what follows the ModRM byte (or the opcode). */
enum {
	IMM_NONE,
	IMM_B,     /* imm8, rel8 */
	IMM_W,     /* imm16 (ret, retf) */
	IMM_Z,     /* imm16 or imm32 by operand size (imm32 when it is 8), rel16/32 */
	IMM_V,     /* imm16, imm32 or imm64 by operand size (mov r, imm: B8-BF) */
	IMM_WB,    /* imm16 then imm8 (enter) */
	IMM_MOFFS, /* an offset of the address size (mov al/ax, [moffs]: A0-A3) */
	IMM_PTR,   /* ptr16:16 or ptr16:32 by operand size (far call, far jmp) */
	IMM_G3B,   /* group 3 on bytes (F6): /0 and /1 (test) take imm8 */
	IMM_G3Z,   /* group 3 (F7): /0 and /1 (test) take imm16/32 as IMM_Z */
};

#define IMM_MASK  0x0f
#define F_MODRM   0x10 /* a ModRM byte follows the opcode */
#define F_REGONLY 0x20 /* ...that always names registers: no SIB, no displacement */
#define F_LEGACY  0x40 /* invalid in 64-bit mode */

/* The cells of the maps. */
#define NO   IMM_NONE
#define IB   IMM_B
#define IW   IMM_W
#define IZ   IMM_Z
#define IV   IMM_V
#define EN   IMM_WB
#define MO   IMM_MOFFS
#define FP   IMM_PTR
#define RM   F_MODRM
#define RB   (F_MODRM | IMM_B)
#define RZ   (F_MODRM | IMM_Z)
#define GB   (F_MODRM | IMM_G3B)
#define GZ   (F_MODRM | IMM_G3Z)
#define CR   (F_MODRM | F_REGONLY)
#define L(x) ((x) | F_LEGACY)
#define PF   0x80 /* a legacy prefix (one-byte map only) */
#define XX   0xff /* refused: not an instruction the decoder knows */

/* The one-byte map: a row per high nibble, low nibbles 0 to F from left to
 * right. 0F is the escape to the two-byte map and 40-4F are REX in 64-bit
 * mode: the decoder takes both before it looks here. */
static const uint8_t one_byte[16][16] = {
    /* 0 */ {RM, RM, RM, RM, IB, IZ, L(NO), L(NO), RM, RM, RM, RM, IB, IZ, L(NO), XX},
    /* 1 */ {RM, RM, RM, RM, IB, IZ, L(NO), L(NO), RM, RM, RM, RM, IB, IZ, L(NO), L(NO)},
    /* 2 */ {RM, RM, RM, RM, IB, IZ, PF, L(NO), RM, RM, RM, RM, IB, IZ, PF, L(NO)},
    /* 3 */ {RM, RM, RM, RM, IB, IZ, PF, L(NO), RM, RM, RM, RM, IB, IZ, PF, L(NO)},
    /* 4 */ {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    /* 5 */ {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    /* 6 */ {L(NO), L(NO), XX, RM, PF, PF, PF, PF, IZ, RZ, IB, RB, NO, NO, NO, NO},
    /* 7 */ {IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB},
    /* 8 */ {RB, RZ, L(RB), RB, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM},
    /* 9 */ {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, L(FP), NO, NO, NO, NO, NO},
    /* A */ {MO, MO, MO, MO, NO, NO, NO, NO, IB, IZ, NO, NO, NO, NO, NO, NO},
    /* B */ {IB, IB, IB, IB, IB, IB, IB, IB, IV, IV, IV, IV, IV, IV, IV, IV},
    /* C */ {RB, RB, IW, NO, L(RM), L(RM), RB, RZ, EN, NO, IW, NO, NO, IB, L(NO), NO},
    /* D */ {RM, RM, RM, RM, L(IB), L(IB), XX, NO, RM, RM, RM, RM, RM, RM, RM, RM},
    /* E */ {IB, IB, IB, IB, IB, IB, IB, IB, IZ, IZ, L(FP), IB, NO, NO, NO, NO},
    /* F */ {PF, NO, PF, PF, NO, NO, GB, GZ, NO, NO, NO, NO, NO, NO, RM, RM},
};

/* The two-byte map (0F xx), laid out alike: the part the decoder knows. */
static const uint8_t two_byte[16][16] = {
    /* 0 */ {RM, RM, XX, XX, XX, NO, NO, NO, NO, NO, XX, NO, XX, RM, XX, XX},
    /* 1 */ {XX, XX, XX, XX, XX, XX, XX, XX, RM, RM, RM, RM, RM, RM, RM, RM},
    /* 2 */ {CR, CR, CR, CR, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX},
    /* 3 */ {NO, NO, NO, NO, NO, NO, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX},
    /* 4 */ {RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM},
    /* 5 */ {XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX},
    /* 6 */ {XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX},
    /* 7 */ {XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX},
    /* 8 */ {IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ},
    /* 9 */ {RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM, RM},
    /* A */ {NO, NO, NO, RM, RB, RM, XX, XX, NO, NO, XX, RM, RB, RM, RM, RM},
    /* B */ {RM, RM, RM, RM, RM, RM, RM, RM, XX, XX, RB, RM, RM, RM, RM, RM},
    /* C */ {RM, RM, XX, XX, XX, XX, XX, RM, NO, NO, NO, NO, NO, NO, NO, NO},
    /* D */ {XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX},
    /* E */ {XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX},
    /* F */ {XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX},
};

/*
 * Whether the ModRM byte makes the opcode opc (0F xx as 0x0fxx) the
 * instruction the map says: an opcode extension (reg) that names none, or a
 * register where only memory will do, is #UD; and some are another
 * encoding with another length (VEX, XOP) or one the decoder leaves out.
 */
static bool modrm_ok(unsigned opc, uint8_t modrm)
{
	unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7;

	switch (opc) {
	case 0x8c: /* mov r/m, sreg: six segment registers */
		return reg <= 5;
	case 0x8e: /* mov sreg, r/m: and never CS */
		return reg <= 5 && reg != 1;
	case 0x8d:   /* lea */
	case 0xc4:   /* les (mod 3: a VEX prefix) */
	case 0xc5:   /* lds (likewise) */
	case 0x0fb2: /* lss */
	case 0x0fb4: /* lfs */
	case 0x0fb5: /* lgs */
		return mod != 3;
	case 0x8f: /* pop r/m (/1-7: an AMD XOP prefix) */
	case 0xc6: /* mov r/m, imm (/7: xabort) */
	case 0xc7: /* (/7: xbegin) */
		return reg == 0;
	case 0xfe: /* inc, dec */
		return reg <= 1;
	case 0xff: /* inc, dec, call, call far, jmp, jmp far, push: far ones from memory */
		return reg != 7 && !(mod == 3 && (reg == 3 || reg == 5));
	case 0x0f00: /* sldt, str, lldt, ltr, verr, verw */
		return reg <= 5;
	case 0x0fba: /* bt, bts, btr, btc with imm8 */
		return reg >= 4;
	}
	return true;
}

unsigned x86_insn_len(const uint8_t *code, size_t avail, enum x86_mode mode)
{
	const bool m64 = mode == X86_MODE_64;
	const bool m16 = mode == X86_MODE_16;
	const size_t lim = avail < X86_MAX_INSN_LEN ? avail : X86_MAX_INSN_LEN;
	bool opsize_ovr = false, addrsize_ovr = false;
	unsigned i, opc, info, rex = 0, osz, asz, reg = 0, imm;

	/* Prefixes: the first byte that is none is the opcode. */
	for (i = 0;; i++) {
		if (i >= lim)
			return 0;
		opc = code[i];
		if (m64 && (opc & 0xf0) == 0x40) {
			rex = opc;
			continue;
		}
		if (one_byte[opc >> 4][opc & 15] != PF)
			break;
		rex = 0; /* a REX before a legacy prefix is ignored */
		if (opc == 0x66)
			opsize_ovr = true;
		else if (opc == 0x67)
			addrsize_ovr = true;
	}
	i++;
	if (opc == 0x0f) {
		if (i >= lim)
			return 0;
		opc = 0x0f00 | code[i++];
		info = two_byte[(opc >> 4) & 15][opc & 15];
	} else {
		info = one_byte[opc >> 4][opc & 15];
		if (m64 && info != XX && (info & F_LEGACY))
			return 0;
	}
	if (info == XX)
		return 0;

	/* Operand and address size, in bytes. */
	if (m64) {
		osz = (rex & 8) ? 8 : opsize_ovr ? 2 : 4;
		asz = addrsize_ovr ? 4 : 8;
	} else {
		osz = m16 != opsize_ovr ? 2 : 4;
		asz = m16 != addrsize_ovr ? 2 : 4;
	}

	if (info & F_MODRM) {
		unsigned modrm, mod, rm;

		if (i >= lim)
			return 0;
		modrm = code[i++];
		mod = modrm >> 6;
		reg = (modrm >> 3) & 7;
		rm = modrm & 7;
		if (!modrm_ok(opc, modrm))
			return 0;
		if (mod == 3 || (info & F_REGONLY)) {
			/* a register: nothing more */
		} else if (asz == 2) {
			if (mod == 1)
				i += 1;
			else if (mod == 2 || rm == 6)
				i += 2;
		} else {
			if (rm == 4) {
				if (i >= lim)
					return 0;
				if (mod == 0 && (code[i] & 7) == 5)
					i += 4; /* SIB base 5 without a base register */
				i++;
			}
			if (mod == 1)
				i += 1;
			else if (mod == 2 || (mod == 0 && rm == 5))
				i += 4;
		}
	}

	switch (info & IMM_MASK) {
	case IMM_B:
		imm = 1;
		break;
	case IMM_W:
		imm = 2;
		break;
	case IMM_Z:
		imm = osz == 2 ? 2 : 4;
		break;
	case IMM_V:
		imm = osz;
		break;
	case IMM_WB:
		imm = 3;
		break;
	case IMM_MOFFS:
		imm = asz;
		break;
	case IMM_PTR:
		imm = 2 + osz; /* legacy modes only: osz is 2 or 4 */
		break;
	case IMM_G3B:
		imm = reg <= 1 ? 1 : 0;
		break;
	case IMM_G3Z:
		imm = reg <= 1 ? (osz == 2 ? 2 : 4) : 0;
		break;
	default:
		imm = 0;
		break;
	}
	i += imm;
	return i <= lim ? i : 0;
}
