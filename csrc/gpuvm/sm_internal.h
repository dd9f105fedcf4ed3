/* SPDX-License-Identifier: MIT */
/*
 * Split/merge walks shared by sm.c (callbacks, ops lists) and gpuvm_exec.c
 * (drm_gpuvm_sm_map_exec_lock / sm_unmap_exec_lock). Only the sm_step_*
 * members of @ops are used. Implementation: csrc/gpuvm/sm.c.
 */
#ifndef PYGPUVM_SM_INTERNAL_H
#define PYGPUVM_SM_INTERNAL_H

#include "drm/drm_gpuvm.h"

/*
 * Ops a list built here holds without allocating beyond the list itself
 * (unless the driver has op_alloc): most requests produce at most three.
 */
#define DRM_GPUVA_OPS_INLINE 3

/* Validate, then walk as sm_map (madvise=false) or the madvise walk. */
int __drm_gpuvm_sm_map(struct drm_gpuvm *gpuvm, const struct drm_gpuvm_ops *ops, void *priv,
		       const struct drm_gpuvm_map_req *req, bool madvise);
int __drm_gpuvm_sm_unmap(struct drm_gpuvm *gpuvm, const struct drm_gpuvm_ops *ops, void *priv,
			 u64 req_addr, u64 req_range);

#endif
