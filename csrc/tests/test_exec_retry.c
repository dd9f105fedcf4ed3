/* SPDX-License-Identifier: MIT */
/*
 * drm_exec_retry_on_contention() restarts the drm_exec_until_all_locked()
 * block at once, from any nesting depth, as the kernel's does: under real
 * contention (another thread holds a resv with an older ticket) the rest of
 * the failed pass, including the rest of an inner loop, must not run.
 *
 * Each test records the side effects of the block as a string and compares
 * it with the kernel's control flow. The handshake with the holder thread is
 * by condition variables only (no sleeps, no timing): the holder takes the
 * lock first (so its ticket is older), and drops it only once the block has
 * seen -EDEADLK, after which our slow-path lock in drm_exec_cleanup() waits
 * for it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "drm/drm_exec.h"
#include "drm/drm_gem.h"
#include "linux/dma-resv.h"
#include "linux/slab.h"
#include "harness.h"

#define NOBJ 4

/* ------------------------------------------------------------- recording */

struct trace {
	char buf[128];
	size_t len;
};

static void rec(struct trace *t, char c)
{
	if (t->len + 1 < sizeof(t->buf)) {
		t->buf[t->len++] = c;
		t->buf[t->len] = '\0';
	}
}

#define ASSERT_TRACE(t, want)                                                     \
	do {                                                                      \
		if (strcmp((t)->buf, (want)) != 0)                                \
			HARNESS_FAIL("trace \"%s\", want \"%s\"", (t)->buf, (want)); \
	} while (0)

/* --------------------------------------------------- the contending thread */

struct holder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct drm_gem_object *obj;
	int state; /* 0 start, 1 holding, 2 asked to release, 3 released */
	struct ww_acquire_ctx ctx;
};

