/* SPDX-License-Identifier: MIT */
/*
 * pygpuvm's columnar VA query (not kernel API): the VAs overlapping an
 * inclusive range [first, last] in address order, written as five columns of
 * one caller-provided u64 array (column-major, @stride words per column):
 *
 *   out[0 * stride + i]  va.addr
 *   out[1 * stride + i]  va.range
 *   out[2 * stride + i]  gem.offset
 *   out[3 * stride + i]  gem.obj as an integer (0: no object)
 *   out[4 * stride + i]  flags | GPUVM_VA_TABLE_KERNEL for the reserved node
 *
 * At most @stride rows are written; the total number of overlapping VAs is
 * returned, so a caller seeing a larger value calls again with room for it.
 * [0, U64_MAX] walks the whole address-ordered list. The caller holds the VM
 * lock (the tree must not change during the walk). Implementation:
 * csrc/driver/va_table.c.
 */
#ifndef PYGPUVM_VA_TABLE_H
#define PYGPUVM_VA_TABLE_H

#include "drm/drm_gpuvm.h"

#define GPUVM_VA_TABLE_COLUMNS 5
#define GPUVM_VA_TABLE_KERNEL (1ULL << 32)

size_t gpuvm_va_table_fill(struct drm_gpuvm *gpuvm, u64 first, u64 last, bool skip_kernel,
			   u64 *out, size_t stride);

#endif /* PYGPUVM_VA_TABLE_H */
