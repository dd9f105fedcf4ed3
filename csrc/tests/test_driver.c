// SPDX-License-Identifier: MIT
/*
 * The reference driver layer (drm/gpuvm_driver.h, csrc/driver/): binds in
 * staged, immediate and RESV_PROTECTED VMs, the ops_created hook, stats,
 * batches (stop rules, refused requests), vm_bo obtain/put/evict and the list
 * snapshots, hand-made VAs, the VM teardown with a driver allocator, and the
 * VM_BIND locking over a set of binds; -ENOMEM at every allocation of each
 * sequence with the state unchanged.
 */
#include <stdio.h>
#include <string.h>

#include "drm/gpuvm_driver.h"
#include "linux/dma-resv.h"
#include "linux/slab.h"

#include "harness.h"
#include "vm_bo_fixture.h"

#define P 0x1000ull
#define IMM DRM_GPUVM_IMMEDIATE_MODE
#define PROT DRM_GPUVM_RESV_PROTECTED

static const enum drm_gpuvm_flags modes[] = { 0, IMM, PROT, IMM | PROT };

/* ------------------------------------------------------------- fixture */

struct fx {
	struct drm_gpuvm *vm;
	struct drm_gem_object *a, *b; /* external objects */
	struct drm_gem_object *p;     /* private to the VM */
	long live0;
};

static bool fx_init(struct fx *f, enum drm_gpuvm_flags flags)
{
	f->live0 = gpuvm_alloc_live();
	f->vm = vm_new(NULL, flags);
	f->a = gem_new(NULL);
	f->b = gem_new(NULL);
	f->p = f->vm ? gem_new_private(NULL, f->vm) : NULL;
	return f->vm && f->a && f->b && f->p;
}

static bool fx_fini(struct fx *f)
{
	gpuvm_driver_vm_release(f->vm, NULL);
	drm_gem_object_put(f->a);
	drm_gem_object_put(f->b);
	drm_gem_object_put(f->p);
	ASSERT_EQ(gpuvm_alloc_live(), f->live0);
	return true;
}

static int map(struct fx *f, u64 addr, u64 range, struct drm_gem_object *obj, u64 offset,
	       struct gpuvm_bind_stats *st)
{
	const struct gpuvm_bind_req req = {
		.op = GPUVM_BIND_MAP, .addr = addr, .range = range, .obj = obj, .offset = offset,
	};

	return gpuvm_driver_bind(f->vm, &req, NULL, st);
}

static int unmap(struct fx *f, u64 addr, u64 range, struct gpuvm_bind_stats *st)
{
	const struct gpuvm_bind_req req = { .op = GPUVM_BIND_UNMAP, .addr = addr, .range = range };

	return gpuvm_driver_bind(f->vm, &req, NULL, st);
}

/* The VM's layout as "addr+range:obj@offset ..." for comparisons. */
static const char *layout(struct fx *f)
{
	static char buf[1024];
	struct drm_gpuva *va;
	size_t len = 0;

	buf[0] = '\0';
	drm_gpuvm_for_each_va(va, f->vm) {
		char o = va->gem.obj == f->a ? 'A' : va->gem.obj == f->b ? 'B' :
			 va->gem.obj == f->p ? 'P' : '-';

		if (va == &f->vm->kernel_alloc_node)
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%llx+%llx:%c@%llx",
					len ? " " : "", (unsigned long long)va->va.addr,
					(unsigned long long)va->va.range, o,
					(unsigned long long)va->gem.offset);
	}
	return buf;
}

static size_t bo_vas(struct drm_gpuvm *vm, struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *vm_bo = gpuvm_driver_bo_obtain(vm, obj);
	struct drm_gpuva *va;
	size_t n = 0;

	if (IS_ERR(vm_bo))
		return (size_t)-1;
	drm_gpuvm_bo_for_each_va(va, vm_bo)
		n++;
	gpuvm_driver_bo_put(vm_bo);
	return n;
}

/* --------------------------------------------------------------- binds */

