/*
 * cffi declarations: the device handle and userspace GEM objects
 * (csrc/include/drm/{drm_device,drm_gem}.h). struct dma_resv is completed in
 * resv.h; the object's embedded _resv and gpuva lock are left to the compiler.
 */

struct dma_resv;
struct drm_gpuvm;
struct drm_gpuvm_bo;

struct device {
	struct device *parent;
	const char *init_name;
	void *driver_data;
};
const char *dev_name(const struct device *dev);
void *dev_get_drvdata(const struct device *dev);
void dev_set_drvdata(struct device *dev, void *data);

struct drm_device {
	struct device *dev;
	void *dev_private;
	const char *name;
	...;
};
struct drm_device *drm_dev_alloc(const char *name);
void drm_dev_get(struct drm_device *dev);
void drm_dev_put(struct drm_device *dev);

struct drm_gem_object;

struct drm_gem_object_funcs {
	void (*free)(struct drm_gem_object *obj);
};

struct drm_gem_object {
	struct drm_device *dev;
	size_t size;
	const struct drm_gem_object_funcs *funcs;
	struct dma_resv *resv;
	struct drm_gem_object *resv_obj;
	void *priv;
	...;
};

void drm_gem_private_object_init(struct drm_device *dev, struct drm_gem_object *obj,
				 size_t size);
void drm_gem_private_object_fini(struct drm_gem_object *obj);
void drm_gem_object_init_shared_resv(struct drm_device *dev, struct drm_gem_object *obj,
				     size_t size, struct drm_gem_object *resv_obj);
void drm_gem_object_release(struct drm_gem_object *obj);
int drm_gem_object_init(struct drm_device *dev, struct drm_gem_object *obj, size_t size);
struct drm_gem_object *drm_gem_object_create(struct drm_device *dev, size_t size,
					     struct drm_gem_object *resv_obj);
void drm_gem_object_get(struct drm_gem_object *obj);
void drm_gem_object_put(struct drm_gem_object *obj);
void drm_gem_gpuva_init(struct drm_gem_object *obj);
