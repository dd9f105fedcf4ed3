/* SPDX-License-Identifier: MIT */
/*
 * vm_bo lifetimes: the unique VM x GEM association, its place on the GEM's
 * gpuva list and on the VM's extobj/evict lists, linking VAs to it, and its
 * destruction (immediate, or deferred through the VM's bo_defer list).
 *
 * Two forms of every function that touches a GEM's vm_bo list:
 *  - *_locked: the kernel's semantics; the caller holds the GEM's gpuva lock
 *    (asserted). A last put frees the vm_bo and drops its GEM reference under
 *    that lock, which may free the GEM and its lock: drm_gem.c aborts with a
 *    diagnosis when that happens.
 *  - plain: take the gpuva lock themselves (gem_gpuva_lock.h), decide and
 *    unlink under it, and only after unlocking free the vm_bo and drop the
 *    VM/GEM references (__vm_bo_detach_locked + __vm_bo_free_unlocked), so no
 *    caller needs to pin the GEM around a put.
 *
 * A reference count reaches zero only under the GEM's gpuva lock (puts that
 * may be the last one take the lock; others decrement lock-free), so a vm_bo
 * found on the GEM list under that lock is never dead.
 */
#include "drm/drm_gpuvm.h"
#include "linux/slab.h"

#include "gpuvm/gem_gpuva_lock.h"
#include "gpuvm/vm_bo_lists.h"

/* ------------------------------------------------------- create and free */

struct drm_gpuvm_bo *drm_gpuvm_bo_create(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	const struct drm_gpuvm_ops *ops = gpuvm->ops;
	struct drm_gpuvm_bo *vm_bo;

	if (ops && ops->vm_bo_alloc)
		vm_bo = ops->vm_bo_alloc();
	else
		vm_bo = kzalloc(sizeof(*vm_bo), GFP_KERNEL);
	if (!vm_bo)
		return NULL;

	vm_bo->vm = drm_gpuvm_get(gpuvm);
	vm_bo->obj = obj;
	drm_gem_object_get(obj);
	/* A driver allocator need not zero the memory. */
	vm_bo->evicted = false;
	kref_init(&vm_bo->kref);
	INIT_LIST_HEAD(&vm_bo->list.gpuva);
	INIT_LIST_HEAD(&vm_bo->list.entry.gem);
	INIT_LIST_HEAD(&vm_bo->list.entry.extobj);
	INIT_LIST_HEAD(&vm_bo->list.entry.evict);
	vm_bo->list.entry.bo_defer.next = NULL;
	return vm_bo;
}

/*
 * Release a vm_bo that is on no list any more: free the memory first, then
 * drop the VM reference, then the GEM reference (kernel order). Either put
 * may free its object, so nothing of the vm_bo is read after the free.
 */
static void __vm_bo_free_unlocked(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *gpuvm = vm_bo->vm;
	struct drm_gem_object *obj = vm_bo->obj;
	const struct drm_gpuvm_ops *ops = gpuvm->ops;

	if (ops && ops->vm_bo_free)
		ops->vm_bo_free(vm_bo);
	else
		kfree(vm_bo);
	drm_gpuvm_put(gpuvm);
	drm_gem_object_put(obj);
}

static void vm_bo_kref_noop(struct kref *kref)
{
	GPUVM_UNUSED(kref);
}

/*
 * Drop one reference; caller holds the GEM's gpuva lock and, in
 * RESV_PROTECTED mode, the VM's resv. On the last one take the vm_bo off
 * every list and return true: the caller must then __vm_bo_free_unlocked().
 */
