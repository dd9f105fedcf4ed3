// SPDX-License-Identifier: MIT
/*
 * Split/merge engine: the sm_map / madvise / sm_unmap walks, their callback
 * and ops-list front ends, the prefetch and bo_unmap lists, and the helpers
 * that apply a single step to the VA tree (drm_gpuva_map/remap/unmap).
 *
 * Every step is built on the walker's stack; REMAP sub-structs point at
 * walker locals, so a driver that wants to keep a step must copy it (the
 * ops-list builders below do). The walks themselves never allocate.
 */
#include <string.h>

#include "drm/drm_gpuvm.h"
#include "linux/slab.h"

#include "gpuvm/gem_gpuva_lock.h"
#include "gpuvm/gpuvm_internal.h"
#include "gpuvm/sm_internal.h"

/* ------------------------------------------------------------ step emission */

/*
 * The walks below are written once and instantiated twice: for callers with
 * their own step callbacks, and for the ops-list builders, where the callbacks
 * are known at compile time and end up inlined (no indirect calls).
 */
#if defined(__GNUC__)
#define SM_INLINE static inline __attribute__((always_inline))
#else
#define SM_INLINE static inline
#endif

/*
 * The ops-list builder (below) is a step callback like any other, but when a
 * walk is instantiated for it the steps are written straight into the list's
 * ops: no step on the stack, no copy of it.
 */
static const struct drm_gpuvm_ops builder_ops;
SM_INLINE int builder_map(void *priv, u64 addr, u64 range, struct drm_gem_object *obj,
			  u64 offset);
SM_INLINE int builder_remap(void *priv, const struct drm_gpuva_op_map *prev,
			    const struct drm_gpuva_op_map *next,
			    const struct drm_gpuva_op_unmap *unmap);
SM_INLINE int builder_unmap(void *priv, struct drm_gpuva *va, bool keep);

/*
 * A NULL step callback is a step the caller does not care about (internal
 * users such as the exec-lock walks only need some of them); the public
 * entry points check for the callbacks they require before walking.
 */
SM_INLINE int op_map_cb(const struct drm_gpuvm_ops *fn, void *priv, u64 addr, u64 range,
		     struct drm_gem_object *obj, u64 offset)
{
	if (fn == &builder_ops)
		return builder_map(priv, addr, range, obj, offset);

	struct drm_gpuva_op op = {
		.op = DRM_GPUVA_OP_MAP,
		.map = {
			.va = { .addr = addr, .range = range },
			.gem = { .offset = offset, .obj = obj },
		},
	};

	if (!fn->sm_step_map)
		return 0;
	return fn->sm_step_map(&op, priv);
}

SM_INLINE int op_remap_cb(const struct drm_gpuvm_ops *fn, void *priv, struct drm_gpuva_op_map *prev,
		       struct drm_gpuva_op_map *next, struct drm_gpuva_op_unmap *unmap)
{
	if (fn == &builder_ops)
		return builder_remap(priv, prev, next, unmap);

	struct drm_gpuva_op op = {
		.op = DRM_GPUVA_OP_REMAP,
		.remap = { .prev = prev, .next = next, .unmap = unmap },
	};

	if (!fn->sm_step_remap)
		return 0;
	return fn->sm_step_remap(&op, priv);
}

SM_INLINE int op_unmap_cb(const struct drm_gpuvm_ops *fn, void *priv, struct drm_gpuva *va,
		       bool keep)
{
	if (fn == &builder_ops)
		return builder_unmap(priv, va, keep);

	struct drm_gpuva_op op = {
		.op = DRM_GPUVA_OP_UNMAP,
		.unmap = { .va = va, .keep = keep },
	};

	if (!fn->sm_step_unmap)
		return 0;
	return fn->sm_step_unmap(&op, priv);
}

/* ------------------------------------------------------------------- walks */

