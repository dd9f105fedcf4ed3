/* SPDX-License-Identifier: MIT */
/* A refcounted device handle: all a VM needs of struct drm_device. */
#ifndef PYGPUVM_DRM_DEVICE_H
#define PYGPUVM_DRM_DEVICE_H

#include "linux/kref.h"

struct drm_device {
	struct kref ref;
	const char *name;
};

/* A new device with one reference; NULL on -ENOMEM. @name is not copied. */
struct drm_device *drm_dev_alloc(const char *name);
void drm_dev_get(struct drm_device *dev);
/* NULL-safe; frees the device with the last reference. */
void drm_dev_put(struct drm_device *dev);

#endif
