// SPDX-License-Identifier: MIT
/* Columnar VA query for pygpuvm's vm.table(): see va_table.h. */
#include "driver/va_table.h"

static void va_table_row(u64 *out, size_t stride, size_t i, const struct drm_gpuva *va,
			 bool kernel)
{
	out[i] = va->va.addr;
	out[stride + i] = va->va.range;
	out[2 * stride + i] = va->gem.offset;
	out[3 * stride + i] = (u64)(uintptr_t)va->gem.obj;
	out[4 * stride + i] = (u64)va->flags | (kernel ? GPUVM_VA_TABLE_KERNEL : 0);
}

size_t gpuvm_va_table_fill(struct drm_gpuvm *gpuvm, u64 first, u64 last, bool skip_kernel,
			   u64 *out, size_t stride)
{
	const struct drm_gpuva *kernel_node = &gpuvm->kernel_alloc_node;
	struct drm_gpuva *va;
	size_t n = 0;

	if (last < first)
		return 0;
	if (first == 0 && last == ~(u64)0) {
		drm_gpuvm_for_each_va(va, gpuvm) {
			if (skip_kernel && va == kernel_node)
				continue;
			if (n < stride)
				va_table_row(out, stride, n, va, va == kernel_node);
			n++;
		}
		return n;
	}
	/* The same walk as vm.vas(): the first overlapping VA, then the list. */
	for (va = drm_gpuva_find_first(gpuvm, first, last - first + 1); va && va->va.addr <= last;
	     va = __drm_gpuva_next(va)) {
		if (skip_kernel && va == kernel_node)
			continue;
		if (n < stride)
			va_table_row(out, stride, n, va, va == kernel_node);
		n++;
	}
	return n;
}