/* drm_gpuvm_for_each_va_range_safe() with the tree query inlined. */
#define sm_for_each_va_range_safe(va__, next__, gpuvm__, start__, end__)          \
	for ((va__) = gpuvm_find_first((gpuvm__), (start__), (end__) - (start__)), \
	    (next__) = __drm_gpuva_next(va__);                                     \
	     (va__) && (va__)->va.addr < (end__);                                  \
	     (va__) = (next__), (next__) = __drm_gpuva_next(va__))

/* The request has been validated. */
SM_INLINE int sm_map_walk(struct drm_gpuvm *gpuvm, const struct drm_gpuvm_ops *ops, void *priv,
			  const struct drm_gpuvm_map_req *req, bool madvise)
{
	const u64 req_addr = req->map.va.addr;
	const u64 req_range = req->map.va.range;
	const u64 req_end = req_addr + req_range;
	struct drm_gem_object *req_obj = req->map.gem.obj;
	const u64 req_offset = req->map.gem.offset;
	/* madvise only re-maps what it actually split. */
	bool needs_map = !madvise;
	struct drm_gpuva *va, *next;
	int ret = 0;

	sm_for_each_va_range_safe(va, next, gpuvm, req_addr, req_end) {
		struct drm_gem_object *obj = va->gem.obj;
		const u64 offset = va->gem.offset;
		const u64 addr = va->va.addr;
		const u64 range = va->va.range;
		const u64 end = addr + range;
		/* A VA without a GEM has no backing that could be reused. */
		bool keep = obj != NULL;

		/* madvise only splits GEM-less (e.g. SVM) mappings. */
		if (madvise && obj)
			continue;

		if (addr == req_addr) {
			keep = keep && obj == req_obj && offset == req_offset;

			if (end == req_end) {
				if (!madvise)
					ret = op_unmap_cb(ops, priv, va, keep);
				break;
			}

			if (end < req_end) {
				if (!madvise) {
					ret = op_unmap_cb(ops, priv, va, keep);
					if (ret)
						return ret;
				}
				continue;
			}

			/* end > req_end: the tail survives. */
			struct drm_gpuva_op_map n = {
				.va = { .addr = req_end, .range = range - req_range },
				.gem = { .offset = offset + req_range, .obj = obj },
			};
			struct drm_gpuva_op_unmap u = { .va = va, .keep = keep };

			ret = op_remap_cb(ops, priv, NULL, &n, &u);
			if (ret)
				return ret;
			needs_map = true;
			break;
		} else if (addr < req_addr) {
			const u64 ls_range = req_addr - addr;
			struct drm_gpuva_op_map p = {
				.va = { .addr = addr, .range = ls_range },
				.gem = { .offset = offset, .obj = obj },
			};
			struct drm_gpuva_op_unmap u;

			keep = keep && obj == req_obj && offset + ls_range == req_offset;
			u = (struct drm_gpuva_op_unmap){ .va = va, .keep = keep };

			if (end == req_end) {
				ret = op_remap_cb(ops, priv, &p, NULL, &u);
				if (ret)
					return ret;
				needs_map = true;
				break;
			}

			if (end < req_end) {
				ret = op_remap_cb(ops, priv, &p, NULL, &u);
				if (ret)
					return ret;
				if (madvise) {
					/* The split-off part inside the request, without a GEM. */
					ret = op_map_cb(ops, priv, req_addr, end - req_addr, NULL, 0);
					if (ret)
						return ret;
				}
				continue;
			}

			/* end > req_end: the request punches a hole in the middle. */
			struct drm_gpuva_op_map n = {
				.va = { .addr = req_end, .range = end - req_end },
				.gem = { .offset = offset + ls_range + req_range, .obj = obj },
			};

			ret = op_remap_cb(ops, priv, &p, &n, &u);
			if (ret)
				return ret;
			needs_map = true;
			break;
		} else {
			/* addr > req_addr */
			keep = keep && obj == req_obj &&
			       offset == req_offset + (addr - req_addr);

			if (end == req_end) {
				if (!madvise)
					ret = op_unmap_cb(ops, priv, va, keep);
				break;
			}

			if (end < req_end) {
				if (!madvise) {
					ret = op_unmap_cb(ops, priv, va, keep);
					if (ret)
						return ret;
				}
				continue;
			}

			/* end > req_end: the tail survives. */
			struct drm_gpuva_op_map n = {
				.va = { .addr = req_end, .range = end - req_end },
				.gem = { .offset = offset + (req_end - addr), .obj = obj },
			};
			struct drm_gpuva_op_unmap u = { .va = va, .keep = keep };

			ret = op_remap_cb(ops, priv, NULL, &n, &u);
			if (ret)
				return ret;
			if (madvise) {
				/* Only [addr, req_end) was split; nothing else to map. */
				return op_map_cb(ops, priv, addr, req_end - addr, NULL, 0);
			}
			break;
		}
	}

	if (ret)
		return ret;
	if (!needs_map)
		return 0;
	return op_map_cb(ops, priv, req_addr, req_range, req_obj, req_offset);
}

