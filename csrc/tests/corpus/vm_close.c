/* SPDX-License-Identifier: MIT */
/*
 * VM close with nested drm_exec loops under real contention, the two ways
 * drivers write it:
 *
 * 1. "unmap while locking": inside drm_exec_until_all_locked() lock the
 *    VM's resv, then walk every VA (drm_gpuvm_for_each_va_safe), lock its
 *    BO unless it shares the VM's resv, retry on contention from inside the
 *    walk, unmap the VA and unlock the BO again (drm_exec_unlock_obj()).
 *    VAs unmapped before a contention stay unmapped; the restarted pass
 *    carries on with the rest.
 * 2. "lock everything, then unmap": lock the VM's resv and every BO on the
 *    driver's per-VM BO list (list_for_each_entry inside the exec loop,
 *    retry on contention), then drm_gpuvm_sm_unmap() over the whole range.
 *
 * A second thread holds a shared BO's resv with an older ww ticket, so the close meets -EDEADLK, backs off, waits for it in
 * the slow path and restarts. Every lock, contention, unmap and unlock is
 * recorded and compared with a model of the kernel's control flow (a retry
 * leaves the inner loop at once and restarts the block from the top); each
 * unmap must happen with the BO's resv held and the page table must end
 * empty. 40 seeded layouts per variant; a seeded driver bug (`continue`
 * instead of the retry, the bug the stand-in once had) must be caught.
 *
 * Built twice: plain names, and with -DCL_KERNEL_LOCKING
 * (<drm/drm_gpuvm_compat.h>).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>

#include <drm/drm_device.h>
#include <drm/drm_exec.h>
#include <drm/drm_gem.h>
#include <drm/drm_gpuvm.h>
#include <linux/bug.h>
#include <linux/dma-resv.h>
#include <linux/err.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <linux/ww_mutex.h>
#ifdef CL_KERNEL_LOCKING
#include <drm/drm_gpuvm_compat.h>
#endif

#include "corpus.h"

#define CL_PAGE_SHIFT 12
#define CL_PAGE_SIZE (1ULL << CL_PAGE_SHIFT)
#define CL_SLOTS 12
#define CL_SLOT_PAGES 4
#define CL_PAGES (CL_SLOTS * CL_SLOT_PAGES)
#define CL_PTE_VALID BIT_ULL(63)
#define CL_NPRIV 2
#define CL_NSHARED 4
#define CL_NBOS (CL_NPRIV + CL_NSHARED) /* private ones first */

struct cl_bo {
	struct drm_gem_object base;
	u32 id;
	struct drm_gem_object *root; /* private BO: the VM's resv object (counted) */
	struct list_head vm_link;    /* cl_vm.bos once bound, else empty */
};

struct cl_va {
	struct drm_gpuva base;
};

struct cl_vm {
	struct drm_gpuvm base;
	u64 pt[CL_PAGES];
	struct list_head bos; /* BOs bound into this VM, first bind first */
	char trace[512];
	size_t trace_len;
	unsigned int unlocked_unmaps; /* unmaps done without the BO's resv */
};

/* ------------------------------------------------------ the other thread */

struct cl_holder {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct dma_resv *resv;
	struct ww_acquire_ctx ctx;
	int state; /* 1 holding, 2 asked to release, 3 released, -1 failed */
};

static struct cl_holder *cl_holder; /* the one contending now, or NULL */

