/*
 * Rights in SPEC's text form (rights.h).
 */
#include "rights.h"

const char rights_err_empty[] = "empty rights";
const char rights_err_letter[] = "rights are letters of rwx";
const char rights_err_twice[] = "rights name a letter twice";
const char rights_err_no_r[] =
    "rights must include r (x86-64 has no write-only or execute-only pages)";

static const char letters[] = "rwx";
static const unsigned bits[] = {RIGHTS_R, RIGHTS_W, RIGHTS_X};

err_t rights_parse(const char *s, unsigned *r)
{
	unsigned got = 0;

	if (!*s)
		return rights_err_empty;
	for (; *s; s++) {
		unsigned bit = 0;
		for (unsigned k = 0; k < 3; k++)
			if (*s == letters[k])
				bit = bits[k];
		if (!bit)
			return rights_err_letter;
		if (got & bit)
			return rights_err_twice;
		got |= bit;
	}
	if (!(got & RIGHTS_R))
		return rights_err_no_r;
	*r = got;
	return NULL;
}

const char *rights_format(unsigned r, char out[4])
{
	for (unsigned k = 0; k < 3; k++)
		out[k] = r & bits[k] ? letters[k] : '-';
	out[3] = '\0';
	return out;
}
