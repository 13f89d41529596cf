/*
 * What the cmocka unit tests share (unit.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "console.h"
#include "host.h"
#include "platform.h"
#include "unit.h"

char test_where[512];

void test_failf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fail_msg("%s: %s", test_where, buf);
	abort(); /* fail_msg does not return */
}

void assert_frames_back(const struct frame_stats *init)
{
	struct frame_stats s;

	assert_null(frame_audit());
	frame_stats(&s);
	assert_int_equal(s.free, init->free);
	assert_int_equal(s.total, init->total);
	for (unsigned o = 0; o < FRAME_OWNERS; o++)
		assert_int_equal(s.owned[o], init->owned[o]);
	assert_int_equal(s.largest_frames, init->largest_frames);
	assert_null(frame_audit());
}

int test_con_setup(void **state)
{
	struct con *c = malloc(sizeof(*c));

	if (!c)
		return -1;
	con_init(c);
	while (plat_getc() >= 0)
		; /* drop input a previous test left queued */
	host_output_reset();
	*state = c;
	return 0;
}

int test_con_teardown(void **state)
{
	free(*state);
	host_output_reset();
	return 0;
}
