// SPDX-License-Identifier: MIT
/*
 * The reference driver's vm_bo, VA and VM-teardown sequences (see
 * drm/gpuvm_driver.h): which lock each step of the kernel's rules needs,
 * taken here unless the calling thread already holds it.
 */
#include "driver/kapi.h"

#include "drm/gpuvm_driver.h"

#include "gpuvm/vm_bo_lists.h"

/* RESV_PROTECTED VMs guard their vm_bo lists with the VM resv. */
static bool vm_resv_lock(struct drm_gpuvm *gpuvm)
{
	return drm_gpuvm_resv_protected(gpuvm) && gpuvm_resv_lock_once(drm_gpuvm_resv(gpuvm));
}

static void vm_resv_unlock(struct drm_gpuvm *gpuvm, bool taken)
{
	gpuvm_resv_unlock_taken(drm_gpuvm_resv(gpuvm), taken);
}

/* The extobj/evict list's lock: the VM resv (RESV_PROTECTED) or its spinlock. */
static bool list_lock(struct drm_gpuvm *gpuvm, const struct gpuvm_bo_list *l)
{
	if (drm_gpuvm_resv_protected(gpuvm))
		return gpuvm_resv_lock_once(drm_gpuvm_resv(gpuvm));
	gpuvm_bo_list_lock(l, true);
	return false;
}

static void list_unlock(struct drm_gpuvm *gpuvm, const struct gpuvm_bo_list *l, bool taken)
{
	if (drm_gpuvm_resv_protected(gpuvm))
		gpuvm_resv_unlock_taken(drm_gpuvm_resv(gpuvm), taken);
	else
		gpuvm_bo_list_unlock(l, true);
}

struct drm_gpuvm_bo *gpuvm_driver_bo_obtain(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *vm_bo = selflock_bo_obtain(gpuvm, obj);
	bool taken;

	if (!vm_bo)
		return ERR_PTR(-ENOMEM);
	if (IS_ERR(vm_bo))
		return vm_bo;
	taken = vm_resv_lock(gpuvm);
	drm_gpuvm_bo_extobj_add(vm_bo);
	vm_resv_unlock(gpuvm, taken);
	return vm_bo;
}

void gpuvm_driver_bo_put(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *gpuvm;
	bool taken;

	if (!vm_bo)
		return;
	gpuvm = vm_bo->vm;
	if (!drm_gpuvm_resv_protected(gpuvm)) {
		selflock_bo_put(vm_bo);
		return;
	}
	/* The put may destroy the vm_bo, and with it the caller's hold on the VM. */
	drm_gpuvm_get(gpuvm);
	taken = vm_resv_lock(gpuvm);
	selflock_bo_put(vm_bo);
	vm_resv_unlock(gpuvm, taken);
	drm_gpuvm_put(gpuvm);
}

void gpuvm_driver_bo_evict(struct drm_gpuvm_bo *vm_bo, bool evict)
{
	/* vm_bo->evicted is protected by the GEM's resv. */
	bool taken = gpuvm_resv_lock_once(vm_bo->obj->resv);

	drm_gpuvm_bo_evict(vm_bo, evict);
	gpuvm_resv_unlock_taken(vm_bo->obj->resv, taken);
}

static bool bo_on_list(struct drm_gpuvm_bo *vm_bo, enum gpuvm_bo_list_id id)
{
	struct gpuvm_bo_list l = gpuvm_bo_list(vm_bo->vm, id);
	bool taken = list_lock(vm_bo->vm, &l);
	bool on = !list_empty(gpuvm_bo_list_node(&l, vm_bo));

	list_unlock(vm_bo->vm, &l, taken);
	return on;
}

bool gpuvm_driver_bo_on_extobj_list(struct drm_gpuvm_bo *vm_bo)
{
	return bo_on_list(vm_bo, GPUVM_BO_LIST_EXTOBJ);
}

bool gpuvm_driver_bo_on_evict_list(struct drm_gpuvm_bo *vm_bo)
{
	return bo_on_list(vm_bo, GPUVM_BO_LIST_EVICT);
}

/*
 * Snapshot a list of vm_bos (nodes at @node_off) with references: count
 * first and fill only if @max is large enough, so a too-small array never
 * leaves references behind. Zombies are skipped.
 */
static size_t snapshot(struct list_head *head, size_t node_off, struct drm_gpuvm_bo **out,
		       size_t max)
{
	struct list_head *pos;
	size_t n = 0;

	list_for_each(pos, head)
		n++;
	if (n > max)
		return n;
	n = 0;
	list_for_each(pos, head) {
		struct drm_gpuvm_bo *vm_bo = (struct drm_gpuvm_bo *)(void *)((char *)pos - node_off);

		if (kref_get_unless_zero(&vm_bo->kref))
			out[n++] = vm_bo;
	}
	return n;
}

size_t gpuvm_driver_gem_vm_bos(struct drm_gem_object *obj, struct drm_gpuvm_bo **out, size_t max)
{
	/*
	 * The list is guarded by the resv (staged VMs) or the gpuva mutex
	 * (immediate VMs); holding both covers either mode. Order: resv, mutex.
	 */
	bool resv_taken = gpuvm_resv_lock_once(obj->resv);
	bool mutex_taken = false;
	size_t n;

	if (!mutex_held_by_me(&obj->gpuva.lock)) {
		mutex_lock(&obj->gpuva.lock);
		mutex_taken = true;
	}
	n = snapshot(&obj->gpuva.list, offsetof(struct drm_gpuvm_bo, list.entry.gem), out, max);
	if (mutex_taken)
		mutex_unlock(&obj->gpuva.lock);
	gpuvm_resv_unlock_taken(obj->resv, resv_taken);
	return n;
}

