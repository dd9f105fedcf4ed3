// SPDX-License-Identifier: MIT
/*
 * Error and misuse paths that the other C tests leave unexecuted, found with a
 * coverage build (gcov): real (not injected) allocation failures, WARNs
 * without a hook, misuse WARNs of fences, resvs, ww mutexes and the vm_bo
 * API, the unlinked-VA forms of link/unlink, the overflow guard of drm_exec's
 * object array, contention back-offs driven deterministically by an older
 * transaction in another thread, allocation failure at every allocation of
 * every ops-list builder with each op allocator, and the structure checker
 * of the red-black tree on corrupted trees.
 *
 * Paths that abort (GPUVM_BUG_ON, gpuvm_bug) are tested in forked children
 * by test_lock, test_ww_mutex and test_gem; gcov cannot record them there.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drm/drm_exec.h"
#include "drm/drm_gpuvm.h"
#include "drm/gpuvm_apply.h"
#include "linux/dma-fence.h"
#include "linux/dma-resv.h"
#include "linux/slab.h"

#include "harness.h"
#include "lib/rbtree.h"
#include "vm_bo_fixture.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define IMM DRM_GPUVM_IMMEDIATE_MODE
#define PROT DRM_GPUVM_RESV_PROTECTED

/*
 * test_real_allocation_failure asks malloc for SIZE_MAX bytes; the sanitizers'
 * allocators would abort on that instead of returning NULL like the C library.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static unsigned long warns(void)
{
	return warn_log_count();
}

/* =============================================================== standin/slab.c */

static bool test_zero_size_allocations(void)
{
	long live0 = gpuvm_alloc_live();
	void *z = kzalloc(0, GFP_KERNEL);
	void *r;

	/* A zero-sized request is not an allocation failure. */
	ASSERT_NONNULL(z);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);
	r = krealloc(z, 0, GFP_KERNEL);
	ASSERT_NONNULL(r);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);
	kfree(r);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_real_allocation_failure(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long failures0 = gpuvm_alloc_failures();
	char *p = kmalloc(16, GFP_KERNEL);

	ASSERT_NONNULL(p);
	memset(p, 0x5a, 16);
	/* The C library refuses; nothing is counted as live or as injected. */
	ASSERT_NULL(kmalloc(SIZE_MAX, GFP_KERNEL));
	ASSERT_NULL(kzalloc(SIZE_MAX, GFP_KERNEL));
	ASSERT_NULL(krealloc(p, SIZE_MAX, GFP_KERNEL));
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);
	ASSERT_EQ(gpuvm_alloc_failures(), failures0);
	/* A failed resize leaves the block as it was. */
	for (int i = 0; i < 16; i++)
		ASSERT_EQ((unsigned char)p[i], 0x5a);
	kfree(p);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ================================================================ standin/bug.c */

