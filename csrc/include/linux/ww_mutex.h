/* SPDX-License-Identifier: MIT */
/*
 * Wound/wait-family mutex with acquire contexts, implemented as wait-die:
 * a context that already holds locks and finds one held by an OLDER context
 * backs off with -EDEADLK; everybody else waits. Each context gets a stamp
 * from its class (lower = older), so back-off never starves the oldest
 * transaction and no cycle of waiters can form. Implementation: csrc/standin/ww_mutex.c.
 */
#ifndef PYGPUVM_LINUX_WW_MUTEX_H
#define PYGPUVM_LINUX_WW_MUTEX_H

#include <pthread.h>
#include <stdatomic.h>

#include "linux/types.h"

struct ww_class {
	_Atomic u64 stamp; /* next acquire stamp: the only shared state of a class */
	const char *name;
};

#define WW_CLASS_INIT(n) { 1, (n) }

struct ww_acquire_ctx {
	struct ww_class *ww_class;
	u64 stamp;
	unsigned int acquired;   /* locks currently held through this context */
	uintptr_t thread;        /* gpuvm_current_thread() of the user */
	bool done;               /* ww_acquire_done(): no more locks may be taken */
	unsigned long deadlocks; /* -EDEADLK returns seen (statistics) */
};

struct ww_mutex {
	pthread_mutex_t wait_lock; /* protects owner/ctx and the condition */
	pthread_cond_t wait;
	_Atomic uintptr_t owner;          /* holder thread, 0 when free */
	struct ww_acquire_ctx *_Atomic ctx; /* holder's context, NULL if none */
	struct ww_class *ww_class;
};

void ww_mutex_init(struct ww_mutex *lock, struct ww_class *ww_class);
void ww_mutex_destroy(struct ww_mutex *lock);

void ww_acquire_init(struct ww_acquire_ctx *ctx, struct ww_class *ww_class);
void ww_acquire_done(struct ww_acquire_ctx *ctx);
void ww_acquire_fini(struct ww_acquire_ctx *ctx);

/*
 * 0 on success; -EALREADY if @ctx already holds @lock; -EDEADLK if @ctx must
 * back off (drop all its locks, then ww_mutex_lock_slow() this one).
 * @ctx may be NULL: plain blocking lock outside any transaction.
 */
int ww_mutex_lock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
int ww_mutex_lock_interruptible(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
/* Blocking lock after back-off; @ctx must hold no other lock. */
void ww_mutex_lock_slow(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
/* Returns true if taken. */
bool ww_mutex_trylock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
void ww_mutex_unlock(struct ww_mutex *lock);
bool ww_mutex_is_locked(const struct ww_mutex *lock);
bool ww_mutex_held_by_me(const struct ww_mutex *lock);

#endif
