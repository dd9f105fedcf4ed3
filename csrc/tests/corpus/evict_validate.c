/* SPDX-License-Identifier: MIT */
/*
 * Validate after eviction, the way a driver with a TTM-like memory manager
 * does it. Two VMs; each has private BOs (sharing the VM's resv) and all of
 * them map the same shared BOs (external objects with their own resv).
 *
 * - VM_BIND map/unmap: one drm_exec transaction (prepare_vm +
 *   sm_map/unmap_exec_lock), vm_bo obtained and put around the split/merge,
 *   shared BOs put on the extobj list, a vm_bo of a non-resident BO marked
 *   evicted at once. The map step programs the page table only for a valid
 *   vm_bo; otherwise the VA is marked invalidated.
 * - Memory pressure evicts a BO under its resv: every VA of every vm_bo of
 *   the BO (drm_gem_for_each_gpuvm_bo, drm_gpuvm_bo_for_each_va) is zapped
 *   and invalidated, and the vm_bos are marked evicted (one by one with
 *   drm_gpuvm_bo_evict(), or all at once with drm_gpuvm_bo_gem_evict()).
 * - A job submission locks the VM and its external objects (either
 *   drm_gpuvm_exec_lock() or an open-coded drm_exec_until_all_locked() loop
 *   with drm_gpuvm_prepare_vm()/drm_gpuvm_prepare_objects()), validates
 *   (drm_gpuvm_validate(): vm_ops->vm_bo_validate "moves" the BO to a new
 *   placement if it is not resident and reprograms every VA of the vm_bo),
 *   and adds the job's fence.
 *
 * After every step the page tables are compared with an independent model
 * (which BO page each VA page maps, which vm_bos are stale, each BO's
 * placement generation); after a submission the VM's evict list must be
 * empty and none of its vm_bos evicted. Runs with both list protections
 * (DRM_GPUVM_RESV_PROTECTED and the internal spinlocks), and once with each
 * of two seeded driver bugs, which the checks must catch.
 *
 * Built twice, like toy_mmu.c: plain names, and with -DEV_KERNEL_LOCKING
 * (<drm/drm_gpuvm_compat.h>, the kernel's caller-locked names; every call
 * here is made with the GEM's resv held).
 */
#include <errno.h>
#include <string.h>

#include <drm/drm_device.h>
#include <drm/drm_exec.h>
#include <drm/drm_gem.h>
#include <drm/drm_gpuvm.h>
#include <linux/bug.h>
#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/err.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/types.h>
#ifdef EV_KERNEL_LOCKING
#include <drm/drm_gpuvm_compat.h>
#endif

#include "corpus.h"

#define EV_PAGE_SHIFT 12
#define EV_PAGE_SIZE (1ULL << EV_PAGE_SHIFT)
#define EV_PAGES 48
#define EV_PTE_VALID BIT_ULL(63)
#define EV_NVMS 2
#define EV_NPRIV 2 /* private BOs per VM */
#define EV_NSHARED 3
#define EV_NBOS (EV_NVMS * EV_NPRIV + EV_NSHARED)
#define EV_BO_PAGES 8

struct ev_bo {
	struct drm_gem_object base;
	u32 id;
	u32 gen;       /* placement generation: bumped by every move */
	bool resident;
	int owner;     /* index of the VM for a private BO, -1 for a shared one */
	struct drm_gem_object *root; /* private BO: the VM's resv object (counted) */
	struct list_head dev_link;   /* ev_dev.bos */
};

struct ev_va {
	struct drm_gpuva base;
	struct list_head link; /* ev_vm.vas */
};

struct ev_vm {
	struct drm_gpuvm base;
	u64 pt[EV_PAGES];
	struct list_head vas;
	unsigned int nr_vas;
	unsigned int validated;
};

struct ev_dev {
	struct drm_device *drm;
	struct list_head bos;
	struct ev_vm *vms[EV_NVMS];
	struct ev_bo *bo[EV_NBOS];
	u64 fence_ctx;
	u64 seqno;
};

