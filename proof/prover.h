/* Included by `make prove` before every file it proves: the lemmas and the
 * builtins' contracts. */
#include "bits.h"
#include "builtins.h"

/* What a failed CHECK calls (monitor/types.h): it halts and never returns
 * (declared noreturn there; monitor/panic.c ends in plat_halt, the hosted
 * build's in exit or abort). So after a CHECK its condition holds. */
/*@ assigns \nothing;
    ensures \false;
*/
void mon_panic(const char *file, int line, const char *what) __attribute__((noreturn));
