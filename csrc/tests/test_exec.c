// SPDX-License-Identifier: MIT
/*
 * drm_exec (drm/drm_exec.h): the lock-all loop, fence reservation,
 * duplicates (own object twice, or two objects sharing one resv), unlocking
 * one object, -ENOMEM at every allocation, a deterministic back-off between
 * two transactions, and a multi-thread run over overlapping object sets.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "drm/drm_exec.h"
#include "drm/drm_gem.h"
#include "harness.h"
#include "linux/bug.h"
#include "linux/slab.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool none_locked(struct drm_gem_object **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (dma_resv_is_locked(objs[i]->resv))
			return false;
	return true;
}

static bool create_objs(struct drm_gem_object **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		objs[i] = drm_gem_object_create(NULL, 4096, NULL);
		if (!objs[i])
			return false;
	}
	return true;
}

static void put_objs(struct drm_gem_object **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		drm_gem_object_put(objs[i]);
}

static bool test_lock_all(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[3], *obj;
	unsigned int passes = 0, index, i;
	struct drm_exec exec;
	int ret = 0;

	ASSERT_TRUE(create_objs(objs, 3));
	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT, 0);
	ASSERT_TRUE(drm_exec_is_contended(&exec)); /* "not started" marker */
	drm_exec_until_all_locked(&exec) {
		passes++;
		for (i = 0; i < 3; i++) {
			ret = drm_exec_lock_obj(&exec, objs[i]);
			drm_exec_retry_on_contention(&exec);
			if (ret)
				break;
		}
	}
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(passes, 1); /* nobody else around: one pass */
	ASSERT_FALSE(drm_exec_is_contended(&exec));
	ASSERT_TRUE(exec.ticket.done);
	ASSERT_EQ(exec.num_objects, 3);
	ASSERT_EQ(exec.num_backoffs, 0);
	drm_exec_for_each_locked_object(&exec, index, obj) {
		ASSERT_TRUE(obj == objs[index]);
		ASSERT_TRUE(dma_resv_held(obj->resv));
		ASSERT_EQ(kref_read(&obj->refcount), 2); /* the exec's reference */
	}
	i = 3;
	drm_exec_for_each_locked_object_reverse(&exec, index, obj)
		ASSERT_TRUE(obj == objs[index] && index == --i);
	ASSERT_EQ(i, 0);
	/* The current kernel's two-argument forms. */
	i = 0;
	drm_exec_for_each_locked_object(&exec, obj)
		ASSERT_TRUE(obj == objs[i++]);
	ASSERT_EQ(i, 3);
	drm_exec_for_each_locked_object_reverse(&exec, obj)
		ASSERT_TRUE(obj == objs[--i]);
	ASSERT_EQ(i, 0);

	drm_exec_fini(&exec);
	ASSERT_TRUE(none_locked(objs, 3));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(kref_read(&objs[i]->refcount), 1);
	put_objs(objs, 3);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_prepare_and_unlock_obj(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[4];
	struct drm_exec exec;
	int ret = 0;

	ASSERT_TRUE(create_objs(objs, 4));
	drm_exec_init(&exec, 0, 2); /* small hint: the array must grow */
	drm_exec_until_all_locked(&exec) {
		ret = drm_exec_prepare_obj(&exec, objs[0], 3);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		ret = drm_exec_prepare_array(&exec, &objs[1], 3, 1);
		drm_exec_retry_on_contention(&exec);
	}
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(exec.num_objects, 4);
	ASSERT_EQ(objs[0]->resv->num_reserved, 3);
	ASSERT_EQ(objs[3]->resv->num_reserved, 1);
	ASSERT_TRUE(objs[0]->resv->max_fences >= 3);

	/* Unlock one from the middle; order of the rest is kept. */
	drm_exec_unlock_obj(&exec, objs[1]);
	ASSERT_EQ(exec.num_objects, 3);
	ASSERT_FALSE(dma_resv_is_locked(objs[1]->resv));
	ASSERT_EQ(objs[1]->resv->num_reserved, 0);
	ASSERT_EQ(kref_read(&objs[1]->refcount), 1);
	ASSERT_TRUE(exec.objects[0] == objs[0]);
	ASSERT_TRUE(exec.objects[1] == objs[2]);
	ASSERT_TRUE(exec.objects[2] == objs[3]);
	/* Not in the set: nothing happens. */
	drm_exec_unlock_obj(&exec, objs[1]);
	ASSERT_EQ(exec.num_objects, 3);

	drm_exec_fini(&exec);
	ASSERT_TRUE(none_locked(objs, 4));
	put_objs(objs, 4);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 *   r_obj._resv  <--- bo1, bo2 (private objects sharing the VM resv)
 *   ext._resv         (its own)
 */
static bool test_duplicates(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *r_obj, *bo1, *bo2, *ext;
	struct drm_exec exec;
	int ret = 0, dup_obj = 1, dup_resv = 1;

	r_obj = drm_gem_object_create(NULL, 0, NULL);
	ASSERT_NONNULL(r_obj);
	bo1 = drm_gem_object_create(NULL, 4096, r_obj);
	bo2 = drm_gem_object_create(NULL, 4096, r_obj);
	ext = drm_gem_object_create(NULL, 4096, NULL);
	ASSERT_NONNULL(bo1);
	ASSERT_NONNULL(bo2);
	ASSERT_NONNULL(ext);

	/* Without IGNORE_DUPLICATES a second lock of one resv is -EALREADY. */
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_exec_lock_obj(&exec, bo1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		ret = drm_exec_lock_obj(&exec, ext);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		dup_obj = drm_exec_lock_obj(&exec, ext);
		dup_resv = drm_exec_prepare_obj(&exec, bo2, 1);
	}
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(dup_obj, -EALREADY);
	ASSERT_EQ(dup_resv, -EALREADY);
	ASSERT_EQ(exec.num_objects, 2);
	ASSERT_TRUE(dma_resv_held(r_obj->resv));
	drm_exec_fini(&exec);
	ASSERT_FALSE(dma_resv_is_locked(r_obj->resv));
	ASSERT_FALSE(dma_resv_is_locked(ext->resv));

	/* With it: success, recorded once, the reservation still happens. */
	drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_exec_prepare_obj(&exec, bo1, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		ret = drm_exec_lock_obj(&exec, ext);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		dup_obj = drm_exec_lock_obj(&exec, ext);
		dup_resv = drm_exec_prepare_obj(&exec, bo2, 2);
	}
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(dup_obj, 0);
	ASSERT_EQ(dup_resv, 0);
	ASSERT_EQ(exec.num_objects, 2);
	ASSERT_EQ(r_obj->resv->num_reserved, 2);
	ASSERT_EQ(kref_read(&ext->refcount), 2);
	drm_exec_fini(&exec);
	ASSERT_FALSE(dma_resv_is_locked(r_obj->resv));
	ASSERT_FALSE(dma_resv_is_locked(ext->resv));

	drm_gem_object_put(bo1);
	drm_gem_object_put(bo2);
	drm_gem_object_put(ext);
	drm_gem_object_put(r_obj);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* One full transaction over @n objects; returns the first error. */
static int lock_set(struct drm_gem_object **objs, unsigned int n, u32 flags,
		    unsigned int nr, struct drm_exec *exec)
{
	int ret = 0;

	drm_exec_init(exec, flags, nr);
	drm_exec_until_all_locked(exec) {
		ret = drm_exec_prepare_array(exec, objs, n, 2);
		drm_exec_retry_on_contention(exec);
	}
	return ret;
}

#define NOMEM_OBJS 40

/*
 * Fail the 1st, 2nd, ... allocation of a transaction until one succeeds.
 * Fresh objects each round, so the fence-slot arrays the resvs keep are
 * also checked: everything is freed once the objects go.
 */
static bool test_enomem_everywhere(void)
{
	struct drm_gem_object *objs[NOMEM_OBJS];
	long live0 = gpuvm_alloc_live();
	unsigned int n, i, absorbed = 0;
	struct drm_exec exec;
	int ret;

	for (n = 1;; n++) {
		unsigned long fails0 = gpuvm_alloc_failures();

		ASSERT_TRUE(create_objs(objs, NOMEM_OBJS));
		gpuvm_alloc_fail_nth(n);
		ret = lock_set(objs, NOMEM_OBJS, 0, 0, &exec);
		if (gpuvm_alloc_failures() == fails0) {
			gpuvm_alloc_fail_nth(0);
			ASSERT_EQ(ret, 0);
			ASSERT_EQ(exec.num_objects, NOMEM_OBJS);
			drm_exec_fini(&exec);
			put_objs(objs, NOMEM_OBJS);
			ASSERT_EQ(gpuvm_alloc_live(), live0);
			break;
		}
		/* Only the init preallocation may fail silently (the array grows later). */
		if (ret == 0)
			absorbed++;
		else
			ASSERT_EQ(ret, -ENOMEM);
		drm_exec_fini(&exec);
		ASSERT_TRUE(none_locked(objs, NOMEM_OBJS));
		for (i = 0; i < NOMEM_OBJS; i++)
			ASSERT_EQ(kref_read(&objs[i]->refcount), 1);
		put_objs(objs, NOMEM_OBJS);
		ASSERT_EQ(gpuvm_alloc_live(), live0);
	}
	ASSERT_EQ(absorbed, 1);
	/* init + 2 growths of the object array + 2 arrays per resv. */
	ASSERT_EQ(n - 1, 1 + 2 + 2 * NOMEM_OBJS);
	printf("# drm_exec: -ENOMEM injected at each of %u allocations\n", n - 1);
	return true;
}

/*
 * Deterministic back-off:
 *   older (helper thread)  locks X, holds it until told
 *   younger (this thread)  locks Y, then X -> -EDEADLK: drop Y, slow-lock X,
 *                          rerun the block: Y, X (claimed from the slow path)
 */
struct holder {
	struct drm_gem_object *x;
	atomic_int started;   /* the older ticket exists and X is held */
	atomic_int release;   /* the younger saw -EDEADLK: let go of X */
};

static void *holder_fn(void *arg)
{
	struct holder *h = arg;
	struct drm_exec exec;
	int ret = 0;

	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_exec_lock_obj(&exec, h->x);
		drm_exec_retry_on_contention(&exec);
	}
	if (ret == 0) {
		atomic_store(&h->started, 1);
		while (!atomic_load(&h->release))
			sched_yield();
		/* Give the younger time to block in the slow path. */
		sleep_ms(20);
	}
	drm_exec_fini(&exec);
	atomic_store(&h->started, ret == 0 ? 2 : -1);
	return NULL;
}

static bool test_backoff_two_transactions(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[2], *x, *y;
	struct holder h = { 0 };
	unsigned int passes = 0;
	struct drm_exec exec;
	int ret = 0, deadlk = 0;
	pthread_t t;

	ASSERT_TRUE(create_objs(objs, 2));
	x = objs[0];
	y = objs[1];
	h.x = x;
	ASSERT_EQ(pthread_create(&t, NULL, holder_fn, &h), 0);
	while (atomic_load(&h.started) == 0)
		sched_yield();
	ASSERT_EQ(atomic_load(&h.started), 1);

	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		passes++;
		ret = drm_exec_lock_obj(&exec, y);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		ret = drm_exec_lock_obj(&exec, x);
		if (ret == -EDEADLK) {
			deadlk++;
			ASSERT_TRUE(exec.contended == x);
			atomic_store(&h.release, 1);
		}
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(deadlk, 1);
	ASSERT_EQ(passes, 2);
	ASSERT_EQ(exec.num_backoffs, 1);
	ASSERT_EQ(exec.ticket.deadlocks, 1);
	ASSERT_NULL(exec.prelocked); /* claimed by the second pass */
	ASSERT_EQ(exec.num_objects, 2);
	ASSERT_TRUE(dma_resv_held(x->resv));
	ASSERT_TRUE(dma_resv_held(y->resv));
	drm_exec_fini(&exec);
	pthread_join(t, NULL);
	ASSERT_EQ(atomic_load(&h.started), 2);

	ASSERT_TRUE(none_locked(objs, 2));
	ASSERT_EQ(kref_read(&x->refcount), 1);
	put_objs(objs, 2);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * The contended object is not asked for again on the retry (the caller's set
 * changed): it stays locked by the exec until fini, then is released.
 */
static bool test_unclaimed_prelocked(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[2], *x, *y;
	struct holder h = { 0 };
	struct drm_exec exec;
	bool want_x = true;
	int ret = 0;
	pthread_t t;

	ASSERT_TRUE(create_objs(objs, 2));
	x = objs[0];
	y = objs[1];
	h.x = x;
	ASSERT_EQ(pthread_create(&t, NULL, holder_fn, &h), 0);
	while (atomic_load(&h.started) == 0)
		sched_yield();

	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_exec_lock_obj(&exec, y);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		if (want_x) {
			ret = drm_exec_lock_obj(&exec, x);
			if (ret == -EDEADLK) {
				want_x = false;
				atomic_store(&h.release, 1);
			}
			drm_exec_retry_on_contention(&exec);
		}
	}
	ASSERT_EQ(ret, 0);
	ASSERT_TRUE(exec.prelocked == x);
	ASSERT_TRUE(dma_resv_held(x->resv));
	ASSERT_EQ(exec.num_objects, 1);
	/* unlock_obj knows about it too. */
	drm_exec_unlock_obj(&exec, x);
	ASSERT_NULL(exec.prelocked);
	ASSERT_FALSE(dma_resv_is_locked(x->resv));
	drm_exec_fini(&exec);
	pthread_join(t, NULL);
	ASSERT_EQ(kref_read(&x->refcount), 1);
	ASSERT_TRUE(none_locked(objs, 2));
	put_objs(objs, 2);
	ASSERT_EQ(gpuvm_alloc_live(), live0);

	/* Same, but left to fini. */
	ASSERT_TRUE(create_objs(objs, 2));
	memset(&h, 0, sizeof(h));
	h.x = x = objs[0];
	y = objs[1];
	want_x = true;
	ASSERT_EQ(pthread_create(&t, NULL, holder_fn, &h), 0);
	while (atomic_load(&h.started) == 0)
		sched_yield();
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_exec_lock_obj(&exec, y);
		drm_exec_retry_on_contention(&exec);
		if (want_x) {
			ret = drm_exec_lock_obj(&exec, x);
			if (ret == -EDEADLK) {
				want_x = false;
				atomic_store(&h.release, 1);
			}
			drm_exec_retry_on_contention(&exec);
		}
	}
	ASSERT_TRUE(exec.prelocked == x);
	drm_exec_fini(&exec);
	pthread_join(t, NULL);
	ASSERT_TRUE(none_locked(objs, 2));
	put_objs(objs, 2);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * 4 threads, a pool of 12 objects; each transaction locks 8 of them,
 *
 *   pool:      0 1 2 3 4 5 6 7 8 9 a b
 *   thread 0:  ######## ->              (ascending from 0)
 *   thread 1:        <- ########        (descending from 9)
 *   thread 2:          ######## ->      (ascending from 4, wrapping)
 *   thread 3:  ##  <-         ######    (descending from 1, wrapping)
 *
 * with the start rotated every iteration, so orders keep colliding.
 * Each object's counter is bumped non-atomically while locked: a lost update
 * (or a TSan report) would mean two holders at once.
 */
#define MT_THREADS 4
#define MT_POOL 12
#define MT_SET 8
#define MT_ITERS 1500

struct mt_state {
	struct drm_gem_object *pool[MT_POOL];
	unsigned long counters[MT_POOL];
	atomic_ulong backoffs;
	atomic_uint errors;
};

struct mt_arg {
	struct mt_state *st;
	unsigned int id;
	unsigned long locked_sets;
};

static void *mt_fn(void *data)
{
	struct mt_arg *arg = data;
	struct mt_state *st = arg->st;
	bool down = arg->id & 1;
	unsigned int it;

	for (it = 0; it < MT_ITERS; it++) {
		struct drm_gem_object *set[MT_SET];
		unsigned int start = (arg->id * 4 + it) % MT_POOL, k;
		struct drm_exec exec;
		int ret = 0;

		for (k = 0; k < MT_SET; k++) {
			unsigned int idx = down ? (start + MT_POOL - k) % MT_POOL
						: (start + k) % MT_POOL;

			set[k] = st->pool[idx];
		}
		drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT, MT_SET);
		drm_exec_until_all_locked(&exec) {
			/*
			 * The "continue" of retry_on_contention only reaches this
			 * for loop; the remaining lock calls then fail fast with
			 * -EDEADLK and the while loop restarts the pass.
			 */
			for (k = 0; k < MT_SET; k++) {
				ret = drm_exec_prepare_obj(&exec, set[k], 1);
				drm_exec_retry_on_contention(&exec);
				if (ret)
					break;
				/* Hold what we have a moment: invites contention. */
				if (k == MT_SET / 2)
					sched_yield();
			}
		}
		if (ret || exec.num_objects != MT_SET) {
			atomic_fetch_add(&st->errors, 1);
		} else {
			for (k = 0; k < MT_SET; k++)
				if (!dma_resv_held(set[k]->resv))
					atomic_fetch_add(&st->errors, 1);
			for (k = 0; k < MT_POOL; k++)
				if (dma_resv_held(st->pool[k]->resv))
					st->counters[k]++;
			arg->locked_sets++;
		}
		atomic_fetch_add(&st->backoffs, exec.num_backoffs);
		drm_exec_fini(&exec);
	}
	return NULL;
}

