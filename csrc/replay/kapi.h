/* SPDX-License-Identifier: MIT */
/*
 * The drm_gpuvm API as gpuvm-replay uses it, for both backends:
 *  - GPUVM_KERNEL_TREE set (csrc/kernel/meson.build): the kernel tree's own
 *    <drm/drm_gpuvm.h>, found through csrc/kernel/include, with the
 *    GPUVM_HAVE_* macros that meson's probes of that header defined;
 *  - otherwise our port's header, plus drm_gpuvm_compat.h so the kernel's
 *    names mean the kernel's (caller-locked) functions; the port has the
 *    newest form of every call.
 * Everything else the replay calls is a stand-in (csrc/standin), shared by
 * both programs.
 */
#ifndef GPUVM_REPLAY_KAPI_H
#define GPUVM_REPLAY_KAPI_H

#ifdef GPUVM_KERNEL_TREE
#include <drm/drm_gpuvm.h>
#else
#include "drm/drm_gpuvm.h"
#include "drm/drm_gpuvm_compat.h"
/* sm_map takes a struct drm_gpuvm_map_req (kernel v6.17 on). */
#define GPUVM_HAVE_MAP_REQ 1
/* drm_gpuvm_bo_obtain_locked() is the caller-locked obtain (kernel v7.0 on). */
#define GPUVM_HAVE_BO_OBTAIN_LOCKED 1
#endif
#include "linux/bug.h"
#include "linux/slab.h"

/* The stand-ins' allocator, with or without the kernel's gfp argument. */
#ifdef GFP_KERNEL
#define replay_kmalloc(n) kmalloc(n, GFP_KERNEL)
#define replay_kzalloc(n) kzalloc(n, GFP_KERNEL)
#define replay_krealloc(p, n) krealloc(p, n, GFP_KERNEL)
#else
#define replay_kmalloc(n) kmalloc(n)
#define replay_kzalloc(n) kzalloc(n)
#define replay_krealloc(p, n) krealloc(p, n)
#endif

/* Obtain (create or find) @obj's vm_bo; the caller holds the GEM's gpuva lock. */
static inline struct drm_gpuvm_bo *replay_bo_obtain(struct drm_gpuvm *gpuvm,
						    struct drm_gem_object *obj)
{
#ifdef GPUVM_HAVE_BO_OBTAIN_LOCKED
	return drm_gpuvm_bo_obtain_locked(gpuvm, obj);
#else
	/* Before v7.0 this name was the caller-locked form. */
	return drm_gpuvm_bo_obtain(gpuvm, obj);
#endif
}

static inline struct drm_gpuva_ops *replay_sm_map_ops_create(struct drm_gpuvm *gpuvm, u64 addr,
							     u64 range,
							     struct drm_gem_object *obj,
							     u64 offset)
{
#ifdef GPUVM_HAVE_MAP_REQ
	const struct drm_gpuvm_map_req req = {
		.map.va.addr = addr,
		.map.va.range = range,
		.map.gem.obj = obj,
		.map.gem.offset = offset,
	};

	return drm_gpuvm_sm_map_ops_create(gpuvm, &req);
#else
	return drm_gpuvm_sm_map_ops_create(gpuvm, addr, range, obj, offset);
#endif
}

#endif
