// SPDX-License-Identifier: MIT
/*
 * Userspace drm_device and GEM objects (drm/drm_gem.h): reference counting,
 * the free callback, embedded objects, sharing another object's resv, and
 * the abort when the last reference goes while the object's own lock is held.
 */
#include <string.h>

#include "child.h"
#include "drm/drm_gem.h"
#include "harness.h"
#include "linux/slab.h"

static bool test_device_refcount(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *dev = drm_dev_alloc("test");

	ASSERT_NONNULL(dev);
	ASSERT_EQ(strcmp(dev->name, "test"), 0);
	ASSERT_EQ(kref_read(&dev->ref), 1);
	drm_dev_get(dev);
	ASSERT_EQ(kref_read(&dev->ref), 2);
	drm_dev_put(dev);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);
	drm_dev_put(dev);
	drm_dev_put(NULL);
	ASSERT_EQ(gpuvm_alloc_live(), live0);

	gpuvm_alloc_fail_nth(1);
	ASSERT_NULL(drm_dev_alloc("nomem"));
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_create_put(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *dev = drm_dev_alloc("d");
	struct drm_gem_object *obj;

	ASSERT_NONNULL(dev);
	obj = drm_gem_object_create(dev, 4096, NULL);
	ASSERT_NONNULL(obj);
	ASSERT_EQ(obj->size, 4096);
	ASSERT_TRUE(obj->dev == dev);
	ASSERT_EQ(kref_read(&dev->ref), 1); /* as in the kernel: no device reference */
	ASSERT_TRUE(obj->resv == &obj->_resv);
	ASSERT_NULL(obj->resv_obj);
	ASSERT_TRUE(list_empty(&obj->gpuva.list));
	ASSERT_FALSE(mutex_is_locked(&obj->gpuva.lock));
	ASSERT_EQ(kref_read(&obj->refcount), 1);

	drm_gem_object_get(obj);
	ASSERT_EQ(kref_read(&obj->refcount), 2);
	drm_gem_object_put(obj);
	ASSERT_EQ(kref_read(&obj->refcount), 1);
	drm_gem_object_put(obj);
	drm_gem_object_put(NULL);
	ASSERT_EQ(kref_read(&dev->ref), 1);
	drm_dev_put(dev);
	ASSERT_EQ(gpuvm_alloc_live(), live0);

	/* Without a device too. */
	obj = drm_gem_object_create(NULL, 1, NULL);
	ASSERT_NONNULL(obj);
	ASSERT_NULL(obj->dev);
	drm_gem_object_put(obj);
	ASSERT_EQ(gpuvm_alloc_live(), live0);

	gpuvm_alloc_fail_nth(1);
	ASSERT_NULL(drm_gem_object_create(NULL, 1, NULL));
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* A driver object embedding the GEM, with its own free callback. */
struct my_bo {
	struct drm_gem_object base;
	int *freed;
};

static void my_bo_free(struct drm_gem_object *obj)
{
	struct my_bo *bo = container_of(obj, struct my_bo, base);

	(*bo->freed)++;
	drm_gem_object_release(obj);
	kfree(bo);
}

static const struct drm_gem_object_funcs my_bo_funcs = { .free = my_bo_free };

static bool test_free_callback(void)
{
	long live0 = gpuvm_alloc_live();
	struct my_bo *bo = kzalloc(sizeof(*bo), GFP_KERNEL);
	int freed = 0;

	ASSERT_NONNULL(bo);
	bo->freed = &freed;
	/* Kernel drivers set funcs before init; init must keep them. */
	bo->base.funcs = &my_bo_funcs;
	drm_gem_private_object_init(NULL, &bo->base, 8192);
	ASSERT_TRUE(bo->base.funcs == &my_bo_funcs);

	drm_gem_object_get(&bo->base);
	drm_gem_object_put(&bo->base);
	ASSERT_EQ(freed, 0);
	drm_gem_object_put(&bo->base);
	ASSERT_EQ(freed, 1);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* No funcs: an object in caller storage is only released by the last put. */
static bool test_embedded_no_funcs(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *dev = drm_dev_alloc("d");
	struct drm_gem_object obj;

	ASSERT_NONNULL(dev);
	memset(&obj, 0, sizeof(obj));
	drm_gem_private_object_init(dev, &obj, 16);
	/* As in the kernel, the object does not hold a device reference. */
	ASSERT_EQ(kref_read(&dev->ref), 1);
	ASSERT_TRUE(obj.dev == dev);
	drm_gem_object_put(&obj);
	/* Released; the storage is ours. */
	ASSERT_EQ(kref_read(&dev->ref), 1);
	drm_dev_put(dev);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 *   vm_resv_obj  <-- resv_obj (counted) --  bo1, bo2
 *        _resv  <----------- resv --------  bo1, bo2
 */
static bool test_shared_resv(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_gem_object *r_obj, *bo1, *bo2;

	r_obj = drm_gem_object_create(NULL, 0, NULL);
	ASSERT_NONNULL(r_obj);
	bo1 = drm_gem_object_create(NULL, 4096, r_obj);
	bo2 = drm_gem_object_create(NULL, 4096, r_obj);
	ASSERT_NONNULL(bo1);
	ASSERT_NONNULL(bo2);
	ASSERT_TRUE(bo1->resv == r_obj->resv);
	ASSERT_TRUE(bo2->resv == &r_obj->_resv);
	ASSERT_TRUE(bo1->resv_obj == r_obj);
	ASSERT_EQ(kref_read(&r_obj->refcount), 3);

	/* One lock for all three. */
	ASSERT_EQ(dma_resv_lock(bo1->resv, NULL), 0);
	ASSERT_TRUE(dma_resv_held(r_obj->resv));
	ASSERT_TRUE(dma_resv_held(bo2->resv));
	ASSERT_FALSE(dma_resv_is_locked(&bo1->_resv));
	/* Dropping a sharer while the shared lock is held is fine: its own resv is free. */
	drm_gem_object_put(bo2);
	ASSERT_EQ(kref_read(&r_obj->refcount), 2);
	dma_resv_unlock(bo1->resv);

	/* The sharer keeps the resv owner alive after the owner's creator lets go. */
	drm_gem_object_put(r_obj);
	ASSERT_EQ(kref_read(&r_obj->refcount), 1);
	ASSERT_EQ(dma_resv_lock(bo1->resv, NULL), 0);
	dma_resv_unlock(bo1->resv);
	drm_gem_object_put(bo1);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static void free_with_resv_held(void *arg)
{
	struct drm_gem_object *obj = drm_gem_object_create(NULL, 4096, NULL);

	(void)arg;
	dma_resv_lock(obj->resv, NULL);
	drm_gem_object_put(obj); /* the last reference, under the object's own lock */
	dma_resv_unlock(obj->resv);
}

static void free_with_gpuva_lock_held(void *arg)
{
	struct drm_gem_object *obj = drm_gem_object_create(NULL, 4096, NULL);

	(void)arg;
	mutex_lock(&obj->gpuva.lock);
	drm_gem_object_put(obj);
	mutex_unlock(&obj->gpuva.lock);
}

static void free_sharer_under_shared_lock(void *arg)
{
	struct drm_gem_object *r_obj = drm_gem_object_create(NULL, 0, NULL);
	struct drm_gem_object *bo = drm_gem_object_create(NULL, 4096, r_obj);

	(void)arg;
	drm_gem_object_put(r_obj); /* bo now holds the only reference on r_obj */
	dma_resv_lock(bo->resv, NULL);
	drm_gem_object_put(bo);  /* frees bo, then r_obj, whose _resv we hold */
	dma_resv_unlock(bo->resv);
}

static bool test_freed_while_locked(void)
{
	struct child_result res;

	ASSERT_TRUE(run_in_child(free_with_resv_held, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "BUG: "));
	ASSERT_NONNULL(strstr(res.err, "freed while its gpuva lock (resv) is held"));
	ASSERT_NONNULL(strstr(res.err, "use drm_gpuvm_bo_put()"));

	ASSERT_TRUE(run_in_child(free_with_gpuva_lock_held, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "gpuva.lock"));

	/* The chain reaches the resv owner: caught there as well. */
	ASSERT_TRUE(run_in_child(free_sharer_under_shared_lock, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "freed while its gpuva lock (resv) is held"));
	return true;
}

int main(void)
{
	RUN(test_device_refcount);
	RUN(test_create_put);
	RUN(test_free_callback);
	RUN(test_embedded_no_funcs);
	RUN(test_shared_resv);
	RUN(test_freed_while_locked);
	return harness_done();
}
