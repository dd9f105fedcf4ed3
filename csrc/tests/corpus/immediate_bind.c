/* SPDX-License-Identifier: MIT */
/*
 * Immediate mode (DRM_GPUVM_IMMEDIATE_MODE | DRM_GPUVM_RESV_PROTECTED), the
 * way a driver whose VM_BIND jobs update the VA space from the scheduler's
 * run_job() does it: the GPU VA tree always matches the page table, and
 * nothing on the run_job() path may allocate, free a vm_bo or take a resv.
 *
 * - The VM_BIND ioctl (the main thread) preallocates everything: the VAs a
 *   split/merge may need and, for a map, a vm_bo (drm_gpuvm_bo_create()).
 *   It locks the VM's resv and the BO in a drm_exec transaction, turns the
 *   preallocated vm_bo into the BO's vm_bo with drm_gpuvm_bo_obtain_prealloc()
 *   (which frees it and returns the existing one if there is one), puts it
 *   on the extobj list, adds the job's fence to every locked resv and queues
 *   the job.
 * - run_job() (one scheduler thread per VM) runs drm_gpuvm_sm_map() or
 *   drm_gpuvm_sm_unmap() under the VM's op lock; the step callbacks program
 *   the page table, link the new VAs under the GEM's gpuva mutex, unlink the
 *   old ones with drm_gpuva_unlink_defer() and hand them back to the job,
 *   then the job's fence is signalled.
 * - Once a job's fence has signalled, the ioctl side cleans it up (the
 *   obtain reference goes with drm_gpuvm_bo_put_deferred(), the returned VAs
 *   are freed) and calls drm_gpuvm_bo_deferred_cleanup().
 *
 * Two VMs share three BOs and each has a private one, so the GEMs' vm_bo
 * lists are changed by both scheduler threads and the ioctl thread at once
 * (the TSan build checks the locking). At each sync point (all fences
 * waited for, all jobs cleaned up) the page tables are compared with an
 * independent model, no zombie vm_bo is left, and every GEM has exactly one
 * vm_bo per VM that maps it. A seeded driver bug (remap zapping the kept
 * pieces) must be caught.
 *
 * Built twice: plain names, and with -DIMM_KERNEL_LOCKING
 * (<drm/drm_gpuvm_compat.h>); every link here is made under the GEM's gpuva
 * mutex, as the kernel's caller-locked drm_gpuva_link() wants.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <drm/drm_device.h>
#include <drm/drm_exec.h>
#include <drm/drm_gem.h>
#include <drm/drm_gpuvm.h>
#include <linux/bug.h>
#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/types.h>
#ifdef IMM_KERNEL_LOCKING
#include <drm/drm_gpuvm_compat.h>
#endif

#include "corpus.h"

#define IMM_PAGE_SHIFT 12
#define IMM_PAGE_SIZE (1ULL << IMM_PAGE_SHIFT)
#define IMM_PAGES 48
#define IMM_PTE_VALID BIT_ULL(63)
#define IMM_NVMS 2
#define IMM_NSHARED 3
#define IMM_NBOS (IMM_NSHARED + IMM_NVMS) /* shared ones first, then one private per VM */
#define IMM_BO_PAGES 8

struct imm_bo {
	struct drm_gem_object base;
	u32 id;
	struct drm_gem_object *root; /* private BO: the VM's resv object (counted) */
};

struct imm_va {
	struct drm_gpuva base;
	struct list_head link; /* imm_vm.vas, then imm_job.returned */
};

struct imm_job;

/* A minimal in-order job queue with one worker thread: the "scheduler". */
struct imm_sched {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list_head queue;
	bool stop;
};

struct imm_vm {
	struct drm_gpuvm base;
	struct mutex op_lock; /* serialises the VA space updates of run_job() */
	u64 pt[IMM_PAGES];
	struct list_head vas; /* run_job() side only */
	unsigned int nr_vas;
	struct imm_sched sched;
	struct list_head inflight; /* ioctl side: queued jobs, submission order */
	u64 fence_ctx;
	u64 seqno;
};

struct imm_job {
	struct list_head queue_link; /* imm_sched.queue */
	struct list_head inflight_link;
	struct imm_vm *vm;
	bool is_map;
	struct drm_gpuvm_map_req req; /* map; for unmap only the range */
	struct drm_gpuvm_bo *vm_bo;   /* map: from drm_gpuvm_bo_obtain_prealloc() */
	struct imm_va *spare[3];
	struct list_head returned;    /* VAs unlinked by run_job(), freed at cleanup */
	struct dma_fence *done;
	int ret;
};

