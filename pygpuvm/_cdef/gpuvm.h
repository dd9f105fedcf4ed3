/*
 * cffi declarations: VAs and the VM (csrc/include/drm/drm_gpuvm.h, sections
 * drm_gpuva and drm_gpuvm, plus struct drm_gpuvm_ops). Nested members keep
 * their C paths: va.va.addr, va.gem.obj, vm.kernel_alloc_node.va.range.
 * The iteration macros have function forms in pyhelpers.h.
 */

struct drm_gpuvm_ops;
struct drm_exec;
struct drm_gpuva_op;

enum drm_gpuva_flags {
	DRM_GPUVA_INVALIDATED,
	DRM_GPUVA_SPARSE,
	DRM_GPUVA_USERBITS,
	...
};

struct drm_gpuva {
	struct {
		u64 addr;
		u64 range;
	} va;
	struct {
		struct rb_node node;
		u64 __subtree_last;
		struct list_head entry;
	} rb;
	struct drm_gpuvm *vm;
	struct drm_gpuvm_bo *vm_bo;
	enum drm_gpuva_flags flags;
	struct {
		u64 offset;
		struct drm_gem_object *obj;
		struct list_head entry;
	} gem;
};

int drm_gpuva_insert(struct drm_gpuvm *gpuvm, struct drm_gpuva *va);
void drm_gpuva_remove(struct drm_gpuva *va);

void drm_gpuva_link_locked(struct drm_gpuva *va, struct drm_gpuvm_bo *vm_bo);
void drm_gpuva_link(struct drm_gpuva *va, struct drm_gpuvm_bo *vm_bo);
void drm_gpuva_unlink_locked(struct drm_gpuva *va);
void drm_gpuva_unlink(struct drm_gpuva *va);
void drm_gpuva_unlink_defer(struct drm_gpuva *va);

struct drm_gpuva *drm_gpuva_find(struct drm_gpuvm *gpuvm, u64 addr, u64 range);
struct drm_gpuva *drm_gpuva_find_first(struct drm_gpuvm *gpuvm, u64 addr, u64 range);
struct drm_gpuva *drm_gpuva_find_prev(struct drm_gpuvm *gpuvm, u64 start);
struct drm_gpuva *drm_gpuva_find_next(struct drm_gpuvm *gpuvm, u64 end);

void drm_gpuva_init_lists(struct drm_gpuva *va);
void drm_gpuva_invalidate(struct drm_gpuva *va, bool invalidate);
bool drm_gpuva_invalidated(struct drm_gpuva *va);
struct drm_gpuva *__drm_gpuva_next(struct drm_gpuva *va);

enum drm_gpuvm_flags {
	DRM_GPUVM_RESV_PROTECTED,
	DRM_GPUVM_IMMEDIATE_MODE,
	DRM_GPUVM_USERBITS,
	...
};

struct drm_gpuvm {
	const char *name;
	enum drm_gpuvm_flags flags;
	struct drm_device *drm;
	u64 mm_start;
	u64 mm_range;
	struct {
		struct rb_root_cached tree;
		struct list_head list;
	} rb;
	struct drm_gpuva kernel_alloc_node;
	bool kernel_alloc_node_inserted;
	const struct drm_gpuvm_ops *ops;
	struct drm_gem_object *r_obj;
	...;
};

void drm_gpuvm_init(struct drm_gpuvm *gpuvm, const char *name, enum drm_gpuvm_flags flags,
		    struct drm_device *drm, struct drm_gem_object *r_obj, u64 start_offset,
		    u64 range, u64 reserve_offset, u64 reserve_range,
		    const struct drm_gpuvm_ops *ops);
struct drm_gpuvm *drm_gpuvm_get(struct drm_gpuvm *gpuvm);
void drm_gpuvm_put(struct drm_gpuvm *gpuvm);

bool drm_gpuvm_range_valid(struct drm_gpuvm *gpuvm, u64 addr, u64 range);
bool drm_gpuvm_interval_empty(struct drm_gpuvm *gpuvm, u64 addr, u64 range);
struct drm_gem_object *drm_gpuvm_resv_object_alloc(struct drm_device *drm);

bool drm_gpuvm_resv_protected(struct drm_gpuvm *gpuvm);
bool drm_gpuvm_immediate_mode(struct drm_gpuvm *gpuvm);
/* Macros in C; cffi compiles calls to them. */
struct dma_resv *drm_gpuvm_resv(struct drm_gpuvm *gpuvm);
struct drm_gem_object *drm_gpuvm_resv_obj(struct drm_gpuvm *gpuvm);
bool drm_gpuvm_resv_held(struct drm_gpuvm *gpuvm);
void drm_gpuvm_resv_assert_held(struct drm_gpuvm *gpuvm);
bool drm_gpuvm_is_extobj(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);
bool drm_gem_gpuva_lock_held(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);
void drm_gem_gpuva_assert_lock_held(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);

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
