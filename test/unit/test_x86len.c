/*
 * Unit tests of the x86 instruction-length decoder (monitor/x86len.c).
 *
 * The expected lengths come from the encoding rules (Intel SDM vol. 2,
 * AMD64 APM vol. 3), and the rows of the table below were cross-checked
 * against nasm and objdump (GNU binutils, AMD64 semantics: a 66 prefix
 * makes a near branch rel16 in 64-bit mode). Where objdump prints a REX
 * that precedes a legacy prefix as an instruction of its own, the table
 * follows the CPU, which ignores that REX but counts it in the instruction
 * (checked on an AMD EPYC: 66 41 2E B8 imm16 is one 6-byte mov ax).
 *
 * Every row is decoded from a heap block of exactly the bytes it may read,
 * so that AddressSanitizer catches a read past avail, with every avail
 * short of the length (0: truncated) and with more bytes after it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "x86len.h"

#include "unit.h"

/* The modes a row holds in. */
#define B16 1
#define B32 2
#define B64 4
#define LEG (B16 | B32)
#define ALL (B16 | B32 | B64)

static const enum x86_mode modes[] = {X86_MODE_16, X86_MODE_32, X86_MODE_64};
static const char *const mode_names[] = {"16-bit", "32-bit", "64-bit"};

/* Up to 32 bytes from hex pairs separated by spaces ("0f 01 d9"). */
static size_t parse_hex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;
	unsigned v;
	int used;

	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		if (n >= max || sscanf(hex, "%2x%n", &v, &used) != 1 || used != 2)
			test_failf("bad hex in the test: \"%s\"", hex);
		out[n++] = (uint8_t)v;
		hex += used;
	}
	return n;
}

/* The decoder over a heap copy of exactly avail bytes of code. */
static unsigned len_of(const uint8_t *code, size_t avail, enum x86_mode mode)
{
	uint8_t *p = malloc(avail ? avail : 1);
	unsigned len;

	assert_non_null(p);
	if (avail)
		memcpy(p, code, avail);
	len = x86_insn_len(p, avail, mode);
	free(p);
	return len;
}

/* ---- the table ---------------------------------------------------------- */

struct row {
	unsigned modes; /* B16, B32, B64 */
	unsigned len;   /* 0: refused */
	const char *hex;
};