/* Seeded driver bug the checks must catch. */
static bool imm_bug_remap_zaps_all;

/* Counted from the vm_bo_free callback. */
static atomic_uint vm_bo_frees, zombie_frees;
static _Thread_local bool in_deferred_cleanup;

static struct imm_vm *to_imm_vm(struct drm_gpuvm *gpuvm)
{
	return container_of(gpuvm, struct imm_vm, base);
}

static struct imm_bo *to_imm_bo(struct drm_gem_object *obj)
{
	return container_of(obj, struct imm_bo, base);
}

static u64 imm_pte(u32 id, u64 bo_page)
{
	return IMM_PTE_VALID | ((u64)id << 32) | bo_page;
}

static void imm_program(struct imm_vm *vm, const struct drm_gpuva *va)
{
	u64 first = va->va.addr >> IMM_PAGE_SHIFT;

	for (u64 i = 0; i < va->va.range >> IMM_PAGE_SHIFT; i++)
		vm->pt[first + i] = imm_pte(to_imm_bo(va->gem.obj)->id,
					    (va->gem.offset >> IMM_PAGE_SHIFT) + i);
}

static void imm_zap(struct imm_vm *vm, u64 addr, u64 range)
{
	for (u64 p = addr >> IMM_PAGE_SHIFT; p < (addr + range) >> IMM_PAGE_SHIFT; p++)
		vm->pt[p] = 0;
}

/* ------------------------------------------------------ run_job() side */

static struct imm_va *imm_take_spare(struct imm_job *job)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(job->spare); i++) {
		struct imm_va *va = job->spare[i];

		if (va) {
			job->spare[i] = NULL;
			return va;
		}
	}
	BUG();
}

static void imm_va_link(struct imm_vm *vm, struct imm_va *va, struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gem_object *obj = vm_bo->obj;

	mutex_lock(&obj->gpuva.lock);
	drm_gpuva_link(&va->base, vm_bo);
	mutex_unlock(&obj->gpuva.lock);
	list_add_tail(&va->link, &vm->vas);
	vm->nr_vas++;
}

/* Unlinked without freeing anything; the VA memory goes back to the job. */
static void imm_va_unlink(struct imm_job *job, struct drm_gpuva *va)
{
	struct imm_va *iva = container_of(va, struct imm_va, base);

	drm_gpuva_unlink_defer(va);
	list_move_tail(&iva->link, &job->returned);
	job->vm->nr_vas--;
}

static int imm_step_map(struct drm_gpuva_op *op, void *priv)
{
	struct imm_job *job = priv;
	struct imm_va *va = imm_take_spare(job);

	drm_gpuva_map(&job->vm->base, &va->base, &op->map);
	imm_va_link(job->vm, va, job->vm_bo);
	imm_program(job->vm, &va->base);
	return 0;
}

static int imm_step_remap(struct drm_gpuva_op *op, void *priv)
{
	struct imm_job *job = priv;
	struct drm_gpuva *old = op->remap.unmap->va;
	struct drm_gpuvm_bo *vm_bo = old->vm_bo;
	struct imm_va *prev = op->remap.prev ? imm_take_spare(job) : NULL;
	struct imm_va *next = op->remap.next ? imm_take_spare(job) : NULL;
	u64 addr, range;

	drm_gpuva_op_remap_to_unmap_range(&op->remap, &addr, &range);
	if (imm_bug_remap_zaps_all)
		imm_zap(job->vm, old->va.addr, old->va.range);
	else
		imm_zap(job->vm, addr, range);
	drm_gpuva_remap(prev ? &prev->base : NULL, next ? &next->base : NULL, &op->remap);
	if (prev)
		imm_va_link(job->vm, prev, vm_bo);
	if (next)
		imm_va_link(job->vm, next, vm_bo);
	imm_va_unlink(job, old);
	return 0;
}

static int imm_step_unmap(struct drm_gpuva_op *op, void *priv)
{
	struct imm_job *job = priv;
	struct drm_gpuva *va = op->unmap.va;

	imm_zap(job->vm, va->va.addr, va->va.range);
	drm_gpuva_unmap(&op->unmap);
	imm_va_unlink(job, va);
	return 0;
}

