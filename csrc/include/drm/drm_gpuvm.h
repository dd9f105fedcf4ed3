/* SPDX-License-Identifier: MIT */
/*
 * pygpuvm: a userspace implementation of the Linux kernel's DRM GPU VA manager
 * (drm_gpuvm) with the kernel's names, types and semantics.
 *
 * Differences from the kernel, all deliberate (docs/design.md):
 *  - every function that touches a GEM's vm_bo list comes in a _locked form
 *    (caller holds the GEM's gpuva lock, today's kernel semantics) and a plain
 *    form that takes that lock itself and drops references only after
 *    unlocking; drm_gpuvm_compat.h maps the kernel's names to the _locked forms;
 *  - kernel bugs are not reproduced: the reserved node is only removed if it
 *    was inserted, half-built remap ops are freed whole, the per-vm_bo VA
 *    iterators use their argument, drm_gpuvm_exec_lock_array() leaves no
 *    dangling pointer behind;
 *  - macros that the kernel writes with typeof take no extra arguments here
 *    because their element types are fixed.
 */
#ifndef PYGPUVM_DRM_GPUVM_H
#define PYGPUVM_DRM_GPUVM_H

#include "drm/drm_device.h"
#include "drm/drm_exec.h"
#include "drm/drm_gem.h"
#include "linux/bug.h"
#include "linux/dma-resv.h"
#include "linux/err.h"
#include "linux/kref.h"
#include "linux/list.h"
#include "linux/llist.h"
#include "linux/mutex.h"
#include "linux/rbtree_types.h"
#include "linux/types.h"

struct drm_gpuvm;
struct drm_gpuvm_bo;
struct drm_gpuvm_ops;

/* ---------------------------------------------------------------- drm_gpuva */

enum drm_gpuva_flags {
	DRM_GPUVA_INVALIDATED = (1 << 0),
	DRM_GPUVA_SPARSE = (1 << 1),
	DRM_GPUVA_USERBITS = (1 << 2),
};

/*
 * One mapping; embeddable in a driver structure. 120 bytes on 64-bit.
 * Same members as the kernel's, in another order: a tree descent reads only
 * va and rb, which fill the first 64 bytes, so a 64-byte aligned VA costs one
 * cache line per visited node (the kernel's order spreads them over two).
 */
struct drm_gpuva {
	struct {
		u64 addr;
		u64 range;
	} va;
	struct {
		struct rb_node node;    /* interval tree node */
		u64 __subtree_last;     /* max inclusive end in this subtree */
		struct list_head entry; /* address-ordered list */
	} rb;
	struct drm_gpuvm *vm;       /* set by insert, kept after remove */
	struct drm_gpuvm_bo *vm_bo; /* counted, set by link, cleared by unlink */
	enum drm_gpuva_flags flags;
	struct {
		u64 offset;
		struct drm_gem_object *obj; /* no reference held by the VA */
		struct list_head entry;     /* in vm_bo->list.gpuva */
	} gem;
};

/**
 * drm_gpuva_insert() - insert a VA into a VM's tree
 * @gpuvm: the VM
 * @va: the VA; va.addr, va.range and gem.* set, its lists initialised
 *
 * Puts @va into the interval tree and the address-ordered list of @gpuvm,
 * sets @va->vm and takes a reference on @gpuvm that drm_gpuva_remove() drops.
 * A zero-sized VA at addr is the interval [addr, addr - 1]: only a VA
 * strictly containing addr blocks it, and walks starting at addr do not see
 * it. The VA is not linked to any vm_bo (see drm_gpuva_link()).
 *
 * Locking: the caller serialises every change of the VA tree (typically with
 * the VM's resv or a driver lock); gpuvm takes no lock of its own here.
 *
 * Returns: 0, -EINVAL if the range is not valid (drm_gpuvm_range_valid()), or
 * -EEXIST if it overlaps a VA already in the tree (the reserved node
 * included). On error nothing changes.
 */
int drm_gpuva_insert(struct drm_gpuvm *gpuvm, struct drm_gpuva *va);
/**
 * drm_gpuva_remove() - take a VA out of its VM's tree
 * @va: a VA inserted with drm_gpuva_insert()
 *
 * Removes @va from the tree and the address list and drops the VM reference
 * the insert took (which may free the VM). @va->vm is left set, so an unlink
 * after the remove still works. The VA stays linked to its vm_bo.
 *
 * Ours: removing a VA that is not in a VM WARNs and does nothing (the kernel
 * would corrupt the tree); removing the reserved node WARNs, as in the kernel.
 *
 * Locking: as drm_gpuva_insert().
 */
void drm_gpuva_remove(struct drm_gpuva *va);

/**
 * drm_gpuva_link_locked() - link a VA to its vm_bo
 * @va: the VA; does nothing if it has no GEM object
 * @vm_bo: the vm_bo of @va's GEM in @va's VM
 *
 * Appends @va to @vm_bo's list of VAs (the list is in link order) and takes
 * a reference on @vm_bo, kept until the unlink. WARNs if @vm_bo belongs to a
 * different GEM. Can be called before the VA is inserted.
 *
 * Locking: the caller holds the GEM's gpuva lock (asserted): its resv in
 * staged mode, its gpuva.lock mutex in immediate mode.
 */
void drm_gpuva_link_locked(struct drm_gpuva *va, struct drm_gpuvm_bo *vm_bo);
/**
 * drm_gpuva_link() - link a VA to its vm_bo, taking the GEM's gpuva lock
 * @va: the VA; does nothing if it has no GEM object
 * @vm_bo: the vm_bo of @va's GEM in @va's VM
 *
 * drm_gpuva_link_locked() under the GEM's gpuva lock, which this function
 * takes unless the calling thread already holds it. Local addition: the
 * kernel's drm_gpuva_link() is the _locked form (see drm_gpuvm_compat.h).
 */
void drm_gpuva_link(struct drm_gpuva *va, struct drm_gpuvm_bo *vm_bo);
/**
 * drm_gpuva_unlink_locked() - unlink a VA from its vm_bo
 * @va: the VA; does nothing if it has no GEM object
 *
 * Removes @va from its vm_bo's list, clears @va->vm_bo and drops the
 * reference the link took. If that was the last one the vm_bo is destroyed:
 * taken off the GEM's and the VM's lists, freed, and its VM and GEM
 * references dropped, which may free the GEM whose lock the caller holds
 * (the stand-in GEM aborts with a diagnosis if its lock is held when it is
 * freed). A GEM-backed VA that was never linked is left as it is.
 *
 * Locking: the caller holds the GEM's gpuva lock (asserted), and the VM's
 * resv if the VM is %DRM_GPUVM_RESV_PROTECTED and this may be the last
 * reference.
 */
