/*
 * What the cmocka unit tests share on top of testlib.h: failure messages
 * that say what was being checked, the allocator's leak check every test
 * ends with, and the console fixture. Include after <cmocka.h>.
 */
#ifndef MEMMON_UNIT_H
#define MEMMON_UNIT_H

#include "frame.h"
#include "testlib.h"

/* What the current check is about: test_failf's messages start with it. */
extern char test_where[512];

/* Fail the running test with "<test_where>: <message>". */
void test_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The allocator is as the test found it (*init: frame_stats right after
 * frame_init): sound, every frame back with the owner it had, and the
 * free frames merged back into blocks as large as before. frame_stats drains the quick stack, so
 * the allocator is audited both before and after that. */
void assert_frames_back(const struct frame_stats *init);

/* cmocka setup and teardown for a test that drives a console of its own:
 * *state is a fresh struct con, no input queued, output empty. */
int test_con_setup(void **state);
int test_con_teardown(void **state);

#endif