/* Without a hook a WARN is printed to stderr, and still counted. */
static bool test_warn_without_hook_prints(void)
{
	unsigned long count0 = gpuvm_warn_count();
	FILE *tmp = tmpfile();
	char buf[512] = "";
	int saved;
	size_t n;

	ASSERT_NONNULL(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ASSERT_TRUE(saved >= 0);
	ASSERT_TRUE(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	gpuvm_set_warn_hook(NULL, NULL);
	gpuvm_warn("here.c", 42, "plain %s %d", "warn", 7);
	ASSERT_EQ(WARN(1, "expression form %d", 8), 1);
	ASSERT_EQ(WARN(0, "never"), 0);
	warn_log_install();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	ASSERT_EQ(gpuvm_warn_count(), count0 + 2);
	ASSERT_NONNULL(strstr(buf, "WARNING: here.c:42: plain warn 7\n"));
	ASSERT_NONNULL(strstr(buf, "expression form 8"));
	ASSERT_NULL(strstr(buf, "never"));
	return true;
}

static bool test_warn_function_with_hook(void)
{
	unsigned long w0 = warns();

	gpuvm_warn("file.c", 1, "formatted %x", 0xabc);
	ASSERT_EQ(warns(), w0 + 1);
	ASSERT_TRUE(warn_log_last_contains("formatted abc"));
	return true;
}

/* ============================================================ dma_fence.c */

static void cb_never(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	GPUVM_UNUSED(fence);
	GPUVM_UNUSED(cb);
}

static bool test_fence_misuse(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();
	struct dma_fence_cb cb;
	struct dma_fence *f;
	u64 ctx;

	/* Zero contexts: a WARN, and nothing is consumed. */
	ctx = dma_fence_context_alloc(0);
	ASSERT_EQ(warns(), w0 + 1);
	ASSERT_EQ(dma_fence_context_alloc(1), ctx);

	ASSERT_EQ(dma_fence_signal(NULL), -EINVAL);
	f = dma_fence_create(ctx, 1);
	ASSERT_NONNULL(f);
	dma_fence_set_error(f, 0); /* must be negative */
	ASSERT_EQ(warns(), w0 + 2);
	ASSERT_TRUE(warn_log_last_contains("non-negative"));
	ASSERT_EQ(dma_fence_wait_timeout(f, false, -1), -EINVAL);
	ASSERT_EQ(warns(), w0 + 3);
	ASSERT_EQ(dma_fence_signal(f), 0);
	dma_fence_set_error(f, -EIO); /* too late */
	ASSERT_EQ(warns(), w0 + 4);
	ASSERT_TRUE(warn_log_last_contains("signalled fence"));
	dma_fence_put(f);

	/* Freed with a callback that will now never run. */
	f = dma_fence_create(ctx, 2);
	ASSERT_NONNULL(f);
	ASSERT_EQ(dma_fence_add_callback(f, &cb, cb_never), 0);
	dma_fence_put(f);
	ASSERT_EQ(warns(), w0 + 5);
	ASSERT_TRUE(warn_log_last_contains("pending callbacks"));
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ============================================================= dma_resv.c */

struct signal_later {
	struct dma_fence *fence[2];
};

static void *signal_later_thread(void *arg)
{
	struct signal_later *s = arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	for (int i = 0; i < 2; i++) {
		nanosleep(&ts, NULL);
		dma_fence_signal(s->fence[i]);
	}
	return NULL;
}

static bool test_resv_misuse_and_limits(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns(), nh0 = warn_log_lock_not_held();
	struct dma_resv resv;
	struct dma_fence *a, *b;
	struct signal_later s;
	pthread_t t;
	unsigned int max;
	u64 ctx = dma_fence_context_alloc(1);

	dma_resv_init(&resv);
	/* Reserving needs the lock: asserted (and done all the same). */
	ASSERT_EQ(dma_resv_reserve_fences(&resv, 1), 0);
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);

	ASSERT_EQ(dma_resv_lock(&resv, NULL), 0);
	max = resv.max_fences;
	/* More slots than can ever be addressed: -ENOMEM, nothing changed. */
	ASSERT_EQ(dma_resv_reserve_fences(&resv, UINT_MAX), -ENOMEM);
	ASSERT_EQ(resv.max_fences, max);
	ASSERT_EQ(dma_resv_reserve_fences(&resv, UINT_MAX / 2 + 1), -ENOMEM);
	ASSERT_EQ(resv.max_fences, max);

	/* Zero slots is a caller's miscount: WARN and -EINVAL, as in the kernel. */
	ASSERT_EQ(dma_resv_reserve_fences(&resv, 0), -EINVAL);
	ASSERT_EQ(resv.max_fences, max);
	ASSERT_EQ(dma_resv_reserve_fences(&resv, 2), 0);
	dma_resv_add_fence(&resv, NULL, DMA_RESV_USAGE_WRITE);
	ASSERT_EQ(warns(), w0 + 3);
	ASSERT_EQ(resv.num_fences, 0);
	/* One timeline in two usages: two slots (only the same usage replaces). */
	a = dma_fence_create(ctx, 1);
	b = dma_fence_create(ctx, 2);
	ASSERT_TRUE(a && b);
	dma_resv_add_fence(&resv, a, DMA_RESV_USAGE_WRITE);
	dma_resv_add_fence(&resv, b, DMA_RESV_USAGE_READ);
	ASSERT_EQ(resv.num_fences, 2);
	dma_resv_unlock(&resv);
	ASSERT_EQ(dma_resv_wait_timeout(&resv, DMA_RESV_USAGE_BOOKKEEP, false, -5), -EINVAL);
	ASSERT_EQ(warns(), w0 + 4);

	/* Waiting without a timeout: each fence in turn, the budget untouched. */
	s.fence[0] = a;
	s.fence[1] = b;
	ASSERT_EQ(pthread_create(&t, NULL, signal_later_thread, &s), 0);
	ASSERT_EQ(dma_resv_wait_timeout(&resv, DMA_RESV_USAGE_BOOKKEEP, false,
					MAX_SCHEDULE_TIMEOUT), MAX_SCHEDULE_TIMEOUT);
	pthread_join(t, NULL);
	ASSERT_TRUE(dma_resv_test_signaled(&resv, DMA_RESV_USAGE_BOOKKEEP));
	dma_fence_put(a);
	dma_fence_put(b);
	dma_resv_fini(&resv);
	ASSERT_EQ(warns(), w0 + 4);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ============================================================ ww_mutex.c */

static struct ww_class test_ww_class = WW_CLASS_INIT("test_class");

struct other_thread {
	struct ww_acquire_ctx *ctx;
	struct ww_mutex *lock;
	int ret;
};

static void *use_ctx_thread(void *arg)
{
	struct other_thread *o = arg;

	o->ret = ww_mutex_lock(o->lock, o->ctx); /* somebody else's context */
	if (!o->ret)
		ww_mutex_unlock(o->lock);
	ww_acquire_done(o->ctx); /* and finishing it from here */
	return NULL;
}

static bool test_ww_misuse_warns(void)
{
	static struct ww_class other = WW_CLASS_INIT("other_class");
	unsigned long w0 = warns();
	struct ww_acquire_ctx ctx;
	struct ww_mutex a, b;
	struct other_thread o;
	pthread_t t;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_init(&b, &other);

	/* A context of another class. */
	ww_acquire_init(&ctx, &test_ww_class);
	ASSERT_EQ(ww_mutex_lock(&b, &ctx), 0);
	ASSERT_EQ(warns(), w0 + 1);
	ASSERT_TRUE(warn_log_last_contains("other_class"));
	ww_mutex_unlock(&b);
	/* A lock initialised without a class: still compared, and named. */
	{
		struct ww_mutex nc;

		ww_mutex_init(&nc, NULL);
		ASSERT_EQ(ww_mutex_lock(&nc, &ctx), 0);
		ASSERT_TRUE(warn_log_last_contains("(null)"));
		ww_mutex_unlock(&nc);
		ww_mutex_destroy(&nc);
		w0++;
	}

	/* The slow path on a lock the context holds: -EALREADY is a caller bug. */
	ASSERT_EQ(ww_mutex_lock(&a, &ctx), 0);
	ww_mutex_lock_slow(&a, &ctx);
	ASSERT_TRUE(warn_log_last_contains("already holds"));
	ASSERT_EQ(warns(), w0 + 3); /* and "with 1 other locks held" before it */
	ww_mutex_unlock(&a);

	/* The slow path without a context is a plain lock. */
	ww_mutex_lock_slow(&a, NULL);
	ASSERT_TRUE(ww_mutex_held_by_me(&a));
	ww_mutex_unlock(&a);
	ASSERT_EQ(warns(), w0 + 3);

	/* A context used and finished by a thread that does not own it. */
	o = (struct other_thread){ .ctx = &ctx, .lock = &a };
	ASSERT_EQ(pthread_create(&t, NULL, use_ctx_thread, &o), 0);
	pthread_join(t, NULL);
	ASSERT_EQ(o.ret, 0);
	ASSERT_EQ(warns(), w0 + 5);
	ASSERT_TRUE(warn_log_last_contains("ww_acquire_done"));
	ww_acquire_fini(&ctx);
	ASSERT_EQ(warns(), w0 + 5);
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&b);
	return true;
}

/* =================================================== older transactions */

/*
 * An older transaction in another thread: takes @lock with an acquire
 * context initialised before the test's own (so the test's dies on it), and
 * releases it once the test's drm_exec has backed off from it, which shows
 * as the reference the exec takes on a contended object. Deterministic: no
 * sleeping, and a deadline turns a missing back-off into a test failure.
 */
struct older {
	struct drm_gem_object *obj;
	struct ww_acquire_ctx ctx;
	atomic_int state; /* 1: holding; 2: released after the back-off; 3: timed out */
	pthread_t thread;
};

static void *older_thread(void *arg)
{
	struct older *o = arg;
	unsigned int base;
	time_t deadline = time(NULL) + 20;

	/* Stamped before the test's transaction exists: this one is older. */
	ww_acquire_init(&o->ctx, &reservation_ww_class);
	GPUVM_BUG_ON(dma_resv_lock(o->obj->resv, &o->ctx) != 0);
	base = kref_read(&o->obj->refcount);
	atomic_store(&o->state, 1);
	while (kref_read(&o->obj->refcount) <= base && time(NULL) < deadline)
		sched_yield();
	atomic_store(&o->state, kref_read(&o->obj->refcount) > base ? 2 : 3);
	dma_resv_unlock(o->obj->resv);
	ww_acquire_fini(&o->ctx);
	return NULL;
}

static bool older_start(struct older *o, struct drm_gem_object *obj)
{
	o->obj = obj;
	atomic_init(&o->state, 0);
	if (pthread_create(&o->thread, NULL, older_thread, o))
		return false;
	while (atomic_load(&o->state) == 0)
		sched_yield();
	return true;
}

static int older_join(struct older *o)
{
	pthread_join(o->thread, NULL);
	return atomic_load(&o->state);
}

/* ============================================================= drm_exec.c */

/*
 * After a back-off the contended object is locked first, then claimed by the
 * lock call of the next pass; if recording it fails (-ENOMEM) it is unlocked
 * and forgotten. An exec with room for one object makes the claim grow it.
 */
static bool test_exec_prelocked_claim_enomem(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *a = drm_gem_object_create(NULL, 0x1000, NULL);
	struct drm_gem_object *x = drm_gem_object_create(NULL, 0x1000, NULL);
	struct drm_exec exec;
	struct older o;
	int pass = 0, ret = 0;

	ASSERT_TRUE(a && x);
	ASSERT_TRUE(older_start(&o, x));
	drm_exec_init(&exec, 0, 1);
	drm_exec_until_all_locked(&exec) {
		pass++;
		ret = drm_exec_lock_obj(&exec, a);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		if (pass == 2)
			gpuvm_alloc_fail_nth(1);
		ret = drm_exec_lock_obj(&exec, x);
		gpuvm_alloc_fail_nth(0);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	ASSERT_EQ(older_join(&o), 2);
	ASSERT_EQ(pass, 2);
	ASSERT_EQ(ret, -ENOMEM);
	ASSERT_EQ(exec.num_backoffs, 1);
	ASSERT_NULL(exec.prelocked);
	ASSERT_FALSE(dma_resv_is_locked(x->resv));
	ASSERT_TRUE(dma_resv_held(a->resv));
	ASSERT_EQ(exec.num_objects, 1);
	drm_exec_fini(&exec);
	ASSERT_EQ(kref_read(&x->refcount), 1);
	drm_gem_object_put(a);
	drm_gem_object_put(x);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * The object array doubles when full; at 2^31 entries doubling would wrap to
 * zero. Reaching that for real takes 2^31 locked objects, so the counters
 * are set by hand to the full state and put back before the exec is used.
 */
static bool test_exec_array_overflow_guard(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *a = drm_gem_object_create(NULL, 0x1000, NULL);
	unsigned int num, max;
	struct drm_exec exec;
	int ret = 0;

	ASSERT_NONNULL(a);
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		num = exec.num_objects;
		max = exec.max_objects;
		exec.num_objects = exec.max_objects = 1u << 31;
		ret = drm_exec_lock_obj(&exec, a);
		exec.num_objects = num;
		exec.max_objects = max;
		drm_exec_retry_on_contention(&exec);
	}
	ASSERT_EQ(ret, -ENOMEM);
	ASSERT_FALSE(dma_resv_is_locked(a->resv)); /* unlocked again */
	ASSERT_EQ(kref_read(&a->refcount), 1);
	drm_exec_fini(&exec);
	drm_gem_object_put(a);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_exec_prepare_array_stops_at_the_first_error(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *o[3];
	struct drm_exec exec;
	int ret = 0;

	for (int i = 0; i < 2; i++) {
		o[i] = drm_gem_object_create(NULL, 0x1000, NULL);
		ASSERT_NONNULL(o[i]);
	}
	o[2] = o[0]; /* a duplicate, not ignored */
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_exec_prepare_array(&exec, o, 3, 1);
		drm_exec_retry_on_contention(&exec);
	}
	ASSERT_EQ(ret, -EALREADY);
	ASSERT_EQ(exec.num_objects, 2);
	drm_exec_fini(&exec);
	drm_gem_object_put(o[0]);
	drm_gem_object_put(o[1]);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ============================================================== standin/drm_gem.c */

static bool test_gem_funcs_without_free(void)
{
	long live0 = gpuvm_alloc_live();
	static const struct drm_gem_object_funcs no_free = { .free = NULL };
	struct drm_device *drm = drm_dev_alloc("embedded");
	struct {
		int driver_data;
		struct drm_gem_object base;
	} bo = { 0 };

	ASSERT_NONNULL(drm);
	drm_gem_private_object_init(drm, &bo.base, 0x1000);
	bo.base.funcs = &no_free;
	/* As in the kernel, init takes no device reference. */
	ASSERT_EQ(kref_read(&drm->ref), 1);
	/* Embedded memory: the last put only releases. */
	drm_gem_object_put(&bo.base);
	ASSERT_EQ(kref_read(&drm->ref), 1);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ================================================================ gpuvm.c */

/*
 * A VM without an ops table (embedded, so nothing can be freed through
 * vm_free): validate has no callback, vm_bos use the default allocator, and
 * the last put only WARNs.
 */
static bool test_vm_without_ops(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();
	struct drm_gem_object *r_obj = drm_gpuvm_resv_object_alloc(NULL);
	struct drm_gem_object *obj = drm_gem_object_create(NULL, 0x1000, NULL);
	struct drm_gpuvm vm = { 0 };
	struct drm_gpuvm_bo *vm_bo;
	struct drm_exec exec;

	ASSERT_TRUE(r_obj && obj);
	drm_gpuvm_init(&vm, "no-ops", 0, NULL, r_obj, 0, 1ull << 32, 0, 0, NULL);
	drm_gem_object_put(r_obj);
	vm_bo = drm_gpuvm_bo_create(&vm, obj);
	ASSERT_NONNULL(vm_bo);
	ASSERT_EQ(kref_read(&vm.kref), 2);
	drm_exec_init(&exec, 0, 0);
	ASSERT_EQ(drm_gpuvm_validate(&vm, &exec), -EOPNOTSUPP);
	drm_exec_fini(&exec);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	ASSERT_EQ(warns(), w0);
	drm_gpuvm_put(&vm);
	ASSERT_EQ(warns(), w0 + 1);
	ASSERT_TRUE(warn_log_last_contains("vm_free is missing"));
	ASSERT_NULL(vm.name);
	drm_gem_object_put(obj);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Removing what is not in a VM: a WARN, no corruption, no reference dropped. */
static bool test_remove_what_is_not_inserted(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();
	struct drm_gpuvm *vm = vm_new(NULL, 0);
	struct drm_gpuva never = { 0 }, uninit = { 0 }, twice = { 0 };

	ASSERT_NONNULL(vm);
	drm_gpuva_remove(&never); /* va->vm NULL */
	ASSERT_EQ(warns(), w0 + 1);
	uninit.vm = vm; /* list node never initialised */
	drm_gpuva_remove(&uninit);
	ASSERT_EQ(warns(), w0 + 2);
	drm_gpuva_init_lists(&twice);
	twice.va.addr = 0x10000;
	twice.va.range = 0x1000;
	ASSERT_EQ(drm_gpuva_insert(vm, &twice), 0);
	drm_gpuva_remove(&twice);
	ASSERT_EQ(warns(), w0 + 2);
	drm_gpuva_remove(&twice);
	ASSERT_EQ(warns(), w0 + 3);
	ASSERT_TRUE(warn_log_last_contains("not in a VM"));
	ASSERT_EQ(kref_read(&vm->kref), 1);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ============================================================ gpuvm_exec.c */

static bool wait_refs(struct drm_gem_object *obj, unsigned int base, bool above)
{
	time_t deadline = time(NULL) + 20;

	for (;;) {
		unsigned int now = kref_read(&obj->refcount);

		if (above ? now > base : now == base)
			return true;
		if (time(NULL) >= deadline)
			return false;
		sched_yield();
	}
}

/*
 * drm_gpuvm_exec_lock() backing off on the VM resv itself: that needs the
 * young transaction to hold something when it locks the VM resv, i.e. a
 * second pass starting with the prelocked extobj X. The older transaction
 * goes step by step, each step waiting for what the young one visibly did
 * (the references a drm_exec takes on what it locks or contends on):
 *
 *	older                         young (drm_gpuvm_exec_lock)
 *	1. holds X                    VM resv, then dies on X
 *	2. takes the VM resv          (waits for the young one's back-off)
 *	3. releases X                 X (slow path), then dies on the VM resv
 *	4. releases the VM resv       VM resv (slow path), X: all locked
 */
struct older_vm {
	struct drm_gem_object *x, *r_obj;
	atomic_int state; /* 1: holding X; 2: done; 3: a step timed out */
};

static void *older_vm_thread(void *arg)
{
	struct older_vm *o = arg;
	struct ww_acquire_ctx ctx;
	unsigned int xbase, rbase;
	bool ok;

	ww_acquire_init(&ctx, &reservation_ww_class);
	GPUVM_BUG_ON(dma_resv_lock(o->x->resv, &ctx) != 0);
	xbase = kref_read(&o->x->refcount);
	rbase = kref_read(&o->r_obj->refcount);
	atomic_store(&o->state, 1);
	ok = wait_refs(o->x, xbase, true);
	if (ok) {
		GPUVM_BUG_ON(dma_resv_lock(o->r_obj->resv, &ctx) != 0);
		/* Its reference on the VM resv object goes right after the unlock. */
		ok = wait_refs(o->r_obj, rbase, false);
	}
	dma_resv_unlock(o->x->resv);
	if (ok)
		ok = wait_refs(o->r_obj, rbase, true);
	if (dma_resv_held(o->r_obj->resv))
		dma_resv_unlock(o->r_obj->resv);
	ww_acquire_fini(&ctx);
	atomic_store(&o->state, ok ? 2 : 3);
	return NULL;
}

static bool test_exec_lock_backs_off_on_the_vm_resv(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_new(NULL, 0);
	struct drm_gem_object *x = gem_new(NULL);
	struct drm_gpuvm_exec vm_exec = { 0 };
	struct drm_gpuvm_bo *vm_bo;
	struct older_vm o;
	pthread_t t;

	ASSERT_TRUE(vm && x);
	vm_bo = drm_gpuvm_bo_obtain(vm, x);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	drm_gpuvm_bo_extobj_add(vm_bo);
	o.x = x;
	o.r_obj = vm->r_obj;
	atomic_init(&o.state, 0);
	ASSERT_EQ(pthread_create(&t, NULL, older_vm_thread, &o), 0);
	while (atomic_load(&o.state) == 0)
		sched_yield();
	vm_exec.vm = vm;
	vm_exec.num_fences = 1;
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	pthread_join(t, NULL);
	ASSERT_EQ(atomic_load(&o.state), 2);
	ASSERT_EQ(vm_exec.exec.num_backoffs, 2);
	ASSERT_EQ(vm_exec.exec.num_objects, 2);
	ASSERT_EQ(vm_exec.exec.objects[0], vm->r_obj);
	ASSERT_EQ(vm_exec.exec.objects[1], x);
	drm_gpuvm_exec_unlock(&vm_exec);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	drm_gem_object_put(x);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}


/*
 *	0x10000   0x20000
 *	|aaaaaaaa|bbbbbbbb|     exec_lock_range locks a, then dies on b, held by
 *	                        an older transaction: back off, then both.
 */
static bool test_exec_lock_range_backs_off(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_new(NULL, 0);
	struct drm_gem_object *a = gem_new(NULL), *b = gem_new(NULL);
	struct drm_gpuvm_exec vm_exec = { 0 };
	struct drm_gpuva *va, *vb;
	struct older o;

	ASSERT_TRUE(vm && a && b);
	va = va_insert(vm, 0x10000, 0x10000, a, 0);
	vb = va_insert(vm, 0x20000, 0x10000, b, 0);
	ASSERT_TRUE(va && vb);
	vm_exec.vm = vm;
	vm_exec.num_fences = 1;
	ASSERT_TRUE(older_start(&o, b));
	ASSERT_EQ(drm_gpuvm_exec_lock_range(&vm_exec, 0x10000, 0x20000), 0);
	ASSERT_EQ(older_join(&o), 2);
	ASSERT_EQ(vm_exec.exec.num_backoffs, 1);
	ASSERT_EQ(vm_exec.exec.num_objects, 2);
	ASSERT_TRUE(dma_resv_held(a->resv) && dma_resv_held(b->resv));
	ASSERT_EQ(b->resv->num_reserved, 1);
	drm_gpuvm_exec_unlock(&vm_exec);
	va_destroy(va);
	va_destroy(vb);
	drm_gem_object_put(a);
	drm_gem_object_put(b);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* The same in the extra step: an array object held by an older transaction. */
static bool test_exec_lock_array_backs_off(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_new(NULL, 0);
	struct drm_gem_object *c = gem_new(NULL);
	struct drm_gpuvm_exec vm_exec = { 0 };
	struct older o;

	ASSERT_TRUE(vm && c);
	vm_exec.vm = vm;
	/* The array objects' fences are reserved: zero would be -EINVAL. */
	vm_exec.num_fences = 1;
	ASSERT_TRUE(older_start(&o, c));
	ASSERT_EQ(drm_gpuvm_exec_lock_array(&vm_exec, &c, 1), 0);
	ASSERT_EQ(older_join(&o), 2);
	ASSERT_EQ(vm_exec.exec.num_backoffs, 1);
	ASSERT_EQ(vm_exec.exec.num_objects, 2);
	ASSERT_TRUE(dma_resv_held(c->resv) && drm_gpuvm_resv_held(vm));
	drm_gpuvm_exec_unlock(&vm_exec);
	drm_gem_object_put(c);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static int validate_drop_lock(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec)
{
	/* A driver bug: the object's lock is gone when validate looks again. */
	drm_exec_unlock_obj(exec, vm_bo->obj);
	vm_bo->evicted = false;
	return 0;
}

static const struct drm_gpuvm_ops drop_lock_ops = {
	.vm_free = fixture_vm_free,
	.vm_bo_validate = validate_drop_lock,
};

/*
 * RESV_PROTECTED: the lists need the VM resv (asserted by prepare_objects),
 * and validate reads vm_bo->evicted under the object's resv (asserted after
 * the callback). resv_add_fence asserts each object is still locked.
 */
static bool test_exec_assertions(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long nh0 = warn_log_lock_not_held();
	struct drm_gpuvm *vm = vm_new_ops(NULL, PROT, &drop_lock_ops);
	struct drm_gem_object *a = gem_new(NULL);
	struct drm_gpuvm_bo *vm_bo;
	struct drm_exec exec;
	struct dma_fence *f;
	int ret = 0;

	ASSERT_TRUE(vm && a);
	dma_resv_lock(drm_gpuvm_resv(vm), NULL);
	vm_bo = drm_gpuvm_bo_obtain(vm, a);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	drm_gpuvm_bo_extobj_add(vm_bo);
	dma_resv_unlock(drm_gpuvm_resv(vm));

	/* prepare_objects without the VM resv. */
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_objects(vm, &exec, 1);
		drm_exec_retry_on_contention(&exec);
	}
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);
	ASSERT_TRUE(dma_resv_held(a->resv));
	drm_exec_fini(&exec);

	/* validate with a callback that unlocks the object it validates. */
	dma_resv_lock(a->resv, NULL);
	drm_gpuvm_bo_evict(vm_bo, true);
	dma_resv_unlock(a->resv);
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(vm, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
		ret = drm_gpuvm_prepare_objects(vm, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
	}
	ASSERT_TRUE(on_evict(vm_bo));
	ASSERT_EQ(drm_gpuvm_validate(vm, &exec), 0);
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 2);
	ASSERT_FALSE(on_evict(vm_bo)); /* evicted read false all the same */

	/* resv_add_fence on an object unlocked behind the exec's back. */
	f = dma_fence_create(dma_fence_context_alloc(1), 1);
	ASSERT_NONNULL(f);
	dma_resv_unlock(drm_gpuvm_resv(vm));
	drm_gpuvm_resv_add_fence(vm, &exec, f, DMA_RESV_USAGE_BOOKKEEP, DMA_RESV_USAGE_BOOKKEEP);
	ASSERT_TRUE(warn_log_lock_not_held() >= nh0 + 3);
	dma_resv_lock(drm_gpuvm_resv(vm), NULL);
	drm_exec_fini(&exec);
	dma_fence_signal(f);
	dma_fence_put(f);

	dma_resv_lock(drm_gpuvm_resv(vm), NULL);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	dma_resv_unlock(drm_gpuvm_resv(vm));
	drm_gem_object_put(a);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* =================================================================== vm_bo.c */

/*
 * Staged + RESV_PROTECTED: the caller holds the object's resv but not the
 * VM's when the last reference goes. The put takes the VM resv by itself
 * (out of lock order, as a caller of the _locked form would) and leaves the
 * object's resv held as it found it.
 */
static bool test_last_put_under_the_object_resv_only(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();
	struct drm_gpuvm *vm = vm_new(NULL, PROT);
	struct drm_gem_object *a = gem_new(NULL);
	struct drm_gpuvm_bo *vm_bo;

	ASSERT_TRUE(vm && a);
	vm_bo = drm_gpuvm_bo_obtain(vm, a);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	dma_resv_lock(drm_gpuvm_resv(vm), NULL);
	drm_gpuvm_bo_extobj_add(vm_bo);
	dma_resv_unlock(drm_gpuvm_resv(vm));

	dma_resv_lock(a->resv, NULL);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	ASSERT_TRUE(dma_resv_held(a->resv));
	ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(vm)));
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	ASSERT_TRUE(list_empty(&a->gpuva.list));
	dma_resv_unlock(a->resv);
	ASSERT_EQ(warns(), w0);
	drm_gem_object_put(a);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * Staged + RESV_PROTECTED, plain unlink dropping the last reference without
 * the VM resv: it lets go of the gpuva lock and starts over with both locks.
 */
static bool test_unlink_last_ref_takes_the_vm_resv(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();
	struct drm_gpuvm *vm = vm_new(NULL, PROT);
	struct drm_gem_object *a = gem_new(NULL);
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *va;

	ASSERT_TRUE(vm && a);
	va = va_insert(vm, 0x10000, 0x1000, a, 0);
	ASSERT_NONNULL(va);
	vm_bo = drm_gpuvm_bo_obtain(vm, a);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	dma_resv_lock(drm_gpuvm_resv(vm), NULL);
	drm_gpuvm_bo_extobj_add(vm_bo);
	dma_resv_unlock(drm_gpuvm_resv(vm));
	drm_gpuva_link(va, vm_bo);
	ASSERT_FALSE(drm_gpuvm_bo_put(vm_bo)); /* the VA's reference remains */

	drm_gpuva_unlink(va);
	ASSERT_NULL(va->vm_bo);
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	ASSERT_TRUE(list_empty(&a->gpuva.list));
	ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(vm)));
	ASSERT_FALSE(dma_resv_is_locked(a->resv));
	ASSERT_EQ(kref_read(&a->refcount), 1);
	ASSERT_EQ(warns(), w0);
	drm_gpuva_remove(va);
	kfree(va);
	drm_gem_object_put(a);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Link/unlink of VAs that have no GEM, or a GEM but no vm_bo. */
static bool test_link_unlink_degenerate_vas(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();
	static const enum drm_gpuvm_flags modes[] = { 0, IMM };

	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		struct drm_gpuvm *vm = vm_new(NULL, modes[m]);
		struct drm_gem_object *a = gem_new(NULL), *b = gem_new(NULL);
		struct drm_gpuvm_bo *vm_bo;
		struct drm_gpuva *sparse, *raw, *inited;

		ASSERT_TRUE(vm && a && b);
		if (modes[m]) {
			vm_bo = drm_gpuvm_bo_create(vm, a);
			ASSERT_NONNULL(vm_bo);
			vm_bo = drm_gpuvm_bo_obtain_prealloc(vm_bo);
		} else {
			vm_bo = drm_gpuvm_bo_obtain(vm, a);
		}
		ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));

		/* No GEM: every form is a no-op. */
		sparse = va_insert(vm, 0x10000, 0x1000, NULL, 0);
		ASSERT_NONNULL(sparse);
		drm_gpuva_link(sparse, vm_bo);
		drm_gpuva_link_locked(sparse, vm_bo);
		ASSERT_NULL(sparse->vm_bo);
		ASSERT_EQ(vm_bo_refs(vm_bo), 1);

		/* A GEM but never linked, list node never initialised (kzalloc). */
		raw = kzalloc(sizeof(*raw), GFP_KERNEL);
		ASSERT_NONNULL(raw);
		raw->gem.obj = a;
		drm_gpuva_unlink_locked(raw);
		drm_gpuva_unlink(raw);
		if (modes[m])
			drm_gpuva_unlink_defer(raw);
		ASSERT_NULL(raw->gem.entry.next);
		/* Initialised but never linked. */
		inited = va_new(0x20000, 0x1000, a, 0);
		ASSERT_NONNULL(inited);
		drm_gpuva_unlink_locked(inited);
		drm_gpuva_unlink(inited);
		if (modes[m])
			drm_gpuva_unlink_defer(inited);
		ASSERT_TRUE(list_empty(&inited->gem.entry));
		ASSERT_EQ(vm_bo_refs(vm_bo), 1);
		ASSERT_EQ(warns(), w0);

		/* The _locked link of a VA whose GEM is not the vm_bo's: WARN, linked. */
		inited->gem.obj = b;
		if (modes[m])
			mutex_lock(&b->gpuva.lock);
		else
			dma_resv_lock(b->resv, NULL);
		drm_gpuva_link_locked(inited, vm_bo);
		if (modes[m])
			mutex_unlock(&b->gpuva.lock);
		else
			dma_resv_unlock(b->resv);
		ASSERT_EQ(warns(), w0 + 1);
		ASSERT_TRUE(warn_log_last_contains("differs"));
		ASSERT_EQ(inited->vm_bo, vm_bo);
		inited->gem.obj = a;
		drm_gpuva_unlink(inited);
		ASSERT_EQ(vm_bo_refs(vm_bo), 1);
		w0 = warns();

		kfree(raw);
		kfree(inited);
		drm_gpuva_remove(sparse);
		kfree(sparse);
		if (modes[m]) {
			ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vm_bo));
			drm_gpuvm_bo_deferred_cleanup(vm);
		} else {
			ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
		}
		drm_gem_object_put(a);
		drm_gem_object_put(b);
		drm_gpuvm_put(vm);
	}
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_vm_bo_api_misuse_warns(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns(), nh0 = warn_log_lock_not_held();
	struct drm_gpuvm *vm = vm_new(NULL, 0), *ivm = vm_new(NULL, IMM);
	struct drm_gem_object *a = gem_new(NULL), *b = gem_new(NULL);
	struct drm_gpuvm_bo *vm_bo, *pre, *got;

	ASSERT_TRUE(vm && ivm && a && b);

	/* obtain_locked without the lock: find and the insertion both say so. */
	vm_bo = drm_gpuvm_bo_obtain_locked(vm, a);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 2);
	ASSERT_TRUE(on_gem(vm_bo, a));
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	w0 = warns();

	/* obtain_prealloc needs a fresh vm_bo: one with a second reference WARNs. */
	pre = drm_gpuvm_bo_create(ivm, b);
	ASSERT_NONNULL(pre);
	drm_gpuvm_bo_get(pre);
	got = drm_gpuvm_bo_obtain_prealloc(pre);
	ASSERT_EQ(got, pre);
	ASSERT_EQ(warns(), w0 + 1);
	ASSERT_TRUE(warn_log_last_contains("fresh vm_bo"));
	ASSERT_EQ(vm_bo_refs(got), 2);

	/* put_deferred under the gpuva mutex: WARN (not the last reference here). */
	mutex_lock(&b->gpuva.lock);
	ASSERT_FALSE(drm_gpuvm_bo_put_deferred(got));
	mutex_unlock(&b->gpuva.lock);
	ASSERT_EQ(warns(), w0 + 2);
	ASSERT_TRUE(warn_log_last_contains("gpuva lock held"));
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(got));
	drm_gpuvm_bo_deferred_cleanup(ivm);
	ASSERT_EQ(warns(), w0 + 2);

	drm_gem_object_put(a);
	drm_gem_object_put(b);
	drm_gpuvm_put(vm);
	drm_gpuvm_put(ivm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * gem_evict takes the object's resv and its gpuva mutex unless this thread
 * already holds them, and leaves held locks held.
 */
static bool test_gem_evict_under_held_locks(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();
	struct drm_gpuvm *vm = vm_new(NULL, IMM);
	struct drm_gem_object *a = gem_new(NULL);
	struct drm_gpuvm_bo *i, *pre;

	ASSERT_TRUE(vm && a);
	pre = drm_gpuvm_bo_create(vm, a);
	ASSERT_NONNULL(pre);
	i = drm_gpuvm_bo_obtain_prealloc(pre);

	/* Both held. */
	dma_resv_lock(a->resv, NULL);
	mutex_lock(&a->gpuva.lock);
	drm_gpuvm_bo_gem_evict(a, true);
	ASSERT_TRUE(dma_resv_held(a->resv) && mutex_held_by_me(&a->gpuva.lock));
	mutex_unlock(&a->gpuva.lock);
	ASSERT_TRUE(i->evicted && on_evict(i));
	/* Only the resv held: the mutex is taken and released inside. */
	drm_gpuvm_bo_gem_evict(a, false);
	ASSERT_FALSE(mutex_is_locked(&a->gpuva.lock));
	ASSERT_TRUE(dma_resv_held(a->resv));
	dma_resv_unlock(a->resv);
	ASSERT_FALSE(i->evicted || on_evict(i));
	ASSERT_EQ(warns(), w0);

	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(i));
	drm_gpuvm_bo_deferred_cleanup(vm);
	drm_gem_object_put(a);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ==================================================================== sm.c */

/* A driver op allocator, with or without the matching op_free. */
static atomic_uint op_allocs, op_frees;

static struct drm_gpuva_op *drv_op_alloc(void)
{
	struct drm_gpuva_op *op = kzalloc(sizeof(*op), GFP_KERNEL);

	if (op)
		atomic_fetch_add(&op_allocs, 1);
	return op;
}

static void drv_op_free(struct drm_gpuva_op *op)
{
	atomic_fetch_add(&op_frees, 1);
	kfree(op);
}

static const struct drm_gpuvm_ops ops_default = { .vm_free = fixture_vm_free };
static const struct drm_gpuvm_ops ops_alloc_free = {
	.vm_free = fixture_vm_free, .op_alloc = drv_op_alloc, .op_free = drv_op_free,
};
static const struct drm_gpuvm_ops ops_alloc_only = {
	.vm_free = fixture_vm_free, .op_alloc = drv_op_alloc,
};

struct sm_scene {
	struct drm_gpuvm *vm;
	struct drm_gem_object *a, *b, *c, *d;
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *va[12];
	size_t nva;
};

/*
 * Many VAs, so that lists are longer than the inline room of an ops list and
 * every kind of step falls on an allocated op:
 *
 *	0   1   2   3   4   5   6   7   8   9   a   b   c   d   e   f  10  11
 *	....aaaaaaaa....bbbb....cccc....----....aaaa....----....----....aaaaaaaa
 *	                                 (- no GEM)
 */
static bool scene_init(struct sm_scene *s, const struct drm_gpuvm_ops *ops)
{
	static const struct { u64 addr, range; int obj; } layout[] = {
		{ 0x1000, 0x2000, 1 }, { 0x4000, 0x1000, 2 }, { 0x6000, 0x1000, 3 },
		{ 0x8000, 0x1000, 0 }, { 0xa000, 0x1000, 1 }, { 0xc000, 0x1000, 0 },
		{ 0xe000, 0x1000, 0 }, { 0x10000, 0x2000, 1 },
	};

	memset(s, 0, sizeof(*s));
	s->vm = vm_new_ops(NULL, 0, ops);
	s->a = gem_new(NULL);
	s->b = gem_new(NULL);
	s->c = gem_new(NULL);
	s->d = gem_new(NULL);
	if (!s->vm || !s->a || !s->b || !s->c || !s->d)
		return false;
	s->vm_bo = drm_gpuvm_bo_obtain(s->vm, s->a);
	if (IS_ERR_OR_NULL(s->vm_bo))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(layout); i++) {
		struct drm_gem_object *objs[] = { NULL, s->a, s->b, s->c };
		struct drm_gpuva *va = va_insert(s->vm, layout[i].addr, layout[i].range,
						 objs[layout[i].obj], layout[i].addr);

		if (!va)
			return false;
		if (va->gem.obj == s->a)
			drm_gpuva_link(va, s->vm_bo);
		s->va[s->nva++] = va;
	}
	return true;
}

static void scene_fini(struct sm_scene *s)
{
	for (size_t i = 0; i < s->nva; i++)
		va_destroy(s->va[i]);
	if (!IS_ERR_OR_NULL(s->vm_bo))
		drm_gpuvm_bo_put(s->vm_bo);
	drm_gem_object_put(s->a);
	drm_gem_object_put(s->b);
	drm_gem_object_put(s->c);
	drm_gem_object_put(s->d);
	drm_gpuvm_put(s->vm);
}

enum builder {
	B_MAP, B_MAP_ONE, B_MAP_EXACT, B_MAP_AT, B_MAP_TAIL,
	B_MADVISE, B_MADVISE_EDGES, B_UNMAP, B_PREFETCH, B_BO_UNMAP,
};

static struct drm_gpuva_ops *build(struct sm_scene *s, enum builder which)
{
	struct drm_gpuvm_map_req req = { 0 };

	switch (which) {
	case B_MAP: /* remap(prev), 6 unmaps, remap(next), map */
		req.map.va.addr = 0x2000;
		req.map.va.range = 0xf000;
		req.map.gem.obj = s->d;
		return drm_gpuvm_sm_map_ops_create(s->vm, &req);
	case B_MAP_ONE: /* one remap with both pieces, then the map */
		req.map.va.addr = 0x1800;
		req.map.va.range = 0x800;
		return drm_gpuvm_sm_map_ops_create(s->vm, &req);
	case B_MAP_EXACT: /* a == A, e == E: unmap, map */
		req.map.va.addr = 0x4000;
		req.map.va.range = 0x1000;
		return drm_gpuvm_sm_map_ops_create(s->vm, &req);
	case B_MAP_AT: /* a == A, e < E: unmap and go on; a > A, e == E: unmap; map */
		req.map.va.addr = 0x4000;
		req.map.va.range = 0x3000;
		return drm_gpuvm_sm_map_ops_create(s->vm, &req);
	case B_MAP_TAIL: /* a < A, e == E: remap(prev), map */
		req.map.va.addr = 0x2000;
		req.map.va.range = 0x1000;
		return drm_gpuvm_sm_map_ops_create(s->vm, &req);
	case B_MADVISE: /* GEM-less VAs split at both ends, mapped in the loop */
		req.map.va.addr = 0x8800;
		req.map.va.range = 0x6000;
		req.map.gem.obj = s->d;
		return drm_gpuvm_madvise_ops_create(s->vm, &req);
	case B_MADVISE_EDGES: /* remap(next) + final map(req) */
		req.map.va.addr = 0xc000;
		req.map.va.range = 0x800;
		return drm_gpuvm_madvise_ops_create(s->vm, &req);
	case B_UNMAP:
		return drm_gpuvm_sm_unmap_ops_create(s->vm, 0x2000, 0xf000);
	case B_PREFETCH:
		return drm_gpuvm_prefetch_ops_create(s->vm, 0, 0x20000);
	case B_BO_UNMAP:
		return drm_gpuvm_bo_unmap_ops_create(s->vm_bo);
	}
	return ERR_PTR(-EINVAL);
}

static size_t count_ops(struct drm_gpuva_ops *ops)
{
	struct drm_gpuva_op *op;
	size_t n = 0;

	drm_gpuva_for_each_op(op, ops)
		n++;
	return n;
}

/* The tree as (addr, range) pairs, to compare before and after. */
static size_t snapshot(struct drm_gpuvm *vm, u64 *out, size_t max)
{
	struct drm_gpuva *va;
	size_t n = 0;

	drm_gpuvm_for_each_va(va, vm) {
		if (n + 2 <= max) {
			out[n] = va->va.addr;
			out[n + 1] = va->va.range;
		}
		n += 2;
	}
	return n;
}

/*
 * Fail the n-th allocation of one builder for n = 1, 2, ... until it
 * succeeds: every failure is ERR_PTR(-ENOMEM), leaks nothing, and leaves the
 * tree and the vm_bo as they were (the kernel leaks in one case).
 */
static bool fail_every_allocation(const struct drm_gpuvm_ops *ops, enum builder which,
				  size_t want_ops)
{
	struct sm_scene s;
	struct drm_gpuva_ops *list;
	u64 before[64], after[64];
	size_t nb, na;
	unsigned int n;

	if (!scene_init(&s, ops))
		return false;
	nb = snapshot(s.vm, before, 64);
	for (n = 1;; n++) {
		long live = gpuvm_alloc_live();
		unsigned long failures = gpuvm_alloc_failures();
		unsigned int refs = vm_bo_refs(s.vm_bo);

		gpuvm_alloc_fail_nth(n);
		list = build(&s, which);
		gpuvm_alloc_fail_nth(0);
		if (gpuvm_alloc_failures() == failures)
			break;
		ASSERT_TRUE(IS_ERR(list));
		ASSERT_EQ(PTR_ERR(list), -ENOMEM);
		ASSERT_EQ(gpuvm_alloc_live(), live);
		ASSERT_EQ(vm_bo_refs(s.vm_bo), refs);
		na = snapshot(s.vm, after, 64);
		ASSERT_EQ(na, nb);
		ASSERT_EQ(memcmp(before, after, nb * sizeof(u64)), 0);
	}
	ASSERT_FALSE(IS_ERR_OR_NULL(list));
	ASSERT_EQ(count_ops(list), want_ops);
	ASSERT_TRUE(n >= 2);
	drm_gpuva_ops_free(s.vm, list);
	scene_fini(&s);
	return true;
}

static bool test_ops_create_fails_cleanly_everywhere(void)
{
	static const struct { enum builder which; size_t ops; const char *name; } builders[] = {
		{ B_MAP, 9, "sm_map" },
		{ B_MAP_ONE, 2, "sm_map one remap" },
		{ B_MAP_EXACT, 2, "sm_map exact" },
		{ B_MAP_AT, 3, "sm_map from a VA's start" },
		{ B_MAP_TAIL, 2, "sm_map a VA's tail" },
		{ B_MADVISE, 4, "madvise" },
		{ B_MADVISE_EDGES, 2, "madvise right edge" },
		{ B_UNMAP, 8, "sm_unmap" },
		{ B_PREFETCH, 9, "prefetch" }, /* the reserved node too */
		{ B_BO_UNMAP, 3, "bo_unmap" },
	};
	static const struct drm_gpuvm_ops *allocators[] = {
		&ops_default, &ops_alloc_free, &ops_alloc_only,
	};
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();

	for (size_t a = 0; a < ARRAY_SIZE(allocators); a++) {
		unsigned int frees0 = atomic_load(&op_frees);

		for (size_t b = 0; b < ARRAY_SIZE(builders); b++) {
			if (!fail_every_allocation(allocators[a], builders[b].which,
						   builders[b].ops)) {
				fprintf(stderr, "# allocator %zu, builder %s\n", a,
					builders[b].name);
				return false;
			}
		}
		/* op_free is called exactly when the driver provides it. */
		if (allocators[a] == &ops_alloc_free)
			ASSERT_TRUE(atomic_load(&op_frees) > frees0);
		else
			ASSERT_EQ(atomic_load(&op_frees), frees0);
	}
	ASSERT_TRUE(atomic_load(&op_allocs) > 0);
	ASSERT_EQ(warns(), w0);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Driver callbacks that fail at the step numbered fail_at (-1: never). */
struct cb_ctl {
	int fail_at;
	int seen;
};

static int cb_step(struct drm_gpuva_op *op, void *priv)
{
	struct cb_ctl *c = priv;

	GPUVM_UNUSED(op);
	return c->seen++ == c->fail_at ? -EIO : 0;
}

static const struct drm_gpuvm_ops cb_ops = {
	.vm_free = fixture_vm_free,
	.sm_step_map = cb_step,
	.sm_step_remap = cb_step,
	.sm_step_unmap = cb_step,
};

/*
 * A driver callback error at any step of any cell of the sm_map/sm_unmap tables stops the
 * walk there and is returned as is; the callbacks here record only, so the
 * tree is unchanged.
 *
 *	0   1   2   3   4   5   6   7   8   9   a   b   c
 *	....vvvvvvvv....VVVVVVVVVVVVVVVV....wwwwwwwwwwww        (v, w: no GEM)
 */
static bool test_callback_error_at_every_step(void)
{
	static const struct { u64 addr, range; } reqs[] = {
		{ 0x4000, 0x4000 }, { 0x4000, 0x5000 }, { 0x4000, 0x1000 },
		{ 0x6000, 0x2000 }, { 0x6000, 0x2800 }, { 0x5000, 0x1000 },
		{ 0x3800, 0x4800 }, { 0x3800, 0x5000 }, { 0x3800, 0x2000 },
		{ 0x2000, 0x9000 }, { 0x1000, 0xc000 }, { 0xc000, 0x1000 },
	};
	long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_new_ops(NULL, 0, &cb_ops);
	struct drm_gem_object *a = gem_new(NULL);
	struct drm_gpuva *v, *big, *w;
	unsigned long w0 = warns();

	ASSERT_TRUE(vm && a);
	v = va_insert(vm, 0x1000, 0x2000, NULL, 0);
	big = va_insert(vm, 0x4000, 0x4000, a, 0x10000);
	w = va_insert(vm, 0x9000, 0x3000, NULL, 0);
	ASSERT_TRUE(v && big && w);
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		u64 addr = reqs[i].addr;
		struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = addr, .range = reqs[i].range }, .gem = { .obj = a } },
		};

		for (int unmap = 0; unmap < 2; unmap++) {
			struct cb_ctl c = { .fail_at = -1 };
			int steps;

			if (unmap)
				ASSERT_EQ(drm_gpuvm_sm_unmap(vm, &c, addr, req.map.va.range), 0);
			else
				ASSERT_EQ(drm_gpuvm_sm_map(vm, &c, &req), 0);
			steps = c.seen;
			ASSERT_TRUE(steps >= (unmap ? 0 : 1));
			for (int k = 0; k < steps; k++) {
				int ret;

				c = (struct cb_ctl){ .fail_at = k };
				ret = unmap ? drm_gpuvm_sm_unmap(vm, &c, addr, req.map.va.range)
					    : drm_gpuvm_sm_map(vm, &c, &req);
				ASSERT_EQ(ret, -EIO);
				ASSERT_EQ(c.seen, k + 1);
			}
		}
	}
	ASSERT_EQ(drm_gpuva_find(vm, 0x1000, 0x2000), v);
	ASSERT_EQ(drm_gpuva_find(vm, 0x4000, 0x4000), big);
	ASSERT_EQ(drm_gpuva_find(vm, 0x9000, 0x3000), w);
	ASSERT_EQ(warns(), w0);
	va_destroy(v);
	va_destroy(big);
	va_destroy(w);
	drm_gem_object_put(a);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * The exec-lock walks stop at the first step whose lock fails: without
 * DRM_EXEC_IGNORE_DUPLICATES a second VA of an object already locked is
 * -EALREADY.
 *
 *	0   1   2   3   4   5   6   7   8
 *	....aaaaaaaa....aaaa....aaaaaaaa        one object a; b unmapped
 */