static bool __vm_bo_detach_locked(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *gpuvm = vm_bo->vm;
	bool lock = !drm_gpuvm_resv_protected(gpuvm);

	if (!kref_put(&vm_bo->kref, vm_bo_kref_noop))
		return false;

	if (!lock)
		drm_gpuvm_resv_assert_held(gpuvm);
	gpuvm_bo_list_del(vm_bo, GPUVM_BO_LIST_EXTOBJ, lock);
	gpuvm_bo_list_del(vm_bo, GPUVM_BO_LIST_EVICT, lock);

	drm_gem_gpuva_assert_lock_held(gpuvm, vm_bo->obj);
	list_del_init(&vm_bo->list.entry.gem);
	return true;
}

/*
 * Deferred variant: on the last reference the vm_bo becomes a zombie, off the
 * GEM list but (RESV_PROTECTED) possibly still on extobj/evict, whose lock,
 * the VM resv, cannot be taken here; deferred_cleanup finishes the job.
 */
static bool __vm_bo_zombify_locked(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *gpuvm = vm_bo->vm;

	if (!kref_put(&vm_bo->kref, vm_bo_kref_noop))
		return false;

	if (!drm_gpuvm_resv_protected(gpuvm)) {
		gpuvm_bo_list_del(vm_bo, GPUVM_BO_LIST_EXTOBJ, true);
		gpuvm_bo_list_del(vm_bo, GPUVM_BO_LIST_EVICT, true);
	}
	drm_gem_gpuva_assert_lock_held(gpuvm, vm_bo->obj);
	list_del_init(&vm_bo->list.entry.gem);
	return true;
}

/* ------------------------------------------------ locks for a last put */

/*
 * What a destroying put needs: the GEM's gpuva lock, and in RESV_PROTECTED
 * mode also the VM resv (it protects the extobj/evict lists). Locks this
 * thread already holds are used as they are.
 */
struct vm_bo_put_locks {
	struct drm_gpuvm *gpuvm;
	struct drm_gem_object *obj;
	struct ww_acquire_ctx ctx;
	bool ctx_used;
	bool vm_resv; /* we took the VM resv */
	bool gem;     /* we took the GEM's gpuva lock */
};

static bool vm_bo_put_needs_vm_resv(struct drm_gpuvm *gpuvm)
{
	return drm_gpuvm_resv_protected(gpuvm) && !dma_resv_held(drm_gpuvm_resv(gpuvm));
}

/* Lock two resvs as one ww transaction, backing off like drm_exec does. */
static void resv_lock_pair(struct dma_resv *first, struct dma_resv *second,
			   struct ww_acquire_ctx *ctx)
{
	int ret;

	/* A context holding nothing waits instead of backing off: cannot fail. */
	GPUVM_BUG_ON(dma_resv_lock(first, ctx) != 0);
	while ((ret = dma_resv_lock(second, ctx)) == -EDEADLK) {
		struct dma_resv *tmp = first;

		dma_resv_unlock(first);
		dma_resv_lock_slow(second, ctx);
		first = second;
		second = tmp;
	}
	GPUVM_BUG_ON(ret != 0);
}

static void vm_bo_put_lock(struct vm_bo_put_locks *l, struct drm_gpuvm *gpuvm,
			   struct drm_gem_object *obj)
{
	struct dma_resv *vm_resv = drm_gpuvm_resv(gpuvm);

	*l = (struct vm_bo_put_locks){ .gpuvm = gpuvm, .obj = obj };
	if (!vm_bo_put_needs_vm_resv(gpuvm)) {
		l->gem = gpuvm_gem_gpuva_lock(gpuvm, obj);
		return;
	}
	/*
	 * The VM resv is the outer lock. Two distinct resvs neither of which we
	 * hold are taken together with wait/die back-off, so a concurrent
	 * drm_exec holding one and wanting the other cannot deadlock with us.
	 */
	if (!drm_gpuvm_immediate_mode(gpuvm) && obj->resv != vm_resv &&
	    !dma_resv_held(obj->resv)) {
		ww_acquire_init(&l->ctx, &reservation_ww_class);
		l->ctx_used = true;
		resv_lock_pair(vm_resv, obj->resv, &l->ctx);
		l->vm_resv = true;
		l->gem = true;
		return;
	}
	/*
	 * Immediate mode (the gpuva mutex nests inside every resv), or a single
	 * resv. If the caller holds the object's resv but not the VM's, this
	 * waits out of order, as a caller of the _locked form would have to:
	 * lock the VM resv first (e.g. with drm_gpuvm_exec_lock) to avoid that.
	 */
	GPUVM_BUG_ON(dma_resv_lock(vm_resv, NULL) != 0);
	l->vm_resv = true;
	l->gem = gpuvm_gem_gpuva_lock(gpuvm, obj);
}

