/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <drm/drm_device.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_DRM_DRM_DEVICE_H
#define PYGPUVM_KOVL_DRM_DRM_DEVICE_H
#include "../../kshim.h"
#endif
