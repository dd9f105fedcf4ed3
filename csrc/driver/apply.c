// SPDX-License-Identifier: MIT
/*
 * The reference driver: applies an ops list to a VM the way a staged-mode
 * kernel driver does (docs/trace-format.md "How ops are applied"). The library owns the
 * VAs it creates here; they come from ctx->va_alloc (or kzalloc) and go back
 * to ctx->va_free (or kfree) when unmapped, so every VA of a VM driven by this
 * file must come from the same allocator.
 */
#include "driver/kapi.h"

#include "drm/gpuvm_apply.h"

/*
 * The one thing here beyond the kernel API: the port's insert-after-hint
 * shortcut (a map op right after a VA it knows precedes it skips the descent
 * from the root). Over a kernel tree every insert descends from the root.
 */
#ifdef GPUVM_KERNEL_TREE
static bool insert_after_hint(struct drm_gpuvm *gpuvm, struct drm_gpuva *prev,
			      struct drm_gpuva *va)
{
	(void)gpuvm;
	(void)prev;
	(void)va;
	return false;
}
#else
#include "gpuvm/gpuvm_internal.h"
#define insert_after_hint __drm_gpuva_insert_after
#endif

static struct drm_gpuva *va_alloc(const struct gpuvm_apply_ctx *ctx)
{
	if (ctx->va_alloc)
		return ctx->va_alloc(ctx->priv);
	return kzalloc(sizeof(struct drm_gpuva), GFP_KERNEL);
}

static void va_free(const struct gpuvm_apply_ctx *ctx, struct drm_gpuva *va)
{
	if (ctx->va_free)
		ctx->va_free(va, ctx->priv);
	else
		kfree(va);
}

/*
 * Pre-allocated VAs wait on a local list threaded through their rb.entry
 * (unused until insert), so the pool itself needs no allocation.
 */
static struct drm_gpuva *pool_pop(struct list_head *pool)
{
	struct drm_gpuva *va = list_first_entry(pool, struct drm_gpuva, rb.entry);

	list_del(&va->rb.entry);
	kapi_va_init_lists(va);
	return va;
}

static void pool_free(const struct gpuvm_apply_ctx *ctx, struct list_head *pool)
{
	while (!list_empty(pool))
		va_free(ctx, pool_pop(pool));
}

static void apply_link(const struct gpuvm_apply_ctx *ctx, struct drm_gpuva *va,
		       struct drm_gpuvm_bo *vm_bo)
{
	if (!va->gem.obj || !vm_bo)
		return;
	if (ctx->flags & GPUVM_APPLY_LOCKED)
		drm_gpuva_link(va, vm_bo);
	else
		selflock_va_link(va, vm_bo);
}

static void apply_unlink(struct drm_gpuvm *gpuvm, const struct gpuvm_apply_ctx *ctx,
			 struct drm_gpuva *va)
{
	/* Never linked (no GEM, or inserted by hand): nothing to drop. */
	if (!va->gem.obj || !va->vm_bo)
		return;
	if (ctx->flags & GPUVM_APPLY_LOCKED)
		drm_gpuva_unlink(va);
#ifdef GPUVM_HAVE_DEFERRED_CLEANUP
	else if (drm_gpuvm_immediate_mode(gpuvm))
		drm_gpuva_unlink_defer(va);
#endif
	else
		selflock_va_unlink(va);
}

/* A piece drm_gpuva_map/remap could not insert: report it and drop it. */
static bool piece_inserted(const struct gpuvm_apply_ctx *ctx, struct drm_gpuva *va,
			   const struct drm_gpuva_op_map *piece)
{
	/* va->vm is only ever set by a successful insert of a zeroed VA. */
	if (va->vm)
		return true;
	if (ctx->insert_failed)
		ctx->insert_failed(piece, ctx->priv);
	va_free(ctx, va);
	return false;
}

/*
 * drm_gpuva_map(), but a VA known to precede the new one (@hint) may spare
 * the descent from the root; __drm_gpuva_insert_after() checks that it does.
 */
static void apply_map(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo *vm_bo,
		      const struct gpuvm_apply_ctx *ctx, struct list_head *pool,
		      struct drm_gpuva_op_map *map, struct drm_gpuva *hint)
{
	struct drm_gpuva *va = pool_pop(pool);

	drm_gpuva_init_from_op(va, map);
	if (!insert_after_hint(gpuvm, hint, va))
		(void)drm_gpuva_insert(gpuvm, va);
	if (piece_inserted(ctx, va, map))
		apply_link(ctx, va, vm_bo);
}

/* Returns the prev piece if it went in, for apply_hint(). */
static struct drm_gpuva *apply_remap(struct drm_gpuvm *gpuvm, const struct gpuvm_apply_ctx *ctx,
				     struct list_head *pool, struct drm_gpuva_op_remap *remap)
{
	struct drm_gpuva *old = remap->unmap->va;
	struct drm_gpuva *prev = remap->prev ? pool_pop(pool) : NULL;
	struct drm_gpuva *next = remap->next ? pool_pop(pool) : NULL;

