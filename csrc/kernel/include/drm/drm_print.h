/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <drm/drm_print.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_DRM_DRM_PRINT_H
#define PYGPUVM_KOVL_DRM_DRM_PRINT_H
#include "../../kshim.h"
#endif