static size_t vm_list_snapshot(struct drm_gpuvm *gpuvm, enum gpuvm_bo_list_id id,
			       struct drm_gpuvm_bo **out, size_t max)
{
	struct gpuvm_bo_list l = gpuvm_bo_list(gpuvm, id);
	bool taken = list_lock(gpuvm, &l);
	size_t n = snapshot(l.head, l.node_off, out, max);

	list_unlock(gpuvm, &l, taken);
	return n;
}

size_t gpuvm_driver_vm_extobjs(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo **out, size_t max)
{
	return vm_list_snapshot(gpuvm, GPUVM_BO_LIST_EXTOBJ, out, max);
}

size_t gpuvm_driver_vm_evicted(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo **out, size_t max)
{
	return vm_list_snapshot(gpuvm, GPUVM_BO_LIST_EVICT, out, max);
}

void gpuvm_driver_deferred_cleanup(struct drm_gpuvm *gpuvm)
{
#ifdef GPUVM_HAVE_DEFERRED_CLEANUP
	if (drm_gpuvm_resv_protected(gpuvm) && drm_gpuvm_resv_held(gpuvm))
		return;
	drm_gpuvm_bo_deferred_cleanup(gpuvm);
#else
	/* Nothing is ever deferred before drm_gpuvm_bo_deferred_cleanup(). */
	(void)gpuvm;
#endif
}

/* ------------------------------------------------------------------- VAs */

struct drm_gpuva *gpuvm_driver_va_insert(struct drm_gpuvm *gpuvm, u64 addr, u64 range,
					 struct drm_gem_object *obj, u64 offset, int *err)
{
	struct drm_gpuvm_bo *vm_bo = NULL;
	struct drm_gpuva *va = kzalloc(sizeof(*va), GFP_KERNEL);
	int ret;

	if (!va) {
		*err = -ENOMEM;
		return NULL;
	}
	kapi_va_init_lists(va);
	va->va.addr = addr;
	va->va.range = range;
	va->gem.obj = obj;
	va->gem.offset = offset;
	if (obj) {
		vm_bo = gpuvm_driver_bo_obtain(gpuvm, obj);
		if (IS_ERR(vm_bo)) {
			kfree(va);
			*err = (int)PTR_ERR(vm_bo);
			return NULL;
		}
	}
	ret = drm_gpuva_insert(gpuvm, va);
	if (ret) {
		gpuvm_driver_bo_put(vm_bo);
		kfree(va);
		*err = ret;
		return NULL;
	}
	if (vm_bo) {
		selflock_va_link(va, vm_bo);
		gpuvm_driver_bo_put(vm_bo);
	}
	*err = 0;
	return va;
}

void gpuvm_driver_va_destroy(struct drm_gpuva *va)
{
	struct drm_gpuvm *gpuvm = va->vm;
	bool taken;

	drm_gpuvm_get(gpuvm);
	taken = vm_resv_lock(gpuvm);
	if (va->gem.obj && va->vm_bo)
		selflock_va_unlink(va);
	drm_gpuva_remove(va);
	vm_resv_unlock(gpuvm, taken);
	kfree(va);
	drm_gpuvm_put(gpuvm);
}

void gpuvm_driver_vm_release(struct drm_gpuvm *gpuvm, const struct gpuvm_apply_ctx *ctx)
{
	bool locked = ctx && (ctx->flags & GPUVM_APPLY_LOCKED);
	struct drm_gpuva *va, *next;
	bool taken;

	/* Unlinking may drop a vm_bo's last reference: the lists need the VM resv. */
	taken = vm_resv_lock(gpuvm);
	drm_gpuvm_for_each_va_safe(va, next, gpuvm) {
		if (va == &gpuvm->kernel_alloc_node)
			continue;
		/* Never linked (no GEM, or its insert left it alone): nothing to drop. */
		if (va->gem.obj && va->vm_bo) {
			if (locked)
				drm_gpuva_unlink(va);
			else
				selflock_va_unlink(va);
		}
		drm_gpuva_remove(va);
		if (ctx && ctx->va_free)
			ctx->va_free(va, ctx->priv);
		else
			kfree(va);
	}
	vm_resv_unlock(gpuvm, taken);
	if (drm_gpuvm_immediate_mode(gpuvm)) {
#ifdef GPUVM_KERNEL_TREE
		gpuvm_driver_deferred_cleanup(gpuvm);
#else
		/*
		 * Even while this thread holds the VM resv (inside a drm_exec
		 * transaction): the port's cleanup uses the held lock, and
		 * skipping it here would leave the zombies' VM references with
		 * nobody to drop them, so the VM would never be freed. The
		 * caller's reference keeps the VM alive until the put below.
		 */
		drm_gpuvm_bo_deferred_cleanup(gpuvm);
#endif
	}
	drm_gpuvm_put(gpuvm);
}
