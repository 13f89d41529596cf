/* Included by `make prove` before every file it proves: the lemmas and the
 * builtins' contracts. */
#include "bits.h"
#include "builtins.h"
