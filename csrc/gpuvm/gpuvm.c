// SPDX-License-Identifier: MIT
/*
 * The VM and its VAs: VM lifetime, range validation, and VA insert, remove
 * and lookup on the interval tree plus the address-ordered list.
 *
 * The core takes no lock for the tree and the list: the driver serialises
 * all changes to a VM's VA space with a lock of its own, as in the kernel.
 */
#include "drm/drm_gpuvm.h"

#include <string.h>

#include "gpuvm/gpuvm_internal.h"
#include "lib/interval_tree.h"

static bool u64_add_overflows(u64 a, u64 b)
{
	return a + b < a;
}

/* The kernel only warns: callers may still pass such a window or reservation. */
static bool drm_gpuvm_warn_check_overflow(u64 addr, u64 range)
{
	return WARN(u64_add_overflows(addr, range), "GPUVA address limited to %zu bytes.",
		    sizeof(u64));
}

/* The list follows the tree's in-order sequence: link right before the successor. */
static void drm_gpuva_list_add(struct drm_gpuvm *gpuvm, struct drm_gpuva *va,
			       struct drm_gpuva *next)
{
	va->vm = gpuvm;
	list_add_tail(&va->rb.entry, next ? &next->rb.entry : &gpuvm->rb.list);
}

static void __drm_gpuva_insert(struct drm_gpuvm *gpuvm, struct drm_gpuva *va)
{
	drm_gpuva_list_add(gpuvm, va, gpuva_it_insert(&gpuvm->rb.tree, va));
}

static void __drm_gpuva_remove(struct drm_gpuva *va)
{
	gpuva_it_remove(&va->vm->rb.tree, va);
	list_del_init(&va->rb.entry);
}

void drm_gpuvm_init(struct drm_gpuvm *gpuvm, const char *name, enum drm_gpuvm_flags flags,
		    struct drm_device *drm, struct drm_gem_object *r_obj, u64 start_offset,
		    u64 range, u64 reserve_offset, u64 reserve_range,
		    const struct drm_gpuvm_ops *ops)
{
	gpuvm->rb.tree = RB_ROOT_CACHED;
	gpuvm->rb_spine.len = 0;
	gpuvm->rb_spine.walk = GPUVA_IT_SPINE_WALK;
	INIT_LIST_HEAD(&gpuvm->rb.list);

	INIT_LIST_HEAD(&gpuvm->extobj.list);
	gpuvm->extobj.local_list = NULL;
	spin_lock_init(&gpuvm->extobj.lock);
	INIT_LIST_HEAD(&gpuvm->evict.list);
	gpuvm->evict.local_list = NULL;
	spin_lock_init(&gpuvm->evict.lock);
	init_llist_head(&gpuvm->bo_defer);

	kref_init(&gpuvm->kref);
	gpuvm->name = name ? name : "unknown";
	gpuvm->flags = flags;
	gpuvm->ops = ops;

	gpuvm->drm = drm;
	if (drm)
		drm_dev_get(drm);
	/* Ours: the kernel would oops on a NULL resv object; say so instead. */
	gpuvm->r_obj = r_obj;
	if (!WARN(!r_obj, "drm_gpuvm_init() without a resv object"))
		drm_gem_object_get(r_obj);

	drm_gpuvm_warn_check_overflow(start_offset, range);
	gpuvm->mm_start = start_offset;
	gpuvm->mm_range = range;

	memset(&gpuvm->kernel_alloc_node, 0, sizeof(gpuvm->kernel_alloc_node));
	drm_gpuva_init_lists(&gpuvm->kernel_alloc_node);
	gpuvm->kernel_alloc_node_inserted = false;
	if (reserve_range) {
		/*
		 * Stored even when its end overflows: range_valid() keeps
		 * rejecting requests that touch it. Only a node whose interval
		 * is well formed goes into the tree (no VM reference: it must
		 * not keep the VM alive).
		 */
		gpuvm->kernel_alloc_node.va.addr = reserve_offset;
		gpuvm->kernel_alloc_node.va.range = reserve_range;
		if (!drm_gpuvm_warn_check_overflow(reserve_offset, reserve_range)) {
			__drm_gpuva_insert(gpuvm, &gpuvm->kernel_alloc_node);
			gpuvm->kernel_alloc_node_inserted = true;
		}
	}
}

