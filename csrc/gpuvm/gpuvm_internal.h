/* SPDX-License-Identifier: MIT */
/*
 * VA-space helpers gpuvm.c offers the rest of the core (sm.c), not public.
 */
#ifndef PYGPUVM_GPUVM_INTERNAL_H
#define PYGPUVM_GPUVM_INTERNAL_H

#include "drm/drm_gpuvm.h"
#include "lib/interval_tree.h"

/*
 * drm_gpuvm_range_valid(), inline for the core's own hot paths: no overflow,
 * inside the VM's window, clear of the reserved node.
 */
static inline bool gpuvm_range_valid(const struct drm_gpuvm *gpuvm, u64 addr, u64 range)
{
	const u64 end = addr + range;
	const u64 mm_end = gpuvm->mm_start + gpuvm->mm_range; /* wraps if init warned */
	const u64 kstart = gpuvm->kernel_alloc_node.va.addr;
	const u64 krange = gpuvm->kernel_alloc_node.va.range;

	if (end < addr || addr < gpuvm->mm_start || end > mm_end)
		return false;
	return !(krange && addr < kstart + krange && kstart < end);
}

/* drm_gpuva_find_first(), inline for the walks of sm.c. */
static inline struct drm_gpuva *gpuvm_find_first(struct drm_gpuvm *gpuvm, u64 addr, u64 range)
{
	return gpuva_it_iter_first_inline(&gpuvm->rb.tree, addr, addr + range - 1);
}

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