struct ev_bind {
	struct ev_vm *vm;
	struct drm_gpuvm_bo *vm_bo;
	struct ev_va *spare[3];
};

/* Seeded driver bugs the checks must catch (0: none). */
enum { EV_BUG_NONE, EV_BUG_SKIP_LAST_VA, EV_BUG_KEEP_EVICTED };
static int ev_bug;

static struct ev_vm *to_ev_vm(struct drm_gpuvm *gpuvm)
{
	return container_of(gpuvm, struct ev_vm, base);
}

static struct ev_bo *to_ev_bo(struct drm_gem_object *obj)
{
	return container_of(obj, struct ev_bo, base);
}

static u64 ev_pte(u32 id, u32 gen, u64 bo_page)
{
	return EV_PTE_VALID | ((u64)gen << 40) | ((u64)id << 32) | bo_page;
}

static void ev_program(struct ev_vm *vm, struct drm_gpuva *va)
{
	struct ev_bo *bo = to_ev_bo(va->gem.obj);
	u64 first = va->va.addr >> EV_PAGE_SHIFT;

	for (u64 i = 0; i < va->va.range >> EV_PAGE_SHIFT; i++)
		vm->pt[first + i] = ev_pte(bo->id, bo->gen, (va->gem.offset >> EV_PAGE_SHIFT) + i);
	drm_gpuva_invalidate(va, false);
}

static void ev_zap(struct ev_vm *vm, u64 addr, u64 range)
{
	for (u64 p = addr >> EV_PAGE_SHIFT; p < (addr + range) >> EV_PAGE_SHIFT; p++)
		vm->pt[p] = 0;
}

/* A new or remapped VA: programmed if its vm_bo is valid, else left invalid. */
static void ev_va_placed(struct ev_vm *vm, struct ev_va *va, struct drm_gpuvm_bo *vm_bo)
{
	drm_gpuva_link(&va->base, vm_bo);
	list_add_tail(&va->link, &vm->vas);
	vm->nr_vas++;
	if (vm_bo->evicted)
		drm_gpuva_invalidate(&va->base, true);
}

static struct ev_va *ev_take_spare(struct ev_bind *b)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(b->spare); i++) {
		struct ev_va *va = b->spare[i];

		if (va) {
			b->spare[i] = NULL;
			return va;
		}
	}
	BUG();
}

static void ev_va_gone(struct ev_vm *vm, struct drm_gpuva *va)
{
	struct ev_va *eva = container_of(va, struct ev_va, base);

	list_del(&eva->link);
	vm->nr_vas--;
	kfree(eva);
}

static int ev_step_map(struct drm_gpuva_op *op, void *priv)
{
	struct ev_bind *b = priv;
	struct ev_va *va = ev_take_spare(b);

	drm_gpuva_map(&b->vm->base, &va->base, &op->map);
	ev_va_placed(b->vm, va, b->vm_bo);
	if (!b->vm_bo->evicted)
		ev_program(b->vm, &va->base);
	return 0;
}

static int ev_step_remap(struct drm_gpuva_op *op, void *priv)
{
	struct ev_bind *b = priv;
	struct drm_gpuva *old = op->remap.unmap->va;
	struct drm_gpuvm_bo *vm_bo = old->vm_bo;
	struct ev_va *prev = op->remap.prev ? ev_take_spare(b) : NULL;
	struct ev_va *next = op->remap.next ? ev_take_spare(b) : NULL;
	u64 addr, range;

	/* The kept pieces keep their PTEs; only the cut-out range goes. */
	drm_gpuva_op_remap_to_unmap_range(&op->remap, &addr, &range);
	ev_zap(b->vm, addr, range);
	drm_gpuva_remap(prev ? &prev->base : NULL, next ? &next->base : NULL, &op->remap);
	if (prev)
		ev_va_placed(b->vm, prev, vm_bo);
	if (next)
		ev_va_placed(b->vm, next, vm_bo);
	drm_gpuva_unlink(old);
	ev_va_gone(b->vm, old);
	return 0;
}

