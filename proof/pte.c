/* The translation unit through which `make prove` reads paging/pte.h: its
 * inline functions, each with its contract. */
#include "pte.h"
