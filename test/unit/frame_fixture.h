/*
 * The leak check every unit test over the frame allocator ends with.
 * Include after <cmocka.h> and "frame.h".
 */
#ifndef FRAME_FIXTURE_H
#define FRAME_FIXTURE_H

/* The allocator is as the test found it (*init: frame_stats right after
 * frame_init): sound, every frame back with the owner it had, none still
 * referenced, and the free frames merged back into blocks as large as before.
 * frame_stats drains the quick stack, so the allocator is audited both before
 * and after that. */
static inline void assert_frames_back(const struct frame_stats *init)
{
	struct frame_stats s;

	assert_null(frame_audit());
	frame_stats(&s);
	assert_int_equal(s.free, init->free);
	assert_int_equal(s.total, init->total);
	for (unsigned o = 0; o < FRAME_OWNERS; o++)
		assert_int_equal(s.owned[o], init->owned[o]);
	assert_int_equal(s.referenced, 0);
	assert_int_equal(s.largest_frames, init->largest_frames);
	assert_null(frame_audit());
}

#endif