static void vm_bo_put_unlock(struct vm_bo_put_locks *l)
{
	gpuvm_gem_gpuva_unlock(l->gpuvm, l->obj, l->gem);
	if (l->vm_resv)
		dma_resv_unlock(drm_gpuvm_resv(l->gpuvm));
	if (l->ctx_used)
		ww_acquire_fini(&l->ctx);
}

/* A put that may be the last: decide under the locks, free after them. */
static bool __vm_bo_put_slow(struct drm_gpuvm_bo *vm_bo)
{
	struct vm_bo_put_locks l;
	bool dead;

	vm_bo_put_lock(&l, vm_bo->vm, vm_bo->obj);
	dead = __vm_bo_detach_locked(vm_bo);
	vm_bo_put_unlock(&l);
	if (dead)
		__vm_bo_free_unlocked(vm_bo);
	return dead;
}

/* -------------------------------------------------------------- puts */

bool drm_gpuvm_bo_put_locked(struct drm_gpuvm_bo *vm_bo)
{
	if (!vm_bo)
		return false;
	if (!__vm_bo_detach_locked(vm_bo))
		return false;
	/* Kernel semantics: this may free the GEM whose lock the caller holds. */
	__vm_bo_free_unlocked(vm_bo);
	return true;
}

bool drm_gpuvm_bo_put(struct drm_gpuvm_bo *vm_bo)
{
	if (!vm_bo)
		return false;
	/* Not the last reference: no list changes, no lock needed. */
	if (kref_put_unless_last(&vm_bo->kref))
		return false;
	return __vm_bo_put_slow(vm_bo);
}

/* The deferred forms must not run under the gpuva mutex. */
static void vm_bo_defer_check(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj,
			      const char *fn)
{
	if (WARN(!drm_gpuvm_immediate_mode(gpuvm), "%s() requires DRM_GPUVM_IMMEDIATE_MODE",
		 fn))
		return;
	WARN(mutex_held_by_me(&obj->gpuva.lock),
	     "%s() called with the GEM's gpuva lock held: the zombie would be queued "
	     "before the lock is released", fn);
}

bool drm_gpuvm_bo_put_deferred(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *gpuvm;
	struct drm_gem_object *obj;
	bool zombie, taken;

	if (!vm_bo)
		return false;
	gpuvm = vm_bo->vm;
	obj = vm_bo->obj;
	vm_bo_defer_check(gpuvm, obj, __func__);

	if (kref_put_unless_last(&vm_bo->kref))
		return false;

	taken = gpuvm_gem_gpuva_lock(gpuvm, obj);
	zombie = __vm_bo_zombify_locked(vm_bo);
	gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
	/*
	 * Only now: once on bo_defer, a concurrent deferred_cleanup may free the
	 * vm_bo and with it the GEM whose lock we just released.
	 */
	if (zombie)
		llist_add(&vm_bo->list.entry.bo_defer, &gpuvm->bo_defer);
	return zombie;
}