static const struct row rows[] = {
    /* the brief's examples */
    {B32, 6, "c7 00 de c0 ad 0b"},
    {B32, 10, "c7 05 78 56 34 12 de c0 ad 0b"},
    {B32, 5, "66 c7 00 34 12"},
    {B64, 10, "48 b8 01 02 03 04 05 06 07 08"},
    {B32, 1, "48 b8 01 02 03 04 05 06 07 08"}, /* dec eax */
    {ALL, 3, "0f 01 d9"},                      /* vmmcall */
    {ALL, 1, "f4"},
    {ALL, 1, "cc"},
    {ALL, 2, "0f 30"},
    {ALL, 2, "e6 f4"},
    {ALL, 2, "66 ef"},
    {ALL, 2, "8e d8"},
    {ALL, 2, "0f 0b"},
    {ALL, 3, "0f 20 c0"},
    {B32, 4, "67 8b 46 02"},
    {B16, 4, "8b 06 34 12"},
    {B32 | B64, 7, "8b 04 25 78 56 34 12"},

    /* ALU forms, 00-3F */
    {ALL, 2, "00 c0"},
    {B32, 2, "01 00"},
    {B16, 2, "01 00"},
    {ALL, 2, "04 05"},
    {B32 | B64, 5, "05 78 56 34 12"},
    {B16, 3, "05 34 12"},
    {B32, 6, "0b 0d 78 56 34 12"},
    {B64, 6, "0b 0d 78 56 34 12"}, /* rip-relative */
    {B32, 7, "13 8c 98 00 01 00 00"},
    {B32 | B64, 4, "2b 44 24 08"},
    {ALL, 2, "3c 7f"},
    {LEG, 1, "06"},
    {LEG, 1, "1f"},
    {LEG, 1, "27"},
    {LEG, 1, "3f"},

    /* inc, dec, push, pop, 40-61 */
    {LEG, 1, "40"},
    {LEG, 1, "4f"},
    {ALL, 1, "50"},
    {ALL, 1, "5f"},
    {B64, 2, "41 57"},
    {B64, 2, "40 90"},
    {B64, 3, "4f 4f 90"}, /* two REX: the last counts */
    {LEG, 1, "60"},
    {LEG, 1, "61"},
    {LEG, 2, "63 c0"},    /* arpl */
    {B64, 3, "48 63 c3"}, /* movsxd */

    /* 68-6F */
    {B32 | B64, 5, "68 78 56 34 12"},
    {B16, 3, "68 34 12"},
    {B32 | B64, 4, "66 68 34 12"},
    {B64, 6, "48 68 78 56 34 12"},
    {B32, 6, "69 c0 44 33 22 11"},
    {B64, 7, "48 69 c0 78 56 34 12"},
    {B16, 4, "69 c0 34 12"},
    {ALL, 2, "6a 12"},
    {ALL, 3, "6b c0 05"},
    {ALL, 1, "6c"},
    {ALL, 1, "6d"},
    {ALL, 1, "6e"},
    {ALL, 1, "6f"},
    {ALL, 2, "f3 6e"},

    /* jcc rel8, E0-E3, EB */
    {ALL, 2, "70 fe"},
    {ALL, 2, "7f 10"},
    {ALL, 2, "e0 fe"},
    {ALL, 2, "e2 fe"},
    {ALL, 2, "e3 fe"},
    {ALL, 3, "67 e3 fe"},
    {ALL, 2, "eb fe"},

    /* 80-8F */
    {ALL, 3, "80 00 01"},
    {B32, 6, "81 00 01 00 00 00"},
    {B16, 4, "81 00 01 00"},
    {B64, 7, "48 81 c0 78 56 34 12"},
    {LEG, 3, "82 00 01"},
    {ALL, 3, "83 c0 01"},
    {ALL, 2, "84 c0"},
    {B32, 2, "87 08"},
    {ALL, 2, "88 c1"},
    {B32, 7, "8a 8c de 78 56 34 12"},
    {ALL, 2, "8c d8"},
    {B32, 2, "8c 18"},
    {ALL, 2, "8e d0"},
    {B32, 4, "8d 44 58 10"},
    {B16, 3, "8d 62 03"},
    {B64, 7, "48 8d 05 00 10 00 00"},
    {B32, 2, "8f 00"},
    {B32 | B64, 4, "8f 44 24 04"},

    /* 90-9F */
    {ALL, 1, "90"},
    {ALL, 2, "f3 90"},
    {ALL, 1, "91"},
    {ALL, 1, "98"},
    {ALL, 1, "99"},
    {B32, 7, "9a 78 56 34 12 08 00"},
    {B32, 6, "66 9a 34 12 08 00"},
    {B16, 5, "9a 34 12 00 f0"},
    {B16, 8, "66 9a 78 56 34 12 08 00"},
    {ALL, 1, "9b"},
    {ALL, 1, "9c"},
    {ALL, 1, "9d"},
    {ALL, 1, "9e"},
    {ALL, 1, "9f"},

    /* A0-AF: moffs by address size */
    {B32, 5, "a0 78 56 34 12"},
    {B16, 3, "a0 34 12"},
    {B64, 9, "a0 01 02 03 04 05 06 07 08"},
    {B64, 10, "48 a1 01 02 03 04 05 06 07 08"},
    {B64, 6, "67 a0 78 56 34 12"},
    {B32, 4, "67 a1 34 12"},
    {B16, 6, "67 a3 78 56 34 12"},
    {B32, 6, "64 a1 30 00 00 00"},
    {ALL, 1, "a4"},
    {ALL, 2, "f3 a4"},
    {B64, 3, "f3 48 a5"},
    {ALL, 1, "a7"},
    {ALL, 2, "a8 10"},
    {B32 | B64, 5, "a9 00 00 01 00"},
    {B16, 3, "a9 00 01"},
    {ALL, 1, "aa"},
    {ALL, 2, "f2 ae"},
    {ALL, 1, "af"},

    /* B0-BF */
    {ALL, 2, "b0 12"},
    {B64, 3, "41 b7 12"},
    {B32, 5, "b9 78 56 34 12"},
    {B16, 3, "b9 34 12"},
    {B16, 6, "66 b8 78 56 34 12"},
    {B64, 10, "49 b8 01 02 03 04 05 06 07 08"},
    {B64, 6, "41 bf 78 56 34 12"},

    /* C0-CF */
    {ALL, 3, "c0 00 03"},
    {B32 | B64, 4, "c1 6b 04 07"},
    {ALL, 3, "c2 08 00"},
    {ALL, 1, "c3"},
    {LEG, 2, "c4 00"},       /* les */
    {B32, 3, "c5 46 02"},    /* lds */
    {B16, 4, "c4 1e 34 12"}, /* les bx, [0x1234] */
    {B32, 7, "c6 80 00 01 00 00 77"},
    {B64, 7, "48 c7 00 78 56 34 12"},
    {B64, 11, "48 c7 05 00 01 00 00 ff ff ff ff"},
    {B16, 6, "c7 06 34 12 78 56"},
    {B16, 9, "66 c7 06 34 12 78 56 34 12"},
    {ALL, 4, "c8 10 00 01"},
    {ALL, 1, "c9"},
    {ALL, 3, "ca 04 00"},
    {ALL, 1, "cb"},
    {ALL, 2, "cd 21"},
    {LEG, 1, "ce"},
    {ALL, 1, "cf"},
    {B64, 2, "48 cf"},

    /* D0-DF */
    {ALL, 2, "d0 e0"},
    {B32, 2, "d1 38"},
    {ALL, 2, "d2 c0"},
    {B32 | B64, 4, "d3 64 24 08"},
    {LEG, 2, "d4 0a"},
    {LEG, 2, "d5 0a"},
    {ALL, 1, "d7"},
    {B32, 2, "d8 00"},
    {ALL, 2, "d9 c9"},
    {B32 | B64, 4, "dd 44 24 08"},
    {B16, 3, "dd 46 08 90"}, /* fld qword [bp+8], then a nop */
    {ALL, 2, "df e0"},
    {B32, 3, "db 2c 24"},
    {B64, 6, "de 0d 00 01 00 00"},

    /* E4-EF */
    {ALL, 2, "e4 60"},
    {ALL, 2, "e5 71"},
    {ALL, 2, "e7 80"},
    {B32 | B64, 5, "e8 00 00 00 00"},
    {B32 | B64, 5, "e9 00 01 00 00"},
    {B16, 3, "e8 34 12"},
    {B16, 6, "66 e9 78 56 34 12"},
    {B32, 4, "66 e8 34 12"},
    {B64, 4, "66 e8 34 12"}, /* AMD: rel16 */
    {B64, 7, "66 48 e8 78 56 34 12"},
    {B32, 7, "ea 78 56 34 12 08 00"},
    {B16, 5, "ea 5b e0 00 f0"}, /* the reset vector's jmp f000:e05b */
    {ALL, 1, "ec"},
    {ALL, 1, "ed"},
    {ALL, 1, "ee"},
    {ALL, 1, "ef"},

    /* F0-FF */
    {ALL, 1, "f1"},
    {ALL, 1, "f5"},
    {ALL, 3, "f6 00 11"},
    {ALL, 3, "f6 c8 11"}, /* test, /1 */
    {ALL, 2, "f6 10"},
    {B32, 6, "f7 00 44 33 22 11"},
    {B32, 7, "f7 40 04 44 33 22 11"},
    {B16, 6, "f7 06 34 12 78 56"},
    {B32 | B64, 5, "66 f7 c0 34 12"},
    {B16, 7, "66 f7 c0 78 56 34 12"},
    {B64, 7, "48 f7 c0 78 56 34 12"},
    {ALL, 2, "f7 d8"},
    {B32, 4, "f7 7c 24 08"}, /* idiv dword [esp+8] */
    {ALL, 1, "f8"},
    {ALL, 1, "fa"},
    {ALL, 1, "fb"},
    {ALL, 1, "fd"},
    {ALL, 2, "fe c0"},
    {ALL, 2, "fe c8"},
    {B32, 6, "ff 15 78 56 34 12"},
    {B64, 6, "ff 15 00 10 00 00"},
    {ALL, 2, "ff e0"},
    {B32, 2, "ff 18"},
    {B32, 2, "ff 28"},
    {B32, 2, "ff 30"},
    {B64, 3, "41 ff d3"},

    /* two-byte map: system instructions */
    {ALL, 3, "0f 00 c0"},             /* sldt ax */
    {B32, 3, "0f 00 18"},             /* ltr [eax] */
    {B32, 3, "0f 01 10"},             /* lgdt [eax] */
    {B32, 7, "0f 01 15 78 56 34 12"}, /* lgdt [disp32] */
    {B16, 5, "0f 01 16 34 12"},       /* lgdt [0x1234] */
    {B64, 7, "0f 01 1d 00 01 00 00"}, /* lidt [rip+disp32] */
    {ALL, 3, "0f 01 38"},             /* invlpg [eax] */
    {ALL, 3, "0f 01 d8"},             /* vmrun */
    {ALL, 3, "0f 01 da"},             /* vmload */
    {ALL, 3, "0f 01 db"},             /* vmsave */
    {ALL, 3, "0f 01 dc"},             /* stgi */
    {ALL, 3, "0f 01 dd"},             /* clgi */
    {ALL, 3, "0f 01 de"},             /* skinit */
    {ALL, 3, "0f 01 df"},             /* invlpga */
    {B64, 3, "0f 01 f8"},             /* swapgs */
    {ALL, 3, "0f 01 f9"},             /* rdtscp */
    {ALL, 3, "0f 01 d0"},             /* xgetbv */
    {ALL, 3, "0f 01 c8"},             /* monitor */
    {ALL, 2, "0f 05"},
    {ALL, 2, "0f 06"},
    {ALL, 2, "0f 07"},
    {B64, 3, "48 0f 07"}, /* sysretq */
    {ALL, 2, "0f 08"},
    {ALL, 2, "0f 09"},
    {B32, 3, "0f 0d 08"},             /* prefetchw [eax] */
    {B32, 3, "0f 18 00"},             /* prefetchnta [eax] */
    {B32 | B64, 5, "0f 1f 44 00 00"}, /* the multi-byte nops */
    {B32 | B64, 8, "0f 1f 84 00 00 00 00 00"},
    {B32 | B64, 9, "66 0f 1f 84 00 00 00 00 00"},
    {ALL, 4, "f3 0f 1e fb"}, /* endbr32 */
    {ALL, 3, "0f 22 d8"},    /* mov cr3, eax */
    {ALL, 3, "0f 21 f8"},    /* mov eax, dr7 */
    {ALL, 3, "0f 23 c0"},
    {ALL, 3, "0f 22 05 78 56 34 12"}, /* always registers: mod 0 rm 5 has no disp32 */
    {ALL, 3, "0f 20 44 24 08"},       /* nor a SIB with mod 1 */
    {B64, 4, "44 0f 20 c0"},          /* mov rax, cr8 */
    {LEG, 4, "f0 0f 20 c0"},          /* AMD's mov eax, cr8 */
    {ALL, 2, "0f 31"},
    {ALL, 2, "0f 32"},
    {ALL, 2, "0f 33"},
    {ALL, 2, "0f 34"},
    {ALL, 2, "0f 35"},
    {ALL, 2, "0f a2"},

    /* two-byte map: ordinary code */
    {ALL, 3, "0f 44 c1"},
    {B32, 3, "0f 4f 03"},
    {B32 | B64, 6, "0f 84 00 00 00 00"},
    {B16, 4, "0f 84 34 12"},
    {B32 | B64, 5, "66 0f 8f 34 12"},
    {B16, 7, "66 0f 85 78 56 34 12"},
    {ALL, 3, "0f 94 c0"},
    {B32, 3, "0f 95 00"},
    {ALL, 2, "0f a0"},
    {ALL, 2, "0f a1"},
    {ALL, 2, "0f a8"},
    {ALL, 2, "0f a9"},
    {ALL, 3, "0f a3 c8"},
    {B32, 3, "0f ab 08"},
    {ALL, 4, "0f a4 c3 05"},
    {ALL, 3, "0f a5 c3"},
    {ALL, 4, "0f ac c3 05"},
    {B32, 3, "0f ad 03"},
    {B32, 3, "0f ae 00"},       /* fxsave [eax] */
    {B32, 3, "0f ae 38"},       /* clflush [eax] */
    {ALL, 3, "0f ae e8"},       /* lfence */
    {ALL, 3, "0f ae f0"},       /* mfence */
    {ALL, 3, "0f ae f8"},       /* sfence */
    {B64, 4, "f3 0f ae c0"},    /* rdfsbase eax */
    {B64, 5, "f3 48 0f ae d3"}, /* wrgsbase rbx */
    {ALL, 3, "0f af c1"},
    {B32, 3, "0f b0 0a"},
    {B32, 4, "f0 0f b1 0a"},
    {B32, 3, "0f b2 00"},
    {B32, 3, "0f b3 08"},
    {B32, 3, "0f b4 00"},
    {B16, 3, "0f b5 07"},
    {ALL, 3, "0f b6 c0"},
    {B32, 3, "0f b7 00"},
    {ALL, 4, "0f ba e0 05"},
    {B32, 5, "66 0f ba 30 06"},
    {ALL, 3, "0f bb c8"},
    {ALL, 3, "0f bc c1"},
    {ALL, 3, "0f bd c1"},
    {ALL, 4, "f3 0f bc c1"}, /* tzcnt */
    {B32, 3, "0f be 00"},
    {B32, 3, "0f bf 00"},
    {ALL, 3, "0f c0 c8"},
    {B32, 3, "0f c1 0a"},
    {B32, 3, "0f c7 08"}, /* cmpxchg8b [eax] */
    {B64, 5, "f0 48 0f c7 0e"},
    {ALL, 3, "0f c7 f0"}, /* rdrand eax */
    {ALL, 2, "0f c8"},
    {ALL, 2, "0f cf"},
    {B64, 3, "48 0f c8"},

    /* ModRM, SIB and displacements */
    {B32 | B64, 2, "8b c1"},
    {B32 | B64, 3, "8b 04 24"},
    {B32 | B64, 3, "8b 45 00"},
    {B32 | B64, 4, "8b 44 24 08"},
    {B32 | B64, 4, "8b 44 25 08"}, /* SIB base 5 with mod 1: ebp + disp8 */
    {B32 | B64, 7, "8b 84 24 00 01 00 00"},
    {B32 | B64, 7, "8b 04 65 00 01 00 00"}, /* no base, no index: disp32 */
    {B32, 6, "8b 05 78 56 34 12"},
    {B64, 7, "48 8b 05 00 01 00 00"}, /* rip-relative */
    {B64, 4, "41 8b 45 00"},          /* [r13]: mod 1 */
    {B64, 4, "41 8b 04 24"},          /* [r12]: a SIB */
    {B64, 8, "42 8b 04 2d 00 01 00 00"},
    {B64, 3, "67 8b 00"},
    {B64, 9, "64 48 8b 04 25 28 00 00 00"},
    {B16, 2, "8b 00"},
    {B16, 3, "8b 40 01"},
    {B16, 3, "8b 46 02"},
    {B16, 4, "8b 80 34 12"},
    {B16, 4, "8b 86 34 12"},
    {B16, 8, "67 8b 04 25 78 56 34 12"},
    {B16, 3, "67 8b 00"},
    {B32, 3, "67 8b 00"},
    {B32, 5, "67 8b 06 34 12"},
    {B32, 5, "67 8b 86 34 12"}, /* [bp+disp16] */

    /* the operand and address size: B8, C7 /0, 68, E8 and A1 under each
     * set of prefixes */
    {B16, 3, "b8 34 12"},
    {B16, 4, "c7 00 34 12"},
    {B16, 3, "68 34 12"},
    {B16, 3, "e8 34 12"},
    {B16, 3, "a1 34 12"},
    {B16, 6, "66 b8 78 56 34 12"},
    {B16, 7, "66 c7 00 78 56 34 12"},
    {B16, 6, "66 68 78 56 34 12"},
    {B16, 6, "66 e8 78 56 34 12"},
    {B16, 4, "66 a1 34 12"},
    {B16, 4, "67 b8 34 12"},
    {B16, 5, "67 c7 00 34 12"},
    {B16, 4, "67 68 34 12"},
    {B16, 4, "67 e8 34 12"},
    {B16, 6, "67 a1 78 56 34 12"},
    {B16, 7, "66 67 b8 78 56 34 12"},
    {B16, 8, "66 67 c7 00 78 56 34 12"},
    {B16, 7, "66 67 68 78 56 34 12"},
    {B16, 7, "66 67 e8 78 56 34 12"},
    {B16, 7, "66 67 a1 78 56 34 12"},
    {B32, 5, "b8 78 56 34 12"},
    {B32, 6, "c7 00 78 56 34 12"},
    {B32, 5, "68 78 56 34 12"},
    {B32, 5, "e8 78 56 34 12"},
    {B32, 5, "a1 78 56 34 12"},
    {B32, 4, "66 b8 34 12"},
    {B32, 5, "66 c7 00 34 12"},
    {B32, 4, "66 68 34 12"},
    {B32, 4, "66 e8 34 12"},
    {B32, 6, "66 a1 78 56 34 12"},
    {B32, 6, "67 b8 78 56 34 12"},
    {B32, 7, "67 c7 00 78 56 34 12"},
    {B32, 6, "67 68 78 56 34 12"},
    {B32, 6, "67 e8 78 56 34 12"},
    {B32, 4, "67 a1 34 12"},
    {B32, 5, "66 67 b8 34 12"},
    {B32, 6, "66 67 c7 00 34 12"},
    {B32, 5, "66 67 68 34 12"},
    {B32, 5, "66 67 e8 34 12"},
    {B32, 5, "66 67 a1 34 12"},
    {B64, 5, "b8 78 56 34 12"},
    {B64, 6, "c7 00 78 56 34 12"},
    {B64, 5, "68 78 56 34 12"},
    {B64, 5, "e8 78 56 34 12"},
    {B64, 9, "a1 01 02 03 04 05 06 07 08"},
    {B64, 4, "66 b8 34 12"},
    {B64, 5, "66 c7 00 34 12"},
    {B64, 4, "66 68 34 12"},
    {B64, 4, "66 e8 34 12"},
    {B64, 10, "66 a1 01 02 03 04 05 06 07 08"},
    {B64, 6, "67 b8 78 56 34 12"},
    {B64, 7, "67 c7 00 78 56 34 12"},
    {B64, 6, "67 68 78 56 34 12"},
    {B64, 6, "67 e8 78 56 34 12"},
    {B64, 6, "67 a1 78 56 34 12"},
    {B64, 10, "48 b8 01 02 03 04 05 06 07 08"},
    {B64, 7, "48 c7 00 78 56 34 12"},
    {B64, 6, "48 68 78 56 34 12"},
    {B64, 6, "48 e8 78 56 34 12"},
    {B64, 10, "48 a1 01 02 03 04 05 06 07 08"},
    {B64, 11, "66 48 b8 01 02 03 04 05 06 07 08"}, /* REX.W beats 66 */
    {B64, 8, "66 48 c7 00 78 56 34 12"},
    {B64, 7, "66 48 68 78 56 34 12"},
    {B64, 7, "66 48 e8 78 56 34 12"},
    {B64, 11, "66 48 a1 01 02 03 04 05 06 07 08"},
    {B64, 5, "48 66 b8 34 12"}, /* a REX before a legacy prefix is ignored */
    {B64, 6, "48 66 c7 00 34 12"},
    {B64, 5, "48 66 68 34 12"},
    {B64, 5, "48 66 e8 34 12"},
    {B64, 11, "48 66 a1 01 02 03 04 05 06 07 08"},
    {B64, 6, "66 41 2e b8 34 12"},
    {B64, 5, "48 f0 0f b1 0a 90"}, /* lock cmpxchg [rdx], ecx; a nop */

    /* stacked prefixes */
    {B32, 7, "f0 2e 66 67 83 00 01"},
    {B32, 8, "66 67 c7 06 34 12 78 56"},
    {ALL, 12, "2e 3e 26 64 65 36 f0 f2 f3 66 67 90"},
    {B32, 0, "26 26 26 26 26 c7 84 88 78 56 34 12 de c0 ad 0b"}, /* 16 bytes */
    {B32, 15, "26 26 26 26 c7 84 88 78 56 34 12 de c0 ad 0b"},
    {B64, 15, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 90"},
    {B64, 15, "f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 48 a5"},

    /* refused: not instructions the decoder knows, or not at all */
    {ALL, 0, "62 00 00 00"},       /* bound; EVEX */
    {ALL, 0, "d6"},                /* salc */
    {ALL, 0, "0f 38 00 c0"},       /* pshufb */
    {ALL, 0, "0f 3a 0f c1 08"},    /* palignr */
    {ALL, 0, "0f 10 00"},          /* movups */
    {ALL, 0, "66 0f 6f c0"},       /* movdqa */
    {ALL, 0, "0f 0f c1 b4"},       /* 3DNow! */
    {ALL, 0, "0f 77"},             /* emms */
    {ALL, 0, "0f 02 c0"},          /* lar */
    {ALL, 0, "0f 03 c0"},          /* lsl */
    {ALL, 0, "0f aa"},             /* rsm */
    {ALL, 0, "f3 0f b8 c0"},       /* popcnt */
    {ALL, 0, "0f b9 c0"},          /* ud1 */
    {ALL, 0, "0f ff c0"},          /* ud0 */
    {ALL, 0, "0f 24 c0"},          /* mov from a test register */
    {ALL, 0, "0f 04"},             /* nothing */
    {ALL, 0, "8f c8 78 c2 c1 08"}, /* XOP (vprotd) */
    {ALL, 0, "8f 08"},             /* likewise */
    {ALL, 0, "c6 f8 01"},          /* xabort */
    {ALL, 0, "c7 f8 00 00 00 00"}, /* xbegin */
    {ALL, 0, "c6 08 01"},          /* c6 /1 */
    {ALL, 0, "fe 10"},             /* fe /2 */
    {ALL, 0, "ff 38"},             /* ff /7 */
    {ALL, 0, "ff d8"},             /* call far to a register */
    {ALL, 0, "ff e8"},             /* jmp far to a register */
    {ALL, 0, "8d c0"},             /* lea of a register */
    {ALL, 0, "8c f0"},             /* no segment register 6 */
    {ALL, 0, "8e c8"},             /* mov cs, ax */
    {ALL, 0, "0f 00 30"},          /* 0f 00 /6 */
    {ALL, 0, "0f ba 00 05"},       /* 0f ba /0 */
    {ALL, 0, "0f b2 c0"},          /* lss from a register */
    {LEG, 0, "c4 e2 79 18 00"},    /* VEX (mod 3) */
    {LEG, 0, "c5 f8 77"},          /* vzeroupper */
    {ALL, 0, "62 f1 7c 48 10 00"}, /* EVEX */
    {B64, 0, "c4 e2 79 18 00"},    /* VEX */
    {B64, 0, "c5 f8 77"},          /* vzeroupper */
    {B64, 0, "c4 00"},             /* no les in 64-bit mode */
    {B64, 0, "c5 00"},             /* nor lds */
    {B64, 0, "06"},
    {B64, 0, "07"},
    {B64, 0, "0e"},
    {B64, 0, "16"},
    {B64, 0, "17"},
    {B64, 0, "1e"},
    {B64, 0, "1f"},
    {B64, 0, "27"},
    {B64, 0, "2f"},
    {B64, 0, "37"},
    {B64, 0, "3f"},
    {B64, 0, "60"},
    {B64, 0, "61"},
    {B64, 0, "82 c0 01"},
    {B64, 0, "9a 78 56 34 12 08 00"},
    {B64, 0, "ce"},
    {B64, 0, "d4 0a"},
    {B64, 0, "d5 0a"},
    {B64, 0, "ea 78 56 34 12 08 00"},
    {B64, 0, "48 06"}, /* REX does not save them */
};

/* Each row as given, cut short at every avail (0 short of the length),
 * and followed by more bytes; a refusal holds whatever follows. */
static void check_row(const struct row *r, unsigned m)
{
	uint8_t code[32];
	size_t n, avail;
	unsigned want, got;

	memset(code, 0xcc, sizeof(code));
	n = parse_hex(r->hex, code, sizeof(code));
	for (avail = 0; avail <= sizeof(code); avail++) {
		if (avail < n && r->len == 0)
			continue; /* refused: only whole */
		snprintf(test_where, sizeof(test_where), "%s [%s] avail %zu", mode_names[m], r->hex,
		         avail);
		want = avail >= r->len ? r->len : 0;
		got = len_of(code, avail, modes[m]);
		if (got != want)
			test_failf("length %u, want %u", got, want);
	}
}

static void test_table(void **state)
{
	unsigned count = 0;

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(rows); k++) {
		if (rows[k].len > X86_MAX_INSN_LEN)
			test_failf("row %zu: bad length", k);
		for (unsigned m = 0; m < 3; m++) {
			if (rows[k].modes & (1u << m)) {
				check_row(&rows[k], m);
				count++;
			}
		}
	}
	print_message("x86len: %zu rows, %u (row, mode) cases\n", ARRAY_SIZE(rows), count);
}

