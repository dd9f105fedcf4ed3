// SPDX-License-Identifier: MIT
/*
 * dma_fence (linux/dma-fence.h): contexts, signalling, waiting with and
 * without timeout, callbacks (run once, removable while pending).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "linux/bug.h"
#include "linux/dma-fence.h"
#include "linux/slab.h"

#define MSEC 1000000L

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };

	nanosleep(&ts, NULL);
}

static bool test_context_alloc(void)
{
	u64 a = dma_fence_context_alloc(1);
	u64 b = dma_fence_context_alloc(3);
	u64 c = dma_fence_context_alloc(1);

	ASSERT_NE(a, 0);
	ASSERT_EQ(b, a + 1);  /* consecutive, process-wide */
	ASSERT_EQ(c, b + 3);
	return true;
}

static bool test_signal(void)
{
	long live0 = gpuvm_alloc_live();
	struct dma_fence *f = dma_fence_create(dma_fence_context_alloc(1), 7);

	ASSERT_NONNULL(f);
	ASSERT_EQ(f->seqno, 7);
	ASSERT_EQ(kref_read(&f->refcount), 1);
	ASSERT_FALSE(dma_fence_is_signaled(f));
	dma_fence_set_error(f, -EIO);
	ASSERT_EQ(f->error, -EIO);
	ASSERT_EQ(dma_fence_signal(f), 0);
	ASSERT_TRUE(dma_fence_is_signaled(f));
	/* Signalling is one-shot. */
	ASSERT_EQ(dma_fence_signal(f), -EINVAL);
	ASSERT_TRUE(dma_fence_is_signaled(f));

	ASSERT_TRUE(dma_fence_get(f) == f);
	ASSERT_EQ(kref_read(&f->refcount), 2);
	dma_fence_put(f);
	dma_fence_put(f);
	dma_fence_put(NULL);
	ASSERT_NULL(dma_fence_get(NULL));
	ASSERT_EQ(gpuvm_alloc_live(), live0);

	gpuvm_alloc_fail_nth(1);
	ASSERT_NULL(dma_fence_create(1, 1));
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_wait(void)
{
	long live0 = gpuvm_alloc_live();
	struct dma_fence *f = dma_fence_create(dma_fence_context_alloc(1), 1);
	long long t0, elapsed;
	long ret;

	ASSERT_NONNULL(f);
	/* Zero timeout: a poll. */
	ASSERT_EQ(dma_fence_wait_timeout(f, false, 0), 0);

	/* Times out after (at least) the timeout, returning 0. */
	t0 = now_ns();
	ret = dma_fence_wait_timeout(f, true, 20 * MSEC);
	elapsed = now_ns() - t0;
	ASSERT_EQ(ret, 0);
	ASSERT_TRUE(elapsed >= 20 * MSEC);

	dma_fence_signal(f);
	/* Signalled: remaining time, at least 1, even for a zero timeout. */
	ret = dma_fence_wait_timeout(f, false, 20 * MSEC);
	ASSERT_TRUE(ret > 0 && ret <= 20 * MSEC);
	ASSERT_EQ(dma_fence_wait_timeout(f, false, 0), 1);
	ASSERT_EQ(dma_fence_wait_timeout(f, false, MAX_SCHEDULE_TIMEOUT), MAX_SCHEDULE_TIMEOUT);
	dma_fence_put(f);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

struct signaller {
	struct dma_fence *fence;
	long delay_ns;
};

static void *signal_later(void *arg)
{
	struct signaller *s = arg;

	sleep_ns(s->delay_ns);
	dma_fence_signal(s->fence);
	return NULL;
}

/* A waiter is woken by a signal from another thread. */
static bool test_wait_cross_thread(void)
{
	long live0 = gpuvm_alloc_live();
	struct signaller s;
	pthread_t t;
	long ret;

	s.fence = dma_fence_create(dma_fence_context_alloc(1), 1);
	ASSERT_NONNULL(s.fence);
	s.delay_ns = 10 * MSEC;
	ASSERT_EQ(pthread_create(&t, NULL, signal_later, &s), 0);
	ret = dma_fence_wait_timeout(s.fence, true, 5000 * MSEC);
	ASSERT_TRUE(ret > 0);
	ASSERT_TRUE(ret < 5000 * MSEC); /* woken early, not at the deadline */
	ASSERT_TRUE(dma_fence_is_signaled(s.fence));
	pthread_join(t, NULL);

	dma_fence_put(s.fence);
	s.fence = dma_fence_create(dma_fence_context_alloc(1), 2);
	ASSERT_NONNULL(s.fence);
	ASSERT_EQ(pthread_create(&t, NULL, signal_later, &s), 0);
	ASSERT_EQ(dma_fence_wait_timeout(s.fence, false, MAX_SCHEDULE_TIMEOUT),
		  MAX_SCHEDULE_TIMEOUT);
	pthread_join(t, NULL);
	dma_fence_put(s.fence);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

struct cb_rec {
	struct dma_fence_cb cb;
	int runs;
	struct dma_fence *seen;
	struct cb_rec *remove_other; /* removed from inside this callback */
	bool removed_other;
};

static void record_cb(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	struct cb_rec *rec = container_of(cb, struct cb_rec, cb);

	rec->runs++;
	rec->seen = fence;
	/* Callbacks run without the fence lock: calling back in must not deadlock. */
	if (rec->remove_other)
		rec->removed_other = dma_fence_remove_callback(fence, &rec->remove_other->cb);
}

static bool test_callbacks(void)
{
	long live0 = gpuvm_alloc_live();
	struct dma_fence *f = dma_fence_create(dma_fence_context_alloc(1), 1);
	struct cb_rec a, b, c, d, late;

	ASSERT_NONNULL(f);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	memset(&late, 0, sizeof(late));

	ASSERT_EQ(dma_fence_add_callback(f, &a.cb, record_cb), 0);
	ASSERT_EQ(dma_fence_add_callback(f, &b.cb, record_cb), 0);
	ASSERT_EQ(dma_fence_add_callback(f, &c.cb, record_cb), 0);
	ASSERT_EQ(dma_fence_add_callback(f, &d.cb, record_cb), 0);
	/* b is removed before the signal; a (running first) removes d. */
	ASSERT_TRUE(dma_fence_remove_callback(f, &b.cb));
	ASSERT_FALSE(dma_fence_remove_callback(f, &b.cb));
	a.remove_other = &d;

	ASSERT_EQ(dma_fence_signal(f), 0);
	ASSERT_EQ(a.runs, 1);
	ASSERT_TRUE(a.seen == f);
	ASSERT_TRUE(a.removed_other);
	ASSERT_EQ(b.runs, 0);
	ASSERT_EQ(c.runs, 1);
	ASSERT_EQ(d.runs, 0);

	/* Run once: a second signal does not replay them. */
	ASSERT_EQ(dma_fence_signal(f), -EINVAL);
	ASSERT_EQ(a.runs, 1);
	ASSERT_EQ(c.runs, 1);
	/* Already ran: nothing to remove. */
	ASSERT_FALSE(dma_fence_remove_callback(f, &c.cb));

	/* Too late to install. */
	ASSERT_EQ(dma_fence_add_callback(f, &late.cb, record_cb), -ENOENT);
	ASSERT_EQ(late.runs, 0);
	ASSERT_FALSE(dma_fence_remove_callback(f, &late.cb));

	dma_fence_put(f);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Several waiters and one signaller; every waiter wakes. */
#define WAITERS 4

static void *waiter_fn(void *arg)
{
	struct dma_fence *f = arg;

	return (void *)(intptr_t)(dma_fence_wait_timeout(f, true, MAX_SCHEDULE_TIMEOUT) > 0);
}

static bool test_many_waiters(void)
{
	long live0 = gpuvm_alloc_live();
	struct dma_fence *f = dma_fence_create(dma_fence_context_alloc(1), 1);
	pthread_t t[WAITERS];
	unsigned int i;
	void *ok;

	ASSERT_NONNULL(f);
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, waiter_fn, f), 0);
	sleep_ns(5 * MSEC);
	ASSERT_EQ(dma_fence_signal(f), 0);
	for (i = 0; i < WAITERS; i++) {
		pthread_join(t[i], &ok);
		ASSERT_TRUE(ok != NULL);
	}
	dma_fence_put(f);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	RUN(test_context_alloc);
	RUN(test_signal);
	RUN(test_wait);
	RUN(test_wait_cross_thread);
	RUN(test_callbacks);
	RUN(test_many_waiters);
	return harness_done();
}
