// SPDX-License-Identifier: MIT
/*
 * Wait-die ww_mutex (linux/ww_mutex.h): -EALREADY, who dies and who waits,
 * the slow path, the misuse WARNs, and a two-lock opposite-order stress run
 * that must finish (no deadlock) with back-offs.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "child.h"
#include "harness.h"
#include "linux/bug.h"
#include "linux/mutex.h"
#include "linux/slab.h"
#include "linux/ww_mutex.h"

static struct ww_class test_class = WW_CLASS_INIT("test_ww_class");

struct warn_log {
	atomic_uint calls;
	char last[256];
};

static void warn_hook(const char *file, int line, const char *msg, void *data)
{
	struct warn_log *log = data;

	(void)file;
	(void)line;
	snprintf(log->last, sizeof(log->last), "%s", msg);
	atomic_fetch_add(&log->calls, 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool test_basic_and_already(void)
{
	long live0 = gpuvm_alloc_live();
	struct ww_acquire_ctx ctx;
	struct ww_mutex a, b;

	ww_mutex_init(&a, &test_class);
	ww_mutex_init(&b, &test_class);
	ww_acquire_init(&ctx, &test_class);
	ASSERT_TRUE(ctx.thread == gpuvm_current_thread());

	ASSERT_EQ(ww_mutex_lock(&a, &ctx), 0);
	ASSERT_EQ(ctx.acquired, 1);
	ASSERT_TRUE(ww_mutex_is_locked(&a));
	ASSERT_TRUE(ww_mutex_held_by_me(&a));
	/* Same context again: reported, not counted, not deadlocked. */
	ASSERT_EQ(ww_mutex_lock(&a, &ctx), -EALREADY);
	ASSERT_EQ(ww_mutex_lock_interruptible(&a, &ctx), -EALREADY);
	ASSERT_EQ(ctx.acquired, 1);
	ASSERT_EQ(ctx.deadlocks, 0);

	/* trylock through a context is accounted like a lock. */
	ASSERT_TRUE(ww_mutex_trylock(&b, &ctx));
	ASSERT_EQ(ctx.acquired, 2);
	ASSERT_FALSE(ww_mutex_trylock(&b, &ctx));
	ww_acquire_done(&ctx);
	ww_mutex_unlock(&b);
	ww_mutex_unlock(&a);
	ASSERT_EQ(ctx.acquired, 0);
	ASSERT_FALSE(ww_mutex_is_locked(&a));
	ww_acquire_fini(&ctx);

	/* Without a context it is a plain lock. */
	ASSERT_EQ(ww_mutex_lock(&a, NULL), 0);
	ASSERT_TRUE(ww_mutex_held_by_me(&a));
	ww_mutex_unlock(&a);

	ww_mutex_destroy(&a);
	ww_mutex_destroy(&b);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* A second thread that holds locks under its own context, driven step by step. */
struct peer {
	struct ww_mutex *hold;     /* locked first */
	struct ww_mutex *want;     /* then attempted (may block) */
	struct ww_acquire_ctx ctx;
	pthread_mutex_t sync;
	pthread_cond_t cond;
	int step;
	int want_ret;
};

static void peer_set(struct peer *p, int step)
{
	pthread_mutex_lock(&p->sync);
	p->step = step;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->sync);
}

static void peer_wait(struct peer *p, int step)
{
	pthread_mutex_lock(&p->sync);
	while (p->step < step)
		pthread_cond_wait(&p->cond, &p->sync);
	pthread_mutex_unlock(&p->sync);
}

/*
 * Steps: 1 = ctx initialised (stamp taken) and @hold locked; main may then
 * say go (2); 3 = the attempt on @want returned; main says release (4);
 * 5 = everything unlocked.
 */
static void *peer_fn(void *arg)
{
	struct peer *p = arg;

	ww_acquire_init(&p->ctx, &test_class);
	if (p->hold)
		ww_mutex_lock(p->hold, &p->ctx);
	peer_set(p, 1);
	peer_wait(p, 2);
	if (p->want)
		p->want_ret = ww_mutex_lock(p->want, &p->ctx);
	peer_set(p, 3);
	peer_wait(p, 4);
	if (p->want && p->want_ret == 0)
		ww_mutex_unlock(p->want);
	if (p->hold)
		ww_mutex_unlock(p->hold);
	ww_acquire_fini(&p->ctx);
	peer_set(p, 5);
	return NULL;
}

