/*
 * The facts the prover assumes, checked by running them (make prove builds
 * and runs this first; a failure stops it).
 *
 * 1. Every axiom of proof/bits.h, exhaustively for every x below 2^16 and
 *    every n below 16 (none of them depends on the width, so a false one
 *    fails here at some small x and n), and at the edges of 64 bits: x
 *    near 0, 2^32, 2^63 and 2^64 with every n up to 63.
 * 2. pte.h's round trips that stand on proof/known-unproved.txt: every
 *    attribute value at every leaf level, with the frame address at each
 *    single bit it may have and at its edges, every count, and counts
 *    stepped up and down over every entry kind.
 *
 * Arithmetic on the right-hand sides is in unsigned __int128, so that
 * x * 2^n is the mathematical product, as in the axioms.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pte.h"

typedef unsigned __int128 u128;

static unsigned long checks, failures;

#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			if (failures++ < 20) {                                                     \
				printf("test_bits: %s:%d: ", __FILE__, __LINE__);                  \
				printf(__VA_ARGS__);                                               \
				printf("\n");                                                      \
			}                                                                          \
		}                                                                                  \
	} while (0)

static u128 pow2(unsigned n)
{
	return (u128)1 << n;
}

/* The axioms at one x (a 64-bit value, as C's operands are) and n < 64. */
static void axioms_at(uint64_t x, unsigned n)
{
	const u128 p = pow2(n);
	const uint64_t low = (uint64_t)(p - 1); /* (1 << n) - 1 */

	EXPECT(p >= 1, "pow_pos n=%u", n);
	EXPECT(pow2(n + 1) == 2 * p, "pow_succ n=%u", n);
	/* shl_mul: in the axioms << does not wrap; C's wraps at 64 bits, so
	 * compare where it fits, and the wrapped value everywhere. */
	EXPECT(((u128)x << n) == (u128)x * p, "shl_mul x=%llx n=%u", (unsigned long long)x, n);
	EXPECT((uint64_t)(x << n) == (uint64_t)((u128)x * p), "shl_mul (64) x=%llx n=%u",
	       (unsigned long long)x, n);
	EXPECT(x >> n == (uint64_t)(x / p), "shr_div x=%llx n=%u", (unsigned long long)x, n);
	EXPECT((x & low) == (uint64_t)(x % p), "and_low x=%llx n=%u", (unsigned long long)x, n);
	EXPECT((x & ~low) == (uint64_t)(x - x % p), "and_high x=%llx n=%u", (unsigned long long)x,
	       n);
	EXPECT((x ^ (uint64_t)p) == (uint64_t)(x % pow2(n + 1) < p ? (u128)x + p : (u128)x - p),
	       "xor_up/xor_down x=%llx n=%u", (unsigned long long)x, n);
}

/* and_le, or_disjoint and or_in_ff at one pair. */
static void pair_at(uint64_t x, uint64_t y)
{
	if (!(x & 0xffffff00u) && !(y & 0xffffff00u))
		EXPECT(!((x | y) & 0xffffff00u), "or_in_ff x=%llx y=%llx", (unsigned long long)x,
		       (unsigned long long)y);
	EXPECT((x & y) <= x && (x & y) <= y, "and_le x=%llx y=%llx", (unsigned long long)x,
	       (unsigned long long)y);
	if (!(x & y))
		EXPECT((u128)(x | y) == (u128)x + y, "or_disjoint x=%llx y=%llx",
		       (unsigned long long)x, (unsigned long long)y);
}

/* The instances with constants, at one x. */
static void instances_at(uint64_t x)
{
	EXPECT(x >> 12 == x / 4096, "shr12");
	EXPECT((u128)x << 12 == (u128)x * 4096, "shl12");
	EXPECT(x >> 52 == x / 4503599627370496ull, "shr52");
	EXPECT((x & 511) == x % 512, "and511");
	EXPECT((x & 0x3ff) == x % 1024, "and3ff");
	EXPECT((x & 4095) == x % 4096, "and4095");
	EXPECT((x & 0x1fffff) == x % 0x200000, "and1fffff");
	EXPECT((x & 0x3fffffff) == x % 0x40000000, "and3fffffff");
	EXPECT(x >> 21 == x / 2097152, "shr21");
	EXPECT(x >> 30 == x / 1073741824, "shr30");
	EXPECT((x & ~(uint64_t)0xff) == x - x % 256, "and_not_ff");
	EXPECT(((uint32_t)x & 0xffffff00u) == (uint32_t)x - (uint32_t)x % 256, "and_ffffff00");
	EXPECT((((uint32_t)x & 0xffffff01u) != 1 || (uint32_t)x < 256) &&
	           ((x >> 32) || (x & 0xffffff01u) != 1 || x < 256),
	       "and_ffffff01 x=%llx", (unsigned long long)x);
}