static void drm_gpuvm_fini(struct drm_gpuvm *gpuvm)
{
	gpuvm->name = NULL;

	/* The kernel removes the node even if it never went in; we track it. */
	if (gpuvm->kernel_alloc_node_inserted) {
		__drm_gpuva_remove(&gpuvm->kernel_alloc_node);
		gpuvm->kernel_alloc_node_inserted = false;
	}

	WARN(gpuvm->rb.tree.rb_root.rb_node, "GPUVA tree is not empty, potentially leaking memory.");
	WARN(!list_empty(&gpuvm->extobj.list), "Extobj list should be empty.");
	WARN(!list_empty(&gpuvm->evict.list), "Evict list should be empty.");
	WARN(!llist_empty(&gpuvm->bo_defer), "Deferred list should be empty.");

	spin_lock_destroy(&gpuvm->extobj.lock);
	spin_lock_destroy(&gpuvm->evict.lock);
	drm_gem_object_put(gpuvm->r_obj);
}

static void drm_gpuvm_free(struct kref *kref)
{
	struct drm_gpuvm *gpuvm = container_of(kref, struct drm_gpuvm, kref);
	/* Both are read first: vm_free() releases the memory holding them. */
	struct drm_device *drm = gpuvm->drm;
	const struct drm_gpuvm_ops *ops = gpuvm->ops;

	drm_gpuvm_fini(gpuvm);

	/* Without vm_free the VM (and the device reference) leak, as in the kernel. */
	if (WARN(!ops || !ops->vm_free, "drm_gpuvm_ops.vm_free is missing: VM leaked"))
		return;

	ops->vm_free(gpuvm);
	drm_dev_put(drm);
}

void drm_gpuvm_put(struct drm_gpuvm *gpuvm)
{
	if (gpuvm)
		kref_put(&gpuvm->kref, drm_gpuvm_free);
}

bool drm_gpuvm_range_valid(struct drm_gpuvm *gpuvm, u64 addr, u64 range)
{
	return gpuvm_range_valid(gpuvm, addr, range);
}

struct drm_gem_object *drm_gpuvm_resv_object_alloc(struct drm_device *drm)
{
	return drm_gem_object_create(drm, 0, NULL);
}

int drm_gpuva_insert(struct drm_gpuvm *gpuvm, struct drm_gpuva *va)
{
	u64 addr = va->va.addr;
	u64 range = va->va.range;

	if (unlikely(!gpuvm_range_valid(gpuvm, addr, range)))
		return -EINVAL;

	if (likely(range)) {
		/* The check below and the insertion, in one descent. */
		struct drm_gpuva *next;

		if (gpuva_it_insert_checked_spine(&gpuvm->rb.tree, &gpuvm->rb_spine, va, &next))
			return -EEXIST;
		drm_gpuva_list_add(gpuvm, va, next);
	} else {
		/*
		 * Any node meeting [addr, addr + range - 1], the reserved one
		 * included. For range 0 that is the query [addr, addr - 1]:
		 * only a node spanning across addr blocks it, as in the kernel.
		 */
		if (gpuva_it_iter_first(&gpuvm->rb.tree, addr, addr + range - 1))
			return -EEXIST;
		__drm_gpuva_insert(gpuvm, va);
	}
	drm_gpuvm_get(gpuvm);
	return 0;
}

/*
 * Why the conditions below suffice. Every insert keeps this invariant (I):
 * no VA of range >= 1 has a VA before it (in address order) whose last byte
 * reaches its start (drm_gpuva_insert() refuses exactly such a VA, and the
 * reserved node goes into an empty tree). @new lies within @old, which has
 * range >= 1, so once @old is gone every VA before it still ends before
 * @new's start; insertion then stops at the first VA after @old, which
 * reaches @new's start as it starts after it, and fails only if that one
 * starts within @new. Starting after @new's last byte, it also keeps @new
 * in @old's place: after every VA starting at or below @new's start.
 */