static bool test_ops_create_every_kind(void)
{
	struct gpuvm_bind_req req = { .addr = 0x12 * P, .range = 2 * P };
	struct drm_gpuva_ops *ops;
	struct drm_gpuva_op *op;
	struct fx f;
	unsigned int n;

	ASSERT_TRUE(fx_init(&f, 0));
	ASSERT_EQ(map(&f, 0x10 * P, 8 * P, f.a, 0, NULL), 0);
	for (u32 kind = GPUVM_BIND_MAP; kind <= GPUVM_BIND_MADVISE; kind++) {
		/*
		 * Inside A: a remap (prev and next) and the map; the remap; the
		 * prefetch; nothing for madvise, which only splits GEM-less VAs.
		 */
		static const unsigned int expect[] = { 0, 2, 1, 1, 0 };

		req.op = kind;
		req.obj = kind == GPUVM_BIND_MAP ? f.b : NULL;
		ops = gpuvm_driver_ops_create(f.vm, &req);
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		n = 0;
		drm_gpuva_for_each_op(op, ops)
			n++;
		if (n != expect[kind])
			printf("# kind %u: %u ops\n", kind, n);
		ASSERT_EQ(n, expect[kind]);
		drm_gpuva_ops_free(f.vm, ops);
	}
	/* Creating changes nothing. */
	ASSERT_TRUE(strcmp(layout(&f), "10000+8000:A@0") == 0);
	req.op = 0;
	ASSERT_EQ(PTR_ERR(gpuvm_driver_ops_create(f.vm, &req)), -EINVAL);
	req.op = 99;
	ASSERT_EQ(PTR_ERR(gpuvm_driver_ops_create(f.vm, &req)), -EINVAL);
	req.op = GPUVM_BIND_MAP;
	req.addr = 0; /* overlaps the reserved node */
	ASSERT_EQ(PTR_ERR(gpuvm_driver_ops_create(f.vm, &req)), -EINVAL);
	return fx_fini(&f);
}

static bool bind_sequence(enum drm_gpuvm_flags flags)
{
	struct gpuvm_bind_stats st = { 0 };
	struct fx f;

	ASSERT_TRUE(fx_init(&f, flags));
	ASSERT_EQ(map(&f, 0x10 * P, 8 * P, f.a, 0, &st), 0);
	ASSERT_EQ(st.ops, 1);
	ASSERT_EQ(st.inserted, 1);
	ASSERT_EQ(st.removed, 0);
	ASSERT_EQ(map(&f, 0x20 * P, 4 * P, f.p, 0x100 * P, &st), 0);
	ASSERT_EQ(map(&f, 0x30 * P, 4 * P, NULL, 0, &st), 0);
	ASSERT_EQ(st.inserted, 3);
	/* Split A in the middle with B: one remap (prev + next) and the map. */
	memset(&st, 0, sizeof(st));
	ASSERT_EQ(map(&f, 0x12 * P, 2 * P, f.b, 0, &st), 0);
	ASSERT_EQ(st.ops, 2);
	ASSERT_EQ(st.inserted, 3);
	ASSERT_EQ(st.removed, 1);
	ASSERT_TRUE(strcmp(layout(&f), "10000+2000:A@0 12000+2000:B@0 14000+4000:A@4000 "
				       "20000+4000:P@100000 30000+4000:-@0") == 0);
	ASSERT_EQ(bo_vas(f.vm, f.a), 2u);
	ASSERT_EQ(bo_vas(f.vm, f.b), 1u);
	/* The vm_bos of the external objects are on the extobj list, P's is not. */
	ASSERT_EQ(gpuvm_driver_vm_extobjs(f.vm, NULL, 0), 2u);
	/* Unmap across three VAs. */
	memset(&st, 0, sizeof(st));
	ASSERT_EQ(unmap(&f, 0x11 * P, 0x20 * P, &st), 0);
	ASSERT_EQ(st.removed, 5);
	ASSERT_EQ(st.inserted, 2);
	ASSERT_TRUE(strcmp(layout(&f), "10000+1000:A@0 31000+3000:-@1000") == 0);
	ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.b, NULL, 0), 0u); /* B's vm_bo is gone */
	/* Unmapping a hole is no op at all. */
	memset(&st, 0, sizeof(st));
	ASSERT_EQ(unmap(&f, 0x50 * P, P, &st), 0);
	ASSERT_EQ(st.ops, 0);
	return fx_fini(&f);
}

static bool test_bind_every_mode(void)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!bind_sequence(modes[i]))
			return false;
	return true;
}

/* The sequences take the locks themselves, but use one the caller holds. */
static bool test_bind_under_held_locks(void)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct fx f;

		ASSERT_TRUE(fx_init(&f, modes[i]));
		warn_log_reset();
		ASSERT_EQ(dma_resv_lock(drm_gpuvm_resv(f.vm), NULL), 0);
		ASSERT_EQ(dma_resv_lock(f.a->resv, NULL), 0);
		ASSERT_EQ(map(&f, 0x10 * P, 8 * P, f.a, 0, NULL), 0);
		ASSERT_EQ(map(&f, 0x12 * P, 2 * P, f.p, 0, NULL), 0);
		ASSERT_EQ(unmap(&f, 0x10 * P, 8 * P, NULL), 0);
		dma_resv_unlock(f.a->resv);
		dma_resv_unlock(drm_gpuvm_resv(f.vm));
		ASSERT_EQ(warn_log_count(), 0ul);
		/* Zombies left while the VM resv was held go now. */
		gpuvm_driver_deferred_cleanup(f.vm);
		ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.a, NULL, 0), 0u);
		if (!fx_fini(&f))
			return false;
	}
	return true;
}

struct hook {
	int ret;
	unsigned int calls;
	unsigned int nops;
};

static int hook_fn(struct drm_gpuva_ops *ops, void *priv)
{
	struct hook *h = priv;
	struct drm_gpuva_op *op;

	h->calls++;
	h->nops = 0;
	drm_gpuva_for_each_op(op, ops)
		h->nops++;
	return h->ret;
}