/* ---- the maps, opcode by opcode ------------------------------------------ */

static bool is_prefix(unsigned b, enum x86_mode mode)
{
	static const uint8_t legacy[] = {0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e,
	                                 0x36, 0x3e, 0x26, 0x64, 0x65};

	for (size_t k = 0; k < ARRAY_SIZE(legacy); k++)
		if (b == legacy[k])
			return true;
	return mode == X86_MODE_64 && b >= 0x40 && b <= 0x4f;
}

/* Whether byte b is in the list of hex bytes and ranges ("0b 18-1f"). */
static bool in_list(const char *list, unsigned b)
{
	unsigned lo, hi;
	int used;

	while (*list) {
		if (*list == ' ') {
			list++;
			continue;
		}
		if (sscanf(list, "%2x-%2x%n", &lo, &hi, &used) != 2) {
			if (sscanf(list, "%2x%n", &lo, &used) != 1)
				test_failf("bad list in the test: \"%s\"", list);
			hi = lo;
		}
		if (b >= lo && b <= hi)
			return true;
		list += used;
	}
	return false;
}

/* Every one-byte opcode (ModRM 00, then zeros): which are refused. */
static void test_one_byte_map(void **state)
{
	static const char *const refused[] = {
	    [X86_MODE_16] = "62 d6",
	    [X86_MODE_32] = "62 d6",
	    [X86_MODE_64] = "06 07 0e 16 17 1e 1f 27 2f 37 3f 60-62 82 9a c4 c5 ce d4-d6 ea",
	};
	uint8_t code[15] = {0};

	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		for (unsigned op = 0; op < 256; op++) {
			unsigned got;

			if (op == 0x0f || is_prefix(op, modes[m]))
				continue;
			code[0] = (uint8_t)op;
			snprintf(test_where, sizeof(test_where), "%s opcode %02x", mode_names[m],
			         op);
			got = len_of(code, sizeof(code), modes[m]);
			if (in_list(refused[modes[m]], op) ? got != 0 : got == 0)
				test_failf("length %u", got);
		}
	}
}