/* The fence signalling path: no allocation, no resv, no vm_bo freed. */
static void imm_run_job(struct imm_job *job)
{
	struct imm_vm *vm = job->vm;
	/* The scheduler's own reference: the job may be freed once signalled. */
	struct dma_fence *done = dma_fence_get(job->done);

	mutex_lock(&vm->op_lock);
	if (job->is_map)
		job->ret = drm_gpuvm_sm_map(&vm->base, job, &job->req);
	else
		job->ret = drm_gpuvm_sm_unmap(&vm->base, job, job->req.map.va.addr,
					      job->req.map.va.range);
	mutex_unlock(&vm->op_lock);
	dma_fence_signal(done);
	dma_fence_put(done);
}

static void *imm_sched_main(void *arg)
{
	struct imm_sched *s = arg;

	for (;;) {
		struct imm_job *job;

		pthread_mutex_lock(&s->lock);
		while (list_empty(&s->queue) && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (list_empty(&s->queue)) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		job = list_first_entry(&s->queue, struct imm_job, queue_link);
		list_del(&job->queue_link);
		pthread_mutex_unlock(&s->lock);
		imm_run_job(job);
	}
}

/* ------------------------------------------------------------ ioctl side */

static void imm_vm_bo_free(struct drm_gpuvm_bo *vm_bo)
{
	atomic_fetch_add(&vm_bo_frees, 1);
	if (in_deferred_cleanup)
		atomic_fetch_add(&zombie_frees, 1);
	kfree(vm_bo);
}

static void imm_vm_free(struct drm_gpuvm *gpuvm)
{
	struct imm_vm *vm = to_imm_vm(gpuvm);

	mutex_destroy(&vm->op_lock);
	kfree(vm);
}

static const struct drm_gpuvm_ops imm_vm_ops = {
	.vm_free = imm_vm_free,
	.vm_bo_free = imm_vm_bo_free,
	.sm_step_map = imm_step_map,
	.sm_step_remap = imm_step_remap,
	.sm_step_unmap = imm_step_unmap,
};

static struct imm_vm *imm_vm_create(struct drm_device *drm)
{
	struct imm_vm *vm = kzalloc_obj(*vm, GFP_KERNEL);
	struct drm_gem_object *r_obj;

	if (!vm)
		return NULL;
	r_obj = drm_gpuvm_resv_object_alloc(drm);
	if (!r_obj) {
		kfree(vm);
		return NULL;
	}
	mutex_init(&vm->op_lock);
	INIT_LIST_HEAD(&vm->vas);
	INIT_LIST_HEAD(&vm->inflight);
	INIT_LIST_HEAD(&vm->sched.queue);
	vm->fence_ctx = dma_fence_context_alloc(1);
	drm_gpuvm_init(&vm->base, "imm", DRM_GPUVM_RESV_PROTECTED | DRM_GPUVM_IMMEDIATE_MODE,
		       drm, r_obj, 0, IMM_PAGES * IMM_PAGE_SIZE, 0, 0, &imm_vm_ops);
	drm_gem_object_put(r_obj);
	pthread_mutex_init(&vm->sched.lock, NULL);
	pthread_cond_init(&vm->sched.cond, NULL);
	if (pthread_create(&vm->sched.thread, NULL, imm_sched_main, &vm->sched) != 0) {
		drm_gpuvm_put(&vm->base);
		return NULL;
	}
	return vm;
}

static void imm_sched_stop(struct imm_vm *vm)
{
	pthread_mutex_lock(&vm->sched.lock);
	vm->sched.stop = true;
	pthread_cond_signal(&vm->sched.cond);
	pthread_mutex_unlock(&vm->sched.lock);
	pthread_join(vm->sched.thread, NULL);
	pthread_cond_destroy(&vm->sched.cond);
	pthread_mutex_destroy(&vm->sched.lock);
}

static void imm_bo_free(struct drm_gem_object *obj)
{
	struct imm_bo *bo = to_imm_bo(obj);
	struct drm_gem_object *root = bo->root;

	drm_gem_object_release(obj);
	kfree(bo);
	drm_gem_object_put(root);
}

static const struct drm_gem_object_funcs imm_bo_funcs = { .free = imm_bo_free };

static struct imm_bo *imm_bo_create(struct drm_device *drm, struct imm_vm *vm, u32 id)
{
	struct imm_bo *bo = kzalloc_obj(*bo);

	if (!bo)
		return NULL;
	bo->id = id;
	bo->base.funcs = &imm_bo_funcs;
	if (vm) {
		bo->root = drm_gpuvm_resv_obj(&vm->base);
		drm_gem_object_get(bo->root);
		bo->base.resv = drm_gpuvm_resv(&vm->base);
	}
	drm_gem_private_object_init(drm, &bo->base, IMM_BO_PAGES * IMM_PAGE_SIZE);
	return bo;
}

static unsigned int reused_vm_bos, fresh_vm_bos;

static void imm_job_free(struct imm_job *job)
{
	struct imm_va *va, *tmp;

	for (unsigned int i = 0; i < ARRAY_SIZE(job->spare); i++)
		kfree(job->spare[i]);
	list_for_each_entry_safe(va, tmp, &job->returned, link) {
		list_del(&va->link);
		kfree(va);
	}
	dma_fence_put(job->done);
	kfree(job);
}

static struct imm_job *imm_job_alloc(struct imm_vm *vm)
{
	struct imm_job *job = kzalloc_obj(*job);

	if (!job)
		return NULL;
	INIT_LIST_HEAD(&job->returned);
	job->vm = vm;
	for (unsigned int i = 0; i < ARRAY_SIZE(job->spare); i++) {
		job->spare[i] = kzalloc_obj(*job->spare[i]);
		if (!job->spare[i])
			goto fail;
	}
	job->done = dma_fence_create(vm->fence_ctx, ++vm->seqno);
	if (!job->done)
		goto fail;
	return job;
fail:
	imm_job_free(job);
	return NULL;
}

static void imm_queue(struct imm_job *job)
{
	struct imm_vm *vm = job->vm;

	list_add_tail(&job->inflight_link, &vm->inflight);
	pthread_mutex_lock(&vm->sched.lock);
	list_add_tail(&job->queue_link, &vm->sched.queue);
	pthread_cond_signal(&vm->sched.cond);
	pthread_mutex_unlock(&vm->sched.lock);
}

/* VM_BIND map: everything allocated and locked here, the update runs later. */
static int imm_vm_bind_map(struct imm_vm *vm, struct imm_bo *bo, u64 addr, u64 range,
			   u64 offset)
{
	struct drm_gpuvm_bo *prealloc;
	struct drm_gem_object *obj;
	struct drm_exec exec;
	struct imm_job *job;
	int ret;

	if (!drm_gpuvm_range_valid(&vm->base, addr, range))
		return -EINVAL;
	job = imm_job_alloc(vm);
	if (!job)
		return -ENOMEM;
	job->is_map = true;
	job->req.map.va.addr = addr;
	job->req.map.va.range = range;
	job->req.map.gem.obj = &bo->base;
	job->req.map.gem.offset = offset;
	prealloc = drm_gpuvm_bo_create(&vm->base, &bo->base);
	if (!prealloc) {
		imm_job_free(job);
		return -ENOMEM;
	}

	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto err;
		ret = drm_exec_prepare_obj(&exec, &bo->base, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto err;
	}
	job->vm_bo = drm_gpuvm_bo_obtain_prealloc(prealloc);
	if (job->vm_bo == prealloc)
		fresh_vm_bos++;
	else
		reused_vm_bos++;
	drm_gpuvm_bo_extobj_add(job->vm_bo);
	drm_exec_for_each_locked_object(&exec, obj)
		dma_resv_add_fence(obj->resv, job->done, DMA_RESV_USAGE_BOOKKEEP);
	drm_exec_fini(&exec);
	imm_queue(job);
	return 0;
err:
	drm_exec_fini(&exec);
	drm_gpuvm_bo_put_deferred(prealloc);
	drm_gpuvm_bo_deferred_cleanup(&vm->base);
	imm_job_free(job);
	return ret;
}

static int imm_vm_bind_unmap(struct imm_vm *vm, u64 addr, u64 range)
{
	struct drm_exec exec;
	struct imm_job *job;
	int ret;

	if (!drm_gpuvm_range_valid(&vm->base, addr, range))
		return -EINVAL;
	job = imm_job_alloc(vm);
	if (!job)
		return -ENOMEM;
	job->req.map.va.addr = addr;
	job->req.map.va.range = range;
	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto err;
	}
	dma_resv_add_fence(drm_gpuvm_resv(&vm->base), job->done, DMA_RESV_USAGE_BOOKKEEP);
	drm_exec_fini(&exec);
	imm_queue(job);
	return 0;
err:
	drm_exec_fini(&exec);
	imm_job_free(job);
	return ret;
}

