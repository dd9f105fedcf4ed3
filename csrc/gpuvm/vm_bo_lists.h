/* SPDX-License-Identifier: MIT */
/*
 * The VM's extobj and evict lists of vm_bos, shared by vm_bo.c (add/remove on
 * extobj_add, evict, destruction) and gpuvm_exec.c (prepare_objects,
 * validate). Both lists have the same shape, so one descriptor names either.
 *
 * Protection: the list's spinlock, or with DRM_GPUVM_RESV_PROTECTED the VM's
 * resv held by the caller (then @lock is false; callers assert the resv).
 */
#ifndef PYGPUVM_VM_BO_LISTS_H
#define PYGPUVM_VM_BO_LISTS_H

#include <stddef.h>

#include "drm/drm_gpuvm.h"

enum gpuvm_bo_list_id {
	GPUVM_BO_LIST_EXTOBJ,
	GPUVM_BO_LIST_EVICT,
};

struct gpuvm_bo_list {
	struct list_head *head;
	struct list_head **local_list; /* private list of the running iterator */
	spinlock_t *lock;
	size_t node_off; /* offset of the node inside struct drm_gpuvm_bo */
};

static inline struct gpuvm_bo_list gpuvm_bo_list(struct drm_gpuvm *gpuvm, enum gpuvm_bo_list_id id)
{
	if (id == GPUVM_BO_LIST_EXTOBJ)
		return (struct gpuvm_bo_list){
			.head = &gpuvm->extobj.list,
			.local_list = &gpuvm->extobj.local_list,
			.lock = &gpuvm->extobj.lock,
			.node_off = offsetof(struct drm_gpuvm_bo, list.entry.extobj),
		};
	return (struct gpuvm_bo_list){
		.head = &gpuvm->evict.list,
		.local_list = &gpuvm->evict.local_list,
		.lock = &gpuvm->evict.lock,
		.node_off = offsetof(struct drm_gpuvm_bo, list.entry.evict),
	};
}

static inline struct list_head *gpuvm_bo_list_node(const struct gpuvm_bo_list *l,
						   struct drm_gpuvm_bo *vm_bo)
{
	return (struct list_head *)(void *)((char *)vm_bo + l->node_off);
}

static inline struct drm_gpuvm_bo *gpuvm_bo_list_entry(const struct gpuvm_bo_list *l,
						       struct list_head *node)
{
	return (struct drm_gpuvm_bo *)(void *)((char *)node - l->node_off);
}

/* Refcount 0: dead; with deferred cleanup it may still sit on these lists. */
static inline bool drm_gpuvm_bo_is_zombie(struct drm_gpuvm_bo *vm_bo)
{
	return kref_read(&vm_bo->kref) == 0;
}

/* Without @lock the callers assert the VM resv once, as the kernel does. */
static inline void gpuvm_bo_list_lock(const struct gpuvm_bo_list *l, bool lock)
{
	if (lock)
		spin_lock(l->lock);
}

static inline void gpuvm_bo_list_unlock(const struct gpuvm_bo_list *l, bool lock)
{
	if (lock)
		spin_unlock(l->lock);
}

/* Append unless already on the list (a node off every list points at itself). */
static inline void gpuvm_bo_list_add(struct drm_gpuvm_bo *vm_bo, enum gpuvm_bo_list_id id,
				     bool lock)
{
	struct gpuvm_bo_list l = gpuvm_bo_list(vm_bo->vm, id);
	struct list_head *node = gpuvm_bo_list_node(&l, vm_bo);

	gpuvm_bo_list_lock(&l, lock);
	if (list_empty(node))
		list_add_tail(node, l.head);
	gpuvm_bo_list_unlock(&l, lock);
}

static inline void gpuvm_bo_list_del(struct drm_gpuvm_bo *vm_bo, enum gpuvm_bo_list_id id,
				     bool lock)
{
	struct gpuvm_bo_list l = gpuvm_bo_list(vm_bo->vm, id);
	struct list_head *node = gpuvm_bo_list_node(&l, vm_bo);

	gpuvm_bo_list_lock(&l, lock);
	if (!list_empty(node))
		list_del_init(node);
	gpuvm_bo_list_unlock(&l, lock);
}

#endif