/* Every two-byte opcode (0F xx, ModRM 20: reg 4, which every group takes):
 * exactly the list of x86len.c is known, the same in every mode. */
static void test_two_byte_map(void **state)
{
	static const char *const known =
	    "00 01 05-09 0b 0d 18-1f 20-23 30-35 40-4f 80-9f a0-a5 a8 a9 ab-b7 ba-c1 c7 c8-cf";
	uint8_t code[15] = {0x0f, 0, 0x20};

	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		for (unsigned op = 0; op < 256; op++) {
			unsigned got;

			code[1] = (uint8_t)op;
			snprintf(test_where, sizeof(test_where), "%s opcode 0f %02x", mode_names[m],
			         op);
			got = len_of(code, sizeof(code), modes[m]);
			if (in_list(known, op) ? got == 0 : got != 0)
				test_failf("length %u", got);
		}
	}
}

/* ---- ModRM, exhaustively ----------------------------------------------------- */

/* 8B /r (mov r, r/m) with every ModRM and SIB byte under 32- and 64-bit
 * addressing, against the SDM's tables 2-2 and 2-3: mod 3 is a register;
 * rm 4 brings a SIB; mod 1 is disp8, mod 2 disp32, and mod 0 has disp32
 * for rm 5 or a SIB base of 5. */
