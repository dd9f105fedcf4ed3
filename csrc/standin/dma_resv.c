/* SPDX-License-Identifier: MIT */
/*
 * Reservation objects (linux/dma-resv.h): a ww_mutex of the process-wide
 * reservation class plus fence slots.
 *
 * Reservations follow the kernel's debug builds: dma_resv_reserve_fences()
 * guarantees room for that many more fences while the lock is held, the
 * reservation lapses at unlock, and appending a fence without one is a WARN.
 */
#include <errno.h>
#include <limits.h>

#include "linux/dma-resv.h"
#include "linux/slab.h"

struct ww_class reservation_ww_class = WW_CLASS_INIT("reservation_ww_class");

void dma_resv_init(struct dma_resv *obj)
{
	ww_mutex_init(&obj->lock, &reservation_ww_class);
	obj->fences = NULL;
	obj->usages = NULL;
	obj->num_fences = 0;
	obj->num_reserved = 0;
	obj->max_fences = 0;
}

void dma_resv_fini(struct dma_resv *obj)
{
	unsigned int i;

	for (i = 0; i < obj->num_fences; i++)
		dma_fence_put(obj->fences[i]);
	kfree(obj->fences);
	kfree(obj->usages);
	obj->fences = NULL;
	obj->usages = NULL;
	obj->num_fences = 0;
	obj->num_reserved = 0;
	obj->max_fences = 0;
	ww_mutex_destroy(&obj->lock);
}

int dma_resv_lock(struct dma_resv *obj, struct ww_acquire_ctx *ctx)
{
	return ww_mutex_lock(&obj->lock, ctx);
}

int dma_resv_lock_interruptible(struct dma_resv *obj, struct ww_acquire_ctx *ctx)
{
	return ww_mutex_lock_interruptible(&obj->lock, ctx);
}

void dma_resv_lock_slow(struct dma_resv *obj, struct ww_acquire_ctx *ctx)
{
	ww_mutex_lock_slow(&obj->lock, ctx);
}

bool dma_resv_trylock(struct dma_resv *obj)
{
	return ww_mutex_trylock(&obj->lock, NULL);
}

void dma_resv_unlock(struct dma_resv *obj)
{
	/* Reservations are per critical section; the next holder starts afresh. */
	if (ww_mutex_held_by_me(&obj->lock))
		obj->num_reserved = 0;
	ww_mutex_unlock(&obj->lock);
}

bool dma_resv_is_locked(const struct dma_resv *obj)
{
	return ww_mutex_is_locked(&obj->lock);
}

bool dma_resv_held(const struct dma_resv *obj)
{
	return ww_mutex_held_by_me(&obj->lock);
}

int dma_resv_reserve_fences(struct dma_resv *obj, unsigned int num_fences)
{
	unsigned long long need = (unsigned long long)obj->num_fences + num_fences;
	struct dma_fence **fences;
	enum dma_resv_usage *usages;
	unsigned int new_max;

	dma_resv_assert_held(obj);

	/*
	 * As in the kernel: asking for no room at all is a miscount in the
	 * caller (drm_exec_prepare_obj(), drm_gpuvm_sm_map_exec_lock(), ...).
	 */
	if (WARN_ON(!num_fences))
		return -EINVAL;

	/* Like the kernel: capacity for num_fences more, not a running sum. */
	if (need > obj->max_fences) {
		if (need > UINT_MAX / 2 || need > SIZE_MAX / sizeof(*fences) / 2)
			return -ENOMEM;
		/* Geometric growth keeps repeated reserve(1) amortised O(1). */
		new_max = (unsigned int)need;
		if (new_max < obj->max_fences * 2)
			new_max = obj->max_fences * 2;
		if (new_max < 4)
			new_max = 4;
		fences = krealloc(obj->fences, new_max * sizeof(*fences), GFP_KERNEL);
		if (!fences)
			return -ENOMEM;
		/* From here the fences array is bigger; harmless if usages fails. */
		obj->fences = fences;
		usages = krealloc(obj->usages, new_max * sizeof(*usages), GFP_KERNEL);
		if (!usages)
			return -ENOMEM;
		obj->usages = usages;
		obj->max_fences = new_max;
	}
	if (num_fences > obj->num_reserved)
		obj->num_reserved = num_fences;
	return 0;
}

