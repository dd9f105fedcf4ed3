/* SPDX-License-Identifier: MIT */
/*
 * The drm_gpuvm API as the reference driver (csrc/driver) and gpuvm-replay
 * (csrc/replay) call it, for both backends. Private to those two folders;
 * include it before any other header of ours.
 *
 *  - GPUVM_KERNEL_TREE set (csrc/kernel/meson.build): a kernel tree's own
 *    <drm/drm_gpuvm.h>, reached through csrc/kernel/include, with the
 *    GPUVM_HAVE_* macros that meson's probes of that header defined.
 *  - Otherwise our port's header with drm_gpuvm_compat.h on top, so every
 *    kernel name means what it means in the kernel (the caller holds the
 *    GEM's gpuva lock); the port has the newest form of every call.
 *
 * Below the kernel names, the few things the API's versions spell
 * differently (kapi_*) and the self-locking steps (selflock_*) a driver
 * needs when it does not hold the locks already. Over the port those are the
 * port's own internally locking functions (safe against concurrent drm_exec
 * users: they take two resvs with wait/die back-off); over a kernel tree
 * they take the lock and call the kernel's function (enough for the
 * single-threaded replay, which in fact always holds every lock).
 */
#ifndef PYGPUVM_DRIVER_KAPI_H
#define PYGPUVM_DRIVER_KAPI_H

#ifdef GPUVM_KERNEL_TREE
#include <drm/drm_gpuvm.h>
/*
 * Our private lock helpers (gpuvm/gem_gpuva_lock.h, gpuvm/vm_bo_lists.h) use
 * kernel structures only, but include our drm_gpuvm.h for them: the kernel's
 * is in already, so that include must be empty.
 */
#define PYGPUVM_DRM_GPUVM_H
#ifndef GPUVM_HAVE_IMMEDIATE_MODE
/* Before DRM_GPUVM_IMMEDIATE_MODE every VM is a staged-mode VM. */
static inline bool drm_gpuvm_immediate_mode(struct drm_gpuvm *gpuvm)
{
	(void)gpuvm;
	return false;
}
#endif
#else
#include "drm/drm_gpuvm.h"

/* The port's internally locking forms, named before compat.h renames them. */
static inline void selflock_va_link(struct drm_gpuva *va, struct drm_gpuvm_bo *vm_bo)
{
	drm_gpuva_link(va, vm_bo);
}

static inline void selflock_va_unlink(struct drm_gpuva *va)
{
	drm_gpuva_unlink(va);
}

static inline struct drm_gpuvm_bo *selflock_bo_obtain(struct drm_gpuvm *gpuvm,
						      struct drm_gem_object *obj)
{
	return drm_gpuvm_bo_obtain(gpuvm, obj);
}

static inline void selflock_bo_put(struct drm_gpuvm_bo *vm_bo)
{
	drm_gpuvm_bo_put(vm_bo);
}

#include "drm/drm_gpuvm_compat.h"
/* sm_map and madvise take a struct drm_gpuvm_map_req. */
#define GPUVM_HAVE_MAP_REQ 1
/* drm_gpuvm_bo_obtain_locked() is the caller-locked obtain. */
#define GPUVM_HAVE_BO_OBTAIN_LOCKED 1
#define GPUVM_HAVE_IMMEDIATE_MODE 1
/* drm_gpuva_unlink_defer(), drm_gpuvm_bo_deferred_cleanup(). */
#define GPUVM_HAVE_DEFERRED_CLEANUP 1
#define GPUVM_HAVE_MADVISE 1
/* drm_gpuvm_sm_map_exec_lock(), drm_gpuvm_sm_unmap_exec_lock(). */
#define GPUVM_HAVE_SM_EXEC_LOCK 1
#endif

#include "linux/bug.h"
#include "linux/slab.h"

#include "gpuvm/gem_gpuva_lock.h"

/* ------------------------------------------------------ version spellings */