static void test_modrm_32(void **state)
{
	static const struct {
		enum x86_mode mode;
		const char *prefix;
	} cases[] = {
	    {X86_MODE_32, ""}, {X86_MODE_64, ""}, {X86_MODE_16, "67"}, {X86_MODE_64, "48"}};
	uint8_t code[16];

	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		size_t p = parse_hex(cases[c].prefix, code, sizeof(code));

		for (unsigned modrm = 0; modrm < 256; modrm++) {
			for (unsigned sib = 0; sib < 256; sib++) {
				unsigned mod = modrm >> 6, rm = modrm & 7, want, got;
				bool has_sib = mod != 3 && rm == 4;

				memset(code + p, 0x90, sizeof(code) - p);
				code[p] = 0x8b;
				code[p + 1] = (uint8_t)modrm;
				code[p + 2] = (uint8_t)sib;
				want = (unsigned)p + 2 + has_sib;
				if (mod == 1)
					want += 1;
				else if (mod == 2)
					want += 4;
				else if (mod == 0 && (rm == 5 || (has_sib && (sib & 7) == 5)))
					want += 4;
				snprintf(test_where, sizeof(test_where), "%s [%s 8b %02x %02x]",
				         mode_names[cases[c].mode], cases[c].prefix, modrm, sib);
				got = x86_insn_len(code, sizeof(code), cases[c].mode);
				if (got != want)
					test_failf("length %u, want %u", got, want);
			}
		}
	}
}

