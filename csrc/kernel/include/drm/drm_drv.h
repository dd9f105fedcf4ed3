/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <drm/drm_drv.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_DRM_DRM_DRV_H
#define PYGPUVM_KOVL_DRM_DRM_DRV_H
#include "../../kshim.h"
#endif
