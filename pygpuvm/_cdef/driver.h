/*
 * cffi declarations: the reference driver of the C core
 * (csrc/include/drm/gpuvm_driver.h, csrc/driver/), the sequences the Python
 * classes run: binds, batches, vm_bo lifetimes and lists, hand-made VAs,
 * VM_BIND locking.
 */

enum gpuvm_bind_op {
	GPUVM_BIND_MAP = 1,
	GPUVM_BIND_UNMAP = 2,
	GPUVM_BIND_PREFETCH = 3,
	GPUVM_BIND_MADVISE = 4,
};

struct gpuvm_bind_req {
	u32 op;                      /* enum gpuvm_bind_op */
	u64 addr;
	u64 range;
	struct drm_gem_object *obj;  /* map: the object, or NULL */
	u64 offset;                  /* map: offset into obj */
};

struct gpuvm_batch_result {
	size_t processed;  /* requests handled (applied or refused) */
	size_t errors;     /* requests refused (errs[i] != 0) */
	size_t changed;    /* requests that applied at least one op */
	long ops;          /* ops applied */
	long inserted;
	long removed;
	long failed;
};

struct gpuvm_bind_stats {
	long ops;
	long inserted;
	long removed;
	long failed;
};

struct gpuvm_bind_ctx {
	const struct gpuvm_apply_ctx *apply;
	int (*ops_created)(struct drm_gpuva_ops *ops, void *priv);
	void *priv;
};

/* ---- binds (the classes go through the record packers of pyhelpers.h) */
struct drm_gpuva_ops *gpuvm_driver_ops_create(struct drm_gpuvm *gpuvm,
					      const struct gpuvm_bind_req *req);
int gpuvm_driver_apply(struct drm_gpuvm *gpuvm, struct drm_gpuva_ops *ops,
		       const struct gpuvm_apply_ctx *ctx, struct gpuvm_bind_stats *stats);
int gpuvm_driver_bind(struct drm_gpuvm *gpuvm, const struct gpuvm_bind_req *req,
		      const struct gpuvm_bind_ctx *ctx, struct gpuvm_bind_stats *stats);
size_t gpuvm_driver_bind_batch(struct drm_gpuvm *gpuvm, const struct gpuvm_bind_req *reqs,
			       size_t n, bool stop_on_error, int *errs,
			       const struct gpuvm_apply_ctx *ctx, struct gpuvm_batch_result *out);
/* Tear down: unlink, remove and free every VA, drop the caller's VM reference. */
void gpuvm_driver_vm_release(struct drm_gpuvm *gpuvm, const struct gpuvm_apply_ctx *ctx);

/* ---- vm_bos (references are taken for every entry written to @out) */
/* drm_gpuvm_bo_obtain + extobj_add; ERR_PTR on failure. */
struct drm_gpuvm_bo *gpuvm_driver_bo_obtain(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);
/* Drop a vm_bo reference safely from any context (VM resv taken if RESV_PROTECTED). */
void gpuvm_driver_bo_put(struct drm_gpuvm_bo *vm_bo);
void gpuvm_driver_bo_evict(struct drm_gpuvm_bo *vm_bo, bool evict);
bool gpuvm_driver_bo_on_extobj_list(struct drm_gpuvm_bo *vm_bo);
bool gpuvm_driver_bo_on_evict_list(struct drm_gpuvm_bo *vm_bo);
size_t gpuvm_driver_gem_vm_bos(struct drm_gem_object *obj, struct drm_gpuvm_bo **out, size_t max);
size_t gpuvm_driver_vm_extobjs(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo **out, size_t max);
size_t gpuvm_driver_vm_evicted(struct drm_gpuvm *gpuvm, struct drm_gpuvm_bo **out, size_t max);
void gpuvm_driver_deferred_cleanup(struct drm_gpuvm *gpuvm);

/* ---- hand-made VAs (kzalloc'd, linked to their vm_bo) */
struct drm_gpuva *gpuvm_driver_va_insert(struct drm_gpuvm *gpuvm, u64 addr, u64 range,
					 struct drm_gem_object *obj, u64 offset, int *err);
void gpuvm_driver_va_destroy(struct drm_gpuva *va);

/* ---- VM_BIND locking: 0 (all locked) or a negative errno (nothing locked) */
int gpuvm_driver_exec_lock_binds(struct drm_gpuvm_exec *vm_exec,
				 const struct gpuvm_bind_req *reqs, unsigned int num_reqs,
				 bool lock_vm, struct drm_gem_object **objs, unsigned int num_objs);