static int ev_step_unmap(struct drm_gpuva_op *op, void *priv)
{
	struct ev_bind *b = priv;
	struct drm_gpuva *va = op->unmap.va;

	ev_zap(b->vm, va->va.addr, va->va.range);
	drm_gpuva_unmap(&op->unmap);
	drm_gpuva_unlink(va);
	ev_va_gone(b->vm, va);
	return 0;
}

/*
 * The move: a BO that is not resident gets a new placement (a new
 * generation in its PTEs); then every VA of this vm_bo is reprogrammed.
 * Called by drm_gpuvm_validate() with the VM's and the BO's resv held.
 */
static int ev_vm_bo_validate(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec)
{
	struct ev_bo *bo = to_ev_bo(vm_bo->obj);
	struct ev_vm *vm = to_ev_vm(vm_bo->vm);
	struct drm_gpuva *va, *last = NULL;

	dma_resv_assert_held(vm_bo->obj->resv);
	WARN_ON(drm_exec_obj(exec, 0) == NULL);
	if (!bo->resident) {
		bo->gen++;
		bo->resident = true;
	}
	drm_gpuvm_bo_for_each_va(va, vm_bo)
		last = va;
	drm_gpuvm_bo_for_each_va(va, vm_bo) {
		if (ev_bug == EV_BUG_SKIP_LAST_VA && va == last)
			break;
		ev_program(vm, va);
	}
	if (ev_bug != EV_BUG_KEEP_EVICTED)
		drm_gpuvm_bo_evict(vm_bo, false);
	vm->validated++;
	return 0;
}

static void ev_vm_free(struct drm_gpuvm *gpuvm)
{
	kfree(to_ev_vm(gpuvm));
}

static const struct drm_gpuvm_ops ev_vm_ops = {
	.vm_free = ev_vm_free,
	.vm_bo_validate = ev_vm_bo_validate,
	.sm_step_map = ev_step_map,
	.sm_step_remap = ev_step_remap,
	.sm_step_unmap = ev_step_unmap,
};

static struct ev_vm *ev_vm_create(struct drm_device *drm, enum drm_gpuvm_flags flags)
{
	struct ev_vm *vm = kzalloc_obj(*vm, GFP_KERNEL);
	struct drm_gem_object *r_obj;

	if (!vm)
		return NULL;
	r_obj = drm_gpuvm_resv_object_alloc(drm);
	if (!r_obj) {
		kfree(vm);
		return NULL;
	}
	INIT_LIST_HEAD(&vm->vas);
	drm_gpuvm_init(&vm->base, "ev", flags, drm, r_obj, 0, EV_PAGES * EV_PAGE_SIZE, 0, 0,
		       &ev_vm_ops);
	drm_gem_object_put(r_obj);
	return vm;
}

static void ev_bo_free(struct drm_gem_object *obj)
{
	struct ev_bo *bo = to_ev_bo(obj);
	struct drm_gem_object *root = bo->root;

	list_del(&bo->dev_link);
	drm_gem_object_release(obj);
	kfree(bo);
	drm_gem_object_put(root);
}

static const struct drm_gem_object_funcs ev_bo_funcs = { .free = ev_bo_free };

/* @vm NULL: a shared BO with its own resv; else private to @vm (its resv). */
static struct ev_bo *ev_bo_create(struct ev_dev *dev, struct ev_vm *vm, int owner, u32 id)
{
	struct ev_bo *bo = kzalloc_obj(*bo);

