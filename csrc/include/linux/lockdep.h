/* SPDX-License-Identifier: MIT */
/*
 * Lock assertions with the kernel's names. Where the kernel's lockdep tracks
 * every lock class, these check the one thing a userspace lock can tell:
 * whether the calling thread holds it. They work on struct mutex,
 * struct ww_mutex, struct dma_resv and spinlock_t (chosen with _Generic);
 * a failed assertion is a WARN carrying "lock not held" (linux/bug.h).
 * -DGPUVM_NO_LOCK_CHECKS compiles them out.
 */
#ifndef PYGPUVM_LINUX_LOCKDEP_H
#define PYGPUVM_LINUX_LOCKDEP_H

#include "linux/bug.h"
#include "linux/dma-resv.h"
#include "linux/mutex.h"
#include "linux/ww_mutex.h"

static inline bool gpuvm_spin_held__(const spinlock_t *lock)
{
	return spin_is_held_by_me(lock);
}

static inline bool gpuvm_resv_held__(const struct dma_resv *obj)
{
	return dma_resv_held(obj);
}

/* True if the calling thread holds @l. */
#define lockdep_is_held(l)                                          \
	_Generic((l),                                               \
		struct mutex *: mutex_held_by_me,                   \
		const struct mutex *: mutex_held_by_me,             \
		struct ww_mutex *: ww_mutex_held_by_me,             \
		const struct ww_mutex *: ww_mutex_held_by_me,       \
		struct dma_resv *: gpuvm_resv_held__,               \
		const struct dma_resv *: gpuvm_resv_held__,         \
		spinlock_t *: gpuvm_spin_held__,                    \
		const spinlock_t *: gpuvm_spin_held__)(l)

#define lockdep_assert(cond) gpuvm_lockdep_assert(cond, #cond)
#define lockdep_assert_held(l) gpuvm_lockdep_assert(lockdep_is_held(l), #l)
/* No reader/writer distinction for these lock types: same check. */
#define lockdep_assert_held_write(l) lockdep_assert_held(l)
#define lockdep_assert_held_read(l) lockdep_assert_held(l)
#define lockdep_assert_held_once(l) lockdep_assert_held(l)
#ifdef GPUVM_NO_LOCK_CHECKS
#define lockdep_assert_not_held(l) ((void)0)
#else
#define lockdep_assert_not_held(l) \
	((void)WARN(lockdep_is_held(l), "lock held: %s", #l))
#endif

/* Annotations without a userspace meaning. */
#define might_lock(l) ((void)(l))
#define might_lock_nested(l, subclass) ((void)(l), (void)(subclass))
#define might_sleep() ((void)0)
#define might_fault() ((void)0)
#define lockdep_set_class(l, key) ((void)(l), (void)(key))

#endif