/* The request has been validated. */
SM_INLINE int sm_unmap_walk(struct drm_gpuvm *gpuvm, const struct drm_gpuvm_ops *ops, void *priv,
			    u64 req_addr, u64 req_range)
{
	const u64 req_end = req_addr + req_range;
	struct drm_gpuva *va, *next;
	int ret;

	sm_for_each_va_range_safe(va, next, gpuvm, req_addr, req_end) {
		struct drm_gpuva_op_map prev = { 0 }, nxt = { 0 };
		const u64 addr = va->va.addr;
		const u64 end = addr + va->va.range;
		bool has_prev = false, has_next = false;

		if (addr < req_addr) {
			prev = (struct drm_gpuva_op_map){
				.va = { .addr = addr, .range = req_addr - addr },
				.gem = { .offset = va->gem.offset, .obj = va->gem.obj },
			};
			has_prev = true;
		}

		if (end > req_end) {
			nxt = (struct drm_gpuva_op_map){
				.va = { .addr = req_end, .range = end - req_end },
				.gem = { .offset = va->gem.offset + (req_end - addr),
					 .obj = va->gem.obj },
			};
			has_next = true;
		}

		if (has_prev || has_next) {
			struct drm_gpuva_op_unmap u = { .va = va, .keep = false };

			ret = op_remap_cb(ops, priv, has_prev ? &prev : NULL,
					  has_next ? &nxt : NULL, &u);
		} else {
			ret = op_unmap_cb(ops, priv, va, false);
		}
		if (ret)
			return ret;
	}

	return 0;
}

int __drm_gpuvm_sm_map(struct drm_gpuvm *gpuvm, const struct drm_gpuvm_ops *ops, void *priv,
		       const struct drm_gpuvm_map_req *req, bool madvise)
{
	if (unlikely(!gpuvm_range_valid(gpuvm, req->map.va.addr, req->map.va.range)))
		return -EINVAL;
	return sm_map_walk(gpuvm, ops, priv, req, madvise);
}

int __drm_gpuvm_sm_unmap(struct drm_gpuvm *gpuvm, const struct drm_gpuvm_ops *ops, void *priv,
			 u64 req_addr, u64 req_range)
{
	if (unlikely(!gpuvm_range_valid(gpuvm, req_addr, req_range)))
		return -EINVAL;
	return sm_unmap_walk(gpuvm, ops, priv, req_addr, req_range);
}

int drm_gpuvm_sm_map(struct drm_gpuvm *gpuvm, void *priv, const struct drm_gpuvm_map_req *req)
{
	const struct drm_gpuvm_ops *ops = gpuvm->ops;

	if (unlikely(!(ops && ops->sm_step_map && ops->sm_step_remap && ops->sm_step_unmap)))
		return -EINVAL;

	return __drm_gpuvm_sm_map(gpuvm, ops, priv, req, false);
}

