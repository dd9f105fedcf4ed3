// SPDX-License-Identifier: MIT
/*
 * The gpuvm exec helpers: locking
 * a VM's resvs through drm_exec, validate in both list modes, fences, and the
 * split/merge lock walks.
 *
 * Objects used throughout: e0..e2 external (own resv, on the VM's extobj
 * list), p private (shares the VM's resv), u unrelated to the VM.
 */
#include <errno.h>

#include "harness.h"
#include "vm_bo_fixture.h"

#define PROT DRM_GPUVM_RESV_PROTECTED

/* ---------------------------------------------------- validate callback */

struct validate_ctl {
	int fail_at;          /* call index that returns -EIO; -1: none */
	bool keep_evicted;    /* do not clear the eviction */
	struct drm_gpuvm_bo *evict_on_first; /* evict this one from the first call */
	bool nested;          /* run a nested validate from the first call */
	unsigned int calls;
	struct drm_gpuvm_bo *log[16];
};

static struct validate_ctl vctl;

static void vctl_reset(void)
{
	vctl = (struct validate_ctl){ .fail_at = -1 };
}

static int test_validate_cb(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec)
{
	unsigned int i = vctl.calls++;

	if (i < 16)
		vctl.log[i] = vm_bo;
	if ((int)i == vctl.fail_at)
		return -EIO;
	if (i == 0 && vctl.evict_on_first)
		drm_gpuvm_bo_evict(vctl.evict_on_first, true);
	if (i == 0 && vctl.nested) {
		vctl.nested = false;
		drm_gpuvm_validate(vm_bo->vm, exec);
	}
	if (!vctl.keep_evicted)
		drm_gpuvm_bo_evict(vm_bo, false);
	return 0;
}

static const struct drm_gpuvm_ops exec_ops = {
	.vm_free = fixture_vm_free,
	.vm_bo_validate = test_validate_cb,
};

/* ------------------------------------------------------------ the setup */

struct env {
	long live0;
	struct drm_device *drm;
	struct drm_gpuvm *vm;
	struct drm_gem_object *e[3], *p, *u;
	struct drm_gpuvm_bo *ve[3], *vp;
};

static bool env_init(struct env *v, enum drm_gpuvm_flags flags, const struct drm_gpuvm_ops *ops)
{
	memset(v, 0, sizeof(*v));
	v->live0 = gpuvm_alloc_live();
	v->drm = drm_dev_alloc("exec");
	ASSERT_NONNULL(v->drm);
	v->vm = vm_new_ops(v->drm, flags, ops);
	ASSERT_NONNULL(v->vm);
	for (int i = 0; i < 3; i++) {
		v->e[i] = gem_new(v->drm);
		ASSERT_NONNULL(v->e[i]);
		v->ve[i] = drm_gpuvm_bo_obtain(v->vm, v->e[i]);
		ASSERT_FALSE(IS_ERR_OR_NULL(v->ve[i]));
	}
	v->p = gem_new_private(v->drm, v->vm);
	v->u = gem_new(v->drm);
	ASSERT_TRUE(v->p && v->u);
	v->vp = drm_gpuvm_bo_obtain(v->vm, v->p);
	ASSERT_FALSE(IS_ERR_OR_NULL(v->vp));

	if (flags & PROT)
		dma_resv_lock(drm_gpuvm_resv(v->vm), NULL);
	for (int i = 0; i < 3; i++)
		drm_gpuvm_bo_extobj_add(v->ve[i]);
	drm_gpuvm_bo_extobj_add(v->vp);
	if (flags & PROT)
		dma_resv_unlock(drm_gpuvm_resv(v->vm));
	ASSERT_EQ(list_count_nodes(&v->vm->extobj.list), 3);
	return true;
}

static bool nothing_locked(struct env *v)
{
	ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(v->vm)));
	for (int i = 0; i < 3; i++)
		ASSERT_FALSE(dma_resv_is_locked(v->e[i]->resv));
	ASSERT_FALSE(dma_resv_is_locked(v->u->resv));
	return true;
}

static bool env_fini(struct env *v)
{
	if (!nothing_locked(v))
		return false;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(vm_bo_refs(v->ve[i]), 1);
		ASSERT_TRUE(drm_gpuvm_bo_put(v->ve[i]));
		drm_gem_object_put(v->e[i]);
	}
	ASSERT_TRUE(drm_gpuvm_bo_put(v->vp));
	ASSERT_TRUE(list_empty(&v->vm->extobj.list));
	ASSERT_TRUE(list_empty(&v->vm->evict.list));
	drm_gem_object_put(v->p);
	drm_gem_object_put(v->u);
	ASSERT_EQ(vm_refs(v->vm), 1);
	drm_gpuvm_put(v->vm);
	drm_dev_put(v->drm);
	ASSERT_EQ(gpuvm_alloc_live(), v->live0);
	return true;
}

