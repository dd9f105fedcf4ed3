// SPDX-License-Identifier: MIT
/*
 * The reference driver's bind sequences (see drm/gpuvm_driver.h): ops
 * create + vm_bo obtain + apply + put, one request or a batch of them.
 */
#include "driver/kapi.h"

#include "drm/gpuvm_driver.h"

struct drm_gpuva_ops *gpuvm_driver_ops_create(struct drm_gpuvm *gpuvm,
					      const struct gpuvm_bind_req *req)
{
	switch (req->op) {
	case GPUVM_BIND_MAP:
		return kapi_sm_map_ops_create(gpuvm, req->addr, req->range, req->obj, req->offset);
	case GPUVM_BIND_UNMAP:
		return drm_gpuvm_sm_unmap_ops_create(gpuvm, req->addr, req->range);
	case GPUVM_BIND_PREFETCH:
		return drm_gpuvm_prefetch_ops_create(gpuvm, req->addr, req->range);
	case GPUVM_BIND_MADVISE: {
#ifdef GPUVM_HAVE_MADVISE
		const struct drm_gpuvm_map_req map =
			kapi_map_req(req->addr, req->range, req->obj, req->offset);

		return drm_gpuvm_madvise_ops_create(gpuvm, &map);
#else
		return ERR_PTR(-EOPNOTSUPP);
#endif
	}
	default:
		return ERR_PTR(-EINVAL);
	}
}

/*
 * The caller's apply context, seen through one that also counts: the
 * callbacks of gpuvm_apply_ctx share one priv, so all of them are forwarded.
 */
struct counting_ctx {
	const struct gpuvm_apply_ctx *outer;
	long removed;
	long failed;
};

static struct drm_gpuva *count_va_alloc(void *priv)
{
	const struct counting_ctx *c = priv;

	return c->outer->va_alloc(c->outer->priv);
}

static void count_va_free(struct drm_gpuva *va, void *priv)
{
	const struct counting_ctx *c = priv;

	c->outer->va_free(va, c->outer->priv);
}

static void count_insert_failed(const struct drm_gpuva_op_map *piece, void *priv)
{
	struct counting_ctx *c = priv;

	c->failed++;
	if (c->outer->insert_failed)
		c->outer->insert_failed(piece, c->outer->priv);
}

static void count_va_removed(struct drm_gpuva *va, void *priv)
{
	struct counting_ctx *c = priv;

	c->removed++;
	if (c->outer->va_removed)
		c->outer->va_removed(va, c->outer->priv);
}

int gpuvm_driver_apply(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops,
		       const struct gpuvm_apply_ctx *ctx, struct gpuvm_bind_stats *stats)
{
	static const struct gpuvm_apply_ctx defaults;
	const struct gpuvm_apply_ctx *outer = ctx ? ctx : &defaults;
	bool locked = outer->flags & GPUVM_APPLY_LOCKED;
	struct counting_ctx count = { .outer = outer };
	struct gpuvm_apply_ctx inner = {
		.flags = outer->flags,
		.va_alloc = outer->va_alloc ? count_va_alloc : NULL,
		.va_free = outer->va_free ? count_va_free : NULL,
		.insert_failed = count_insert_failed,
		.va_removed = count_va_removed,
		.priv = &count,
	};
	/* Counting goes through the callbacks: without @stats none is needed. */
	const struct gpuvm_apply_ctx *apply = stats ? &inner : outer;
	struct drm_gem_object *map_obj = NULL;
	struct drm_gpuvm_bo *vm_bo = NULL;
	struct drm_gpuva_op *op;
	long nops = 0, pieces = 0;
	bool taken = false;
	int ret;

	drm_gpuva_for_each_op(op, ops) {
		nops++;
		if (op->op == DRM_GPUVA_OP_MAP) {
			pieces++;
			if (!map_obj)
				map_obj = op->map.gem.obj;
		} else if (op->op == DRM_GPUVA_OP_REMAP) {
			pieces += (op->remap.prev != NULL) + (op->remap.next != NULL);
		}
	}
	/* Held until every op is applied, so the map's vm_bo cannot die midway. */
	if (map_obj) {
		if (locked) {
			vm_bo = kapi_bo_obtain_locked(gpuvm, map_obj);
			if (!vm_bo)
				vm_bo = ERR_PTR(-ENOMEM);
			else if (!IS_ERR(vm_bo))
				drm_gpuvm_bo_extobj_add(vm_bo);
		} else {
			vm_bo = gpuvm_driver_bo_obtain(gpuvm, map_obj);
		}
		if (IS_ERR(vm_bo))
			return (int)PTR_ERR(vm_bo);
	}
	/* Unlinking may destroy vm_bos: RESV_PROTECTED lists need the VM resv. */
	if (!locked && drm_gpuvm_resv_protected(gpuvm))
		taken = gpuvm_resv_lock_once(drm_gpuvm_resv(gpuvm));
	ret = gpuvm_apply_ops(gpuvm, vm_bo, ops, apply);
	gpuvm_resv_unlock_taken(drm_gpuvm_resv(gpuvm), taken);
	/* A failed map leaves no vm_bo behind: this drops a new one again. */
	if (locked)
		drm_gpuvm_bo_put(vm_bo);
	else
		gpuvm_driver_bo_put(vm_bo);
	if (!locked && drm_gpuvm_immediate_mode(gpuvm))
		gpuvm_driver_deferred_cleanup(gpuvm);
	if (!ret && stats) {
		stats->ops += nops;
		stats->inserted += pieces - count.failed;
		stats->removed += count.removed;
		stats->failed += count.failed;
	}
	return ret;
}

int gpuvm_driver_bind(struct drm_gpuvm *gpuvm, const struct gpuvm_bind_req *req,
		      const struct gpuvm_bind_ctx *ctx, struct gpuvm_bind_stats *stats)
{
	struct drm_gpuva_ops *ops = gpuvm_driver_ops_create(gpuvm, req);
	int ret = 0;

	if (IS_ERR(ops))
		return (int)PTR_ERR(ops);
	if (ctx && ctx->ops_created)
		ret = ctx->ops_created(ops, ctx->priv);
	if (!ret && !list_empty(&ops->list))
		ret = gpuvm_driver_apply(gpuvm, ops, ctx ? ctx->apply : NULL, stats);
	drm_gpuva_ops_free(gpuvm, ops);
	return ret;
}

size_t gpuvm_driver_bind_batch(struct drm_gpuvm *gpuvm, const struct gpuvm_bind_req *reqs,
			       size_t n, bool stop_on_error, int *errs,
			       const struct gpuvm_apply_ctx *ctx, struct gpuvm_batch_result *out)
{
	const struct gpuvm_bind_ctx bind = { .apply = ctx };
	size_t i;

	*out = (struct gpuvm_batch_result){ 0 };
	for (i = 0; i < n; i++) {
		const struct gpuvm_bind_req *r = &reqs[i];
		struct gpuvm_bind_stats st = { 0 };
		int ret = -EINVAL;

		/* Zero-sized requests are refused, as the classes refuse them. */
		if ((r->op == GPUVM_BIND_MAP || r->op == GPUVM_BIND_UNMAP) && r->range)
			ret = gpuvm_driver_bind(gpuvm, r, &bind, &st);
		errs[i] = ret;
		if (ret) {
			out->errors++;
			if (ret == -ENOMEM || stop_on_error) {
				i++;
				break;
			}
			continue;
		}
		out->ops += st.ops;
		out->inserted += st.inserted;
		out->removed += st.removed;
		out->failed += st.failed;
		if (st.ops)
			out->changed++;
	}
	out->processed = i;
	return i;
}
