/* SPDX-License-Identifier: MIT */
/*
 * struct drm_device as far as GPU VA code uses it: a refcounted handle with
 * the kernel's @dev (the parent struct device) and @dev_private (driver data)
 * fields. Implementation: csrc/standin/drm_gem.c.
 */
#ifndef PYGPUVM_DRM_DEVICE_H
#define PYGPUVM_DRM_DEVICE_H

#include "linux/device.h"
#include "linux/kref.h"

struct drm_device {
	struct kref ref;
	/* The parent device (the kernel's bus device); may be NULL here. */
	struct device *dev;
	/* Free for the driver (the kernel's deprecated-but-used dev_private). */
	void *dev_private;
	/* Ours: a name for diagnostics, not copied. */
	const char *name;
};

/*
 * Ours, not the kernel's drm_dev_alloc(driver, parent): a new device with one
 * reference and no parent; NULL on -ENOMEM. @name is not copied. Set ->dev
 * and ->dev_private yourself.
 */
struct drm_device *drm_dev_alloc(const char *name);
void drm_dev_get(struct drm_device *dev);
/* NULL-safe; frees a drm_dev_alloc() device with the last reference. */
void drm_dev_put(struct drm_device *dev);

#endif