	/* The pieces are still the same kind of mapping (sparse, ...). */
	if (prev)
		prev->flags = old->flags;
	if (next)
		next->flags = old->flags;

	drm_gpuva_remap(prev, next, remap);

	/*
	 * Link the pieces while @old still holds its vm_bo reference: unlinking
	 * first could drop the last one and free the vm_bo (and its GEM).
	 */
	if (prev && !piece_inserted(ctx, prev, remap->prev))
		prev = NULL;
	if (prev)
		apply_link(ctx, prev, old->vm_bo);
	if (next && piece_inserted(ctx, next, remap->next))
		apply_link(ctx, next, old->vm_bo);

	if (ctx->va_removed)
		ctx->va_removed(old, ctx->priv);
	apply_unlink(gpuvm, ctx, old);
	va_free(ctx, old);
	return prev;
}

/*
 * An sm_map list ends with its MAP op, which goes right after the VA that
 * precedes the first one the list removes, or after the first remap's prev
 * piece. Remembering that VA lets apply_map() skip a descent. A hint that
 * is wrong only costs the check; one that is about to be freed is dropped.
 */
static struct drm_gpuva *hint_before(struct drm_gpuvm *gpuvm, struct drm_gpuva *va)
{
	if (va->vm != gpuvm || !va->rb.entry.prev || list_empty(&va->rb.entry) ||
	    va->rb.entry.prev == &gpuvm->rb.list)
		return NULL;
	return list_entry(va->rb.entry.prev, struct drm_gpuva, rb.entry);
}

static void apply_unmap(struct drm_gpuvm *gpuvm, const struct gpuvm_apply_ctx *ctx,
			struct drm_gpuva_op_unmap *unmap)
{
	struct drm_gpuva *va = unmap->va;

	if (ctx->va_removed)
		ctx->va_removed(va, ctx->priv);
	apply_unlink(gpuvm, ctx, va);
	drm_gpuva_unmap(unmap);
	va_free(ctx, va);
}

/*
 * Everything that can fail is checked or allocated here, before the VM is
 * touched: on error nothing has changed.
 */
static int apply_prepare(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo *vm_bo,
			 struct drm_gpuva_ops *ops, const struct gpuvm_apply_ctx *ctx,
			 struct list_head *pool)
{
	struct drm_gpuva_op *op;
	size_t need = 0;

	drm_gpuva_for_each_op(op, ops) {
		switch (op->op) {
		case DRM_GPUVA_OP_MAP:
			/* Linking a GEM-backed piece needs that GEM's vm_bo in this VM. */
			if (op->map.gem.obj &&
			    (!vm_bo || vm_bo->obj != op->map.gem.obj || vm_bo->vm != gpuvm))
				return -EINVAL;
			need++;
			break;
		case DRM_GPUVA_OP_REMAP:
			need += (op->remap.prev != NULL) + (op->remap.next != NULL);
			break;
		case DRM_GPUVA_OP_UNMAP:
			/* Only prefetch lists carry the reserved node; it is not ours. */
			if (op->unmap.va == &gpuvm->kernel_alloc_node)
				return -EINVAL;
			break;
		default:
			break;
		}
	}

	while (need--) {
		struct drm_gpuva *va = va_alloc(ctx);

		if (!va) {
			pool_free(ctx, pool);
			return -ENOMEM;
		}
		list_add_tail(&va->rb.entry, pool);
	}
	return 0;
}

int gpuvm_apply_ops(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo *vm_bo,
		    struct drm_gpuva_ops *ops, const struct gpuvm_apply_ctx *ctx)
{
	static const struct gpuvm_apply_ctx default_ctx;
	struct drm_gpuva *hint = NULL;
	struct list_head pool;
	struct drm_gpuva_op *op;
	bool first = true;
	int ret;

	if (!ctx)
		ctx = &default_ctx;

	INIT_LIST_HEAD(&pool);
	ret = apply_prepare(gpuvm, vm_bo, ops, ctx, &pool);
	if (ret)
		return ret;

	drm_gpuva_for_each_op(op, ops) {
		struct drm_gpuva *piece;

		switch (op->op) {
		case DRM_GPUVA_OP_MAP:
			apply_map(gpuvm, vm_bo, ctx, &pool, &op->map, hint);
			break;
		case DRM_GPUVA_OP_REMAP:
			if (op->remap.unmap->va == hint)
				hint = NULL;
			else if (first)
				hint = hint_before(gpuvm, op->remap.unmap->va);
			piece = apply_remap(gpuvm, ctx, &pool, &op->remap);
			if (first && piece)
				hint = piece;
			break;
		case DRM_GPUVA_OP_UNMAP:
			if (op->unmap.va == hint)
				hint = NULL;
			else if (first)
				hint = hint_before(gpuvm, op->unmap.va);
			apply_unmap(gpuvm, ctx, &op->unmap);
			break;
		default:
			/* PREFETCH and DRIVER ops do not change the VA space. */
			break;
		}
		first = false;
	}

	/* Exactly as many VAs were allocated as the list consumes. */
	GPUVM_BUG_ON(!list_empty(&pool));
	return 0;
}