void drm_gpuva_unlink_locked(struct drm_gpuva *va);
/**
 * drm_gpuva_unlink() - unlink a VA, taking the locks it needs
 * @va: the VA; does nothing if it has no GEM object
 *
 * drm_gpuva_unlink_locked() with the GEM's gpuva lock taken internally
 * (unless already held by this thread) and, for a last reference of a
 * %DRM_GPUVM_RESV_PROTECTED VM, the VM's resv too. A destroyed vm_bo is freed
 * and its references dropped only after the locks are released, so the
 * caller need not keep the GEM alive around the call. Local addition (see
 * drm_gpuvm_compat.h for the kernel's name).
 */
void drm_gpuva_unlink(struct drm_gpuva *va);
/**
 * drm_gpuva_unlink_defer() - unlink a VA, deferring the vm_bo's destruction
 * @va: the VA; does nothing if it has no GEM object
 *
 * For %DRM_GPUVM_IMMEDIATE_MODE VMs, where a VA may be unlinked in a path
 * that must not free memory or take the VM's resv (e.g. the fence
 * signalling path). If the reference dropped is the vm_bo's last, the vm_bo
 * becomes a zombie on the VM's deferred list; drm_gpuvm_bo_deferred_cleanup()
 * finishes its destruction.
 *
 * Locking: takes the GEM's gpuva mutex itself; WARNs if the caller holds it,
 * or if the VM is not in immediate mode.
 */
void drm_gpuva_unlink_defer(struct drm_gpuva *va);

/**
 * drm_gpuva_find() - find the VA with exactly this range
 * @gpuvm: the VM
 * @addr: start address
 * @range: length
 *
 * Returns: the VA starting at @addr with length @range, or NULL. Only the
 * first VA overlapping the range is compared, as in the kernel.
 *
 * Locking: the caller keeps the tree from changing during the call.
 */
struct drm_gpuva *drm_gpuva_find(struct drm_gpuvm *gpuvm, u64 addr, u64 range);
/**
 * drm_gpuva_find_first() - first VA overlapping a range
 * @gpuvm: the VM
 * @addr: start address
 * @range: length
 *
 * The range is not validated: its last byte is @addr + @range - 1 modulo
 * 2^64, so a zero @range queries [@addr, @addr - 1], as in the kernel. The
 * reserved node is found like any other VA.
 *
 * Returns: the lowest VA whose interval meets the range, or NULL.
 *
 * Locking: as drm_gpuva_find().
 */
struct drm_gpuva *drm_gpuva_find_first(struct drm_gpuvm *gpuvm, u64 addr, u64 range);
/**
 * drm_gpuva_find_prev() - the VA ending right before an address
 * @gpuvm: the VM
 * @start: the address
 *
 * Looks for a VA covering @start - 1. As in the kernel, the probe is the
 * two bytes [@start - 1, @start], so lacking such a VA one starting at
 * @start is returned instead.
 *
 * Returns: that VA, or NULL (also when [@start - 1, @start) is not a valid
 * range of the VM).
 *
 * Locking: as drm_gpuva_find().
 */
struct drm_gpuva *drm_gpuva_find_prev(struct drm_gpuvm *gpuvm, u64 start);
/**
 * drm_gpuva_find_next() - the VA starting at an address
 * @gpuvm: the VM
 * @end: the address (the end of the caller's range)
 *
 * Looks for a VA covering @end. As in the kernel, the probe is
 * [@end, @end + 1], so a VA starting at @end + 1 (not adjacent) can be
 * returned too.
 *
 * Returns: that VA, or NULL (also when [@end, @end + 1) is not a valid range
 * of the VM).
 *
 * Locking: as drm_gpuva_find().
 */
struct drm_gpuva *drm_gpuva_find_next(struct drm_gpuvm *gpuvm, u64 end);

/**
 * drm_gpuva_init_lists() - make a fresh VA's list nodes valid
 * @va: the VA
 *
 * Local addition. The kernel relies on zeroed VAs; after this call
 * link/unlink/remove can be called on @va before it was inserted without
 * following garbage pointers.
 */
static inline void drm_gpuva_init_lists(struct drm_gpuva *va)
{
	INIT_LIST_HEAD(&va->gem.entry);
	INIT_LIST_HEAD(&va->rb.entry);
}

/**
 * drm_gpuva_invalidate() - set or clear a VA's %DRM_GPUVA_INVALIDATED flag
 * @va: the VA
 * @invalidate: the new state
 *
 * The flag is for the driver (e.g. "backing evicted"); gpuvm only stores it.
 */
static inline void drm_gpuva_invalidate(struct drm_gpuva *va, bool invalidate)
{
	if (invalidate)
		va->flags |= DRM_GPUVA_INVALIDATED;
	else
		va->flags &= ~DRM_GPUVA_INVALIDATED;
}

/**
 * drm_gpuva_invalidated() - whether %DRM_GPUVA_INVALIDATED is set
 * @va: the VA
 */
static inline bool drm_gpuva_invalidated(struct drm_gpuva *va)
{
	return va->flags & DRM_GPUVA_INVALIDATED;
}

/* ---------------------------------------------------------------- drm_gpuvm */

enum drm_gpuvm_flags {
	DRM_GPUVM_RESV_PROTECTED = BIT(0),
	DRM_GPUVM_IMMEDIATE_MODE = BIT(1),
	DRM_GPUVM_USERBITS = BIT(2),
};

/* A red-black tree of n < 2^64 nodes is at most 128 levels deep. */
#define GPUVA_IT_SPINE_MAX 128

struct drm_gpuvm {
	const char *name;
	enum drm_gpuvm_flags flags;
	struct drm_device *drm; /* counted */
	u64 mm_start;
	u64 mm_range;
	struct {
		struct rb_root_cached tree;
		struct list_head list;
	} rb;
	struct kref kref;
	struct drm_gpuva kernel_alloc_node;
	/* Ours: the reserved node is in the tree (not if its end overflowed). */
	bool kernel_alloc_node_inserted;
	const struct drm_gpuvm_ops *ops;
	struct drm_gem_object *r_obj; /* counted; its resv is the VM's resv */
	struct {
		struct list_head list;
		struct list_head *local_list;
		spinlock_t lock;
	} extobj;
	struct {
		struct list_head list;
		struct list_head *local_list;
		spinlock_t lock;
	} evict;
	struct llist_head bo_defer;
	/*
	 * Ours, private to the core (csrc/lib/interval_tree.c): the right
	 * spine of the VA tree as last seen, root first, checked against the
	 * tree before each use. Address-ordered inserts update the spine's
	 * maxima from it instead of walking down pointer by pointer.
	 */
	struct gpuva_it_spine {
		unsigned int len;
		unsigned int walk; /* spines shorter than this are walked */
		uintptr_t node[GPUVA_IT_SPINE_MAX];
	} rb_spine;
};

