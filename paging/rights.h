/*
 * Access rights: the one encoding of r, w and x in memmon.
 *
 * Rights are the rights bits of a page-table leaf's attributes (pte.h's
 * PT_R, PT_W, PT_X), so the page tables hold them as they are: the spaces
 * layer, the mapping database (key bits 4:2), the naive model, the console
 * and the tests all use these names, and there is nothing to translate
 * between layers. The text form is SPEC's: letters of "rwx" in any order,
 * each at most once, always with r; printed as three characters with '-'
 * for a missing one ("rw-", "r-x", "r--").
 */
#ifndef MEMMON_RIGHTS_H
#define MEMMON_RIGHTS_H

#include "pte.h"

#define RIGHTS_R   PT_R
#define RIGHTS_W   PT_W
#define RIGHTS_X   PT_X
#define RIGHTS_RW  (PT_R | PT_W)
#define RIGHTS_RX  (PT_R | PT_X)
#define RIGHTS_RWX PT_RIGHTS

/* Rights memmon can give: r always, no bits but r, w, x (x86-64 has no
 * write-only or execute-only pages). */
static inline bool rights_valid(unsigned r)
{
	return (r & RIGHTS_R) && !(r & ~RIGHTS_RWX);
}

/* The rights of a leaf with attributes `a`. */
static inline unsigned rights_of_attr(pt_attr_t a)
{
	return a & PT_RIGHTS;
}

/* Parse SPEC's text form into *r. On failure one of rights_err_* and *r
 * unchanged. */
err_t rights_parse(const char *s, unsigned *r);

/* Print r as three characters and a NUL: out[4]. Returns out. */
const char *rights_format(unsigned r, char out[4]);

extern const char rights_err_empty[];  /* "" */
extern const char rights_err_letter[]; /* a character outside rwx */
extern const char rights_err_twice[];  /* a letter named twice */
extern const char rights_err_no_r[];   /* without r */

#endif