int drm_gpuvm_sm_unmap(struct drm_gpuvm *gpuvm, void *priv, u64 req_addr, u64 req_range)
{
	const struct drm_gpuvm_ops *ops = gpuvm->ops;

	if (unlikely(!(ops && ops->sm_step_remap && ops->sm_step_unmap)))
		return -EINVAL;

	return __drm_gpuvm_sm_unmap(gpuvm, ops, priv, req_addr, req_range);
}

/* --------------------------------------------------------------- ops lists */

/*
 * Without a driver op_alloc a REMAP op and its three sub-structs come from a
 * single allocation (at most one allocation per op) and are freed as one.
 */
struct remap_op_block {
	struct drm_gpuva_op op;
	struct drm_gpuva_op_map prev;
	struct drm_gpuva_op_map next;
	struct drm_gpuva_op_unmap unmap;
};

/*
 * An ops list is allocated with room for its first DRM_GPUVA_OPS_INLINE ops,
 * so a typical list costs one allocation. Each slot fits any op, a REMAP
 * block included; later ops are allocated one by one.
 */
struct ops_arena {
	struct drm_gpuva_ops ops;
	unsigned int used;
	struct remap_op_block slot[DRM_GPUVA_OPS_INLINE];
};

static struct ops_arena *to_arena(struct drm_gpuva_ops *ops)
{
	return container_of(ops, struct ops_arena, ops);
}

/* Only address arithmetic: nothing is read from a slot that may be unused. */
static bool op_in_arena(struct drm_gpuva_ops *ops, const struct drm_gpuva_op *op)
{
	const uintptr_t first = (uintptr_t)&to_arena(ops)->slot[0];
	const uintptr_t end = (uintptr_t)&to_arena(ops)->slot[DRM_GPUVA_OPS_INLINE];

	return (uintptr_t)op >= first && (uintptr_t)op < end;
}

static bool driver_op_alloc(struct drm_gpuvm *gpuvm)
{
	return gpuvm->ops && gpuvm->ops->op_alloc;
}

/* Zeroed memory for one op, or for a whole REMAP block. */
static void *op_mem_alloc(struct drm_gpuva_ops *ops, size_t size)
{
	struct ops_arena *arena = to_arena(ops);

	if (arena->used < DRM_GPUVA_OPS_INLINE) {
		void *p = &arena->slot[arena->used++];

		memset(p, 0, size);
		return p;
	}
	return kzalloc(size, GFP_KERNEL);
}

static struct drm_gpuva_op *gpuva_op_alloc(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops)
{
	if (driver_op_alloc(gpuvm))
		return gpuvm->ops->op_alloc();
	return op_mem_alloc(ops, sizeof(struct drm_gpuva_op));
}

/*
 * Frees only the op's own memory. Our ops (including REMAP blocks) are kfree'd
 * unless they sit in the list's arena; op_free is for memory from op_alloc.
 */
static void gpuva_op_free_mem(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops,
			      struct drm_gpuva_op *op)
{
	if (driver_op_alloc(gpuvm)) {
		if (gpuvm->ops->op_free)
			gpuvm->ops->op_free(op);
		else
			kfree(op);
	} else if (!op_in_arena(ops, op)) {
		kfree(op);
	}
}

/* Release a REMAP op's separately allocated sub-structs (op_alloc case). */
static void remap_subs_free(struct drm_gpuva_op_remap *r)
{
	kfree(r->prev);
	kfree(r->next);
	kfree(r->unmap);
	r->prev = NULL;
	r->next = NULL;
	r->unmap = NULL;
}

static void gpuva_op_free(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops,
			  struct drm_gpuva_op *op)
{
	if (op->op == DRM_GPUVA_OP_REMAP && driver_op_alloc(gpuvm))
		remap_subs_free(&op->remap);
	gpuva_op_free_mem(gpuvm, ops, op);
}

