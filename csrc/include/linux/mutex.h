/* SPDX-License-Identifier: MIT */
/*
 * Sleeping locks that know their owner, so "held by me" assertions are real
 * checks (the kernel gets this from lockdep). Implementation: csrc/standin/mutex.c.
 */
#ifndef PYGPUVM_LINUX_MUTEX_H
#define PYGPUVM_LINUX_MUTEX_H

#include <pthread.h>
#include <stdatomic.h>

#include "linux/types.h"

/* A thread's identity: the address of a thread-local anchor, never NULL. */
uintptr_t gpuvm_current_thread(void);

struct mutex {
	pthread_mutex_t lock;
	_Atomic uintptr_t owner; /* gpuvm_current_thread() of the holder, 0 when free */
};

/* A statically initialised mutex, as the kernel's DEFINE_MUTEX(). */
#define DEFINE_MUTEX(name) struct mutex name = { PTHREAD_MUTEX_INITIALIZER, 0 }

void mutex_init(struct mutex *lock);
void mutex_destroy(struct mutex *lock);
void mutex_lock(struct mutex *lock);
/* Returns true if the lock was taken. */
bool mutex_trylock(struct mutex *lock);
void mutex_unlock(struct mutex *lock);
/*
 * Userspace has no signals to interrupt a sleeping lock with: the
 * interruptible and killable forms always take the lock and return 0.
 */
static inline int mutex_lock_interruptible(struct mutex *lock)
{
	mutex_lock(lock);
	return 0;
}
static inline int mutex_lock_killable(struct mutex *lock)
{
	mutex_lock(lock);
	return 0;
}
/* Lockdep nesting annotations carry no meaning here. */
#define mutex_lock_nested(lock, subclass) ((void)(subclass), mutex_lock(lock))
#define mutex_lock_interruptible_nested(lock, subclass) \
	((void)(subclass), mutex_lock_interruptible(lock))
bool mutex_is_locked(const struct mutex *lock);
bool mutex_held_by_me(const struct mutex *lock);

/* Spinlocks are plain mutexes in userspace (TSan understands them). */
typedef struct {
	struct mutex m;
} spinlock_t;

static inline void spin_lock_init(spinlock_t *lock) { mutex_init(&lock->m); }
static inline void spin_lock_destroy(spinlock_t *lock) { mutex_destroy(&lock->m); }
static inline void spin_lock(spinlock_t *lock) { mutex_lock(&lock->m); }
static inline void spin_unlock(spinlock_t *lock) { mutex_unlock(&lock->m); }
static inline bool spin_is_held_by_me(const spinlock_t *lock)
{
	return mutex_held_by_me(&lock->m);
}

#endif