static void peer_init(struct peer *p, struct ww_mutex *hold, struct ww_mutex *want)
{
	memset(p, 0, sizeof(*p));
	p->hold = hold;
	p->want = want;
	pthread_mutex_init(&p->sync, NULL);
	pthread_cond_init(&p->cond, NULL);
}

static void peer_destroy(struct peer *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->sync);
}

/*
 * older (peer)  holds A
 * younger (me)  holds B, wants A  -> dies with -EDEADLK, then slow path
 */
static bool test_younger_dies(void)
{
	struct ww_acquire_ctx ctx;
	struct ww_mutex a, b;
	struct peer older;
	pthread_t t;

	ww_mutex_init(&a, &test_class);
	ww_mutex_init(&b, &test_class);
	peer_init(&older, &a, NULL);
	ASSERT_EQ(pthread_create(&t, NULL, peer_fn, &older), 0);
	peer_wait(&older, 1);

	ww_acquire_init(&ctx, &test_class);
	ASSERT_TRUE(ctx.stamp > older.ctx.stamp);
	ASSERT_EQ(ww_mutex_lock(&b, &ctx), 0);
	ASSERT_EQ(ww_mutex_lock(&a, &ctx), -EDEADLK);
	ASSERT_EQ(ctx.deadlocks, 1);
	ASSERT_EQ(ctx.acquired, 1);
	ASSERT_FALSE(ww_mutex_held_by_me(&a));

	/* Back off: drop everything, then wait for the contended lock. */
	ww_mutex_unlock(&b);
	peer_set(&older, 2);
	peer_wait(&older, 3);
	peer_set(&older, 4); /* the older one releases A soon */
	ww_mutex_lock_slow(&a, &ctx);
	ASSERT_TRUE(ww_mutex_held_by_me(&a));
	ASSERT_EQ(ww_mutex_lock(&b, &ctx), 0);
	ASSERT_EQ(ctx.acquired, 2);
	ww_acquire_done(&ctx);
	ww_mutex_unlock(&a);
	ww_mutex_unlock(&b);
	ww_acquire_fini(&ctx);

	pthread_join(t, NULL);
	peer_destroy(&older);
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&b);
	return true;
}

/*
 * younger (peer) holds B
 * older (me)     holds A, wants B  -> waits until the younger lets go
 */
static bool test_older_waits(void)
{
	struct ww_acquire_ctx ctx;
	struct ww_mutex a, b;
	struct peer younger;
	pthread_t t;

	ww_mutex_init(&a, &test_class);
	ww_mutex_init(&b, &test_class);
	ww_acquire_init(&ctx, &test_class);
	peer_init(&younger, &b, NULL);
	ASSERT_EQ(pthread_create(&t, NULL, peer_fn, &younger), 0);
	peer_wait(&younger, 1);
	ASSERT_TRUE(ctx.stamp < younger.ctx.stamp);

	ASSERT_EQ(ww_mutex_lock(&a, &ctx), 0);
	peer_set(&younger, 2);
	peer_wait(&younger, 3);
	peer_set(&younger, 4); /* releases B and finishes */
	ASSERT_EQ(ww_mutex_lock(&b, &ctx), 0); /* waited, did not die */
	ASSERT_EQ(ctx.deadlocks, 0);
	peer_wait(&younger, 5);
	ww_mutex_unlock(&b);
	ww_mutex_unlock(&a);
	ww_acquire_fini(&ctx);

	pthread_join(t, NULL);
	peer_destroy(&younger);
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&b);
	return true;
}

struct blocker {
	struct ww_mutex *lock;
	bool use_ctx;     /* lock through a fresh (youngest, empty) context */
	atomic_int done;
	int ret;
};

static void *blocker_fn(void *arg)
{
	struct blocker *bl = arg;
	struct ww_acquire_ctx ctx;

	if (bl->use_ctx)
		ww_acquire_init(&ctx, &test_class);
	bl->ret = ww_mutex_lock(bl->lock, bl->use_ctx ? &ctx : NULL);
	atomic_store(&bl->done, 1);
	if (bl->ret == 0)
		ww_mutex_unlock(bl->lock);
	if (bl->use_ctx)
		ww_acquire_fini(&ctx);
	return NULL;
}

/*
 * older (peer)        holds A
 * youngest (blocker)  holds nothing, wants A -> waits (dying is pointless
 *                     when there is nothing to give back), same without ctx
 */