static bool exec_has(struct drm_exec *exec, struct drm_gem_object *obj)
{
	struct drm_gem_object *o;
	unsigned int i;

	drm_exec_for_each_locked_object(exec, i, o)
		if (o == obj)
			return true;
	return false;
}

static void evict(struct drm_gpuvm_bo *vm_bo, bool e)
{
	bool held = dma_resv_held(vm_bo->obj->resv);

	if (!held)
		dma_resv_lock(vm_bo->obj->resv, NULL);
	drm_gpuvm_bo_evict(vm_bo, e);
	if (!held)
		dma_resv_unlock(vm_bo->obj->resv);
}

static int extra_lock_u(struct drm_gpuvm_exec *vm_exec)
{
	return drm_exec_prepare_obj(&vm_exec->exec, vm_exec->extra.priv, vm_exec->num_fences);
}

static int extra_fail(struct drm_gpuvm_exec *vm_exec)
{
	GPUVM_UNUSED(vm_exec);
	return -EIO;
}

static const enum drm_gpuvm_flags list_modes[] = { 0, PROT };

/* ============================================================ exec_lock */

static bool exec_lock_mode(enum drm_gpuvm_flags flags)
{
	struct env v;
	struct drm_gpuvm_exec vm_exec;
	unsigned long w0 = warn_log_count();

	if (!env_init(&v, flags, &exec_ops))
		return false;
	vm_exec = (struct drm_gpuvm_exec){
		.vm = v.vm,
		.num_fences = 2,
		.extra = { .fn = extra_lock_u, .priv = v.u },
	};

	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	/* VM resv (covers p), every extobj, and the extra object. */
	ASSERT_EQ(vm_exec.exec.num_objects, 5);
	ASSERT_TRUE(exec_has(&vm_exec.exec, v.vm->r_obj));
	ASSERT_TRUE(dma_resv_held(drm_gpuvm_resv(v.vm)));
	ASSERT_TRUE(dma_resv_held(v.p->resv));
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE(exec_has(&vm_exec.exec, v.e[i]));
		ASSERT_TRUE(dma_resv_held(v.e[i]->resv));
	}
	ASSERT_TRUE(dma_resv_held(v.u->resv));
	/* The walk's temporary references are gone again. */
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(vm_bo_refs(v.ve[i]), 1);
	ASSERT_NULL(v.vm->extobj.local_list);
	ASSERT_EQ(v.vm->extobj.list.next, &v.ve[0]->list.entry.extobj);
	drm_gpuvm_exec_unlock(&vm_exec);
	if (!nothing_locked(&v))
		return false;

	/* Errors from extra propagate, and nothing stays locked. */
	vm_exec.extra.fn = extra_fail;
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), -EIO);
	if (!nothing_locked(&v))
		return false;

	/* A duplicate without DRM_EXEC_IGNORE_DUPLICATES: -EALREADY ... */
	vm_exec.extra.fn = extra_lock_u;
	vm_exec.extra.priv = v.e[1];
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), -EALREADY);
	if (!nothing_locked(&v))
		return false;
	/* ... and with it, fine. */
	vm_exec.flags = DRM_EXEC_IGNORE_DUPLICATES;
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 4);
	drm_gpuvm_exec_unlock(&vm_exec);
	ASSERT_EQ(warn_log_count(), w0);
	return env_fini(&v);
}

static bool test_exec_lock(void)
{
	for (unsigned int i = 0; i < 2; i++)
		if (!exec_lock_mode(list_modes[i]))
			return false;
	return true;
}

/*
 * Fail each allocation inside exec_lock in turn (until a run sees no injected
 * failure): every failure is -ENOMEM or absorbed, never a half-locked state.
 */
