/* SPDX-License-Identifier: MIT */
/*
 * pygpuvm's reference driver (ours, not kernel API): the sequences a driver
 * runs around drm_gpuvm, as ordinary C functions shared by the Python
 * extension, gpuvm-replay and the C tests. They are written against the
 * kernel's drm_gpuvm API only (no pygpuvm internals), so csrc/driver/ can be
 * compiled against the kernel's own <drm/drm_gpuvm.h> as well.
 *
 * Locking model: the functions take the locks the kernel's rules ask for
 * themselves, and use a lock the calling thread already holds as is (inside a
 * drm_exec transaction, or with every resv held as gpuvm-replay does):
 *  - the VM's resv around list changes of a DRM_GPUVM_RESV_PROTECTED VM;
 *  - a GEM's gpuva lock (its resv, or its gpuva.lock mutex in
 *    DRM_GPUVM_IMMEDIATE_MODE) around that GEM's vm_bo list;
 *  - the caller serialises the VA tree (one writer per VM at a time).
 *
 * Implementation: csrc/driver/bind.c (binds, batches), csrc/driver/vm_bo.c
 * (vm_bos, VAs, VM teardown), csrc/driver/exec.c (locking a set of binds).
 */
#ifndef PYGPUVM_GPUVM_DRIVER_H
#define PYGPUVM_GPUVM_DRIVER_H

#include "drm/drm_gpuvm.h"
#include "drm/gpuvm_apply.h"

/*
 * Everything from here to "cdef: end" is also the cffi declaration of the
 * driver layer (pygpuvm/meson.build): declarations only, no preprocessor.
 */
/* cdef: begin */

/* ------------------------------------------------------------------ binds */

/**
 * enum gpuvm_bind_op - what a bind request asks for
 * @GPUVM_BIND_MAP: map [addr, addr + range) to obj at offset (sm_map)
 * @GPUVM_BIND_UNMAP: unmap [addr, addr + range) (sm_unmap)
 * @GPUVM_BIND_PREFETCH: prefetch ops of the VAs in the range (changes nothing)
 * @GPUVM_BIND_MADVISE: madvise ops of the range (split at its ends only)
 */
enum gpuvm_bind_op {
	GPUVM_BIND_MAP = 1,
	GPUVM_BIND_UNMAP = 2,
	GPUVM_BIND_PREFETCH = 3,
	GPUVM_BIND_MADVISE = 4,
};

/**
 * struct gpuvm_bind_req - one bind request
 * @op: enum gpuvm_bind_op
 * @addr: start of the range
 * @range: size of the range
 * @obj: map/madvise: the GEM object, or NULL for a mapping without one
 * @offset: map/madvise: offset into @obj
 */
struct gpuvm_bind_req {
	u32 op;
	u64 addr;
	u64 range;
	struct drm_gem_object *obj;
	u64 offset;
};

/**
 * struct gpuvm_bind_stats - what applying ops lists did (accumulated)
 * @ops: ops in the lists that were applied
 * @inserted: VAs inserted into the tree
 * @removed: VAs removed from the tree and freed
 * @failed: pieces drm_gpuva_map()/drm_gpuva_remap() could not insert
 */
struct gpuvm_bind_stats {
	long ops;
	long inserted;
	long removed;
	long failed;
};

/**
 * struct gpuvm_bind_ctx - how gpuvm_driver_bind() runs
 * @apply: the apply context (VA allocator, callbacks, flags); NULL: defaults
 * @ops_created: optional; called with the new ops list before anything is
 *	applied. A nonzero return skips the apply and is returned by
 *	gpuvm_driver_bind() (negative: an error; positive: the caller's reason).
 * @priv: passed to @ops_created
 */
struct gpuvm_bind_ctx {
	const struct gpuvm_apply_ctx *apply;
	int (*ops_created)(struct drm_gpuva_ops *ops, void *priv);
	void *priv;
};

