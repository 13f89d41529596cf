/*
 * Contracts for the GCC builtins that memmon's core calls, for the prover
 * only (make prove includes this header before every file it proves; the
 * compilers never see it and keep their own builtins). Each states what
 * GCC documents for the builtin, restricted to the arguments memmon passes.
 */
#ifndef MEMMON_PROOF_BUILTINS_H
#define MEMMON_PROOF_BUILTINS_H

#include "bits.h"

/* Leading zero bits of a non-zero x: the top set bit is 63 - result. */
/*@ requires x != 0;
    assigns \nothing;
    ensures 0 <= \result <= 63;
    ensures (1 << (63 - \result)) <= x < (1 << (64 - \result));
*/
int __builtin_clzll(unsigned long long x);

/* Trailing zero bits of a non-zero x: the lowest set bit. */
/*@ requires x != 0;
    assigns \nothing;
    ensures 0 <= \result <= 63;
    ensures x % (1 << \result) == 0;
    ensures x % (1 << (\result + 1)) == (1 << \result);
*/
int __builtin_ctzll(unsigned long long x);

/* Fill n bytes at s with c. */
/*@ requires \valid((char *)s + (0 .. n - 1));
    assigns ((char *)s)[0 .. n - 1];
    ensures \forall integer k; 0 <= k < n ==> ((char *)s)[k] == (char)c;
    ensures \result == s;
*/
void *__builtin_memset(void *s, int c, unsigned long n);

#endif