	if (!bo)
		return NULL;
	bo->id = id;
	bo->resident = true;
	bo->owner = owner;
	bo->base.funcs = &ev_bo_funcs;
	if (vm) {
		bo->root = drm_gpuvm_resv_obj(&vm->base);
		drm_gem_object_get(bo->root);
		bo->base.resv = drm_gpuvm_resv(&vm->base);
	}
	drm_gem_private_object_init(dev->drm, &bo->base, EV_BO_PAGES * EV_PAGE_SIZE);
	list_add_tail(&bo->dev_link, &dev->bos);
	return bo;
}

static int ev_prealloc(struct ev_bind *b)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(b->spare); i++) {
		b->spare[i] = kzalloc_obj(*b->spare[i]);
		if (!b->spare[i])
			return -ENOMEM;
	}
	return 0;
}

static void ev_free_spares(struct ev_bind *b)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(b->spare); i++)
		kfree(b->spare[i]);
}

static int ev_bind_map(struct ev_vm *vm, struct ev_bo *bo, u64 addr, u64 range, u64 offset)
{
	struct drm_gpuvm_map_req req = {
		.map.va.addr = addr,
		.map.va.range = range,
		.map.gem.obj = &bo->base,
		.map.gem.offset = offset,
	};
	struct ev_bind b = { .vm = vm };
	struct drm_exec exec;
	int ret;

	ret = ev_prealloc(&b);
	if (ret)
		goto out;
	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto unlock;
		ret = drm_gpuvm_sm_map_exec_lock(&vm->base, &exec, 1, &req);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto unlock;
	}
	b.vm_bo = drm_gpuvm_bo_obtain(&vm->base, &bo->base);
	if (IS_ERR(b.vm_bo)) {
		ret = PTR_ERR(b.vm_bo);
		goto unlock;
	}
	drm_gpuvm_bo_extobj_add(b.vm_bo);
	/* Mapping an evicted BO: its PTEs come with the next validation. */
	if (!bo->resident && !b.vm_bo->evicted)
		drm_gpuvm_bo_evict(b.vm_bo, true);
	ret = drm_gpuvm_sm_map(&vm->base, &b, &req);
	drm_gpuvm_bo_put(b.vm_bo);
unlock:
	drm_exec_fini(&exec);
out:
	ev_free_spares(&b);
	return ret;
}

static int ev_bind_unmap(struct ev_vm *vm, u64 addr, u64 range)
{
	struct ev_bind b = { .vm = vm };
	struct drm_exec exec;
	int ret;

	ret = ev_prealloc(&b);
	if (ret)
		goto out;
	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto unlock;
		ret = drm_gpuvm_sm_unmap_exec_lock(&vm->base, &exec, addr, range);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto unlock;
	}
	ret = drm_gpuvm_sm_unmap(&vm->base, &b, addr, range);
unlock:
	drm_exec_fini(&exec);
out:
	ev_free_spares(&b);
	return ret;
}

/* Memory pressure: evict @bo, zapping its mappings in every VM. */
static void ev_evict(struct ev_bo *bo, bool whole_gem)
{
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *va;

	dma_resv_lock(bo->base.resv, NULL);
	if (bo->resident) {
		drm_gem_for_each_gpuvm_bo(vm_bo, &bo->base) {
			struct ev_vm *vm = to_ev_vm(vm_bo->vm);

			drm_gpuvm_bo_for_each_va(va, vm_bo) {
				ev_zap(vm, va->va.addr, va->va.range);
				drm_gpuva_invalidate(va, true);
			}
			if (!whole_gem)
				drm_gpuvm_bo_evict(vm_bo, true);
		}
		if (whole_gem)
			drm_gpuvm_bo_gem_evict(&bo->base, true);
		bo->resident = false;
	}
	dma_resv_unlock(bo->base.resv);
}

