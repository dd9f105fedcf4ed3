/* SPDX-License-Identifier: MIT */
/*
 * Shared set-up for the vm_bo, immediate-mode, exec and stress tests: a WARN
 * recorder, VMs allocated the way a driver does (resv object from
 * drm_gpuvm_resv_object_alloc, vm_free callback), GEM objects whose frees are
 * counted, and heap VAs.
 */
#ifndef PYGPUVM_TESTS_VM_BO_FIXTURE_H
#define PYGPUVM_TESTS_VM_BO_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "drm/drm_gpuvm.h"
#include "linux/slab.h"

/* ------------------------------------------------------------- WARNs */

struct warn_log {
	pthread_mutex_t lock;
	unsigned long count;
	unsigned long lock_not_held; /* lockdep-style assertion failures */
	char last[512];
	bool quiet;
};

static struct warn_log warn_log = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void warn_log_hook(const char *file, int line, const char *msg, void *data)
{
	struct warn_log *log = data;

	pthread_mutex_lock(&log->lock);
	log->count++;
	if (strstr(msg, "lock not held"))
		log->lock_not_held++;
	snprintf(log->last, sizeof(log->last), "%s", msg);
	if (!log->quiet)
		fprintf(stderr, "# (expected?) WARN %s:%d: %s\n", file, line, msg);
	pthread_mutex_unlock(&log->lock);
}

static inline void warn_log_install(void)
{
	gpuvm_set_warn_hook(warn_log_hook, &warn_log);
}

static inline void warn_log_reset(void)
{
	pthread_mutex_lock(&warn_log.lock);
	warn_log.count = 0;
	warn_log.lock_not_held = 0;
	warn_log.last[0] = '\0';
	pthread_mutex_unlock(&warn_log.lock);
}

static inline unsigned long warn_log_count(void)
{
	unsigned long n;

	pthread_mutex_lock(&warn_log.lock);
	n = warn_log.count;
	pthread_mutex_unlock(&warn_log.lock);
	return n;
}

static inline unsigned long warn_log_lock_not_held(void)
{
	unsigned long n;

	pthread_mutex_lock(&warn_log.lock);
	n = warn_log.lock_not_held;
	pthread_mutex_unlock(&warn_log.lock);
	return n;
}

static inline bool warn_log_last_contains(const char *s)
{
	bool r;

	pthread_mutex_lock(&warn_log.lock);
	r = strstr(warn_log.last, s) != NULL;
	pthread_mutex_unlock(&warn_log.lock);
	return r;
}

/* ---------------------------------------------------------------- VMs */

static atomic_uint fixture_vm_frees;

static void fixture_vm_free(struct drm_gpuvm *gpuvm)
{
	atomic_fetch_add(&fixture_vm_frees, 1);
	kfree(gpuvm);
}

static const struct drm_gpuvm_ops fixture_vm_ops = {
	.vm_free = fixture_vm_free,
};

/*
 * A VM over [0, 1 << 32) with the reserved node at [0, 0x1000), as drivers
 * set it up: the caller's reference on the resv object is dropped after init.
 */
static inline struct drm_gpuvm *vm_new_ops(struct drm_device *drm, enum drm_gpuvm_flags flags,
					   const struct drm_gpuvm_ops *ops)
{
	struct drm_gpuvm *gpuvm = kzalloc(sizeof(*gpuvm), GFP_KERNEL);
	struct drm_gem_object *r_obj;

	if (!gpuvm)
		return NULL;
	r_obj = drm_gpuvm_resv_object_alloc(drm);
	if (!r_obj) {
		kfree(gpuvm);
		return NULL;
	}
	drm_gpuvm_init(gpuvm, "test", flags, drm, r_obj, 0, 1ULL << 32, 0, 0x1000,
		       ops ? ops : &fixture_vm_ops);
	drm_gem_object_put(r_obj);
	return gpuvm;
}

static inline struct drm_gpuvm *vm_new(struct drm_device *drm, enum drm_gpuvm_flags flags)
{
	return vm_new_ops(drm, flags, NULL);
}

/* ---------------------------------------------------------- GEM objects */

static atomic_uint fixture_gem_frees;

static void fixture_gem_free(struct drm_gem_object *obj)
{
	atomic_fetch_add(&fixture_gem_frees, 1);
	drm_gem_object_release(obj);
	kfree(obj);
}

static const struct drm_gem_object_funcs fixture_gem_funcs = {
	.free = fixture_gem_free,
};

/* An external object (own resv), frees counted in fixture_gem_frees. */
static inline struct drm_gem_object *gem_new(struct drm_device *drm)
{
	struct drm_gem_object *obj = drm_gem_object_create(drm, 1 << 16, NULL);

	if (obj)
		obj->funcs = &fixture_gem_funcs;
	return obj;
}

/* A VM-private object: shares the VM's resv. */
static inline struct drm_gem_object *gem_new_private(struct drm_device *drm,
						     struct drm_gpuvm *gpuvm)
{
	struct drm_gem_object *obj = drm_gem_object_create(drm, 1 << 16, gpuvm->r_obj);

	if (obj)
		obj->funcs = &fixture_gem_funcs;
	return obj;
}

static inline unsigned int gem_refs(struct drm_gem_object *obj)
{
	return kref_read(&obj->refcount);
}

/* ----------------------------------------------------------------- VAs */

static inline struct drm_gpuva *va_new(u64 addr, u64 range, struct drm_gem_object *obj,
				       u64 offset)
{
	struct drm_gpuva *va = kzalloc(sizeof(*va), GFP_KERNEL);

	if (!va)
		return NULL;
	drm_gpuva_init_lists(va);
	va->va.addr = addr;
	va->va.range = range;
	va->gem.obj = obj;
	va->gem.offset = offset;
	return va;
}

/* Insert a new VA; NULL if the allocation or the insert failed. */
static inline struct drm_gpuva *va_insert(struct drm_gpuvm *gpuvm, u64 addr, u64 range,
					  struct drm_gem_object *obj, u64 offset)
{
	struct drm_gpuva *va = va_new(addr, range, obj, offset);

	if (va && drm_gpuva_insert(gpuvm, va)) {
		kfree(va);
		return NULL;
	}
	return va;
}

/* Unlink (plain form), remove and free. */
static inline void va_destroy(struct drm_gpuva *va)
{
	drm_gpuva_unlink(va);
	drm_gpuva_remove(va);
	kfree(va);
}

/* ------------------------------------------------------------- queries */

static inline bool list_contains(struct list_head *head, struct list_head *node)
{
	for (struct list_head *p = head->next; p != head; p = p->next)
		if (p == node)
			return true;
	return false;
}

static inline bool on_extobj(struct drm_gpuvm_bo *vm_bo)
{
	return list_contains(&vm_bo->vm->extobj.list, &vm_bo->list.entry.extobj);
}

static inline bool on_evict(struct drm_gpuvm_bo *vm_bo)
{
	return list_contains(&vm_bo->vm->evict.list, &vm_bo->list.entry.evict);
}

static inline bool on_gem(struct drm_gpuvm_bo *vm_bo, struct drm_gem_object *obj)
{
	return list_contains(&obj->gpuva.list, &vm_bo->list.entry.gem);
}

static inline unsigned int vm_refs(struct drm_gpuvm *gpuvm)
{
	return kref_read(&gpuvm->kref);
}

static inline unsigned int vm_bo_refs(struct drm_gpuvm_bo *vm_bo)
{
	return kref_read(&vm_bo->kref);
}

#endif
