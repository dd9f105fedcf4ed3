// SPDX-License-Identifier: MIT
/*
 * Owner-tracking mutexes (linux/mutex.h): thread identity, lock/trylock,
 * "held by me" seen from other threads, and the GPUVM_BUG checks for
 * unlocking someone else's lock and destroying a held one.
 */
#include <pthread.h>
#include <string.h>

#include "child.h"
#include "harness.h"
#include "linux/mutex.h"
#include "linux/slab.h"

static void *thread_id_fn(void *arg)
{
	*(uintptr_t *)arg = gpuvm_current_thread();
	return NULL;
}

static bool test_current_thread(void)
{
	uintptr_t me = gpuvm_current_thread(), other = 0;
	pthread_t t;

	ASSERT_NE(me, 0);
	ASSERT_EQ(gpuvm_current_thread(), me);
	ASSERT_EQ(pthread_create(&t, NULL, thread_id_fn, &other), 0);
	pthread_join(t, NULL);
	ASSERT_NE(other, 0);
	ASSERT_NE(other, me);
	return true;
}

static bool test_lock_unlock(void)
{
	long live0 = gpuvm_alloc_live();
	struct mutex m;

	mutex_init(&m);
	ASSERT_FALSE(mutex_is_locked(&m));
	ASSERT_FALSE(mutex_held_by_me(&m));

	mutex_lock(&m);
	ASSERT_TRUE(mutex_is_locked(&m));
	ASSERT_TRUE(mutex_held_by_me(&m));
	ASSERT_EQ(atomic_load(&m.owner), gpuvm_current_thread());
	/* Not recursive: a trylock by the holder fails. */
	ASSERT_FALSE(mutex_trylock(&m));
	mutex_unlock(&m);
	ASSERT_FALSE(mutex_is_locked(&m));
	ASSERT_EQ(atomic_load(&m.owner), 0);

	ASSERT_TRUE(mutex_trylock(&m));
	ASSERT_TRUE(mutex_held_by_me(&m));
	mutex_unlock(&m);

	mutex_destroy(&m);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

struct observer {
	struct mutex *m;
	pthread_mutex_t sync;
	pthread_cond_t cond;
	int step;
	bool saw_locked, saw_held_by_me, trylock_ok;
};

static void observer_wait(struct observer *o, int step)
{
	pthread_mutex_lock(&o->sync);
	while (o->step < step)
		pthread_cond_wait(&o->cond, &o->sync);
	pthread_mutex_unlock(&o->sync);
}

static void observer_set(struct observer *o, int step)
{
	pthread_mutex_lock(&o->sync);
	o->step = step;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->sync);
}

/* Step 1: main holds the lock; we look, then report (step 2). */
static void *observer_fn(void *arg)
{
	struct observer *o = arg;

	observer_wait(o, 1);
	o->saw_locked = mutex_is_locked(o->m);
	o->saw_held_by_me = mutex_held_by_me(o->m);
	o->trylock_ok = mutex_trylock(o->m);
	if (o->trylock_ok)
		mutex_unlock(o->m);
	observer_set(o, 2);
	/* Step 3: main released it; now we can take it ourselves. */
	observer_wait(o, 3);
	mutex_lock(o->m);
	o->saw_held_by_me = mutex_held_by_me(o->m);
	observer_set(o, 4);
	observer_wait(o, 5);
	mutex_unlock(o->m);
	observer_set(o, 6);
	return NULL;
}