/* A job: lock the VM and its external objects, validate, fence. */
static int ev_submit(struct ev_dev *dev, struct ev_vm *vm, bool open_coded)
{
	struct dma_fence *fence = dma_fence_create(dev->fence_ctx, ++dev->seqno);
	struct drm_gpuvm_exec vm_exec = {
		.vm = &vm->base,
		.flags = DRM_EXEC_INTERRUPTIBLE_WAIT,
		.num_fences = 1,
	};
	struct drm_exec *exec = &vm_exec.exec;
	int ret;

	if (!fence)
		return -ENOMEM;
	if (open_coded) {
		drm_exec_init(exec, DRM_EXEC_INTERRUPTIBLE_WAIT, 0);
		drm_exec_until_all_locked(exec) {
			ret = drm_gpuvm_prepare_vm(&vm->base, exec, 1);
			drm_exec_retry_on_contention(exec);
			if (ret)
				goto unlock;
			ret = drm_gpuvm_prepare_objects(&vm->base, exec, 1);
			drm_exec_retry_on_contention(exec);
			if (ret)
				goto unlock;
		}
		ret = drm_gpuvm_validate(&vm->base, exec);
	} else {
		ret = drm_gpuvm_exec_lock(&vm_exec);
		if (ret)
			goto out;
		ret = drm_gpuvm_exec_validate(&vm_exec);
	}
	if (!ret) {
		drm_gpuvm_exec_resv_add_fence(&vm_exec, fence, DMA_RESV_USAGE_BOOKKEEP,
					      DMA_RESV_USAGE_BOOKKEEP);
		CHECK(!dma_resv_test_signaled(drm_gpuvm_resv(&vm->base), DMA_RESV_USAGE_BOOKKEEP));
	}
unlock:
	drm_gpuvm_exec_unlock(&vm_exec);
out:
	/* The "GPU" finishes the job at once. */
	dma_fence_signal(fence);
	dma_fence_put(fence);
	return ret;
}

/* ------------------------------------------------------------- the model */

struct ev_model {
	u32 bo[EV_NVMS][EV_PAGES]; /* 0: unmapped, else BO index + 1 */
	u64 pg[EV_NVMS][EV_PAGES];
	bool stale[EV_NVMS][EV_NBOS];
	bool resident[EV_NBOS];
	u32 gen[EV_NBOS];
};

static bool model_mapped(const struct ev_model *m, int v, u32 k)
{
	for (int p = 0; p < EV_PAGES; p++)
		if (m->bo[v][p] == k + 1)
			return true;
	return false;
}

/* A vm_bo dies with its last VA; a new one starts valid. */
static void model_drop_dead(struct ev_model *m, int v)
{
	for (u32 k = 0; k < EV_NBOS; k++)
		if (!model_mapped(m, v, k))
			m->stale[v][k] = false;
}

static void model_map(struct ev_model *m, int v, u32 k, u64 first, u64 n, u64 off)
{
	bool existed = model_mapped(m, v, k);

	for (u64 i = 0; i < n; i++) {
		m->bo[v][first + i] = k + 1;
		m->pg[v][first + i] = off + i;
	}
	m->stale[v][k] = (existed && m->stale[v][k]) || !m->resident[k];
	model_drop_dead(m, v);
}

static void model_unmap(struct ev_model *m, int v, u64 first, u64 n)
{
	for (u64 i = 0; i < n; i++)
		m->bo[v][first + i] = 0;
	model_drop_dead(m, v);
}

static void model_evict(struct ev_model *m, u32 k)
{
	if (!m->resident[k])
		return;
	m->resident[k] = false;
	for (int v = 0; v < EV_NVMS; v++)
		if (model_mapped(m, v, k))
			m->stale[v][k] = true;
}

static void model_submit(struct ev_model *m, int v)
{
	for (u32 k = 0; k < EV_NBOS; k++) {
		if (!m->stale[v][k])
			continue;
		if (!m->resident[k]) {
			m->gen[k]++;
			m->resident[k] = true;
		}
		m->stale[v][k] = false;
	}
}