static void *dup_mem(const void *src, size_t size)
{
	void *p = kmalloc(size, GFP_KERNEL);

	if (p)
		memcpy(p, src, size);
	return p;
}

/*
 * Copy a stack step into a block; a REMAP's sub-structs are copied into the
 * same block. Every member a reader can reach is written: a REMAP's absent
 * prev/next stay unwritten, as nothing points to them.
 */
static inline struct drm_gpuva_op *remap_block_fill(struct remap_op_block *b,
						    const struct drm_gpuva_op *src)
{
	b->op = *src;
	if (src->op == DRM_GPUVA_OP_REMAP) {
		b->unmap = *src->remap.unmap;
		b->op.remap.unmap = &b->unmap;
		if (src->remap.prev) {
			b->prev = *src->remap.prev;
			b->op.remap.prev = &b->prev;
		}
		if (src->remap.next) {
			b->next = *src->remap.next;
			b->op.remap.next = &b->next;
		}
	}
	return &b->op;
}

/* Deep-copy a stack step into a list op; NULL on -ENOMEM (nothing leaked). */
static struct drm_gpuva_op *gpuva_op_dup(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops,
					 const struct drm_gpuva_op *src)
{
	struct drm_gpuva_op *op;

	if (src->op == DRM_GPUVA_OP_REMAP && !driver_op_alloc(gpuvm)) {
		struct remap_op_block *b = op_mem_alloc(ops, sizeof(*b));

		return b ? remap_block_fill(b, src) : NULL;
	}

	op = gpuva_op_alloc(gpuvm, ops);
	if (!op)
		return NULL;
	*op = *src;

	if (src->op != DRM_GPUVA_OP_REMAP)
		return op;

	/* Kernel layout: separately owned sub-structs. Unlike the kernel, a
	 * failure part-way frees the ones already duplicated. */
	op->remap.prev = NULL;
	op->remap.next = NULL;
	op->remap.unmap = dup_mem(src->remap.unmap, sizeof(*src->remap.unmap));
	if (!op->remap.unmap)
		goto err;
	if (src->remap.prev) {
		op->remap.prev = dup_mem(src->remap.prev, sizeof(*src->remap.prev));
		if (!op->remap.prev)
			goto err;
	}
	if (src->remap.next) {
		op->remap.next = dup_mem(src->remap.next, sizeof(*src->remap.next));
		if (!op->remap.next)
			goto err;
	}
	return op;

err:
	remap_subs_free(&op->remap);
	gpuva_op_free_mem(gpuvm, ops, op);
	return NULL;
}

struct ops_builder {
	struct drm_gpuvm *vm;
	struct drm_gpuva_ops *ops;
	bool driver_op_alloc;
};

/* gpuva_op_dup() without a driver op_alloc, for the common case of a free arena slot. */
static inline struct drm_gpuva_op *arena_op_dup(struct drm_gpuva_ops *ops,
						const struct drm_gpuva_op *src)
{
	struct ops_arena *arena = to_arena(ops);

	return remap_block_fill(&arena->slot[arena->used++], src);
}

SM_INLINE int builder_step(struct drm_gpuva_op *step, void *priv)
{
	struct ops_builder *b = priv;
	struct drm_gpuva_op *op;

	if (!b->driver_op_alloc && to_arena(b->ops)->used < DRM_GPUVA_OPS_INLINE)
		op = arena_op_dup(b->ops, step);
	else
		op = gpuva_op_dup(b->vm, b->ops, step);
	if (!op)
		return -ENOMEM;
	list_add_tail(&op->entry, &b->ops->list);
	return 0;
}

/* The next free arena slot, or NULL (full, or the driver allocates ops). */
SM_INLINE struct remap_op_block *builder_slot(struct ops_builder *b)
{
	struct ops_arena *arena = to_arena(b->ops);

	if (b->driver_op_alloc || arena->used >= DRM_GPUVA_OPS_INLINE)
		return NULL;
	return &arena->slot[arena->used++];
}