static bool test_multithread(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long warns0 = gpuvm_warn_count();
	struct mt_arg args[MT_THREADS];
	pthread_t threads[MT_THREADS];
	unsigned long total = 0, expect = 0;
	struct mt_state st;
	unsigned int i;

	memset(&st, 0, sizeof(st));
	ASSERT_TRUE(create_objs(st.pool, MT_POOL));
	for (i = 0; i < MT_THREADS; i++) {
		args[i].st = &st;
		args[i].id = i;
		args[i].locked_sets = 0;
		ASSERT_EQ(pthread_create(&threads[i], NULL, mt_fn, &args[i]), 0);
	}
	for (i = 0; i < MT_THREADS; i++) {
		pthread_join(threads[i], NULL);
		total += args[i].locked_sets;
	}
	printf("# drm_exec: %u threads x %u transactions of %u/%u objects: %lu back-offs\n",
	       MT_THREADS, MT_ITERS, MT_SET, MT_POOL, atomic_load(&st.backoffs));
	ASSERT_EQ(atomic_load(&st.errors), 0);
	ASSERT_EQ(total, (unsigned long)MT_THREADS * MT_ITERS);
	for (i = 0; i < MT_POOL; i++)
		expect += st.counters[i];
	/* Every transaction bumped exactly its 8 objects: no lost updates. */
	ASSERT_EQ(expect, (unsigned long)MT_THREADS * MT_ITERS * MT_SET);
	ASSERT_TRUE(none_locked(st.pool, MT_POOL));
	for (i = 0; i < MT_POOL; i++)
		ASSERT_EQ(kref_read(&st.pool[i]->refcount), 1);
	ASSERT_EQ(gpuvm_warn_count(), warns0);
	put_objs(st.pool, MT_POOL);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static void count_warn(const char *file, int line, const char *msg, void *data)
{
	(void)file;
	(void)line;
	(void)msg;
	(*(unsigned int *)data)++;
}

/* Locking before the loop started the ticket is a bug in the caller. */
static bool test_lock_outside_loop(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *obj = drm_gem_object_create(NULL, 1, NULL);
	unsigned int warns = 0;
	struct drm_exec exec;

	ASSERT_NONNULL(obj);
	gpuvm_set_warn_hook(count_warn, &warns);
	drm_exec_init(&exec, 0, 0);
	ASSERT_EQ(drm_exec_lock_obj(&exec, obj), -EINVAL);
	ASSERT_EQ(warns, 1);
	ASSERT_FALSE(dma_resv_is_locked(obj->resv));
	drm_exec_fini(&exec);
	gpuvm_set_warn_hook(NULL, NULL);
	drm_gem_object_put(obj);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	RUN(test_lock_all);
	RUN(test_prepare_and_unlock_obj);
	RUN(test_duplicates);
	RUN(test_lock_outside_loop);
	RUN(test_enomem_everywhere);
	RUN(test_backoff_two_transactions);
	RUN(test_unclaimed_prelocked);
	RUN(test_multithread);
	return harness_done();
}