bool __drm_gpuva_replace(struct drm_gpuva *old, struct drm_gpuva *new)
{
	struct drm_gpuvm *gpuvm = old->vm;
	const u64 addr = new->va.addr;
	const u64 range = new->va.range;
	struct drm_gpuva *next;

	/* What drm_gpuva_remove() would WARN about: leave it to the slow path. */
	if (!gpuvm || !old->rb.entry.next || list_empty(&old->rb.entry) ||
	    old == &gpuvm->kernel_alloc_node)
		return false;
	/*
	 * @new within @old (@old's end does not overflow), not empty. Then
	 * @new is a valid range too: @old got into the tree through a check
	 * of its own (drm_gpuva_insert(), or these fast paths), and neither
	 * the VM's window nor its reserved node ever changes.
	 */
	if (!range || addr < old->va.addr || range > old->va.range ||
	    addr - old->va.addr > old->va.range - range)
		return false;
	next = __drm_gpuva_next(old);
	if (next && next->va.addr <= addr + range - 1)
		return false;

	gpuva_it_replace(&gpuvm->rb.tree, old, new);
	new->vm = gpuvm;
	/* @new takes @old's list slot; @old ends up as after drm_gpuva_remove(). */
	list_add(&new->rb.entry, &old->rb.entry);
	list_del_init(&old->rb.entry);
	return true;
}

/*
 * Same argument as above, with (I) applied to @prev (range >= 1): every VA
 * before it ends before its start, @prev itself ends before @va starts, and
 * the VA after it starts after @va's last byte, so drm_gpuva_insert() would
 * succeed and put @va right after @prev.
 */
bool __drm_gpuva_insert_after(struct drm_gpuvm *gpuvm, struct drm_gpuva *prev,
			      struct drm_gpuva *va)
{
	const u64 addr = va->va.addr;
	const u64 range = va->va.range;
	struct drm_gpuva *next;

	if (!prev || prev->vm != gpuvm || !prev->rb.entry.next || list_empty(&prev->rb.entry))
		return false;
	if (!range || !prev->va.range || prev->va.addr + prev->va.range > addr)
		return false;
	if (!gpuvm_range_valid(gpuvm, addr, range))
		return false;
	next = __drm_gpuva_next(prev);
	if (next && next->va.addr <= addr + range - 1)
		return false;

	gpuva_it_insert_after(&gpuvm->rb.tree, prev, va);
	va->vm = gpuvm;
	list_add(&va->rb.entry, &prev->rb.entry);
	drm_gpuvm_get(gpuvm);
	return true;
}

void drm_gpuva_remove(struct drm_gpuva *va)
{
	struct drm_gpuvm *gpuvm = va->vm;

	/*
	 * Ours: an inserted VA is always on its VM's list, a removed one points
	 * at itself. Removing twice would corrupt the tree; the kernel does not
	 * check.
	 */
	if (WARN(!gpuvm || !va->rb.entry.next || list_empty(&va->rb.entry),
		 "removing a GPUVA that is not in a VM"))
		return;

	if (unlikely(va == &gpuvm->kernel_alloc_node)) {
		WARN(1, "Can't destroy kernel reserved node.");
		return;
	}

	__drm_gpuva_remove(va);
	drm_gpuvm_put(gpuvm);
}

struct drm_gpuva *drm_gpuva_find_first(struct drm_gpuvm *gpuvm, u64 addr, u64 range)
{
	/* No validation: the last byte simply wraps, as in the kernel. */
	return gpuva_it_iter_first(&gpuvm->rb.tree, addr, addr + range - 1);
}

struct drm_gpuva *drm_gpuva_find(struct drm_gpuvm *gpuvm, u64 addr, u64 range)
{
	struct drm_gpuva *va = drm_gpuva_find_first(gpuvm, addr, range);

	if (!va || va->va.addr != addr || va->va.range != range)
		return NULL;
	return va;
}

/*
 * Probes the two bytes [start - 1, start]: a VA covering start - 1 is the
 * neighbour, but lacking one a VA starting at @start is returned too.
 */
struct drm_gpuva *drm_gpuva_find_prev(struct drm_gpuvm *gpuvm, u64 start)
{
	if (!drm_gpuvm_range_valid(gpuvm, start - 1, 1))
		return NULL;
	return gpuva_it_iter_first(&gpuvm->rb.tree, start - 1, start);
}

/* Probes [end, end + 1]: may return a VA starting at end + 1 (not adjacent). */
struct drm_gpuva *drm_gpuva_find_next(struct drm_gpuvm *gpuvm, u64 end)
{
	if (!drm_gpuvm_range_valid(gpuvm, end, 1))
		return NULL;
	return gpuva_it_iter_first(&gpuvm->rb.tree, end, end + 1);
}

bool drm_gpuvm_interval_empty(struct drm_gpuvm *gpuvm, u64 addr, u64 range)
{
	/* The reserved node is in the tree, so it counts as occupied. */
	return !drm_gpuva_find_first(gpuvm, addr, range);
}