/**
 * gpuvm_driver_ops_create() - the ops list of a bind request
 * @gpuvm: the VM
 * @req: the request
 *
 * drm_gpuvm_sm_map_ops_create(), _sm_unmap_, _prefetch_ or _madvise_ by
 * @req->op. Changes nothing. Locking: the caller serialises the VA tree.
 *
 * Return: the list (free with drm_gpuva_ops_free()), or ERR_PTR(-EINVAL) for
 * an unknown @req->op or an invalid range, ERR_PTR(-ENOMEM).
 */
struct drm_gpuva_ops *gpuvm_driver_ops_create(struct drm_gpuvm *gpuvm,
					      const struct gpuvm_bind_req *req);

/**
 * gpuvm_driver_apply() - apply an ops list the way a staged-mode driver does
 * @gpuvm: the VM the list was created against (current state)
 * @ops: the list
 * @ctx: apply context (NULL: defaults)
 * @stats: accumulated into (not reset); may be NULL
 *
 * Obtains the vm_bo of the list's map object and puts it on the extobj list
 * (gpuvm_driver_bo_obtain()), applies the list with gpuvm_apply_ops() under
 * the VM resv when the VM is DRM_GPUVM_RESV_PROTECTED, puts the vm_bo, and
 * in DRM_GPUVM_IMMEDIATE_MODE runs the deferred vm_bo cleanup. With
 * GPUVM_APPLY_LOCKED in @ctx->flags the caller holds every lock involved and
 * the _locked forms are used throughout.
 *
 * Return: 0, -ENOMEM or -EINVAL (see gpuvm_apply_ops()); on error nothing
 * changed.
 */
int gpuvm_driver_apply(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops,
		       const struct gpuvm_apply_ctx *ctx, struct gpuvm_bind_stats *stats);

/**
 * gpuvm_driver_bind() - one bind: create the ops, apply them, free them
 * @gpuvm: the VM
 * @req: the request
 * @ctx: NULL for defaults; see struct gpuvm_bind_ctx
 * @stats: accumulated into; may be NULL
 *
 * gpuvm_driver_ops_create(), @ctx->ops_created, gpuvm_driver_apply() (skipped
 * for an empty list), drm_gpuva_ops_free().
 *
 * Return: 0; a negative errno with nothing changed; or the positive value
 * @ctx->ops_created returned (nothing applied).
 */
int gpuvm_driver_bind(struct drm_gpuvm *gpuvm, const struct gpuvm_bind_req *req,
		      const struct gpuvm_bind_ctx *ctx, struct gpuvm_bind_stats *stats);

/**
 * struct gpuvm_batch_result - what gpuvm_driver_bind_batch() did
 * @processed: requests handled (applied or refused)
 * @errors: requests refused (their errs[] entry is nonzero)
 * @changed: requests that applied at least one op
 * @ops: ops applied
 * @inserted: VAs inserted
 * @removed: VAs removed
 * @failed: pieces whose insert failed
 */
struct gpuvm_batch_result {
	size_t processed;
	size_t errors;
	size_t changed;
	long ops;
	long inserted;
	long removed;
	long failed;
};

/**
 * gpuvm_driver_bind_batch() - run bind requests in order
 * @gpuvm: the VM
 * @reqs: @n requests; only GPUVM_BIND_MAP and GPUVM_BIND_UNMAP with a
 *	nonzero range are accepted (others get -EINVAL)
 * @n: number of requests
 * @stop_on_error: stop after the first refused request
 * @errs: @n entries; errs[i] gets 0 or request i's negative errno (a refused
 *	request changed nothing); entries past the last processed one are left
 * @ctx: apply context shared by every request (NULL: defaults)
 * @out: the totals (reset first)
 *
 * Each request as gpuvm_driver_bind() runs it. The batch always stops after
 * an -ENOMEM.
 *
 * Return: the number of requests processed (@out->processed).
 */
size_t gpuvm_driver_bind_batch(struct drm_gpuvm *gpuvm, const struct gpuvm_bind_req *reqs,
			       size_t n, bool stop_on_error, int *errs,
			       const struct gpuvm_apply_ctx *ctx, struct gpuvm_batch_result *out);

