// SPDX-License-Identifier: MIT
/*
 * The reference driver's VM_BIND locking (see drm/gpuvm_driver.h): one
 * drm_exec transaction over everything a set of binds will touch.
 */
#include "driver/kapi.h"

#include "drm/gpuvm_driver.h"

struct bind_lock_args {
	const struct gpuvm_bind_req *reqs;
	unsigned int num_reqs;
	struct drm_gem_object **objs;
	unsigned int num_objs;
};

/* One pass of the walks; drm_exec restarts it after a contention. */
static int lock_binds(struct drm_gpuvm_exec *vm_exec, const struct bind_lock_args *args)
{
	struct drm_exec *exec = &vm_exec->exec;
	unsigned int i;
	int ret;

	for (i = 0; i < args->num_reqs; i++) {
		const struct gpuvm_bind_req *b = &args->reqs[i];

#ifdef GPUVM_HAVE_SM_EXEC_LOCK
		if (b->op == GPUVM_BIND_MAP) {
			/*
			 * The walk reserves fence slots on the map's object, and
			 * reserving 0 WARNs (as in the kernel): with no fences
			 * asked for, lock the object here and walk without it.
			 */
			struct drm_gem_object *walk_obj = vm_exec->num_fences ? b->obj : NULL;
			struct drm_gpuvm_map_req req =
				kapi_map_req(b->addr, b->range, walk_obj, b->offset);

			ret = 0;
			if (b->obj && !walk_obj)
				ret = drm_exec_lock_obj(exec, b->obj);
			if (!ret)
				ret = drm_gpuvm_sm_map_exec_lock(vm_exec->vm, exec,
								 vm_exec->num_fences, &req);
		} else if (b->op == GPUVM_BIND_UNMAP) {
			ret = drm_gpuvm_sm_unmap_exec_lock(vm_exec->vm, exec, b->addr, b->range);
		} else {
			ret = -EINVAL;
		}
#else
		/* Kernels before drm_gpuvm_sm_map_exec_lock() have no such walk. */
		(void)b;
		(void)exec;
		ret = -EOPNOTSUPP;
#endif
		if (ret)
			return ret;
	}
	if (vm_exec->num_fences)
		return drm_exec_prepare_array(exec, args->objs, args->num_objs,
					      vm_exec->num_fences);
	/* Lock only: drm_exec_prepare_*() would reserve 0 slots, which WARNs. */
	for (i = 0; i < args->num_objs; i++) {
		ret = drm_exec_lock_obj(exec, args->objs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static int lock_binds_extra(struct drm_gpuvm_exec *vm_exec)
{
	return lock_binds(vm_exec, vm_exec->extra.priv);
}

/* Without the VM resv there is no drm_gpuvm helper to hang the walks on. */
static int lock_binds_only(struct drm_gpuvm_exec *vm_exec, const struct bind_lock_args *args)
{
	struct drm_exec *exec = &vm_exec->exec;
	int ret = 0;

	drm_exec_init(exec, vm_exec->flags, 0);
	drm_exec_until_all_locked(exec) {
		ret = lock_binds(vm_exec, args);
		drm_exec_retry_on_contention(exec);
		if (ret)
			break;
	}
	if (ret)
		drm_exec_fini(exec);
	return ret;
}

int gpuvm_driver_exec_lock_binds(struct drm_gpuvm_exec *vm_exec,
				 const struct gpuvm_bind_req *reqs, unsigned int num_reqs,
				 bool lock_vm, struct drm_gem_object **objs, unsigned int num_objs)
{
	struct bind_lock_args args = {
		.reqs = reqs, .num_reqs = num_reqs, .objs = objs, .num_objs = num_objs,
	};
	struct drm_exec *exec = &vm_exec->exec;
	struct drm_gem_object *obj;
	unsigned long index;
	int ret;

	if (lock_vm) {
		int (*saved_fn)(struct drm_gpuvm_exec *vm_exec) = vm_exec->extra.fn;
		void *saved_priv = vm_exec->extra.priv;

		vm_exec->extra.fn = lock_binds_extra;
		vm_exec->extra.priv = &args;
		ret = drm_gpuvm_exec_lock(vm_exec);
		vm_exec->extra.fn = saved_fn;
		vm_exec->extra.priv = saved_priv;
	} else {
		ret = lock_binds_only(vm_exec, &args);
	}
	if (ret || !vm_exec->num_fences)
		return ret;
	drm_exec_for_each_locked_object(exec, index, obj) {
		ret = dma_resv_reserve_fences(obj->resv, vm_exec->num_fences);
		if (ret) {
			drm_exec_fini(exec);
			return ret;
		}
	}
	return 0;
}
