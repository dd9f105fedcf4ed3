// SPDX-License-Identifier: MIT
/*
 * Immediate mode (DRM_GPUVM_IMMEDIATE_MODE): the GEM's vm_bo list is guarded
 * by its gpuva.lock mutex, vm_bos are obtained from a preallocation, and the
 * last reference dropped in the fence-signalling path turns a vm_bo into a
 * zombie queued on the VM's bo_defer list until drm_gpuvm_bo_deferred_cleanup()
 *.
 *
 * Every scenario runs with both extobj/evict list protections: the internal
 * spinlocks (zombies leave the lists at once) and DRM_GPUVM_RESV_PROTECTED
 * (zombies stay on the lists until the cleanup, and walkers skip them).
 */
#include <errno.h>

#include "harness.h"
#include "vm_bo_fixture.h"

#define IMM DRM_GPUVM_IMMEDIATE_MODE
#define PROT DRM_GPUVM_RESV_PROTECTED

static const enum drm_gpuvm_flags imm_modes[] = { IMM, IMM | PROT };

/* vm_bo_free records which object each freed vm_bo belonged to, in order. */
static struct drm_gem_object *free_log[64];
static atomic_uint free_log_len;

static void log_vm_bo_free(struct drm_gpuvm_bo *vm_bo)
{
	unsigned int i = atomic_fetch_add(&free_log_len, 1);

	if (i < 64)
		free_log[i] = vm_bo->obj; /* still referenced: GEM put comes after */
	kfree(vm_bo);
}

static atomic_uint validated;
static struct drm_gpuvm_bo *validated_log[16];

/* A driver's validate: make it resident again, i.e. not evicted. */
static int log_validate(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec)
{
	unsigned int i = atomic_fetch_add(&validated, 1);

	GPUVM_UNUSED(exec);
	if (i < 16)
		validated_log[i] = vm_bo;
	drm_gpuvm_bo_evict(vm_bo, false);
	return 0;
}

static const struct drm_gpuvm_ops log_ops = {
	.vm_free = fixture_vm_free,
	.vm_bo_free = log_vm_bo_free,
	.vm_bo_validate = log_validate,
};

static struct drm_gpuvm_bo *obtain_imm(struct drm_gpuvm *vm, struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *pre = drm_gpuvm_bo_create(vm, obj);

	return pre ? drm_gpuvm_bo_obtain_prealloc(pre) : NULL;
}

static void vm_resv_lock(struct drm_gpuvm *vm)
{
	dma_resv_lock(drm_gpuvm_resv(vm), NULL);
}

static void vm_resv_unlock(struct drm_gpuvm *vm)
{
	dma_resv_unlock(drm_gpuvm_resv(vm));
}

static void evict(struct drm_gpuvm_bo *vm_bo, bool e)
{
	dma_resv_lock(vm_bo->obj->resv, NULL);
	drm_gpuvm_bo_evict(vm_bo, e);
	dma_resv_unlock(vm_bo->obj->resv);
}

/* ============================================================ put_deferred */

static bool put_deferred_mode(enum drm_gpuvm_flags flags)
{
	bool prot = flags & PROT;
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warn_log_count();
	struct drm_device *drm = drm_dev_alloc("defer");
	struct drm_gpuvm *vm = vm_new_ops(drm, flags, &log_ops);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *vm_bo;
	unsigned int f0;

	ASSERT_TRUE(vm && obj);
	vm_bo = obtain_imm(vm, obj);
	ASSERT_NONNULL(vm_bo);
	vm_resv_lock(vm);
	drm_gpuvm_bo_extobj_add(vm_bo);
	vm_resv_unlock(vm);
	evict(vm_bo, true);
	ASSERT_TRUE(on_extobj(vm_bo));
	ASSERT_EQ(on_evict(vm_bo), !prot); /* protected: the flag only */

	ASSERT_FALSE(drm_gpuvm_bo_put_deferred(NULL));

	/* Not the last reference: nothing deferred. */
	drm_gpuvm_bo_get(vm_bo);
	ASSERT_FALSE(drm_gpuvm_bo_put_deferred(vm_bo));
	ASSERT_EQ(vm_bo_refs(vm_bo), 1);
	ASSERT_TRUE(llist_empty(&vm->bo_defer));

	/* The last: a zombie, off the GEM list, refs kept until the cleanup. */
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vm_bo));
	ASSERT_EQ(vm_bo_refs(vm_bo), 0);
	ASSERT_FALSE(on_gem(vm_bo, obj));
	ASSERT_FALSE(llist_empty(&vm->bo_defer));
	ASSERT_EQ(on_extobj(vm_bo), prot);
	ASSERT_FALSE(mutex_is_locked(&obj->gpuva.lock));
	ASSERT_EQ(gem_refs(obj), 2);
	ASSERT_EQ(vm_refs(vm), 2);
	ASSERT_NULL(drm_gpuvm_bo_find(vm, obj)); /* never found */

	f0 = atomic_load(&free_log_len);
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_EQ(atomic_load(&free_log_len), f0 + 1);
	ASSERT_EQ(free_log[f0], obj);
	ASSERT_TRUE(llist_empty(&vm->bo_defer));
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	ASSERT_TRUE(list_empty(&vm->evict.list));
	ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(vm)));
	ASSERT_EQ(gem_refs(obj), 1);
	ASSERT_EQ(vm_refs(vm), 1);

	/* Nothing queued: a no-op. */
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_EQ(atomic_load(&free_log_len), f0 + 1);
	ASSERT_EQ(warn_log_count(), w0);

	drm_gem_object_put(obj);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_put_deferred(void)
{
	for (unsigned int i = 0; i < 2; i++)
		if (!put_deferred_mode(imm_modes[i]))
			return false;
	return true;
}