static bool test_bind_ops_created_hook(void)
{
	struct hook h = { 0 };
	const struct gpuvm_bind_ctx ctx = { .ops_created = hook_fn, .priv = &h };
	struct gpuvm_bind_req req = {
		.op = GPUVM_BIND_MAP, .addr = 0x10 * P, .range = 4 * P,
	};
	struct gpuvm_bind_stats st = { 0 };
	struct fx f;

	ASSERT_TRUE(fx_init(&f, 0));
	req.obj = f.a;
	/* Positive: the caller's reason to skip; nothing applied, no vm_bo left. */
	h.ret = 7;
	ASSERT_EQ(gpuvm_driver_bind(f.vm, &req, &ctx, &st), 7);
	ASSERT_EQ(h.calls, 1u);
	ASSERT_EQ(h.nops, 1u);
	ASSERT_EQ(st.ops, 0);
	ASSERT_TRUE(strcmp(layout(&f), "") == 0);
	ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.a, NULL, 0), 0u);
	/* Negative: an error, returned as is. */
	h.ret = -EIO;
	ASSERT_EQ(gpuvm_driver_bind(f.vm, &req, &ctx, &st), -EIO);
	ASSERT_TRUE(strcmp(layout(&f), "") == 0);
	h.ret = 0;
	ASSERT_EQ(gpuvm_driver_bind(f.vm, &req, &ctx, &st), 0);
	ASSERT_EQ(h.calls, 3u);
	ASSERT_TRUE(strcmp(layout(&f), "10000+4000:A@0") == 0);
	/* A creation error never reaches the hook. */
	req.addr = 0;
	ASSERT_EQ(gpuvm_driver_bind(f.vm, &req, &ctx, &st), -EINVAL);
	ASSERT_EQ(h.calls, 3u);
	return fx_fini(&f);
}

/* Counting allocator and callbacks through the driver's own counting wrapper. */
struct alloc_log {
	unsigned int allocs, frees, failed, removed;
};

static struct drm_gpuva *log_alloc(void *priv)
{
	struct alloc_log *l = priv;

	l->allocs++;
	return kzalloc(sizeof(struct drm_gpuva), GFP_KERNEL);
}

static void log_free(struct drm_gpuva *va, void *priv)
{
	struct alloc_log *l = priv;

	l->frees++;
	kfree(va);
}

static void log_failed(const struct drm_gpuva_op_map *piece, void *priv)
{
	struct alloc_log *l = priv;

	(void)piece;
	l->failed++;
}

static void log_removed(struct drm_gpuva *va, void *priv)
{
	struct alloc_log *l = priv;

	(void)va;
	l->removed++;
}

static bool test_apply_forwards_the_callers_ctx(void)
{
	struct alloc_log l = { 0 };
	const struct gpuvm_apply_ctx ctx = {
		.va_alloc = log_alloc, .va_free = log_free, .insert_failed = log_failed,
		.va_removed = log_removed, .priv = &l,
	};
	const struct gpuvm_bind_ctx bctx = { .apply = &ctx };
	struct gpuvm_bind_req req = { .op = GPUVM_BIND_MAP, .addr = 0x10 * P, .range = 8 * P };
	struct gpuvm_bind_stats st = { 0 };
	struct fx f;

	ASSERT_TRUE(fx_init(&f, 0));
	req.obj = f.a;
	ASSERT_EQ(gpuvm_driver_bind(f.vm, &req, &bctx, &st), 0);
	req.addr = 0x12 * P;
	req.range = 2 * P;
	ASSERT_EQ(gpuvm_driver_bind(f.vm, &req, &bctx, &st), 0);
	ASSERT_EQ(l.allocs, 4u);
	ASSERT_EQ(l.frees, 1u);
	ASSERT_EQ(l.removed, 1u);
	ASSERT_EQ(st.removed, 1);
	ASSERT_EQ(st.inserted, 4);
	/* The teardown hands the VAs back to the same allocator. */
	gpuvm_driver_vm_release(f.vm, &ctx);
	ASSERT_EQ(l.frees, 4u);
	f.vm = vm_new(NULL, 0); /* for fx_fini */
	ASSERT_NONNULL(f.vm);
	return fx_fini(&f);
}

