/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <drm/drm_exec.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_DRM_DRM_EXEC_H
#define PYGPUVM_KOVL_DRM_DRM_EXEC_H
#include "../../kshim.h"
#endif