void drm_gpuvm_bo_deferred_cleanup(struct drm_gpuvm *gpuvm)
{
	struct llist_node *node = llist_del_all(&gpuvm->bo_defer);
	struct llist_node *next;

	if (!node)
		return;

	if (drm_gpuvm_resv_protected(gpuvm)) {
		struct dma_resv *resv = drm_gpuvm_resv(gpuvm);
		bool taken = !dma_resv_held(resv);

		if (taken)
			GPUVM_BUG_ON(dma_resv_lock(resv, NULL) != 0);
		for (struct llist_node *n = node; n; n = n->next) {
			struct drm_gpuvm_bo *vm_bo =
				container_of(n, struct drm_gpuvm_bo, list.entry.bo_defer);

			gpuvm_bo_list_del(vm_bo, GPUVM_BO_LIST_EXTOBJ, false);
			gpuvm_bo_list_del(vm_bo, GPUVM_BO_LIST_EVICT, false);
		}
		if (taken)
			dma_resv_unlock(resv);
	}

	/* Newest first (LIFO); each free may drop the VM's last reference. */
	for (; node; node = next) {
		next = node->next;
		__vm_bo_free_unlocked(container_of(node, struct drm_gpuvm_bo, list.entry.bo_defer));
	}
}

/* ------------------------------------------------------ find / obtain */

struct drm_gpuvm_bo *drm_gpuvm_bo_find_locked(struct drm_gpuvm *gpuvm,
					      struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *vm_bo;

	drm_gem_gpuva_assert_lock_held(gpuvm, obj);
	drm_gem_for_each_gpuvm_bo(vm_bo, obj) {
		if (vm_bo->vm == gpuvm)
			return drm_gpuvm_bo_get(vm_bo);
	}
	return NULL;
}

struct drm_gpuvm_bo *drm_gpuvm_bo_find(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	bool taken = gpuvm_gem_gpuva_lock(gpuvm, obj);
	struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_find_locked(gpuvm, obj);

	gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
	return vm_bo;
}

struct drm_gpuvm_bo *drm_gpuvm_bo_obtain_locked(struct drm_gpuvm *gpuvm,
						struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *vm_bo;

	/* It allocates under the lock, which immediate mode forbids. */
	WARN(drm_gpuvm_immediate_mode(gpuvm),
	     "drm_gpuvm_bo_obtain_locked() in immediate mode: use drm_gpuvm_bo_obtain_prealloc()");

	vm_bo = drm_gpuvm_bo_find_locked(gpuvm, obj);
	if (vm_bo)
		return vm_bo;

	vm_bo = drm_gpuvm_bo_create(gpuvm, obj);
	if (!vm_bo)
		return ERR_PTR(-ENOMEM);

	drm_gem_gpuva_assert_lock_held(gpuvm, obj);
	list_add_tail(&vm_bo->list.entry.gem, &obj->gpuva.list);
	return vm_bo;
}

/*
 * Insert @prealloc (refcount 1, on no list) unless @obj already has a vm_bo
 * for its VM; returns the one that is on the GEM list, with a reference.
 * A discarded @prealloc is freed after the lock is released.
 */
static struct drm_gpuvm_bo *vm_bo_insert_prealloc(struct drm_gpuvm_bo *prealloc)
{
	struct drm_gpuvm *gpuvm = prealloc->vm;
	struct drm_gem_object *obj = prealloc->obj;
	struct drm_gpuvm_bo *vm_bo;
	bool taken;

	taken = gpuvm_gem_gpuva_lock(gpuvm, obj);
	vm_bo = drm_gpuvm_bo_find_locked(gpuvm, obj);
	if (!vm_bo)
		list_add_tail(&prealloc->list.entry.gem, &obj->gpuva.list);
	gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);

	if (!vm_bo)
		return prealloc;
	__vm_bo_free_unlocked(prealloc);
	return vm_bo;
}

struct drm_gpuvm_bo *drm_gpuvm_bo_obtain(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_find(gpuvm, obj);

	/* The common case needs no allocation at all. */
	if (vm_bo)
		return vm_bo;

	/* Allocate outside the lock; a racing obtain may make it redundant. */
	vm_bo = drm_gpuvm_bo_create(gpuvm, obj);
	if (!vm_bo)
		return ERR_PTR(-ENOMEM);
	return vm_bo_insert_prealloc(vm_bo);
}