static bool test_exec_lock_enomem(void)
{
	for (unsigned int m = 0; m < 2; m++) {
		unsigned int enomem = 0;
		struct env v;
		unsigned int n;

		if (!env_init(&v, list_modes[m], &exec_ops))
			return false;
		for (n = 1; n < 64; n++) {
			/* Growing reservations: every resv must allocate each time. */
			struct drm_gpuvm_exec vm_exec = {
				.vm = v.vm,
				.num_fences = 4 * n,
				.extra = { .fn = extra_lock_u, .priv = v.u },
			};
			unsigned long fails = gpuvm_alloc_failures();
			bool injected;
			int ret;

			gpuvm_alloc_fail_nth(n);
			ret = drm_gpuvm_exec_lock(&vm_exec);
			gpuvm_alloc_fail_nth(0);
			injected = gpuvm_alloc_failures() != fails;
			ASSERT_TRUE(injected || ret == 0);
			if (ret) {
				ASSERT_EQ(ret, -ENOMEM);
				enomem++;
				if (!nothing_locked(&v))
					return false;
			} else {
				ASSERT_EQ(vm_exec.exec.num_objects, 5);
				drm_gpuvm_exec_unlock(&vm_exec);
			}
			ASSERT_NULL(v.vm->extobj.local_list);
			ASSERT_EQ(list_count_nodes(&v.vm->extobj.list), 3);
			for (int i = 0; i < 3; i++)
				ASSERT_EQ(vm_bo_refs(v.ve[i]), 1);
			if (!injected)
				break;
		}
		ASSERT_TRUE(n < 64);
		ASSERT_TRUE(enomem > 0);
		if (!env_fini(&v))
			return false;
	}
	return true;
}

/* ====================================================== exec_lock_array */

static int extra_count_calls;

static int extra_count(struct drm_gpuvm_exec *vm_exec)
{
	GPUVM_UNUSED(vm_exec);
	extra_count_calls++;
	return 0;
}

static bool test_exec_lock_array_no_dangling_extra(void)
{
	struct env v;
	int cookie;
	struct drm_gpuvm_exec vm_exec;
	struct drm_gem_object *arr[2];

	if (!env_init(&v, 0, &exec_ops))
		return false;
	vm_exec = (struct drm_gpuvm_exec){
		.vm = v.vm,
		.num_fences = 1,
		.extra = { .fn = extra_count, .priv = &cookie },
	};
	arr[0] = v.u;
	arr[1] = v.p; /* private: its resv is the VM's, already locked */
	vm_exec.flags = DRM_EXEC_IGNORE_DUPLICATES;

	extra_count_calls = 0;
	ASSERT_EQ(drm_gpuvm_exec_lock_array(&vm_exec, arr, 2), 0);
	ASSERT_TRUE(dma_resv_held(v.u->resv));
	ASSERT_TRUE(dma_resv_held(drm_gpuvm_resv(v.vm)));
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(dma_resv_held(v.e[i]->resv));
	ASSERT_EQ(vm_exec.exec.num_objects, 5);
	ASSERT_EQ(extra_count_calls, 0); /* replaced for the call ... */
	drm_gpuvm_exec_unlock(&vm_exec);
	/* ... and restored after it: no pointer into a dead stack frame. */
	ASSERT_TRUE(vm_exec.extra.fn == extra_count);
	ASSERT_TRUE(vm_exec.extra.priv == &cookie);

	/* A second exec_lock on the same struct works and uses the caller's extra. */
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	ASSERT_EQ(extra_count_calls, 1);
	ASSERT_FALSE(dma_resv_is_locked(v.u->resv));
	ASSERT_EQ(vm_exec.exec.num_objects, 4);
	drm_gpuvm_exec_unlock(&vm_exec);

	/* Restored on failure too. */
	vm_exec.flags = 0;
	arr[1] = v.e[0]; /* duplicate of an extobj: -EALREADY */
	ASSERT_EQ(drm_gpuvm_exec_lock_array(&vm_exec, arr, 2), -EALREADY);
	ASSERT_TRUE(vm_exec.extra.fn == extra_count);
	ASSERT_TRUE(vm_exec.extra.priv == &cookie);
	return env_fini(&v);
}

/* ====================================================== exec_lock_range */

/*
 *	0     0x1000    0x10000   0x20000   0x30000   0x40000   0x50000   0x60000
 *	|kkkkkk|          |aaaaaaaa|ssssssss|bbbbbbbb|          |cccccccc|
 *	reserved           e0       sparse   e1                  e2
 *	                            (no GEM)
 */