/* and_in_mask and or_in_mask at one pair, for masks of every width and
 * a few shapes. */
static void masks_at(uint64_t x, uint64_t y)
{
	static const uint64_t masks[] = {0,    1,    0x3,  0xf,  0x55,
	                                 0xaa, 0xff, 0xf0, 0x81, ~(uint64_t)0};
	for (unsigned k = 0; k < sizeof masks / sizeof masks[0]; k++) {
		const uint64_t m = masks[k];
		if (!(x & ~m)) {
			EXPECT(!((x & y) & ~m), "and_in_mask x=%llx y=%llx m=%llx",
			       (unsigned long long)x, (unsigned long long)y, (unsigned long long)m);
			if (!(y & ~m))
				EXPECT(!((x | y) & ~m), "or_in_mask x=%llx y=%llx m=%llx",
				       (unsigned long long)x, (unsigned long long)y,
				       (unsigned long long)m);
		}
	}
}

static void check_axioms(void)
{
	for (uint64_t x = 0; x < (1u << 16); x++) {
		for (unsigned n = 0; n < 16; n++)
			axioms_at(x, n);
		instances_at(x);
	}
	for (uint64_t x = 0; x < (1u << 8); x++)
		for (uint64_t y = 0; y < (1u << 8); y++) {
			pair_at(x, y);
			masks_at(x, y);
		}
	static const uint64_t edges[] = {0,
	                                 1,
	                                 2,
	                                 3,
	                                 0xffffffffull,
	                                 0x100000000ull,
	                                 0x100000001ull,
	                                 0x7fffffffffffffffull,
	                                 0x8000000000000000ull,
	                                 0x8000000000000001ull,
	                                 0xfffffffffffff000ull,
	                                 0xfffffffffffffffeull,
	                                 0xffffffffffffffffull,
	                                 0x000ffffffffff000ull,
	                                 0x5555555555555555ull,
	                                 0xaaaaaaaaaaaaaaaaull};
	for (size_t i = 0; i < ARRAY_SIZE(edges); i++) {
		for (unsigned n = 0; n < 64; n++)
			axioms_at(edges[i], n);
		instances_at(edges[i]);
		for (size_t j = 0; j < ARRAY_SIZE(edges); j++)
			pair_at(edges[i], edges[j]);
	}
}

/* The frame addresses a leaf at `level` may have: each single bit, the
 * lowest and highest, and a few patterns, all aligned and below 2^52. */
static size_t frames_for(unsigned level, uint64_t *out)
{
	const uint64_t size = pt_level_size(level), top = (uint64_t)1 << 52;
	size_t n = 0;

	out[n++] = 0;
	for (unsigned b = 12 + 9 * level; b < 52; b++)
		out[n++] = (uint64_t)1 << b;
	out[n++] = top - size;
	out[n++] = (0x5555555555555555ull & (top - 1)) & ~(size - 1);
	out[n++] = (0xaaaaaaaaaaaaaaaaull & (top - 1)) & ~(size - 1);
	return n;
}