/* Cleanup called while already holding the VM resv uses it as is. */
static bool test_deferred_cleanup_under_vm_resv(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("defer");
	struct drm_gpuvm *vm = vm_new_ops(drm, IMM | PROT, &log_ops);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *vm_bo;
	unsigned long w0 = warn_log_count();

	ASSERT_TRUE(vm && obj);
	vm_bo = obtain_imm(vm, obj);
	ASSERT_NONNULL(vm_bo);
	vm_resv_lock(vm);
	drm_gpuvm_bo_extobj_add(vm_bo);
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vm_bo));
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_TRUE(dma_resv_held(drm_gpuvm_resv(vm)));
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	vm_resv_unlock(vm);
	ASSERT_EQ(warn_log_count(), w0);

	drm_gem_object_put(obj);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* The deferred forms are for immediate mode: a WARN, then the mode's lock. */
static bool test_deferred_forms_warn_in_staged_mode(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("staged");
	struct drm_gpuvm *vm = vm_new_ops(drm, 0, &log_ops);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *vm_bo, *pre;
	struct drm_gpuva *va;
	unsigned long w0 = warn_log_count();

	ASSERT_TRUE(vm && obj);
	warn_log.quiet = true;

	pre = drm_gpuvm_bo_create(vm, obj);
	ASSERT_NONNULL(pre);
	vm_bo = drm_gpuvm_bo_obtain_prealloc(pre);
	ASSERT_EQ(vm_bo, pre);
	ASSERT_EQ(warn_log_count(), w0 + 1);
	ASSERT_TRUE(warn_log_last_contains("IMMEDIATE_MODE"));
	ASSERT_TRUE(on_gem(vm_bo, obj));

	va = va_insert(vm, 0x10000, 0x1000, obj, 0);
	ASSERT_NONNULL(va);
	drm_gpuva_link(va, vm_bo);
	ASSERT_FALSE(drm_gpuvm_bo_put_deferred(vm_bo));
	ASSERT_EQ(warn_log_count(), w0 + 2);
	drm_gpuva_unlink_defer(va);
	ASSERT_EQ(warn_log_count(), w0 + 3);
	ASSERT_NULL(va->vm_bo);
	ASSERT_FALSE(dma_resv_is_locked(obj->resv));
	ASSERT_FALSE(llist_empty(&vm->bo_defer));
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_TRUE(list_empty(&obj->gpuva.list));
	warn_log.quiet = false;

	drm_gpuva_remove(va);
	kfree(va);
	drm_gem_object_put(obj);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ============================================================ unlink_defer */

/*
 *	0x10000   0x20000   0x30000
 *	|aaaaaaaaa|bbbbbbbbb|        both on obj; the creator's GEM reference
 *	                             is gone, the vm_bo holds the last one
 */
static bool unlink_defer_mode(enum drm_gpuvm_flags flags)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warn_log_count();
	unsigned int gem_frees0 = atomic_load(&fixture_gem_frees);
	struct drm_device *drm = drm_dev_alloc("unlink_defer");
	struct drm_gpuvm *vm = vm_new_ops(drm, flags, &log_ops);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *a, *b;
	unsigned int f0;

	ASSERT_TRUE(vm && obj);
	vm_bo = obtain_imm(vm, obj);
	ASSERT_NONNULL(vm_bo);
	a = va_insert(vm, 0x10000, 0x10000, obj, 0);
	b = va_insert(vm, 0x20000, 0x10000, obj, 0x10000);
	ASSERT_TRUE(a && b);
	drm_gpuva_link(a, vm_bo);
	drm_gpuva_link(b, vm_bo);
	vm_resv_lock(vm);
	drm_gpuvm_bo_extobj_add(vm_bo);
	vm_resv_unlock(vm);
	ASSERT_FALSE(drm_gpuvm_bo_put_deferred(vm_bo)); /* the obtain reference */
	drm_gem_object_put(obj);
	ASSERT_EQ(gem_refs(obj), 1);

	/* As in run_job: remove, then unlink without freeing anything. */
	drm_gpuva_remove(a);
	drm_gpuva_unlink_defer(a);
	ASSERT_NULL(a->vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 1);
	ASSERT_TRUE(llist_empty(&vm->bo_defer));

	drm_gpuva_remove(b);
	drm_gpuva_unlink_defer(b);
	ASSERT_NULL(b->vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 0);
	ASSERT_FALSE(llist_empty(&vm->bo_defer));
	ASSERT_TRUE(list_empty(&obj->gpuva.list));
	ASSERT_EQ(atomic_load(&fixture_gem_frees), gem_frees0); /* not yet */
	ASSERT_FALSE(mutex_is_locked(&obj->gpuva.lock));

	f0 = atomic_load(&free_log_len);
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_EQ(atomic_load(&free_log_len), f0 + 1);
	ASSERT_EQ(atomic_load(&fixture_gem_frees), gem_frees0 + 1);
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	ASSERT_EQ(warn_log_count(), w0);

	/* A GEM-less VA: a no-op. */
	a->gem.obj = NULL;
	drm_gpuva_unlink_defer(a);
	ASSERT_TRUE(llist_empty(&vm->bo_defer));

	kfree(a);
	kfree(b);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_unlink_defer(void)
{
	for (unsigned int i = 0; i < 2; i++)
		if (!unlink_defer_mode(imm_modes[i]))
			return false;
	return true;
}

/* ========================================================== obtain_prealloc */

static bool obtain_prealloc_mode(enum drm_gpuvm_flags flags)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warn_log_count();
	struct drm_device *drm = drm_dev_alloc("prealloc");
	struct drm_gpuvm *vm = vm_new_ops(drm, flags, &log_ops);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *pre1, *pre2, *got;
	unsigned int f0 = atomic_load(&free_log_len);

	ASSERT_TRUE(vm && obj);

	/* New: the preallocation itself goes on the GEM list, its ref 1 ours. */
	pre1 = drm_gpuvm_bo_create(vm, obj);
	ASSERT_NONNULL(pre1);
	got = drm_gpuvm_bo_obtain_prealloc(pre1);
	ASSERT_EQ(got, pre1);
	ASSERT_EQ(vm_bo_refs(got), 1);
	ASSERT_TRUE(on_gem(got, obj));
	ASSERT_FALSE(mutex_is_locked(&obj->gpuva.lock));

	/* Duplicate: the existing one (+1), the preallocation freed unlisted. */
	pre2 = drm_gpuvm_bo_create(vm, obj);
	ASSERT_NONNULL(pre2);
	ASSERT_EQ(vm_refs(vm), 3);
	ASSERT_EQ(gem_refs(obj), 3);
	got = drm_gpuvm_bo_obtain_prealloc(pre2);
	ASSERT_EQ(got, pre1);
	ASSERT_EQ(vm_bo_refs(pre1), 2);
	ASSERT_EQ(atomic_load(&free_log_len), f0 + 1); /* pre2 via vm_bo_free */
	ASSERT_EQ(vm_refs(vm), 2);
	ASSERT_EQ(gem_refs(obj), 2);
	ASSERT_EQ(list_count_nodes(&obj->gpuva.list), 1);
	ASSERT_FALSE(mutex_is_locked(&obj->gpuva.lock));
	ASSERT_EQ(warn_log_count(), w0);

	/* The plain obtain works in immediate mode too, without a WARN. */
	got = drm_gpuvm_bo_obtain(vm, obj);
	ASSERT_EQ(got, pre1);
	ASSERT_EQ(warn_log_count(), w0);

	ASSERT_FALSE(drm_gpuvm_bo_put_deferred(pre1));
	ASSERT_FALSE(drm_gpuvm_bo_put(pre1));
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(pre1));
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_EQ(atomic_load(&free_log_len), f0 + 2);

	/* ENOMEM happens at create time; obtain_prealloc itself never fails. */
	gpuvm_alloc_fail_nth(1);
	ASSERT_NULL(drm_gpuvm_bo_create(vm, obj));
	gpuvm_alloc_fail_nth(0);
	ASSERT_TRUE(list_empty(&obj->gpuva.list));

	drm_gem_object_put(obj);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_obtain_prealloc(void)
{
	for (unsigned int i = 0; i < 2; i++)
		if (!obtain_prealloc_mode(imm_modes[i]))
			return false;
	return true;
}

