/* SPDX-License-Identifier: MIT */
/*
 * VA-space helpers gpuvm.c offers the rest of the core (sm.c), not public.
 */
#ifndef PYGPUVM_GPUVM_INTERNAL_H
#define PYGPUVM_GPUVM_INTERNAL_H

#include "drm/drm_gpuvm.h"

/*
 * If drm_gpuva_remove(@old) followed by drm_gpuva_insert(@new) would succeed
 * without a WARN and put @new where @old was in address order, do exactly
 * that in one step (@new takes @old's tree node and list position; the VM's
 * reference count ends the same) and return true. Otherwise change nothing
 * and return false. @new's va fields must be set.
 */
bool __drm_gpuva_replace(struct drm_gpuva *old, struct drm_gpuva *new);

/*
 * If drm_gpuva_insert(@gpuvm, @va) would succeed and put @va right after
 * @prev, do that without a descent from the root and return true; otherwise
 * change nothing and return false. @prev may be NULL or stale (no longer in
 * @gpuvm): it is only a hint.
 */
bool __drm_gpuva_insert_after(struct drm_gpuvm *gpuvm, struct drm_gpuva *prev,
			      struct drm_gpuva *va);

#endif