static bool test_exec_lock_walks_stop_at_a_duplicate(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_new(NULL, 0);
	struct drm_gem_object *a = gem_new(NULL), *b = gem_new(NULL);
	struct drm_gpuva *va[3];
	struct {
		bool unmap;
		struct drm_gem_object *obj;
		u64 addr, range;
		int ret;
		unsigned int locked;
	} cases[] = {
		{ true, NULL, 0x2000, 0x5000, -EALREADY, 1 },  /* remap a, then unmap a */
		{ false, NULL, 0x4000, 0x1000, 0, 1 },         /* unmap a only */
		{ false, NULL, 0x2000, 0x3000, -EALREADY, 1 }, /* remap a, unmap a */
		{ false, NULL, 0x4000, 0x1000, -EALREADY, 1 }, /* obj a prepared, unmap a */
		{ false, NULL, 0x6800, 0x800, 0, 2 },          /* obj b, remap a */
		{ true, NULL, 0x9000, 0x1000, 0, 0 },          /* nothing there */
	};
	int ret = 0;

	ASSERT_TRUE(vm && a && b);
	va[0] = va_insert(vm, 0x1000, 0x2000, a, 0);
	va[1] = va_insert(vm, 0x4000, 0x1000, a, 0x4000);
	va[2] = va_insert(vm, 0x6000, 0x2000, a, 0x6000);
	ASSERT_TRUE(va[0] && va[1] && va[2]);
	cases[3].obj = a;
	cases[4].obj = b;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = cases[i].addr, .range = cases[i].range },
				 .gem = { .obj = cases[i].obj } },
		};
		struct drm_exec exec;

		drm_exec_init(&exec, 0, 0);
		drm_exec_until_all_locked(&exec) {
			ret = cases[i].unmap ? drm_gpuvm_sm_unmap_exec_lock(vm, &exec, cases[i].addr,
									    cases[i].range)
					     : drm_gpuvm_sm_map_exec_lock(vm, &exec, 1, &req);
			drm_exec_retry_on_contention(&exec);
		}
		ASSERT_EQ(ret, cases[i].ret);
		ASSERT_EQ(exec.num_objects, cases[i].locked);
		drm_exec_fini(&exec);
		ASSERT_FALSE(dma_resv_is_locked(a->resv) || dma_resv_is_locked(b->resv));
	}
	for (int i = 0; i < 3; i++)
		va_destroy(va[i]);
	drm_gem_object_put(a);
	drm_gem_object_put(b);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_ops_free_null(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_new(NULL, 0);

	ASSERT_NONNULL(vm);
	drm_gpuva_ops_free(vm, NULL);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* =============================================================== driver/apply.c */

struct apply_log {
	unsigned int failed;
	struct drm_gpuva_op_map last;
};

static void log_insert_failed(const struct drm_gpuva_op_map *piece, void *priv)
{
	struct apply_log *l = priv;

	l->failed++;
	l->last = *piece;
}

/*
 * Pieces that cannot be inserted are dropped (reported if the driver asked),
 * never linked, and leak nothing.
 *
 *	0   1   2   3   4   5   6   7   8   9
 *	............NNNNOOOOOOOOOOOOMMMM....      N, M neighbours; O cut at 5 and 6
 */
static bool test_apply_pieces_that_do_not_fit(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warns();
	struct drm_gpuvm *vm = vm_new(NULL, 0);
	struct drm_gem_object *a = gem_new(NULL);
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *n, *m, *va;
	struct drm_gpuva_ops *ops;
	struct drm_gpuva_op *op;
	struct apply_log log = { 0 };
	struct gpuvm_apply_ctx ctx = { .insert_failed = log_insert_failed, .priv = &log };

	ASSERT_TRUE(vm && a);
	vm_bo = drm_gpuvm_bo_obtain(vm, a);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	n = va_insert(vm, 0x3000, 0x1000, NULL, 0);
	m = va_insert(vm, 0x7000, 0x1000, NULL, 0);
	va = kzalloc(sizeof(*va), GFP_KERNEL); /* apply frees what it removes with kfree */
	ASSERT_TRUE(n && m && va);
	drm_gpuva_init_lists(va);
	va->va.addr = 0x4000;
	va->va.range = 0x3000;
	va->gem.obj = a;
	ASSERT_EQ(drm_gpuva_insert(vm, va), 0);
	drm_gpuva_link(va, vm_bo);

	/* Both pieces stretched over the neighbours: neither goes in. */
	ops = drm_gpuvm_sm_unmap_ops_create(vm, 0x5000, 0x1000);
	ASSERT_FALSE(IS_ERR(ops));
	op = drm_gpuva_first_op(ops);
	ASSERT_TRUE(op->op == DRM_GPUVA_OP_REMAP && op->remap.prev && op->remap.next);
	op->remap.prev->va.addr = 0x3800;
	op->remap.prev->va.range = 0x1800;
	op->remap.next->va.range = 0x1800;
	ASSERT_EQ(gpuvm_apply_ops(vm, vm_bo, ops, &ctx), 0);
	ASSERT_EQ(log.failed, 2);
	ASSERT_EQ(log.last.va.addr, 0x6000);
	drm_gpuva_ops_free(vm, ops);
	ASSERT_NULL(drm_gpuva_find_first(vm, 0x4000, 0x3000));
	ASSERT_EQ(vm_bo_refs(vm_bo), 1); /* only ours: nothing was linked */

	/* An unlinked GEM-backed VA: its pieces are not linked either. */
	va = va_insert(vm, 0x4000, 0x3000, a, 0);
	ASSERT_NONNULL(va);
	ops = drm_gpuvm_sm_unmap_ops_create(vm, 0x5000, 0x1000);
	ASSERT_FALSE(IS_ERR(ops));
	ASSERT_EQ(gpuvm_apply_ops(vm, vm_bo, ops, &ctx), 0);
	drm_gpuva_ops_free(vm, ops);
	ASSERT_EQ(log.failed, 2);
	va = drm_gpuva_find(vm, 0x4000, 0x1000);
	ASSERT_TRUE(va && !va->vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 1);
	/* ... and unmapping them unlinks nothing. */
	ops = drm_gpuvm_sm_unmap_ops_create(vm, 0x4000, 0x3000);
	ASSERT_FALSE(IS_ERR(ops));
	ASSERT_EQ(gpuvm_apply_ops(vm, vm_bo, ops, NULL), 0);
	drm_gpuva_ops_free(vm, ops);
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, 0x4000, 0x3000));

	/*
	 * A failing map without an insert_failed callback: dropped silently.
	 * P at [5, 6) and a zero-sized Z at 5 behind it in address order: the
	 * walk of a map over [4.8, 5.8) stops at P (its tail survives) before
	 * reaching Z, which then blocks the insert (it strictly contains 5).
	 */
	{
		struct drm_gpuva *p = va_insert(vm, 0x5000, 0x1000, NULL, 0);
		struct drm_gpuva *z = va_new(0x5000, 0, NULL, 0);
		struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = 0x4800, .range = 0x1000 }, .gem = { .obj = a } },
		};

		ASSERT_TRUE(p && z);
		ASSERT_EQ(drm_gpuva_insert(vm, z), 0);
		ASSERT_EQ(__drm_gpuva_next(p), z);
		ops = drm_gpuvm_sm_map_ops_create(vm, &req);
		ASSERT_FALSE(IS_ERR(ops));
		op = drm_gpuva_first_op(ops);
		ASSERT_TRUE(op->op == DRM_GPUVA_OP_REMAP && op->remap.unmap->va == p);
		ASSERT_EQ(drm_gpuva_next_op(op), drm_gpuva_last_op(ops)); /* then the map */
		ASSERT_EQ(gpuvm_apply_ops(vm, vm_bo, ops, NULL), 0);
		drm_gpuva_ops_free(vm, ops);
		ASSERT_NULL(drm_gpuva_find(vm, 0x4800, 0x1000));
		p = drm_gpuva_find(vm, 0x5800, 0x800);
		ASSERT_NONNULL(p);
		ASSERT_EQ(vm_bo_refs(vm_bo), 1);
		va_destroy(p);
		drm_gpuva_remove(z);
		kfree(z);
	}
	ASSERT_EQ(warns(), w0);

	va_destroy(n);
	va_destroy(m);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	drm_gem_object_put(a);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* A map op needs the vm_bo of its GEM in this very VM. */