/**
 * drm_gpuvm_init() - initialise a VM
 * @gpuvm: the VM, embedded in a driver structure
 * @name: a name for diagnostics; NULL becomes "unknown"
 * @flags: %DRM_GPUVM_RESV_PROTECTED, %DRM_GPUVM_IMMEDIATE_MODE, driver bits
 * @drm: the device, referenced until the VM is freed (may be NULL)
 * @r_obj: the object whose resv is the VM's resv (drm_gpuvm_resv_object_alloc())
 * @start_offset: start of the managed range
 * @range: length of the managed range
 * @reserve_offset: start of the range reserved for the kernel
 * @reserve_range: its length; 0 for none
 *
 * The VM starts with one reference. A reference on @r_obj is taken (ours: a
 * NULL @r_obj WARNs instead of crashing). When @start_offset + @range or
 * @reserve_offset + @reserve_range overflows, a WARN "GPUVA address limited
 * to 8 bytes." is raised for each, as in the kernel; a reserved range whose
 * end overflows is not put into the tree but still makes requests touching
 * it invalid. @ops->vm_free must be set for the VM ever to be freed.
 */
void drm_gpuvm_init(struct drm_gpuvm *gpuvm, const char *name, enum drm_gpuvm_flags flags,
		    struct drm_device *drm, struct drm_gem_object *r_obj, u64 start_offset,
		    u64 range, u64 reserve_offset, u64 reserve_range,
		    const struct drm_gpuvm_ops *ops);

/**
 * drm_gpuvm_get() - take a reference on a VM
 * @gpuvm: the VM
 *
 * Returns: @gpuvm.
 */
static inline struct drm_gpuvm *drm_gpuvm_get(struct drm_gpuvm *gpuvm)
{
	kref_get(&gpuvm->kref);
	return gpuvm;
}

/**
 * drm_gpuvm_put() - drop a reference on a VM
 * @gpuvm: the VM, or NULL
 *
 * The last put removes the reserved node, WARNs if any VA, extobj, evict or
 * deferred vm_bo is left, drops the resv object, calls @ops->vm_free and then
 * drops the device. Without vm_free the VM is leaked (WARN), as in the
 * kernel. Every inserted VA and every vm_bo holds a reference, so the last
 * put comes after the VM is empty.
 */
void drm_gpuvm_put(struct drm_gpuvm *gpuvm);

/**
 * drm_gpuvm_range_valid() - whether a request range is valid for a VM
 * @gpuvm: the VM
 * @addr: start address
 * @range: length (0 is valid)
 *
 * Returns: true if @addr + @range does not overflow, the range lies within
 * the VM's managed range, and it does not overlap the reserved range
 * (touching its edges is fine; a zero-sized range overlaps it only when
 * strictly inside).
 */
bool drm_gpuvm_range_valid(struct drm_gpuvm *gpuvm, u64 addr, u64 range);
/**
 * drm_gpuvm_interval_empty() - whether no VA overlaps a range
 * @gpuvm: the VM
 * @addr: start address
 * @range: length, not validated (see drm_gpuva_find_first())
 *
 * Returns: true if drm_gpuva_find_first() finds nothing; the reserved node
 * counts as occupied.
 */
bool drm_gpuvm_interval_empty(struct drm_gpuvm *gpuvm, u64 addr, u64 range);
/**
 * drm_gpuvm_resv_object_alloc() - allocate a GEM object to carry a VM's resv
 * @drm: the device
 *
 * Returns: a new GEM object with its own resv and one reference (pass it to
 * drm_gpuvm_init(), which takes its own, then drop yours), or NULL on
 * allocation failure.
 */
struct drm_gem_object *drm_gpuvm_resv_object_alloc(struct drm_device *drm);

/**
 * drm_gpuvm_resv_protected() - whether the VM's resv protects its extobj/evict lists
 * @gpuvm: the VM
 *
 * Returns: true for %DRM_GPUVM_RESV_PROTECTED: the caller holds the VM's resv
 * around every list operation. Otherwise the lists have their own spinlocks.
 */
static inline bool drm_gpuvm_resv_protected(struct drm_gpuvm *gpuvm)
{
	return gpuvm->flags & DRM_GPUVM_RESV_PROTECTED;
}

/**
 * drm_gpuvm_immediate_mode() - whether the VM is in immediate mode
 * @gpuvm: the VM
 *
 * Returns: true for %DRM_GPUVM_IMMEDIATE_MODE: the VA tree is updated when
 * the GPU job runs (e.g. from the fence signalling path), so a GEM's vm_bo
 * list is protected by its gpuva.lock mutex rather than by its resv, and
 * vm_bos are created ahead (drm_gpuvm_bo_obtain_prealloc()) and destroyed
 * deferred (drm_gpuvm_bo_put_deferred()).
 */
static inline bool drm_gpuvm_immediate_mode(struct drm_gpuvm *gpuvm)
{
	return gpuvm->flags & DRM_GPUVM_IMMEDIATE_MODE;
}

/*
 * drm_gpuvm_resv() - the VM's dma_resv; drm_gpuvm_resv_obj() - the GEM object
 * carrying it; drm_gpuvm_resv_held() / drm_gpuvm_resv_assert_held() - whether
 * the calling thread holds it (the assert is a checked WARN here).
 */
#define drm_gpuvm_resv(gpuvm__) ((gpuvm__)->r_obj->resv)
#define drm_gpuvm_resv_obj(gpuvm__) ((gpuvm__)->r_obj)
#define drm_gpuvm_resv_held(gpuvm__) dma_resv_held(drm_gpuvm_resv(gpuvm__))
#define drm_gpuvm_resv_assert_held(gpuvm__) dma_resv_assert_held(drm_gpuvm_resv(gpuvm__))

/**
 * drm_gpuvm_is_extobj() - whether a GEM object is external to a VM
 * @gpuvm: the VM
 * @obj: the object, or NULL
 *
 * Returns: true if @obj is not NULL and does not share the VM's resv.
 */
static inline bool drm_gpuvm_is_extobj(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	return obj && obj->resv != drm_gpuvm_resv(gpuvm);
}

/**
 * drm_gem_gpuva_lock_held() - whether this thread holds a GEM's gpuva lock
 * @gpuvm: a VM whose mode decides which lock that is
 * @obj: the object
 *
 * Local addition (the kernel has only the lockdep assertion). The lock that
 * protects @obj's vm_bo list is @obj's gpuva.lock mutex for immediate-mode
 * VMs and @obj's resv otherwise.
 *
 * Returns: true if the calling thread holds it.
 */
static inline bool drm_gem_gpuva_lock_held(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	return drm_gpuvm_immediate_mode(gpuvm) ? mutex_held_by_me(&obj->gpuva.lock)
					       : dma_resv_held(obj->resv);
}