static bool test_empty_ctx_waits(void)
{
	struct peer older;
	struct ww_mutex a;
	pthread_t t, tb1, tb2;
	struct blocker with_ctx = { .use_ctx = true }, no_ctx = { .use_ctx = false };

	ww_mutex_init(&a, &test_class);
	with_ctx.lock = &a;
	no_ctx.lock = &a;
	peer_init(&older, &a, NULL);
	ASSERT_EQ(pthread_create(&t, NULL, peer_fn, &older), 0);
	peer_wait(&older, 1);

	ASSERT_EQ(pthread_create(&tb1, NULL, blocker_fn, &with_ctx), 0);
	ASSERT_EQ(pthread_create(&tb2, NULL, blocker_fn, &no_ctx), 0);
	sleep_ms(50);
	ASSERT_EQ(atomic_load(&with_ctx.done), 0); /* still waiting */
	ASSERT_EQ(atomic_load(&no_ctx.done), 0);
	peer_set(&older, 2);
	peer_wait(&older, 3);
	peer_set(&older, 4);
	pthread_join(tb1, NULL);
	pthread_join(tb2, NULL);
	ASSERT_EQ(with_ctx.ret, 0);
	ASSERT_EQ(no_ctx.ret, 0);
	pthread_join(t, NULL);
	peer_destroy(&older);
	ASSERT_FALSE(ww_mutex_is_locked(&a));
	ww_mutex_destroy(&a);
	return true;
}

/* Misuse is reported (WARN) and never hangs. */
static bool test_misuse_warns(void)
{
	struct warn_log log = { 0 };
	struct ww_acquire_ctx ctx, ctx2;
	struct ww_mutex a, b;
	unsigned long warns0 = gpuvm_warn_count();

	gpuvm_set_warn_hook(warn_hook, &log);
	ww_mutex_init(&a, &test_class);
	ww_mutex_init(&b, &test_class);

	/* Recursive plain lock: would self-deadlock; -EDEADLK plus a WARN. */
	ASSERT_EQ(ww_mutex_lock(&a, NULL), 0);
	ASSERT_EQ(ww_mutex_lock(&a, NULL), -EDEADLK);
	ASSERT_EQ(atomic_load(&log.calls), 1);
	ASSERT_NONNULL(strstr(log.last, "recursive ww_mutex lock"));
	/* Same thread, another context: just as recursive. */
	ww_acquire_init(&ctx2, &test_class);
	ASSERT_EQ(ww_mutex_lock(&a, &ctx2), -EDEADLK);
	ASSERT_EQ(atomic_load(&log.calls), 2);
	ASSERT_EQ(ctx2.deadlocks, 1);
	ww_acquire_fini(&ctx2);
	ww_mutex_unlock(&a);

	/* Locking after ww_acquire_done. */
	ww_acquire_init(&ctx, &test_class);
	ASSERT_EQ(ww_mutex_lock(&a, &ctx), 0);
	ww_acquire_done(&ctx);
	ASSERT_EQ(ww_mutex_lock(&b, &ctx), 0);
	ASSERT_EQ(atomic_load(&log.calls), 3);
	ASSERT_NONNULL(strstr(log.last, "ww_acquire_done"));
	ww_mutex_unlock(&b);

	/* Slow path while still holding another lock. */
	ctx.done = false;
	ww_mutex_lock_slow(&b, &ctx);
	ASSERT_EQ(atomic_load(&log.calls), 4);
	ASSERT_NONNULL(strstr(log.last, "ww_mutex_lock_slow"));
	ASSERT_TRUE(ww_mutex_held_by_me(&b));

	/* Finishing a context that still holds locks. */
	ww_acquire_fini(&ctx);
	ASSERT_EQ(atomic_load(&log.calls), 5);
	ASSERT_NONNULL(strstr(log.last, "ww_acquire_fini"));
	ww_mutex_unlock(&a);
	ww_mutex_unlock(&b);
	ASSERT_EQ(ctx.acquired, 0);

	gpuvm_set_warn_hook(NULL, NULL);
	ASSERT_EQ(gpuvm_warn_count(), warns0 + 5);
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&b);
	return true;
}

static void *lock_and_exit(void *arg)
{
	ww_mutex_lock(arg, NULL);
	return NULL;
}

static void unlock_foreign_child(void *arg)
{
	struct ww_mutex m;
	pthread_t t;

	(void)arg;
	ww_mutex_init(&m, &test_class);
	pthread_create(&t, NULL, lock_and_exit, &m);
	pthread_join(t, NULL);
	ww_mutex_unlock(&m);
}

