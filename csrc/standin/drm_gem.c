/* SPDX-License-Identifier: MIT */
/*
 * Userspace drm_device and GEM objects (drm/drm_device.h, drm/drm_gem.h).
 * Every object initialises its own _resv, even when it uses a sharer's, so
 * that release is the same for both kinds.
 */
#include "drm/drm_gem.h"
#include "linux/bug.h"
#include "linux/slab.h"

struct drm_device *drm_dev_alloc(const char *name)
{
	struct drm_device *dev = kzalloc(sizeof(*dev), GFP_KERNEL);

	if (!dev)
		return NULL;
	kref_init(&dev->ref);
	dev->name = name;
	return dev;
}

void drm_dev_get(struct drm_device *dev)
{
	kref_get(&dev->ref);
}

static void drm_dev_release(struct kref *ref)
{
	kfree(container_of(ref, struct drm_device, ref));
}

void drm_dev_put(struct drm_device *dev)
{
	if (dev)
		kref_put(&dev->ref, drm_dev_release);
}

/*
 * funcs, resv and priv are left alone: like kernel drivers, a caller may set
 * obj->funcs (and obj->resv, to share another object's) before initialising an
 * object embedded in its own (zeroed) storage. No device reference is taken,
 * as in the kernel: the device must outlive its objects.
 */
void drm_gem_private_object_init(struct drm_device *dev, struct drm_gem_object *obj,
				 size_t size)
{
	obj->dev = dev;
	kref_init(&obj->refcount);
	obj->size = size;
	mutex_init(&obj->gpuva.lock);
	dma_resv_init(&obj->_resv);
	/* As in the kernel: a resv the caller set before init is kept. */
	if (!obj->resv)
		obj->resv = &obj->_resv;
	drm_gem_gpuva_init(obj);
}

void drm_gem_private_object_fini(struct drm_gem_object *obj)
{
	dma_resv_fini(&obj->_resv);
	mutex_destroy(&obj->gpuva.lock);
}

void drm_gem_object_init_shared_resv(struct drm_device *dev, struct drm_gem_object *obj,
				     size_t size, struct drm_gem_object *resv_obj)
{
	/* The reference keeps the sharer, hence the resv we point into, alive. */
	drm_gem_object_get(resv_obj);
	obj->resv_obj = resv_obj;
	obj->resv = resv_obj->resv;
	drm_gem_private_object_init(dev, obj, size);
}

void drm_gem_object_release(struct drm_gem_object *obj)
{
	struct drm_gem_object *resv_obj = obj->resv_obj;

	obj->resv_obj = NULL;
	obj->resv = &obj->_resv;
	drm_gem_object_put(resv_obj);
	drm_gem_private_object_fini(obj);
}

int drm_gem_object_init(struct drm_device *dev, struct drm_gem_object *obj, size_t size)
{
	drm_gem_private_object_init(dev, obj, size);
	return 0;
}

static void drm_gem_object_default_free(struct drm_gem_object *obj)
{
	drm_gem_object_release(obj);
	kfree(obj);
}

static const struct drm_gem_object_funcs drm_gem_object_default_funcs = {
	.free = drm_gem_object_default_free,
};

struct drm_gem_object *drm_gem_object_create(struct drm_device *dev, size_t size,
					     struct drm_gem_object *resv_obj)
{
	struct drm_gem_object *obj = kzalloc(sizeof(*obj), GFP_KERNEL);

	if (!obj)
		return NULL;
	if (resv_obj)
		drm_gem_object_init_shared_resv(dev, obj, size, resv_obj);
	else
		drm_gem_private_object_init(dev, obj, size);
	obj->funcs = &drm_gem_object_default_funcs;
	return obj;
}

void drm_gem_object_get(struct drm_gem_object *obj)
{
	kref_get(&obj->refcount);
}

static void drm_gem_object_free(struct kref *kref)
{
	struct drm_gem_object *obj = container_of(kref, struct drm_gem_object, refcount);

	/*
	 * Whoever holds these locks is about to unlock memory we are freeing;
	 * stop here with a diagnosis instead of a later use-after-free.
	 */
	if (dma_resv_is_locked(&obj->_resv))
		gpuvm_bug(__FILE__, __LINE__,
			  "drm_gem_object %p freed while its gpuva lock (resv) is held: "
			  "the last drm_gpuvm_bo_put_locked() dropped the GEM reference "
			  "under its own lock; use drm_gpuvm_bo_put()",
			  (void *)obj);
	if (mutex_is_locked(&obj->gpuva.lock))
		gpuvm_bug(__FILE__, __LINE__,
			  "drm_gem_object %p freed while its gpuva lock (gpuva.lock mutex) "
			  "is held: the last drm_gpuvm_bo_put_locked() dropped the GEM "
			  "reference under its own lock; use drm_gpuvm_bo_put()",
			  (void *)obj);

	if (obj->funcs && obj->funcs->free)
		obj->funcs->free(obj);
	else
		drm_gem_object_release(obj);
}

void drm_gem_object_put(struct drm_gem_object *obj)
{
	if (obj)
		kref_put(&obj->refcount, drm_gem_object_free);
}