static bool test_exec_lock_range(void)
{
	struct env v;
	struct drm_gpuva *a, *s, *b, *c, *a2;
	struct drm_gpuvm_exec vm_exec;

	if (!env_init(&v, 0, &exec_ops))
		return false;
	a = va_insert(v.vm, 0x10000, 0x10000, v.e[0], 0);
	s = va_insert(v.vm, 0x20000, 0x10000, NULL, 0);
	b = va_insert(v.vm, 0x30000, 0x10000, v.e[1], 0);
	c = va_insert(v.vm, 0x50000, 0x10000, v.e[2], 0);
	ASSERT_TRUE(a && s && b && c);
	vm_exec = (struct drm_gpuvm_exec){ .vm = v.vm, .num_fences = 1 };

	/* From 0: the reserved node and the sparse VA are skipped. */
	ASSERT_EQ(drm_gpuvm_exec_lock_range(&vm_exec, 0, 0x40000), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 2);
	ASSERT_TRUE(dma_resv_held(v.e[0]->resv));
	ASSERT_TRUE(dma_resv_held(v.e[1]->resv));
	ASSERT_FALSE(dma_resv_is_locked(v.e[2]->resv));            /* extobj, unmapped here */
	ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(v.vm)));    /* not the VM resv */
	drm_gpuvm_exec_unlock(&vm_exec);

	/* A partial overlap counts; a range holding only the sparse VA locks nothing. */
	ASSERT_EQ(drm_gpuvm_exec_lock_range(&vm_exec, 0x5f000, 0x1000), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 1);
	ASSERT_TRUE(dma_resv_held(v.e[2]->resv));
	drm_gpuvm_exec_unlock(&vm_exec);
	ASSERT_EQ(drm_gpuvm_exec_lock_range(&vm_exec, 0x20000, 0x10000), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 0);
	drm_gpuvm_exec_unlock(&vm_exec);

	/* Two VAs of one object: a duplicate unless ignored. */
	a2 = va_insert(v.vm, 0x40000, 0x10000, v.e[0], 0x10000);
	ASSERT_NONNULL(a2);
	ASSERT_EQ(drm_gpuvm_exec_lock_range(&vm_exec, 0x10000, 0x40000), -EALREADY);
	if (!nothing_locked(&v))
		return false;
	vm_exec.flags = DRM_EXEC_IGNORE_DUPLICATES;
	ASSERT_EQ(drm_gpuvm_exec_lock_range(&vm_exec, 0x10000, 0x40000), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 2);
	drm_gpuvm_exec_unlock(&vm_exec);

	va_destroy(a);
	va_destroy(s);
	va_destroy(b);
	va_destroy(c);
	va_destroy(a2);
	return env_fini(&v);
}

/* ============================================================= validate */

static bool test_validate_needs_callback(void)
{
	struct env v;
	struct drm_gpuvm_exec vm_exec;

	if (!env_init(&v, 0, NULL))
		return false;
	vm_exec = (struct drm_gpuvm_exec){ .vm = v.vm };
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), -EOPNOTSUPP);
	drm_gpuvm_exec_unlock(&vm_exec);
	return env_fini(&v);
}

/* Spinlock mode: the callback takes entries off the list (evict false). */
static bool test_validate_spinlock_mode(void)
{
	struct env v;
	struct drm_gpuvm_exec vm_exec;
	unsigned long w0 = warn_log_count();

	if (!env_init(&v, 0, &exec_ops))
		return false;
	vm_exec = (struct drm_gpuvm_exec){ .vm = v.vm, .num_fences = 1 };
	evict(v.ve[2], true);
	evict(v.ve[0], true);
	evict(v.vp, true);
	ASSERT_EQ(list_count_nodes(&v.vm->evict.list), 3);

	/* The third call fails: it stops there, earlier ones were validated. */
	vctl_reset();
	vctl.fail_at = 2;
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), -EIO);
	ASSERT_EQ(vctl.calls, 3);
	ASSERT_EQ(vctl.log[0], v.ve[2]); /* evict-list order */
	ASSERT_EQ(vctl.log[1], v.ve[0]);
	ASSERT_EQ(vctl.log[2], v.vp);
	ASSERT_EQ(list_count_nodes(&v.vm->evict.list), 1);
	ASSERT_TRUE(on_evict(v.vp));
	ASSERT_NULL(v.vm->evict.local_list);

	vctl_reset();
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), 0);
	ASSERT_EQ(vctl.calls, 1);
	ASSERT_TRUE(list_empty(&v.vm->evict.list));
	ASSERT_FALSE(v.vp->evicted);

	/* Nothing evicted: no calls. */
	vctl_reset();
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), 0);
	ASSERT_EQ(vctl.calls, 0);
	drm_gpuvm_exec_unlock(&vm_exec);
	ASSERT_EQ(warn_log_count(), w0);
	return env_fini(&v);
}