static void check_pte(void)
{
	uint64_t frames[64];

	/* pt_index: each bit of a 48-bit va lands in one level's index. */
	for (unsigned level = 0; level < PT_LEVELS; level++)
		for (unsigned b = 0; b < 64; b++) {
			const uint64_t va = (uint64_t)1 << b, all = ~(uint64_t)0;
			EXPECT(pt_index(va, level) == (va / pt_level_size(level)) % PT_ENTRIES,
			       "pt_index bit %u level %u", b, level);
			EXPECT(pt_index(all ^ va, level) ==
			           ((all ^ va) / pt_level_size(level)) % PT_ENTRIES,
			       "pt_index ~bit %u level %u", b, level);
		}

	/* pte_table, pte_with_count, pte_count and the count steps. */
	size_t nf = frames_for(0, frames);
	for (size_t f = 0; f < nf; f++)
		for (unsigned count = 0; count <= PT_ENTRIES; count++) {
			const pte_t e = pte_table(pa_init(frames[f]), count);
			for (unsigned level = 1; level < PT_LEVELS; level++)
				EXPECT(pte_kind(e, level) == PTE_TABLE, "table kind");
			EXPECT((e & PTE_ADDR) == frames[f], "table addr %llx",
			       (unsigned long long)frames[f]);
			EXPECT(pte_count(e) == count, "table count %u", count);
			EXPECT(!(e & PTE_XD), "table xd");
			const pte_t w = pte_with_count(e, PT_ENTRIES - count);
			EXPECT((w & PTE_ADDR) == frames[f] && pte_count(w) == PT_ENTRIES - count &&
			           pte_kind(w, 1) == PTE_TABLE,
			       "with_count");
			const pte_t rest = 0xc00fffffffffffffull;
			/* count steps over any entry, bits 63:62 and the rest set or not */
			const pte_t any[] = {e, e | PTE_XD, e | ((pte_t)1 << 62), e | rest};
			for (size_t k = 0; k < ARRAY_SIZE(any); k++) {
				if (count < PT_ENTRIES) {
					const pte_t up = pte_count_inc(any[k]);
					EXPECT(pte_count(up) == count + 1 &&
					           (up & rest) == (any[k] & rest),
					       "count_inc %u", count);
				}
				if (count > 0) {
					const pte_t down = pte_count_dec(any[k]);
					EXPECT(pte_count(down) == count - 1 &&
					           (down & rest) == (any[k] & rest),
					       "count_dec %u", count);
				}
			}
		}

	/* pte_leaf, pte_frame, pte_attr, pte_leaf_next. */
	for (unsigned level = 0; level < PT_LEVELS - 1; level++) {
		const uint64_t size = pt_level_size(level);
		nf = frames_for(level, frames);
		for (size_t f = 0; f < nf; f++)
			for (pt_attr_t a = 0; a <= PT_ATTR_MASK; a++) {
				if (a & ~PT_ATTR_MASK)
					continue;
				const pte_t e = pte_leaf(level, frames[f], a);
				EXPECT(pte_kind(e, level) == PTE_LEAF, "leaf kind");
				EXPECT(pte_frame(e, level) == frames[f], "leaf frame");
				EXPECT(pte_frame(e, level) % size == 0, "frame aligned");
				EXPECT(pte_attr(e, level) == (a | PT_R), "leaf attr %x level %u", a,
				       level);
				EXPECT((pte_attr(~e, level) & ~PT_ATTR_MASK) == 0 &&
				           (pte_attr(~e, level) & PT_R),
				       "attr range");
				const uint64_t room = (((uint64_t)1 << 52) - frames[f]) / size - 1;
				const uint64_t steps[] = {0, room ? 1 : 0, room / 2, room};
				for (size_t s = 0; s < ARRAY_SIZE(steps); s++) {
					const pte_t nx = pte_leaf_next(e, level, steps[s]);
					EXPECT(pte_kind(nx, level) == PTE_LEAF &&
					           pte_frame(nx, level) ==
					               frames[f] + steps[s] * size &&
					           pte_attr(nx, level) == pte_attr(e, level),
					       "leaf_next level %u frame %llx a %x step %llu",
					       level, (unsigned long long)frames[f], a,
					       (unsigned long long)steps[s]);
				}
			}
	}
}

/* Needed by types.h's CHECK, which nothing here reaches. */
void mon_panic(const char *file, int line, const char *what)
{
	printf("test_bits: panic at %s:%d: %s\n", file, line, what);
	exit(2);
}

int main(void)
{
	check_axioms();
	check_pte();
	printf("test_bits: %lu checks, %lu failed\n", checks, failures);
	return failures != 0;
}
