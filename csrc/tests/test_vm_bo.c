// SPDX-License-Identifier: MIT
/*
 * vm_bo lifetimes and the _locked / internally locking split (docs/design.md).
 *
 * The seed scenario: a vm_bo holding the LAST reference to its GEM. Released
 * through the plain drm_gpuvm_bo_put() / drm_gpuva_unlink() it must free the
 * vm_bo and the GEM without touching freed memory (this file runs under ASan
 * in CI); released through the _locked forms with the caller holding the
 * GEM's lock it frees the lock under its holder, which drm_gem.c turns into an
 * abort with a diagnosis (checked in a forked child).
 *
 * Layout used by most tests (VM window [0, 1 << 32), reserved node first):
 *
 *	0       0x1000      0x10000   0x20000   0x30000   0x40000
 *	|kkkkkkkk|            |aaaaaaaa|bbbbbbbbb|ccccccccc|
 *	reserved               va a      va b      va c      (all on one GEM)
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "harness.h"
#include "child.h"
#include "vm_bo_fixture.h"

#define VA_A 0x10000ULL
#define VA_B 0x20000ULL
#define VA_C 0x30000ULL
#define VA_SZ 0x10000ULL

static const enum drm_gpuvm_flags both_modes[] = { 0, DRM_GPUVM_IMMEDIATE_MODE };

/* The GEM's gpuva lock as the VM's mode defines it, taken by the test itself. */
static void gem_lock(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	if (drm_gpuvm_immediate_mode(gpuvm))
		mutex_lock(&obj->gpuva.lock);
	else
		dma_resv_lock(obj->resv, NULL);
}

static void gem_unlock(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	if (drm_gpuvm_immediate_mode(gpuvm))
		mutex_unlock(&obj->gpuva.lock);
	else
		dma_resv_unlock(obj->resv);
}

static bool gem_locked(struct drm_gpuvm *gpuvm, struct drm_gem_object *obj)
{
	return drm_gpuvm_immediate_mode(gpuvm) ? mutex_is_locked(&obj->gpuva.lock)
					       : dma_resv_is_locked(obj->resv);
}

/* ====================================================== seed scenario */

/*
 * Creator: GEM created, obtained, VA mapped and linked; then the creator
 * drops its GEM reference, so the vm_bo holds the last one.
 */
