/* SPDX-License-Identifier: MIT */
/*
 * Kernel-source compatibility: today's kernel drm_gpuvm functions expect the
 * caller to hold the GEM's gpuva lock. Include this header after (or instead
 * of) drm_gpuvm.h and the kernel's names resolve to our _locked forms, so
 * kernel code that takes the lock itself compiles and behaves unchanged.
 */
#ifndef PYGPUVM_DRM_GPUVM_COMPAT_H
#define PYGPUVM_DRM_GPUVM_COMPAT_H

#include "drm/drm_gpuvm.h"

#define drm_gpuva_link(va, vm_bo) drm_gpuva_link_locked(va, vm_bo)
#define drm_gpuva_unlink(va) drm_gpuva_unlink_locked(va)
#define drm_gpuvm_bo_find(gpuvm, obj) drm_gpuvm_bo_find_locked(gpuvm, obj)
#define drm_gpuvm_bo_put(vm_bo) drm_gpuvm_bo_put_locked(vm_bo)
#define drm_gpuvm_bo_unmap_ops_create(vm_bo) drm_gpuvm_bo_unmap_ops_create_locked(vm_bo)
#define drm_gpuvm_bo_gem_evict(obj, evict) drm_gpuvm_bo_gem_evict_locked(obj, evict)
/* Before v7.0 drm_gpuvm_bo_obtain() was the caller-locked form. */
#define drm_gpuvm_bo_obtain(gpuvm, obj) drm_gpuvm_bo_obtain_locked(gpuvm, obj)

#endif
