/* SPDX-License-Identifier: MIT */
/*
 * Wait-die ww_mutex (linux/ww_mutex.h).
 *
 * A context that holds locks and finds the wanted lock held by an OLDER
 * context (lower stamp) gives up with -EDEADLK; in every other case it waits.
 * So a lock-holding context only ever waits for a younger one, the wait-for
 * graph is ordered by stamp and cannot contain a cycle, and the oldest
 * transaction always makes progress. Waiters re-check after every wake-up,
 * because the lock may have passed to an older context meanwhile.
 */
#include <errno.h>

#include "linux/bug.h"
#include "linux/mutex.h"
#include "linux/ww_mutex.h"

void ww_mutex_init(struct ww_mutex *lock, struct ww_class *ww_class)
{
	GPUVM_BUG_ON(pthread_mutex_init(&lock->wait_lock, NULL) != 0);
	GPUVM_BUG_ON(pthread_cond_init(&lock->wait, NULL) != 0);
	atomic_init(&lock->owner, 0);
	atomic_init(&lock->ctx, NULL);
	lock->ww_class = ww_class;
}

void ww_mutex_destroy(struct ww_mutex *lock)
{
	if (atomic_load_explicit(&lock->owner, memory_order_relaxed) != 0)
		gpuvm_bug(__FILE__, __LINE__, "ww_mutex %p destroyed while locked",
			  (void *)lock);
	pthread_cond_destroy(&lock->wait);
	pthread_mutex_destroy(&lock->wait_lock);
}

void ww_acquire_init(struct ww_acquire_ctx *ctx, struct ww_class *ww_class)
{
	ctx->ww_class = ww_class;
	ctx->stamp = atomic_fetch_add_explicit(&ww_class->stamp, 1, memory_order_relaxed);
	ctx->acquired = 0;
	ctx->thread = gpuvm_current_thread();
	ctx->done = false;
	ctx->deadlocks = 0;
}

void ww_acquire_done(struct ww_acquire_ctx *ctx)
{
	WARN(ctx->thread != gpuvm_current_thread(),
	     "ww_acquire_done from another thread than the context's");
	ctx->done = true;
}

void ww_acquire_fini(struct ww_acquire_ctx *ctx)
{
	WARN(ctx->acquired != 0, "ww_acquire_fini with %u locks still held", ctx->acquired);
}

/* Caller holds wait_lock and saw the lock free. */
static void ww_mutex_take(struct ww_mutex *lock, struct ww_acquire_ctx *ctx, uintptr_t me)
{
	atomic_store_explicit(&lock->owner, me, memory_order_relaxed);
	atomic_store_explicit(&lock->ctx, ctx, memory_order_relaxed);
	if (ctx)
		ctx->acquired++;
}

/* Checks shared by every ctx-based entry point; only WARN, like lockdep. */
static void ww_ctx_check(struct ww_mutex *lock, struct ww_acquire_ctx *ctx, uintptr_t me)
{
	if (!ctx)
		return;
	WARN(ctx->done, "ww_mutex lock through an acquire context after ww_acquire_done");
	WARN(ctx->thread != me, "ww_acquire_ctx used by another thread than its owner");
	WARN(ctx->ww_class != lock->ww_class, "ww_mutex of class %s locked with ctx of class %s",
	     lock->ww_class ? lock->ww_class->name : "(null)",
	     ctx->ww_class ? ctx->ww_class->name : "(null)");
}

/* @may_die: false for the slow path, which waits unconditionally. */
static int ww_mutex_lock_common(struct ww_mutex *lock, struct ww_acquire_ctx *ctx,
				bool may_die)
{
	uintptr_t me = gpuvm_current_thread();
	int ret = 0;

	ww_ctx_check(lock, ctx, me);

	pthread_mutex_lock(&lock->wait_lock);
	for (;;) {
		uintptr_t owner = atomic_load_explicit(&lock->owner, memory_order_relaxed);
		struct ww_acquire_ctx *holder;

		if (owner == 0) {
			ww_mutex_take(lock, ctx, me);
			break;
		}
		holder = atomic_load_explicit(&lock->ctx, memory_order_relaxed);
		if (ctx && holder == ctx) {
			ret = -EALREADY;
			break;
		}
		if (owner == me) {
			/* Waiting for ourselves would hang forever: report instead. */
			WARN(1, "recursive ww_mutex lock of %p", (void *)lock);
			ret = -EDEADLK;
			if (ctx)
				ctx->deadlocks++;
			break;
		}
		/*
		 * holder->stamp is stable while holder holds the lock, and we read
		 * it under the wait_lock it took the lock with.
		 */
		if (may_die && ctx && ctx->acquired > 0 && holder &&
		    holder->stamp < ctx->stamp) {
			ctx->deadlocks++;
			ret = -EDEADLK;
			break;
		}
		pthread_cond_wait(&lock->wait, &lock->wait_lock);
	}
	pthread_mutex_unlock(&lock->wait_lock);
	return ret;
}

int ww_mutex_lock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	return ww_mutex_lock_common(lock, ctx, true);
}

/* Userspace has no signals to interrupt the wait: same as ww_mutex_lock(). */
int ww_mutex_lock_interruptible(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	return ww_mutex_lock_common(lock, ctx, true);
}

void ww_mutex_lock_slow(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	int ret;

	/* Waiting while holding other locks could deadlock: that is what dying avoids. */
	if (ctx)
		WARN(ctx->acquired != 0,
		     "ww_mutex_lock_slow with %u other locks held", ctx->acquired);
	ret = ww_mutex_lock_common(lock, ctx, false);
	/* The kernel's slow path cannot fail: a duplicate is a caller bug (recursion warned already). */
	WARN(ret == -EALREADY, "ww_mutex_lock_slow on a lock the context already holds");
}

bool ww_mutex_trylock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	uintptr_t me = gpuvm_current_thread();
	bool taken = false;

	ww_ctx_check(lock, ctx, me);
	pthread_mutex_lock(&lock->wait_lock);
	if (atomic_load_explicit(&lock->owner, memory_order_relaxed) == 0) {
		ww_mutex_take(lock, ctx, me);
		taken = true;
	}
	pthread_mutex_unlock(&lock->wait_lock);
	return taken;
}

void ww_mutex_unlock(struct ww_mutex *lock)
{
	struct ww_acquire_ctx *ctx;

	pthread_mutex_lock(&lock->wait_lock);
	if (atomic_load_explicit(&lock->owner, memory_order_relaxed) != gpuvm_current_thread()) {
		pthread_mutex_unlock(&lock->wait_lock);
		gpuvm_bug(__FILE__, __LINE__, "ww_mutex_unlock of %p not held by this thread",
			  (void *)lock);
	}
	ctx = atomic_load_explicit(&lock->ctx, memory_order_relaxed);
	if (ctx)
		ctx->acquired--;
	atomic_store_explicit(&lock->ctx, NULL, memory_order_relaxed);
	atomic_store_explicit(&lock->owner, 0, memory_order_relaxed);
	/* Every waiter must re-evaluate: each decides for itself to take, wait or die. */
	pthread_cond_broadcast(&lock->wait);
	pthread_mutex_unlock(&lock->wait_lock);
}

bool ww_mutex_is_locked(const struct ww_mutex *lock)
{
	return atomic_load_explicit((_Atomic uintptr_t *)&lock->owner,
				    memory_order_relaxed) != 0;
}

bool ww_mutex_held_by_me(const struct ww_mutex *lock)
{
	return atomic_load_explicit((_Atomic uintptr_t *)&lock->owner,
				    memory_order_relaxed) == gpuvm_current_thread();
}
