#include "fmt.h"

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void emit(struct out *o, char ch)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = ch;
	o->len++;
}

static void emit_padded(struct out *o, const char *s, size_t n, unsigned width, bool left, char pad)
{
	size_t fill = width > n ? width - n : 0;

	if (!left)
		while (fill--)
			emit(o, pad);
	for (size_t i = 0; i < n; i++)
		emit(o, s[i]);
	if (left)
		while (fill--)
			emit(o, ' ');
}

/* Digits of v in base 10 or 16 into tmp (right-aligned); returns the start. */
static char *utoa(char *end, uint64_t v, unsigned base)
{
	static const char digits[] = "0123456789abcdef";
	char *p = end;

	do {
		*--p = digits[v % base];
		v /= base;
	} while (v);
	return p;
}

size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			emit(&o, *f);
			continue;
		}
		f++;
		bool left = false;
		char pad = ' ';
		unsigned width = 0;
		int lmod = 0;

		if (*f == '-') {
			left = true;
			f++;
		} else if (*f == '0') {
			pad = '0';
			f++;
		}
		while (*f >= '0' && *f <= '9')
			width = width * 10 + (unsigned)(*f++ - '0');
		size_t prec = (size_t)-1;
		if (*f == '.') {
			prec = 0;
			while (*++f >= '0' && *f <= '9')
				prec = prec * 10 + (size_t)(*f - '0');
		}
		while (*f == 'l' || *f == 'z') {
			lmod = (*f == 'z') ? 2 : lmod + 1;
			f++;
		}

		char tmp[24];
		char *end = tmp + sizeof(tmp);
		uint64_t u;
		int64_t s;

		switch (*f) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			size_t n = 0;

			if (!str)
				str = "(null)";
			while (n < prec && str[n])
				n++;
			emit_padded(&o, str, n, width, left, ' ');
			break;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			emit_padded(&o, tmp, 1, width, left, ' ');
			break;
		case 'd':
		case 'i': {
			s = lmod ? va_arg(ap, int64_t) : va_arg(ap, int);
			u = s < 0 ? 0 - (uint64_t)s : (uint64_t)s;
			char *p = utoa(end, u, 10);
			if (s < 0 && pad == '0') {
				emit(&o, '-'); /* the sign goes before the zeros */
				width = width ? width - 1 : 0;
			} else if (s < 0) {
				*--p = '-';
			}
			emit_padded(&o, p, (size_t)(end - p), width, left, pad);
			break;
		}
		case 'u':
		case 'x': {
			u = lmod ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			char *p = utoa(end, u, *f == 'u' ? 10 : 16);
			emit_padded(&o, p, (size_t)(end - p), width, left, pad);
			break;
		}
		case 'p': {
			u = (uint64_t)(uintptr_t)va_arg(ap, void *);
			char *p = utoa(end, u, 16);
			*--p = 'x';
			*--p = '0';
			emit_padded(&o, p, (size_t)(end - p), width, left, ' ');
			break;
		}
		case '%':
			emit(&o, '%');
			break;
		case '\0':
			f--; /* a lone '%' at the end: stop cleanly */
			break;
		default:
			emit(&o, '%');
			emit(&o, *f);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

size_t fmt_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	size_t n = fmt_vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