/* ========================================================= cleanup order */

static bool cleanup_lifo_mode(enum drm_gpuvm_flags flags)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("lifo");
	struct drm_gpuvm *vm = vm_new_ops(drm, flags, &log_ops);
	struct drm_gem_object *obj[4];
	struct drm_gpuvm_bo *vb[4];
	unsigned int f0;

	ASSERT_NONNULL(vm);
	for (int i = 0; i < 4; i++) {
		obj[i] = gem_new(drm);
		ASSERT_NONNULL(obj[i]);
		vb[i] = obtain_imm(vm, obj[i]);
		ASSERT_NONNULL(vb[i]);
	}
	vm_resv_lock(vm);
	for (int i = 0; i < 4; i++)
		drm_gpuvm_bo_extobj_add(vb[i]);
	vm_resv_unlock(vm);

	/* Zombified in the order 0, 2, 1, 3 ... */
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vb[0]));
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vb[2]));
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vb[1]));
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vb[3]));

	/* ... freed newest first. */
	f0 = atomic_load(&free_log_len);
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_EQ(atomic_load(&free_log_len), f0 + 4);
	ASSERT_EQ(free_log[f0 + 0], obj[3]);
	ASSERT_EQ(free_log[f0 + 1], obj[1]);
	ASSERT_EQ(free_log[f0 + 2], obj[2]);
	ASSERT_EQ(free_log[f0 + 3], obj[0]);
	ASSERT_TRUE(list_empty(&vm->extobj.list));

	for (int i = 0; i < 4; i++)
		drm_gem_object_put(obj[i]);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_deferred_cleanup_lifo(void)
{
	for (unsigned int i = 0; i < 2; i++)
		if (!cleanup_lifo_mode(imm_modes[i]))
			return false;
	return true;
}

