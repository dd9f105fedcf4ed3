/* SPDX-License-Identifier: MIT */
/*
 * Owner-tracking mutexes (linux/mutex.h). The owner is published after the
 * pthread lock is taken and cleared before it is released, so a thread that
 * reads its own identity there really holds the lock; other threads only get
 * a racy-but-atomic hint, which is all mutex_is_locked() promises.
 */
#include "linux/bug.h"
#include "linux/mutex.h"

static _Thread_local char thread_anchor;

uintptr_t gpuvm_current_thread(void)
{
	return (uintptr_t)&thread_anchor;
}

void mutex_init(struct mutex *lock)
{
	int ret = pthread_mutex_init(&lock->lock, NULL);

	GPUVM_BUG_ON(ret != 0);
	atomic_init(&lock->owner, 0);
}

void mutex_destroy(struct mutex *lock)
{
	if (atomic_load_explicit(&lock->owner, memory_order_relaxed) != 0)
		gpuvm_bug(__FILE__, __LINE__, "mutex %p destroyed while locked", (void *)lock);
	pthread_mutex_destroy(&lock->lock);
}

void mutex_lock(struct mutex *lock)
{
	uintptr_t me = gpuvm_current_thread();

	/* A default pthread mutex would deadlock silently on recursion. */
	if (atomic_load_explicit(&lock->owner, memory_order_relaxed) == me)
		gpuvm_bug(__FILE__, __LINE__, "recursive mutex_lock of %p", (void *)lock);
	pthread_mutex_lock(&lock->lock);
	atomic_store_explicit(&lock->owner, me, memory_order_relaxed);
}

bool mutex_trylock(struct mutex *lock)
{
	if (pthread_mutex_trylock(&lock->lock) != 0)
		return false;
	atomic_store_explicit(&lock->owner, gpuvm_current_thread(), memory_order_relaxed);
	return true;
}

void mutex_unlock(struct mutex *lock)
{
	if (atomic_load_explicit(&lock->owner, memory_order_relaxed) != gpuvm_current_thread())
		gpuvm_bug(__FILE__, __LINE__, "mutex_unlock of %p not held by this thread",
			  (void *)lock);
	atomic_store_explicit(&lock->owner, 0, memory_order_relaxed);
	pthread_mutex_unlock(&lock->lock);
}

bool mutex_is_locked(const struct mutex *lock)
{
	return atomic_load_explicit((_Atomic uintptr_t *)&lock->owner,
				    memory_order_relaxed) != 0;
}

bool mutex_held_by_me(const struct mutex *lock)
{
	return atomic_load_explicit((_Atomic uintptr_t *)&lock->owner,
				    memory_order_relaxed) == gpuvm_current_thread();
}