static bool test_apply_refuses_a_foreign_vm_bo(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_new(NULL, 0), *other = vm_new(NULL, 0);
	struct drm_gem_object *a = gem_new(NULL);
	struct drm_gpuvm_bo *foreign;
	struct drm_gpuva_ops *ops;
	struct drm_gpuvm_map_req req = {
		.map = { .va = { .addr = 0x10000, .range = 0x1000 }, .gem = { .obj = NULL } },
	};

	ASSERT_TRUE(vm && other && a);
	req.map.gem.obj = a;
	foreign = drm_gpuvm_bo_obtain(other, a);
	ASSERT_FALSE(IS_ERR_OR_NULL(foreign));
	ops = drm_gpuvm_sm_map_ops_create(vm, &req);
	ASSERT_FALSE(IS_ERR(ops));
	ASSERT_EQ(gpuvm_apply_ops(vm, foreign, ops, NULL), -EINVAL);
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, 0x10000, 0x1000));
	drm_gpuva_ops_free(vm, ops);
	ASSERT_TRUE(drm_gpuvm_bo_put(foreign));
	drm_gem_object_put(a);
	drm_gpuvm_put(vm);
	drm_gpuvm_put(other);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ================================================================ rbtree.c */

struct tnode {
	struct rb_node rb;
	int key;
};

