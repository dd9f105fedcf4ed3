/* SPDX-License-Identifier: MIT */
/*
 * A userspace GEM object: refcount, size, reservation object (its own, or the
 * one of another object it shares with, e.g. a VM's resv object), and the
 * gpuva list of vm_bos with its mutex. Implementation: csrc/standin/drm_gem.c.
 */
#ifndef PYGPUVM_DRM_GEM_H
#define PYGPUVM_DRM_GEM_H

#include "drm/drm_device.h"
#include "linux/dma-resv.h"
#include "linux/kref.h"
#include "linux/list.h"
#include "linux/mutex.h"

struct drm_gem_object;

struct drm_gem_object_funcs {
	/* Called with the last reference; must release and free the object. */
	void (*free)(struct drm_gem_object *obj);
};

struct drm_gem_object {
	struct kref refcount;
	struct drm_device *dev;
	size_t size;
	const struct drm_gem_object_funcs *funcs;
	/* Where the object's fences and lock live: &_resv or the sharer's. */
	struct dma_resv *resv;
	struct dma_resv _resv;
	/* Counted reference on the object whose resv we share, else NULL. */
	struct drm_gem_object *resv_obj;
	struct {
		/* vm_bos of this object, one per VM (drm_gpuvm_bo.list.entry.gem). */
		struct list_head list;
		/* Protects list for VMs in DRM_GPUVM_IMMEDIATE_MODE. */
		struct mutex lock;
	} gpuva;
	/* Free for the owner's use (the Python layer keeps nothing here). */
	void *priv;
};

/*
 * Initialise an object (in zeroed storage). Its resv is its own _resv, unless
 * the caller set obj->resv beforehand (to share another object's resv, as
 * kernel drivers do for VM-private objects). No reference on @dev is taken.
 */
void drm_gem_private_object_init(struct drm_device *dev, struct drm_gem_object *obj,
				 size_t size);
/* Undo drm_gem_private_object_init() (e.g. when a driver's init fails later). */
void drm_gem_private_object_fini(struct drm_gem_object *obj);
/* The kernel's shmem-backed init; there is no backing store here: same as the private one, returns 0. */
int drm_gem_object_init(struct drm_device *dev, struct drm_gem_object *obj, size_t size);
/* Ours: same, but the object shares @resv_obj's resv (takes a reference on it). */
void drm_gem_object_init_shared_resv(struct drm_device *dev, struct drm_gem_object *obj,
				     size_t size, struct drm_gem_object *resv_obj);
/* Undo init: drop the resv_obj reference, then drm_gem_private_object_fini(). */
void drm_gem_object_release(struct drm_gem_object *obj);

/*
 * Ours: allocate and initialise an object (free: release + kfree). @resv_obj
 * NULL: own resv. Returns NULL on -ENOMEM.
 */
struct drm_gem_object *drm_gem_object_create(struct drm_device *dev, size_t size,
					     struct drm_gem_object *resv_obj);

void drm_gem_object_get(struct drm_gem_object *obj);
/*
 * NULL-safe. The last put frees the object; freeing an object whose own resv
 * or gpuva lock is still held is reported and aborts (it would be a
 * use-after-free of the lock the holder is about to release).
 */
void drm_gem_object_put(struct drm_gem_object *obj);

static inline void drm_gem_gpuva_init(struct drm_gem_object *obj)
{
	INIT_LIST_HEAD(&obj->gpuva.list);
}

/* Walk the object's vm_bos; caller holds the gpuva lock of the VMs' mode. */
#define drm_gem_for_each_gpuvm_bo(entry__, obj__) \
	list_for_each_entry(entry__, &(obj__)->gpuva.list, list.entry.gem)
#define drm_gem_for_each_gpuvm_bo_safe(entry__, next__, obj__) \
	list_for_each_entry_safe(entry__, next__, &(obj__)->gpuva.list, list.entry.gem)

#endif