static void holder_set(struct holder *h, int state)
{
	pthread_mutex_lock(&h->lock);
	h->state = state;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void holder_wait(struct holder *h, int state)
{
	pthread_mutex_lock(&h->lock);
	while (h->state < state)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

static void *holder_fn(void *arg)
{
	struct holder *h = arg;

	/* Older ticket: initialised before the exec's (which starts in its first pass). */
	ww_acquire_init(&h->ctx, &reservation_ww_class);
	if (dma_resv_lock(h->obj->resv, &h->ctx) != 0) {
		holder_set(h, -1);
		return NULL;
	}
	holder_set(h, 1);
	holder_wait(h, 2);
	dma_resv_unlock(h->obj->resv);
	ww_acquire_fini(&h->ctx);
	holder_set(h, 3);
	return NULL;
}

static bool holder_start(struct holder *h, pthread_t *t, struct drm_gem_object *obj)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->obj = obj;
	if (pthread_create(t, NULL, holder_fn, h) != 0)
		return false;
	holder_wait(h, 1);
	return h->state == 1;
}

static void holder_join(struct holder *h, pthread_t t)
{
	pthread_join(t, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

/* ----------------------------------------------------------------- objects */

static bool objs_new(struct drm_gem_object **objs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		objs[i] = drm_gem_object_create(NULL, 0x1000, NULL);
		if (!objs[i])
			return false;
	}
	return true;
}

static void objs_put(struct drm_gem_object **objs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		drm_gem_object_put(objs[i]);
}

/* --------------------------------------------------------------------- tests */

/*
 * One inner loop: pass 1 locks o0, meets the holder's o1, retries. Nothing of
 * the rest of pass 1 may run: not 'b' (after o1), not '2' (next iteration),
 * not 'E' (after the inner loop). Pass 2 takes the prelocked o1 and finishes.
 */
static bool test_retry_leaves_inner_loop(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[NOBJ];
	struct trace t = { .len = 0 };
	struct holder h;
	struct drm_exec exec;
	pthread_t th;
	int ret = 0;

	ASSERT_TRUE(objs_new(objs, 3));
	ASSERT_TRUE(holder_start(&h, &th, objs[1]));

	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT, 0);
	drm_exec_until_all_locked(&exec) {
		rec(&t, 'S');
		for (unsigned int i = 0; i < 3; i++) {
			rec(&t, (char)('0' + i));
			ret = drm_exec_prepare_obj(&exec, objs[i], 1);
			if (ret == -EDEADLK) {
				rec(&t, 'D');
				holder_set(&h, 2); /* the slow path will wait for the release */
			}
			drm_exec_retry_on_contention(&exec);
			rec(&t, (char)('a' + i));
			if (ret)
				goto out;
		}
		rec(&t, 'E');
	}
out:
	ASSERT_EQ(ret, 0);
	ASSERT_TRACE(&t, "S0a1DS0a1b2cE");
	ASSERT_EQ(exec.num_backoffs, 1);
	ASSERT_EQ(exec.num_objects, 3);
	for (unsigned int i = 0; i < 3; i++)
		ASSERT_TRUE(dma_resv_held(objs[i]->resv));
	drm_exec_fini(&exec);
	holder_join(&h, th);
	ASSERT_EQ(h.state, 3);
	for (unsigned int i = 0; i < 3; i++)
		ASSERT_FALSE(dma_resv_is_locked(objs[i]->resv));
	objs_put(objs, 3);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * Two levels of nesting plus a switch, contention at the innermost level
 * (the shape of a VM-close path: for each VM, for each of its objects). The
 * retry must leave both loops and the switch at once.
 */
static bool test_retry_from_depth_two(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[NOBJ];
	struct trace t = { .len = 0 };
	struct holder h;
	struct drm_exec exec;
	unsigned int passes = 0;
	pthread_t th;
	int ret = 0;

	ASSERT_TRUE(objs_new(objs, NOBJ));
	/* Grid: group g holds objects 2g, 2g+1; the holder has object 2 (group 1, first). */
	ASSERT_TRUE(holder_start(&h, &th, objs[2]));

	drm_exec_init(&exec, 0, NOBJ);
	drm_exec_until_all_locked(&exec) {
		passes++;
		rec(&t, 'S');
		for (unsigned int g = 0; g < 2; g++) {
			rec(&t, (char)('A' + g));
			for (unsigned int k = 0; k < 2; k++) {
				unsigned int i = 2 * g + k;

				switch (k) {
				case 0:
				case 1:
					ret = drm_exec_lock_obj(&exec, objs[i]);
					if (ret == -EDEADLK) {
						rec(&t, 'D');
						holder_set(&h, 2);
					}
					drm_exec_retry_on_contention(&exec);
					rec(&t, (char)('0' + i));
					break;
				}
				if (ret)
					goto out;
			}
			rec(&t, (char)('a' + g));
		}
		rec(&t, 'E');
	}
out:
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(passes, 2);
	ASSERT_TRACE(&t, "SA01aBDSA01aB23bE");
	ASSERT_EQ(exec.num_objects, NOBJ);
	drm_exec_fini(&exec);
	holder_join(&h, th);
	objs_put(objs, NOBJ);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * The retry also skips work after the inner loop that has side effects on
 * driver state: a counter of "programmed" entries must only count the pass
 * that completed.
 */
static bool test_retry_skips_side_effects(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[NOBJ];
	struct holder h;
	struct drm_exec exec;
	unsigned int programmed = 0, passes = 0;
	pthread_t th;
	int ret = 0;

	ASSERT_TRUE(objs_new(objs, NOBJ));
	ASSERT_TRUE(holder_start(&h, &th, objs[3]));

	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		passes++;
		programmed = 0;
		for (unsigned int i = 0; i < NOBJ; i++) {
			ret = drm_exec_prepare_obj(&exec, objs[i], 2);
			if (ret == -EDEADLK)
				holder_set(&h, 2);
			drm_exec_retry_on_contention(&exec);
			if (ret)
				goto out;
			programmed++;
		}
		programmed += 100; /* only once the whole set is locked */
	}
out:
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(passes, 2);
	ASSERT_EQ(programmed, NOBJ + 100);
	drm_exec_fini(&exec);
	holder_join(&h, th);
	objs_put(objs, NOBJ);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Without contention the block runs once and the retry is a no-op. */
static bool test_no_contention_single_pass(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[NOBJ];
	struct trace t = { .len = 0 };
	struct drm_exec exec;
	int ret = 0;

	ASSERT_TRUE(objs_new(objs, 2));
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		rec(&t, 'S');
		for (unsigned int i = 0; i < 2; i++) {
			ret = drm_exec_lock_obj(&exec, objs[i]);
			drm_exec_retry_on_contention(&exec);
			rec(&t, (char)('0' + i));
		}
	}
	ASSERT_EQ(ret, 0);
	ASSERT_TRACE(&t, "S01");
	ASSERT_EQ(exec.num_backoffs, 0);
	drm_exec_fini(&exec);
	objs_put(objs, 2);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Two blocks in one function, each with its own retry target. */
static bool test_two_blocks_in_one_function(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *objs[NOBJ];
	struct trace t = { .len = 0 };
	struct holder h;
	struct drm_exec exec;
	pthread_t th;
	int ret = 0;

	ASSERT_TRUE(objs_new(objs, 2));
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		rec(&t, 'X');
		ret = drm_exec_lock_obj(&exec, objs[0]);
		drm_exec_retry_on_contention(&exec);
	}
	ASSERT_EQ(ret, 0);
	drm_exec_fini(&exec);

	ASSERT_TRUE(holder_start(&h, &th, objs[1]));
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		rec(&t, 'Y');
		for (unsigned int i = 0; i < 2; i++) {
			ret = drm_exec_lock_obj(&exec, objs[i]);
			if (ret == -EDEADLK)
				holder_set(&h, 2);
			drm_exec_retry_on_contention(&exec);
			rec(&t, (char)('0' + i));
		}
	}
	ASSERT_EQ(ret, 0);
	ASSERT_TRACE(&t, "XY0Y01");
	drm_exec_fini(&exec);
	holder_join(&h, th);
	objs_put(objs, 2);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	RUN(test_no_contention_single_pass);
	RUN(test_retry_leaves_inner_loop);
	RUN(test_retry_from_depth_two);
	RUN(test_retry_skips_side_effects);
	RUN(test_two_blocks_in_one_function);
	return harness_done();
}