static bool seed_put(enum drm_gpuvm_flags flags)
{
	long live0 = gpuvm_alloc_live();
	unsigned int frees0 = atomic_load(&fixture_gem_frees);
	unsigned long w0 = warn_log_count();
	struct drm_device *drm = drm_dev_alloc("seed");
	struct drm_gpuvm *vm = vm_new(drm, flags);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *va;

	ASSERT_NONNULL(vm);
	ASSERT_NONNULL(obj);
	vm_bo = drm_gpuvm_bo_obtain(vm, obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	va = va_insert(vm, VA_A, VA_SZ, obj, 0);
	ASSERT_NONNULL(va);
	drm_gpuva_link(va, vm_bo);
	drm_gem_object_put(obj); /* the creator's reference */
	ASSERT_EQ(gem_refs(obj), 1);

	/* Unmap: the VA's vm_bo reference goes, the obtain reference stays. */
	drm_gpuva_remove(va);
	drm_gpuva_unlink(va);
	kfree(va);
	ASSERT_EQ(vm_bo_refs(vm_bo), 1);
	ASSERT_EQ(atomic_load(&fixture_gem_frees), frees0);

	/* The last vm_bo reference, holding the last GEM reference. */
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	ASSERT_EQ(atomic_load(&fixture_gem_frees), frees0 + 1);
	ASSERT_EQ(warn_log_count(), w0);

	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool seed_unlink(enum drm_gpuvm_flags flags)
{
	long live0 = gpuvm_alloc_live();
	unsigned int frees0 = atomic_load(&fixture_gem_frees);
	unsigned long w0 = warn_log_count();
	struct drm_device *drm = drm_dev_alloc("seed");
	struct drm_gpuvm *vm = vm_new(drm, flags);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *va;

	ASSERT_NONNULL(vm);
	ASSERT_NONNULL(obj);
	vm_bo = drm_gpuvm_bo_obtain(vm, obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	va = va_insert(vm, VA_A, VA_SZ, obj, 0);
	ASSERT_NONNULL(va);
	drm_gpuva_link(va, vm_bo);
	ASSERT_FALSE(drm_gpuvm_bo_put(vm_bo)); /* the VA keeps it alive */
	drm_gem_object_put(obj);
	ASSERT_EQ(vm_bo_refs(vm_bo), 1);
	ASSERT_EQ(gem_refs(obj), 1);

	/* Unlinking the last VA drops the last vm_bo and the last GEM reference. */
	drm_gpuva_remove(va);
	drm_gpuva_unlink(va);
	ASSERT_NULL(va->vm_bo);
	ASSERT_EQ(atomic_load(&fixture_gem_frees), frees0 + 1);
	kfree(va);
	ASSERT_EQ(warn_log_count(), w0);

	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_seed_plain_put(void)
{
	for (unsigned int i = 0; i < 2; i++)
		if (!seed_put(both_modes[i]))
			return false;
	return true;
}

static bool test_seed_plain_unlink(void)
{
	for (unsigned int i = 0; i < 2; i++)
		if (!seed_unlink(both_modes[i]))
			return false;
	return true;
}

struct seed_child_args {
	enum drm_gpuvm_flags flags;
	bool via_unlink;
};

/* Kernel semantics under the caller's lock: must die in drm_gem.c, not corrupt memory. */
static void seed_locked_child(void *p)
{
	const struct seed_child_args *args = p;
	struct drm_device *drm = drm_dev_alloc("seed");
	struct drm_gpuvm *vm = vm_new(drm, args->flags);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_obtain(vm, obj);
	struct drm_gpuva *va = va_insert(vm, VA_A, VA_SZ, obj, 0);

	drm_gpuva_link(va, vm_bo);
	drm_gpuva_remove(va);
	if (args->via_unlink) {
		drm_gpuvm_bo_put(vm_bo);
		drm_gem_object_put(obj);
		gem_lock(vm, obj);
		drm_gpuva_unlink_locked(va); /* frees the GEM under its own lock */
	} else {
		drm_gpuva_unlink(va);
		drm_gem_object_put(obj);
		gem_lock(vm, obj);
		drm_gpuvm_bo_put_locked(vm_bo); /* same */
	}
	gem_unlock(vm, obj);
	fprintf(stderr, "survived\n");
}

static bool test_seed_locked_put_aborts(void)
{
	for (unsigned int i = 0; i < 4; i++) {
		struct seed_child_args args = {
			.flags = both_modes[i & 1],
			.via_unlink = i >= 2,
		};
		struct child_result res;

		ASSERT_TRUE(run_in_child(seed_locked_child, &args, &res));
		if (res.term_signal != SIGABRT)
			fprintf(stderr, "# child output: %s\n", res.err);
		ASSERT_EQ(res.term_signal, SIGABRT);
		ASSERT_NONNULL(strstr(res.err, "freed while its gpuva lock"));
		ASSERT_NONNULL(strstr(res.err, args.flags & DRM_GPUVM_IMMEDIATE_MODE
						       ? "gpuva.lock mutex" : "(resv)"));
		ASSERT_NULL(strstr(res.err, "survived"));
	}
	return true;
}

/* ==================================================== _locked pairs, one by one */

struct pair_env {
	long live0;
	struct drm_device *drm;
	struct drm_gpuvm *vm;
	struct drm_gem_object *obj;
};

static bool env_init(struct pair_env *e, enum drm_gpuvm_flags flags)
{
	e->live0 = gpuvm_alloc_live();
	e->drm = drm_dev_alloc("pairs");
	ASSERT_NONNULL(e->drm);
	e->vm = vm_new(e->drm, flags);
	ASSERT_NONNULL(e->vm);
	e->obj = gem_new(e->drm);
	ASSERT_NONNULL(e->obj);
	return true;
}

static bool env_fini(struct pair_env *e)
{
	ASSERT_TRUE(list_empty(&e->obj->gpuva.list));
	ASSERT_EQ(gem_refs(e->obj), 1);
	drm_gem_object_put(e->obj);
	ASSERT_EQ(vm_refs(e->vm), 1);
	drm_gpuvm_put(e->vm);
	drm_dev_put(e->drm);
	ASSERT_EQ(gpuvm_alloc_live(), e->live0);
	return true;
}

static bool pair_link(enum drm_gpuvm_flags flags)
{
	struct pair_env e;
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *a, *b, *c;
	unsigned long nh0;

	if (!env_init(&e, flags))
		return false;
	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	a = va_insert(e.vm, VA_A, VA_SZ, e.obj, 0);
	b = va_insert(e.vm, VA_B, VA_SZ, e.obj, VA_SZ);
	c = va_insert(e.vm, VA_C, VA_SZ, e.obj, 2 * VA_SZ);
	ASSERT_TRUE(a && b && c);
	nh0 = warn_log_lock_not_held();

	/* Plain: nothing held, it takes and releases the lock itself. */
	drm_gpuva_link(a, vm_bo);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_FALSE(gem_locked(e.vm, e.obj));
	ASSERT_EQ(a->vm_bo, vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 2);

	/* _locked with the lock: silent. */
	gem_lock(e.vm, e.obj);
	drm_gpuva_link_locked(b, vm_bo);
	gem_unlock(e.vm, e.obj);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);

	/* _locked without it: the assertion fires, the link still happens. */
	drm_gpuva_link_locked(c, vm_bo);
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);
	ASSERT_EQ(c->vm_bo, vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 4);

	/* Link order is kept. */
	ASSERT_EQ(vm_bo->list.gpuva.next, &a->gem.entry);
	ASSERT_EQ(a->gem.entry.next, &b->gem.entry);
	ASSERT_EQ(b->gem.entry.next, &c->gem.entry);

	va_destroy(a);
	va_destroy(b);
	va_destroy(c);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	return env_fini(&e);
}

static bool pair_unlink(enum drm_gpuvm_flags flags)
{
	struct pair_env e;
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *a, *b, *c;
	unsigned long nh0;

	if (!env_init(&e, flags))
		return false;
	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	a = va_insert(e.vm, VA_A, VA_SZ, e.obj, 0);
	b = va_insert(e.vm, VA_B, VA_SZ, e.obj, 0);
	c = va_insert(e.vm, VA_C, VA_SZ, e.obj, 0);
	ASSERT_TRUE(a && b && c);
	drm_gpuva_link(a, vm_bo);
	drm_gpuva_link(b, vm_bo);
	drm_gpuva_link(c, vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 4);
	nh0 = warn_log_lock_not_held();

	drm_gpuva_unlink(a);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_FALSE(gem_locked(e.vm, e.obj));
	ASSERT_NULL(a->vm_bo);
	ASSERT_TRUE(list_empty(&a->gem.entry));
	ASSERT_EQ(vm_bo_refs(vm_bo), 3);

	gem_lock(e.vm, e.obj);
	drm_gpuva_unlink_locked(b);
	gem_unlock(e.vm, e.obj);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_EQ(vm_bo_refs(vm_bo), 2);

	drm_gpuva_unlink_locked(c);
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);
	ASSERT_EQ(vm_bo_refs(vm_bo), 1);
	ASSERT_TRUE(list_empty(&vm_bo->list.gpuva));

	/* Unlinking again, or a GEM-less VA, is a no-op. */
	drm_gpuva_unlink(a);
	ASSERT_EQ(vm_bo_refs(vm_bo), 1);

	va_destroy(a);
	va_destroy(b);
	va_destroy(c);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	return env_fini(&e);
}

static bool pair_find(enum drm_gpuvm_flags flags)
{
	struct pair_env e;
	struct drm_gpuvm_bo *vm_bo, *f;
	unsigned long nh0;

	if (!env_init(&e, flags))
		return false;
	nh0 = warn_log_lock_not_held();
	ASSERT_NULL(drm_gpuvm_bo_find(e.vm, e.obj));
	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));

	f = drm_gpuvm_bo_find(e.vm, e.obj);
	ASSERT_EQ(f, vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 2); /* find takes a reference */
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_FALSE(gem_locked(e.vm, e.obj));

	gem_lock(e.vm, e.obj);
	f = drm_gpuvm_bo_find_locked(e.vm, e.obj);
	gem_unlock(e.vm, e.obj);
	ASSERT_EQ(f, vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 3);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);

	f = drm_gpuvm_bo_find_locked(e.vm, e.obj);
	ASSERT_EQ(f, vm_bo);
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);

	for (int i = 0; i < 4; i++)
		drm_gpuvm_bo_put(vm_bo);
	ASSERT_TRUE(list_empty(&e.obj->gpuva.list));
	return env_fini(&e);
}

static bool pair_obtain(enum drm_gpuvm_flags flags)
{
	bool immediate = flags & DRM_GPUVM_IMMEDIATE_MODE;
	struct pair_env e;
	struct drm_gpuvm_bo *vm_bo, *o;
	unsigned long nh0, w0;

	if (!env_init(&e, flags))
		return false;
	nh0 = warn_log_lock_not_held();
	w0 = warn_log_count();

	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	ASSERT_EQ(warn_log_count(), w0);
	ASSERT_FALSE(gem_locked(e.vm, e.obj));
	ASSERT_TRUE(on_gem(vm_bo, e.obj));
	ASSERT_EQ(list_count_nodes(&e.obj->gpuva.list), 1);

	/* _locked with the lock: finds the same one (a mode WARN in immediate mode). */
	gem_lock(e.vm, e.obj);
	o = drm_gpuvm_bo_obtain_locked(e.vm, e.obj);
	gem_unlock(e.vm, e.obj);
	ASSERT_EQ(o, vm_bo);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_EQ(warn_log_count(), w0 + (immediate ? 1 : 0));
	if (immediate)
		ASSERT_TRUE(warn_log_last_contains("drm_gpuvm_bo_obtain_prealloc"));

	/* _locked without: lock assertion. */
	o = drm_gpuvm_bo_obtain_locked(e.vm, e.obj);
	ASSERT_EQ(o, vm_bo);
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);
	ASSERT_EQ(vm_bo_refs(vm_bo), 3);
	ASSERT_EQ(list_count_nodes(&e.obj->gpuva.list), 1);

	for (int i = 0; i < 3; i++)
		drm_gpuvm_bo_put(vm_bo);

	/* A new one through obtain_locked under the lock. */
	gem_lock(e.vm, e.obj);
	o = drm_gpuvm_bo_obtain_locked(e.vm, e.obj);
	gem_unlock(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(o));
	ASSERT_TRUE(on_gem(o, e.obj));
	ASSERT_EQ(vm_bo_refs(o), 1);
	ASSERT_TRUE(drm_gpuvm_bo_put(o));
	return env_fini(&e);
}