/* The same under 16-bit addressing (the SDM's table 2-1): no SIB; mod 1 is
 * disp8, mod 2 disp16, and mod 0 rm 6 is disp16. */
static void test_modrm_16(void **state)
{
	static const struct {
		enum x86_mode mode;
		const char *prefix;
	} cases[] = {{X86_MODE_16, ""}, {X86_MODE_32, "67"}, {X86_MODE_16, "66"}};
	uint8_t code[16];

	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		size_t p = parse_hex(cases[c].prefix, code, sizeof(code));

		for (unsigned modrm = 0; modrm < 256; modrm++) {
			unsigned mod = modrm >> 6, rm = modrm & 7, want, got;

			memset(code + p, 0x90, sizeof(code) - p);
			code[p] = 0x8b;
			code[p + 1] = (uint8_t)modrm;
			want = (unsigned)p + 2;
			if (mod == 1)
				want += 1;
			else if (mod == 2 || (mod == 0 && rm == 6))
				want += 2;
			snprintf(test_where, sizeof(test_where), "%s [%s 8b %02x]",
			         mode_names[cases[c].mode], cases[c].prefix, modrm);
			got = x86_insn_len(code, sizeof(code), cases[c].mode);
			if (got != want)
				test_failf("length %u, want %u", got, want);
		}
	}
}

