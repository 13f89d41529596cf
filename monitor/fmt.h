/*
 * A small formatter for a freestanding world: snprintf without libc.
 *
 * Supports %s %c %d %i %u %x %p %% with the length modifiers l, ll, z, an
 * optional '-' or '0' flag, a decimal width and, for %s, a precision. Output is always
 * NUL-terminated and truncated to fit; the return value is the number of
 * characters that a large enough buffer would have held.
 */
#ifndef MEMMON_FMT_H
#define MEMMON_FMT_H

#include "types.h"

size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap);
size_t fmt_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
