/* SPDX-License-Identifier: MIT */
/*
 * C prelude of the cffi extension pygpuvm._gpuvm (input of
 * `cffi-gen-src read-sources`; pasted verbatim at the top of the generated
 * _gpuvm.c). Everything the cdef (the pygpuvm/_cdef fragments) names must be declared
 * by the headers included here.
 *
 * Headers of the C core (include dirs: csrc/include and csrc):
 *   drm/drm_gpuvm.h  drm/drm_gem.h  drm/drm_exec.h  drm/drm_device.h
 *   linux/dma-resv.h linux/dma-fence.h linux/ww_mutex.h linux/mutex.h
 *   linux/kref.h     linux/list.h   linux/err.h  (+ private headers in csrc, below)
 *
 * While the core is being written, each include is guarded by __has_include
 * so the extension builds with whatever headers exist; when a header is
 * final, turning its guard into a plain #include makes a missing header a
 * hard error again.
 */
#if __has_include("linux/types.h")
#include "linux/types.h"
#endif
#if __has_include("linux/err.h")
#include "linux/err.h"
#endif
#if __has_include("linux/kref.h")
#include "linux/kref.h"
#endif
#if __has_include("linux/list.h")
#include "linux/list.h"
#endif
#if __has_include("linux/mutex.h")
#include "linux/mutex.h"
#endif
#if __has_include("linux/ww_mutex.h")
#include "linux/ww_mutex.h"
#endif
#if __has_include("linux/dma-fence.h")
#include "linux/dma-fence.h"
#endif
#if __has_include("linux/dma-resv.h")
#include "linux/dma-resv.h"
#endif
#if __has_include("drm/drm_device.h")
#include "drm/drm_device.h"
#endif
#if __has_include("drm/drm_gem.h")
#include "drm/drm_gem.h"
#endif
#if __has_include("drm/drm_gpuvm.h")
#include "drm/drm_gpuvm.h"
#endif
#if __has_include("drm/drm_exec.h")
#include "drm/drm_exec.h"
#endif

/* Private headers of the core (in csrc). */
#if __has_include("alloc.h")
#include "alloc.h"
#endif
#if __has_include("diag.h")
#include "diag.h"
#endif
#if __has_include("lock.h")
#include "lock.h"
#endif
#if __has_include("pyhelpers.h")
#include "pyhelpers.h"
#endif
