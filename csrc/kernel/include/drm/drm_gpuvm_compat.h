/* SPDX-License-Identifier: MIT */
/*
 * Kernel-build overlay for <drm/drm_gpuvm_compat.h>. Over the port this header
 * gives the kernel's names their caller-locked meaning; the kernel's own
 * drm_gpuvm.h already has it. One spelling differs by version: code written
 * for the caller-locked drm_gpuvm_bo_obtain() (its name in 6.12) gets the
 * tree's drm_gpuvm_bo_obtain_locked() where the tree renamed it (probe
 * GPUVM_HAVE_BO_OBTAIN_LOCKED, csrc/kernel/meson.build).
 */
#ifndef PYGPUVM_KOVL_DRM_DRM_GPUVM_COMPAT_H
#define PYGPUVM_KOVL_DRM_DRM_GPUVM_COMPAT_H
#include "../../kshim.h"
#include <drm/drm_gpuvm.h>
#ifdef GPUVM_HAVE_BO_OBTAIN_LOCKED
#define drm_gpuvm_bo_obtain(gpuvm, obj) drm_gpuvm_bo_obtain_locked(gpuvm, obj)
#endif
#endif
