/* SPDX-License-Identifier: MIT */
/*
 * DRM logging and device-WARN helpers with the kernel's names: drm_err() and
 * friends print to stderr prefixed with the device name; drm_dbg*() compile to
 * nothing; drm_WARN*() are linux/bug.h's WARN*() (counted, hookable) with the
 * device named in the message.
 */
#ifndef PYGPUVM_DRM_PRINT_H
#define PYGPUVM_DRM_PRINT_H

#include <stdio.h>

#include "drm/drm_device.h"
#include "linux/bug.h"
#include "linux/printk.h"

static inline const char *gpuvm_drm_name__(const struct drm_device *drm)
{
	if (!drm)
		return "drm";
	if (drm->dev && drm->dev->init_name)
		return drm->dev->init_name;
	return drm->name ? drm->name : "drm";
}

#define drm_printk__(lvl, drm, fmt, ...) \
	fprintf(stderr, "%s: " lvl fmt, gpuvm_drm_name__(drm) __VA_OPT__(,) __VA_ARGS__)
#define drm_err(drm, fmt, ...) drm_printk__("[drm] *ERROR* ", drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_warn(drm, fmt, ...) drm_printk__("[drm] ", drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_notice(drm, fmt, ...) drm_printk__("[drm] ", drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_info(drm, fmt, ...) drm_printk__("[drm] ", drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_err_once(drm, fmt, ...) drm_err(drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_warn_once(drm, fmt, ...) drm_warn(drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_info_once(drm, fmt, ...) drm_info(drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_dbg__(drm, fmt, ...)                                                       \
	do {                                                                           \
		if (0)                                                                 \
			drm_printk__("", drm, fmt __VA_OPT__(,) __VA_ARGS__);          \
	} while (0)
#define drm_dbg(drm, fmt, ...) drm_dbg__(drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_dbg_driver(drm, fmt, ...) drm_dbg__(drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_dbg_core(drm, fmt, ...) drm_dbg__(drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_dbg_kms(drm, fmt, ...) drm_dbg__(drm, fmt __VA_OPT__(,) __VA_ARGS__)
#define drm_dbg_prime(drm, fmt, ...) drm_dbg__(drm, fmt __VA_OPT__(,) __VA_ARGS__)

/* Old device-less forms. */
#define DRM_ERROR(fmt, ...) drm_err(NULL, fmt __VA_OPT__(,) __VA_ARGS__)
#define DRM_INFO(fmt, ...) drm_info(NULL, fmt __VA_OPT__(,) __VA_ARGS__)
#define DRM_DEBUG(fmt, ...) drm_dbg__(NULL, fmt __VA_OPT__(,) __VA_ARGS__)
#define DRM_DEBUG_DRIVER(fmt, ...) drm_dbg__(NULL, fmt __VA_OPT__(,) __VA_ARGS__)

/* WARNs naming the device; evaluate to the condition like WARN(). */
#define drm_WARN(drm, cond, fmt, ...) \
	WARN(cond, "%s: " fmt, gpuvm_drm_name__(drm) __VA_OPT__(,) __VA_ARGS__)
#define drm_WARN_ONCE(drm, cond, fmt, ...) \
	WARN_ONCE(cond, "%s: " fmt, gpuvm_drm_name__(drm) __VA_OPT__(,) __VA_ARGS__)
#define drm_WARN_ON(drm, x) drm_WARN(drm, x, "drm_WARN_ON(%s)", #x)
#define drm_WARN_ON_ONCE(drm, x) drm_WARN_ONCE(drm, x, "drm_WARN_ON_ONCE(%s)", #x)

#endif
