/* SPDX-License-Identifier: MIT */
/*
 * Locking a VM's reservation objects through drm_exec (prepare_vm/objects/
 * range, the drm_gpuvm_exec_lock family, the sm_map/sm_unmap lock walks),
 * validating evicted vm_bos and adding fences to everything locked.
 *
 * The extobj/evict lists are walked in one of two ways:
 * with DRM_GPUVM_RESV_PROTECTED the caller holds the VM resv and the lists
 * are walked directly, skipping zombies; otherwise each element is moved,
 * under the list's spinlock and with a reference taken, onto a private list
 * on the walker's stack, so the spinlock is never held across a callback or
 * a lock attempt, and the private list is spliced back at the end.
 */
#include "drm/drm_gpuvm.h"

#include "gpuvm/sm_internal.h"
#include "gpuvm/vm_bo_lists.h"

/* "prepare": reserve fence slots only if the caller asked for some. */
static int exec_prepare_obj(struct drm_exec *exec, struct drm_gem_object *obj,
			    unsigned int num_fences)
{
	return num_fences ? drm_exec_prepare_obj(exec, obj, num_fences)
			  : drm_exec_lock_obj(exec, obj);
}

/* ------------------------------------------ spinlock-mode list iteration */

/*
 * Return the next live vm_bo of the list with a reference, after dropping
 * the reference on @prev. Dying entries (refcount already 0) are taken off
 * the list here; their destroyer's removal is then a no-op.
 */
static struct drm_gpuvm_bo *bo_list_next(struct drm_gpuvm *gpuvm, enum gpuvm_bo_list_id id,
					 struct list_head *local, struct drm_gpuvm_bo *prev)
{
	struct gpuvm_bo_list l = gpuvm_bo_list(gpuvm, id);
	struct drm_gpuvm_bo *vm_bo = NULL;

	/*
	 * Plain put: it takes the gpuva lock only if this was the last
	 * reference, and frees after unlocking.
	 */
	drm_gpuvm_bo_put(prev);

	spin_lock(l.lock);
	if (!*l.local_list)
		*l.local_list = local;
	else
		WARN(*l.local_list != local,
		     "concurrent iteration of a VM's %s list: the driver must serialise it",
		     id == GPUVM_BO_LIST_EXTOBJ ? "extobj" : "evict");

	while (!list_empty(l.head)) {
		struct list_head *node = l.head->next;
		struct drm_gpuvm_bo *cand = gpuvm_bo_list_entry(&l, node);

		if (kref_get_unless_zero(&cand->kref)) {
			list_move_tail(node, local);
			vm_bo = cand;
			break;
		}
		list_del_init(node);
	}
	spin_unlock(l.lock);
	return vm_bo;
}

/* Put the walked elements back in front of any added meanwhile, in order. */
static void bo_list_restore(struct drm_gpuvm *gpuvm, enum gpuvm_bo_list_id id,
			    struct list_head *local)
{
	struct gpuvm_bo_list l = gpuvm_bo_list(gpuvm, id);

	spin_lock(l.lock);
	list_splice_init(local, l.head);
	/* After a (WARNed) concurrent iteration the slot may name the other walker. */
	if (*l.local_list == local)
		*l.local_list = NULL;
	spin_unlock(l.lock);
}

#define for_each_vm_bo_in_list(gpuvm, id, local, vm_bo)                    \
	for ((vm_bo) = bo_list_next((gpuvm), (id), (local), NULL); (vm_bo); \
	     (vm_bo) = bo_list_next((gpuvm), (id), (local), (vm_bo)))

/* ----------------------------------------------------------- prepare_* */

int drm_gpuvm_prepare_vm(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			 unsigned int num_fences)
{
	return exec_prepare_obj(exec, gpuvm->r_obj, num_fences);
}

static int prepare_objects_locked(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
				  unsigned int num_fences)
{
	struct drm_gpuvm_bo *vm_bo;
	int ret = 0;

	drm_gpuvm_resv_assert_held(gpuvm);
	list_for_each_entry(vm_bo, &gpuvm->extobj.list, list.entry.extobj) {
		if (drm_gpuvm_bo_is_zombie(vm_bo))
			continue;
		ret = exec_prepare_obj(exec, vm_bo->obj, num_fences);
		if (ret)
			break;
		/* The deferred half of drm_gpuvm_bo_evict() for external objects. */
		if (vm_bo->evicted)
			gpuvm_bo_list_add(vm_bo, GPUVM_BO_LIST_EVICT, false);
	}
	return ret;
}