void dma_resv_add_fence(struct dma_resv *obj, struct dma_fence *fence,
			enum dma_resv_usage usage)
{
	unsigned int i;

	dma_resv_assert_held(obj);
	if (WARN_ON(!fence))
		return;

	/*
	 * A later fence of the same timeline and usage supersedes the old
	 * one, and a signalled fence is dead weight: reuse either slot.
	 */
	for (i = 0; i < obj->num_fences; i++) {
		struct dma_fence *old = obj->fences[i];

		if ((old->context == fence->context && obj->usages[i] == usage) ||
		    dma_fence_is_signaled(old)) {
			obj->fences[i] = dma_fence_get(fence);
			obj->usages[i] = usage;
			dma_fence_put(old);
			return;
		}
	}

	if (WARN(obj->num_reserved == 0 || obj->num_fences >= obj->max_fences,
		 "dma_resv_add_fence without a reserved fence slot"))
		return;
	obj->fences[obj->num_fences] = dma_fence_get(fence);
	obj->usages[obj->num_fences] = usage;
	obj->num_fences++;
	obj->num_reserved--;
}

/* Take the lock for a reader that does not hold it; returns true if taken. */
static bool dma_resv_lock_for_read(struct dma_resv *obj)
{
	int ret;

	if (dma_resv_held(obj))
		return false;
	ret = dma_resv_lock(obj, NULL);
	GPUVM_BUG_ON(ret != 0);
	return true;
}

unsigned int dma_resv_fence_count(struct dma_resv *obj, enum dma_resv_usage usage)
{
	bool locked = dma_resv_lock_for_read(obj);
	unsigned int i, count = 0;

	for (i = 0; i < obj->num_fences; i++)
		if (obj->usages[i] <= usage)
			count++;
	if (locked)
		dma_resv_unlock(obj);
	return count;
}

bool dma_resv_test_signaled(struct dma_resv *obj, enum dma_resv_usage usage)
{
	bool locked = dma_resv_lock_for_read(obj);
	bool signaled = true;
	unsigned int i;

	for (i = 0; i < obj->num_fences && signaled; i++)
		if (obj->usages[i] <= usage && !dma_fence_is_signaled(obj->fences[i]))
			signaled = false;
	if (locked)
		dma_resv_unlock(obj);
	return signaled;
}

long dma_resv_wait_timeout(struct dma_resv *obj, enum dma_resv_usage usage, bool intr,
			   long timeout_ns)
{
	struct dma_fence *fence;
	long ret = timeout_ns ? timeout_ns : 1;
	bool locked;
	unsigned int i;

	if (WARN(timeout_ns < 0, "dma_resv_wait_timeout with negative timeout %ld", timeout_ns))
		return -EINVAL;
	/*
	 * One unsignalled fence at a time, referenced under the lock and waited
	 * for without it, so the signaller (which may need this lock) can run.
	 * No allocation: a snapshot array would be the only other way.
	 */
	for (;;) {
		fence = NULL;
		locked = dma_resv_lock_for_read(obj);
		for (i = 0; i < obj->num_fences; i++) {
			if (obj->usages[i] <= usage && !dma_fence_is_signaled(obj->fences[i])) {
				fence = dma_fence_get(obj->fences[i]);
				break;
			}
		}
		if (locked)
			dma_resv_unlock(obj);
		if (!fence)
			return ret;
		ret = dma_fence_wait_timeout(fence, intr, timeout_ns);
		dma_fence_put(fence);
		if (ret <= 0)
			return ret;
		if (timeout_ns != MAX_SCHEDULE_TIMEOUT)
			timeout_ns = ret;
	}
}