/* ---------------------------------------------------------------- vm_bos */

/**
 * gpuvm_driver_bo_obtain() - the vm_bo of @obj in @gpuvm, on the extobj list
 * @gpuvm: the VM
 * @obj: the GEM object
 *
 * drm_gpuvm_bo_obtain(), then drm_gpuvm_bo_extobj_add() (under the VM resv
 * for a DRM_GPUVM_RESV_PROTECTED VM; a no-op for private objects).
 *
 * Return: a referenced vm_bo (drop with gpuvm_driver_bo_put()), or
 * ERR_PTR(-ENOMEM).
 */
struct drm_gpuvm_bo *gpuvm_driver_bo_obtain(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);

/**
 * gpuvm_driver_bo_put() - drop a vm_bo reference from any context
 * @vm_bo: the vm_bo (NULL: nothing)
 *
 * drm_gpuvm_bo_put(), with the VM resv held for a DRM_GPUVM_RESV_PROTECTED
 * VM (the destruction takes the vm_bo off the VM's lists). Keeps the VM
 * alive across the put, since the vm_bo may hold the last reference.
 */
void gpuvm_driver_bo_put(struct drm_gpuvm_bo *vm_bo);

/**
 * gpuvm_driver_bo_evict() - drm_gpuvm_bo_evict() under the GEM's resv
 * @vm_bo: the vm_bo
 * @evict: put it on (true) or take it off (false) the VM's evict list
 */
void gpuvm_driver_bo_evict(struct drm_gpuvm_bo *vm_bo, bool evict);

/**
 * gpuvm_driver_bo_on_extobj_list() - whether @vm_bo is on its VM's extobj list
 * @vm_bo: the vm_bo
 *
 * Read under the list's lock (spinlock, or the VM resv when RESV_PROTECTED).
 */
bool gpuvm_driver_bo_on_extobj_list(struct drm_gpuvm_bo *vm_bo);

/**
 * gpuvm_driver_bo_on_evict_list() - whether @vm_bo is on its VM's evict list
 * @vm_bo: the vm_bo
 */
bool gpuvm_driver_bo_on_evict_list(struct drm_gpuvm_bo *vm_bo);

/**
 * gpuvm_driver_gem_vm_bos() - snapshot of a GEM's vm_bos, with references
 * @obj: the GEM object
 * @out: room for @max entries (may be NULL when @max is 0)
 * @max: size of @out
 *
 * Under the object's resv and gpuva mutex (either protects the list,
 * depending on the VMs' modes). vm_bos whose last reference is gone
 * (deferred destruction pending) are skipped. If there are more than @max,
 * nothing is written and no reference taken.
 *
 * Return: the number of entries on the list (when > @max), else the number
 * written, each with a reference for gpuvm_driver_bo_put().
 */
size_t gpuvm_driver_gem_vm_bos(struct drm_gem_object *obj, struct drm_gpuvm_bo **out, size_t max);

/**
 * gpuvm_driver_vm_extobjs() - snapshot of the VM's extobj list, with references
 * @gpuvm: the VM
 * @out: room for @max entries
 * @max: size of @out
 *
 * As gpuvm_driver_gem_vm_bos(), under the list's lock.
 */
size_t gpuvm_driver_vm_extobjs(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo **out, size_t max);

/**
 * gpuvm_driver_vm_evicted() - snapshot of the VM's evict list, with references
 * @gpuvm: the VM
 * @out: room for @max entries
 * @max: size of @out
 */
size_t gpuvm_driver_vm_evicted(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo **out, size_t max);

/**
 * gpuvm_driver_deferred_cleanup() - drm_gpuvm_bo_deferred_cleanup(), if safe here
 * @gpuvm: the VM
 *
 * The cleanup takes the VM resv of a DRM_GPUVM_RESV_PROTECTED VM itself, so
 * it is skipped (left for a later call) while this thread holds that resv.
 */
void gpuvm_driver_deferred_cleanup(struct drm_gpuvm *gpuvm);