/* Insert keys 0..n-1 in order: a valid tree whose shape the test knows. */
static void tree_build(struct rb_root_cached *root, struct tnode *nodes, int n)
{
	*root = RB_ROOT_CACHED;
	for (int i = 0; i < n; i++) {
		struct rb_node **link = &root->rb_root.rb_node, *parent = NULL;
		bool leftmost = true;

		nodes[i].key = i;
		while (*link) {
			parent = *link;
			link = &parent->rb_right; /* keys only grow */
			leftmost = false;
		}
		rb_link_node(&nodes[i].rb, parent, link);
		rb_insert_color_cached(&nodes[i].rb, root, leftmost);
	}
}

static bool test_rb_check_detects_corruption(void)
{
	struct rb_root_cached root;
	struct tnode n[7], chain[140];
	struct rb_node *r, *leaf;
	uintptr_t saved;
	size_t count = 0;

	ASSERT_NULL(rb_first(&(struct rb_root){ NULL }));
	ASSERT_NULL(rb_last(&(struct rb_root){ NULL }));
	tree_build(&root, n, 7);
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, &count), 0);
	ASSERT_EQ(count, 7);
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, NULL), 0); /* count optional */
	ASSERT_EQ(rb_check_structure(&root.rb_root, NULL, NULL), 0);  /* so is the cache */
	r = root.rb_root.rb_node;
	leaf = rb_first(&root.rb_root);

	/* A child whose parent pointer is wrong. */
	saved = leaf->__rb_parent_color;
	rb_set_parent(leaf, leaf);
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, NULL), -EINVAL);
	leaf->__rb_parent_color = saved;
	/* Colour bits other than black/red. */
	leaf->__rb_parent_color |= 2;
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, NULL), -EINVAL);
	leaf->__rb_parent_color = saved;
	/* A red root. */
	rb_set_color(r, RB_RED);
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, NULL), -EINVAL);
	rb_set_color(r, RB_BLACK);
	/* Red with a red child: a red node's black parent (not the root) made red. */
	for (int i = 0, done = 0; i < 7 && !done; i++) {
		struct rb_node *p = rb_parent(&n[i].rb);

		if (rb_is_red(&n[i].rb) && p && p != r && !rb_is_red(p)) {
			rb_set_color(p, RB_RED);
			ASSERT_EQ(rb_check_structure(&root.rb_root, &root, NULL), -EINVAL);
			rb_set_color(p, RB_BLACK);
			done = 1;
		}
		ASSERT_TRUE(done || i < 6);
	}
	/* Red with a red left child: a black left child of a red node made red. */
	for (int i = 0, done = 0; i < 7 && !done; i++) {
		struct rb_node *x = &n[i].rb, *l = x->rb_left;

		if (rb_is_red(x) && l && !rb_is_red(l)) {
			rb_set_color(l, RB_RED);
			ASSERT_EQ(rb_check_structure(&root.rb_root, &root, NULL), -EINVAL);
			rb_set_color(l, RB_BLACK);
			done = 1;
		}
		ASSERT_TRUE(done || i < 6);
	}
	/* Unequal black heights: blacken one red node. */
	for (int i = 0; i < 7; i++) {
		if (rb_is_red(&n[i].rb)) {
			rb_set_color(&n[i].rb, RB_BLACK);
			ASSERT_EQ(rb_check_structure(&root.rb_root, &root, NULL), -EINVAL);
			rb_set_color(&n[i].rb, RB_RED);
			break;
		}
	}
	/* The cached leftmost node is not the first one. */
	root.rb_leftmost = r;
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, NULL), -EINVAL);
	root.rb_leftmost = leaf;
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, &count), 0);

	/* Deeper than any tree of this address space can be: a cycle, in effect. */
	for (int i = 0; i < 140; i++) {
		chain[i].rb.rb_left = i + 1 < 140 ? &chain[i + 1].rb : NULL;
		chain[i].rb.rb_right = NULL;
		rb_set_parent_color(&chain[i].rb, i ? &chain[i - 1].rb : NULL, RB_BLACK);
	}
	ASSERT_EQ(rb_check_structure(&(struct rb_root){ &chain[0].rb }, NULL, NULL), -EINVAL);
	return true;
}