/* WARNs unless drm_gem_gpuva_lock_held(): our stand-in for the kernel's lockdep check. */
#define drm_gem_gpuva_assert_lock_held(gpuvm, obj) \
	gpuvm_lockdep_assert(drm_gem_gpuva_lock_held(gpuvm, obj), "GEM gpuva lock")

/* The VA after @va in address order, or NULL (also for a NULL @va). */
static inline struct drm_gpuva *__drm_gpuva_next(struct drm_gpuva *va)
{
	if (va && !list_is_last(&va->rb.entry, &va->vm->rb.list))
		return list_entry(va->rb.entry.next, struct drm_gpuva, rb.entry);
	return NULL;
}

/* Iterate VAs overlapping [start, end); not safe against removal. */
#define drm_gpuvm_for_each_va_range(va__, gpuvm__, start__, end__)                    \
	for ((va__) = drm_gpuva_find_first((gpuvm__), (start__), (end__) - (start__)); \
	     (va__) && (va__)->va.addr < (end__); (va__) = __drm_gpuva_next(va__))

/* Same, but the successor is fetched first, so the current VA may be removed. */
#define drm_gpuvm_for_each_va_range_safe(va__, next__, gpuvm__, start__, end__)         \
	for ((va__) = drm_gpuva_find_first((gpuvm__), (start__), (end__) - (start__)),  \
	    (next__) = __drm_gpuva_next(va__);                                          \
	     (va__) && (va__)->va.addr < (end__);                                       \
	     (va__) = (next__), (next__) = __drm_gpuva_next(va__))

/* Every VA of the VM in address order, the reserved node included. */
#define drm_gpuvm_for_each_va(va__, gpuvm__) \
	list_for_each_entry(va__, &(gpuvm__)->rb.list, rb.entry)
#define drm_gpuvm_for_each_va_safe(va__, next__, gpuvm__) \
	list_for_each_entry_safe(va__, next__, &(gpuvm__)->rb.list, rb.entry)

/* ------------------------------------------------------------- drm_gpuvm_bo */

/* The unique association of a VM and a GEM object. */
struct drm_gpuvm_bo {
	struct drm_gpuvm *vm;        /* counted */
	struct drm_gem_object *obj;  /* counted */
	bool evicted;                /* protected by obj's resv */
	struct kref kref;            /* 0: dead, possibly a zombie on extobj/evict */
	struct {
		struct list_head gpuva; /* linked VAs, link order */
		struct {
			struct list_head gem;
			struct list_head extobj;
			struct list_head evict;
			struct llist_node bo_defer;
		} entry;
	} list;
};

/**
 * drm_gpuvm_bo_create() - allocate a vm_bo
 * @gpuvm: the VM
 * @obj: the GEM object
 *
 * Allocates with @ops->vm_bo_alloc (or kzalloc) and takes a reference on
 * @gpuvm and on @obj. The new vm_bo has one reference and is on no list;
 * drm_gpuvm_bo_obtain*() put it on the GEM's list.
 *
 * Locking: none needed.
 *
 * Returns: the vm_bo, or NULL on allocation failure.
 */
struct drm_gpuvm_bo *drm_gpuvm_bo_create(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);

/**
 * drm_gpuvm_bo_get() - take a reference on a vm_bo
 * @vm_bo: the vm_bo, which must be alive (not at zero)
 *
 * Returns: @vm_bo.
 */
static inline struct drm_gpuvm_bo *drm_gpuvm_bo_get(struct drm_gpuvm_bo *vm_bo)
{
	kref_get(&vm_bo->kref);
	return vm_bo;
}

/**
 * drm_gpuvm_bo_put_locked() - drop a reference on a vm_bo
 * @vm_bo: the vm_bo, or NULL
 *
 * On the last reference the vm_bo is taken off the GEM's list and the VM's
 * extobj and evict lists, freed (@ops->vm_bo_free or kfree), and its VM and
 * GEM references are dropped, in that order; this may free the GEM whose
 * lock the caller holds.
 *
 * Locking: the caller holds the GEM's gpuva lock (asserted on a last put)
 * and, for a %DRM_GPUVM_RESV_PROTECTED VM, the VM's resv.
 *
 * Returns: true if the vm_bo was destroyed.
 */
bool drm_gpuvm_bo_put_locked(struct drm_gpuvm_bo *vm_bo);
/**
 * drm_gpuvm_bo_put() - drop a reference on a vm_bo, taking the locks it needs
 * @vm_bo: the vm_bo, or NULL
 *
 * A reference that is not the last is dropped without any lock. For the
 * last, the GEM's gpuva lock (and the VM's resv in RESV_PROTECTED mode) are
 * taken unless already held, two resvs together with wait/die back-off; the
 * memory and the references are released after unlocking. Local addition
 * (see drm_gpuvm_compat.h).
 *
 * Returns: true if the vm_bo was destroyed.
 */
bool drm_gpuvm_bo_put(struct drm_gpuvm_bo *vm_bo);
/**
 * drm_gpuvm_bo_put_deferred() - drop a reference, deferring the destruction
 * @vm_bo: the vm_bo, or NULL
 *
 * Immediate mode only (WARN otherwise). On the last reference the vm_bo is
 * taken off the GEM's list and queued on the VM's deferred list as a zombie
 * (in RESV_PROTECTED mode it may stay on the extobj/evict lists, whose
 * walkers skip it); drm_gpuvm_bo_deferred_cleanup() frees it.
 *
 * Locking: takes the GEM's gpuva mutex itself; WARNs if the caller holds it.
 *
 * Returns: true if this was the last reference.
 */
bool drm_gpuvm_bo_put_deferred(struct drm_gpuvm_bo *vm_bo);
/**
 * drm_gpuvm_bo_deferred_cleanup() - free the vm_bos queued by the deferred puts
 * @gpuvm: the VM
 *
 * Takes every queued zombie off the extobj/evict lists (under the VM's resv
 * in RESV_PROTECTED mode, taken here unless held) and frees it, dropping its
 * VM and GEM references; the last of them may free the VM. Call it from a
 * context that may free memory.
 */
void drm_gpuvm_bo_deferred_cleanup(struct drm_gpuvm *gpuvm);

/**
 * drm_gpuvm_bo_find_locked() - a GEM's vm_bo in a VM
 * @gpuvm: the VM
 * @obj: the GEM object
 *
 * Locking: the caller holds @obj's gpuva lock (asserted).
 *
 * Returns: the vm_bo with a new reference, or NULL if @obj has none in @gpuvm.
 */
struct drm_gpuvm_bo *drm_gpuvm_bo_find_locked(struct drm_gpuvm *gpuvm,
					      struct drm_gem_object *obj);
/**
 * drm_gpuvm_bo_find() - drm_gpuvm_bo_find_locked() taking the gpuva lock
 * @gpuvm: the VM
 * @obj: the GEM object
 *
 * Local addition (see drm_gpuvm_compat.h). The lock is taken unless this
 * thread already holds it.
 *
 * Returns: the vm_bo with a new reference, or NULL.
 */
