/* SPDX-License-Identifier: MIT */
/*
 * pygpuvm's reference driver (not kernel API): applies an ops list to the VM
 * the way a staged-mode driver does in the kernel documentation's example, and
 * the way docs/trace-format.md's application rules define it:
 *  - map op: a new zeroed VA, drm_gpuva_map(), then link it to @vm_bo;
 *  - remap op: new VAs for prev and/or next, drm_gpuva_remap(), link prev then
 *    next to the old VA's vm_bo, unlink the old VA, free it;
 *  - unmap op: unlink, drm_gpuva_unmap(), free;
 *  - prefetch ops are ignored.
 * When drm_gpuva_map()/drm_gpuva_remap() fail to insert a piece (they ignore
 * the error, as in the kernel) the piece is reported through @insert_failed,
 * freed and not linked.
 *
 * Every VA the list needs is allocated before anything changes, so on -ENOMEM
 * the VM is untouched. With GPUVM_APPLY_LOCKED the caller holds the gpuva lock
 * of every GEM involved and the _locked link/unlink forms are used; otherwise
 * the internally locking forms are used (unlink_defer in immediate mode).
 * Implementation: csrc/driver/apply.c.
 */
#ifndef PYGPUVM_GPUVM_APPLY_H
#define PYGPUVM_GPUVM_APPLY_H

#include "drm/drm_gpuvm.h"

enum gpuvm_apply_flags {
	GPUVM_APPLY_LOCKED = BIT(0),
};

struct gpuvm_apply_ctx {
	u32 flags;
	/* VA allocator; NULL: kzalloc. Must return zeroed memory. */
	struct drm_gpuva *(*va_alloc)(void *priv);
	/* VA release; NULL: kfree. */
	void (*va_free)(struct drm_gpuva *va, void *priv);
	/* Optional: a piece could not be inserted (docs/trace-format.md "warn insert_failed"). */
	void (*insert_failed)(const struct drm_gpuva_op_map *piece, void *priv);
	/*
	 * Optional: called for each existing VA just before it is removed and
	 * freed (lets bindings detach their wrappers).
	 */
	void (*va_removed)(struct drm_gpuva *va, void *priv);
	void *priv;
};

/*
 * Apply @ops (created against the current state of @gpuvm). @vm_bo is the
 * vm_bo new map pieces are linked to (NULL when the map has no GEM). @ctx may
 * be NULL (all defaults). Remap pieces inherit the old VA's flags. Returns 0,
 * -ENOMEM, or -EINVAL when a map op has a GEM but @vm_bo is not that GEM's
 * vm_bo in @gpuvm, or an unmap op names the reserved node; on error nothing
 * is applied.
 */
int gpuvm_apply_ops(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo *vm_bo,
		    struct drm_gpuva_ops *ops, const struct gpuvm_apply_ctx *ctx);

#endif