int main(void)
{
	warn_log_install();
	warn_log.quiet = true;
	RUN(test_zero_size_allocations);
	RUN(test_real_allocation_failure);
	RUN(test_warn_without_hook_prints);
	RUN(test_warn_function_with_hook);
	RUN(test_fence_misuse);
	RUN(test_resv_misuse_and_limits);
	RUN(test_ww_misuse_warns);
	RUN(test_exec_prelocked_claim_enomem);
	RUN(test_exec_array_overflow_guard);
	RUN(test_exec_prepare_array_stops_at_the_first_error);
	RUN(test_gem_funcs_without_free);
	RUN(test_vm_without_ops);
	RUN(test_remove_what_is_not_inserted);
	RUN(test_exec_lock_range_backs_off);
	RUN(test_exec_lock_backs_off_on_the_vm_resv);
	RUN(test_exec_lock_array_backs_off);
	RUN(test_exec_assertions);
	RUN(test_last_put_under_the_object_resv_only);
	RUN(test_unlink_last_ref_takes_the_vm_resv);
	RUN(test_link_unlink_degenerate_vas);
	RUN(test_vm_bo_api_misuse_warns);
	RUN(test_gem_evict_under_held_locks);
	RUN(test_ops_create_fails_cleanly_everywhere);
	RUN(test_callback_error_at_every_step);
	RUN(test_exec_lock_walks_stop_at_a_duplicate);
	RUN(test_ops_free_null);
	RUN(test_apply_pieces_that_do_not_fit);
	RUN(test_apply_refuses_a_foreign_vm_bo);
	RUN(test_rb_check_detects_corruption);
	return harness_done();
}