static bool test_apply_counts_failed_inserts(void)
{
	struct alloc_log l = { 0 };
	const struct gpuvm_apply_ctx ctx = { .insert_failed = log_failed, .priv = &l };
	struct gpuvm_bind_req req = { .op = GPUVM_BIND_MAP, .addr = 0x10 * P, .range = 4 * P };
	struct gpuvm_bind_stats st = { 0 };
	struct drm_gpuva_ops *ops;
	struct drm_gpuva *blocker;
	struct fx f;

	ASSERT_TRUE(fx_init(&f, 0));
	ops = gpuvm_driver_ops_create(f.vm, &req);
	ASSERT_FALSE(IS_ERR(ops));
	/* A VA inserted behind the list's back makes its map piece fail. */
	blocker = va_insert(f.vm, 0x11 * P, P, NULL, 0);
	ASSERT_NONNULL(blocker);
	warn_log.quiet = true;
	ASSERT_EQ(gpuvm_driver_apply(f.vm, ops, &ctx, &st), 0);
	warn_log.quiet = false;
	ASSERT_EQ(l.failed, 1u);
	ASSERT_EQ(st.failed, 1);
	ASSERT_EQ(st.inserted, 0);
	ASSERT_EQ(st.ops, 1);
	drm_gpuva_ops_free(f.vm, ops);
	ASSERT_TRUE(strcmp(layout(&f), "11000+1000:-@0") == 0);
	return fx_fini(&f);
}

/* -ENOMEM at every allocation of a bind: the VM and every count unchanged. */
static bool test_bind_enomem_everywhere(void)
{
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		for (unsigned long nth = 1;; nth++) {
			char before[1024];
			struct fx f;
			long live;
			int ret;

			ASSERT_TRUE(fx_init(&f, modes[m]));
			ASSERT_EQ(map(&f, 0x10 * P, 8 * P, f.a, 0, NULL), 0);
			ASSERT_EQ(map(&f, 0x20 * P, 8 * P, f.p, 0, NULL), 0);
			snprintf(before, sizeof(before), "%s", layout(&f));
			live = gpuvm_alloc_live();
			gpuvm_alloc_fail_nth(nth);
			/* Splits A and P, replaces the middle with B. */
			ret = map(&f, 0x14 * P, 0x10 * P, f.b, 0, NULL);
			gpuvm_alloc_fail_nth(0);
			if (!ret) {
				ASSERT_TRUE(nth > 1);
				ASSERT_TRUE(fx_fini(&f));
				break;
			}
			ASSERT_EQ(ret, -ENOMEM);
			ASSERT_TRUE(strcmp(layout(&f), before) == 0);
			ASSERT_EQ(gpuvm_alloc_live(), live);
			ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.b, NULL, 0), 0u);
			ASSERT_TRUE(fx_fini(&f));
		}
	}
	return true;
}

/* --------------------------------------------------------------- batch */

static bool test_batch(void)
{
	struct gpuvm_batch_result out;
	struct gpuvm_bind_req reqs[6];
	int errs[6];
	struct fx f;

	ASSERT_TRUE(fx_init(&f, 0));
	reqs[0] = (struct gpuvm_bind_req){ GPUVM_BIND_MAP, 0x10 * P, 4 * P, f.a, 0 };
	reqs[1] = (struct gpuvm_bind_req){ GPUVM_BIND_MAP, 0x10 * P, 0, f.a, 0 };  /* empty */
	reqs[2] = (struct gpuvm_bind_req){ GPUVM_BIND_PREFETCH, 0x10 * P, P, NULL, 0 };
	reqs[3] = (struct gpuvm_bind_req){ GPUVM_BIND_MAP, 0x12 * P, 4 * P, f.b, 0 };
	reqs[4] = (struct gpuvm_bind_req){ GPUVM_BIND_UNMAP, 0x40 * P, P, NULL, 0 }; /* hole */
	reqs[5] = (struct gpuvm_bind_req){ GPUVM_BIND_MAP, 0, P, NULL, 0 };  /* reserved */
	ASSERT_EQ(gpuvm_driver_bind_batch(f.vm, reqs, 6, false, errs, NULL, &out), 6u);
	ASSERT_EQ(errs[0], 0);
	ASSERT_EQ(errs[1], -EINVAL);
	ASSERT_EQ(errs[2], -EINVAL);
	ASSERT_EQ(errs[3], 0);
	ASSERT_EQ(errs[4], 0);
	ASSERT_EQ(errs[5], -EINVAL);
	ASSERT_EQ(out.processed, 6u);
	ASSERT_EQ(out.errors, 3u);
	ASSERT_EQ(out.changed, 2u);
	ASSERT_EQ(out.ops, 3l);
	ASSERT_EQ(out.inserted, 3l);
	ASSERT_EQ(out.removed, 1l);
	ASSERT_TRUE(strcmp(layout(&f), "10000+2000:A@0 12000+4000:B@0") == 0);
	/* stop_on_error: the first refused request is the last one processed. */
	ASSERT_EQ(gpuvm_driver_bind_batch(f.vm, reqs + 4, 2, true, errs, NULL, &out), 2u);
	errs[1] = 12345;
	ASSERT_EQ(gpuvm_driver_bind_batch(f.vm, reqs + 1, 3, true, errs, NULL, &out), 1u);
	ASSERT_EQ(out.errors, 1u);
	ASSERT_EQ(errs[0], -EINVAL);
	ASSERT_EQ(errs[1], 12345); /* not processed */
	/* -ENOMEM always stops the batch. */
	reqs[0] = (struct gpuvm_bind_req){ GPUVM_BIND_UNMAP, 0x10 * P, 8 * P, NULL, 0 };
	gpuvm_alloc_fail_nth(1);
	ASSERT_EQ(gpuvm_driver_bind_batch(f.vm, reqs, 4, false, errs, NULL, &out), 1u);
	gpuvm_alloc_fail_nth(0);
	ASSERT_EQ(errs[0], -ENOMEM);
	ASSERT_TRUE(strcmp(layout(&f), "10000+2000:A@0 12000+4000:B@0") == 0);
	/* An empty batch. */
	ASSERT_EQ(gpuvm_driver_bind_batch(f.vm, reqs, 0, false, errs, NULL, &out), 0u);
	ASSERT_EQ(out.processed, 0u);
	return fx_fini(&f);
}

