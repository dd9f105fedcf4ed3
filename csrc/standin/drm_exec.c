/* SPDX-License-Identifier: MIT */
/*
 * drm_exec (drm/drm_exec.h): lock a set of GEM reservation objects under one
 * ww acquire context, backing off and retrying on contention.
 *
 * Pass structure: drm_exec_cleanup() is the loop condition. The first call
 * starts the ticket. When a lock attempt reports -EDEADLK the object is
 * remembered as contended; the next cleanup() drops every lock, takes the
 * contended one with the blocking slow path (safe: nothing else is held) and
 * parks it as "prelocked" until the locking block asks for it again.
 */
#include <errno.h>

#include "drm/drm_exec.h"
#include "drm/drm_gem.h"
#include "linux/slab.h"

/* "Not started yet": non-NULL so the first cleanup() takes the start branch. */
#define DRM_EXEC_NOT_STARTED ((struct drm_gem_object *)~(uintptr_t)0)
#define DRM_EXEC_DEFAULT_OBJECTS 16

void drm_exec_init(struct drm_exec *exec, u32 flags, unsigned int nr)
{
	if (!nr)
		nr = DRM_EXEC_DEFAULT_OBJECTS;
	exec->flags = flags;
	/* A failed preallocation is not an error: the array grows on demand. */
	exec->objects = kmalloc((size_t)nr * sizeof(*exec->objects), GFP_KERNEL);
	exec->max_objects = exec->objects ? nr : 0;
	exec->num_objects = 0;
	exec->contended = DRM_EXEC_NOT_STARTED;
	exec->prelocked = NULL;
	exec->num_backoffs = 0;
}

static void drm_exec_unlock_all(struct drm_exec *exec)
{
	struct drm_gem_object *obj;
	unsigned int index;

	drm_exec_for_each_locked_object_reverse(exec, index, obj) {
		dma_resv_unlock(obj->resv);
		drm_gem_object_put(obj);
	}
	exec->num_objects = 0;

	if (exec->prelocked) {
		dma_resv_unlock(exec->prelocked->resv);
		drm_gem_object_put(exec->prelocked);
		exec->prelocked = NULL;
	}
}

void drm_exec_fini(struct drm_exec *exec)
{
	drm_exec_unlock_all(exec);
	kfree(exec->objects);
	exec->objects = NULL;
	exec->max_objects = 0;
	if (exec->contended != DRM_EXEC_NOT_STARTED) {
		drm_gem_object_put(exec->contended);
		ww_acquire_fini(&exec->ticket);
	}
	exec->contended = NULL;
}

bool drm_exec_cleanup(struct drm_exec *exec)
{
	struct drm_gem_object *contended = exec->contended;

	if (likely(!contended)) {
		ww_acquire_done(&exec->ticket);
		return false;
	}
	if (contended == DRM_EXEC_NOT_STARTED) {
		exec->contended = NULL;
		ww_acquire_init(&exec->ticket, &reservation_ww_class);
		return true;
	}

	drm_exec_unlock_all(exec);
	/* Nothing is held now, so waiting for the contended lock cannot deadlock. */
	dma_resv_lock_slow(contended->resv, &exec->ticket);
	exec->prelocked = contended; /* the contended reference moves along */
	exec->contended = NULL;
	return true;
}

/* Record a locked @obj, taking a reference; on -ENOMEM the caller unlocks. */
static int drm_exec_obj_locked(struct drm_exec *exec, struct drm_gem_object *obj)
{
	if (unlikely(exec->num_objects == exec->max_objects)) {
		unsigned int new_max = exec->max_objects ? exec->max_objects * 2
							 : DRM_EXEC_DEFAULT_OBJECTS;
		struct drm_gem_object **objects;

		if (new_max <= exec->max_objects)
			return -ENOMEM;
		objects = krealloc(exec->objects, (size_t)new_max * sizeof(*objects), GFP_KERNEL);
		if (!objects)
			return -ENOMEM;
		exec->objects = objects;
		exec->max_objects = new_max;
	}
	drm_gem_object_get(obj);
	exec->objects[exec->num_objects++] = obj;
	return 0;
}

int drm_exec_lock_obj(struct drm_exec *exec, struct drm_gem_object *obj)
{
	int ret;

	if (unlikely(exec->contended)) {
		if (WARN(exec->contended == DRM_EXEC_NOT_STARTED,
			 "drm_exec_lock_obj outside drm_exec_until_all_locked()"))
			return -EINVAL;
		/*
		 * A back-off is pending: the pass must restart before anything
		 * else is locked. This also makes drm_exec_retry_on_contention()
		 * safe inside a nested loop, where its "continue" only reaches
		 * the inner loop: the remaining calls fail fast until cleanup().
		 */
		return -EDEADLK;
	}

	if (exec->prelocked == obj) {
		ret = drm_exec_obj_locked(exec, obj);
		if (ret)
			dma_resv_unlock(obj->resv);
		drm_gem_object_put(exec->prelocked);
		exec->prelocked = NULL;
		return ret;
	}

	if (exec->flags & DRM_EXEC_INTERRUPTIBLE_WAIT)
		ret = dma_resv_lock_interruptible(obj->resv, &exec->ticket);
	else
		ret = dma_resv_lock(obj->resv, &exec->ticket);

	if (unlikely(ret == -EDEADLK)) {
		/* Keep it alive: cleanup() locks it after everything is dropped. */
		drm_gem_object_get(obj);
		exec->contended = obj;
		exec->num_backoffs++;
		return -EDEADLK;
	}
	if (unlikely(ret == -EALREADY))
		return (exec->flags & DRM_EXEC_IGNORE_DUPLICATES) ? 0 : -EALREADY;
	if (unlikely(ret))
		return ret;

	ret = drm_exec_obj_locked(exec, obj);
	if (ret)
		dma_resv_unlock(obj->resv);
	return ret;
}

void drm_exec_unlock_obj(struct drm_exec *exec, struct drm_gem_object *obj)
{
	unsigned int i;

	/* Newest first: the usual caller just locked it. */
	for (i = exec->num_objects; i--;) {
		if (exec->objects[i] == obj) {
			dma_resv_unlock(obj->resv);
			for (++i; i < exec->num_objects; ++i)
				exec->objects[i - 1] = exec->objects[i];
			--exec->num_objects;
			drm_gem_object_put(obj);
			return;
		}
	}
	if (exec->prelocked == obj) {
		dma_resv_unlock(obj->resv);
		drm_gem_object_put(obj);
		exec->prelocked = NULL;
	}
}

int drm_exec_prepare_obj(struct drm_exec *exec, struct drm_gem_object *obj,
			 unsigned int num_fences)
{
	int ret;

	ret = drm_exec_lock_obj(exec, obj);
	if (ret)
		return ret;

	ret = dma_resv_reserve_fences(obj->resv, num_fences);
	if (ret) {
		drm_exec_unlock_obj(exec, obj);
		return ret;
	}
	return 0;
}

int drm_exec_prepare_array(struct drm_exec *exec, struct drm_gem_object **objects,
			   unsigned int num_objects, unsigned int num_fences)
{
	unsigned int i;
	int ret;

	for (i = 0; i < num_objects; ++i) {
		ret = drm_exec_prepare_obj(exec, objects[i], num_fences);
		if (unlikely(ret))
			return ret;
	}
	return 0;
}
