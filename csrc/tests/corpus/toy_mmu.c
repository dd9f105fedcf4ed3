/* SPDX-License-Identifier: MIT */
/*
 * A toy MMU driver: VM_BIND map/unmap requests go through drm_gpuvm_sm_map()
 * and drm_gpuvm_sm_unmap(), whose step callbacks program a flat page table.
 * Locking is the kernel's staged-mode pattern: one drm_exec transaction locks
 * the VM's resv and every object the request touches, then the split/merge
 * runs with those locks held.
 *
 * Built twice: as is (our plain names, which take the GEM's gpuva lock
 * themselves unless the caller holds it, as here), and with
 * -DTOY_KERNEL_LOCKING, which includes <drm/drm_gpuvm_compat.h> so every name
 * means the kernel's caller-locked function. The same source must behave the
 * same in both.
 *
 * Checked after every one of a few hundred seeded random requests: the page
 * table equals an independent model, and the driver's own VA list agrees
 * with the VA tree.
 */
#include <errno.h>
#include <string.h>

#include <drm/drm_device.h>
#include <drm/drm_exec.h>
#include <drm/drm_gem.h>
#include <drm/drm_gpuvm.h>
#include <drm/drm_print.h>
#include <linux/bug.h>
#include <linux/err.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/types.h>
#ifdef TOY_KERNEL_LOCKING
#include <drm/drm_gpuvm_compat.h>
#endif

#include "corpus.h"

#define TOY_PAGE_SHIFT 12
#define TOY_PAGE_SIZE (1ULL << TOY_PAGE_SHIFT)
#define TOY_PAGES 64
#define TOY_PTE_VALID BIT_ULL(63)
#define TOY_NBOS 3
#define TOY_BO_PAGES 16

struct toy_bo {
	struct drm_gem_object base;
	u32 id;
};

struct toy_va {
	struct drm_gpuva base;
	struct list_head link; /* toy_vm.vas */
};

struct toy_vm {
	struct drm_gpuvm base;
	u64 pt[TOY_PAGES];
	struct list_head vas;
	unsigned int nr_vas;
	unsigned int steps[3]; /* map, remap, unmap */
};

/* Preallocated VAs for one request: a map and a remap's two pieces. */
struct toy_bind {
	struct toy_vm *vm;
	struct drm_gpuvm_bo *vm_bo;
	struct toy_va *spare[3];
};

static struct toy_vm *to_toy_vm(struct drm_gpuvm *gpuvm)
{
	return container_of(gpuvm, struct toy_vm, base);
}

static struct toy_bo *to_toy_bo(struct drm_gem_object *obj)
{
	return container_of(obj, struct toy_bo, base);
}

static u64 toy_pte(u32 bo_id, u64 bo_page)
{
	return TOY_PTE_VALID | ((u64)bo_id << 32) | bo_page;
}

static void toy_program(struct toy_vm *vm, const struct drm_gpuva *va)
{
	u64 first = va->va.addr >> TOY_PAGE_SHIFT;
	u64 n = va->va.range >> TOY_PAGE_SHIFT;

	for (u64 i = 0; i < n; i++)
		vm->pt[first + i] = toy_pte(to_toy_bo(va->gem.obj)->id,
					    (va->gem.offset >> TOY_PAGE_SHIFT) + i);
}

static void toy_clear(struct toy_vm *vm, u64 addr, u64 range)
{
	for (u64 p = addr >> TOY_PAGE_SHIFT; p < (addr + range) >> TOY_PAGE_SHIFT; p++)
		vm->pt[p] = 0;
}

static struct toy_va *toy_take_spare(struct toy_bind *b)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(b->spare); i++) {
		struct toy_va *va = b->spare[i];

		if (va) {
			b->spare[i] = NULL;
			return va;
		}
	}
	BUG();
}

static void toy_va_gone(struct toy_vm *vm, struct drm_gpuva *va)
{
	struct toy_va *tva = container_of(va, struct toy_va, base);

	list_del(&tva->link);
	vm->nr_vas--;
	kfree(tva);
}

static int toy_step_map(struct drm_gpuva_op *op, void *priv)
{
	struct toy_bind *b = priv;
	struct toy_va *va = toy_take_spare(b);

	drm_gpuva_map(&b->vm->base, &va->base, &op->map);
	drm_gpuva_link(&va->base, b->vm_bo);
	list_add_tail(&va->link, &b->vm->vas);
	b->vm->nr_vas++;
	toy_program(b->vm, &va->base);
	b->vm->steps[0]++;
	return 0;
}