/* The cleanup may drop the VM's last reference: the VM goes with it. */
static bool test_cleanup_drops_last_vm_ref(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("lastref");
	struct drm_gpuvm *vm = vm_new_ops(drm, IMM | PROT, &log_ops);
	struct drm_gem_object *obj = gem_new(drm);
	unsigned int vm_frees0 = atomic_load(&fixture_vm_frees);
	struct drm_gpuvm_bo *vm_bo;

	ASSERT_TRUE(vm && obj);
	vm_bo = obtain_imm(vm, obj);
	ASSERT_NONNULL(vm_bo);
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vm_bo));
	drm_gpuvm_get(vm);  /* the driver's worker reference */
	drm_gpuvm_put(vm);  /* the creator's */
	ASSERT_EQ(vm_refs(vm), 2);
	drm_gpuvm_bo_deferred_cleanup(vm);
	drm_gpuvm_put(vm);  /* the worker's: last */
	ASSERT_EQ(atomic_load(&fixture_vm_frees), vm_frees0 + 1);
	drm_gem_object_put(obj);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ============================================== zombies and list walkers */

/*
 * RESV_PROTECTED: zombies stay on extobj/evict until the cleanup; the
 * walkers (prepare_objects, validate) must skip them.
 *
 *	extobj: [x] [y] [z]      y is evicted, then zombified
 */
