/* SPDX-License-Identifier: MIT */
/*
 * drm_exec: lock a set of GEM objects' reservation objects in one deadlock-free
 * transaction. On contention every lock is dropped, the contended object is
 * locked first (slow path) and the caller's locking block is run again.
 * Implementation: csrc/standin/drm_exec.c.
 *
 *	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT, 0);
 *	drm_exec_until_all_locked(&exec) {
 *		ret = drm_exec_prepare_obj(&exec, obj, 1);
 *		drm_exec_retry_on_contention(&exec);
 *		if (ret)
 *			goto error;
 *	}
 *	...
 *	drm_exec_fini(&exec);
 */
#ifndef PYGPUVM_DRM_EXEC_H
#define PYGPUVM_DRM_EXEC_H

#include "linux/bug.h"
#include "linux/ww_mutex.h"

struct drm_gem_object;

#define DRM_EXEC_INTERRUPTIBLE_WAIT BIT(0)
#define DRM_EXEC_IGNORE_DUPLICATES BIT(1)

struct drm_exec {
	u32 flags;
	struct ww_acquire_ctx ticket;
	unsigned int num_objects;
	unsigned int max_objects;
	/* Locked objects, each with a GEM reference held by the exec. */
	struct drm_gem_object **objects;
	/* Object to lock first on the next pass (referenced), or a start marker. */
	struct drm_gem_object *contended;
	/* Object locked by the slow path, to be claimed by the next lock call. */
	struct drm_gem_object *prelocked;
	/* Statistics: passes restarted because of contention. */
	unsigned long num_backoffs;
};

void drm_exec_init(struct drm_exec *exec, u32 flags, unsigned int nr);
/* Unlock everything, drop the references, free the array. */
void drm_exec_fini(struct drm_exec *exec);
/* Loop driver: true while the locking block must (re)run. */
bool drm_exec_cleanup(struct drm_exec *exec);
/* 0, -EDEADLK (contended: retry), -EALREADY (duplicate), -ENOMEM. */
int drm_exec_lock_obj(struct drm_exec *exec, struct drm_gem_object *obj);
void drm_exec_unlock_obj(struct drm_exec *exec, struct drm_gem_object *obj);
/* Lock and reserve @num_fences fence slots. */
int drm_exec_prepare_obj(struct drm_exec *exec, struct drm_gem_object *obj,
			 unsigned int num_fences);
int drm_exec_prepare_array(struct drm_exec *exec, struct drm_gem_object **objects,
			   unsigned int num_objects, unsigned int num_fences);

static inline bool drm_exec_is_contended(struct drm_exec *exec)
{
	return exec->contended != NULL;
}

/*
 * The locking block. drm_exec_retry_on_contention() inside it jumps straight
 * back to its head, from any nesting depth (inner loops, switches), exactly
 * like the kernel's: nothing after the retry point runs in the failed pass.
 *
 * How: a label in front of the loop, whose address (GNU C labels-as-values,
 * as the kernel uses) lives in a variable scoped to the loop; the retry is a
 * computed goto to it, which re-enters the loop and so calls
 * drm_exec_cleanup() again (back off, slow-lock the contended object).
 * Needs GCC or Clang (any -std); one block per source line. Using
 * drm_exec_retry_on_contention() outside a block fails to compile.
 */
#define GPUVM_EXEC_PASTE2__(a, b) a##b
#define GPUVM_EXEC_PASTE__(a, b) GPUVM_EXEC_PASTE2__(a, b)
#define GPUVM_EXEC_LABEL__ GPUVM_EXEC_PASTE__(gpuvm_exec_retry_, __LINE__)

#define drm_exec_until_all_locked(exec)                                          \
	GPUVM_EXEC_LABEL__:                                                      \
	for (void *gpuvm_exec_retry_to__ = &&GPUVM_EXEC_LABEL__;                 \
	     (void)gpuvm_exec_retry_to__, drm_exec_cleanup(exec);)

#define drm_exec_retry_on_contention(exec)                       \
	do {                                                     \
		if (unlikely(drm_exec_is_contended(exec)))       \
			goto *gpuvm_exec_retry_to__;             \
	} while (0)

/* The @index-th locked object, or NULL past the end. */
static inline struct drm_gem_object *drm_exec_obj(struct drm_exec *exec, unsigned long index)
{
	return index < exec->num_objects ? exec->objects[index] : NULL;
}

/*
 * drm_exec_for_each_locked_object(exec, obj), and the _reverse form: the
 * current kernel's two arguments. The older three-argument form
 * (exec, index, obj), with a caller-declared unsigned long index, is accepted
 * as well, so drivers written against either compile.
 */
#define GPUVM_EXEC_PICK3__(_1, _2, _3, name, ...) name
#define drm_exec_for_each_locked_object(...)                                        \
	GPUVM_EXEC_PICK3__(__VA_ARGS__, gpuvm_exec_each3__, gpuvm_exec_each2__, )   \
	(__VA_ARGS__)
#define drm_exec_for_each_locked_object_reverse(...)                                \
	GPUVM_EXEC_PICK3__(__VA_ARGS__, gpuvm_exec_each_rev3__, gpuvm_exec_each_rev2__, ) \
	(__VA_ARGS__)

#define gpuvm_exec_each3__(exec, index, obj) \
	for ((index) = 0; ((obj) = drm_exec_obj(exec, index)); ++(index))
#define gpuvm_exec_each2__(exec, obj)                                               \
	for (unsigned long gpuvm_exec_i__ = 0;                                      \
	     ((obj) = drm_exec_obj(exec, gpuvm_exec_i__)); ++gpuvm_exec_i__)
#define gpuvm_exec_each_rev3__(exec, index, obj)                                    \
	for ((index) = (exec)->num_objects - 1;                                     \
	     ((obj) = drm_exec_obj(exec, index)); --(index))
#define gpuvm_exec_each_rev2__(exec, obj)                                           \
	for (unsigned long gpuvm_exec_i__ = (exec)->num_objects - 1;                \
	     ((obj) = drm_exec_obj(exec, gpuvm_exec_i__)); --gpuvm_exec_i__)

#endif