static bool test_held_by_me_across_threads(void)
{
	struct observer o = { 0 };
	struct mutex m;
	pthread_t t;

	mutex_init(&m);
	o.m = &m;
	pthread_mutex_init(&o.sync, NULL);
	pthread_cond_init(&o.cond, NULL);
	ASSERT_EQ(pthread_create(&t, NULL, observer_fn, &o), 0);

	mutex_lock(&m);
	observer_set(&o, 1);
	observer_wait(&o, 2);
	ASSERT_TRUE(o.saw_locked);
	ASSERT_FALSE(o.saw_held_by_me); /* locked, but not by the observer */
	ASSERT_FALSE(o.trylock_ok);
	ASSERT_TRUE(mutex_held_by_me(&m));
	mutex_unlock(&m);

	observer_set(&o, 3);
	observer_wait(&o, 4);
	ASSERT_TRUE(o.saw_held_by_me);
	ASSERT_TRUE(mutex_is_locked(&m));
	ASSERT_FALSE(mutex_held_by_me(&m)); /* the observer holds it now */
	ASSERT_FALSE(mutex_trylock(&m));
	observer_set(&o, 5);
	observer_wait(&o, 6);
	pthread_join(t, NULL);

	ASSERT_FALSE(mutex_is_locked(&m));
	mutex_destroy(&m);
	pthread_cond_destroy(&o.cond);
	pthread_mutex_destroy(&o.sync);
	return true;
}

#define COUNT_THREADS 4
#define COUNT_ITERS 20000

struct counter {
	spinlock_t lock;
	unsigned long value;
	bool owner_ok;
};

static void *counter_fn(void *arg)
{
	struct counter *c = arg;
	unsigned int i;

	for (i = 0; i < COUNT_ITERS; i++) {
		spin_lock(&c->lock);
		if (!spin_is_held_by_me(&c->lock))
			c->owner_ok = false;
		c->value++;
		spin_unlock(&c->lock);
	}
	return NULL;
}

/* Mutual exclusion under contention: no lost increments, owner always right. */
static bool test_spinlock_contention(void)
{
	pthread_t threads[COUNT_THREADS];
	struct counter c = { .value = 0, .owner_ok = true };
	unsigned int i;

	spin_lock_init(&c.lock);
	for (i = 0; i < COUNT_THREADS; i++)
		ASSERT_EQ(pthread_create(&threads[i], NULL, counter_fn, &c), 0);
	for (i = 0; i < COUNT_THREADS; i++)
		pthread_join(threads[i], NULL);
	ASSERT_EQ(c.value, (unsigned long)COUNT_THREADS * COUNT_ITERS);
	ASSERT_TRUE(c.owner_ok);
	ASSERT_FALSE(spin_is_held_by_me(&c.lock));
	spin_lock_destroy(&c.lock);
	return true;
}

static void unlock_unheld_child(void *arg)
{
	struct mutex m;

	(void)arg;
	mutex_init(&m);
	mutex_unlock(&m);
}

static void *lock_and_leave(void *arg)
{
	mutex_lock(arg);
	return NULL;
}

static void unlock_foreign_child(void *arg)
{
	struct mutex m;
	pthread_t t;

	(void)arg;
	mutex_init(&m);
	pthread_create(&t, NULL, lock_and_leave, &m);
	pthread_join(t, NULL);
	mutex_unlock(&m); /* held, but by the (finished) other thread */
}

static void destroy_locked_child(void *arg)
{
	struct mutex m;

	(void)arg;
	mutex_init(&m);
	mutex_lock(&m);
	mutex_destroy(&m);
}

static void recursive_lock_child(void *arg)
{
	struct mutex m;

	(void)arg;
	mutex_init(&m);
	mutex_lock(&m);
	mutex_lock(&m);
}

static bool test_bug_checks(void)
{
	struct child_result res;

	ASSERT_TRUE(run_in_child(unlock_unheld_child, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "BUG: "));
	ASSERT_NONNULL(strstr(res.err, "not held by this thread"));

	ASSERT_TRUE(run_in_child(unlock_foreign_child, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "not held by this thread"));

	ASSERT_TRUE(run_in_child(destroy_locked_child, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "destroyed while locked"));

	/* A self-deadlock becomes a diagnosis instead of a hang. */
	ASSERT_TRUE(run_in_child(recursive_lock_child, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "recursive mutex_lock"));
	return true;
}

int main(void)
{
	RUN(test_current_thread);
	RUN(test_lock_unlock);
	RUN(test_held_by_me_across_threads);
	RUN(test_spinlock_contention);
	RUN(test_bug_checks);
	return harness_done();
}