/* Obtain (find or create) @obj's vm_bo; the caller holds the GEM's gpuva lock. */
static inline struct drm_gpuvm_bo *kapi_bo_obtain_locked(struct drm_gpuvm *gpuvm,
							 struct drm_gem_object *obj)
{
#ifdef GPUVM_HAVE_BO_OBTAIN_LOCKED
	return drm_gpuvm_bo_obtain_locked(gpuvm, obj);
#else
	/* Before drm_gpuvm_bo_obtain_locked() existed, this name was that form. */
	return drm_gpuvm_bo_obtain(gpuvm, obj);
#endif
}

#ifdef GPUVM_HAVE_MAP_REQ
static inline struct drm_gpuvm_map_req kapi_map_req(u64 addr, u64 range,
						    struct drm_gem_object *obj, u64 offset)
{
	return (struct drm_gpuvm_map_req){
		.map = { .va = { .addr = addr, .range = range },
			 .gem = { .offset = offset, .obj = obj } },
	};
}
#endif

static inline struct drm_gpuva_ops *kapi_sm_map_ops_create(struct drm_gpuvm *gpuvm, u64 addr,
							   u64 range, struct drm_gem_object *obj,
							   u64 offset)
{
#ifdef GPUVM_HAVE_MAP_REQ
	const struct drm_gpuvm_map_req req = kapi_map_req(addr, range, obj, offset);

	return drm_gpuvm_sm_map_ops_create(gpuvm, &req);
#else
	return drm_gpuvm_sm_map_ops_create(gpuvm, addr, range, obj, offset);
#endif
}

/* A VA whose list nodes may be unlinked or removed before it was inserted. */
static inline void kapi_va_init_lists(struct drm_gpuva *va)
{
	INIT_LIST_HEAD(&va->gem.entry);
	INIT_LIST_HEAD(&va->rb.entry);
}

/* --------------------------------------------- self-locking, kernel tree */

#ifdef GPUVM_KERNEL_TREE
static inline void selflock_va_link(struct drm_gpuva *va, struct drm_gpuvm_bo *vm_bo)
{
	bool taken = gpuvm_gem_gpuva_lock(vm_bo->vm, va->gem.obj);

	drm_gpuva_link(va, vm_bo);
	gpuvm_gem_gpuva_unlock(vm_bo->vm, va->gem.obj, taken);
}

/*
 * A destroying put frees the vm_bo and drops its GEM reference: hold one of
 * our own until the GEM's lock is released.
 */
static inline void selflock_bo_put(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *gpuvm = vm_bo->vm;
	struct drm_gem_object *obj = vm_bo->obj;
	bool taken;

	drm_gem_object_get(obj);
	taken = gpuvm_gem_gpuva_lock(gpuvm, obj);
	drm_gpuvm_bo_put(vm_bo);
	gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
	drm_gem_object_put(obj);
}

static inline void selflock_va_unlink(struct drm_gpuva *va)
{
	struct drm_gpuvm *gpuvm = va->vm_bo->vm;
	struct drm_gem_object *obj = va->gem.obj;
	bool taken;

	drm_gem_object_get(obj);
	taken = gpuvm_gem_gpuva_lock(gpuvm, obj);
	drm_gpuva_unlink(va);
	gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
	drm_gem_object_put(obj);
}

static inline struct drm_gpuvm_bo *selflock_bo_obtain(struct drm_gpuvm *gpuvm,
						      struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *vm_bo;
	bool taken;

#ifdef GPUVM_HAVE_IMMEDIATE_MODE
	/* Immediate mode must not allocate under the gpuva mutex. */
	if (drm_gpuvm_immediate_mode(gpuvm)) {
		vm_bo = drm_gpuvm_bo_create(gpuvm, obj);
		return vm_bo ? drm_gpuvm_bo_obtain_prealloc(vm_bo) : ERR_PTR(-ENOMEM);
	}
#endif
	taken = gpuvm_gem_gpuva_lock(gpuvm, obj);
	vm_bo = kapi_bo_obtain_locked(gpuvm, obj);
	gpuvm_gem_gpuva_unlock(gpuvm, obj, taken);
	return vm_bo;
}
#endif

#endif