static bool pair_put(enum drm_gpuvm_flags flags)
{
	struct pair_env e;
	struct drm_gpuvm_bo *vm_bo;
	unsigned long nh0;

	if (!env_init(&e, flags))
		return false;
	nh0 = warn_log_lock_not_held();

	/* Plain last put with nothing held. */
	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	ASSERT_EQ(vm_refs(e.vm), 2);
	ASSERT_EQ(gem_refs(e.obj), 2);
	drm_gpuvm_bo_get(vm_bo);
	ASSERT_FALSE(drm_gpuvm_bo_put(vm_bo));
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_FALSE(gem_locked(e.vm, e.obj));
	ASSERT_TRUE(list_empty(&e.obj->gpuva.list));
	ASSERT_EQ(vm_refs(e.vm), 1);
	ASSERT_EQ(gem_refs(e.obj), 1);
	ASSERT_FALSE(drm_gpuvm_bo_put(NULL));

	/* _locked last put under the lock: silent. */
	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	gem_lock(e.vm, e.obj);
	ASSERT_TRUE(drm_gpuvm_bo_put_locked(vm_bo));
	gem_unlock(e.vm, e.obj);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_TRUE(list_empty(&e.obj->gpuva.list));

	/* _locked last put without the lock: asserted, still destroyed. */
	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	ASSERT_TRUE(drm_gpuvm_bo_put_locked(vm_bo));
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);
	ASSERT_TRUE(list_empty(&e.obj->gpuva.list));
	ASSERT_EQ(vm_refs(e.vm), 1);
	ASSERT_EQ(gem_refs(e.obj), 1);
	return env_fini(&e);
}

static bool pair_unmap_ops(enum drm_gpuvm_flags flags)
{
	struct pair_env e;
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *a, *b;
	struct drm_gpuva_ops *ops;
	struct drm_gpuva_op *op;
	unsigned long nh0;
	unsigned int n;

	if (!env_init(&e, flags))
		return false;
	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	a = va_insert(e.vm, VA_B, VA_SZ, e.obj, 0);
	b = va_insert(e.vm, VA_A, VA_SZ, e.obj, 0);
	ASSERT_TRUE(a && b);
	drm_gpuva_link(a, vm_bo);
	drm_gpuva_link(b, vm_bo);
	nh0 = warn_log_lock_not_held();

	ops = drm_gpuvm_bo_unmap_ops_create(vm_bo);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_FALSE(gem_locked(e.vm, e.obj));
	n = 0;
	drm_gpuva_for_each_op(op, ops) {
		ASSERT_EQ(op->op, DRM_GPUVA_OP_UNMAP);
		/* link order, not address order */
		ASSERT_EQ(op->unmap.va, n == 0 ? a : b);
		ASSERT_FALSE(op->unmap.keep);
		n++;
	}
	ASSERT_EQ(n, 2);
	drm_gpuva_ops_free(e.vm, ops);

	gem_lock(e.vm, e.obj);
	ops = drm_gpuvm_bo_unmap_ops_create_locked(vm_bo);
	gem_unlock(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	drm_gpuva_ops_free(e.vm, ops);

	ops = drm_gpuvm_bo_unmap_ops_create_locked(vm_bo);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);
	drm_gpuva_ops_free(e.vm, ops);

	va_destroy(a);
	va_destroy(b);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	return env_fini(&e);
}

static bool pair_gem_evict(enum drm_gpuvm_flags flags)
{
	struct pair_env e;
	struct drm_gpuvm_bo *vm_bo;
	unsigned long nh0;

	if (!env_init(&e, flags))
		return false;
	vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	nh0 = warn_log_lock_not_held();

	/* Plain: takes the object's resv (which evict needs) and the gpuva lock. */
	drm_gpuvm_bo_gem_evict(e.obj, true);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_FALSE(dma_resv_is_locked(e.obj->resv));
	ASSERT_FALSE(mutex_is_locked(&e.obj->gpuva.lock));
	ASSERT_TRUE(vm_bo->evicted);
	ASSERT_TRUE(on_evict(vm_bo));

	/* _locked under the gpuva lock and the resv: silent. */
	dma_resv_lock(e.obj->resv, NULL);
	if (flags & DRM_GPUVM_IMMEDIATE_MODE)
		mutex_lock(&e.obj->gpuva.lock);
	drm_gpuvm_bo_gem_evict_locked(e.obj, false);
	if (flags & DRM_GPUVM_IMMEDIATE_MODE)
		mutex_unlock(&e.obj->gpuva.lock);
	dma_resv_unlock(e.obj->resv);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_FALSE(vm_bo->evicted);
	ASSERT_FALSE(on_evict(vm_bo));

	/* _locked without: asserted (gpuva lock, and evict's own resv check). */
	drm_gpuvm_bo_gem_evict_locked(e.obj, true);
	ASSERT_TRUE(warn_log_lock_not_held() >= nh0 + 1);
	ASSERT_TRUE(vm_bo->evicted);

	dma_resv_lock(e.obj->resv, NULL);
	drm_gpuvm_bo_evict(vm_bo, false);
	dma_resv_unlock(e.obj->resv);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	return env_fini(&e);
}