/* ------------------------------------------------------------------- VAs */

/**
 * gpuvm_driver_va_insert() - insert one VA by hand, linked to its GEM
 * @gpuvm: the VM
 * @addr: start
 * @range: size
 * @obj: the GEM object, or NULL
 * @offset: offset into @obj
 * @err: set to 0 or the negative errno
 *
 * kzalloc()s a VA, drm_gpuva_insert()s it and links it to the vm_bo of @obj
 * (gpuvm_driver_bo_obtain(), so an external object joins the extobj list).
 *
 * Return: the VA (free with gpuvm_driver_va_destroy()), or NULL with *@err
 * -ENOMEM, -EINVAL (range invalid) or -EEXIST (overlap); nothing changed.
 */
struct drm_gpuva *gpuvm_driver_va_insert(struct drm_gpuvm *gpuvm, u64 addr, u64 range,
					 struct drm_gem_object *obj, u64 offset, int *err);

/**
 * gpuvm_driver_va_destroy() - unlink, remove and kfree() a VA
 * @va: a VA from gpuvm_driver_va_insert() or from an apply with the default
 *	allocator
 *
 * Takes the VM resv for a DRM_GPUVM_RESV_PROTECTED VM (the unlink may destroy
 * the vm_bo); keeps the VM alive until the VA is gone.
 */
void gpuvm_driver_va_destroy(struct drm_gpuva *va);

/**
 * gpuvm_driver_vm_release() - tear a VM down and drop the caller's reference
 * @gpuvm: the VM
 * @ctx: the apply context whose allocator made the VAs and whose flags say
 *	how to unlink (GPUVM_APPLY_LOCKED: the caller holds every lock); NULL:
 *	kfree() and the internally locking forms
 *
 * Unlinks, removes and frees every VA but the reserved node (under the VM
 * resv when RESV_PROTECTED), runs the deferred cleanup in immediate mode (over
 * the port also while this thread holds the VM resv, e.g. inside a
 * transaction; the kernel's cleanup would take that resv itself, so there it
 * is skipped then) and drm_gpuvm_put()s the VM.
 */
void gpuvm_driver_vm_release(struct drm_gpuvm *gpuvm, const struct gpuvm_apply_ctx *ctx);

/* ------------------------------------------------------------------ exec */

/**
 * gpuvm_driver_exec_lock_binds() - lock everything a set of binds touches
 * @vm_exec: flags, vm and num_fences set; @vm_exec->extra is used and restored
 * @reqs: @num_reqs requests, GPUVM_BIND_MAP or GPUVM_BIND_UNMAP
 * @num_reqs: number of requests
 * @lock_vm: lock the VM's resv and every external object too
 * @objs: further objects to lock
 * @num_objs: number of @objs
 *
 * With @lock_vm this is drm_gpuvm_exec_lock() (the VM resv, every extobj)
 * with an extra.fn that runs drm_gpuvm_sm_map_exec_lock() /
 * drm_gpuvm_sm_unmap_exec_lock() for each request in order, then locks
 * @objs. Without it, only the walks and @objs are locked, in one drm_exec
 * transaction. Afterwards every locked object gets @vm_exec->num_fences
 * fence slots (the walks reserve them only for a map's own object). With
 * @vm_exec->num_fences 0 everything is only locked (drm_exec_prepare_obj()
 * with 0 slots would WARN, as the kernel's does).
 *
 * Return: 0 with everything locked (release with drm_gpuvm_exec_unlock()), or
 * a negative errno with nothing locked (-EINVAL for an unknown op or a range
 * the walk refuses, -EDEADLK/-EALREADY/-EINTR from drm_exec, -ENOMEM).
 */
int gpuvm_driver_exec_lock_binds(struct drm_gpuvm_exec *vm_exec,
				 const struct gpuvm_bind_req *reqs, unsigned int num_reqs,
				 bool lock_vm, struct drm_gem_object **objs, unsigned int num_objs);

/* cdef: end */

#endif