/* -------------------------------------------------------------- vm_bos */

static bool test_bo_obtain_put_evict_lists(void)
{
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct drm_gpuvm_bo *va_bo, *vp, *snap[4];
		struct fx f;

		ASSERT_TRUE(fx_init(&f, modes[m]));
		va_bo = gpuvm_driver_bo_obtain(f.vm, f.a);
		vp = gpuvm_driver_bo_obtain(f.vm, f.p);
		ASSERT_FALSE(IS_ERR(va_bo));
		ASSERT_FALSE(IS_ERR(vp));
		ASSERT_TRUE(gpuvm_driver_bo_on_extobj_list(va_bo));
		ASSERT_FALSE(gpuvm_driver_bo_on_extobj_list(vp));
		ASSERT_TRUE(gpuvm_driver_bo_obtain(f.vm, f.a) == va_bo); /* same one, counted */
		ASSERT_EQ(vm_bo_refs(va_bo), 2u);
		gpuvm_driver_bo_put(va_bo);

		gpuvm_driver_bo_evict(va_bo, true);
		gpuvm_driver_bo_evict(vp, true);
		if (modes[m] & PROT) {
			/* As in the kernel: an extobj only joins at the next prepare/validate. */
			ASSERT_FALSE(gpuvm_driver_bo_on_evict_list(va_bo));
			ASSERT_TRUE(va_bo->evicted);
			ASSERT_EQ(gpuvm_driver_vm_evicted(f.vm, snap, 4), 1u);
			ASSERT_TRUE(snap[0] == vp);
			gpuvm_driver_bo_put(snap[0]);
		} else {
			ASSERT_TRUE(gpuvm_driver_bo_on_evict_list(va_bo));
			ASSERT_EQ(gpuvm_driver_vm_evicted(f.vm, NULL, 0), 2u);
			/* Too small: the count, and no reference taken. */
			ASSERT_EQ(gpuvm_driver_vm_evicted(f.vm, snap, 1), 2u);
			ASSERT_EQ(vm_bo_refs(va_bo), 1u);
			ASSERT_EQ(gpuvm_driver_vm_evicted(f.vm, snap, 4), 2u);
			ASSERT_TRUE(snap[0] == va_bo && snap[1] == vp);
			ASSERT_EQ(vm_bo_refs(va_bo), 2u);
			gpuvm_driver_bo_put(snap[0]);
			gpuvm_driver_bo_put(snap[1]);
		}
		ASSERT_EQ(gpuvm_driver_vm_extobjs(f.vm, snap, 4), 1u);
		ASSERT_TRUE(snap[0] == va_bo);
		gpuvm_driver_bo_put(snap[0]);
		ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.a, snap, 4), 1u);
		gpuvm_driver_bo_put(snap[0]);
		gpuvm_driver_bo_evict(va_bo, false);
		ASSERT_FALSE(gpuvm_driver_bo_on_evict_list(va_bo));

		/* The last puts destroy them (deferred in immediate mode). */
		gpuvm_driver_bo_put(va_bo);
		gpuvm_driver_bo_put(vp);
		gpuvm_driver_bo_put(NULL);
		gpuvm_driver_deferred_cleanup(f.vm);
		ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.a, NULL, 0), 0u);
		ASSERT_EQ(gpuvm_driver_vm_extobjs(f.vm, NULL, 0), 0u);
		ASSERT_EQ(gpuvm_driver_vm_evicted(f.vm, NULL, 0), 0u);
		if (!fx_fini(&f))
			return false;
	}
	return true;
}

static bool test_bo_obtain_enomem(void)
{
	struct fx f;

	ASSERT_TRUE(fx_init(&f, 0));
	gpuvm_alloc_fail_nth(1);
	ASSERT_EQ(PTR_ERR(gpuvm_driver_bo_obtain(f.vm, f.a)), -ENOMEM);
	gpuvm_alloc_fail_nth(0);
	ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.a, NULL, 0), 0u);
	return fx_fini(&f);
}

/* --------------------------------------------------------------- VAs */

