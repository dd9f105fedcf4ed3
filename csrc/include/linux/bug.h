/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics. A kernel WARN becomes a call to the process-wide diagnostics
 * hook (an atomic counter plus an optional callback receiving the text); the
 * code then continues exactly as the kernel would. GPUVM_BUG() is for states
 * where continuing would corrupt memory: it prints and aborts. Neither depends
 * on NDEBUG, so checks stay active in release builds. Implementation: csrc/standin/bug.c.
 */
#ifndef PYGPUVM_LINUX_BUG_H
#define PYGPUVM_LINUX_BUG_H

#include <stdatomic.h>

#include "linux/types.h"

#if defined(__GNUC__)
#define GPUVM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define GPUVM_NORETURN __attribute__((noreturn))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#else
#define GPUVM_PRINTF(a, b)
#define GPUVM_NORETURN
#define likely(x) (x)
#define unlikely(x) (x)
#endif

typedef void (*gpuvm_warn_fn)(const char *file, int line, const char *msg, void *data);

/* Report one WARN: counts it and calls the hook with the formatted text. */
void gpuvm_warn(const char *file, int line, const char *fmt, ...) GPUVM_PRINTF(3, 4);
/* Number of WARNs reported by this process so far. */
unsigned long gpuvm_warn_count(void);
/* Install (or with NULL remove) the WARN callback; thread-safe. */
void gpuvm_set_warn_hook(gpuvm_warn_fn fn, void *data);

/*
 * Deferred WARNs (for bindings whose hook must not run while C holds locks,
 * e.g. a Python hook). While the queue is on (process-wide), WARNs are counted
 * and stored in a small queue of the thread raising them instead of reaching
 * the hook; that thread pops them once its C call has returned. A full queue drops further
 * messages and counts them. gpuvm_warn_nqueued: entries queued in all threads
 * (a cheap "anything to pop?" test; only gpuvm_warn_pop() tells this thread's).
 */
void gpuvm_warn_queue(bool on);
extern unsigned long gpuvm_warn_nqueued;
/*
 * Pop this thread's oldest queued WARN into @file/@line/@msg (@size bytes):
 * 1 if one was popped, 0 if none is queued. After the queued ones, dropped
 * messages are reported once as a single entry ("N more WARNs ...", line 0).
 */
int gpuvm_warn_pop(const char **file, int *line, char *msg, size_t size);

GPUVM_NORETURN void gpuvm_bug(const char *file, int line, const char *fmt, ...)
	GPUVM_PRINTF(3, 4);

/*
 * WARN(cond, fmt, ...) evaluates to cond (as 0/1), like the kernel's; a
 * statement expression (as there), so it is quiet when used as a statement.
 */
#define WARN(cond, ...)                                                  \
	__extension__({                                                  \
		int gpuvm_ret__ = !!(cond);                              \
		if (unlikely(gpuvm_ret__))                               \
			gpuvm_warn(__FILE__, __LINE__, __VA_ARGS__);     \
		gpuvm_ret__;                                             \
	})
#define WARN_ON(cond) WARN(cond, "WARN_ON(%s)", #cond)

/*
 * WARN_ONCE / WARN_ON_ONCE: report only the first time this call site fires
 * (per process), but evaluate to the condition every time, like the kernel's.
 */
#define WARN_ONCE(cond, ...)                                                     \
	__extension__({                                                          \
		static atomic_bool gpuvm_warned__;                               \
		int gpuvm_ret__ = !!(cond);                                      \
		if (unlikely(gpuvm_ret__) && !atomic_exchange(&gpuvm_warned__, 1)) \
			gpuvm_warn(__FILE__, __LINE__, __VA_ARGS__);             \
		gpuvm_ret__;                                                     \
	})
#define WARN_ON_ONCE(cond) WARN_ONCE(cond, "WARN_ON_ONCE(%s)", #cond)

/* Checks that must never fail; active in every build. */
#define GPUVM_BUG_ON(cond)                                               \
	do {                                                             \
		if (unlikely(cond))                                      \
			gpuvm_bug(__FILE__, __LINE__, "BUG_ON(%s)", #cond); \
	} while (0)

/* The kernel's names: print and abort (the kernel oopses). */
#define BUG() gpuvm_bug(__FILE__, __LINE__, "BUG()")
#define BUG_ON(cond) GPUVM_BUG_ON(cond)

/* Compile-time checks. */
#define BUILD_BUG_ON_MSG(cond, msg) _Static_assert(!(cond), msg)
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), "BUILD_BUG_ON(" #cond ")")

/*
 * Lock assertions (lockdep in the kernel). A failed assertion is reported as a
 * WARN carrying "lock not held" so tests and Python can see it; compiled out
 * only with -DGPUVM_NO_LOCK_CHECKS (benchmark builds).
 */
#ifdef GPUVM_NO_LOCK_CHECKS
#define gpuvm_lockdep_assert(held, what) ((void)0)
#else
#define gpuvm_lockdep_assert(held, what) \
	((void)WARN(!(held), "lock not held: %s", what))
#endif

#endif