#define PAIR_TEST(name)                                           \
	static bool test_pair_##name(void)                        \
	{                                                         \
		for (unsigned int i = 0; i < 2; i++)              \
			if (!pair_##name(both_modes[i]))          \
				return false;                     \
		return true;                                      \
	}

PAIR_TEST(link)
PAIR_TEST(unlink)
PAIR_TEST(find)
PAIR_TEST(obtain)
PAIR_TEST(put)
PAIR_TEST(unmap_ops)
PAIR_TEST(gem_evict)

/*
 * The plain forms really take the lock: while another thread holds it they
 * wait, and finish once it is released.
 */
enum blocked_op { BLOCKED_LINK, BLOCKED_UNLINK, BLOCKED_FIND, BLOCKED_OBTAIN, BLOCKED_PUT };

struct blocked_args {
	enum blocked_op op;
	struct drm_gpuvm *vm;
	struct drm_gem_object *obj;
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva *va;
	struct drm_gpuvm_bo *result;
	atomic_bool done;
};

static void *blocked_thread(void *p)
{
	struct blocked_args *a = p;

	switch (a->op) {
	case BLOCKED_LINK:
		drm_gpuva_link(a->va, a->vm_bo);
		break;
	case BLOCKED_UNLINK:
		drm_gpuva_unlink(a->va);
		break;
	case BLOCKED_FIND:
		a->result = drm_gpuvm_bo_find(a->vm, a->obj);
		break;
	case BLOCKED_OBTAIN:
		a->result = drm_gpuvm_bo_obtain(a->vm, a->obj);
		break;
	case BLOCKED_PUT:
		drm_gpuvm_bo_put(a->vm_bo);
		break;
	}
	atomic_store(&a->done, true);
	return NULL;
}

static bool blocked(enum drm_gpuvm_flags flags, enum blocked_op op)
{
	struct timespec ms50 = { 0, 50 * 1000 * 1000 };
	struct blocked_args a = { .op = op };
	struct pair_env e;
	pthread_t t;

	if (!env_init(&e, flags))
		return false;
	a.vm = e.vm;
	a.obj = e.obj;
	a.vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(a.vm_bo));
	a.va = va_insert(e.vm, VA_A, VA_SZ, e.obj, 0);
	ASSERT_NONNULL(a.va);
	if (op == BLOCKED_UNLINK)
		drm_gpuva_link(a.va, a.vm_bo);
	if (op == BLOCKED_OBTAIN) {
		/* The new-object path: nothing to find. */
		drm_gpuvm_bo_put(a.vm_bo);
		a.vm_bo = NULL;
	}

	gem_lock(e.vm, e.obj);
	ASSERT_EQ(pthread_create(&t, NULL, blocked_thread, &a), 0);
	nanosleep(&ms50, NULL);
	ASSERT_FALSE(atomic_load(&a.done));
	gem_unlock(e.vm, e.obj);
	pthread_join(t, NULL);
	ASSERT_TRUE(atomic_load(&a.done));

	switch (op) {
	case BLOCKED_LINK:
		ASSERT_EQ(a.va->vm_bo, a.vm_bo);
		drm_gpuva_unlink(a.va);
		break;
	case BLOCKED_UNLINK:
		ASSERT_NULL(a.va->vm_bo);
		break;
	case BLOCKED_FIND:
		ASSERT_EQ(a.result, a.vm_bo);
		drm_gpuvm_bo_put(a.result);
		break;
	case BLOCKED_OBTAIN:
		ASSERT_FALSE(IS_ERR_OR_NULL(a.result));
		ASSERT_TRUE(on_gem(a.result, e.obj));
		a.vm_bo = a.result;
		break;
	case BLOCKED_PUT:
		a.vm_bo = NULL; /* that was the last reference */
		ASSERT_TRUE(list_empty(&e.obj->gpuva.list));
		break;
	}
	drm_gpuva_remove(a.va);
	kfree(a.va);
	drm_gpuvm_bo_put(a.vm_bo);
	return env_fini(&e);
}

static bool test_plain_forms_wait_for_the_lock(void)
{
	for (unsigned int i = 0; i < 2; i++)
		for (int op = BLOCKED_LINK; op <= BLOCKED_PUT; op++)
			if (!blocked(both_modes[i], op)) {
				fprintf(stderr, "# mode %u op %d\n", i, op);
				return false;
			}
	return true;
}

/* Plain forms called while the caller already holds the lock reuse it. */
static bool test_plain_forms_under_held_lock(void)
{
	for (unsigned int i = 0; i < 2; i++) {
		struct pair_env e;
		struct drm_gpuvm_bo *vm_bo, *f;
		struct drm_gpuva *va;
		unsigned long w0 = warn_log_count();

		if (!env_init(&e, both_modes[i]))
			return false;
		va = va_insert(e.vm, VA_A, VA_SZ, e.obj, 0);
		ASSERT_NONNULL(va);
		gem_lock(e.vm, e.obj);
		vm_bo = drm_gpuvm_bo_obtain(e.vm, e.obj);
		ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
		f = drm_gpuvm_bo_find(e.vm, e.obj);
		ASSERT_EQ(f, vm_bo);
		drm_gpuvm_bo_put(f);
		drm_gpuva_link(va, vm_bo);
		ASSERT_TRUE(gem_locked(e.vm, e.obj));
		drm_gpuva_unlink(va);
		/* The creator's GEM reference keeps the lock alive here. */
		ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
		ASSERT_TRUE(gem_locked(e.vm, e.obj));
		gem_unlock(e.vm, e.obj);
		ASSERT_EQ(warn_log_count(), w0);
		drm_gpuva_remove(va);
		kfree(va);
		if (!env_fini(&e))
			return false;
	}
	return true;
}

/* ======================================================= obtain / find */