static void destroy_locked_child(void *arg)
{
	struct ww_mutex m;

	(void)arg;
	ww_mutex_init(&m, &test_class);
	ww_mutex_lock(&m, NULL);
	ww_mutex_destroy(&m);
}

static bool test_bug_checks(void)
{
	struct child_result res;

	ASSERT_TRUE(run_in_child(unlock_foreign_child, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "not held by this thread"));
	ASSERT_TRUE(run_in_child(destroy_locked_child, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "destroyed while locked"));
	return true;
}

/*
 * Stress: threads take two locks, even threads A then B, odd threads B then
 * A, under wait-die with the kernel's back-off loop. Finishing at all is the
 * deadlock-freedom check; the shared counters check mutual exclusion.
 */
#define STRESS_THREADS 4
#define STRESS_ITERS 10000

struct stress {
	struct ww_mutex locks[2];
	unsigned long in_both;      /* modified only with both locks held */
	atomic_ulong backoffs;
	atomic_uint bad;
};

struct stress_arg {
	struct stress *s;
	unsigned int index;
};

static void *stress_fn(void *data)
{
	struct stress_arg *arg = data;
	struct stress *s = arg->s;
	struct ww_mutex *first = &s->locks[arg->index & 1];
	struct ww_mutex *second = &s->locks[!(arg->index & 1)];
	unsigned long backoffs = 0;
	unsigned int i;

	for (i = 0; i < STRESS_ITERS; i++) {
		struct ww_mutex *contended = NULL;
		struct ww_acquire_ctx ctx;
		unsigned long dies = 0;

		ww_acquire_init(&ctx, &test_class);
retry:
		/* Nothing is held here, so the slow path may wait. */
		if (contended)
			ww_mutex_lock_slow(contended, &ctx);
		if (contended != first && ww_mutex_lock(first, &ctx) == -EDEADLK) {
			/* Only possible when contended == second is held. */
			ww_mutex_unlock(second);
			contended = first;
			dies++;
			goto retry;
		}
		/* Widen the window between the two locks so orders really collide. */
		sched_yield();
		if (contended != second && ww_mutex_lock(second, &ctx) == -EDEADLK) {
			ww_mutex_unlock(first);
			contended = second;
			dies++;
			goto retry;
		}
		ww_acquire_done(&ctx);
		if (!ww_mutex_held_by_me(first) || !ww_mutex_held_by_me(second) ||
		    ctx.acquired != 2 || ctx.deadlocks != dies)
			atomic_fetch_add(&s->bad, 1);
		s->in_both++;
		ww_mutex_unlock(second);
		ww_mutex_unlock(first);
		ww_acquire_fini(&ctx);
		backoffs += dies;
	}
	atomic_fetch_add(&s->backoffs, backoffs);
	return NULL;
}

static bool test_opposite_order_stress(void)
{
	struct stress_arg args[STRESS_THREADS];
	pthread_t threads[STRESS_THREADS];
	unsigned long warns0 = gpuvm_warn_count();
	long live0 = gpuvm_alloc_live();
	struct stress s;
	unsigned int i;

	memset(&s, 0, sizeof(s));
	ww_mutex_init(&s.locks[0], &test_class);
	ww_mutex_init(&s.locks[1], &test_class);
	for (i = 0; i < STRESS_THREADS; i++) {
		args[i].s = &s;
		args[i].index = i;
		ASSERT_EQ(pthread_create(&threads[i], NULL, stress_fn, &args[i]), 0);
	}
	for (i = 0; i < STRESS_THREADS; i++)
		pthread_join(threads[i], NULL);

	printf("# %d threads x %d two-lock transactions in opposite orders: %lu back-offs\n",
	       STRESS_THREADS, STRESS_ITERS, atomic_load(&s.backoffs));
	ASSERT_EQ(atomic_load(&s.bad), 0);
	ASSERT_EQ(s.in_both, (unsigned long)STRESS_THREADS * STRESS_ITERS);
	ASSERT_FALSE(ww_mutex_is_locked(&s.locks[0]));
	ASSERT_FALSE(ww_mutex_is_locked(&s.locks[1]));
	ASSERT_EQ(gpuvm_warn_count(), warns0);
	ww_mutex_destroy(&s.locks[0]);
	ww_mutex_destroy(&s.locks[1]);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	RUN(test_basic_and_already);
	RUN(test_younger_dies);
	RUN(test_older_waits);
	RUN(test_empty_ctx_waits);
	RUN(test_misuse_warns);
	RUN(test_bug_checks);
	RUN(test_opposite_order_stress);
	return harness_done();
}