/* The in-place steps: every member a reader can reach is written. */
SM_INLINE int builder_map(void *priv, u64 addr, u64 range, struct drm_gem_object *obj,
			  u64 offset)
{
	struct ops_builder *b = priv;
	struct remap_op_block *slot = builder_slot(b);
	struct drm_gpuva_op *op = slot ? &slot->op : gpuva_op_alloc(b->vm, b->ops);

	if (!op)
		return -ENOMEM;
	op->op = DRM_GPUVA_OP_MAP;
	op->map.va.addr = addr;
	op->map.va.range = range;
	op->map.gem.offset = offset;
	op->map.gem.obj = obj;
	list_add_tail(&op->entry, &b->ops->list);
	return 0;
}

SM_INLINE int builder_unmap(void *priv, struct drm_gpuva *va, bool keep)
{
	struct ops_builder *b = priv;
	struct remap_op_block *slot = builder_slot(b);
	struct drm_gpuva_op *op = slot ? &slot->op : gpuva_op_alloc(b->vm, b->ops);

	if (!op)
		return -ENOMEM;
	/* Whole-struct store: op_alloc memory need not be zeroed for keep. */
	*op = (struct drm_gpuva_op){ .op = DRM_GPUVA_OP_UNMAP, .unmap = { .va = va, .keep = keep } };
	list_add_tail(&op->entry, &b->ops->list);
	return 0;
}

static inline void builder_piece(struct drm_gpuva_op_map *dst, const struct drm_gpuva_op_map *src)
{
	dst->va.addr = src->va.addr;
	dst->va.range = src->va.range;
	dst->gem.offset = src->gem.offset;
	dst->gem.obj = src->gem.obj;
}

SM_INLINE int builder_remap(void *priv, const struct drm_gpuva_op_map *prev,
			    const struct drm_gpuva_op_map *next,
			    const struct drm_gpuva_op_unmap *unmap)
{
	struct ops_builder *b = priv;
	struct remap_op_block *slot = builder_slot(b);

	if (!slot) {
		/* A driver's op_alloc, or beyond the arena: the generic copy. */
		struct drm_gpuva_op step = {
			.op = DRM_GPUVA_OP_REMAP,
			.remap = {
				.prev = (struct drm_gpuva_op_map *)prev,
				.next = (struct drm_gpuva_op_map *)next,
				.unmap = (struct drm_gpuva_op_unmap *)unmap,
			},
		};

		return builder_step(&step, priv);
	}
	slot->op.op = DRM_GPUVA_OP_REMAP;
	slot->unmap.va = unmap->va;
	slot->unmap.keep = unmap->keep;
	slot->op.remap.unmap = &slot->unmap;
	slot->op.remap.prev = NULL;
	slot->op.remap.next = NULL;
	if (prev) {
		builder_piece(&slot->prev, prev);
		slot->op.remap.prev = &slot->prev;
	}
	if (next) {
		builder_piece(&slot->next, next);
		slot->op.remap.next = &slot->next;
	}
	list_add_tail(&slot->op.entry, &b->ops->list);
	return 0;
}

static const struct drm_gpuvm_ops builder_ops = {
	.sm_step_map = builder_step,
	.sm_step_remap = builder_step,
	.sm_step_unmap = builder_step,
};

static struct drm_gpuva_ops *ops_new(struct drm_gpuvm *gpuvm)
{
	/* Not zeroed: slots are cleared when they are handed out. */
	struct ops_arena *arena = kmalloc(sizeof(*arena), GFP_KERNEL);

	if (!arena)
		return NULL;
	INIT_LIST_HEAD(&arena->ops.list);
	/* A driver's op_alloc provides every op: the slots stay unused. */
	arena->used = driver_op_alloc(gpuvm) ? DRM_GPUVA_OPS_INLINE : 0;
	return &arena->ops;
}