static bool test_obtain_existing_vs_new(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("obtain");
	struct drm_gpuvm *vm1 = vm_new(drm, 0), *vm2 = vm_new(drm, 0);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *a, *b, *c;

	ASSERT_TRUE(vm1 && vm2 && obj);
	a = drm_gpuvm_bo_obtain(vm1, obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(a));
	ASSERT_EQ(a->vm, vm1);
	ASSERT_EQ(a->obj, obj);
	ASSERT_EQ(vm_bo_refs(a), 1);
	ASSERT_FALSE(a->evicted);
	ASSERT_EQ(vm_refs(vm1), 2);
	ASSERT_EQ(gem_refs(obj), 2);

	/* Same VM: the same vm_bo, one more reference, nothing allocated. */
	{
		long live = gpuvm_alloc_live();
		unsigned long allocs = gpuvm_alloc_count();

		b = drm_gpuvm_bo_obtain(vm1, obj);
		ASSERT_EQ(b, a);
		ASSERT_EQ(vm_bo_refs(a), 2);
		ASSERT_EQ(gpuvm_alloc_live(), live);
		ASSERT_EQ(gpuvm_alloc_count(), allocs);
	}
	ASSERT_EQ(gem_refs(obj), 2);

	/* Another VM: a second vm_bo, appended to the GEM's list. */
	c = drm_gpuvm_bo_obtain(vm2, obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(c));
	ASSERT_NE(c, a);
	ASSERT_EQ(gem_refs(obj), 3);
	ASSERT_EQ(obj->gpuva.list.next, &a->list.entry.gem);
	ASSERT_EQ(a->list.entry.gem.next, &c->list.entry.gem);

	ASSERT_EQ(drm_gpuvm_bo_find(vm2, obj), c);
	ASSERT_EQ(vm_bo_refs(c), 2);

	drm_gpuvm_bo_put(c);
	ASSERT_TRUE(drm_gpuvm_bo_put(c));
	ASSERT_NULL(drm_gpuvm_bo_find(vm2, obj));
	drm_gpuvm_bo_put(b);
	ASSERT_TRUE(drm_gpuvm_bo_put(a));
	ASSERT_EQ(gem_refs(obj), 1);
	drm_gem_object_put(obj);
	drm_gpuvm_put(vm1);
	drm_gpuvm_put(vm2);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* create: not on the GEM list (invisible to find) until obtained. */
static bool test_create_is_invisible(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("create");
	struct drm_gpuvm *vm = vm_new(drm, 0);
	struct drm_gem_object *obj = gem_new(drm);
	struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_create(vm, obj);

	ASSERT_NONNULL(vm_bo);
	ASSERT_EQ(vm_bo_refs(vm_bo), 1);
	ASSERT_TRUE(list_empty(&vm_bo->list.entry.gem));
	ASSERT_TRUE(list_empty(&vm_bo->list.entry.extobj));
	ASSERT_TRUE(list_empty(&vm_bo->list.entry.evict));
	ASSERT_TRUE(list_empty(&vm_bo->list.gpuva));
	ASSERT_NULL(drm_gpuvm_bo_find(vm, obj));
	ASSERT_EQ(vm_refs(vm), 2);
	ASSERT_EQ(gem_refs(obj), 2);
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	ASSERT_EQ(vm_refs(vm), 1);
	ASSERT_EQ(gem_refs(obj), 1);
	drm_gem_object_put(obj);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Driver allocators: vm_bo embedded in a bigger struct. */
struct my_vm_bo {
	int cookie;
	struct drm_gpuvm_bo base;
};

static atomic_uint my_allocs, my_frees;

static struct drm_gpuvm_bo *my_vm_bo_alloc(void)
{
	struct my_vm_bo *m = kmalloc(sizeof(*m), GFP_KERNEL); /* deliberately not zeroed */

	if (!m)
		return NULL;
	memset(m, 0xa5, sizeof(*m));
	m->cookie = 42;
	atomic_fetch_add(&my_allocs, 1);
	return &m->base;
}

static void my_vm_bo_free(struct drm_gpuvm_bo *vm_bo)
{
	struct my_vm_bo *m = container_of(vm_bo, struct my_vm_bo, base);

	GPUVM_BUG_ON(m->cookie != 42);
	atomic_fetch_add(&my_frees, 1);
	kfree(m);
}

static const struct drm_gpuvm_ops my_ops = {
	.vm_free = fixture_vm_free,
	.vm_bo_alloc = my_vm_bo_alloc,
	.vm_bo_free = my_vm_bo_free,
};

static bool test_driver_allocators(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("ops");
	struct drm_gpuvm *vm = vm_new_ops(drm, 0, &my_ops);
	struct drm_gem_object *obj = gem_new(drm);
	unsigned int a0 = atomic_load(&my_allocs), f0 = atomic_load(&my_frees);
	struct drm_gpuvm_bo *vm_bo;

	ASSERT_TRUE(vm && obj);
	vm_bo = drm_gpuvm_bo_obtain(vm, obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	ASSERT_EQ(atomic_load(&my_allocs), a0 + 1);
	ASSERT_FALSE(vm_bo->evicted); /* initialised despite the 0xa5 fill */
	ASSERT_TRUE(list_empty(&vm_bo->list.gpuva));
	ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));
	ASSERT_EQ(atomic_load(&my_frees), f0 + 1);
	drm_gem_object_put(obj);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ================================================ extobj / evict lists */

static bool extobj_mode(enum drm_gpuvm_flags flags)
{
	bool protected = flags & DRM_GPUVM_RESV_PROTECTED;
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("extobj");
	struct drm_gpuvm *vm = vm_new(drm, flags);
	struct drm_gem_object *ext = gem_new(drm), *ext2 = gem_new(drm);
	struct drm_gem_object *priv = gem_new_private(drm, vm);
	struct drm_gpuvm_bo *ve, *ve2, *vp;
	unsigned long nh0;

	ASSERT_TRUE(vm && ext && ext2 && priv);
	ASSERT_TRUE(drm_gpuvm_is_extobj(vm, ext));
	ASSERT_FALSE(drm_gpuvm_is_extobj(vm, priv));
	ASSERT_FALSE(drm_gpuvm_is_extobj(vm, NULL));
	ve = drm_gpuvm_bo_obtain(vm, ext);
	ve2 = drm_gpuvm_bo_obtain(vm, ext2);
	vp = drm_gpuvm_bo_obtain(vm, priv);
	ASSERT_FALSE(IS_ERR_OR_NULL(ve) || IS_ERR_OR_NULL(ve2) || IS_ERR_OR_NULL(vp));
	nh0 = warn_log_lock_not_held();

	if (protected)
		dma_resv_lock(drm_gpuvm_resv(vm), NULL);
	drm_gpuvm_bo_extobj_add(ve2);
	drm_gpuvm_bo_extobj_add(ve);
	drm_gpuvm_bo_extobj_add(ve2); /* idempotent: stays where it is */
	drm_gpuvm_bo_extobj_add(vp);  /* private: never on the list */
	if (protected)
		dma_resv_unlock(drm_gpuvm_resv(vm));
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_EQ(list_count_nodes(&vm->extobj.list), 2);
	ASSERT_EQ(vm->extobj.list.next, &ve2->list.entry.extobj);
	ASSERT_EQ(vm->extobj.list.prev, &ve->list.entry.extobj);
	ASSERT_FALSE(on_extobj(vp));
	/* The lists hold no references. */
	ASSERT_EQ(vm_bo_refs(ve), 1);

	if (protected) {
		/* Without the VM resv: asserted. */
		drm_gpuvm_bo_extobj_add(ve);
		ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);
		nh0++;
	}

	/* Destruction takes it off the list (plain put takes what it needs). */
	ASSERT_TRUE(drm_gpuvm_bo_put(ve2));
	ASSERT_EQ(list_count_nodes(&vm->extobj.list), 1);
	ASSERT_TRUE(drm_gpuvm_bo_put(ve));
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	ASSERT_TRUE(drm_gpuvm_bo_put(vp));
	ASSERT_EQ(warn_log_lock_not_held(), nh0);
	ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(vm)));

	drm_gem_object_put(ext);
	drm_gem_object_put(ext2);
	drm_gem_object_put(priv);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static const enum drm_gpuvm_flags list_modes[] = {
	0,
	DRM_GPUVM_RESV_PROTECTED,
	DRM_GPUVM_IMMEDIATE_MODE,
	DRM_GPUVM_IMMEDIATE_MODE | DRM_GPUVM_RESV_PROTECTED,
};

static bool test_extobj_add(void)
{
	for (unsigned int i = 0; i < 4; i++)
		if (!extobj_mode(list_modes[i]))
			return false;
	return true;
}

