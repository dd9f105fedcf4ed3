/* SPDX-License-Identifier: MIT */
/*
 * Taking a GEM's gpuva lock for the internally locking (non-_locked) forms.
 * The lock is the object's resv in staged mode and its gpuva.lock mutex in
 * DRM_GPUVM_IMMEDIATE_MODE. If the calling thread already holds it (e.g. the
 * resv inside a drm_exec transaction, or a private object whose resv is the
 * VM's resv), it is used as is: the plain forms then behave like the _locked
 * ones instead of deadlocking. Callers must drop references that may free the
 * object only after gpuvm_gem_gpuva_unlock().
 */
#ifndef PYGPUVM_GEM_GPUVA_LOCK_H
#define PYGPUVM_GEM_GPUVA_LOCK_H

#include "drm/drm_gpuvm.h"

/*
 * Take @resv unless this thread already holds it. Without an acquire context
 * this is a plain blocking lock: it cannot fail. Returns true if this call
 * took the lock (pass it to gpuvm_resv_unlock_taken()).
 */
static inline bool gpuvm_resv_lock_once(struct dma_resv *resv)
{
	if (dma_resv_held(resv))
		return false;
	GPUVM_BUG_ON(dma_resv_lock(resv, NULL) != 0);
	return true;
}

static inline void gpuvm_resv_unlock_taken(struct dma_resv *resv, bool taken)
{
	if (taken)
		dma_resv_unlock(resv);
}

/* Returns true if this call took the lock (pass it to the unlock). */
static inline bool gpuvm_gem_gpuva_lock(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	if (drm_gpuvm_immediate_mode(gpuvm)) {
		if (mutex_held_by_me(&obj->gpuva.lock))
			return false;
		mutex_lock(&obj->gpuva.lock);
		return true;
	}
	return gpuvm_resv_lock_once(obj->resv);
}

static inline void gpuvm_gem_gpuva_unlock(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj,
					  bool taken)
{
	if (!taken)
		return;
	if (drm_gpuvm_immediate_mode(gpuvm))
		mutex_unlock(&obj->gpuva.lock);
	else
		dma_resv_unlock(obj->resv);
}

#endif