struct drm_gpuvm_bo *drm_gpuvm_bo_obtain_prealloc(struct drm_gpuvm_bo *vm_bo)
{
	WARN(!drm_gpuvm_immediate_mode(vm_bo->vm),
	     "drm_gpuvm_bo_obtain_prealloc() requires DRM_GPUVM_IMMEDIATE_MODE");
	WARN(kref_read(&vm_bo->kref) != 1 || !list_empty(&vm_bo->list.entry.gem),
	     "drm_gpuvm_bo_obtain_prealloc() needs a fresh vm_bo from drm_gpuvm_bo_create()");
	return vm_bo_insert_prealloc(vm_bo);
}

/* ------------------------------------------------- extobj and evict lists */

void drm_gpuvm_bo_extobj_add(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *gpuvm = vm_bo->vm;
	bool lock = !drm_gpuvm_resv_protected(gpuvm);

	if (!lock)
		drm_gpuvm_resv_assert_held(gpuvm);
	if (drm_gpuvm_is_extobj(gpuvm, vm_bo->obj))
		gpuvm_bo_list_add(vm_bo, GPUVM_BO_LIST_EXTOBJ, lock);
}

void drm_gpuvm_bo_evict(struct drm_gpuvm_bo *vm_bo, bool evict)
{
	struct drm_gpuvm *gpuvm = vm_bo->vm;
	struct drm_gem_object *obj = vm_bo->obj;
	bool lock = !drm_gpuvm_resv_protected(gpuvm);

	dma_resv_assert_held(obj->resv);
	vm_bo->evicted = evict;

	/*
	 * The VM resv protects the list but we only hold the object's:
	 * prepare_objects() moves it over later, under the VM resv.
	 */
	if (drm_gpuvm_is_extobj(gpuvm, obj) && !lock)
		return;

	if (evict)
		gpuvm_bo_list_add(vm_bo, GPUVM_BO_LIST_EVICT, lock);
	else
		gpuvm_bo_list_del(vm_bo, GPUVM_BO_LIST_EVICT, lock);
}

void drm_gpuvm_bo_gem_evict_locked(struct drm_gem_object *obj, bool evict)
{
	struct drm_gpuvm_bo *vm_bo;

	drm_gem_for_each_gpuvm_bo(vm_bo, obj) {
		drm_gem_gpuva_assert_lock_held(vm_bo->vm, obj);
		drm_gpuvm_bo_evict(vm_bo, evict);
	}
}

/*
 * Which lock guards the object's vm_bo list depends on the mode of the VMs
 * on it, unknown before reading it; take both: the object's resv (the
 * staged-mode list lock, and what drm_gpuvm_bo_evict() requires anyway), then
 * the gpuva mutex (immediate mode), which nests inside it. Locks this thread
 * already holds are used as they are.
 */
void drm_gpuvm_bo_gem_evict(struct drm_gem_object *obj, bool evict)
{
	bool resv_taken = !dma_resv_held(obj->resv);
	bool mutex_taken = !mutex_held_by_me(&obj->gpuva.lock);
	struct drm_gpuvm_bo *vm_bo;

	if (resv_taken)
		GPUVM_BUG_ON(dma_resv_lock(obj->resv, NULL) != 0);
	if (mutex_taken)
		mutex_lock(&obj->gpuva.lock);
	drm_gem_for_each_gpuvm_bo(vm_bo, obj)
		drm_gpuvm_bo_evict(vm_bo, evict);
	if (mutex_taken)
		mutex_unlock(&obj->gpuva.lock);
	if (resv_taken)
		dma_resv_unlock(obj->resv);
}

/* ------------------------------------------------------- link / unlink */