struct drm_gpuvm_bo *drm_gpuvm_bo_find(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);
/**
 * drm_gpuvm_bo_obtain_locked() - find a GEM's vm_bo in a VM, or create it
 * @gpuvm: the VM
 * @obj: the GEM object
 *
 * A new vm_bo is added to @obj's list; it is not put on the extobj list
 * (drm_gpuvm_bo_extobj_add()). Allocates under the lock, so it WARNs for an
 * immediate-mode VM (use drm_gpuvm_bo_obtain_prealloc() there).
 *
 * Locking: the caller holds @obj's gpuva lock (asserted).
 *
 * Returns: the vm_bo with a reference for the caller, or ERR_PTR(-ENOMEM).
 */
struct drm_gpuvm_bo *drm_gpuvm_bo_obtain_locked(struct drm_gpuvm *gpuvm,
						struct drm_gem_object *obj);
/**
 * drm_gpuvm_bo_obtain() - find or create a vm_bo, taking the gpuva lock
 * @gpuvm: the VM
 * @obj: the GEM object
 *
 * Like drm_gpuvm_bo_obtain_locked(), but takes @obj's gpuva lock itself and
 * allocates outside it; if another thread created the vm_bo meanwhile, that
 * one is returned and the new one freed.
 *
 * Returns: the vm_bo with a reference for the caller, or ERR_PTR(-ENOMEM).
 */
struct drm_gpuvm_bo *drm_gpuvm_bo_obtain(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);
/**
 * drm_gpuvm_bo_obtain_prealloc() - insert a preallocated vm_bo, or use the existing one
 * @vm_bo: a fresh vm_bo from drm_gpuvm_bo_create() (one reference, on no list)
 *
 * For immediate-mode VMs (WARN otherwise), where nothing may be allocated
 * under the gpuva mutex. If the GEM already has a vm_bo in the VM, @vm_bo is
 * freed (after unlocking) and the existing one returned with a reference;
 * otherwise @vm_bo goes on the GEM's list. The caller's reference on @vm_bo
 * is consumed either way.
 *
 * Locking: takes the GEM's gpuva lock itself unless held.
 *
 * Returns: the vm_bo to use; never fails.
 */
struct drm_gpuvm_bo *drm_gpuvm_bo_obtain_prealloc(struct drm_gpuvm_bo *vm_bo);

/**
 * drm_gpuvm_bo_extobj_add() - put a vm_bo on its VM's extobj list
 * @vm_bo: the vm_bo
 *
 * Does nothing unless the GEM is external (drm_gpuvm_is_extobj()) or when
 * the vm_bo is on the list already. The extobj list is what
 * drm_gpuvm_prepare_objects() locks.
 *
 * Locking: the VM's resv (asserted) in RESV_PROTECTED mode, otherwise the
 * list's own spinlock, taken here.
 */
void drm_gpuvm_bo_extobj_add(struct drm_gpuvm_bo *vm_bo);
/**
 * drm_gpuvm_bo_evict() - mark a vm_bo evicted or valid
 * @vm_bo: the vm_bo
 * @evict: true when the GEM's backing was evicted, false once it is valid again
 *
 * Sets @vm_bo->evicted and adds the vm_bo to (or removes it from) the VM's
 * evict list, which drm_gpuvm_validate() walks. For an external object in a
 * RESV_PROTECTED VM the caller does not hold the list's lock (the VM's resv),
 * so only the flag is set; drm_gpuvm_prepare_objects() moves it to the list.
 *
 * Locking: the caller holds the GEM's resv (asserted).
 */
void drm_gpuvm_bo_evict(struct drm_gpuvm_bo *vm_bo, bool evict);
/**
 * drm_gpuvm_bo_gem_evict_locked() - drm_gpuvm_bo_evict() on every vm_bo of a GEM
 * @obj: the GEM object
 * @evict: as for drm_gpuvm_bo_evict()
 *
 * Locking: the caller holds @obj's resv and its gpuva lock (both asserted).
 */
void drm_gpuvm_bo_gem_evict_locked(struct drm_gem_object *obj, bool evict);
/**
 * drm_gpuvm_bo_gem_evict() - drm_gpuvm_bo_gem_evict_locked() taking the locks
 * @obj: the GEM object
 * @evict: as for drm_gpuvm_bo_evict()
 *
 * Local addition. Takes @obj's resv and then its gpuva mutex (which of the
 * two guards the list depends on the VMs' modes), each unless already held.
 */
void drm_gpuvm_bo_gem_evict(struct drm_gem_object *obj, bool evict);

/* Per-vm_bo VA iteration (caller holds the GEM's gpuva lock). */
#define drm_gpuvm_bo_for_each_va(va__, vm_bo__) \
	list_for_each_entry(va__, &(vm_bo__)->list.gpuva, gem.entry)
#define drm_gpuvm_bo_for_each_va_safe(va__, next__, vm_bo__)                             \
	list_for_each_entry_safe(va__, next__, &(vm_bo__)->list.gpuva, \
				 gem.entry)

/* ------------------------------------------------------------------- ops */

enum drm_gpuva_op_type {
	DRM_GPUVA_OP_MAP,
	DRM_GPUVA_OP_REMAP,
	DRM_GPUVA_OP_UNMAP,
	DRM_GPUVA_OP_PREFETCH,
	DRM_GPUVA_OP_DRIVER,
};

struct drm_gpuva_op_map {
	struct {
		u64 addr;
		u64 range;
	} va;
	struct {
		u64 offset;
		struct drm_gem_object *obj;
	} gem;
};

struct drm_gpuva_op_unmap {
	struct drm_gpuva *va;
	bool keep;
};

struct drm_gpuva_op_remap {
	struct drm_gpuva_op_map *prev; /* NULL if nothing is left before */
	struct drm_gpuva_op_map *next; /* NULL if nothing is left after */
	struct drm_gpuva_op_unmap *unmap;
};

struct drm_gpuva_op_prefetch {
	struct drm_gpuva *va;
};

struct drm_gpuva_op {
	struct list_head entry;
	enum drm_gpuva_op_type op;
	union {
		struct drm_gpuva_op_map map;
		struct drm_gpuva_op_remap remap;
		struct drm_gpuva_op_unmap unmap;
		struct drm_gpuva_op_prefetch prefetch;
	};
};

struct drm_gpuva_ops {
	struct list_head list;
};

struct drm_gpuvm_map_req {
	struct drm_gpuva_op_map map;
};

#define drm_gpuva_for_each_op(op, ops) \
	list_for_each_entry(op, &(ops)->list, entry)
#define drm_gpuva_for_each_op_safe(op, next, ops) \
	list_for_each_entry_safe(op, next, &(ops)->list, entry)