/*
 * The local-list walk in detail:
 *
 *	evict: [e0] [e1] [e2]
 *	first call (e0) evicts vp: appended to the shared list behind e1, e2
 *	second call (e1) fails: e0 and e1 are spliced back at the head
 *	result: [e0] [e1] [e2] [vp]
 */
static bool test_validate_restore_order(void)
{
	struct env v;
	struct drm_gpuvm_exec vm_exec;

	if (!env_init(&v, 0, &exec_ops))
		return false;
	vm_exec = (struct drm_gpuvm_exec){ .vm = v.vm };
	for (int i = 0; i < 3; i++)
		evict(v.ve[i], true);

	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	vctl_reset();
	vctl.keep_evicted = true;
	vctl.fail_at = 1;
	vctl.evict_on_first = v.vp;
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), -EIO);
	ASSERT_EQ(vctl.calls, 2);
	{
		struct list_head *n = v.vm->evict.list.next;

		ASSERT_EQ(n, &v.ve[0]->list.entry.evict);
		n = n->next;
		ASSERT_EQ(n, &v.ve[1]->list.entry.evict);
		n = n->next;
		ASSERT_EQ(n, &v.ve[2]->list.entry.evict);
		n = n->next;
		ASSERT_EQ(n, &v.vp->list.entry.evict);
		ASSERT_EQ(n->next, &v.vm->evict.list);
	}
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(vm_bo_refs(v.ve[i]), 1);

	vctl_reset();
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), 0);
	ASSERT_TRUE(list_empty(&v.vm->evict.list));
	drm_gpuvm_exec_unlock(&vm_exec);
	return env_fini(&v);
}

/* Two walkers of one list at a time: WARN; the lists survive intact. */
static bool test_validate_concurrent_iteration_warns(void)
{
	struct env v;
	struct drm_gpuvm_exec vm_exec;
	unsigned long w0 = warn_log_count();

	if (!env_init(&v, 0, &exec_ops))
		return false;
	vm_exec = (struct drm_gpuvm_exec){ .vm = v.vm };
	for (int i = 0; i < 3; i++)
		evict(v.ve[i], true);
	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	vctl_reset();
	vctl.nested = true;
	warn_log.quiet = true;
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), 0);
	warn_log.quiet = false;
	ASSERT_TRUE(warn_log_count() > w0);
	ASSERT_TRUE(warn_log_last_contains("concurrent iteration"));
	ASSERT_EQ(vctl.calls, 3);
	ASSERT_TRUE(list_empty(&v.vm->evict.list));
	ASSERT_NULL(v.vm->evict.local_list);
	drm_gpuvm_exec_unlock(&vm_exec);
	return env_fini(&v);
}

/*
 * RESV_PROTECTED: evicting an extobj only sets the flag; prepare_objects
 * moves it onto the list; validate removes what is no longer evicted.
 */