/* Number of mismatches between the driver and the model. */
static unsigned int ev_mismatches(struct ev_dev *dev, const struct ev_model *m, int submitted)
{
	unsigned int bad = 0;

	for (int v = 0; v < EV_NVMS; v++) {
		struct ev_vm *vm = dev->vms[v];
		unsigned int n_tree = 0, n_list = 0;
		struct drm_gpuva *va;
		struct ev_va *eva;

		for (int p = 0; p < EV_PAGES; p++) {
			u32 b = m->bo[v][p];
			u64 want = 0;

			if (b && !m->stale[v][b - 1])
				want = ev_pte(dev->bo[b - 1]->id, m->gen[b - 1], m->pg[v][p]);
			bad += vm->pt[p] != want;
		}
		drm_gpuvm_for_each_va(va, &vm->base) {
			if (va == &vm->base.kernel_alloc_node)
				continue;
			n_tree++;
			bad += drm_gpuva_invalidated(va) != va->vm_bo->evicted;
			if (v == submitted)
				bad += va->vm_bo->evicted;
		}
		list_for_each_entry(eva, &vm->vas, link)
			n_list++;
		bad += n_tree != vm->nr_vas || n_list != vm->nr_vas;
		if (v == submitted)
			bad += !list_empty(&vm->base.evict.list);
	}
	for (u32 k = 0; k < EV_NBOS; k++)
		bad += dev->bo[k]->resident != m->resident[k] || dev->bo[k]->gen != m->gen[k];
	return bad;
}

/* ---------------------------------------------------------------- runs */

static bool ev_dev_init(struct ev_dev *dev, enum drm_gpuvm_flags flags)
{
	u32 id = 1;

	memset(dev, 0, sizeof(*dev));
	INIT_LIST_HEAD(&dev->bos);
	dev->drm = drm_dev_alloc("ev");
	if (!dev->drm)
		return false;
	dev->fence_ctx = dma_fence_context_alloc(1);
	for (int v = 0; v < EV_NVMS; v++) {
		dev->vms[v] = ev_vm_create(dev->drm, flags);
		if (!dev->vms[v])
			return false;
		for (int i = 0; i < EV_NPRIV; i++) {
			dev->bo[id - 1] = ev_bo_create(dev, dev->vms[v], v, id);
			if (!dev->bo[id - 1])
				return false;
			id++;
		}
	}
	for (int i = 0; i < EV_NSHARED; i++) {
		dev->bo[id - 1] = ev_bo_create(dev, NULL, -1, id);
		if (!dev->bo[id - 1])
			return false;
		id++;
	}
	return true;
}

static void ev_dev_fini(struct ev_dev *dev)
{
	struct ev_bo *bo, *tmp;

	for (int v = 0; v < EV_NVMS; v++) {
		CHECK(ev_bind_unmap(dev->vms[v], 0, EV_PAGES * EV_PAGE_SIZE) == 0);
		CHECK(list_empty(&dev->vms[v]->vas));
		CHECK(list_empty(&dev->vms[v]->base.extobj.list));
		CHECK(list_empty(&dev->vms[v]->base.evict.list));
	}
	/* The device's BO list is the driver's; the last put unlinks each BO. */
	list_for_each_entry_safe(bo, tmp, &dev->bos, dev_link)
		drm_gem_object_put(&bo->base);
	for (int v = 0; v < EV_NVMS; v++)
		drm_gpuvm_put(&dev->vms[v]->base);
	drm_dev_put(dev->drm);
}

static struct ev_model model;