/* Walk backwards from @op (inclusive) to the first op. */
#define drm_gpuva_for_each_op_from_reverse(op, ops)                          \
	for (; &(op)->entry != &(ops)->list;                                 \
	     (op) = list_entry((op)->entry.prev, struct drm_gpuva_op, entry))
#define drm_gpuva_for_each_op_reverse(op, ops) \
	list_for_each_entry_reverse(op, &(ops)->list, entry)
#define drm_gpuva_first_op(ops) list_first_entry(&(ops)->list, struct drm_gpuva_op, entry)
#define drm_gpuva_last_op(ops) list_last_entry(&(ops)->list, struct drm_gpuva_op, entry)
#define drm_gpuva_prev_op(op) list_entry((op)->entry.prev, struct drm_gpuva_op, entry)
#define drm_gpuva_next_op(op) list_entry((op)->entry.next, struct drm_gpuva_op, entry)

/**
 * drm_gpuvm_sm_map_ops_create() - the ops that map a range
 * @gpuvm: the VM
 * @req: the request: range, GEM object (NULL: sparse) and offset
 *
 * Walks the VAs the request overlaps and builds the split/merge steps that
 * make room for it: an UNMAP for each VA the request covers entirely, a
 * REMAP (with the surviving prev and/or next piece) for each VA it covers
 * partly, and finally the MAP of the request. An UNMAP or REMAP has keep set
 * when the old VA is backed by the same GEM at the matching offset, so a
 * driver may keep its page tables. Nothing is merged and nothing is applied:
 * the caller applies the ops (drm_gpuva_map(), drm_gpuva_remap(),
 * drm_gpuva_unmap()) or discards them. docs/trace-format.md states the walk
 * and the keep rule precisely.
 *
 * Locking: the tree must not change between this call and the application
 * or drm_gpuva_ops_free() of the list; the REMAP and UNMAP ops point at
 * existing VAs.
 *
 * Returns: the list, ERR_PTR(-EINVAL) if the request is not a valid range
 * (drm_gpuvm_range_valid()), or ERR_PTR(-ENOMEM).
 */
struct drm_gpuva_ops *drm_gpuvm_sm_map_ops_create(struct drm_gpuvm *gpuvm,
						  const struct drm_gpuvm_map_req *req);
/**
 * drm_gpuvm_madvise_ops_create() - the ops that split a range for a memory-attribute change
 * @gpuvm: the VM
 * @req: the request
 *
 * The madvise variant of drm_gpuvm_sm_map_ops_create(): GEM-backed VAs are
 * left alone and GEM-less VAs are only split. A GEM-less VA the request
 * overlaps partly gets a REMAP, and the split-off part inside the request a
 * MAP; VAs inside the request get no op.
 *
 * Locking and returns: as drm_gpuvm_sm_map_ops_create().
 */
struct drm_gpuva_ops *drm_gpuvm_madvise_ops_create(struct drm_gpuvm *gpuvm,
						   const struct drm_gpuvm_map_req *req);
/**
 * drm_gpuvm_sm_unmap_ops_create() - the ops that unmap a range
 * @gpuvm: the VM
 * @req_addr: start of the range
 * @req_range: its length
 *
 * An UNMAP for each VA inside the range and a REMAP for each VA it overlaps
 * partly; keep is always false.
 *
 * Locking: as drm_gpuvm_sm_map_ops_create().
 *
 * Returns: the list, ERR_PTR(-EINVAL) for an invalid range, or
 * ERR_PTR(-ENOMEM).
 */
struct drm_gpuva_ops *drm_gpuvm_sm_unmap_ops_create(struct drm_gpuvm *gpuvm, u64 req_addr,
						    u64 req_range);
/**
 * drm_gpuvm_prefetch_ops_create() - a PREFETCH op for each VA of a range
 * @gpuvm: the VM
 * @addr: start of the range
 * @range: its length
 *
 * The range is not validated, as in the kernel: an overflowing or
 * zero-sized range is walked as it is, and the reserved node is included.
 *
 * Returns: the list (possibly empty) or ERR_PTR(-ENOMEM).
 */
struct drm_gpuva_ops *drm_gpuvm_prefetch_ops_create(struct drm_gpuvm *gpuvm, u64 addr,
						    u64 range);
/**
 * drm_gpuvm_bo_unmap_ops_create_locked() - an UNMAP op for each VA of a vm_bo
 * @vm_bo: the vm_bo
 *
 * In the vm_bo's list order (link order), keep false.
 *
 * Locking: the caller holds the GEM's gpuva lock (asserted); the tree must
 * not change until the list is applied or freed.
 *
 * Returns: the list or ERR_PTR(-ENOMEM).
 */
struct drm_gpuva_ops *drm_gpuvm_bo_unmap_ops_create_locked(struct drm_gpuvm_bo *vm_bo);
/**
 * drm_gpuvm_bo_unmap_ops_create() - the same, taking the gpuva lock
 * @vm_bo: the vm_bo
 *
 * Local addition (see drm_gpuvm_compat.h): takes the GEM's gpuva lock
 * unless held.
 *
 * Returns: the list or ERR_PTR(-ENOMEM).
 */
struct drm_gpuva_ops *drm_gpuvm_bo_unmap_ops_create(struct drm_gpuvm_bo *vm_bo);
/**
 * drm_gpuva_ops_free() - free an ops list
 * @gpuvm: the VM the list was built for
 * @ops: the list, or NULL
 *
 * Frees every op (through @ops->op_free when the driver allocates ops) and
 * the list. The VAs the ops point at are not touched.
 */
void drm_gpuva_ops_free(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops);

/**
 * drm_gpuva_init_from_op() - copy an op's range, GEM and offset into a VA
 * @va: the VA
 * @op: the map piece
 *
 * The flags and everything else of @va are left as they are.
 */
static inline void drm_gpuva_init_from_op(struct drm_gpuva *va, const struct drm_gpuva_op_map *op)
{
	va->va.addr = op->va.addr;
	va->va.range = op->va.range;
	va->gem.obj = op->gem.obj;
	va->gem.offset = op->gem.offset;
}

/**
 * drm_gpuva_map() - apply a MAP op
 * @gpuvm: the VM
 * @va: a new VA (zeroed, or with its lists initialised)
 * @op: the op's map piece
 *
 * Initialises @va from @op and inserts it. As in the kernel, a failed insert
 * is silent: @va is then not in the tree, which the caller can see from
 * @va->vm still being NULL. Linking is left to the caller.
 *
 * Locking: as drm_gpuva_insert().
 */
void drm_gpuva_map(struct drm_gpuvm *gpuvm, struct drm_gpuva *va,
		   const struct drm_gpuva_op_map *op);
