/*
 * cffi declarations: split/merge ops, ops lists, applying ops
 * (csrc/include/drm/drm_gpuvm.h section "ops", csrc/include/drm/gpuvm_apply.h).
 * The op union is anonymous as in C: op.map.va.addr, op.remap.prev, op.unmap.keep.
 */

enum drm_gpuva_op_type {
	DRM_GPUVA_OP_MAP,
	DRM_GPUVA_OP_REMAP,
	DRM_GPUVA_OP_UNMAP,
	DRM_GPUVA_OP_PREFETCH,
	DRM_GPUVA_OP_DRIVER,
	...
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
	struct drm_gpuva_op_map *prev;
	struct drm_gpuva_op_map *next;
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

/*
 * List navigation macros, callable as functions (API mode compiles the call):
 * the first/last op of a non-empty list; next/prev of an op (at either end
 * they return the list head's container, as the kernel's: check against
 * drm_gpuva_last_op/drm_gpuva_first_op before stepping).
 */
struct drm_gpuva_op *drm_gpuva_first_op(struct drm_gpuva_ops *ops);
struct drm_gpuva_op *drm_gpuva_last_op(struct drm_gpuva_ops *ops);
struct drm_gpuva_op *drm_gpuva_next_op(struct drm_gpuva_op *op);
struct drm_gpuva_op *drm_gpuva_prev_op(struct drm_gpuva_op *op);

struct drm_gpuva_ops *drm_gpuvm_sm_map_ops_create(struct drm_gpuvm *gpuvm,
						  const struct drm_gpuvm_map_req *req);
struct drm_gpuva_ops *drm_gpuvm_madvise_ops_create(struct drm_gpuvm *gpuvm,
						   const struct drm_gpuvm_map_req *req);
struct drm_gpuva_ops *drm_gpuvm_sm_unmap_ops_create(struct drm_gpuvm *gpuvm, u64 req_addr,
						    u64 req_range);
struct drm_gpuva_ops *drm_gpuvm_prefetch_ops_create(struct drm_gpuvm *gpuvm, u64 addr,
						    u64 range);
struct drm_gpuva_ops *drm_gpuvm_bo_unmap_ops_create_locked(struct drm_gpuvm_bo *vm_bo);
struct drm_gpuva_ops *drm_gpuvm_bo_unmap_ops_create(struct drm_gpuvm_bo *vm_bo);
void drm_gpuva_ops_free(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops);

void drm_gpuva_init_from_op(struct drm_gpuva *va, const struct drm_gpuva_op_map *op);
void drm_gpuva_map(struct drm_gpuvm *gpuvm, struct drm_gpuva *va,
		   const struct drm_gpuva_op_map *op);
void drm_gpuva_remap(struct drm_gpuva *prev, struct drm_gpuva *next,
		     const struct drm_gpuva_op_remap *op);
void drm_gpuva_unmap(const struct drm_gpuva_op_unmap *op);
void drm_gpuva_op_remap_to_unmap_range(const struct drm_gpuva_op_remap *op,
				       u64 *start_addr, u64 *range);

int drm_gpuvm_sm_map(struct drm_gpuvm *gpuvm, void *priv, const struct drm_gpuvm_map_req *req);
int drm_gpuvm_sm_unmap(struct drm_gpuvm *gpuvm, void *priv, u64 req_addr, u64 req_range);

/* gpuvm_apply.h: pygpuvm's reference driver. */
enum gpuvm_apply_flags {
	GPUVM_APPLY_LOCKED,
	...
};

struct gpuvm_apply_ctx {
	u32 flags;
	struct drm_gpuva *(*va_alloc)(void *priv);
	void (*va_free)(struct drm_gpuva *va, void *priv);
	void (*insert_failed)(const struct drm_gpuva_op_map *piece, void *priv);
	void (*va_removed)(struct drm_gpuva *va, void *priv);
	void *priv;
};

int gpuvm_apply_ops(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo *vm_bo,
		    struct drm_gpuva_ops *ops, const struct gpuvm_apply_ctx *ctx);