static int toy_step_remap(struct drm_gpuva_op *op, void *priv)
{
	struct toy_bind *b = priv;
	struct drm_gpuva *old = op->remap.unmap->va;
	struct drm_gpuvm_bo *vm_bo = old->vm_bo;
	struct toy_va *prev = op->remap.prev ? toy_take_spare(b) : NULL;
	struct toy_va *next = op->remap.next ? toy_take_spare(b) : NULL;
	u64 addr, range;

	drm_gpuva_op_remap_to_unmap_range(&op->remap, &addr, &range);
	toy_clear(b->vm, addr, range);
	drm_gpuva_remap(prev ? &prev->base : NULL, next ? &next->base : NULL, &op->remap);
	if (prev) {
		drm_gpuva_link(&prev->base, vm_bo);
		list_add_tail(&prev->link, &b->vm->vas);
		b->vm->nr_vas++;
	}
	if (next) {
		drm_gpuva_link(&next->base, vm_bo);
		list_add_tail(&next->link, &b->vm->vas);
		b->vm->nr_vas++;
	}
	drm_gpuva_unlink(old);
	toy_va_gone(b->vm, old);
	b->vm->steps[1]++;
	return 0;
}

static int toy_step_unmap(struct drm_gpuva_op *op, void *priv)
{
	struct toy_bind *b = priv;
	struct drm_gpuva *va = op->unmap.va;

	toy_clear(b->vm, va->va.addr, va->va.range);
	drm_gpuva_unmap(&op->unmap);
	drm_gpuva_unlink(va);
	toy_va_gone(b->vm, va);
	b->vm->steps[2]++;
	return 0;
}

static void toy_vm_free(struct drm_gpuvm *gpuvm)
{
	kfree(to_toy_vm(gpuvm));
}

static const struct drm_gpuvm_ops toy_vm_ops = {
	.vm_free = toy_vm_free,
	.sm_step_map = toy_step_map,
	.sm_step_remap = toy_step_remap,
	.sm_step_unmap = toy_step_unmap,
};

static struct toy_vm *toy_vm_create(struct drm_device *drm)
{
	struct toy_vm *vm = kzalloc_obj(*vm, GFP_KERNEL);
	struct drm_gem_object *r_obj;

	if (!vm)
		return NULL;
	r_obj = drm_gpuvm_resv_object_alloc(drm);
	if (!r_obj) {
		kfree(vm);
		return NULL;
	}
	INIT_LIST_HEAD(&vm->vas);
	drm_gpuvm_init(&vm->base, "toy", DRM_GPUVM_RESV_PROTECTED, drm, r_obj, 0,
		       TOY_PAGES * TOY_PAGE_SIZE, 0, 0, &toy_vm_ops);
	drm_gem_object_put(r_obj);
	return vm;
}

static void toy_bo_free(struct drm_gem_object *obj)
{
	drm_gem_object_release(obj);
	kfree(to_toy_bo(obj));
}

static const struct drm_gem_object_funcs toy_bo_funcs = { .free = toy_bo_free };

static struct toy_bo *toy_bo_create(struct drm_device *drm, u32 id)
{
	struct toy_bo *bo = kzalloc_obj(*bo);

	if (!bo)
		return NULL;
	bo->id = id;
	bo->base.funcs = &toy_bo_funcs;
	drm_gem_private_object_init(drm, &bo->base, TOY_BO_PAGES * TOY_PAGE_SIZE);
	return bo;
}

static int toy_prealloc(struct toy_bind *b)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(b->spare); i++) {
		b->spare[i] = kzalloc_obj(*b->spare[i]);
		if (!b->spare[i])
			return -ENOMEM;
	}
	return 0;
}

static void toy_free_spares(struct toy_bind *b)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(b->spare); i++)
		kfree(b->spare[i]);
}

/* VM_BIND map: lock, obtain the vm_bo, split/merge, put the vm_bo. */
static int toy_bind_map(struct toy_vm *vm, struct toy_bo *bo, u64 addr, u64 range, u64 offset)
{
	struct drm_gpuvm_map_req req = {
		.map.va.addr = addr,
		.map.va.range = range,
		.map.gem.obj = &bo->base,
		.map.gem.offset = offset,
	};
	struct toy_bind b = { .vm = vm };
	struct drm_exec exec;
	int ret;

	ret = toy_prealloc(&b);
	if (ret)
		goto out;
	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto unlock;
		ret = drm_gpuvm_sm_map_exec_lock(&vm->base, &exec, 1, &req);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto unlock;
	}
	b.vm_bo = drm_gpuvm_bo_obtain(&vm->base, &bo->base);
	if (IS_ERR(b.vm_bo)) {
		ret = PTR_ERR(b.vm_bo);
		goto unlock;
	}
	ret = drm_gpuvm_sm_map(&vm->base, &b, &req);
	/* The VAs hold the vm_bo now; ours goes (the BO is still referenced by us). */
	drm_gpuvm_bo_put(b.vm_bo);
