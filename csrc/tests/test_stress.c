// SPDX-License-Identifier: MIT
/*
 * Multi-threaded stress: 8 threads, 4 VMs, external GEM objects shared by all
 * VMs plus private objects per VM. Each VM has a pthread mutex standing in
 * for a driver's VM lock, held around tree changes and list walks. Threads
 * randomly:
 *  - map / unmap through ops lists + gpuvm_apply_ops, locking what the walk
 *    touches the msm way (prepare_vm + drm_gpuvm_sm_{map,unmap}_exec_lock);
 *  - insert + link a VA directly where the range is free;
 *  - submit: drm_gpuvm_exec_lock (VM resv + every extobj), validate, add a
 *    fence, unlock, signal;
 *  - evict / unevict an object in every VM (drm_gpuvm_bo_gem_evict, the
 *    plain form, holding nothing, as a memory manager would);
 *  - immediate mode: run the deferred cleanup concurrently.
 * Two phases: staged VMs, then immediate-mode VMs (a GEM is only ever used
 * with VMs of one mode); half of the VMs of each phase are RESV_PROTECTED.
 *
 * Afterwards: nothing locked, every fence signalled and put, every list
 * empty, every refcount back to its owner's one, no WARN, no leak.
 * Runs GPUVM_STRESS_SECONDS seconds in total (default 2.5).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "drm/gpuvm_apply.h"
#include "vm_bo_fixture.h"

#define NTHREADS 8
#define NVMS 4
#define NOBJS 12
#define NPRIV 2
#define PAGE 0x1000ULL
#define BASE 0x100000ULL
#define SLOTS 128

struct svm {
	pthread_mutex_t lock; /* the driver's VM lock */
	struct drm_gpuvm *vm;
	struct drm_gem_object *priv[NPRIV];
};

struct world {
	struct drm_device *drm;
	struct svm vms[NVMS];
	struct drm_gem_object *objs[NOBJS];
	atomic_bool stop;
};

struct worker {
	struct world *w;
	pthread_t thread;
	u64 rnd;
	u64 fence_ctx;
	u64 seqno;
	unsigned long maps, unmaps, direct, submits, evicts, cleanups, backoffs, einval;
	int err;
};

static u64 next_rnd(struct worker *t)
{
	/* xorshift64* */
	t->rnd ^= t->rnd >> 12;
	t->rnd ^= t->rnd << 25;
	t->rnd ^= t->rnd >> 27;
	return t->rnd * 0x2545F4914F6CDD1DULL;
}

static int stress_validate(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec)
{
	GPUVM_UNUSED(exec);
	/* "Moved back into VRAM": the exec holds the object's resv. */
	drm_gpuvm_bo_evict(vm_bo, false);
	return 0;
}

static const struct drm_gpuvm_ops stress_ops = {
	.vm_free = fixture_vm_free,
	.vm_bo_validate = stress_validate,
};

static struct drm_gem_object *pick_obj(struct worker *t, struct svm *s)
{
	u64 r = next_rnd(t);

	if (r % 4 == 0)
		return s->priv[(r >> 8) % NPRIV];
	return t->w->objs[(r >> 8) % NOBJS];
}

static struct drm_gpuvm_bo *obtain(struct drm_gpuvm *vm, struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *vm_bo;

	if (!drm_gpuvm_immediate_mode(vm))
		return drm_gpuvm_bo_obtain(vm, obj);
	vm_bo = drm_gpuvm_bo_create(vm, obj);
	return vm_bo ? drm_gpuvm_bo_obtain_prealloc(vm_bo) : ERR_PTR(-ENOMEM);
}