/* ---- group opcodes: the reg field ------------------------------------------- */

/* For each reg value 0-7 of a group opcode, the length with a register
 * operand (ModRM C0 | reg << 3) and with a memory one (ModRM 00 | reg << 3,
 * [eax] in 32-bit mode), 0 for refused: "3 3 2 2 2 2 2 2". */
static void test_groups(void **state)
{
	static const struct {
		const char *opcode;
		const char *reg_form, *mem_form;
	} groups[] = {
	    {"80", "3 3 3 3 3 3 3 3", "3 3 3 3 3 3 3 3"},
	    {"81", "6 6 6 6 6 6 6 6", "6 6 6 6 6 6 6 6"},
	    {"83", "3 3 3 3 3 3 3 3", "3 3 3 3 3 3 3 3"},
	    {"8c", "2 2 2 2 2 2 0 0", "2 2 2 2 2 2 0 0"},
	    {"8e", "2 0 2 2 2 2 0 0", "2 0 2 2 2 2 0 0"},
	    {"8d", "0 0 0 0 0 0 0 0", "2 2 2 2 2 2 2 2"},
	    {"8f", "2 0 0 0 0 0 0 0", "2 0 0 0 0 0 0 0"},
	    {"c0", "3 3 3 3 3 3 3 3", "3 3 3 3 3 3 3 3"},
	    {"c1", "3 3 3 3 3 3 3 3", "3 3 3 3 3 3 3 3"},
	    {"c4", "0 0 0 0 0 0 0 0", "2 2 2 2 2 2 2 2"},
	    {"c6", "3 0 0 0 0 0 0 0", "3 0 0 0 0 0 0 0"},
	    {"c7", "6 0 0 0 0 0 0 0", "6 0 0 0 0 0 0 0"},
	    {"d1", "2 2 2 2 2 2 2 2", "2 2 2 2 2 2 2 2"},
	    {"f6", "3 3 2 2 2 2 2 2", "3 3 2 2 2 2 2 2"},
	    {"f7", "6 6 2 2 2 2 2 2", "6 6 2 2 2 2 2 2"},
	    {"fe", "2 2 0 0 0 0 0 0", "2 2 0 0 0 0 0 0"},
	    {"ff", "2 2 2 0 2 0 2 0", "2 2 2 2 2 2 2 0"},
	    {"0f 00", "3 3 3 3 3 3 0 0", "3 3 3 3 3 3 0 0"},
	    {"0f 01", "3 3 3 3 3 3 3 3", "3 3 3 3 3 3 3 3"},
	    {"0f ae", "3 3 3 3 3 3 3 3", "3 3 3 3 3 3 3 3"},
	    {"0f b2", "0 0 0 0 0 0 0 0", "3 3 3 3 3 3 3 3"},
	    {"0f ba", "0 0 0 0 4 4 4 4", "0 0 0 0 4 4 4 4"},
	    {"0f c7", "3 3 3 3 3 3 3 3", "3 3 3 3 3 3 3 3"},
	};
	uint8_t code[16];

	(void)state;
	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		size_t p = parse_hex(groups[g].opcode, code, sizeof(code));

		for (unsigned form = 0; form < 2; form++) {
			const char *lens = form ? groups[g].mem_form : groups[g].reg_form;

			for (unsigned reg = 0; reg < 8; reg++) {
				unsigned want = (unsigned)(lens[2 * reg] - '0'), got;

				memset(code + p, 0x00, sizeof(code) - p);
				code[p] = (uint8_t)((form ? 0x00 : 0xc0) | reg << 3);
				snprintf(test_where, sizeof(test_where), "[%s %02x]",
				         groups[g].opcode, code[p]);
				got = x86_insn_len(code, sizeof(code), X86_MODE_32);
				if (got != want)
					test_failf("length %u, want %u", got, want);
			}
		}
	}
}

