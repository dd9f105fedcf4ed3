/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <drm/drm_gem.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_DRM_DRM_GEM_H
#define PYGPUVM_KOVL_DRM_DRM_GEM_H
#include "../../kshim.h"
#endif