unlock:
	drm_exec_fini(&exec);
out:
	toy_free_spares(&b);
	return ret;
}

static int toy_bind_unmap(struct toy_vm *vm, u64 addr, u64 range)
{
	struct toy_bind b = { .vm = vm };
	struct drm_exec exec;
	int ret;

	ret = toy_prealloc(&b);
	if (ret)
		goto out;
	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(&vm->base, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto unlock;
		ret = drm_gpuvm_sm_unmap_exec_lock(&vm->base, &exec, addr, range);
		drm_exec_retry_on_contention(&exec);
		if (ret)
			goto unlock;
	}
	ret = drm_gpuvm_sm_unmap(&vm->base, &b, addr, range);
unlock:
	drm_exec_fini(&exec);
out:
	toy_free_spares(&b);
	return ret;
}

/* The independent model: what each page must map to. */
static u64 model[TOY_PAGES];

static void check_against_model(struct toy_vm *vm)
{
	struct drm_gpuva *va;
	struct toy_va *tva;
	unsigned int n_tree = 0, n_list = 0;

	CHECK(memcmp(vm->pt, model, sizeof(model)) == 0);
	drm_gpuvm_for_each_va(va, &vm->base) {
		if (va == &vm->base.kernel_alloc_node)
			continue;
		n_tree++;
		CHECK(va->vm_bo && va->vm_bo->obj == va->gem.obj);
	}
	list_for_each_entry(tva, &vm->vas, link) {
		n_list++;
		CHECK(drm_gpuva_find(&vm->base, tva->base.va.addr, tva->base.va.range) ==
		      &tva->base);
	}
	CHECK(n_tree == vm->nr_vas);
	CHECK(n_list == vm->nr_vas);
}

static void run_random_binds(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long warn0 = gpuvm_warn_count();
	struct drm_device *drm = drm_dev_alloc("toy-mmu");
	struct toy_bo *bos[TOY_NBOS];
	struct toy_vm *vm;

	CHECK(drm != NULL);
	vm = toy_vm_create(drm);
	CHECK(vm != NULL);
	for (u32 i = 0; i < TOY_NBOS; i++) {
		bos[i] = toy_bo_create(drm, i + 1);
		CHECK(bos[i] != NULL);
	}
	memset(model, 0, sizeof(model));

	for (int step = 0; step < 400; step++) {
		u64 first = corpus_below(TOY_PAGES);
		u64 room = TOY_PAGES - first;
		u64 n = 1 + corpus_below((unsigned int)(room < 12 ? room : 12));
		int ret;

		if (corpus_below(3)) {
			u32 k = corpus_below(TOY_NBOS);
			u64 off = corpus_below((unsigned int)(TOY_BO_PAGES - n + 1));

			ret = toy_bind_map(vm, bos[k], first * TOY_PAGE_SIZE, n * TOY_PAGE_SIZE,
					   off * TOY_PAGE_SIZE);
			CHECK(ret == 0);
			for (u64 i = 0; i < n; i++)
				model[first + i] = toy_pte(bos[k]->id, off + i);
		} else {
			ret = toy_bind_unmap(vm, first * TOY_PAGE_SIZE, n * TOY_PAGE_SIZE);
			CHECK(ret == 0);
			for (u64 i = 0; i < n; i++)
				model[first + i] = 0;
		}
		check_against_model(vm);
	}
	/* Every kind of step happened. */
	CHECK(vm->steps[0] && vm->steps[1] && vm->steps[2]);
	/* Invalid requests change nothing. */
	CHECK(toy_bind_map(vm, bos[0], (TOY_PAGES - 1) * TOY_PAGE_SIZE, 2 * TOY_PAGE_SIZE, 0) ==
	      -EINVAL);
	check_against_model(vm);

	/* VM close: unmap everything, then drop the VM and the BOs. */
	CHECK(toy_bind_unmap(vm, 0, TOY_PAGES * TOY_PAGE_SIZE) == 0);
	memset(model, 0, sizeof(model));
	check_against_model(vm);
	CHECK(list_empty(&vm->vas));
	drm_gpuvm_put(&vm->base);
	for (u32 i = 0; i < TOY_NBOS; i++)
		drm_gem_object_put(&bos[i]->base);
	drm_dev_put(drm);
	CHECK(gpuvm_alloc_live() == live0);
	CHECK(gpuvm_warn_count() == warn0);
}

int main(void)
{
	CORPUS_PART(1, "toy MMU: random binds program the page table like the model",
		    run_random_binds());
	printf("1..1\n");
	return corpus_failures ? 1 : 0;
}