static bool test_va_insert_destroy(void)
{
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct drm_gpuva *va, *vb;
		unsigned int refs;
		struct fx f;
		int err;

		ASSERT_TRUE(fx_init(&f, modes[m]));
		refs = vm_refs(f.vm);
		va = gpuvm_driver_va_insert(f.vm, 0x10 * P, 4 * P, f.a, 0, &err);
		ASSERT_NONNULL(va);
		ASSERT_EQ(err, 0);
		ASSERT_NONNULL(va->vm_bo);
		ASSERT_TRUE(gpuvm_driver_bo_on_extobj_list(va->vm_bo));
		/* Overlap, invalid range and -ENOMEM at both allocations: nothing changes. */
		ASSERT_NULL(gpuvm_driver_va_insert(f.vm, 0x12 * P, 4 * P, f.b, 0, &err));
		ASSERT_EQ(err, -EEXIST);
		ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.b, NULL, 0), 0u);
		ASSERT_NULL(gpuvm_driver_va_insert(f.vm, 0, P, NULL, 0, &err));
		ASSERT_EQ(err, -EINVAL);
		for (unsigned long nth = 1; nth <= 2; nth++) {
			gpuvm_alloc_fail_nth(nth);
			ASSERT_NULL(gpuvm_driver_va_insert(f.vm, 0x20 * P, P, f.b, 0, &err));
			gpuvm_alloc_fail_nth(0);
			ASSERT_EQ(err, -ENOMEM);
			ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.b, NULL, 0), 0u);
		}
		vb = gpuvm_driver_va_insert(f.vm, 0x20 * P, P, NULL, 0, &err);
		ASSERT_NONNULL(vb);
		ASSERT_NULL(vb->vm_bo);
		ASSERT_EQ(vm_refs(f.vm), refs + 3); /* two VAs and A's vm_bo */
		ASSERT_TRUE(strcmp(layout(&f), "10000+4000:A@0 20000+1000:-@0") == 0);
		gpuvm_driver_va_destroy(va);
		gpuvm_driver_va_destroy(vb);
		gpuvm_driver_deferred_cleanup(f.vm);
		ASSERT_EQ(vm_refs(f.vm), refs);
		ASSERT_EQ(gpuvm_driver_gem_vm_bos(f.a, NULL, 0), 0u);
		if (!fx_fini(&f))
			return false;
	}
	return true;
}

/* The teardown frees the VM itself once the last reference goes. */
static bool test_vm_release_frees_everything(void)
{
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		unsigned int frees = atomic_load(&fixture_vm_frees);
		struct fx f;

		ASSERT_TRUE(fx_init(&f, modes[m]));
		ASSERT_EQ(map(&f, 0x10 * P, 8 * P, f.a, 0, NULL), 0);
		ASSERT_EQ(map(&f, 0x20 * P, 8 * P, f.p, 0, NULL), 0);
		ASSERT_EQ(map(&f, 0x30 * P, 8 * P, NULL, 0, NULL), 0);
		ASSERT_EQ(gem_refs(f.a), 2u); /* its vm_bo's */
		if (!fx_fini(&f))
			return false;
		ASSERT_EQ(atomic_load(&fixture_vm_frees), frees + 1);
	}
	return true;
}

/* -------------------------------------------------------------- exec */

static bool locked_in(struct drm_exec *exec, struct drm_gem_object *obj)
{
	struct drm_gem_object *o;
	unsigned long i;

	drm_exec_for_each_locked_object(exec, i, o)
		if (o == obj)
			return true;
	return false;
}

static int dummy_fn(struct drm_gpuvm_exec *vm_exec)
{
	(void)vm_exec;
	return 0;
}