/**
 * drm_gpuva_remap() - apply a REMAP op
 * @prev: a new VA for @op->prev (unused if @op->prev is NULL)
 * @next: a new VA for @op->next (unused if @op->next is NULL)
 * @op: the op
 *
 * Removes the old VA and inserts the prev and next pieces; the result is
 * that of drm_gpuva_remove() followed by drm_gpuva_insert() of each piece,
 * including the silent failure of an insert. Ours: usually the first piece
 * takes over the old VA's tree node instead. The old VA is neither unlinked
 * nor freed, and the pieces are not linked: both are the caller's job.
 *
 * Locking: as drm_gpuva_insert().
 */
void drm_gpuva_remap(struct drm_gpuva *prev, struct drm_gpuva *next,
		     const struct drm_gpuva_op_remap *op);
/**
 * drm_gpuva_unmap() - apply an UNMAP op
 * @op: the op
 *
 * drm_gpuva_remove() of @op->va; unlinking and freeing it is the caller's
 * job.
 *
 * Locking: as drm_gpuva_insert().
 */
void drm_gpuva_unmap(const struct drm_gpuva_op_unmap *op);

/**
 * drm_gpuva_op_remap_to_unmap_range() - the part of the old VA a REMAP removes
 * @op: the REMAP op
 * @start_addr: set to the start of the hole (may be NULL)
 * @range: set to its length (may be NULL)
 *
 * The range between the end of prev (or the old VA's start) and the start
 * of next (or the old VA's end).
 */
static inline void drm_gpuva_op_remap_to_unmap_range(const struct drm_gpuva_op_remap *op,
						     u64 *start_addr, u64 *range)
{
	const u64 va_start = op->prev ? op->prev->va.addr + op->prev->va.range
				      : op->unmap->va->va.addr;
	const u64 va_end = op->next ? op->next->va.addr
				    : op->unmap->va->va.addr + op->unmap->va->va.range;

	if (start_addr)
		*start_addr = va_start;
	if (range)
		*range = va_end - va_start;
}

/* ------------------------------------------------------------ callbacks */

/**
 * struct drm_gpuvm_ops - driver callbacks
 * @vm_free: frees the VM's memory on its last put (required for it to be freed)
 * @op_alloc: allocates an op for the ops lists (optional; default kzalloc)
 * @op_free: frees an op from @op_alloc
 * @vm_bo_alloc: allocates a vm_bo (optional, e.g. to embed it); need not zero it
 * @vm_bo_free: frees a vm_bo from @vm_bo_alloc
 * @vm_bo_validate: makes an evicted vm_bo's backing valid again, called by
 *	drm_gpuvm_validate() with the objects locked; should end with
 *	drm_gpuvm_bo_evict(vm_bo, false); a non-zero return stops validation
 * @sm_step_map: a MAP step of drm_gpuvm_sm_map()
 * @sm_step_remap: a REMAP step of drm_gpuvm_sm_map() or drm_gpuvm_sm_unmap()
 * @sm_step_unmap: an UNMAP step of either walk
 *
 * A step callback gets an op built on the walker's stack (copy it to keep
 * it) and the caller's @priv; it may change the tree around the VA it is
 * given (the walk has already fetched the next VA). A non-zero return stops
 * the walk, which returns that value; steps already taken are not undone.
 */
struct drm_gpuvm_ops {
	void (*vm_free)(struct drm_gpuvm *gpuvm);
	struct drm_gpuva_op *(*op_alloc)(void);
	void (*op_free)(struct drm_gpuva_op *op);
	struct drm_gpuvm_bo *(*vm_bo_alloc)(void);
	void (*vm_bo_free)(struct drm_gpuvm_bo *vm_bo);
	int (*vm_bo_validate)(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec);
	int (*sm_step_map)(struct drm_gpuva_op *op, void *priv);
	int (*sm_step_remap)(struct drm_gpuva_op *op, void *priv);
	int (*sm_step_unmap)(struct drm_gpuva_op *op, void *priv);
};

/**
 * drm_gpuvm_sm_map() - map a range through the step callbacks
 * @gpuvm: the VM
 * @priv: passed to every step callback
 * @req: the request
 *
 * The same steps as drm_gpuvm_sm_map_ops_create(), handed one by one to
 * @ops->sm_step_unmap, sm_step_remap and sm_step_map instead of collected.
 *
 * Returns: 0, -EINVAL if a callback is missing or the request is invalid, or
 * the first non-zero value a callback returned.
 */
int drm_gpuvm_sm_map(struct drm_gpuvm *gpuvm, void *priv, const struct drm_gpuvm_map_req *req);
/**
 * drm_gpuvm_sm_unmap() - unmap a range through the step callbacks
 * @gpuvm: the VM
 * @priv: passed to every step callback
 * @req_addr: start of the range
 * @req_range: its length
 *
 * The steps of drm_gpuvm_sm_unmap_ops_create() through @ops->sm_step_remap
 * and sm_step_unmap.
 *
 * Returns: 0, -EINVAL if a callback is missing or the range is invalid, or
 * the first non-zero value a callback returned.
 */
int drm_gpuvm_sm_unmap(struct drm_gpuvm *gpuvm, void *priv, u64 req_addr, u64 req_range);

/* ------------------------------------------------------- exec / locking */

/**
 * struct drm_gpuvm_exec - locking a VM's objects in one drm_exec transaction
 * @exec: the transaction
 * @flags: drm_exec flags (%DRM_EXEC_INTERRUPTIBLE_WAIT, %DRM_EXEC_IGNORE_DUPLICATES)
 * @vm: the VM
 * @num_fences: fence slots to reserve on every object locked
 * @extra.fn: optional, called inside the locking loop to lock more objects
 * @extra.priv: for @extra.fn
 */
struct drm_gpuvm_exec {
	struct drm_exec exec;
	u32 flags;
	struct drm_gpuvm *vm;
	unsigned int num_fences;
	struct {
		int (*fn)(struct drm_gpuvm_exec *vm_exec);
		void *priv;
	} extra;
};

/**
 * drm_gpuvm_prepare_vm() - lock the VM's resv in a drm_exec transaction
 * @gpuvm: the VM
 * @exec: the transaction, inside drm_exec_until_all_locked()
 * @num_fences: fence slots to reserve (0: lock only)
 *
 * Returns: 0, or the drm_exec error (-EDEADLK on contention, for
 * drm_exec_retry_on_contention(); -ENOMEM; -EINTR).
 */
int drm_gpuvm_prepare_vm(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			 unsigned int num_fences);
/**
 * drm_gpuvm_prepare_objects() - lock every external object of the VM
 * @gpuvm: the VM
 * @exec: the transaction, inside drm_exec_until_all_locked()
 * @num_fences: fence slots to reserve on each
 *
 * Walks the extobj list. In RESV_PROTECTED mode the caller holds the VM's
 * resv (asserted; drm_gpuvm_prepare_vm() first), zombies are skipped, and
 * evicted external vm_bos are moved to the evict list here. Otherwise the
 * walk holds the list's spinlock only between elements, so the list may
 * change meanwhile; concurrent walks of the same list WARN.
 *
 * Returns: 0, or the first drm_exec error.
 */
