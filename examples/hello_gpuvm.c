/* SPDX-License-Identifier: MIT */
/*
 * hello_gpuvm: the smallest C user of pygpuvm's library. Builds against an
 * installed wheel:
 *
 *	cc hello_gpuvm.c $(pygpuvm-config --cflags --libs) -o hello_gpuvm
 *	PKG_CONFIG_PATH=$(pygpuvm-config --pkgconfigdir) \
 *		cc hello_gpuvm.c $(pkg-config --cflags --libs pygpuvm) -o hello_gpuvm
 *
 * It creates a VM, maps a GEM object with the split/merge ops of a map
 * request, maps over the middle of it (one REMAP), prints the VAs and tears
 * everything down, checking for leaks.
 */
#include <stdio.h>

#include <drm/drm_gpuvm.h>
#include <linux/err.h>
#include <linux/slab.h>

static void vm_free(struct drm_gpuvm *gpuvm)
{
	kfree(gpuvm);
}

static const struct drm_gpuvm_ops ops = { .vm_free = vm_free };

/* Apply the ops of one map request, linking new VAs to @vm_bo. */
static int bind(struct drm_gpuvm *vm, struct drm_gpuvm_bo *vm_bo, u64 addr, u64 range,
		u64 offset)
{
	struct drm_gpuvm_map_req req = {
		.map.va = { .addr = addr, .range = range },
		.map.gem = { .obj = vm_bo->obj, .offset = offset },
	};
	struct drm_gpuva_ops *vops = drm_gpuvm_sm_map_ops_create(vm, &req);
	struct drm_gpuva_op *op;

	if (IS_ERR(vops))
		return (int)PTR_ERR(vops);
	drm_gpuva_for_each_op(op, vops) {
		struct drm_gpuva *prev = NULL, *next = NULL, *va;

		switch (op->op) {
		case DRM_GPUVA_OP_MAP:
			va = kzalloc_obj(*va);
			if (!va)
				return -ENOMEM; /* (a real driver would preallocate) */
			drm_gpuva_map(vm, va, &op->map);
			drm_gpuva_link(va, vm_bo);
			break;
		case DRM_GPUVA_OP_REMAP:
			va = op->remap.unmap->va;
			if (op->remap.prev)
				prev = kzalloc_obj(*prev);
			if (op->remap.next)
				next = kzalloc_obj(*next);
			drm_gpuva_remap(prev, next, &op->remap);
			if (prev)
				drm_gpuva_link(prev, va->vm_bo);
			if (next)
				drm_gpuva_link(next, va->vm_bo);
			drm_gpuva_unlink(va);
			kfree(va);
			break;
		case DRM_GPUVA_OP_UNMAP:
			va = op->unmap.va;
			drm_gpuva_unmap(&op->unmap);
			drm_gpuva_unlink(va);
			kfree(va);
			break;
		default:
			break;
		}
	}
	drm_gpuva_ops_free(vm, vops);
	return 0;
}

int main(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("hello");
	struct drm_gpuvm *vm = kzalloc_obj(*vm);
	struct drm_gem_object *r_obj = drm_gpuvm_resv_object_alloc(drm);
	struct drm_gem_object *bo = drm_gem_object_create(drm, 0x10000, NULL);
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *va, *next;
	int n = 0;

	if (!drm || !vm || !r_obj || !bo)
		return 1;
	drm_gpuvm_init(vm, "hello", 0, drm, r_obj, 0, 1ULL << 32, 0, 0, &ops);
	drm_gem_object_put(r_obj);

	vm_bo = drm_gpuvm_bo_obtain(vm, bo);
	if (IS_ERR(vm_bo))
		return 1;
	if (bind(vm, vm_bo, 0x100000, 0x10000, 0) || bind(vm, vm_bo, 0x104000, 0x4000, 0x8000))
		return 1;
	drm_gpuvm_bo_put(vm_bo);

	drm_gpuvm_for_each_va(va, vm) {
		printf("va [0x%llx, 0x%llx) -> bo offset 0x%llx\n", va->va.addr,
		       va->va.addr + va->va.range, va->gem.offset);
		n++;
	}
	drm_gpuvm_for_each_va_safe(va, next, vm) {
		drm_gpuva_remove(va);
		drm_gpuva_unlink(va);
		kfree(va);
	}
	drm_gpuvm_put(vm);
	drm_gem_object_put(bo);
	drm_dev_put(drm);
	if (n != 3 || gpuvm_alloc_live() != live0) {
		fprintf(stderr, "hello_gpuvm: %d VAs (want 3), %ld allocations leaked\n", n,
			gpuvm_alloc_live() - live0);
		return 1;
	}
	printf("hello_gpuvm: ok\n");
	return 0;
}