/* Clean up the finished jobs at the head of the VM's queue (or all: @wait). */
static void imm_reap(struct imm_vm *vm, bool wait)
{
	struct imm_job *job, *tmp;

	list_for_each_entry_safe(job, tmp, &vm->inflight, inflight_link) {
		if (wait)
			dma_fence_wait_timeout(job->done, false, MAX_SCHEDULE_TIMEOUT);
		else if (!dma_fence_is_signaled(job->done))
			break;
		CHECK(job->ret == 0);
		list_del(&job->inflight_link);
		drm_gpuvm_bo_put_deferred(job->vm_bo);
		imm_job_free(job);
	}
	in_deferred_cleanup = true;
	drm_gpuvm_bo_deferred_cleanup(&vm->base);
	in_deferred_cleanup = false;
}

/* ------------------------------------------------------------ the model */

struct imm_model {
	u32 bo[IMM_NVMS][IMM_PAGES]; /* 0: unmapped, else BO index + 1 */
	u64 pg[IMM_NVMS][IMM_PAGES];
};

static bool model_mapped(const struct imm_model *m, int v, u32 k)
{
	for (int p = 0; p < IMM_PAGES; p++)
		if (m->bo[v][p] == k + 1)
			return true;
	return false;
}

/* Call at a sync point only (every job done and cleaned up). */
static unsigned int imm_mismatches(struct imm_vm **vms, struct imm_bo **bos,
				   const struct imm_model *m)
{
	unsigned int bad = 0;

	for (int v = 0; v < IMM_NVMS; v++) {
		struct imm_vm *vm = vms[v];
		struct drm_gpuvm_bo *vm_bo;
		unsigned int n_ext = 0, want_ext = 0;
		struct imm_va *va;
		unsigned int n = 0;

		for (int p = 0; p < IMM_PAGES; p++) {
			u32 b = m->bo[v][p];

			bad += vm->pt[p] != (b ? imm_pte(bos[b - 1]->id, m->pg[v][p]) : 0);
		}
		mutex_lock(&vm->op_lock);
		list_for_each_entry(va, &vm->vas, link) {
			n++;
			bad += drm_gpuva_find(&vm->base, va->base.va.addr, va->base.va.range) !=
			       &va->base;
		}
		bad += n != vm->nr_vas;
		mutex_unlock(&vm->op_lock);
		bad += !llist_empty(&vm->base.bo_defer);

		dma_resv_lock(drm_gpuvm_resv(&vm->base), NULL);
		list_for_each_entry(vm_bo, &vm->base.extobj.list, list.entry.extobj)
			n_ext++;
		dma_resv_unlock(drm_gpuvm_resv(&vm->base));
		for (u32 k = 0; k < IMM_NSHARED; k++)
			want_ext += model_mapped(m, v, k);
		bad += n_ext != want_ext;
	}
	for (u32 k = 0; k < IMM_NBOS; k++) {
		struct drm_gem_object *obj = &bos[k]->base;
		struct drm_gpuvm_bo *vm_bo;
		unsigned int n = 0, want = 0;

		mutex_lock(&obj->gpuva.lock);
		drm_gem_for_each_gpuvm_bo(vm_bo, obj)
			n++;
		mutex_unlock(&obj->gpuva.lock);
		for (int v = 0; v < IMM_NVMS; v++)
			want += model_mapped(m, v, k);
		bad += n != want;
	}
	return bad;
}