int drm_gpuvm_prepare_objects(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			      unsigned int num_fences);
/**
 * drm_gpuvm_prepare_range() - lock the objects mapped in a range
 * @gpuvm: the VM
 * @exec: the transaction, inside drm_exec_until_all_locked()
 * @addr: start of the range
 * @range: its length
 * @num_fences: fence slots to reserve on each
 *
 * GEM-less VAs and the reserved node are skipped.
 *
 * Returns: 0, or the first drm_exec error.
 */
int drm_gpuvm_prepare_range(struct drm_gpuvm *gpuvm, struct drm_exec *exec, u64 addr,
			    u64 range, unsigned int num_fences);
/**
 * drm_gpuvm_exec_lock() - lock the VM's resv and all its external objects
 * @vm_exec: the VM, flags, fence count and optional @extra.fn
 *
 * Initialises @vm_exec->exec and runs the locking loop (prepare_vm,
 * prepare_objects, then @extra.fn) until everything is locked without
 * contention. On success the caller owns the locks and releases them with
 * drm_gpuvm_exec_unlock().
 *
 * Returns: 0, or an error (from drm_exec or @extra.fn) after which nothing is
 * locked and @vm_exec->exec is finalised.
 */
int drm_gpuvm_exec_lock(struct drm_gpuvm_exec *vm_exec);
/**
 * drm_gpuvm_exec_lock_array() - drm_gpuvm_exec_lock() plus an array of objects
 * @vm_exec: as for drm_gpuvm_exec_lock(); its @extra is replaced for the call
 * @objs: the objects
 * @num_objs: their number
 *
 * Ours: @vm_exec->extra is restored afterwards (the kernel leaves it
 * pointing into its stack frame).
 *
 * Returns: as drm_gpuvm_exec_lock().
 */
int drm_gpuvm_exec_lock_array(struct drm_gpuvm_exec *vm_exec, struct drm_gem_object **objs,
			      unsigned int num_objs);
/**
 * drm_gpuvm_exec_lock_range() - lock the objects mapped in a range
 * @vm_exec: the VM, flags and fence count (@extra is not used)
 * @addr: start of the range
 * @range: its length
 *
 * The locking loop around drm_gpuvm_prepare_range(); the VM's resv is not
 * locked unless a private object is mapped in the range.
 *
 * Returns: as drm_gpuvm_exec_lock().
 */
int drm_gpuvm_exec_lock_range(struct drm_gpuvm_exec *vm_exec, u64 addr, u64 range);

/**
 * drm_gpuvm_exec_unlock() - release everything a drm_gpuvm_exec_lock*() locked
 * @vm_exec: the transaction
 */
static inline void drm_gpuvm_exec_unlock(struct drm_gpuvm_exec *vm_exec)
{
	drm_exec_fini(&vm_exec->exec);
}

/**
 * drm_gpuvm_validate() - validate every evicted vm_bo of the VM
 * @gpuvm: the VM
 * @exec: the transaction holding the VM's resv and the objects' resvs
 *
 * Calls @ops->vm_bo_validate for each vm_bo on the evict list. In
 * RESV_PROTECTED mode a vm_bo that is no longer evicted after the callback
 * is taken off the list here and zombies are skipped; otherwise the callback
 * takes it off with drm_gpuvm_bo_evict(vm_bo, false).
 *
 * Returns: 0, -EOPNOTSUPP without a vm_bo_validate callback, or the first
 * error a callback returned (the rest of the list is left as it was).
 */
int drm_gpuvm_validate(struct drm_gpuvm *gpuvm, struct drm_exec *exec);

/**
 * drm_gpuvm_exec_validate() - drm_gpuvm_validate() for a drm_gpuvm_exec
 * @vm_exec: the locked transaction
 *
 * Returns: as drm_gpuvm_validate().
 */
static inline int drm_gpuvm_exec_validate(struct drm_gpuvm_exec *vm_exec)
{
	return drm_gpuvm_validate(vm_exec->vm, &vm_exec->exec);
}

/**
 * drm_gpuvm_resv_add_fence() - add a fence to every object of a transaction
 * @gpuvm: the VM
 * @exec: the locked transaction
 * @fence: the fence
 * @private_usage: usage for the objects sharing the VM's resv (and the VM's own)
 * @extobj_usage: usage for external objects
 *
 * Each resv must have a free fence slot (num_fences when locking). Locking:
 * every object is held through @exec (asserted).
 */
void drm_gpuvm_resv_add_fence(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			      struct dma_fence *fence, enum dma_resv_usage private_usage,
			      enum dma_resv_usage extobj_usage);

/**
 * drm_gpuvm_exec_resv_add_fence() - drm_gpuvm_resv_add_fence() for a drm_gpuvm_exec
 * @vm_exec: the locked transaction
 * @fence: the fence
 * @private_usage: usage for private objects
 * @extobj_usage: usage for external objects
 */
static inline void drm_gpuvm_exec_resv_add_fence(struct drm_gpuvm_exec *vm_exec,
						 struct dma_fence *fence,
						 enum dma_resv_usage private_usage,
						 enum dma_resv_usage extobj_usage)
{
	drm_gpuvm_resv_add_fence(vm_exec->vm, &vm_exec->exec, fence, private_usage,
				 extobj_usage);
}

/**
 * drm_gpuvm_sm_map_exec_lock() - lock the objects a map request affects
 * @gpuvm: the VM
 * @exec: the transaction, inside drm_exec_until_all_locked()
 * @num_fences: fence slots to reserve on the request's object
 * @req: the request
 *
 * Prepares the request's GEM (locks it and reserves @num_fences slots, even
 * for 0, as the kernel does), then locks the GEM of every VA the map would
 * remap or unmap. Nothing changes in the tree.
 *
 * Returns: 0, -EINVAL for an invalid request, or the first drm_exec error.
 */
int drm_gpuvm_sm_map_exec_lock(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			       unsigned int num_fences, struct drm_gpuvm_map_req *req);
/**
 * drm_gpuvm_sm_unmap_exec_lock() - lock the objects an unmap request affects
 * @gpuvm: the VM
 * @exec: the transaction, inside drm_exec_until_all_locked()
 * @req_addr: start of the range
 * @req_range: its length
 *
 * Locks the GEM of every VA the unmap would remap or unmap.
 *
 * Returns: 0, -EINVAL for an invalid range, or the first drm_exec error.
 */
int drm_gpuvm_sm_unmap_exec_lock(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
				 u64 req_addr, u64 req_range);

#endif