static bool test_validate_resv_protected(void)
{
	struct env v;
	struct drm_gpuvm_exec vm_exec;
	unsigned long w0 = warn_log_count();

	if (!env_init(&v, PROT, &exec_ops))
		return false;
	vm_exec = (struct drm_gpuvm_exec){ .vm = v.vm, .num_fences = 1 };

	evict(v.ve[1], true);
	evict(v.ve[0], true);
	ASSERT_TRUE(v.ve[0]->evicted && v.ve[1]->evicted);
	ASSERT_TRUE(list_empty(&v.vm->evict.list));
	dma_resv_lock(v.p->resv, NULL); /* = the VM resv */
	drm_gpuvm_bo_evict(v.vp, true);
	dma_resv_unlock(v.p->resv);
	ASSERT_TRUE(on_evict(v.vp));

	ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
	/* vp first (evicted directly), then extobj-list order: e0, e1. */
	ASSERT_EQ(list_count_nodes(&v.vm->evict.list), 3);
	ASSERT_EQ(v.vm->evict.list.next, &v.vp->list.entry.evict);
	ASSERT_EQ(v.vp->list.entry.evict.next, &v.ve[0]->list.entry.evict);
	ASSERT_FALSE(on_evict(v.ve[2]));

	/* A callback that leaves evicted set keeps the entry. */
	vctl_reset();
	vctl.keep_evicted = true;
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), 0);
	ASSERT_EQ(vctl.calls, 3);
	ASSERT_EQ(list_count_nodes(&v.vm->evict.list), 3);

	/* Stop at the first error; entries validated before it are removed. */
	vctl_reset();
	vctl.fail_at = 1;
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), -EIO);
	ASSERT_EQ(vctl.calls, 2);
	ASSERT_FALSE(on_evict(v.vp));
	ASSERT_TRUE(on_evict(v.ve[0]));
	ASSERT_TRUE(on_evict(v.ve[1]));

	vctl_reset();
	ASSERT_EQ(drm_gpuvm_exec_validate(&vm_exec), 0);
	ASSERT_EQ(vctl.calls, 2);
	ASSERT_TRUE(list_empty(&v.vm->evict.list));
	ASSERT_FALSE(v.ve[0]->evicted || v.ve[1]->evicted);
	drm_gpuvm_exec_unlock(&vm_exec);

	/* Without the VM resv: asserted. */
	{
		struct drm_exec exec;
		unsigned long nh0 = warn_log_lock_not_held();

		drm_exec_init(&exec, 0, 0);
		warn_log.quiet = true;
		drm_gpuvm_validate(v.vm, &exec);
		warn_log.quiet = false;
		ASSERT_EQ(warn_log_lock_not_held(), nh0 + 1);
		drm_exec_fini(&exec);
		w0++;
	}
	ASSERT_EQ(warn_log_count(), w0);
	return env_fini(&v);
}

/* ===================================================== resv_add_fence */

static bool test_resv_add_fence(void)
{
	for (unsigned int m = 0; m < 2; m++) {
		struct env v;
		struct drm_gpuvm_exec vm_exec;
		struct dma_fence *fence;
		unsigned long w0 = warn_log_count();

		if (!env_init(&v, list_modes[m], &exec_ops))
			return false;
		vm_exec = (struct drm_gpuvm_exec){
			.vm = v.vm,
			.num_fences = 1,
			.extra = { .fn = extra_lock_u, .priv = v.u },
		};
		fence = dma_fence_create(dma_fence_context_alloc(1), 1);
		ASSERT_NONNULL(fence);

		ASSERT_EQ(drm_gpuvm_exec_lock(&vm_exec), 0);
		drm_gpuvm_exec_resv_add_fence(&vm_exec, fence, DMA_RESV_USAGE_BOOKKEEP,
					      DMA_RESV_USAGE_WRITE);
		drm_gpuvm_exec_unlock(&vm_exec);

		/* Private usage on the VM resv (shared by p): BOOKKEEP only. */
		ASSERT_EQ(dma_resv_fence_count(drm_gpuvm_resv(v.vm), DMA_RESV_USAGE_BOOKKEEP), 1);
		ASSERT_EQ(dma_resv_fence_count(drm_gpuvm_resv(v.vm), DMA_RESV_USAGE_READ), 0);
		ASSERT_EQ(dma_resv_fence_count(v.p->resv, DMA_RESV_USAGE_BOOKKEEP), 1);
		/* Extobj usage on every other locked object, the unrelated one too. */
		for (int i = 0; i < 3; i++)
			ASSERT_EQ(dma_resv_fence_count(v.e[i]->resv, DMA_RESV_USAGE_WRITE), 1);
		ASSERT_EQ(dma_resv_fence_count(v.u->resv, DMA_RESV_USAGE_WRITE), 1);
		ASSERT_EQ(dma_resv_fence_count(v.u->resv, DMA_RESV_USAGE_KERNEL), 0);
		ASSERT_FALSE(dma_resv_test_signaled(v.u->resv, DMA_RESV_USAGE_WRITE));
		ASSERT_EQ(warn_log_count(), w0); /* every add had its reserved slot */

		dma_fence_signal(fence);
		ASSERT_TRUE(dma_resv_test_signaled(v.u->resv, DMA_RESV_USAGE_BOOKKEEP));
		dma_fence_put(fence);
		if (!env_fini(&v))
			return false;
	}
	return true;
}

/* ====================================================== sm exec locks */

/*
 *	0x10000   0x20000   0x30000   0x40000   0x50000   0x60000
 *	|aaaaaaaaa|bbbbbbbbb|sssssssss|         |ccccccccc|
 *	 e0        e1        sparse              e2
 *	     |=========== map u ==========|
 *	     0x18000                      0x38000
 *
 * The map splits a (REMAP: e0 locked), removes b (UNMAP: e1 locked), splits
 * s (no GEM: nothing), and u, the request's object, is prepared.
 */