/* ---- limits ------------------------------------------------------------------ */

/* Prefixes count against the 15 bytes: 14 and an opcode are the longest
 * instruction; 15 leave no room for one; a 16-byte run is refused however
 * many bytes are readable, and nothing past the 15th byte is ever read. */
static void test_prefix_limit(void **state)
{
	uint8_t code[32];

	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		for (unsigned n = 0; n <= 16; n++) {
			unsigned got, want = n + 1 <= X86_MAX_INSN_LEN ? n + 1 : 0;

			memset(code, 0x66, n);
			code[n] = 0x90;
			snprintf(test_where, sizeof(test_where), "%s: %u prefixes, nop",
			         mode_names[m], n);
			got = len_of(code, n + 1, modes[m]);
			if (got != want)
				test_failf("length %u, want %u", got, want);
			if (n < 16)
				continue;
			snprintf(test_where, sizeof(test_where), "%s: 16 prefixes of 32",
			         mode_names[m]);
			memset(code, 0x2e, sizeof(code));
			if (len_of(code, 16, modes[m]) != 0 || len_of(code, 32, modes[m]) != 0 ||
			    x86_insn_len(code, 15, modes[m]) != 0)
				test_failf("not refused");
		}
	}
	/* a 16-byte instruction: one prefix too many for C7 with SIB, disp32, imm32 */
	parse_hex("26 26 26 26 26 c7 84 88 78 56 34 12 de c0 ad 0b", code, sizeof(code));
	snprintf(test_where, sizeof(test_where), "16-byte mov");
	assert_int_equal(len_of(code, 16, X86_MODE_32), 0);
	assert_int_equal(len_of(code + 1, 15, X86_MODE_32), 15);
	/* no byte read at all when none is readable */
	assert_int_equal(x86_insn_len(NULL, 0, X86_MODE_64), 0);
}

/* Random bytes (prefix-heavy, so that every part of the decoder is hit): the
 * answer never exceeds avail or 15, is the same for every avail from the
 * length on and 0 below it, and no byte past avail is read (ASan). */
static void test_random(void **state)
{
	static const uint8_t hot[] = {0x66, 0x67, 0xf0, 0xf3, 0x26, 0x0f, 0x48, 0x41};
	uint8_t code[20];
	unsigned known = 0, runs = 20000;

	(void)state;
	test_rng_seed(1);
	for (unsigned r = 0; r < runs; r++) {
		unsigned m = (unsigned)test_below(3), len, got;

		for (size_t k = 0; k < sizeof(code); k++)
			code[k] =
			    test_below(4) ? (uint8_t)test_rnd() : hot[test_below(ARRAY_SIZE(hot))];
		snprintf(test_where, sizeof(test_where), "run %u, %s", r, mode_names[m]);
		len = len_of(code, sizeof(code), modes[m]);
		if (len > X86_MAX_INSN_LEN)
			test_failf("length %u", len);
		known += len != 0;
		for (size_t avail = 0; avail < sizeof(code); avail++) {
			unsigned want = avail >= len ? len : 0;

			got = len_of(code, avail, modes[m]);
			if (got != want)
				test_failf("avail %zu: length %u, want %u", avail, got, want);
		}
	}
	/* most random bytes are some instruction */
	if (known < runs / 2)
		test_failf("only %u of %u known", known, runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),        cmocka_unit_test(test_one_byte_map),
	    cmocka_unit_test(test_two_byte_map), cmocka_unit_test(test_modrm_32),
	    cmocka_unit_test(test_modrm_16),     cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_prefix_limit), cmocka_unit_test(test_random),
	};

	/* X86LEN_TEST=test_groups runs the tests whose name matches (cmocka's filter) */
	if (getenv("X86LEN_TEST"))
		cmocka_set_test_filter(getenv("X86LEN_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