/* Map or unmap one random range: lock exactly what the walk touches. */
static int do_map_unmap(struct worker *t, struct svm *s, bool map)
{
	struct drm_gpuvm *vm = s->vm;
	struct drm_gpuvm_map_req req = {
		.map = {
			.va = {
				.addr = BASE + (next_rnd(t) % SLOTS) * PAGE,
				.range = (1 + next_rnd(t) % 16) * PAGE,
			},
			.gem = {
				.obj = map ? pick_obj(t, s) : NULL,
				.offset = (next_rnd(t) % 64) * PAGE,
			},
		},
	};
	struct drm_gpuva_ops *ops;
	struct drm_exec exec;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(vm, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		if (map)
			ret = drm_gpuvm_sm_map_exec_lock(vm, &exec, 1, &req);
		else
			ret = drm_gpuvm_sm_unmap_exec_lock(vm, &exec, req.map.va.addr,
							   req.map.va.range);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	t->backoffs += exec.num_backoffs;
	if (ret)
		goto out;

	if (map) {
		struct drm_gpuvm_bo *vm_bo = obtain(vm, req.map.gem.obj);

		if (IS_ERR(vm_bo)) {
			ret = (int)PTR_ERR(vm_bo);
			goto out;
		}
		drm_gpuvm_bo_extobj_add(vm_bo);
		ops = drm_gpuvm_sm_map_ops_create(vm, &req);
		ret = PTR_ERR_OR_ZERO(ops);
		if (!ret) {
			ret = gpuvm_apply_ops(vm, vm_bo, ops, NULL);
			drm_gpuva_ops_free(vm, ops);
		}
		drm_gpuvm_bo_put(vm_bo);
		t->maps++;
	} else {
		ops = drm_gpuvm_sm_unmap_ops_create(vm, req.map.va.addr, req.map.va.range);
		ret = PTR_ERR_OR_ZERO(ops);
		if (!ret) {
			ret = gpuvm_apply_ops(vm, NULL, ops, NULL);
			drm_gpuva_ops_free(vm, ops);
		}
		t->unmaps++;
	}
out:
	drm_exec_fini(&exec);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* The direct path: drm_gpuva_insert + drm_gpuva_link into a free range. */
static int do_direct(struct worker *t, struct svm *s)
{
	struct drm_gpuvm *vm = s->vm;
	struct drm_gem_object *obj = pick_obj(t, s);
	u64 addr = BASE + (next_rnd(t) % SLOTS) * PAGE;
	u64 range = (1 + next_rnd(t) % 4) * PAGE;
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *va;
	struct drm_exec exec;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (!drm_gpuvm_interval_empty(vm, addr, range))
		goto unlock;
	drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(vm, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
		ret = drm_exec_lock_obj(&exec, obj);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			break;
	}
	t->backoffs += exec.num_backoffs;
	if (ret)
		goto fini;

	va = va_new(addr, range, obj, 0);
	vm_bo = va ? obtain(vm, obj) : ERR_PTR(-ENOMEM);
	if (IS_ERR(vm_bo)) {
		kfree(va);
		ret = (int)PTR_ERR(vm_bo);
		goto fini;
	}
	drm_gpuvm_bo_extobj_add(vm_bo);
	ret = drm_gpuva_insert(vm, va);
	if (!ret)
		drm_gpuva_link(va, vm_bo);
	else
		kfree(va);
	drm_gpuvm_bo_put(vm_bo);
	t->direct++;
fini:
	drm_exec_fini(&exec);
unlock:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* A job submission: everything locked, validated, fenced. */
static int do_submit(struct worker *t, struct svm *s)
{
	struct drm_gpuvm_exec vm_exec = {
		.vm = s->vm,
		.flags = DRM_EXEC_IGNORE_DUPLICATES,
		.num_fences = 1,
	};
	struct dma_fence *fence;
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = drm_gpuvm_exec_lock(&vm_exec);
	if (ret)
		goto unlock;
	t->backoffs += vm_exec.exec.num_backoffs;
	ret = drm_gpuvm_exec_validate(&vm_exec);
	fence = dma_fence_create(t->fence_ctx, ++t->seqno);
	if (!fence) {
		ret = -ENOMEM;
	} else {
		drm_gpuvm_exec_resv_add_fence(&vm_exec, fence, DMA_RESV_USAGE_BOOKKEEP,
					      DMA_RESV_USAGE_BOOKKEEP);
	}
	drm_gpuvm_exec_unlock(&vm_exec);
	if (fence) {
		/* The "job" completes at once. */
		dma_fence_signal(fence);
		dma_fence_put(fence);
	}
	t->submits++;
unlock:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void *worker_fn(void *p)
{
	struct worker *t = p;
	struct world *w = t->w;

	while (!atomic_load_explicit(&w->stop, memory_order_relaxed) && !t->err) {
		u64 r = next_rnd(t);
		struct svm *s = &w->vms[r % NVMS];
		int ret = 0;

		switch ((r >> 16) % 12) {
		case 0: case 1: case 2:
			ret = do_map_unmap(t, s, true);
			break;
		case 3: case 4:
			ret = do_map_unmap(t, s, false);
			break;
		case 5:
			ret = do_direct(t, s);
			break;
		case 6: case 7: case 8:
			ret = do_submit(t, s);
			break;
		case 9: case 10:
			drm_gpuvm_bo_gem_evict(pick_obj(t, s), (r >> 32) & 1);
			t->evicts++;
			break;
		case 11:
			drm_gpuvm_bo_deferred_cleanup(s->vm);
			t->cleanups++;
			break;
		}
		/* Every random request is valid: any error is a bug. */
		if (ret == -EINVAL)
			t->einval++;
		else if (ret)
			t->err = ret;
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Unmap everything (but the reserved node) the way the workers do. */
static bool drain_vm(struct svm *s)
{
	struct drm_gpuvm *vm = s->vm;
	struct drm_gpuva_ops *ops;
	struct drm_exec exec;
	struct drm_gpuva *va;
	unsigned int n = 0;
	int ret = 0;

	drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(vm, &exec, 0);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
		ret = drm_gpuvm_sm_unmap_exec_lock(vm, &exec, PAGE, (1ULL << 32) - PAGE);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
	}
	ops = drm_gpuvm_sm_unmap_ops_create(vm, PAGE, (1ULL << 32) - PAGE);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(gpuvm_apply_ops(vm, NULL, ops, NULL), 0);
	drm_gpuva_ops_free(vm, ops);
	drm_exec_fini(&exec);
	drm_gpuvm_bo_deferred_cleanup(vm);

	drm_gpuvm_for_each_va(va, vm)
		n++;
	ASSERT_EQ(n, 1); /* the reserved node */
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	ASSERT_TRUE(list_empty(&vm->evict.list));
	ASSERT_TRUE(llist_empty(&vm->bo_defer));
	ASSERT_EQ(vm_refs(vm), 1);
	return true;
}

static bool stress_phase(enum drm_gpuvm_flags mode, double seconds)
{
	static struct worker workers[NTHREADS];
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warn_log_count();
	struct world w = { 0 };
	unsigned long tx = 0, backoffs = 0, maps = 0, unmaps = 0, direct = 0, submits = 0;
	unsigned long evicts = 0, cleanups = 0, einval = 0, live_vas = 0;
	double t0, elapsed;

	w.drm = drm_dev_alloc("stress");
	ASSERT_NONNULL(w.drm);
	for (int i = 0; i < NOBJS; i++) {
		w.objs[i] = gem_new(w.drm);
		ASSERT_NONNULL(w.objs[i]);
	}
	for (int k = 0; k < NVMS; k++) {
		struct svm *s = &w.vms[k];

		pthread_mutex_init(&s->lock, NULL);
		s->vm = vm_new_ops(w.drm, mode | (k & 1 ? DRM_GPUVM_RESV_PROTECTED : 0),
				   &stress_ops);
		ASSERT_NONNULL(s->vm);
		for (int i = 0; i < NPRIV; i++) {
			s->priv[i] = gem_new_private(w.drm, s->vm);
			ASSERT_NONNULL(s->priv[i]);
		}
	}

	t0 = now();
	for (int i = 0; i < NTHREADS; i++) {
		workers[i] = (struct worker){
			.w = &w,
			.rnd = 0x9E3779B97F4A7C15ULL * (u64)(i + 1) + (mode ? 7 : 0),
			.fence_ctx = dma_fence_context_alloc(1),
		};
		ASSERT_EQ(pthread_create(&workers[i].thread, NULL, worker_fn, &workers[i]), 0);
	}
	while (now() - t0 < seconds) {
		struct timespec ms10 = { 0, 10 * 1000 * 1000 };

		nanosleep(&ms10, NULL);
	}
	atomic_store(&w.stop, true);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(workers[i].thread, NULL);
	elapsed = now() - t0;

	for (int i = 0; i < NTHREADS; i++) {
		struct worker *t = &workers[i];

		if (t->err)
			fprintf(stderr, "# thread %d failed: %d\n", i, t->err);
		ASSERT_EQ(t->err, 0);
		maps += t->maps;
		unmaps += t->unmaps;
		direct += t->direct;
		submits += t->submits;
		evicts += t->evicts;
		cleanups += t->cleanups;
		backoffs += t->backoffs;
		einval += t->einval;
	}
	tx = maps + unmaps + direct + submits + evicts + cleanups;
	printf("# %s: %lu transactions in %.2f s = %.0f/s (map %lu, unmap %lu, direct %lu, "
	       "submit %lu, evict %lu, cleanup %lu), %lu drm_exec back-offs\n",
	       mode ? "immediate" : "staged", tx, elapsed, (double)tx / elapsed, maps, unmaps,
	       direct, submits, evicts, cleanups, backoffs);
	fflush(stdout);
	ASSERT_TRUE(maps > 0 && unmaps > 0 && submits > 0 && evicts > 0);
	ASSERT_EQ(einval, 0);

	/* The VMs really hold mappings (besides their reserved nodes). */
	for (int k = 0; k < NVMS; k++) {
		struct drm_gpuva *va;

		drm_gpuvm_for_each_va(va, w.vms[k].vm)
			live_vas++;
	}
	printf("# %s: %lu VAs live at the end\n", mode ? "immediate" : "staged",
	       live_vas - NVMS);
	ASSERT_TRUE(live_vas > NVMS);

	/* Nothing may still be locked. */
	for (int k = 0; k < NVMS; k++)
		ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(w.vms[k].vm)));
	for (int i = 0; i < NOBJS; i++) {
		ASSERT_FALSE(dma_resv_is_locked(w.objs[i]->resv));
		ASSERT_FALSE(mutex_is_locked(&w.objs[i]->gpuva.lock));
	}

	for (int k = 0; k < NVMS; k++)
		if (!drain_vm(&w.vms[k]))
			return false;
	for (int i = 0; i < NOBJS; i++) {
		ASSERT_TRUE(list_empty(&w.objs[i]->gpuva.list));
		ASSERT_EQ(gem_refs(w.objs[i]), 1);
		/* Every fence the object saw was signalled. */
		ASSERT_TRUE(dma_resv_test_signaled(w.objs[i]->resv, DMA_RESV_USAGE_BOOKKEEP));
		drm_gem_object_put(w.objs[i]);
	}
	for (int k = 0; k < NVMS; k++) {
		struct svm *s = &w.vms[k];

		ASSERT_TRUE(dma_resv_test_signaled(drm_gpuvm_resv(s->vm),
						   DMA_RESV_USAGE_BOOKKEEP));
		for (int i = 0; i < NPRIV; i++) {
			ASSERT_TRUE(list_empty(&s->priv[i]->gpuva.list));
			ASSERT_EQ(gem_refs(s->priv[i]), 1);
			drm_gem_object_put(s->priv[i]);
		}
		drm_gpuvm_put(s->vm);
		pthread_mutex_destroy(&s->lock);
	}
	drm_dev_put(w.drm);

	/* No WARN (lock assertions, concurrent walks), no leak (fences included). */
	ASSERT_EQ(warn_log_count(), w0);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static double total_seconds(void)
{
	const char *env = getenv("GPUVM_STRESS_SECONDS");
	double s = env ? atof(env) : 2.5;

	return s > 0 ? s : 2.5;
}

static bool test_stress_staged(void)
{
	return stress_phase(0, total_seconds() / 2);
}

static bool test_stress_immediate(void)
{
	return stress_phase(DRM_GPUVM_IMMEDIATE_MODE, total_seconds() / 2);
}

int main(void)
{
	warn_log_install();

	RUN(test_stress_staged);
	RUN(test_stress_immediate);
	return harness_done();
}