static bool test_exec_lock_binds(void)
{
	struct drm_gem_object *c, *d;
	struct drm_gpuvm_exec vm_exec;
	struct gpuvm_bind_req reqs[2];
	int marker;
	struct fx f;

	ASSERT_TRUE(fx_init(&f, 0));
	c = gem_new(NULL);
	d = gem_new(NULL);
	ASSERT_NONNULL(c);
	ASSERT_NONNULL(d);
	ASSERT_EQ(map(&f, 0x10 * P, 4 * P, f.a, 0, NULL), 0);
	ASSERT_EQ(map(&f, 0x20 * P, 4 * P, f.b, 0, NULL), 0);
	ASSERT_EQ(map(&f, 0x30 * P, 4 * P, f.p, 0, NULL), 0);
	reqs[0] = (struct gpuvm_bind_req){ GPUVM_BIND_MAP, 0x12 * P, 4 * P, c, 0 };
	reqs[1] = (struct gpuvm_bind_req){ GPUVM_BIND_UNMAP, 0x30 * P, P, NULL, 0 };

	/* Without the VM: the walks' objects (C, A; P is the VM resv), then D. */
	memset(&vm_exec, 0, sizeof(vm_exec));
	vm_exec.vm = f.vm;
	vm_exec.num_fences = 2;
	vm_exec.flags = DRM_EXEC_IGNORE_DUPLICATES;
	vm_exec.extra.fn = dummy_fn;
	vm_exec.extra.priv = &marker;
	ASSERT_EQ(gpuvm_driver_exec_lock_binds(&vm_exec, reqs, 2, false, &d, 1), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 4u);
	ASSERT_TRUE(vm_exec.exec.objects[0] == c && vm_exec.exec.objects[1] == f.a);
	ASSERT_TRUE(locked_in(&vm_exec.exec, f.p) && locked_in(&vm_exec.exec, d));
	ASSERT_FALSE(locked_in(&vm_exec.exec, f.b));
	drm_gpuvm_exec_unlock(&vm_exec);

	/* With the VM: drm_gpuvm_exec_lock (VM resv, extobjs A and B), then the walks. */
	ASSERT_EQ(gpuvm_driver_exec_lock_binds(&vm_exec, reqs, 2, true, &d, 1), 0);
	ASSERT_EQ(vm_exec.exec.num_objects, 5u);
	ASSERT_TRUE(vm_exec.exec.objects[0] == drm_gpuvm_resv_obj(f.vm));
	ASSERT_TRUE(vm_exec.exec.objects[1] == f.a && vm_exec.exec.objects[2] == f.b);
	ASSERT_TRUE(vm_exec.exec.objects[3] == c && vm_exec.exec.objects[4] == d);
	/* extra is the caller's again; every object has the fence slots. */
	ASSERT_TRUE(vm_exec.extra.fn == dummy_fn && vm_exec.extra.priv == &marker);
	for (unsigned int i = 0; i < vm_exec.exec.num_objects; i++)
		ASSERT_TRUE(vm_exec.exec.objects[i]->resv->num_reserved >= 2);
	drm_gpuvm_exec_unlock(&vm_exec);

	/* Errors leave nothing locked. */
	reqs[1] = (struct gpuvm_bind_req){ GPUVM_BIND_MAP, 0, P, NULL, 0 }; /* reserved node */
	ASSERT_EQ(gpuvm_driver_exec_lock_binds(&vm_exec, reqs, 2, true, &d, 1), -EINVAL);
	ASSERT_FALSE(dma_resv_is_locked(f.a->resv));
	ASSERT_FALSE(dma_resv_is_locked(c->resv));
	ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(f.vm)));
	ASSERT_TRUE(vm_exec.extra.fn == dummy_fn);
	reqs[1].op = 42;
	ASSERT_EQ(gpuvm_driver_exec_lock_binds(&vm_exec, reqs, 2, false, NULL, 0), -EINVAL);
	ASSERT_FALSE(dma_resv_is_locked(c->resv));
	/* -ENOMEM (drm_exec's object array, fence slots) anywhere: nothing locked. */
	for (unsigned long nth = 1; nth < 64; nth++) {
		int ret;

		gpuvm_alloc_fail_nth(nth);
		ret = gpuvm_driver_exec_lock_binds(&vm_exec, reqs, 1, true, &d, 1);
		gpuvm_alloc_fail_nth(0);
		if (!ret) {
			drm_gpuvm_exec_unlock(&vm_exec);
			break;
		}
		ASSERT_EQ(ret, -ENOMEM);
		ASSERT_FALSE(dma_resv_is_locked(f.a->resv));
		ASSERT_FALSE(dma_resv_is_locked(d->resv));
		ASSERT_FALSE(dma_resv_is_locked(drm_gpuvm_resv(f.vm)));
	}
	drm_gem_object_put(c);
	drm_gem_object_put(d);
	return fx_fini(&f);
}

/*
 * num_fences 0 means lock only: neither the map's own object nor the extra
 * objects get a 0-slot reservation (which WARNs and fails with -EINVAL).
 * Found by csrc/fuzz/fuzz_api.c.
 */
