// SPDX-License-Identifier: MIT
/*
 * dma_resv (linux/dma-resv.h): locking, fence-slot reservation (which lapses
 * at unlock), add/replace, usage-ordered queries, waiting, -ENOMEM on
 * reserve leaving everything as it was, and the WARN for adding without a
 * reservation.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "linux/bug.h"
#include "linux/dma-resv.h"
#include "linux/slab.h"

#define MSEC 1000000L

struct warn_log {
	unsigned int calls;
	bool lock_not_held;
	char last[256];
};

static void warn_hook(const char *file, int line, const char *msg, void *data)
{
	struct warn_log *log = data;

	(void)file;
	(void)line;
	snprintf(log->last, sizeof(log->last), "%s", msg);
	if (strstr(msg, "lock not held"))
		log->lock_not_held = true;
	log->calls++;
}

static bool test_lock(void)
{
	long live0 = gpuvm_alloc_live();
	struct ww_acquire_ctx ctx;
	struct dma_resv r;

	dma_resv_init(&r);
	ASSERT_TRUE(r.lock.ww_class == &reservation_ww_class);
	ASSERT_FALSE(dma_resv_is_locked(&r));
	ASSERT_FALSE(dma_resv_held(&r));
	ASSERT_EQ(dma_resv_lock(&r, NULL), 0);
	ASSERT_TRUE(dma_resv_held(&r));
	ASSERT_FALSE(dma_resv_trylock(&r));
	dma_resv_unlock(&r);

	ASSERT_TRUE(dma_resv_trylock(&r));
	dma_resv_unlock(&r);

	ww_acquire_init(&ctx, &reservation_ww_class);
	ASSERT_EQ(dma_resv_lock_interruptible(&r, &ctx), 0);
	ASSERT_EQ(dma_resv_lock(&r, &ctx), -EALREADY);
	dma_resv_unlock(&r);
	dma_resv_lock_slow(&r, &ctx);
	ASSERT_TRUE(dma_resv_held(&r));
	dma_resv_unlock(&r);
	ww_acquire_fini(&ctx);

	dma_resv_fini(&r);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_reserve_add_replace(void)
{
	long live0 = gpuvm_alloc_live();
	u64 ctx1 = dma_fence_context_alloc(2), ctx2 = ctx1 + 1;
	struct dma_fence *f1 = dma_fence_create(ctx1, 1);
	struct dma_fence *f1b = dma_fence_create(ctx1, 2);
	struct dma_fence *f2 = dma_fence_create(ctx2, 1);
	struct dma_fence *f3 = dma_fence_create(ctx2, 2);
	struct dma_resv r;

	ASSERT_NONNULL(f1);
	ASSERT_NONNULL(f1b);
	ASSERT_NONNULL(f2);
	ASSERT_NONNULL(f3);
	dma_resv_init(&r);
	ASSERT_EQ(dma_resv_lock(&r, NULL), 0);

	ASSERT_EQ(dma_resv_reserve_fences(&r, 2), 0);
	ASSERT_EQ(r.num_reserved, 2);
	ASSERT_TRUE(r.max_fences >= 2);
	/* Reservations do not add up: "room for N more", as the kernel. */
	ASSERT_EQ(dma_resv_reserve_fences(&r, 1), 0);
	ASSERT_EQ(r.num_reserved, 2);

	dma_resv_add_fence(&r, f1, DMA_RESV_USAGE_WRITE);
	ASSERT_EQ(r.num_fences, 1);
	ASSERT_EQ(r.num_reserved, 1);
	ASSERT_EQ(kref_read(&f1->refcount), 2); /* the resv holds a reference */

	/* Same context and usage: replaces, using no slot. */
	dma_resv_add_fence(&r, f1b, DMA_RESV_USAGE_WRITE);
	ASSERT_EQ(r.num_fences, 1);
	ASSERT_EQ(r.num_reserved, 1);
	ASSERT_TRUE(r.fences[0] == f1b);
	ASSERT_EQ(kref_read(&f1->refcount), 1);
	ASSERT_EQ(kref_read(&f1b->refcount), 2);

	/* Same context, different usage: a new slot. */
	dma_resv_add_fence(&r, f2, DMA_RESV_USAGE_BOOKKEEP);
	ASSERT_EQ(r.num_fences, 2);
	ASSERT_EQ(r.num_reserved, 0);

	/* Counts follow the usage order KERNEL < WRITE < READ < BOOKKEEP. */
	ASSERT_EQ(dma_resv_fence_count(&r, DMA_RESV_USAGE_KERNEL), 0);
	ASSERT_EQ(dma_resv_fence_count(&r, DMA_RESV_USAGE_WRITE), 1);
	ASSERT_EQ(dma_resv_fence_count(&r, DMA_RESV_USAGE_READ), 1);
	ASSERT_EQ(dma_resv_fence_count(&r, DMA_RESV_USAGE_BOOKKEEP), 2);
	ASSERT_FALSE(dma_resv_test_signaled(&r, DMA_RESV_USAGE_WRITE));
	ASSERT_TRUE(dma_resv_test_signaled(&r, DMA_RESV_USAGE_KERNEL));

	/* A signalled fence's slot is reused, even with no reservation left. */
	dma_fence_signal(f1b);
	ASSERT_TRUE(dma_resv_test_signaled(&r, DMA_RESV_USAGE_READ));
	ASSERT_FALSE(dma_resv_test_signaled(&r, DMA_RESV_USAGE_BOOKKEEP));
	dma_resv_add_fence(&r, f3, DMA_RESV_USAGE_READ);
	ASSERT_EQ(r.num_fences, 2);
	ASSERT_TRUE(r.fences[0] == f3);
	ASSERT_EQ(r.usages[0], DMA_RESV_USAGE_READ);
	ASSERT_EQ(kref_read(&f1b->refcount), 1);
	ASSERT_EQ(dma_resv_fence_count(&r, DMA_RESV_USAGE_WRITE), 0);
	ASSERT_EQ(dma_resv_fence_count(&r, DMA_RESV_USAGE_READ), 1);

	/* The reservation lapses at unlock. */
	ASSERT_EQ(dma_resv_reserve_fences(&r, 3), 0);
	dma_resv_unlock(&r);
	ASSERT_EQ(r.num_reserved, 0);

	/* Unlocked queries take the lock themselves. */
	ASSERT_EQ(dma_resv_fence_count(&r, DMA_RESV_USAGE_BOOKKEEP), 2);
	ASSERT_FALSE(dma_resv_is_locked(&r));

	/* fini drops the resv's references. */
	dma_resv_fini(&r);
	ASSERT_EQ(kref_read(&f2->refcount), 1);
	ASSERT_EQ(kref_read(&f3->refcount), 1);
	dma_fence_put(f1);
	dma_fence_put(f1b);
	dma_fence_put(f2);
	dma_fence_put(f3);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_grow_many(void)
{
	long live0 = gpuvm_alloc_live();
	u64 base = dma_fence_context_alloc(100);
	struct dma_resv r;
	unsigned int i;

	dma_resv_init(&r);
	ASSERT_EQ(dma_resv_lock(&r, NULL), 0);
	for (i = 0; i < 100; i++) {
		struct dma_fence *f = dma_fence_create(base + i, 1);

		ASSERT_NONNULL(f);
		ASSERT_EQ(dma_resv_reserve_fences(&r, 1), 0);
		dma_resv_add_fence(&r, f, DMA_RESV_USAGE_READ);
		dma_fence_put(f);
	}
	ASSERT_EQ(r.num_fences, 100);
	ASSERT_EQ(dma_resv_fence_count(&r, DMA_RESV_USAGE_READ), 100);
	dma_resv_unlock(&r);
	dma_resv_fini(&r);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Every allocation of a growing reserve fails once; nothing observable changes. */
static bool test_reserve_enomem(void)
{
	long live0 = gpuvm_alloc_live();
	struct dma_fence *f = dma_fence_create(dma_fence_context_alloc(1), 1);
	struct dma_resv r;
	unsigned int n;

	ASSERT_NONNULL(f);
	dma_resv_init(&r);
	ASSERT_EQ(dma_resv_lock(&r, NULL), 0);
	ASSERT_EQ(dma_resv_reserve_fences(&r, 1), 0);
	dma_resv_add_fence(&r, f, DMA_RESV_USAGE_WRITE);

	for (n = 1;; n++) {
		unsigned int max0 = r.max_fences, num0 = r.num_fences, res0 = r.num_reserved;
		unsigned long fails0 = gpuvm_alloc_failures();
		int ret;

		gpuvm_alloc_fail_nth(n);
		ret = dma_resv_reserve_fences(&r, 64);
		if (gpuvm_alloc_failures() == fails0) {
			gpuvm_alloc_fail_nth(0);
			ASSERT_EQ(ret, 0);
			ASSERT_TRUE(r.max_fences >= 65);
			ASSERT_EQ(r.num_reserved, 64);
			break;
		}
		ASSERT_EQ(ret, -ENOMEM);
		ASSERT_EQ(r.max_fences, max0);
		ASSERT_EQ(r.num_fences, num0);
		ASSERT_EQ(r.num_reserved, res0);
		ASSERT_TRUE(r.fences[0] == f);
		ASSERT_EQ(r.usages[0], DMA_RESV_USAGE_WRITE);
	}
	ASSERT_EQ(n, 3); /* two arrays: both failure points were exercised */

	dma_resv_unlock(&r);
	dma_resv_fini(&r);
	dma_fence_put(f);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_add_without_reservation_warns(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long warns0 = gpuvm_warn_count();
	struct dma_fence *f1 = dma_fence_create(dma_fence_context_alloc(1), 1);
	struct dma_fence *f2 = dma_fence_create(dma_fence_context_alloc(1), 1);
	struct warn_log log = { 0 };
	struct dma_resv r;

	ASSERT_NONNULL(f1);
	ASSERT_NONNULL(f2);
	gpuvm_set_warn_hook(warn_hook, &log);
	dma_resv_init(&r);

	ASSERT_EQ(dma_resv_lock(&r, NULL), 0);
	dma_resv_add_fence(&r, f1, DMA_RESV_USAGE_WRITE);
	ASSERT_EQ(log.calls, 1);
	ASSERT_NONNULL(strstr(log.last, "reserved"));
	ASSERT_EQ(r.num_fences, 0); /* not added */
	ASSERT_EQ(kref_read(&f1->refcount), 1);

	/* A reservation from an earlier lock section does not carry over. */
	ASSERT_EQ(dma_resv_reserve_fences(&r, 1), 0);
	dma_resv_unlock(&r);
	ASSERT_EQ(dma_resv_lock(&r, NULL), 0);
	dma_resv_add_fence(&r, f2, DMA_RESV_USAGE_WRITE);
	ASSERT_EQ(log.calls, 2);
	ASSERT_EQ(r.num_fences, 0);
	dma_resv_unlock(&r);
	ASSERT_FALSE(log.lock_not_held);

	/* Adding without holding the lock is a lock assertion. */
	dma_resv_add_fence(&r, f1, DMA_RESV_USAGE_WRITE);
	ASSERT_TRUE(log.calls >= 3);
	ASSERT_TRUE(log.lock_not_held);
	ASSERT_EQ(r.num_fences, 0);

	gpuvm_set_warn_hook(NULL, NULL);
	ASSERT_EQ(gpuvm_warn_count(), warns0 + log.calls);
	dma_resv_fini(&r);
	dma_fence_put(f1);
	dma_fence_put(f2);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

struct signaller {
	struct dma_fence *fence;
	struct dma_resv *resv;
	bool saw_unlocked;
};

static void *signal_later(void *arg)
{
	struct signaller *s = arg;
	struct timespec ts = { 0, 10 * MSEC };

	nanosleep(&ts, NULL);
	/* The waiter must not sit on the lock while waiting. */
	s->saw_unlocked = dma_resv_trylock(s->resv);
	if (s->saw_unlocked)
		dma_resv_unlock(s->resv);
	dma_fence_signal(s->fence);
	return NULL;
}

static bool test_wait(void)
{
	long live0 = gpuvm_alloc_live();
	struct dma_fence *w = dma_fence_create(dma_fence_context_alloc(1), 1);
	struct dma_fence *b = dma_fence_create(dma_fence_context_alloc(1), 1);
	struct signaller s;
	struct dma_resv r;
	pthread_t t;
	long ret;

	ASSERT_NONNULL(w);
	ASSERT_NONNULL(b);
	dma_resv_init(&r);

	/* Nothing to wait for. */
	ASSERT_EQ(dma_resv_wait_timeout(&r, DMA_RESV_USAGE_BOOKKEEP, false, 5 * MSEC),
		  5 * MSEC);

	ASSERT_EQ(dma_resv_lock(&r, NULL), 0);
	ASSERT_EQ(dma_resv_reserve_fences(&r, 2), 0);
	dma_resv_add_fence(&r, w, DMA_RESV_USAGE_WRITE);
	dma_resv_add_fence(&r, b, DMA_RESV_USAGE_BOOKKEEP);
	dma_resv_unlock(&r);

	/* Unsignalled: times out. */
	ASSERT_EQ(dma_resv_wait_timeout(&r, DMA_RESV_USAGE_WRITE, false, 5 * MSEC), 0);
	ASSERT_EQ(dma_resv_wait_timeout(&r, DMA_RESV_USAGE_READ, false, 0), 0);

	/* Woken by a signal from another thread; the lock stays free meanwhile. */
	s.fence = w;
	s.resv = &r;
	s.saw_unlocked = false;
	ASSERT_EQ(pthread_create(&t, NULL, signal_later, &s), 0);
	ret = dma_resv_wait_timeout(&r, DMA_RESV_USAGE_READ, true, 5000 * MSEC);
	pthread_join(t, NULL);
	ASSERT_TRUE(ret > 0 && ret < 5000 * MSEC);
	ASSERT_TRUE(s.saw_unlocked);

	/* READ does not see BOOKKEEP; BOOKKEEP still waits for b. */
	ASSERT_TRUE(dma_resv_test_signaled(&r, DMA_RESV_USAGE_READ));
	ASSERT_EQ(dma_resv_wait_timeout(&r, DMA_RESV_USAGE_BOOKKEEP, false, 1 * MSEC), 0);
	dma_fence_signal(b);
	ASSERT_EQ(dma_resv_wait_timeout(&r, DMA_RESV_USAGE_BOOKKEEP, false, 0), 1);
	ASSERT_EQ(dma_resv_wait_timeout(&r, DMA_RESV_USAGE_BOOKKEEP, false,
					MAX_SCHEDULE_TIMEOUT), MAX_SCHEDULE_TIMEOUT);

	/* Also callable with the lock held. */
	ASSERT_EQ(dma_resv_lock(&r, NULL), 0);
	ASSERT_TRUE(dma_resv_wait_timeout(&r, DMA_RESV_USAGE_BOOKKEEP, false, MSEC) > 0);
	ASSERT_TRUE(dma_resv_test_signaled(&r, DMA_RESV_USAGE_BOOKKEEP));
	ASSERT_TRUE(dma_resv_held(&r));
	dma_resv_unlock(&r);

	dma_resv_fini(&r);
	dma_fence_put(w);
	dma_fence_put(b);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	RUN(test_lock);
	RUN(test_reserve_add_replace);
	RUN(test_grow_many);
	RUN(test_reserve_enomem);
	RUN(test_add_without_reservation_warns);
	RUN(test_wait);
	return harness_done();
}