void drm_gpuva_link_locked(struct drm_gpuva *va, struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gem_object *obj = va->gem.obj;

	if (unlikely(!obj))
		return;
	WARN(obj != vm_bo->obj, "drm_gpuva_link: VA's GEM differs from the vm_bo's");
	/* vm_bo->vm, not va->vm: same VM, and valid even before insert. */
	drm_gem_gpuva_assert_lock_held(vm_bo->vm, obj);

	va->vm_bo = drm_gpuvm_bo_get(vm_bo);
	list_add_tail(&va->gem.entry, &vm_bo->list.gpuva);
}

void drm_gpuva_link(struct drm_gpuva *va, struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gem_object *obj = va->gem.obj;
	bool taken;

	if (unlikely(!obj))
		return;
	taken = gpuvm_gem_gpuva_lock(vm_bo->vm, obj);
	drm_gpuva_link_locked(va, vm_bo);
	gpuvm_gem_gpuva_unlock(vm_bo->vm, obj, taken);
}

/*
 * A GEM-backed VA that was never linked: nothing to drop. Its node is only
 * touched if initialised (the kernel would follow garbage pointers).
 */
static void va_unlink_unlinked(struct drm_gpuva *va)
{
	if (va->gem.entry.next)
		list_del_init(&va->gem.entry);
}

void drm_gpuva_unlink_locked(struct drm_gpuva *va)
{
	struct drm_gpuvm_bo *vm_bo = va->vm_bo;

	if (unlikely(!va->gem.obj))
		return;
	if (!vm_bo) {
		va_unlink_unlinked(va);
		return;
	}
	drm_gem_gpuva_assert_lock_held(vm_bo->vm, va->gem.obj);

	list_del_init(&va->gem.entry);
	va->vm_bo = NULL;
	drm_gpuvm_bo_put_locked(vm_bo);
}

void drm_gpuva_unlink(struct drm_gpuva *va)
{
	struct drm_gem_object *obj = va->gem.obj;
	struct drm_gpuvm_bo *vm_bo = va->vm_bo;
	struct drm_gpuvm *gpuvm;
	bool taken, dead = false;

	if (unlikely(!obj))
		return;
	if (!vm_bo) {
		va_unlink_unlinked(va);
		return;
	}
	gpuvm = vm_bo->vm;

	taken = gpuvm_gem_gpuva_lock(gpuvm, obj);
	list_del_init(&va->gem.entry);
	va->vm_bo = NULL;
	if (kref_put_unless_last(&vm_bo->kref)) {
		gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
		return;
	}
	if (!vm_bo_put_needs_vm_resv(gpuvm)) {
		dead = __vm_bo_detach_locked(vm_bo);
		gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
		if (dead)
			__vm_bo_free_unlocked(vm_bo);
		return;
	}
	/*
	 * The VM resv is needed too and nests outside the gpuva lock: start
	 * over with both. Our reference keeps the vm_bo alive meanwhile.
	 */
	gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
	__vm_bo_put_slow(vm_bo);
}

void drm_gpuva_unlink_defer(struct drm_gpuva *va)
{
	struct drm_gem_object *obj = va->gem.obj;
	struct drm_gpuvm_bo *vm_bo = va->vm_bo;
	struct drm_gpuvm *gpuvm;
	bool taken, zombie;

	if (unlikely(!obj))
		return;
	if (!vm_bo) {
		va_unlink_unlinked(va);
		return;
	}
	gpuvm = vm_bo->vm;
	vm_bo_defer_check(gpuvm, obj, __func__);

	taken = gpuvm_gem_gpuva_lock(gpuvm, obj);
	list_del_init(&va->gem.entry);
	va->vm_bo = NULL;
	zombie = __vm_bo_zombify_locked(vm_bo);
	gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
	if (zombie)
		llist_add(&vm_bo->list.entry.bo_defer, &gpuvm->bo_defer);
}
