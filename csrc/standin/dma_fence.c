/* SPDX-License-Identifier: MIT */
/*
 * Userspace dma_fence (linux/dma-fence.h): a refcounted one-shot completion
 * with a condition variable for waiters and a callback list for observers.
 */
#include <errno.h>
#include <time.h>

#include "linux/bug.h"
#include "linux/dma-fence.h"
#include "linux/slab.h"

#define NSEC_PER_SEC 1000000000LL

/* Process-wide, like the kernel's: contexts must be unique across all users. */
static _Atomic u64 fence_context_counter = 1;

u64 dma_fence_context_alloc(unsigned int num)
{
	WARN_ON(num == 0);
	return atomic_fetch_add_explicit(&fence_context_counter, num, memory_order_relaxed);
}

struct dma_fence *dma_fence_create(u64 context, u64 seqno)
{
	struct dma_fence *fence = kzalloc(sizeof(*fence), GFP_KERNEL);
	pthread_condattr_t attr;

	if (!fence)
		return NULL;
	kref_init(&fence->refcount);
	GPUVM_BUG_ON(pthread_mutex_init(&fence->lock, NULL) != 0);
	/* Monotonic: a wall-clock jump must not shorten or stretch a timeout. */
	GPUVM_BUG_ON(pthread_condattr_init(&attr) != 0);
	GPUVM_BUG_ON(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0);
	GPUVM_BUG_ON(pthread_cond_init(&fence->signaled_cond, &attr) != 0);
	pthread_condattr_destroy(&attr);
	fence->context = context;
	fence->seqno = seqno;
	atomic_init(&fence->signaled, false);
	fence->error = 0;
	INIT_LIST_HEAD(&fence->cb_list);
	return fence;
}

struct dma_fence *dma_fence_get(struct dma_fence *fence)
{
	if (fence)
		kref_get(&fence->refcount);
	return fence;
}

static void dma_fence_release(struct kref *kref)
{
	struct dma_fence *fence = container_of(kref, struct dma_fence, refcount);

	/* A pending callback would never run and its owner would wait forever. */
	WARN(!list_empty(&fence->cb_list), "dma_fence %p freed with pending callbacks",
	     (void *)fence);
	pthread_cond_destroy(&fence->signaled_cond);
	pthread_mutex_destroy(&fence->lock);
	kfree(fence);
}

void dma_fence_put(struct dma_fence *fence)
{
	if (fence)
		kref_put(&fence->refcount, dma_fence_release);
}

int dma_fence_signal(struct dma_fence *fence)
{
	struct list_head cbs;
	struct dma_fence_cb *cb;

	if (!fence)
		return -EINVAL;

	pthread_mutex_lock(&fence->lock);
	if (atomic_load_explicit(&fence->signaled, memory_order_relaxed)) {
		pthread_mutex_unlock(&fence->lock);
		return -EINVAL;
	}
	atomic_store_explicit(&fence->signaled, true, memory_order_release);
	pthread_cond_broadcast(&fence->signaled_cond);
	/*
	 * Run each callback once, without the lock (it may take other locks or
	 * drop the last fence reference it holds elsewhere). The detached list
	 * is still only touched under the lock, so a concurrent
	 * dma_fence_remove_callback() can take a not-yet-run callback out of it.
	 */
	INIT_LIST_HEAD(&cbs);
	list_splice_init(&fence->cb_list, &cbs);
	while (!list_empty(&cbs)) {
		cb = list_first_entry(&cbs, struct dma_fence_cb, node);
		list_del_init(&cb->node);
		pthread_mutex_unlock(&fence->lock);
		cb->func(fence, cb);
		pthread_mutex_lock(&fence->lock);
	}
	pthread_mutex_unlock(&fence->lock);
	return 0;
}

bool dma_fence_is_signaled(struct dma_fence *fence)
{
	return atomic_load_explicit(&fence->signaled, memory_order_acquire);
}

void dma_fence_set_error(struct dma_fence *fence, int error)
{
	pthread_mutex_lock(&fence->lock);
	WARN(atomic_load_explicit(&fence->signaled, memory_order_relaxed),
	     "dma_fence_set_error on a signalled fence");
	WARN(error >= 0, "dma_fence_set_error with non-negative error %d", error);
	fence->error = error;
	pthread_mutex_unlock(&fence->lock);
}

static long long mono_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

long dma_fence_wait_timeout(struct dma_fence *fence, bool intr, long timeout_ns)
{
	long long deadline, now;
	struct timespec ts;
	long remaining;

	GPUVM_UNUSED(intr);
	if (timeout_ns < 0) {
		WARN(1, "dma_fence_wait_timeout with negative timeout %ld", timeout_ns);
		return -EINVAL;
	}
	if (dma_fence_is_signaled(fence))
		return timeout_ns ? timeout_ns : 1;
	if (timeout_ns == 0)
		return 0;

	pthread_mutex_lock(&fence->lock);
	if (timeout_ns == MAX_SCHEDULE_TIMEOUT) {
		while (!atomic_load_explicit(&fence->signaled, memory_order_relaxed))
			pthread_cond_wait(&fence->signaled_cond, &fence->lock);
		pthread_mutex_unlock(&fence->lock);
		return MAX_SCHEDULE_TIMEOUT;
	}

	now = mono_now_ns();
	deadline = now + timeout_ns;
	ts.tv_sec = (time_t)(deadline / NSEC_PER_SEC);
	ts.tv_nsec = (long)(deadline % NSEC_PER_SEC);
	while (!atomic_load_explicit(&fence->signaled, memory_order_relaxed)) {
		if (pthread_cond_timedwait(&fence->signaled_cond, &fence->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	if (!atomic_load_explicit(&fence->signaled, memory_order_relaxed)) {
		pthread_mutex_unlock(&fence->lock);
		return 0;
	}
	pthread_mutex_unlock(&fence->lock);
	remaining = (long)(deadline - mono_now_ns());
	/* Signalled just at the deadline still counts as signalled. */
	return remaining > 0 ? remaining : 1;
}

int dma_fence_add_callback(struct dma_fence *fence, struct dma_fence_cb *cb,
			   dma_fence_func_t func)
{
	int ret = 0;

	pthread_mutex_lock(&fence->lock);
	if (atomic_load_explicit(&fence->signaled, memory_order_relaxed)) {
		INIT_LIST_HEAD(&cb->node);
		ret = -ENOENT;
	} else {
		cb->func = func;
		list_add_tail(&cb->node, &fence->cb_list);
	}
	pthread_mutex_unlock(&fence->lock);
	return ret;
}

bool dma_fence_remove_callback(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	bool pending;

	pthread_mutex_lock(&fence->lock);
	/* signal() re-initialises each node it detaches, so empty means "not pending". */
	pending = !list_empty(&cb->node);
	if (pending)
		list_del_init(&cb->node);
	pthread_mutex_unlock(&fence->lock);
	return pending;
}