static bool test_sm_exec_lock(void)
{
	struct env v;
	struct drm_gpuva *a, *b, *s, *c;
	struct drm_exec exec;
	struct drm_gpuvm_map_req req = {
		.map = { .va = { .addr = 0x18000, .range = 0x20000 },
			 .gem = { .obj = NULL, .offset = 0 } },
	};
	int ret = 0;

	if (!env_init(&v, 0, &exec_ops))
		return false;
	req.map.gem.obj = v.u;
	a = va_insert(v.vm, 0x10000, 0x10000, v.e[0], 0);
	b = va_insert(v.vm, 0x20000, 0x10000, v.e[1], 0);
	s = va_insert(v.vm, 0x30000, 0x10000, NULL, 0);
	c = va_insert(v.vm, 0x50000, 0x10000, v.e[2], 0);
	ASSERT_TRUE(a && b && s && c);

	drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_sm_map_exec_lock(v.vm, &exec, 1, &req);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
	}
	ASSERT_EQ(exec.num_objects, 3);
	ASSERT_EQ(exec.objects[0], v.u); /* prepared first */
	ASSERT_TRUE(exec_has(&exec, v.e[0]));
	ASSERT_TRUE(exec_has(&exec, v.e[1]));
	ASSERT_FALSE(dma_resv_is_locked(v.e[2]->resv));
	ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(v.vm)));
	/* Only locks: the tree is untouched. */
	ASSERT_EQ(drm_gpuva_find(v.vm, 0x10000, 0x10000), a);
	ASSERT_EQ(drm_gpuva_find(v.vm, 0x20000, 0x10000), b);
	drm_exec_fini(&exec);

	/* A GEM-less map request locks only what it touches. */
	req.map.gem.obj = NULL;
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_sm_map_exec_lock(v.vm, &exec, 0, &req);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
	}
	ASSERT_EQ(exec.num_objects, 2);
	drm_exec_fini(&exec);

	/* Unmap [0x48000, 0x58000): only c (REMAP) is touched. */
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_sm_unmap_exec_lock(v.vm, &exec, 0x48000, 0x10000);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
	}
	ASSERT_EQ(exec.num_objects, 1);
	ASSERT_EQ(exec.objects[0], v.e[2]);
	drm_exec_fini(&exec);

	/* Errors propagate: invalid ranges, and duplicates not ignored. */
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_sm_unmap_exec_lock(v.vm, &exec, 0x800, 0x1000); /* reserved */
		drm_exec_retry_on_contention(&exec);
	}
	ASSERT_EQ(ret, -EINVAL);
	drm_exec_fini(&exec);

	req.map.gem.obj = v.e[0]; /* the request's object is also a's */
	drm_exec_init(&exec, 0, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_sm_map_exec_lock(v.vm, &exec, 1, &req);
		drm_exec_retry_on_contention(&exec);
	}
	ASSERT_EQ(ret, -EALREADY);
	drm_exec_fini(&exec);

	/* Several bind ops in one loop, as a VM_BIND ioctl does. */
	req.map.gem.obj = v.u;
	drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_sm_map_exec_lock(v.vm, &exec, 1, &req);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
		ret = drm_gpuvm_sm_unmap_exec_lock(v.vm, &exec, 0x10000, 0x50000);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
	}
	ASSERT_EQ(exec.num_objects, 4);
	drm_exec_fini(&exec);

	va_destroy(a);
	va_destroy(b);
	va_destroy(s);
	va_destroy(c);
	return env_fini(&v);
}

