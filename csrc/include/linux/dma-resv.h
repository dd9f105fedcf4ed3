/* SPDX-License-Identifier: MIT */
/*
 * Reservation objects: a ww_mutex plus fence slots. Fences are added under the
 * lock into slots reserved beforehand (dma_resv_reserve_fences); reservations
 * lapse at unlock, so adding without a reservation is caught (WARN), as with
 * the kernel's debug builds. Implementation: csrc/standin/dma_resv.c.
 */
#ifndef PYGPUVM_LINUX_DMA_RESV_H
#define PYGPUVM_LINUX_DMA_RESV_H

#include "linux/bug.h"
#include "linux/dma-fence.h"
#include "linux/ww_mutex.h"

/* Ordered: a query for usage U sees every fence whose usage is <= U. */
enum dma_resv_usage {
	DMA_RESV_USAGE_KERNEL,
	DMA_RESV_USAGE_WRITE,
	DMA_RESV_USAGE_READ,
	DMA_RESV_USAGE_BOOKKEEP,
};

/* The one process-wide class all reservation locks belong to. */
extern struct ww_class reservation_ww_class;

struct dma_resv {
	struct ww_mutex lock;
	struct dma_fence **fences;     /* slots [0, num_fences) are used */
	enum dma_resv_usage *usages;   /* usage of each fence */
	unsigned int num_fences;
	unsigned int num_reserved;     /* free slots reserved under the current lock */
	unsigned int max_fences;       /* allocated slots */
};

void dma_resv_init(struct dma_resv *obj);
/* Drops every fence reference and frees the slot arrays. */
void dma_resv_fini(struct dma_resv *obj);

int dma_resv_lock(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
int dma_resv_lock_interruptible(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
void dma_resv_lock_slow(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
bool dma_resv_trylock(struct dma_resv *obj);
void dma_resv_unlock(struct dma_resv *obj);
bool dma_resv_is_locked(const struct dma_resv *obj);
/* True if the calling thread holds @obj (lockdep_is_held in the kernel). */
bool dma_resv_held(const struct dma_resv *obj);
#define dma_resv_assert_held(obj) gpuvm_lockdep_assert(dma_resv_held(obj), "dma_resv")

/* Make room for @num_fences more fences; caller holds the lock. 0 or -ENOMEM. */
int dma_resv_reserve_fences(struct dma_resv *obj, unsigned int num_fences);
/*
 * Add @fence (takes a reference) with @usage; caller holds the lock and has a
 * reserved slot. A fence from the same context and usage, or an already
 * signalled one, is replaced instead of using a new slot.
 */
void dma_resv_add_fence(struct dma_resv *obj, struct dma_fence *fence,
			enum dma_resv_usage usage);
/* Number of fences visible for @usage (no lock needed for a snapshot count). */
unsigned int dma_resv_fence_count(struct dma_resv *obj, enum dma_resv_usage usage);
/* True if every fence visible for @usage is signalled. */
bool dma_resv_test_signaled(struct dma_resv *obj, enum dma_resv_usage usage);
/* Wait for every fence visible for @usage; remaining time (>= 1) or 0 on timeout. */
long dma_resv_wait_timeout(struct dma_resv *obj, enum dma_resv_usage usage, bool intr,
			   long timeout_ns);

#endif