/* Returns the number of mismatches seen over @steps random steps. */
static unsigned int ev_run(enum drm_gpuvm_flags flags, int steps, unsigned int *validated)
{
	unsigned int bad = 0, kinds[4] = { 0 };
	struct ev_dev dev;

	CHECK(ev_dev_init(&dev, flags));
	memset(&model, 0, sizeof(model));
	for (u32 k = 0; k < EV_NBOS; k++)
		model.resident[k] = true;

	for (int step = 0; step < steps; step++) {
		int v = (int)corpus_below(EV_NVMS);
		unsigned int what = corpus_below(10);
		int submitted = -1;

		if (what < 5) {
			/* map: a private BO of this VM or a shared one */
			u32 pick = corpus_below(EV_NPRIV + EV_NSHARED);
			u32 k = pick < EV_NPRIV ? (u32)v * EV_NPRIV + pick
						: EV_NVMS * EV_NPRIV + (pick - EV_NPRIV);
			u64 first = corpus_below(EV_PAGES);
			u64 room = EV_PAGES - first;
			u64 n = 1 + corpus_below((unsigned int)(room < EV_BO_PAGES ? room : EV_BO_PAGES));
			u64 off = corpus_below((unsigned int)(EV_BO_PAGES - n + 1));

			CHECK(ev_bind_map(dev.vms[v], dev.bo[k], first * EV_PAGE_SIZE,
					  n * EV_PAGE_SIZE, off * EV_PAGE_SIZE) == 0);
			model_map(&model, v, k, first, n, off);
			kinds[0]++;
		} else if (what < 6) {
			u64 first = corpus_below(EV_PAGES);
			u64 n = 1 + corpus_below((unsigned int)(EV_PAGES - first));

			CHECK(ev_bind_unmap(dev.vms[v], first * EV_PAGE_SIZE, n * EV_PAGE_SIZE) == 0);
			model_unmap(&model, v, first, n);
			kinds[1]++;
		} else if (what < 8) {
			u32 k = corpus_below(EV_NBOS);

			ev_evict(dev.bo[k], corpus_below(2));
			model_evict(&model, k);
			kinds[2]++;
		} else {
			CHECK(ev_submit(&dev, dev.vms[v], corpus_below(2)) == 0);
			model_submit(&model, v);
			submitted = v;
			kinds[3]++;
		}
		bad += ev_mismatches(&dev, &model, submitted);
	}
	/* Every kind of step happened, and validation did real work. */
	CHECK(kinds[0] && kinds[1] && kinds[2] && kinds[3]);
	*validated = 0;
	for (int v = 0; v < EV_NVMS; v++)
		*validated += dev.vms[v]->validated;
	ev_dev_fini(&dev);
	return bad;
}

static void run_mode(enum drm_gpuvm_flags flags)
{
	long live0 = gpuvm_alloc_live();
	unsigned long warn0 = gpuvm_warn_count();
	unsigned int validated;

	ev_bug = EV_BUG_NONE;
	CHECK(ev_run(flags, 400, &validated) == 0);
	CHECK(validated > 20);
	CHECK(gpuvm_alloc_live() == live0);
	CHECK(gpuvm_warn_count() == warn0);
}

/* The checks are not vacuous: each seeded driver bug is caught. */
static void run_seeded_bugs(void)
{
	static const enum drm_gpuvm_flags modes[] = { DRM_GPUVM_RESV_PROTECTED, 0 };
	long live0 = gpuvm_alloc_live();
	unsigned int validated;

	for (unsigned int i = 0; i < ARRAY_SIZE(modes); i++) {
		ev_bug = EV_BUG_SKIP_LAST_VA;
		CHECK(ev_run(modes[i], 150, &validated) > 0);
		ev_bug = EV_BUG_KEEP_EVICTED;
		CHECK(ev_run(modes[i], 150, &validated) > 0);
	}
	ev_bug = EV_BUG_NONE;
	CHECK(gpuvm_alloc_live() == live0);
}

int main(void)
{
	CORPUS_PART(1, "evict/validate, RESV_PROTECTED lists: page tables match the model",
		    run_mode(DRM_GPUVM_RESV_PROTECTED));
	CORPUS_PART(2, "evict/validate, spinlock-protected lists: page tables match the model",
		    run_mode(0));
	CORPUS_PART(3, "evict/validate: two seeded driver bugs are caught", run_seeded_bugs());
	printf("1..3\n");
	return corpus_failures ? 1 : 0;
}