static struct drm_gpuva_ops *__sm_map_ops_create(struct drm_gpuvm *gpuvm,
						 const struct drm_gpuvm_map_req *req, bool madvise)
{
	struct ops_builder b = { .vm = gpuvm, .driver_op_alloc = driver_op_alloc(gpuvm) };
	int ret;

	/* Reject before allocating anything: the walk would anyway. */
	if (unlikely(!gpuvm_range_valid(gpuvm, req->map.va.addr, req->map.va.range)))
		return ERR_PTR(-EINVAL);

	b.ops = ops_new(gpuvm);
	if (!b.ops)
		return ERR_PTR(-ENOMEM);

	ret = sm_map_walk(gpuvm, &builder_ops, &b, req, madvise);
	if (ret) {
		drm_gpuva_ops_free(gpuvm, b.ops);
		return ERR_PTR(ret);
	}
	return b.ops;
}

struct drm_gpuva_ops *drm_gpuvm_sm_map_ops_create(struct drm_gpuvm *gpuvm,
						  const struct drm_gpuvm_map_req *req)
{
	return __sm_map_ops_create(gpuvm, req, false);
}

struct drm_gpuva_ops *drm_gpuvm_madvise_ops_create(struct drm_gpuvm *gpuvm,
						   const struct drm_gpuvm_map_req *req)
{
	return __sm_map_ops_create(gpuvm, req, true);
}

struct drm_gpuva_ops *drm_gpuvm_sm_unmap_ops_create(struct drm_gpuvm *gpuvm, u64 req_addr,
						    u64 req_range)
{
	struct ops_builder b = { .vm = gpuvm, .driver_op_alloc = driver_op_alloc(gpuvm) };
	int ret;

	if (unlikely(!gpuvm_range_valid(gpuvm, req_addr, req_range)))
		return ERR_PTR(-EINVAL);

	b.ops = ops_new(gpuvm);
	if (!b.ops)
		return ERR_PTR(-ENOMEM);

	ret = sm_unmap_walk(gpuvm, &builder_ops, &b, req_addr, req_range);
	if (ret) {
		drm_gpuva_ops_free(gpuvm, b.ops);
		return ERR_PTR(ret);
	}
	return b.ops;
}

/* Append a one-VA op (PREFETCH or UNMAP keep=false); -ENOMEM on failure. */
static int ops_add_va_op(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops,
			 enum drm_gpuva_op_type type, struct drm_gpuva *va)
{
	struct drm_gpuva_op *op = gpuva_op_alloc(gpuvm, ops);

	if (!op)
		return -ENOMEM;
	/* Whole-struct store: op_alloc memory need not be zeroed for keep. */
	if (type == DRM_GPUVA_OP_PREFETCH)
		*op = (struct drm_gpuva_op){ .op = type, .prefetch = { .va = va } };
	else
		*op = (struct drm_gpuva_op){ .op = type, .unmap = { .va = va, .keep = false } };
	list_add_tail(&op->entry, &ops->list);
	return 0;
}

struct drm_gpuva_ops *drm_gpuvm_prefetch_ops_create(struct drm_gpuvm *gpuvm, u64 addr,
						    u64 range)
{
	const u64 end = addr + range;
	struct drm_gpuva_ops *ops;
	struct drm_gpuva *va;

	ops = ops_new(gpuvm);
	if (!ops)
		return ERR_PTR(-ENOMEM);

	/* No validation, as the kernel: the reserved node is walked too. */
	drm_gpuvm_for_each_va_range(va, gpuvm, addr, end) {
		if (ops_add_va_op(gpuvm, ops, DRM_GPUVA_OP_PREFETCH, va)) {
			drm_gpuva_ops_free(gpuvm, ops);
			return ERR_PTR(-ENOMEM);
		}
	}
	return ops;
}

