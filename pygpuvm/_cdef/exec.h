/*
 * cffi declarations: drm_exec transactions and the gpuvm exec/validate helpers
 * (csrc/include/drm/drm_exec.h, drm_gpuvm.h section "exec / locking").
 * drm_exec_until_all_locked() is a loop macro: from Python, loop on
 * drm_exec_cleanup() and retry while drm_exec_is_contended().
 */

#define DRM_EXEC_INTERRUPTIBLE_WAIT ...
#define DRM_EXEC_IGNORE_DUPLICATES ...

struct drm_exec {
	u32 flags;
	struct ww_acquire_ctx ticket;
	unsigned int num_objects;
	unsigned int max_objects;
	struct drm_gem_object **objects;
	struct drm_gem_object *contended;
	struct drm_gem_object *prelocked;
	unsigned long num_backoffs;
	...;
};

void drm_exec_init(struct drm_exec *exec, u32 flags, unsigned int nr);
void drm_exec_fini(struct drm_exec *exec);
bool drm_exec_cleanup(struct drm_exec *exec);
int drm_exec_lock_obj(struct drm_exec *exec, struct drm_gem_object *obj);
void drm_exec_unlock_obj(struct drm_exec *exec, struct drm_gem_object *obj);
int drm_exec_prepare_obj(struct drm_exec *exec, struct drm_gem_object *obj,
			 unsigned int num_fences);
int drm_exec_prepare_array(struct drm_exec *exec, struct drm_gem_object **objects,
			   unsigned int num_objects, unsigned int num_fences);
bool drm_exec_is_contended(struct drm_exec *exec);
struct drm_gem_object *drm_exec_obj(struct drm_exec *exec, unsigned long index);

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

int drm_gpuvm_prepare_vm(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			 unsigned int num_fences);
int drm_gpuvm_prepare_objects(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			      unsigned int num_fences);
int drm_gpuvm_prepare_range(struct drm_gpuvm *gpuvm, struct drm_exec *exec, u64 addr,
			    u64 range, unsigned int num_fences);
int drm_gpuvm_exec_lock(struct drm_gpuvm_exec *vm_exec);
int drm_gpuvm_exec_lock_array(struct drm_gpuvm_exec *vm_exec, struct drm_gem_object **objs,
			      unsigned int num_objs);
int drm_gpuvm_exec_lock_range(struct drm_gpuvm_exec *vm_exec, u64 addr, u64 range);
void drm_gpuvm_exec_unlock(struct drm_gpuvm_exec *vm_exec);
int drm_gpuvm_validate(struct drm_gpuvm *gpuvm, struct drm_exec *exec);
int drm_gpuvm_exec_validate(struct drm_gpuvm_exec *vm_exec);
void drm_gpuvm_resv_add_fence(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			      struct dma_fence *fence, enum dma_resv_usage private_usage,
			      enum dma_resv_usage extobj_usage);
void drm_gpuvm_exec_resv_add_fence(struct drm_gpuvm_exec *vm_exec, struct dma_fence *fence,
				   enum dma_resv_usage private_usage,
				   enum dma_resv_usage extobj_usage);
int drm_gpuvm_sm_map_exec_lock(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
			       unsigned int num_fences, struct drm_gpuvm_map_req *req);
int drm_gpuvm_sm_unmap_exec_lock(struct drm_gpuvm *gpuvm, struct drm_exec *exec,
				 u64 req_addr, u64 req_range);
