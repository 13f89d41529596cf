/*
 * Facts about shifts and masks, for the prover only (make prove includes
 * this header before every file it proves; the compilers never see it).
 *
 * WP reads C's <<, >>, & and | on unsigned values as functions on unbounded
 * integers (lsl, lsr, land, lor) of which z3 and cvc4 know little: unaided
 * they prove neither x << 12 == x * 4096 nor x & 511 == x % 512, and the
 * general facts below need induction over the width, which they do not do.
 * So these are stated as axioms: assumptions of every proof, not results.
 * Each is checked by test/proof/test_bits.c, which `make prove` builds and
 * runs first: exhaustively for every x below 2^16 and every n below 16 (the
 * statements do not depend on the width), and at the edges of 64 bits
 * (x near 0, near 2^63 and 2^64, every n up to 63). A fact the prover can
 * derive itself is a lemma, proved in every run, not an axiom.
 *
 * Names: shl/shr/and/or/xor the operation, mul/div/mod what it equals.
 */
#ifndef MEMMON_PROOF_BITS_H
#define MEMMON_PROOF_BITS_H

/*@
// Products and quotients by a size known only as a variable (an entry's
// size at a level the prover does not know): facts z3 and cvc4 prove
// alone in a few milliseconds but do not find inside a large goal.
lemma mul_le: \forall integer i, j, s; 0 <= s && i <= j ==> i * s <= j * s;
lemma div_lt: \forall integer x, s, n; 0 <= x && 0 < s && x < n * s ==> x / s < n;
lemma div_le: \forall integer x, y, s; 0 <= x <= y && 0 < s ==> x / s <= y / s;
lemma div_range:
  \forall integer x, s; 0 <= x && 0 < s ==> (x / s) * s <= x < (x / s) * s + s;
// An entry's frame aligned to its level's size is aligned to the size
// below (the instances at 2M and 1G).
lemma mod_2m_4k: \forall integer x; 0 <= x && x % 0x200000 == 0 ==> x % 0x1000 == 0;
lemma mod_1g_2m: \forall integer x; 0 <= x && x % 0x40000000 == 0 ==> x % 0x200000 == 0;
// Two multiples of m lie at least m apart.
lemma mod_gap:
  \forall integer x, y, m; 0 < m && 0 <= x < y && x % m == 0 && y % m == 0 ==> x + m <= y;
*/

/*@ axiomatic Bits {

  // A power of two: 2^n.
  axiom pow_pos: \forall integer n; 0 <= n ==> (1 << n) >= 1;
  axiom pow_succ: \forall integer n; 0 <= n ==> (1 << (n + 1)) == 2 * (1 << n);

  axiom shl_mul: \forall integer x, n; 0 <= n ==> (x << n) == x * (1 << n);
  axiom shr_div: \forall integer x, n; 0 <= x && 0 <= n ==> (x >> n) == x / (1 << n);

  // The low n bits, and all but them.
  axiom and_low:
    \forall integer x, n; 0 <= x && 0 <= n ==> (x & ((1 << n) - 1)) == x % (1 << n);
  axiom and_high:
    \forall integer x, n; 0 <= x && 0 <= n ==> (x & ~((1 << n) - 1)) == x - x % (1 << n);

  // And never grows a non-negative value.
  axiom and_le: \forall integer x, y; 0 <= x && 0 <= y ==> 0 <= (x & y) <= x && (x & y) <= y;

  // Flipping bit n: up when it was clear, down when it was set (buddies).
  axiom xor_up:
    \forall integer x, n; 0 <= x && 0 <= n && x % (1 << (n + 1)) < (1 << n) ==>
      (x ^ (1 << n)) == x + (1 << n);
  axiom xor_down:
    \forall integer x, n; 0 <= x && 0 <= n && x % (1 << (n + 1)) >= (1 << n) ==>
      (x ^ (1 << n)) == x - (1 << n);

  // Instances with the constants the code uses, so that the provers need
  // not find them (they are the axioms above at one n).
  axiom shr12: \forall integer x; 0 <= x ==> (x >> 12) == x / 4096;
  axiom shl12: \forall integer x; (x << 12) == x * 4096;
  axiom shr52: \forall integer x; 0 <= x ==> (x >> 52) == x / 4503599627370496;
  axiom and511: \forall integer x; 0 <= x ==> (x & 511) == x % 512;
  axiom and3ff: \forall integer x; 0 <= x ==> (x & 0x3ff) == x % 1024;
  axiom and4095: \forall integer x; 0 <= x ==> (x & 4095) == x % 4096;
  axiom and1fffff: \forall integer x; 0 <= x ==> (x & 0x1fffff) == x % 0x200000;
  axiom and3fffffff: \forall integer x; 0 <= x ==> (x & 0x3fffffff) == x % 0x40000000;
  axiom shr21: \forall integer x; 0 <= x ==> (x >> 21) == x / 2097152;
  axiom shr30: \forall integer x; 0 <= x ==> (x >> 30) == x / 1073741824;
  axiom and_not_ff: \forall integer x; 0 <= x ==> (x & ~0xff) == x - x % 256;
  axiom and_ffffff00:
    \forall integer x; 0 <= x < 0x100000000 ==> (x & 0xffffff00) == x - x % 256;
  // pt_map's test of an attribute value: PT_R set, no bit above 7 (32 bits).
  axiom and_ffffff01:
    \forall integer x; 0 <= x < 0x100000000 && (x & 0xffffff01) == 1 ==> x < 256;

  // An and, or an or, of values inside a mask m stays inside it.
  axiom and_in_mask: \forall integer x, y, m; (x & ~m) == 0 ==> ((x & y) & ~m) == 0;
  axiom or_in_mask:
    \forall integer x, y, m; (x & ~m) == 0 && (y & ~m) == 0 ==> ((x | y) & ~m) == 0;
  // or_in_mask at 32 bits, where ~0xff is 0xffffff00 (an attribute value).
  axiom or_in_ff:
    \forall integer x, y; 0 <= x && 0 <= y && (x & 0xffffff00) == 0 && (y & 0xffffff00) == 0 ==>
      ((x | y) & 0xffffff00) == 0;

  // Or of values with no bit in common is their sum (z3 proves it).
  lemma or_disjoint:
    \forall integer x, y; 0 <= x && 0 <= y && (x & y) == 0 ==> (x | y) == x + y;

}
*/

#endif