int drm_gpuvm_prepare_objects(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			      unsigned int num_fences)
{
	struct list_head extobjs;
	struct drm_gpuvm_bo *vm_bo;
	int ret = 0;

	if (drm_gpuvm_resv_protected(gpuvm))
		return prepare_objects_locked(gpuvm, exec, num_fences);

	INIT_LIST_HEAD(&extobjs);
	for_each_vm_bo_in_list(gpuvm, GPUVM_BO_LIST_EXTOBJ, &extobjs, vm_bo) {
		ret = exec_prepare_obj(exec, vm_bo->obj, num_fences);
		if (ret)
			break;
	}
	/* Non-NULL only after a break. */
	drm_gpuvm_bo_put(vm_bo);
	bo_list_restore(gpuvm, GPUVM_BO_LIST_EXTOBJ, &extobjs);
	return ret;
}

int drm_gpuvm_prepare_range(struct drm_gpuvm *gpuvm, struct drm_exec *exec, u64 addr,
			    u64 range, unsigned int num_fences)
{
	const u64 end = addr + range;
	struct drm_gpuva *va;

	drm_gpuvm_for_each_va_range(va, gpuvm, addr, end) {
		struct drm_gem_object *obj = va->gem.obj;
		int ret;

		/* Sparse/NULL mappings and the reserved node have nothing to lock. */
		if (!obj)
			continue;
		ret = exec_prepare_obj(exec, obj, num_fences);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---------------------------------------------------------- exec_lock* */

int drm_gpuvm_exec_lock(struct drm_gpuvm_exec *vm_exec)
{
	struct drm_gpuvm *gpuvm = vm_exec->vm;
	struct drm_exec *exec = &vm_exec->exec;
	unsigned int num_fences = vm_exec->num_fences;
	int ret = 0;

	drm_exec_init(exec, vm_exec->flags, 0);
	drm_exec_until_all_locked(exec) {
		ret = drm_gpuvm_prepare_vm(gpuvm, exec, num_fences);
		drm_exec_retry_on_contention(exec);
		if (ret)
			goto err;

		ret = drm_gpuvm_prepare_objects(gpuvm, exec, num_fences);
		drm_exec_retry_on_contention(exec);
		if (ret)
			goto err;

		if (vm_exec->extra.fn) {
			ret = vm_exec->extra.fn(vm_exec);
			drm_exec_retry_on_contention(exec);
			if (ret)
				goto err;
		}
	}
	return 0;

err:
	drm_exec_fini(exec);
	return ret;
}

struct lock_array_args {
	struct drm_gem_object **objs;
	unsigned int num_objs;
};

static int fn_lock_array(struct drm_gpuvm_exec *vm_exec)
{
	struct lock_array_args *args = vm_exec->extra.priv;

	return drm_exec_prepare_array(&vm_exec->exec, args->objs, args->num_objs,
				      vm_exec->num_fences);
}

int drm_gpuvm_exec_lock_array(struct drm_gpuvm_exec *vm_exec, struct drm_gem_object **objs,
			      unsigned int num_objs)
{
	struct lock_array_args args = { .objs = objs, .num_objs = num_objs };
	/* The kernel leaves extra pointing at its stack frame; we restore it. */
	int (*saved_fn)(struct drm_gpuvm_exec *vm_exec) = vm_exec->extra.fn;
	void *saved_priv = vm_exec->extra.priv;
	int ret;

	vm_exec->extra.fn = fn_lock_array;
	vm_exec->extra.priv = &args;
	ret = drm_gpuvm_exec_lock(vm_exec);
	vm_exec->extra.fn = saved_fn;
	vm_exec->extra.priv = saved_priv;
	return ret;
}

int drm_gpuvm_exec_lock_range(struct drm_gpuvm_exec *vm_exec, u64 addr, u64 range)
{
	struct drm_gpuvm *gpuvm = vm_exec->vm;
	struct drm_exec *exec = &vm_exec->exec;
	int ret = 0;

	drm_exec_init(exec, vm_exec->flags, 0);
	drm_exec_until_all_locked(exec) {
		ret = drm_gpuvm_prepare_range(gpuvm, exec, addr, range, vm_exec->num_fences);
		drm_exec_retry_on_contention(exec);
		if (ret)
			goto err;
	}
	return 0;

err:
	drm_exec_fini(exec);
	return ret;
}

/* ------------------------------------------------------------- validate */

static int validate_locked(struct drm_gpuvm *gpuvm, struct drm_exec *exec)
{
	const struct drm_gpuvm_ops *ops = gpuvm->ops;
	struct drm_gpuvm_bo *vm_bo, *next;
	int ret = 0;

	drm_gpuvm_resv_assert_held(gpuvm);
	list_for_each_entry_safe(vm_bo, next, &gpuvm->evict.list,
				 list.entry.evict) {
		if (drm_gpuvm_bo_is_zombie(vm_bo))
			continue;
		ret = ops->vm_bo_validate(vm_bo, exec);
		if (ret)
			break;
		/* evicted is protected by the object's resv. */
		dma_resv_assert_held(vm_bo->obj->resv);
		if (!vm_bo->evicted)
			gpuvm_bo_list_del(vm_bo, GPUVM_BO_LIST_EVICT, false);
	}
	return ret;
}

int drm_gpuvm_validate(struct drm_gpuvm *gpuvm, struct drm_exec *exec)
{
	const struct drm_gpuvm_ops *ops = gpuvm->ops;
	struct list_head evict;
	struct drm_gpuvm_bo *vm_bo;
	int ret = 0;

	if (unlikely(!ops || !ops->vm_bo_validate))
		return -EOPNOTSUPP;

	if (drm_gpuvm_resv_protected(gpuvm))
		return validate_locked(gpuvm, exec);

	/* The driver's callback takes validated vm_bos off the list (evict false). */
	INIT_LIST_HEAD(&evict);
	for_each_vm_bo_in_list(gpuvm, GPUVM_BO_LIST_EVICT, &evict, vm_bo) {
		ret = ops->vm_bo_validate(vm_bo, exec);
		if (ret)
			break;
	}
	drm_gpuvm_bo_put(vm_bo);
	bo_list_restore(gpuvm, GPUVM_BO_LIST_EVICT, &evict);
	return ret;
}

/* ---------------------------------------------------------------- fences */

void drm_gpuvm_resv_add_fence(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			      struct dma_fence *fence, enum dma_resv_usage private_usage,
			      enum dma_resv_usage extobj_usage)
{
	struct drm_gem_object *obj;
	unsigned int index;

	drm_exec_for_each_locked_object(exec, index, obj) {
		dma_resv_assert_held(obj->resv);
		dma_resv_add_fence(obj->resv, fence,
				   drm_gpuvm_is_extobj(gpuvm, obj) ? extobj_usage : private_usage);
	}
}

/* -------------------------------------------------- split/merge locking */

/* Lock the object a REMAP/UNMAP step takes a mapping away from; MAP: none. */
static int fn_lock_step(struct drm_gpuva_op *op, void *priv)
{
	struct drm_exec *exec = priv;
	struct drm_gpuva *va;

	switch (op->op) {
	case DRM_GPUVA_OP_REMAP:
		va = op->remap.unmap->va;
		break;
	case DRM_GPUVA_OP_UNMAP:
		va = op->unmap.va;
		break;
	default:
		return 0;
	}
	return va->gem.obj ? drm_exec_lock_obj(exec, va->gem.obj) : 0;
}

static const struct drm_gpuvm_ops lock_ops = {
	.sm_step_map = fn_lock_step,
	.sm_step_remap = fn_lock_step,
	.sm_step_unmap = fn_lock_step,
};

int drm_gpuvm_sm_map_exec_lock(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			       unsigned int num_fences, struct drm_gpuvm_map_req *req)
{
	struct drm_gem_object *req_obj = req->map.gem.obj;

	/* Always "prepare", even for 0 fences: the kernel does the same. */
	if (req_obj) {
		int ret = drm_exec_prepare_obj(exec, req_obj, num_fences);

		if (ret)
			return ret;
	}
	return __drm_gpuvm_sm_map(gpuvm, &lock_ops, exec, req, false);
}

int drm_gpuvm_sm_unmap_exec_lock(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
				 u64 req_addr, u64 req_range)
{
	return __drm_gpuvm_sm_unmap(gpuvm, &lock_ops, exec, req_addr, req_range);
}