static bool test_exec_lock_binds_no_fences(void)
{
	struct drm_gem_object *c, *d;
	struct drm_gpuvm_exec vm_exec;
	struct gpuvm_bind_req reqs[2];
	unsigned long warns;
	struct fx f;

	ASSERT_TRUE(fx_init(&f, 0));
	c = gem_new(NULL);
	d = gem_new(NULL);
	ASSERT_NONNULL(c);
	ASSERT_NONNULL(d);
	ASSERT_EQ(map(&f, 0x10 * P, 4 * P, f.a, 0, NULL), 0);
	reqs[0] = (struct gpuvm_bind_req){ GPUVM_BIND_MAP, 0x12 * P, 4 * P, c, 0 };
	reqs[1] = (struct gpuvm_bind_req){ GPUVM_BIND_UNMAP, 0x10 * P, P, NULL, 0 };
	for (int lock_vm = 0; lock_vm < 2; lock_vm++) {
		memset(&vm_exec, 0, sizeof(vm_exec));
		vm_exec.vm = f.vm;
		vm_exec.num_fences = 0;
		vm_exec.flags = DRM_EXEC_IGNORE_DUPLICATES; /* both walks meet A */
		warns = warn_log_count();
		ASSERT_EQ(gpuvm_driver_exec_lock_binds(&vm_exec, reqs, 2, lock_vm, &d, 1), 0);
		ASSERT_EQ(warn_log_count(), warns);
		ASSERT_TRUE(locked_in(&vm_exec.exec, c) && locked_in(&vm_exec.exec, d));
		ASSERT_TRUE(locked_in(&vm_exec.exec, f.a));
		ASSERT_EQ(lock_vm, locked_in(&vm_exec.exec, drm_gpuvm_resv_obj(f.vm)));
		/* Lock only: nothing reserved. */
		ASSERT_EQ(c->resv->num_reserved, 0);
		ASSERT_EQ(d->resv->num_reserved, 0);
		drm_gpuvm_exec_unlock(&vm_exec);
		/* A duplicate is still refused without IGNORE_DUPLICATES, nothing locked. */
		struct drm_gem_object *dup[2] = { d, d };

		vm_exec.flags = 0;
		ASSERT_EQ(gpuvm_driver_exec_lock_binds(&vm_exec, reqs, 1, lock_vm, dup, 2),
			  -EALREADY);
		ASSERT_FALSE(dma_resv_is_locked(d->resv));
		ASSERT_FALSE(dma_resv_is_locked(c->resv));
		vm_exec.flags = DRM_EXEC_IGNORE_DUPLICATES;
		ASSERT_EQ(gpuvm_driver_exec_lock_binds(&vm_exec, reqs, 1, lock_vm, dup, 2), 0);
		drm_gpuvm_exec_unlock(&vm_exec);
	}
	drm_gem_object_put(c);
	drm_gem_object_put(d);
	return fx_fini(&f);
}

/*
 * Releasing an immediate-mode RESV_PROTECTED VM while this thread holds its
 * resv (inside a transaction): the zombie vm_bos left by the unmap must still
 * be cleaned up, or their VM references keep the VM alive forever (leaked:
 * found by csrc/fuzz/fuzz_api.c; from Python, vm.close() inside the VM's own
 * exec block after an unmap).
 */
static bool test_vm_release_with_the_vm_resv_held(void)
{
	for (int own = 0; own < 2; own++) {
		long live0 = gpuvm_alloc_live();
		unsigned int frees0 = atomic_load(&fixture_vm_frees);
		struct drm_gpuvm *vm = vm_new(NULL, IMM | PROT);
		struct drm_gem_object *p, *a, *locked;
		struct drm_exec exec;
		const struct gpuvm_bind_req m1 = { GPUVM_BIND_MAP, 0x10 * P, P, NULL, 0 };
		struct gpuvm_bind_req m = m1, u = { GPUVM_BIND_UNMAP, 0x10 * P, 0x20 * P, NULL, 0 };

		ASSERT_NONNULL(vm);
		p = gem_new_private(NULL, vm);
		a = gem_new(NULL);
		ASSERT_NONNULL(p);
		ASSERT_NONNULL(a);
		m.obj = p;
		ASSERT_EQ(gpuvm_driver_bind(vm, &m, NULL, NULL), 0);
		m.addr = 0x20 * P;
		m.obj = a;
		ASSERT_EQ(gpuvm_driver_bind(vm, &m, NULL, NULL), 0);
		/* The VM resv held through its own object, or through a private one. */
		locked = own ? drm_gpuvm_resv_obj(vm) : p;
		drm_exec_init(&exec, 0, 0);
		drm_exec_until_all_locked(&exec) {
			int ret = drm_exec_lock_obj(&exec, locked);

			drm_exec_retry_on_contention(&exec);
			ASSERT_EQ(ret, 0);
		}
		/* Both vm_bos die as zombies; the cleanup cannot run under the held resv. */
		ASSERT_EQ(gpuvm_driver_bind(vm, &u, NULL, NULL), 0);
		gpuvm_driver_vm_release(vm, NULL);
		drm_exec_fini(&exec);
		drm_gem_object_put(p);
		drm_gem_object_put(a);
		ASSERT_EQ(atomic_load(&fixture_vm_frees), frees0 + 1);
		ASSERT_EQ(gpuvm_alloc_live(), live0);
	}
	return true;
}

int main(void)
{
	warn_log_install();

	RUN(test_ops_create_every_kind);
	RUN(test_bind_every_mode);
	RUN(test_bind_under_held_locks);
	RUN(test_bind_ops_created_hook);
	RUN(test_apply_forwards_the_callers_ctx);
	RUN(test_apply_counts_failed_inserts);
	RUN(test_bind_enomem_everywhere);
	RUN(test_batch);
	RUN(test_bo_obtain_put_evict_lists);
	RUN(test_bo_obtain_enomem);
	RUN(test_va_insert_destroy);
	RUN(test_vm_release_frees_everything);
	RUN(test_vm_release_with_the_vm_resv_held);
	RUN(test_exec_lock_binds);
	RUN(test_exec_lock_binds_no_fences);
	return harness_done();
}