static bool test_zombies_skipped_resv_protected(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("zombies");
	struct drm_gpuvm *vm = vm_new_ops(drm, IMM | PROT, &log_ops);
	struct drm_gem_object *x = gem_new(drm), *y = gem_new(drm), *z = gem_new(drm);
	struct drm_gpuvm_bo *vx, *vy, *vz;
	struct drm_gpuvm_exec vm_exec = { .vm = vm, .num_fences = 1 };
	unsigned long w0 = warn_log_count();
	unsigned int v0;

	ASSERT_TRUE(vm && x && y && z);
	vx = obtain_imm(vm, x);
	vy = obtain_imm(vm, y);
	vz = obtain_imm(vm, z);
	ASSERT_TRUE(vx && vy && vz);
	vm_resv_lock(vm);
	drm_gpuvm_bo_extobj_add(vx);
	drm_gpuvm_bo_extobj_add(vy);
	drm_gpuvm_bo_extobj_add(vz);
	vm_resv_unlock(vm);
	evict(vx, true);
	evict(vy, true);
	ASSERT_TRUE(vy->evicted);

	/* y on extobj, moved onto evict by one prepare_objects, then a zombie. */
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	ASSERT_TRUE(on_evict(vx) && on_evict(vy));
	drm_gpuvm_exec_unlock(&vm_exec);
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vy));
	ASSERT_TRUE(on_extobj(vy) && on_evict(vy));

	/* prepare_objects: y's object is not locked. */
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 3); /* VM resv object, x, z */
	ASSERT_TRUE(dma_resv_held(x->resv));
	ASSERT_FALSE(dma_resv_is_locked(y->resv));
	ASSERT_TRUE(dma_resv_held(z->resv));

	/* validate: y's callback never runs; x is validated and leaves the list. */
	v0 = atomic_load(&validated);
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), 0);
	ASSERT_EQ(atomic_load(&validated), v0 + 1);
	ASSERT_EQ(validated_log[v0], vx);
	ASSERT_FALSE(on_evict(vx));
	ASSERT_TRUE(on_evict(vy)); /* zombie: untouched until the cleanup */
	drm_gpuvm_exec_unlock(&vm_exec);

	/* The cleanup takes the VM resv itself and takes y off both lists. */
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_TRUE(on_extobj(vx) && on_extobj(vz));
	ASSERT_EQ(list_count_nodes(&vm->extobj.list), 2);
	ASSERT_TRUE(list_empty(&vm->evict.list));
	ASSERT_EQ(warn_log_count(), w0);

	drm_gpuvm_bo_put(vx);
	drm_gpuvm_bo_put(vz);
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	drm_gem_object_put(x);
	drm_gem_object_put(y);
	drm_gem_object_put(z);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * Internal-lock mode: a vm_bo whose count already hit 0 but which its
 * destroyer has not yet taken off the list (a window between the atomic
 * decrement and the spinlock) is dropped by the local-list iteration, never
 * handed out. The window is held open here by setting the count by hand.
 *
 *	extobj: [x] [y†] [z]     evict: [x] [y†] [z]
 */
static bool test_dying_entries_dropped_by_iteration(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("dying");
	struct drm_gpuvm *vm = vm_new_ops(drm, IMM, &log_ops);
	struct drm_gem_object *x = gem_new(drm), *y = gem_new(drm), *z = gem_new(drm);
	struct drm_gpuvm_bo *vx, *vy, *vz;
	struct drm_gpuvm_exec vm_exec = { .vm = vm };
	unsigned long w0 = warn_log_count();
	unsigned int v0;

	ASSERT_TRUE(vm && x && y && z);
	vx = obtain_imm(vm, x);
	vy = obtain_imm(vm, y);
	vz = obtain_imm(vm, z);
	ASSERT_TRUE(vx && vy && vz);
	drm_gpuvm_bo_extobj_add(vx);
	drm_gpuvm_bo_extobj_add(vy);
	drm_gpuvm_bo_extobj_add(vz);
	evict(vx, true);
	evict(vy, true);
	evict(vz, true);

	atomic_store(&vy->kref.refcount, 0);
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 3);
	ASSERT_FALSE(dma_resv_is_locked(y->resv));
	ASSERT_FALSE(on_extobj(vy));
	ASSERT_TRUE(list_empty(&vy->list.entry.extobj));
	/* The walked entries are back, in their order. */
	ASSERT_EQ(vm->extobj.list.next, &vx->list.entry.extobj);
	ASSERT_EQ(vx->list.entry.extobj.next, &vz->list.entry.extobj);
	ASSERT_NULL(vm->extobj.local_list);

	v0 = atomic_load(&validated);
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), 0);
	ASSERT_EQ(atomic_load(&validated), v0 + 2);
	ASSERT_EQ(validated_log[v0], vx);
	ASSERT_EQ(validated_log[v0 + 1], vz);
	ASSERT_TRUE(list_empty(&vm->evict.list));
	ASSERT_NULL(vm->evict.local_list);
	drm_gpuvm_exec_unlock(&vm_exec);

	/* The "destroyer" resumes: its removal finds nothing left to do. */
	atomic_store(&vy->kref.refcount, 1);
	ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vy));
	drm_gpuvm_bo_deferred_cleanup(vm);
	ASSERT_EQ(vm_bo_refs(vx), 1); /* the iterators' references are all gone */
	ASSERT_EQ(vm_bo_refs(vz), 1);
	ASSERT_EQ(warn_log_count(), w0);

	drm_gpuvm_bo_put(vx);
	drm_gpuvm_bo_put(vz);
	drm_gem_object_put(x);
	drm_gem_object_put(y);
	drm_gem_object_put(z);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * Concurrency between the deferred forms and the cleanup: threads unlink and
 * put_deferred vm_bos of shared objects while another thread keeps running
 * the cleanup; at the end everything is freed exactly once.
 */
