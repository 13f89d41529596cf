/*
 * Basic types shared by every layer of memmon.
 *
 * Physical and virtual addresses are distinct one-member structs so that the
 * compiler refuses to mix them up; exactly one function (plat_pa_to_ptr in
 * platform.h) turns a physical address into a pointer.
 */
#ifndef MEMMON_TYPES_H
#define MEMMON_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE  ((uint64_t)4096)
#define PAGE_SHIFT 12

typedef struct {
	uint64_t pa;
} paddr_t;

typedef struct {
	uint64_t va;
} vaddr_t;

/*@ assigns \nothing; ensures \result.pa == a; */
static inline paddr_t pa_init(uint64_t a)
{
	return (paddr_t){a};
}
/*@ assigns \nothing; ensures \result == p.pa; */
static inline uint64_t pa_addr(paddr_t p)
{
	return p.pa;
}
/*@ requires p.pa + n <= UINT64_MAX; assigns \nothing; ensures \result.pa == p.pa + n; */
static inline paddr_t pa_add(paddr_t p, uint64_t n)
{
	return (paddr_t){p.pa + n};
}
/*@ assigns \nothing; ensures \result.va == a; */
static inline vaddr_t va_init(uint64_t a)
{
	return (vaddr_t){a};
}
/*@ assigns \nothing; ensures \result == v.va; */
static inline uint64_t va_addr(vaddr_t v)
{
	return v.va;
}

/*
 * The one failure convention of every layer: NULL on success, or a short
 * static message saying what was wrong. Layers below the console return
 * named constants (see frame.h) so that callers and tests can tell
 * failures apart by identity; the console formats its own messages.
 */
typedef const char *err_t;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * CHECK: an always-on assertion for states the code itself must make
 * impossible. Never used on input from the console.
 */
void mon_panic(const char *file, int line, const char *what) __attribute__((noreturn));
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			mon_panic(__FILE__, __LINE__, #cond);                                      \
	} while (0)

#endif