static bool evict_mode(enum drm_gpuvm_flags flags)
{
	bool protected = flags & DRM_GPUVM_RESV_PROTECTED;
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("evict");
	struct drm_gpuvm *vm = vm_new(drm, flags);
	struct drm_gem_object *ext = gem_new(drm), *priv = gem_new_private(drm, vm);
	struct drm_gpuvm_bo *ve, *vp;
	unsigned long nh0;

	ASSERT_TRUE(vm && ext && priv);
	ve = drm_gpuvm_bo_obtain(vm, ext);
	vp = drm_gpuvm_bo_obtain(vm, priv);
	ASSERT_FALSE(IS_ERR_OR_NULL(ve) || IS_ERR_OR_NULL(vp));
	nh0 = warn_log_lock_not_held();

	/* Private object: its resv is the VM's, so the list is always updated. */
	dma_resv_lock(priv->resv, NULL);
	drm_gpuvm_bo_evict(vp, true);
	drm_gpuvm_bo_evict(vp, true);
	dma_resv_unlock(priv->resv);
	ASSERT_TRUE(vp->evicted);
	ASSERT_TRUE(on_evict(vp));
	ASSERT_EQ(list_count_nodes(&vm->evict.list), 1);

	/* External object: in RESV_PROTECTED mode only the flag changes. */
	dma_resv_lock(ext->resv, NULL);
	drm_gpuvm_bo_evict(ve, true);
	dma_resv_unlock(ext->resv);
	ASSERT_TRUE(ve->evicted);
	ASSERT_EQ(on_evict(ve), !protected);
	ASSERT_EQ(warn_log_lock_not_held(), nh0);

	/* Unevict: removed (or, protected + external, still only the flag). */
	dma_resv_lock(ext->resv, NULL);
	drm_gpuvm_bo_evict(ve, false);
	drm_gpuvm_bo_evict(ve, false); /* not on the list: no-op */
	dma_resv_unlock(ext->resv);
	ASSERT_FALSE(ve->evicted);
	ASSERT_FALSE(on_evict(ve));
	dma_resv_lock(priv->resv, NULL);
	drm_gpuvm_bo_evict(vp, false);
	dma_resv_unlock(priv->resv);
	ASSERT_FALSE(on_evict(vp));
	ASSERT_TRUE(list_empty(&vm->evict.list));

	/* evict without the object's resv: asserted, still applied. */
	drm_gpuvm_bo_evict(ve, true);
	ASSERT_TRUE(warn_log_lock_not_held() > nh0);
	ASSERT_TRUE(ve->evicted);
	nh0 = warn_log_lock_not_held();

	/* Destroying an evicted vm_bo takes it off the evict list. */
	dma_resv_lock(priv->resv, NULL);
	drm_gpuvm_bo_evict(vp, true);
	dma_resv_unlock(priv->resv);
	ASSERT_TRUE(drm_gpuvm_bo_put(vp));
	ASSERT_TRUE(drm_gpuvm_bo_put(ve));
	ASSERT_TRUE(list_empty(&vm->evict.list));
	ASSERT_EQ(warn_log_lock_not_held(), nh0);

	drm_gem_object_put(ext);
	drm_gem_object_put(priv);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_evict_unevict(void)
{
	for (unsigned int i = 0; i < 4; i++)
		if (!evict_mode(list_modes[i]))
			return false;
	return true;
}

/*
 * One object mapped in three VMs (staged, RESV_PROTECTED, staged): one
 * gem_evict call reaches every vm_bo on the object's list.
 */
static bool test_gem_evict_several_vms(void)
{
	static const enum drm_gpuvm_flags modes[2][3] = {
		{ 0, DRM_GPUVM_RESV_PROTECTED, 0 },
		{ DRM_GPUVM_IMMEDIATE_MODE, DRM_GPUVM_IMMEDIATE_MODE | DRM_GPUVM_RESV_PROTECTED,
		  DRM_GPUVM_IMMEDIATE_MODE },
	};

	for (unsigned int m = 0; m < 2; m++) {
		long live0 = gpuvm_alloc_live();
		struct drm_device *drm = drm_dev_alloc("gem_evict");
		struct drm_gem_object *obj = gem_new(drm);
		struct drm_gpuvm *vm[3];
		struct drm_gpuvm_bo *vb[3];
		unsigned long w0 = warn_log_count();

		for (int i = 0; i < 3; i++) {
			vm[i] = vm_new(drm, modes[m][i]);
			ASSERT_NONNULL(vm[i]);
			vb[i] = drm_gpuvm_bo_obtain(vm[i], obj);
			ASSERT_FALSE(IS_ERR_OR_NULL(vb[i]));
		}
		ASSERT_EQ(list_count_nodes(&obj->gpuva.list), 3);

		drm_gpuvm_bo_gem_evict(obj, true);
		for (int i = 0; i < 3; i++) {
			ASSERT_TRUE(vb[i]->evicted);
			/* the RESV_PROTECTED VM only records the flag for an extobj */
			ASSERT_EQ(on_evict(vb[i]), i != 1);
		}
		drm_gpuvm_bo_gem_evict(obj, false);
		for (int i = 0; i < 3; i++) {
			ASSERT_FALSE(vb[i]->evicted);
			ASSERT_FALSE(on_evict(vb[i]));
		}
		ASSERT_EQ(warn_log_count(), w0);

		for (int i = 0; i < 3; i++) {
			ASSERT_TRUE(drm_gpuvm_bo_put(vb[i]));
			drm_gpuvm_put(vm[i]);
		}
		ASSERT_TRUE(list_empty(&obj->gpuva.list));
		drm_gem_object_put(obj);
		drm_dev_put(drm);
		ASSERT_EQ(gpuvm_alloc_live(), live0);
	}
	return true;
}

/* ============================================================= refcounts */

/*
 *	0x10000  0x20000  0x30000
 *	|aaaaaaaa|bbbbbbbb|           a, b on obj; s is sparse (no GEM)
 *	                  |ssssssss|
 */
static bool test_refcounts(void)
{
	for (unsigned int m = 0; m < 2; m++) {
		long live0 = gpuvm_alloc_live();
		struct drm_device *drm = drm_dev_alloc("refs");
		struct drm_gpuvm *vm = vm_new(drm, both_modes[m]);
		struct drm_gem_object *obj = gem_new(drm);
		struct drm_gpuvm_bo *vm_bo;
		struct drm_gpuva *a, *b, *s;

		ASSERT_TRUE(vm && obj);
		ASSERT_EQ(vm_refs(vm), 1);      /* creator; reserved node not counted */
		/* us, the VM (GEM objects hold no device reference) */
		ASSERT_EQ(kref_read(&drm->ref), 2);
		ASSERT_EQ(gem_refs(obj), 1);

		a = va_insert(vm, VA_A, VA_SZ, obj, 0);
		b = va_insert(vm, VA_B, VA_SZ, obj, VA_SZ);
		s = va_insert(vm, VA_C, VA_SZ, NULL, 0);
		ASSERT_TRUE(a && b && s);
		ASSERT_EQ(vm_refs(vm), 4);      /* +1 per inserted VA */
		ASSERT_EQ(gem_refs(obj), 1);    /* VAs hold no GEM reference */

		vm_bo = drm_gpuvm_bo_obtain(vm, obj);
		ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
		ASSERT_EQ(vm_refs(vm), 5);      /* +1 per vm_bo */
		ASSERT_EQ(gem_refs(obj), 2);    /* vm_bo -> GEM */

		drm_gpuva_link(a, vm_bo);
		drm_gpuva_link(b, vm_bo);
		drm_gpuva_link(s, vm_bo);       /* no GEM: no-op */
		ASSERT_NULL(s->vm_bo);
		ASSERT_EQ(vm_bo_refs(vm_bo), 3);
		ASSERT_EQ(gem_refs(obj), 2);

		/* The creator's vm_bo reference can go: the VAs keep it. */
		ASSERT_FALSE(drm_gpuvm_bo_put(vm_bo));
		ASSERT_EQ(vm_bo_refs(vm_bo), 2);

		/* remove keeps va->vm, so unlink after remove works. */
		drm_gpuva_remove(a);
		ASSERT_EQ(a->vm, vm);
		ASSERT_EQ(vm_refs(vm), 4);
		drm_gpuva_unlink(a);
		ASSERT_EQ(vm_bo_refs(vm_bo), 1);
		drm_gpuva_unlink(s);            /* no GEM: no-op */

		drm_gpuva_remove(b);
		drm_gpuva_unlink(b);            /* last: vm_bo gone */
		ASSERT_TRUE(list_empty(&obj->gpuva.list));
		ASSERT_EQ(vm_refs(vm), 2);      /* creator + s */
		ASSERT_EQ(gem_refs(obj), 1);
		drm_gpuva_remove(s);
		ASSERT_EQ(vm_refs(vm), 1);

		kfree(a);
		kfree(b);
		kfree(s);
		drm_gem_object_put(obj);
		drm_gpuvm_put(vm);
		ASSERT_EQ(kref_read(&drm->ref), 1);
		drm_dev_put(drm);
		ASSERT_EQ(gpuvm_alloc_live(), live0);
	}
	return true;
}

/* ======================================================= VM teardown */

/* vm_free that leaves the memory to the test, which still has to clean up. */
static atomic_uint keep_vm_frees;

static void keep_vm_free(struct drm_gpuvm *gpuvm)
{
	GPUVM_UNUSED(gpuvm);
	atomic_fetch_add(&keep_vm_frees, 1);
}

static const struct drm_gpuvm_ops keep_ops = { .vm_free = keep_vm_free };

/*
 * A vm_bo holds a VM reference, so the lists are only non-empty at teardown
 * when a driver dropped a VM reference it did not own: simulate exactly that
 * ("steal" the vm_bo's reference), then check the WARNs and free by hand.
 */
static bool teardown_with(enum drm_gpuvm_flags flags, bool deferred)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("teardown");
	struct drm_gpuvm *vm = vm_new_ops(drm, flags, &keep_ops);
	struct drm_gem_object *obj = gem_new(drm);
	unsigned int frees0 = atomic_load(&keep_vm_frees);
	struct drm_gpuvm_bo *vm_bo;
	unsigned long w0;

	ASSERT_TRUE(vm && obj);
	vm_bo = drm_gpuvm_bo_obtain(vm, obj);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	if (deferred) {
		ASSERT_TRUE(drm_gpuvm_bo_put_deferred(vm_bo));
		ASSERT_FALSE(llist_empty(&vm->bo_defer));
	} else {
		drm_gpuvm_bo_extobj_add(vm_bo);
		dma_resv_lock(obj->resv, NULL);
		drm_gpuvm_bo_evict(vm_bo, true);
		dma_resv_unlock(obj->resv);
		ASSERT_TRUE(on_extobj(vm_bo) && on_evict(vm_bo));
	}
	ASSERT_EQ(vm_refs(vm), 2);

	w0 = warn_log_count();
	drm_gpuvm_put(vm);
	drm_gpuvm_put(vm); /* the stolen one */
	ASSERT_EQ(atomic_load(&keep_vm_frees), frees0 + 1);
	/* extobj + evict, or bo_defer. */
	ASSERT_EQ(warn_log_count(), w0 + (deferred ? 1 : 2));

	/* By hand: the vm_bo's VM reference is gone already, its GEM one is not. */
	list_del_init(&vm_bo->list.entry.gem);
	kfree(vm_bo);
	drm_gem_object_put(obj);
	drm_gem_object_put(obj);
	kfree(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_vm_teardown_warns(void)
{
	warn_log.quiet = true;
	if (!teardown_with(0, false))
		return false;
	if (!teardown_with(DRM_GPUVM_IMMEDIATE_MODE, true))
		return false;
	warn_log.quiet = false;
	return true;
}

/* ============================================ allocation-failure injection */

static bool test_alloc_failure(void)
{
	for (unsigned int m = 0; m < 2; m++) {
		long live0 = gpuvm_alloc_live();
		struct drm_device *drm = drm_dev_alloc("enomem");
		struct drm_gpuvm *vm = vm_new(drm, both_modes[m]);
		struct drm_gem_object *obj = gem_new(drm);
		struct drm_gpuvm_bo *vm_bo;
		unsigned long fails0 = gpuvm_alloc_failures();
		long live1;

		ASSERT_TRUE(vm && obj);
		live1 = gpuvm_alloc_live();

		gpuvm_alloc_fail_nth(1);
		ASSERT_NULL(drm_gpuvm_bo_create(vm, obj));
		ASSERT_EQ(gpuvm_alloc_failures(), fails0 + 1);

		gpuvm_alloc_fail_nth(1);
		vm_bo = drm_gpuvm_bo_obtain(vm, obj);
		ASSERT_TRUE(IS_ERR(vm_bo));
		ASSERT_EQ(PTR_ERR(vm_bo), -ENOMEM);

		if (!(both_modes[m] & DRM_GPUVM_IMMEDIATE_MODE)) {
			gpuvm_alloc_fail_nth(1);
			dma_resv_lock(obj->resv, NULL);
			vm_bo = drm_gpuvm_bo_obtain_locked(vm, obj);
			dma_resv_unlock(obj->resv);
			ASSERT_TRUE(IS_ERR(vm_bo));
			ASSERT_EQ(PTR_ERR(vm_bo), -ENOMEM);
		}
		gpuvm_alloc_fail_nth(0);

		/* Unchanged: nothing on the GEM, no references, nothing allocated. */
		ASSERT_TRUE(list_empty(&obj->gpuva.list));
		ASSERT_EQ(gem_refs(obj), 1);
		ASSERT_EQ(vm_refs(vm), 1);
		ASSERT_EQ(gpuvm_alloc_live(), live1);
		ASSERT_FALSE(dma_resv_is_locked(obj->resv));
		ASSERT_FALSE(mutex_is_locked(&obj->gpuva.lock));

		/* An existing vm_bo is found without allocating. */
		vm_bo = drm_gpuvm_bo_obtain(vm, obj);
		ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
		gpuvm_alloc_fail_nth(1);
		ASSERT_EQ(drm_gpuvm_bo_obtain(vm, obj), vm_bo);
		gpuvm_alloc_fail_nth(0);
		drm_gpuvm_bo_put(vm_bo);
		ASSERT_TRUE(drm_gpuvm_bo_put(vm_bo));

		drm_gem_object_put(obj);
		drm_gpuvm_put(vm);
		drm_dev_put(drm);
		ASSERT_EQ(gpuvm_alloc_live(), live0);
	}
	return true;
}

/* A racing obtain of the same (VM, GEM): exactly one vm_bo survives. */
struct race_args {
	struct drm_gpuvm *vm;
	struct drm_gem_object *obj;
	pthread_barrier_t *barrier;
	struct drm_gpuvm_bo *got[200];
};

static void *race_thread(void *p)
{
	struct race_args *a = p;

	for (int i = 0; i < 200; i++) {
		pthread_barrier_wait(a->barrier);
		a->got[i] = drm_gpuvm_bo_obtain(a->vm, a->obj);
		pthread_barrier_wait(a->barrier);
		drm_gpuvm_bo_put(a->got[i]);
	}
	return NULL;
}

static bool test_obtain_race(void)
{
	for (unsigned int m = 0; m < 2; m++) {
		long live0 = gpuvm_alloc_live();
		struct drm_device *drm = drm_dev_alloc("race");
		struct drm_gpuvm *vm = vm_new(drm, both_modes[m]);
		struct drm_gem_object *obj = gem_new(drm);
		pthread_barrier_t barrier;
		static struct race_args args[4];
		pthread_t t[4];

		ASSERT_TRUE(vm && obj);
		pthread_barrier_init(&barrier, NULL, 4);
		for (int i = 0; i < 4; i++) {
			args[i] = (struct race_args){ .vm = vm, .obj = obj, .barrier = &barrier };
			ASSERT_EQ(pthread_create(&t[i], NULL, race_thread, &args[i]), 0);
		}
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&barrier);
		for (int r = 0; r < 200; r++)
			for (int i = 1; i < 4; i++)
				ASSERT_EQ(args[i].got[r], args[0].got[r]);
		ASSERT_TRUE(list_empty(&obj->gpuva.list));
		drm_gem_object_put(obj);
		drm_gpuvm_put(vm);
		drm_dev_put(drm);
		ASSERT_EQ(gpuvm_alloc_live(), live0);
	}
	return true;
}

/*
 * RESV_PROTECTED, staged: the plain last put needs the VM resv and the
 * object's resv, and takes them as one ww transaction. Race it against a
 * drm_exec taking the same two in the opposite order: back-offs, never a
 * deadlock.
 */
struct put_vs_exec_args {
	pthread_barrier_t *start;
	struct drm_gpuvm *vm;
	struct drm_gem_object *obj;
	unsigned long backoffs;
	int err;
};

static void *put_side(void *p)
{
	struct put_vs_exec_args *a = p;

	pthread_barrier_wait(a->start);
	for (int i = 0; i < 3000; i++) {
		struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_obtain(a->vm, a->obj);

		if (IS_ERR(vm_bo)) {
			a->err = (int)PTR_ERR(vm_bo);
			break;
		}
		dma_resv_lock(drm_gpuvm_resv(a->vm), NULL);
		drm_gpuvm_bo_extobj_add(vm_bo);
		dma_resv_unlock(drm_gpuvm_resv(a->vm));
		drm_gpuvm_bo_put(vm_bo); /* last: VM resv + object resv, then free */
	}
	return NULL;
}

/* The opposite order: the object first, then the VM resv (and the extobjs). */
static void *exec_side(void *p)
{
	struct put_vs_exec_args *a = p;

	pthread_barrier_wait(a->start);
	for (int i = 0; i < 3000; i++) {
		struct drm_exec exec;
		int ret = 0;

		drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
		drm_exec_until_all_locked(&exec) {
			ret = drm_exec_lock_obj(&exec, a->obj);
			drm_exec_retry_on_contention(&exec);
			if (ret)
				break;
			ret = drm_gpuvm_prepare_vm(a->vm, &exec, 1);
			drm_exec_retry_on_contention(&exec);
			if (ret)
				break;
			ret = drm_gpuvm_prepare_objects(a->vm, &exec, 1);
			drm_exec_retry_on_contention(&exec);
			if (ret)
				break;
		}
		a->backoffs += exec.num_backoffs;
		drm_exec_fini(&exec);
		if (ret) {
			a->err = ret;
			break;
		}
	}
	return NULL;
}

static bool test_plain_put_vs_exec_lock(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long w0 = warn_log_count();
	struct drm_device *drm = drm_dev_alloc("put_vs_exec");
	struct drm_gpuvm *vm = vm_new(drm, DRM_GPUVM_RESV_PROTECTED);
	struct drm_gem_object *obj = gem_new(drm), *other = gem_new(drm);
	struct put_vs_exec_args a, b;
	pthread_barrier_t start;
	struct drm_gpuvm_bo *keep;
	pthread_t ta, tb;

	ASSERT_TRUE(vm && obj && other);
	/* A second extobj that stays, so exec_lock always has two objects to order. */
	keep = drm_gpuvm_bo_obtain(vm, other);
	ASSERT_FALSE(IS_ERR_OR_NULL(keep));
	dma_resv_lock(drm_gpuvm_resv(vm), NULL);
	drm_gpuvm_bo_extobj_add(keep);
	dma_resv_unlock(drm_gpuvm_resv(vm));

	pthread_barrier_init(&start, NULL, 2);
	a = (struct put_vs_exec_args){ .start = &start, .vm = vm, .obj = obj };
	b = a;
	ASSERT_EQ(pthread_create(&ta, NULL, put_side, &a), 0);
	ASSERT_EQ(pthread_create(&tb, NULL, exec_side, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	ASSERT_EQ(a.err, 0);
	ASSERT_EQ(b.err, 0);
	printf("# plain put vs drm_exec: %lu drm_exec back-offs\n", b.backoffs);
	ASSERT_TRUE(list_empty(&obj->gpuva.list));
	ASSERT_EQ(list_count_nodes(&vm->extobj.list), 1);
	ASSERT_EQ(warn_log_count(), w0);

	ASSERT_TRUE(drm_gpuvm_bo_put(keep));
	drm_gem_object_put(obj);
	drm_gem_object_put(other);
	drm_gpuvm_put(vm);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	warn_log_install();

	RUN(test_seed_plain_put);
	RUN(test_seed_plain_unlink);
	RUN(test_seed_locked_put_aborts);
	RUN(test_pair_link);
	RUN(test_pair_unlink);
	RUN(test_pair_find);
	RUN(test_pair_obtain);
	RUN(test_pair_put);
	RUN(test_pair_unmap_ops);
	RUN(test_pair_gem_evict);
	RUN(test_plain_forms_wait_for_the_lock);
	RUN(test_plain_forms_under_held_lock);
	RUN(test_obtain_existing_vs_new);
	RUN(test_create_is_invisible);
	RUN(test_driver_allocators);
	RUN(test_extobj_add);
	RUN(test_evict_unevict);
	RUN(test_gem_evict_several_vms);
	RUN(test_refcounts);
	RUN(test_vm_teardown_warns);
	RUN(test_alloc_failure);
	RUN(test_obtain_race);
	RUN(test_plain_put_vs_exec_lock);
	return harness_done();
}