struct drm_gpuva_ops *drm_gpuvm_bo_unmap_ops_create_locked(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *gpuvm = vm_bo->vm;
	struct drm_gpuva_ops *ops;
	struct drm_gpuva *va;

	drm_gem_gpuva_assert_lock_held(gpuvm, vm_bo->obj);

	ops = ops_new(gpuvm);
	if (!ops)
		return ERR_PTR(-ENOMEM);

	drm_gpuvm_bo_for_each_va(va, vm_bo) {
		if (ops_add_va_op(gpuvm, ops, DRM_GPUVA_OP_UNMAP, va)) {
			drm_gpuva_ops_free(gpuvm, ops);
			return ERR_PTR(-ENOMEM);
		}
	}
	return ops;
}

struct drm_gpuva_ops *drm_gpuvm_bo_unmap_ops_create(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuva_ops *ops;
	bool taken;

	/* No reference is dropped in between, so lock/unlock is all it takes. */
	taken = gpuvm_gem_gpuva_lock(vm_bo->vm, vm_bo->obj);
	ops = drm_gpuvm_bo_unmap_ops_create_locked(vm_bo);
	gpuvm_gem_gpuva_unlock(vm_bo->vm, vm_bo->obj, taken);
	return ops;
}

void drm_gpuva_ops_free(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops)
{
	struct drm_gpuva_op *op, *next;

	if (!ops)
		return;

	/*
	 * The list dies with its container: no need to unlink the ops one by
	 * one. While the arena has a free slot no op was allocated on its own.
	 */
	if (!driver_op_alloc(gpuvm)) {
		if (to_arena(ops)->used == DRM_GPUVA_OPS_INLINE) {
			drm_gpuva_for_each_op_safe(op, next, ops)
				if (!op_in_arena(ops, op))
					kfree(op);
		}
	} else {
		drm_gpuva_for_each_op_safe(op, next, ops) {
			list_del(&op->entry);
			gpuva_op_free(gpuvm, ops, op);
		}
	}
	kfree(to_arena(ops));
}

/* ------------------------------------------------- applying single steps */

void drm_gpuva_map(struct drm_gpuvm *gpuvm, struct drm_gpuva *va,
		   const struct drm_gpuva_op_map *op)
{
	drm_gpuva_init_from_op(va, op);
	/* As the kernel, a failed insert is silent: va->vm stays as it was. */
	(void)drm_gpuva_insert(gpuvm, va);
}

void drm_gpuva_remap(struct drm_gpuva *prev, struct drm_gpuva *next,
		     const struct drm_gpuva_op_remap *op)
{
	struct drm_gpuva *va = op->unmap->va;
	/* Read before removal; remove keeps va->vm, but be explicit. */
	struct drm_gpuvm *gpuvm = va->vm;

	/*
	 * The first piece usually fits where @va was: let it take over @va's
	 * tree node instead of a removal and an insertion (same result, see
	 * __drm_gpuva_replace()).
	 */
	if (op->prev) {
		drm_gpuva_init_from_op(prev, op->prev);
		if (__drm_gpuva_replace(va, prev)) {
			if (op->next) {
				drm_gpuva_init_from_op(next, op->next);
				if (!__drm_gpuva_insert_after(gpuvm, prev, next))
					(void)drm_gpuva_insert(gpuvm, next);
			}
			return;
		}
	} else if (op->next) {
		drm_gpuva_init_from_op(next, op->next);
		if (__drm_gpuva_replace(va, next))
			return;
	}

	drm_gpuva_remove(va);

	if (op->prev) {
		drm_gpuva_init_from_op(prev, op->prev);
		(void)drm_gpuva_insert(gpuvm, prev);
	}

	if (op->next) {
		drm_gpuva_init_from_op(next, op->next);
		(void)drm_gpuva_insert(gpuvm, next);
	}
}

void drm_gpuva_unmap(const struct drm_gpuva_op_unmap *op)
{
	drm_gpuva_remove(op->va);
}
