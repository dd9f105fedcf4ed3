/* SPDX-License-Identifier: MIT */
/* Refcounted completion fences with callbacks. Implementation: csrc/standin/dma_fence.c. */
#ifndef PYGPUVM_LINUX_DMA_FENCE_H
#define PYGPUVM_LINUX_DMA_FENCE_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "linux/kref.h"
#include "linux/list.h"
#include "linux/types.h"

#define MAX_SCHEDULE_TIMEOUT LONG_MAX

struct dma_fence;
struct dma_fence_cb;
typedef void (*dma_fence_func_t)(struct dma_fence *fence, struct dma_fence_cb *cb);

struct dma_fence_cb {
	struct list_head node;
	dma_fence_func_t func;
};

struct dma_fence {
	struct kref refcount;
	pthread_mutex_t lock; /* protects cb_list and the wait condition */
	pthread_cond_t signaled_cond;
	u64 context;
	u64 seqno;
	atomic_bool signaled;
	int error;
	struct list_head cb_list;
};

/* A new fence with one reference; NULL on -ENOMEM. */
struct dma_fence *dma_fence_create(u64 context, u64 seqno);
/* Allocate @num consecutive fence contexts (process-wide atomic counter). */
u64 dma_fence_context_alloc(unsigned int num);
struct dma_fence *dma_fence_get(struct dma_fence *fence);
void dma_fence_put(struct dma_fence *fence);
/* 0, or -EINVAL if it was already signalled. Runs the callbacks. */
int dma_fence_signal(struct dma_fence *fence);
bool dma_fence_is_signaled(struct dma_fence *fence);
void dma_fence_set_error(struct dma_fence *fence, int error);
/*
 * Wait up to @timeout_ns nanoseconds (MAX_SCHEDULE_TIMEOUT: forever). Returns
 * the remaining time (at least 1) if signalled, 0 on timeout.
 */
long dma_fence_wait_timeout(struct dma_fence *fence, bool intr, long timeout_ns);
/* 0, or -ENOENT if already signalled (the callback is then not installed). */
int dma_fence_add_callback(struct dma_fence *fence, struct dma_fence_cb *cb,
			   dma_fence_func_t func);
/* True if @cb was still pending and is now removed. */
bool dma_fence_remove_callback(struct dma_fence *fence, struct dma_fence_cb *cb);

#endif