/* ------------------------------------------------------------------ run */

static struct imm_model model;

static unsigned int imm_run(int batches)
{
	struct drm_device *drm = drm_dev_alloc("imm");
	struct imm_vm *vms[IMM_NVMS];
	struct imm_bo *bos[IMM_NBOS];
	unsigned int bad = 0, jobs = 0;

	CHECK(drm != NULL);
	for (int v = 0; v < IMM_NVMS; v++) {
		vms[v] = imm_vm_create(drm);
		CHECK(vms[v] != NULL);
	}
	for (u32 k = 0; k < IMM_NBOS; k++) {
		bos[k] = imm_bo_create(drm, k < IMM_NSHARED ? NULL : vms[k - IMM_NSHARED], k + 1);
		CHECK(bos[k] != NULL);
	}
	memset(&model, 0, sizeof(model));

	for (int batch = 0; batch < batches; batch++) {
		unsigned int n_jobs = 1 + corpus_below(10);

		for (unsigned int j = 0; j < n_jobs; j++) {
			int v = (int)corpus_below(IMM_NVMS);
			u64 first = corpus_below(IMM_PAGES);
			u64 room = IMM_PAGES - first;

			if (corpus_below(4)) {
				u32 pick = corpus_below(IMM_NSHARED + 1);
				u32 k = pick < IMM_NSHARED ? pick : IMM_NSHARED + (u32)v;
				u64 n = 1 + corpus_below((unsigned int)(room < IMM_BO_PAGES ? room
											    : IMM_BO_PAGES));
				u64 off = corpus_below((unsigned int)(IMM_BO_PAGES - n + 1));

				CHECK(imm_vm_bind_map(vms[v], bos[k], first * IMM_PAGE_SIZE,
						      n * IMM_PAGE_SIZE, off * IMM_PAGE_SIZE) == 0);
				for (u64 i = 0; i < n; i++) {
					model.bo[v][first + i] = k + 1;
					model.pg[v][first + i] = off + i;
				}
			} else {
				u64 n = 1 + corpus_below((unsigned int)room);

				CHECK(imm_vm_bind_unmap(vms[v], first * IMM_PAGE_SIZE,
							n * IMM_PAGE_SIZE) == 0);
				for (u64 i = 0; i < n; i++)
					model.bo[v][first + i] = 0;
			}
			jobs++;
			/* Opportunistic cleanup of what has finished, as a driver would. */
			imm_reap(vms[v], false);
		}
		for (int v = 0; v < IMM_NVMS; v++)
			imm_reap(vms[v], true);
		bad += imm_mismatches(vms, bos, &model);
	}
	/* Invalid requests are refused before anything is queued. */
	CHECK(imm_vm_bind_map(vms[0], bos[0], (IMM_PAGES - 1) * IMM_PAGE_SIZE,
			      2 * IMM_PAGE_SIZE, 0) == -EINVAL);
	CHECK(list_empty(&vms[0]->inflight));

	/* VM close: unmap everything, wait, clean up, stop the schedulers. */
	for (int v = 0; v < IMM_NVMS; v++) {
		CHECK(imm_vm_bind_unmap(vms[v], 0, IMM_PAGES * IMM_PAGE_SIZE) == 0);
		imm_reap(vms[v], true);
		memset(model.bo[v], 0, sizeof(model.bo[v]));
	}
	bad += imm_mismatches(vms, bos, &model);
	for (int v = 0; v < IMM_NVMS; v++) {
		imm_sched_stop(vms[v]);
		CHECK(list_empty(&vms[v]->vas));
		CHECK(list_empty(&vms[v]->base.extobj.list));
	}
	for (u32 k = 0; k < IMM_NBOS; k++)
		drm_gem_object_put(&bos[k]->base);
	for (int v = 0; v < IMM_NVMS; v++)
		drm_gpuvm_put(&vms[v]->base);
	drm_dev_put(drm);
	CHECK(jobs > 0);
	return bad;
}

static void run_binds(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long warn0 = gpuvm_warn_count();

	imm_bug_remap_zaps_all = false;
	CHECK(imm_run(60) == 0);
	/* Both obtain_prealloc outcomes, and vm_bos that died as zombies. */
	CHECK(fresh_vm_bos > 0 && reused_vm_bos > 0);
	CHECK(atomic_load(&zombie_frees) > 0);
	CHECK(gpuvm_alloc_live() == live0);
	CHECK(gpuvm_warn_count() == warn0);
}

static void run_seeded_bug(void)
{
	long live0 = gpuvm_alloc_live();

	imm_bug_remap_zaps_all = true;
	CHECK(imm_run(20) > 0);
	imm_bug_remap_zaps_all = false;
	CHECK(gpuvm_alloc_live() == live0);
}

int main(void)
{
	CORPUS_PART(1, "immediate mode: VM_BIND jobs on two scheduler threads match the model",
		    run_binds());
	CORPUS_PART(2, "immediate mode: a seeded remap bug is caught", run_seeded_bug());
	printf("1..2\n");
	return corpus_failures ? 1 : 0;
}
