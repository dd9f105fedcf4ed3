/*
 * cffi declarations: vm_bos, the VM x GEM associations
 * (csrc/include/drm/drm_gpuvm.h section drm_gpuvm_bo). The plain forms take
 * the GEM's gpuva lock themselves; the _locked forms expect the caller to hold it.
 */

struct drm_gpuvm_bo {
	struct drm_gpuvm *vm;
	struct drm_gem_object *obj;
	bool evicted;
	struct kref kref;
	struct {
		struct list_head gpuva;
		struct {
			struct list_head gem;
			struct list_head extobj;
			struct list_head evict;
			struct llist_node bo_defer;
		} entry;
	} list;
};

struct drm_gpuvm_bo *drm_gpuvm_bo_create(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);
struct drm_gpuvm_bo *drm_gpuvm_bo_get(struct drm_gpuvm_bo *vm_bo);
bool drm_gpuvm_bo_put_locked(struct drm_gpuvm_bo *vm_bo);
bool drm_gpuvm_bo_put(struct drm_gpuvm_bo *vm_bo);
bool drm_gpuvm_bo_put_deferred(struct drm_gpuvm_bo *vm_bo);
void drm_gpuvm_bo_deferred_cleanup(struct drm_gpuvm *gpuvm);

struct drm_gpuvm_bo *drm_gpuvm_bo_find_locked(struct drm_gpuvm *gpuvm,
					      struct drm_gem_object *obj);
struct drm_gpuvm_bo *drm_gpuvm_bo_find(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);
struct drm_gpuvm_bo *drm_gpuvm_bo_obtain_locked(struct drm_gpuvm *gpuvm,
						struct drm_gem_object *obj);
struct drm_gpuvm_bo *drm_gpuvm_bo_obtain(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj);
struct drm_gpuvm_bo *drm_gpuvm_bo_obtain_prealloc(struct drm_gpuvm_bo *vm_bo);

void drm_gpuvm_bo_extobj_add(struct drm_gpuvm_bo *vm_bo);
void drm_gpuvm_bo_evict(struct drm_gpuvm_bo *vm_bo, bool evict);
void drm_gpuvm_bo_gem_evict_locked(struct drm_gem_object *obj, bool evict);
void drm_gpuvm_bo_gem_evict(struct drm_gem_object *obj, bool evict);