/* prepare_vm / prepare_objects / prepare_range inside a caller's own loop. */
static bool test_prepare_helpers(void)
{
	struct env v;
	struct drm_exec exec;
	struct drm_gpuva *a;
	int ret = 0;

	if (!env_init(&v, 0, &exec_ops))
		return false;
	a = va_insert(v.vm, 0x10000, 0x10000, v.u, 0);
	ASSERT_NONNULL(a);
	drm_exec_init(&exec, DRM_EXEC_IGNORE_DUPLICATES, 0);
	drm_exec_until_all_locked(&exec) {
		ret = drm_gpuvm_prepare_vm(v.vm, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
		ret = drm_gpuvm_prepare_objects(v.vm, &exec, 1);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
		/* Not validated: an end that wraps below the start walks nothing. */
		ret = drm_gpuvm_prepare_range(v.vm, &exec, 0x10000, ~0ULL, 1);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
		ASSERT_FALSE(exec_has(&exec, v.u));
		ret = drm_gpuvm_prepare_range(v.vm, &exec, 0, 0x20000, 0);
		drm_exec_retry_on_contention(&exec);
		ASSERT_EQ(ret, 0);
	}
	ASSERT_EQ(exec.num_objects, 5);
	ASSERT_TRUE(exec_has(&exec, v.u));
	drm_exec_fini(&exec);
	va_destroy(a);
	return env_fini(&v);
}

/*
 * Two threads lock overlapping sets (two VMs sharing the extobjs) in a loop:
 * wait/die back-off resolves every conflict.
 */
struct contend_args {
	pthread_barrier_t *start;
	struct drm_gpuvm *vm;
	struct drm_gem_object *extra;
	unsigned long backoffs;
	int iterations;
	int err;
};

static void *contend_thread(void *p)
{
	struct contend_args *a = p;

	pthread_barrier_wait(a->start);
	for (int i = 0; i < a->iterations; i++) {
		struct drm_gpuvm_exec vm_exec = {
			.vm = a->vm,
			.num_fences = 1,
			.extra = { .fn = extra_lock_u, .priv = a->extra },
		};
		int ret = drm_gpuvm_exec_lock(&vm_exec);

		if (ret) {
			a->err = ret;
			break;
		}
		a->backoffs += vm_exec.exec.num_backoffs;
		drm_gpuvm_exec_unlock(&vm_exec);
	}
	return NULL;
}

static bool test_exec_lock_contention(void)
{
	long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("contend");
	struct drm_gpuvm *vm[2];
	struct drm_gem_object *objs[6];
	struct drm_gpuvm_bo *vb[2][6];
	struct contend_args args[2];
	pthread_barrier_t start;
	pthread_t t[2];

	for (int i = 0; i < 6; i++) {
		objs[i] = gem_new(drm);
		ASSERT_NONNULL(objs[i]);
	}
	for (int k = 0; k < 2; k++) {
		vm[k] = vm_new(drm, k ? PROT : 0);
		ASSERT_NONNULL(vm[k]);
		dma_resv_lock(drm_gpuvm_resv(vm[k]), NULL);
		/* Opposite orders in the two VMs. */
		for (int i = 0; i < 6; i++) {
			int o = k ? 5 - i : i;

			vb[k][o] = drm_gpuvm_bo_obtain(vm[k], objs[o]);
			ASSERT_FALSE(IS_ERR_OR_NULL(vb[k][o]));
			drm_gpuvm_bo_extobj_add(vb[k][o]);
		}
		dma_resv_unlock(drm_gpuvm_resv(vm[k]));
	}
	/* Each also locks the other VM's resv: the two sets fully overlap. */
	pthread_barrier_init(&start, NULL, 2);
	for (int k = 0; k < 2; k++)
		args[k] = (struct contend_args){
			.start = &start, .vm = vm[k], .extra = vm[1 - k]->r_obj,
			.iterations = 20000,
		};
	for (int k = 0; k < 2; k++)
		ASSERT_EQ(pthread_create(&t[k], NULL, contend_thread, &args[k]), 0);
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	pthread_barrier_destroy(&start);
	ASSERT_EQ(args[0].err, 0);
	ASSERT_EQ(args[1].err, 0);
	printf("# exec_lock contention: %lu + %lu back-offs in 2 x 20000 transactions\n",
	       args[0].backoffs, args[1].backoffs);

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 6; i++)
			ASSERT_TRUE(drm_gpuvm_bo_put(vb[k][i]));
		drm_gpuvm_put(vm[k]);
	}
	for (int i = 0; i < 6; i++) {
		ASSERT_FALSE(dma_resv_is_locked(objs[i]->resv));
		drm_gem_object_put(objs[i]);
	}
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	warn_log_install();

	RUN(test_exec_lock);
	RUN(test_exec_lock_enomem);
	RUN(test_exec_lock_array_no_dangling_extra);
	RUN(test_exec_lock_range);
	RUN(test_validate_needs_callback);
	RUN(test_validate_spinlock_mode);
	RUN(test_validate_restore_order);
	RUN(test_validate_concurrent_iteration_warns);
	RUN(test_validate_resv_protected);
	RUN(test_resv_add_fence);
	RUN(test_sm_exec_lock);
	RUN(test_prepare_helpers);
	RUN(test_exec_lock_contention);
	return harness_done();
}