#define CONC_THREADS 4
#define CONC_ROUNDS 300

struct conc_args {
	struct drm_gpuvm *vm;
	struct drm_gem_object **objs;
	int id;
	atomic_bool *stop;
};

static void *conc_worker(void *p)
{
	struct conc_args *a = p;

	for (int r = 0; r < CONC_ROUNDS; r++) {
		struct drm_gem_object *obj = a->objs[(r + a->id) % 3];
		struct drm_gpuvm_bo *vm_bo = obtain_imm(a->vm, obj);
		struct drm_gpuva *va = va_new(0, 0x1000, obj, 0);

		GPUVM_BUG_ON(!vm_bo || !va);
		/* Linked without insertion: only the list side matters here. */
		va->vm = a->vm;
		drm_gpuva_link(va, vm_bo);
		drm_gpuvm_bo_put_deferred(vm_bo);
		drm_gpuva_unlink_defer(va);
		kfree(va);
	}
	return NULL;
}

static void *conc_cleaner(void *p)
{
	struct conc_args *a = p;

	while (!atomic_load(a->stop))
		drm_gpuvm_bo_deferred_cleanup(a->vm);
	return NULL;
}

static bool conc_mode(enum drm_gpuvm_flags flags)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("conc");
	struct drm_gpuvm *vm = vm_new_ops(drm, flags, &log_ops);
	struct drm_gem_object *objs[3];
	struct conc_args args[CONC_THREADS + 1];
	pthread_t t[CONC_THREADS + 1];
	atomic_bool stop = false;
	unsigned long w0 = warn_log_count();

	ASSERT_NONNULL(vm);
	for (int i = 0; i < 3; i++) {
		objs[i] = gem_new(drm);
		ASSERT_NONNULL(objs[i]);
	}
	for (int i = 0; i <= CONC_THREADS; i++) {
		args[i] = (struct conc_args){ .vm = vm, .objs = objs, .id = i, .stop = &stop };
		ASSERT_EQ(pthread_create(&t[i], NULL, i < CONC_THREADS ? conc_worker : conc_cleaner,
					 &args[i]), 0);
	}
	for (int i = 0; i < CONC_THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, true);
	pthread_join(t[CONC_THREADS], NULL);
	drm_gpuvm_bo_deferred_cleanup(vm);

	ASSERT_EQ(warn_log_count(), w0);
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE(list_empty(&objs[i]->gpuva.list));
		ASSERT_EQ(gem_refs(objs[i]), 1);
		drm_gem_object_put(objs[i]);
	}
	ASSERT_EQ(vm_refs(vm), 1);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_concurrent_defer_and_cleanup(void)
{
	for (unsigned int i = 0; i < 2; i++)
		if (!conc_mode(imm_modes[i]))
			return false;
	return true;
}

int main(void)
{
	warn_log_install();

	RUN(test_put_deferred);
	RUN(test_deferred_cleanup_under_vm_resv);
	RUN(test_deferred_forms_warn_in_staged_mode);
	RUN(test_unlink_defer);
	RUN(test_obtain_prealloc);
	RUN(test_deferred_cleanup_lifo);
	RUN(test_cleanup_drops_last_vm_ref);
	RUN(test_zombies_skipped_resv_protected);
	RUN(test_dying_entries_dropped_by_iteration);
	RUN(test_concurrent_defer_and_cleanup);
	return harness_done();
}