static void holder_set(struct cl_holder *h, int state)
{
	pthread_mutex_lock(&h->lock);
	h->state = state;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void holder_wait(struct cl_holder *h, int state)
{
	pthread_mutex_lock(&h->lock);
	while (h->state < state && h->state >= 0)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

static void *holder_main(void *arg)
{
	struct cl_holder *h = arg;

	/* Initialised before the close's ticket: the older one, which wins. */
	ww_acquire_init(&h->ctx, &reservation_ww_class);
	if (dma_resv_lock(h->resv, &h->ctx)) {
		ww_acquire_fini(&h->ctx);
		holder_set(h, -1);
		return NULL;
	}
	holder_set(h, 1);
	holder_wait(h, 2);
	dma_resv_unlock(h->resv);
	ww_acquire_fini(&h->ctx);
	holder_set(h, 3);
	return NULL;
}

static bool holder_start(struct cl_holder *h, struct dma_resv *resv)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->resv = resv;
	if (pthread_create(&h->thread, NULL, holder_main, h))
		return false;
	holder_wait(h, 1);
	return h->state == 1;
}

static void holder_finish(struct cl_holder *h)
{
	holder_set(h, 2); /* if the close never met it */
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

/* ------------------------------------------------------------ recording */

static void cl_rec(struct cl_vm *vm, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(vm->trace + vm->trace_len, sizeof(vm->trace) - vm->trace_len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(vm->trace) - vm->trace_len)
		vm->trace_len += (size_t)n;
}

static u32 cl_obj_id(struct cl_vm *vm, struct drm_gem_object *obj)
{
	return obj == drm_gpuvm_resv_obj(&vm->base) ? 0 : container_of(obj, struct cl_bo, base)->id;
}

/* The driver's lock helper: records, and lets the holder go on contention. */
static int cl_lock(struct cl_vm *vm, struct drm_exec *exec, struct drm_gem_object *obj)
{
	int ret = drm_exec_lock_obj(exec, obj);

	if (ret == -EDEADLK) {
		cl_rec(vm, "D%u ", cl_obj_id(vm, obj));
		if (cl_holder)
			holder_set(cl_holder, 2); /* the slow path waits for the release */
	} else {
		cl_rec(vm, "L%u ", cl_obj_id(vm, obj));
	}
	return ret;
}

/* ---------------------------------------------------------------- driver */

static struct cl_vm *to_cl_vm(struct drm_gpuvm *gpuvm)
{
	return container_of(gpuvm, struct cl_vm, base);
}

static void cl_zap_and_free(struct cl_vm *vm, struct drm_gpuva *va)
{
	u64 first = va->va.addr >> CL_PAGE_SHIFT;

	cl_rec(vm, "U%llu ", (unsigned long long)(va->va.addr >> CL_PAGE_SHIFT) / CL_SLOT_PAGES);
	if (!dma_resv_held(va->gem.obj->resv))
		vm->unlocked_unmaps++;
	for (u64 i = 0; i < va->va.range >> CL_PAGE_SHIFT; i++)
		vm->pt[first + i] = 0;
	drm_gpuva_unlink(va);
	kfree(container_of(va, struct cl_va, base));
}

static int cl_step_map(struct drm_gpuva_op *op, void *priv)
{
	struct drm_gpuvm_bo *vm_bo = priv;
	struct cl_vm *vm = to_cl_vm(vm_bo->vm);
	struct cl_va *va = kzalloc_obj(*va);
	u64 first = op->map.va.addr >> CL_PAGE_SHIFT;

	if (!va)
		return -ENOMEM;
	drm_gpuva_map(&vm->base, &va->base, &op->map);
	drm_gpuva_link(&va->base, vm_bo);
	for (u64 i = 0; i < op->map.va.range >> CL_PAGE_SHIFT; i++)
		vm->pt[first + i] = CL_PTE_VALID | ((u64)container_of(vm_bo->obj, struct cl_bo, base)->id << 32) |
				    ((op->map.gem.offset >> CL_PAGE_SHIFT) + i);
	return 0;
}

/* Binds go to free slots only: a remap never happens. */
static int cl_step_remap(struct drm_gpuva_op *op, void *priv)
{
	(void)op;
	(void)priv;
	WARN_ON(1);
	return -EINVAL;
}

static int cl_step_unmap(struct drm_gpuva_op *op, void *priv)
{
	struct cl_vm *vm = priv;
	struct drm_gpuva *va = op->unmap.va;

	drm_gpuva_unmap(&op->unmap);
	cl_zap_and_free(vm, va);
	return 0;
}

static void cl_vm_free(struct drm_gpuvm *gpuvm)
{
	kfree(to_cl_vm(gpuvm));
}

static const struct drm_gpuvm_ops cl_vm_ops = {
	.vm_free = cl_vm_free,
	.sm_step_map = cl_step_map,
	.sm_step_remap = cl_step_remap,
	.sm_step_unmap = cl_step_unmap,
};

static struct cl_vm *cl_vm_create(struct drm_device *drm)
{
	struct cl_vm *vm = kzalloc_obj(*vm, GFP_KERNEL);
	struct drm_gem_object *r_obj;

	if (!vm)
		return NULL;
	r_obj = drm_gpuvm_resv_object_alloc(drm);
	if (!r_obj) {
		kfree(vm);
		return NULL;
	}
	INIT_LIST_HEAD(&vm->bos);
	drm_gpuvm_init(&vm->base, "close", DRM_GPUVM_RESV_PROTECTED, drm, r_obj, 0,
		       CL_PAGES * CL_PAGE_SIZE, 0, 0, &cl_vm_ops);
	drm_gem_object_put(r_obj);
	return vm;
}

static void cl_bo_free(struct drm_gem_object *obj)
{
	struct cl_bo *bo = container_of(obj, struct cl_bo, base);
	struct drm_gem_object *root = bo->root;

	drm_gem_object_release(obj);
	kfree(bo);
	drm_gem_object_put(root);
}

static const struct drm_gem_object_funcs cl_bo_funcs = { .free = cl_bo_free };

static struct cl_bo *cl_bo_create(struct drm_device *drm, struct cl_vm *vm, u32 id)
{
	struct cl_bo *bo = kzalloc_obj(*bo);

	if (!bo)
		return NULL;
	bo->id = id;
	bo->base.funcs = &cl_bo_funcs;
	INIT_LIST_HEAD(&bo->vm_link);
	if (vm) {
		bo->root = drm_gpuvm_resv_obj(&vm->base);
		drm_gem_object_get(bo->root);
		bo->base.resv = drm_gpuvm_resv(&vm->base);
	}
	drm_gem_private_object_init(drm, &bo->base, CL_SLOT_PAGES * CL_PAGE_SIZE);
	return bo;
}

static int cl_bind(struct cl_vm *vm, struct cl_bo *bo, unsigned int slot, u64 offset_pages)
{
	struct drm_gpuvm_map_req req = {
		.map.va.addr = (u64)slot * CL_SLOT_PAGES * CL_PAGE_SIZE,
		.map.va.range = (CL_SLOT_PAGES - offset_pages) * CL_PAGE_SIZE,
		.map.gem.obj = &bo->base,
		.map.gem.offset = offset_pages * CL_PAGE_SIZE,
	};
	struct drm_gpuvm_bo *vm_bo;
	struct drm_exec exec;
	int ret;

	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out;
		ret = drm_exec_prepare_obj(&exec, &bo->base, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out;
	}
	vm_bo = drm_gpuvm_bo_obtain(&vm->base, &bo->base);
	if (IS_ERR(vm_bo)) {
		ret = PTR_ERR(vm_bo);
		goto out;
	}
	drm_gpuvm_bo_extobj_add(vm_bo);
	ret = drm_gpuvm_sm_map(&vm->base, vm_bo, &req);
	drm_gpuvm_bo_put(vm_bo);
	if (!ret && list_empty(&bo->vm_link))
		list_add_tail(&bo->vm_link, &vm->bos);
out:
	drm_exec_fini(&exec);
	return ret;
}

/* Closes that met a contention (-EDEADLK) and restarted. */
static unsigned int cl_contended;

/* Seeded driver bug: carry on with the walk after a contention. */
static bool cl_bug_continue;

/* Variant 1: unmap while locking, one BO at a time. */
static int cl_close_unmap_while_locking(struct cl_vm *vm)
{
	struct drm_gpuvm *gpuvm = &vm->base;
	struct drm_gpuva *va, *next;
	struct drm_exec exec;
	int ret = 0;

	drm_exec_init(&exec, 0, 2);
	drm_exec_until_all_locked(&exec) {
		cl_rec(vm, "| ");
		ret = cl_lock(vm, &exec, drm_gpuvm_resv_obj(gpuvm));
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out;
		drm_gpuvm_for_each_va_safe(va, next, gpuvm) {
			struct drm_gem_object *obj = va->gem.obj;

			if (va == &gpuvm->kernel_alloc_node)
				continue;
			/* Private BOs are locked with the VM already. */
			if (obj && obj->resv == drm_gpuvm_resv(gpuvm))
				obj = NULL;
			if (obj) {
				ret = cl_lock(vm, &exec, obj);
				if (cl_bug_continue && drm_exec_is_contended(&exec))
					continue;
				drm_exec_retry_on_contention(&exec);
				if (ret)
					goto out;
			}
			drm_gpuva_remove(va);
			cl_zap_and_free(vm, va);
			if (obj) {
				drm_exec_unlock_obj(&exec, obj);
				cl_rec(vm, "u%u ", cl_obj_id(vm, obj));
			}
		}
	}
out:
	drm_exec_fini(&exec);
	return ret;
}

/* Variant 2: lock the VM and every bound BO, then one unmap of everything. */
static int cl_close_lock_all(struct cl_vm *vm)
{
	struct drm_gpuvm *gpuvm = &vm->base;
	struct drm_exec exec;
	struct cl_bo *bo;
	int ret;

	drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		cl_rec(vm, "| ");
		ret = cl_lock(vm, &exec, drm_gpuvm_resv_obj(gpuvm));
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto out;
		list_for_each_entry(bo, &vm->bos, vm_link) {
			ret = cl_lock(vm, &exec, &bo->base);
			drm_exec_retry_on_contention(&exec);
			if (ret)
				goto out;
		}
	}
	ret = drm_gpuvm_sm_unmap(gpuvm, vm, gpuvm->mm_start, gpuvm->mm_range);
out:
	drm_exec_fini(&exec);
	return ret;
}

/* ------------------------------------------------------------- the model */

struct cl_layout {
	int bo[CL_SLOTS];        /* index of the BO in the slot, -1: empty */
	u32 bind_order[CL_NBOS]; /* BO indices in first-bind order */
	unsigned int nbound;
	int held;                /* -1: nobody, else the index of the shared BO held */
};

/* The kernel's control flow, written out: a retry restarts the block at once. */
static void model_trace(const struct cl_layout *l, int variant, char *out, size_t size)
{
	bool gone[CL_SLOTS] = { false };
	bool contended = false;
	size_t len = 0;

#define EMIT(...) (len += (size_t)snprintf(out + len, size - len, __VA_ARGS__))
restart:
	EMIT("| L0 ");
	if (variant == 1) {
		for (int s = 0; s < CL_SLOTS; s++) {
			int k = l->bo[s];

			if (k < 0 || gone[s])
				continue;
			if (k >= CL_NPRIV) {
				if (l->held == k && !contended) {
					EMIT("D%d ", k + 1);
					contended = true;
					goto restart;
				}
				EMIT("L%d ", k + 1);
			}
			EMIT("U%d ", s);
			gone[s] = true;
			if (k >= CL_NPRIV)
				EMIT("u%d ", k + 1);
		}
	} else {
		for (unsigned int i = 0; i < l->nbound; i++) {
			int k = (int)l->bind_order[i];

			if (l->held == k && !contended) {
				EMIT("D%d ", k + 1);
				contended = true;
				goto restart;
			}
			EMIT("L%d ", k + 1);
		}
		for (int s = 0; s < CL_SLOTS; s++)
			if (l->bo[s] >= 0)
				EMIT("U%d ", s);
	}
#undef EMIT
}

/* One layout, one close; returns the number of mismatches. */
static unsigned int cl_one(int variant)
{
	struct drm_device *drm = drm_dev_alloc("close");
	struct cl_vm *vm = cl_vm_create(drm);
	struct cl_bo *bos[CL_NBOS];
	struct cl_layout l = { .held = -1 };
	unsigned int order[CL_SLOTS], bad = 0;
	bool bound[CL_NBOS] = { false };
	struct cl_holder holder;
	char want[512];
	int ret;

	CHECK(drm && vm);
	for (u32 k = 0; k < CL_NBOS; k++) {
		bos[k] = cl_bo_create(drm, k < CL_NPRIV ? vm : NULL, k + 1);
		CHECK(bos[k] != NULL);
	}
	/* Fill about two thirds of the slots, binding in a shuffled order. */
	for (unsigned int s = 0; s < CL_SLOTS; s++) {
		order[s] = s;
		l.bo[s] = corpus_below(3) ? (int)corpus_below(CL_NBOS) : -1;
	}
	for (unsigned int s = CL_SLOTS - 1; s > 0; s--) {
		unsigned int j = corpus_below(s + 1), t = order[s];

		order[s] = order[j];
		order[j] = t;
	}
	for (unsigned int i = 0; i < CL_SLOTS; i++) {
		int k = l.bo[order[i]];

		if (k < 0)
			continue;
		CHECK(cl_bind(vm, bos[k], order[i], corpus_below(CL_SLOT_PAGES)) == 0);
		if (!bound[k]) {
			bound[k] = true;
			l.bind_order[l.nbound++] = (u32)k;
		}
	}
	/*
	 * Somebody else holds a shared BO's resv, or nothing. (Not the VM's:
	 * it is the close's first lock, and a ticket holding nothing yet
	 * just waits, as in the kernel's wait-die; there is no back-off.)
	 */
	if (corpus_below(4))
		l.held = CL_NPRIV + (int)corpus_below(CL_NSHARED);
	if (l.held >= 0) {
		CHECK(holder_start(&holder, bos[l.held]->base.resv));
		cl_holder = &holder;
	}
	vm->trace_len = 0;
	vm->trace[0] = '\0';
	ret = variant == 1 ? cl_close_unmap_while_locking(vm) : cl_close_lock_all(vm);
	bad += ret != 0;
	if (cl_holder) {
		holder_finish(cl_holder);
		cl_holder = NULL;
	}
	model_trace(&l, variant, want, sizeof(want));
	if (strcmp(vm->trace, want) != 0) {
		bad++;
		if (!cl_bug_continue)
			fprintf(stderr, "variant %d: trace\n  %s\nwant\n  %s\n", variant, vm->trace,
				want);
	}
	if (strchr(vm->trace, 'D'))
		cl_contended++;
	bad += vm->unlocked_unmaps;
	for (int p = 0; p < CL_PAGES; p++)
		bad += vm->pt[p] != 0;

	/* Whatever a buggy close left behind goes now. */
	cl_close_lock_all(vm);
	CHECK(drm_gpuvm_interval_empty(&vm->base, 0, CL_PAGES * CL_PAGE_SIZE));
	CHECK(list_empty(&vm->base.extobj.list));
	for (u32 k = 0; k < CL_NBOS; k++) {
		CHECK(list_empty(&bos[k]->base.gpuva.list));
		drm_gem_object_put(&bos[k]->base);
	}
	drm_gpuvm_put(&vm->base);
	drm_dev_put(drm);
	return bad;
}

static void run_variant(int variant)
{
	long live0 = gpuvm_alloc_live();
	unsigned long warn0 = gpuvm_warn_count();

	cl_bug_continue = false;
	cl_contended = 0;
	for (int i = 0; i < 40; i++)
		CHECK(cl_one(variant) == 0);
	/* The holder really got in the way, often. */
	CHECK(cl_contended >= 10);
	CHECK(gpuvm_alloc_live() == live0);
	CHECK(gpuvm_warn_count() == warn0);
}

/* With `continue` instead of the retry, some layout must show it. */
static void run_seeded_bug(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned int bad = 0;

	cl_bug_continue = true;
	for (int i = 0; i < 40; i++)
		bad += cl_one(1);
	cl_bug_continue = false;
	CHECK(bad > 0);
	CHECK(gpuvm_alloc_live() == live0);
}

int main(void)
{
	CORPUS_PART(1, "VM close, unmap while locking: kernel order under contention",
		    run_variant(1));
	CORPUS_PART(2, "VM close, lock all then unmap: kernel order under contention",
		    run_variant(2));
	CORPUS_PART(3, "VM close: `continue` instead of the retry is caught", run_seeded_bug());
	printf("1..3\n");
	return corpus_failures ? 1 : 0;
}
