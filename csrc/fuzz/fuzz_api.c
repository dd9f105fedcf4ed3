// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a decoded stream of raw C API calls on the port's public
 * API (drm/drm_gpuvm.h) and the reference driver layer (drm/gpuvm_driver.h),
 * with arbitrary numbers: up to two VMs (any flags, any managed and reserved
 * ranges, overflowing ones included), GEM objects (external, or sharing a
 * VM's resv), binds (map, unmap, prefetch, madvise), ops lists created and
 * then applied or dropped, batches, bo_unmap lists, hand-made VAs, callback
 * walks (drm_gpuvm_sm_map/_sm_unmap), vm_bo obtain/put/evict/extobj_add, list
 * snapshots, deferred cleanup, exec locking (over binds, arrays, ranges) with
 * fences, validate, tree queries and the columnar VA table; an input byte can
 * also make the n-th allocation of the next call fail.
 *
 * Checked after every call:
 *  - the VA tree: red-black and interval invariants (gpuva_it_check), the
 *    address-ordered list is the tree's in-order sequence, every VA belongs to
 *    the VM, non-empty VAs never overlap, and (while the VM holds no
 *    zero-sized VA and no insert failed) the layout equals a model that
 *    applies map/unmap/bo_unmap/madvise/hand inserts by itself;
 *  - request validity and every tree query against the model;
 *  - a failing call returns a negative errno and changes nothing: the same
 *    layout and no allocation left behind;
 *  - no WARN except the documented "GPUVA address limited" of drm_gpuvm_init;
 *  - at the end of the input everything is dropped and the live allocation
 *    count is back to where it started (ASan's leak check sees the rest).
 *
 * Single-threaded, so the locking is the driver layer's own (a lock this
 * thread already holds is used as is); at most one exec transaction is open.
 */
#include <errno.h>
#include <string.h>

#include "drm/drm_exec.h"
#include "drm/drm_gpuvm.h"
#include "drm/gpuvm_driver.h"
#include "linux/dma-fence.h"
#include "linux/dma-resv.h"
#include "linux/slab.h"

#include "driver/va_table.h"
#include "fuzz_input.h"
#include "lib/interval_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NVM 2
#define NGEM 6
#define NHELD 8
#define MAXVA 96 /* model capacity per VM; binds stop before it could overflow */
#define MAXSTEPS 4096

struct mva {
	u64 addr, range, offset;
	struct drm_gem_object *obj;
};

struct vm_slot {
	struct drm_gpuvm *vm;
	/* The model; valid while !lost (no zero-sized VA, no failed insert). */
	struct mva va[MAXVA];
	unsigned int n;
	bool lost;
	u64 rstart, rrange; /* reserved node as passed to init */
};

static struct {
	struct fuzz_input in;
	struct drm_device *drm;
	struct vm_slot vms[NVM];
	struct drm_gem_object *gem[NGEM];
	struct drm_gpuvm_bo *held[NHELD];
	/* The open exec transaction, if any. */
	struct drm_gpuvm_exec ve;
	bool exec_open;
	int exec_vm;            /* slot of ve.vm */
	bool exec_vm_locked;    /* VM resv and every extobj locked (drm_gpuvm_exec_lock) */
	bool exec_dirty;        /* objects may have joined the VM since it was locked */
	unsigned int fences_left;
	u64 fence_ctx;
	/* WARNs */
	unsigned long warns;
	unsigned long limit_warns;
	/* callbacks */
	unsigned long steps, step_stop;
	int step_ret;
	unsigned long insert_failed, va_removed;
	u8 validate_policy;
	unsigned int validate_calls;
} S;

/* ---------------------------------------------------------------- WARNs */

static void on_warn(const char *file, int line, const char *msg, void *data)
{
	(void)data;
	if (strstr(msg, "GPUVA address limited")) {
		S.limit_warns++;
		return;
	}
	S.warns++;
	fprintf(stderr, "unexpected WARN %s:%d: %s\n", file, line, msg);
	abort(); /* here, so the report shows where it came from */
}

/* ------------------------------------------------------------ callbacks */

static int validate_cb(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec)
{
	(void)exec;
	/* The walk holds every object's resv (asserted by the port as well). */
	FUZZ_CHECK(dma_resv_held(vm_bo->obj->resv));
	/* What to do with the i-th vm_bo: two bits of the policy byte. */
	switch ((S.validate_policy >> (2 * (S.validate_calls++ % 4))) & 3) {
	case 0:
	case 1:
		drm_gpuvm_bo_evict(vm_bo, false);
		return 0;
	case 2:
		return 0; /* left evicted */
	default:
		return -EIO;
	}
}

static void vm_free_cb(struct drm_gpuvm *gpuvm)
{
	kfree(gpuvm);
}

/* A driver's own op allocator (zeroed, as drm_gpuvm_ops.op_alloc requires). */
static struct drm_gpuva_op *op_alloc_cb(void)
{
	return kzalloc(sizeof(struct drm_gpuva_op), GFP_KERNEL);
}

static void op_free_cb(struct drm_gpuva_op *op)
{
	kfree(op);
}

static const struct drm_gpuvm_ops ops_plain = { .vm_free = vm_free_cb };
static const struct drm_gpuvm_ops ops_validate = {
	.vm_free = vm_free_cb,
	.vm_bo_validate = validate_cb,
	.op_alloc = op_alloc_cb,
	.op_free = op_free_cb,
};

/* Step callbacks that record the steps without changing anything. */
struct step_log {
	struct drm_gpuva_op op[MAXVA + 4];
	struct drm_gpuva_op_map prev[MAXVA + 4], next[MAXVA + 4];
	struct drm_gpuva_op_unmap unmap[MAXVA + 4];
	unsigned int n;
};

static int step_cb(struct drm_gpuva_op *op, void *priv)
{
	struct step_log *log = priv;
	unsigned int i = log->n;

	if (S.steps++ == S.step_stop)
		return S.step_ret;
	FUZZ_CHECK(i < MAXVA + 4);
	log->op[i] = *op;
	if (op->op == DRM_GPUVA_OP_REMAP) {
		log->unmap[i] = *op->remap.unmap;
		log->op[i].remap.unmap = &log->unmap[i];
		if (op->remap.prev) {
			log->prev[i] = *op->remap.prev;
			log->op[i].remap.prev = &log->prev[i];
		}
		if (op->remap.next) {
			log->next[i] = *op->remap.next;
			log->op[i].remap.next = &log->next[i];
		}
	}
	log->n++;
	return 0;
}

static const struct drm_gpuvm_ops ops_steps = {
	.sm_step_map = step_cb,
	.sm_step_remap = step_cb,
	.sm_step_unmap = step_cb,
};

static void insert_failed_cb(const struct drm_gpuva_op_map *piece, void *priv)
{
	(void)piece;
	(void)priv;
	S.insert_failed++;
}

static void va_removed_cb(struct drm_gpuva *va, void *priv)
{
	(void)va;
	(void)priv;
	S.va_removed++;
}

/* A driver's VA allocator; kzalloc/kfree underneath, so any release path fits. */
static struct drm_gpuva *va_alloc_cb(void *priv)
{
	(void)priv;
	return kzalloc(sizeof(struct drm_gpuva), GFP_KERNEL);
}

static void va_free_cb(struct drm_gpuva *va, void *priv)
{
	(void)priv;
	kfree(va);
}

static const struct gpuvm_apply_ctx apply_cbs = {
	.va_alloc = va_alloc_cb,
	.va_free = va_free_cb,
	.insert_failed = insert_failed_cb,
	.va_removed = va_removed_cb,
};

/* ---------------------------------------------------------------- model */

static bool overflows(u64 a, u64 r)
{
	return a + r < a;
}

/* drm_gpuvm_range_valid(), stated independently (docs/trace-format.md). */
static bool model_range_valid(const struct drm_gpuvm *vm, u64 addr, u64 range)
{
	u64 end = addr + range, mm_end = vm->mm_start + vm->mm_range;
	u64 ks = vm->kernel_alloc_node.va.addr, kr = vm->kernel_alloc_node.va.range;

	if (overflows(addr, range) || addr < vm->mm_start || end > mm_end)
		return false;
	return !(kr && addr < ks + kr && ks < end);
}

/* Cut every model VA that straddles @at (optionally only GEM-less ones). */
static void model_cut(struct vm_slot *s, u64 at, bool gemless_only)
{
	for (unsigned int i = 0; i < s->n; i++) {
		struct mva *v = &s->va[i];

		if (v->addr < at && at < v->addr + v->range && (!gemless_only || !v->obj)) {
			struct mva tail = { at, v->addr + v->range - at, v->offset + (at - v->addr),
					    v->obj };

			FUZZ_CHECK(s->n < MAXVA);
			v->range = at - v->addr;
			memmove(&s->va[i + 2], &s->va[i + 1], (s->n - i - 1) * sizeof(*v));
			s->va[i + 1] = tail;
			s->n++;
			return;
		}
	}
}

/* Remove model VAs inside [a, a+r) (after cutting at both ends). */
static void model_remove_inside(struct vm_slot *s, u64 a, u64 r)
{
	unsigned int j = 0;

	for (unsigned int i = 0; i < s->n; i++) {
		const struct mva *v = &s->va[i];

		if (v->addr >= a && v->addr + v->range <= a + r)
			continue;
		s->va[j++] = *v;
	}
	s->n = j;
}

static void model_insert(struct vm_slot *s, struct mva v)
{
	unsigned int i = 0;

	FUZZ_CHECK(s->n < MAXVA);
	while (i < s->n && s->va[i].addr < v.addr)
		i++;
	memmove(&s->va[i + 1], &s->va[i], (s->n - i) * sizeof(v));
	s->va[i] = v;
	s->n++;
}

static void model_map(struct vm_slot *s, u64 a, u64 r, struct drm_gem_object *obj, u64 off)
{
	model_cut(s, a, false);
	model_cut(s, a + r, false);
	model_remove_inside(s, a, r);
	model_insert(s, (struct mva){ a, r, off, obj });
}

static void model_unmap(struct vm_slot *s, u64 a, u64 r)
{
	model_cut(s, a, false);
	model_cut(s, a + r, false);
	model_remove_inside(s, a, r);
}

static bool is_kernel_node(const struct drm_gpuvm *vm, const struct drm_gpuva *va)
{
	return va == &vm->kernel_alloc_node;
}

static unsigned int vm_layout(struct drm_gpuvm *vm, struct mva *out, unsigned int max);

/* The union of the VAs' intervals, as sorted disjoint [start, end) pairs. */
static unsigned int covered(const struct mva *v, unsigned int n, u64 *out)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (k && out[2 * k - 1] == v[i].addr) {
			out[2 * k - 1] = v[i].addr + v[i].range;
			continue;
		}
		out[2 * k] = v[i].addr;
		out[2 * k + 1] = v[i].addr + v[i].range;
		k++;
	}
	return k;
}

/*
 * madvise: GEM-backed VAs and VAs away from the request stay as they were,
 * and the covered addresses do not change; how the GEM-less VAs it meets are
 * split and re-mapped is the walk's business, so the model takes the VM's
 * layout after these checks.
 */
static void model_madvise(struct vm_slot *s, const struct gpuvm_bind_req *req)
{
	static struct mva now[MAXVA];
	static u64 c0[2 * MAXVA], c1[2 * MAXVA];
	u64 a = req->addr, e = req->addr + req->range;
	unsigned int n = vm_layout(s->vm, now, MAXVA), j = 0, k0, k1;

	for (unsigned int i = 0; i < n; i++)
		if (!now[i].range) {
			s->lost = true;
			return;
		}
	for (unsigned int i = 0; i < s->n; i++) {
		const struct mva *v = &s->va[i];

		if (!v->obj && v->addr < e && a < v->addr + v->range)
			continue;
		while (j < n && now[j].addr < v->addr)
			j++;
		FUZZ_CHECK(j < n && !memcmp(&now[j], v, sizeof(*v)));
	}
	k0 = covered(s->va, s->n, c0);
	k1 = covered(now, n, c1);
	FUZZ_CHECK(k0 == k1 && !memcmp(c0, c1, 2 * k0 * sizeof(*c0)));
	memcpy(s->va, now, n * sizeof(*now));
	s->n = n;
}

/* The VM's VAs (reserved node excluded) into @out; returns the count. */
static unsigned int vm_layout(struct drm_gpuvm *vm, struct mva *out, unsigned int max)
{
	struct drm_gpuva *va;
	unsigned int n = 0;

	drm_gpuvm_for_each_va(va, vm) {
		if (is_kernel_node(vm, va))
			continue;
		FUZZ_CHECK(n < max);
		out[n++] = (struct mva){ va->va.addr, va->va.range, va->gem.offset, va->gem.obj };
	}
	return n;
}

static bool vm_has_zero_va(struct drm_gpuvm *vm)
{
	struct drm_gpuva *va;

	drm_gpuvm_for_each_va(va, vm)
		if (!va->va.range)
			return true;
	return false;
}

/* Structural invariants of the tree, and the model when it is still exact. */
static void check_vm(struct vm_slot *s)
{
	static struct mva now[4 * MAXVA];
	struct drm_gpuvm *vm = s->vm;
	struct drm_gpuva *va, *prev = NULL;
	size_t count = 0, listed = 0;
	u64 end_max = 0;
	bool have_end = false;

	FUZZ_CHECK(gpuva_it_check(&vm->rb.tree, &count) == 0);
	drm_gpuvm_for_each_va(va, vm) {
		listed++;
		FUZZ_CHECK(va->vm == vm);
		if (prev)
			FUZZ_CHECK(prev->va.addr <= va->va.addr);
		if (va->va.range && !is_kernel_node(vm, va)) {
			/* Non-empty VAs never overlap and never wrap. */
			FUZZ_CHECK(!overflows(va->va.addr, va->va.range));
			if (have_end)
				FUZZ_CHECK(va->va.addr >= end_max);
			end_max = va->va.addr + va->va.range;
			have_end = true;
		}
		if (va->gem.obj && !is_kernel_node(vm, va))
			FUZZ_CHECK(va->vm_bo && va->vm_bo->obj == va->gem.obj && va->vm_bo->vm == vm);
		prev = va;
	}
	FUZZ_CHECK(listed == count);
	FUZZ_CHECK(vm->kernel_alloc_node_inserted == (vm->kernel_alloc_node.va.range &&
						      !overflows(s->rstart, s->rrange)));
	if (!s->lost && vm_has_zero_va(vm))
		s->lost = true;
	if (s->lost)
		return;
	unsigned int n = vm_layout(vm, now, 4 * MAXVA);

	if (n != s->n)
		fprintf(stderr, "model: %u VAs, VM: %u\n", s->n, n);
	FUZZ_CHECK(n == s->n);
	for (unsigned int i = 0; i < n; i++) {
		if (memcmp(&now[i], &s->va[i], sizeof(now[i])))
			fprintf(stderr, "VA %u: VM %llx+%llx@%llx model %llx+%llx@%llx\n", i,
				(unsigned long long)now[i].addr, (unsigned long long)now[i].range,
				(unsigned long long)now[i].offset, (unsigned long long)s->va[i].addr,
				(unsigned long long)s->va[i].range,
				(unsigned long long)s->va[i].offset);
		FUZZ_CHECK(!memcmp(&now[i], &s->va[i], sizeof(now[i])));
	}
}

static void check_all(void)
{
	FUZZ_CHECK(S.warns == 0);
	for (int i = 0; i < NVM; i++)
		if (S.vms[i].vm)
			check_vm(&S.vms[i]);
	for (int i = 0; i < NHELD; i++) {
		struct drm_gpuvm_bo *vb = S.held[i];

		if (!vb)
			continue;
		FUZZ_CHECK(kref_read(&vb->kref) >= 1);
		FUZZ_CHECK(gpuvm_driver_bo_on_extobj_list(vb) == drm_gpuvm_is_extobj(vb->vm, vb->obj));
		/* Outside a walk the evict list is the evicted flag (RESV_PROTECTED
		 * defers external objects to the next prepare_objects). */
		if (!drm_gpuvm_resv_protected(vb->vm) || !drm_gpuvm_is_extobj(vb->vm, vb->obj))
			FUZZ_CHECK(gpuvm_driver_bo_on_evict_list(vb) == vb->evicted);
	}
}

/* A failing call: a negative errno, one of those the API documents. */
static void check_errno(int ret)
{
	FUZZ_CHECK(ret < 0 && ret >= -4095);
	FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM || ret == -EEXIST || ret == -EDEADLK ||
		   ret == -EALREADY || ret == -EINTR || ret == -EOPNOTSUPP || ret == -EIO ||
		   ret == -ENOENT || ret == -EBUSY);
}

/* --------------------------------------------------------------- inputs */

static u8 u8_(void)
{
	return fuzz_u8(&S.in);
}

static u64 num(void)
{
	return fuzz_u64(&S.in);
}

static struct vm_slot *pick_vm(void)
{
	struct vm_slot *s = &S.vms[u8_() % NVM];

	return s->vm ? s : NULL;
}

static struct drm_gem_object *pick_gem(void)
{
	u8 b = u8_();

	return b >= 0xc0 ? NULL : S.gem[b % NGEM];
}

static unsigned int nvas(struct drm_gpuvm *vm);

/* Calls that add VAs run only while the model (and the checks' arrays) have room. */
static bool room(const struct vm_slot *s)
{
	return nvas(s->vm) + 16 < MAXVA;
}

static struct drm_gpuva *nth_va(struct drm_gpuvm *vm, unsigned int k)
{
	struct drm_gpuva *va, *last = NULL;

	drm_gpuvm_for_each_va(va, vm) {
		if (is_kernel_node(vm, va))
			continue;
		last = va;
		if (!k--)
			return va;
	}
	return last;
}

static unsigned int nvas(struct drm_gpuvm *vm)
{
	struct drm_gpuva *va;
	unsigned int n = 0;

	drm_gpuvm_for_each_va(va, vm)
		n++;
	return n;
}

/* ---------------------------------------------------------------- exec */

/* References on every GEM and VM resv object, for "nothing left behind". */
static void gem_refs(unsigned int *refs)
{
	for (int i = 0; i < NGEM; i++)
		refs[i] = S.gem[i] ? kref_read(&S.gem[i]->refcount) : 0;
	for (int i = 0; i < NVM; i++)
		refs[NGEM + i] = S.vms[i].vm ? kref_read(&S.vms[i].vm->r_obj->refcount) : 0;
}

static void check_nothing_locked(const unsigned int *refs)
{
	unsigned int now[NGEM + NVM];

	gem_refs(now);
	FUZZ_CHECK(!memcmp(now, refs, sizeof(now)));
	for (int i = 0; i < NGEM; i++)
		if (S.gem[i])
			FUZZ_CHECK(!dma_resv_held(S.gem[i]->resv));
	for (int i = 0; i < NVM; i++)
		if (S.vms[i].vm)
			FUZZ_CHECK(!dma_resv_held(drm_gpuvm_resv(S.vms[i].vm)));
}

static void exec_close(void)
{
	if (!S.exec_open)
		return;
	drm_gpuvm_exec_unlock(&S.ve);
	S.exec_open = false;
}

/* ------------------------------------------------------------ the calls */

static void do_vm_init(void)
{
	u8 b = u8_();
	struct vm_slot *s = &S.vms[b % NVM];
	u64 start, range, rs, rr;
	struct drm_gem_object *r_obj;
	unsigned long limit0 = S.limit_warns;
	unsigned int expect;

	if (s->vm)
		return;
	if (b & 0x10) {
		/* The usual shape: [0, 2^32) with the first page reserved. */
		start = 0;
		range = 1ULL << 32;
		rs = 0;
		rr = 0x1000;
	} else {
		start = num();
		range = num();
		rs = num();
		rr = num();
	}
	r_obj = drm_gpuvm_resv_object_alloc(S.drm);
	if (!r_obj)
		return;
	s->vm = kzalloc(sizeof(*s->vm), GFP_KERNEL);
	if (!s->vm) {
		drm_gem_object_put(r_obj);
		return;
	}
	drm_gpuvm_init(s->vm, "fuzz", (enum drm_gpuvm_flags)((b >> 1) & 3), S.drm, r_obj, start,
		       range, rs, rr, (b & 0x20) ? &ops_plain : &ops_validate);
	drm_gem_object_put(r_obj);
	expect = overflows(start, range) + (rr && overflows(rs, rr));
	FUZZ_CHECK(S.limit_warns - limit0 == expect);
	s->n = 0;
	s->lost = false;
	s->rstart = rs;
	s->rrange = rr;
	FUZZ_CHECK(drm_gpuvm_resv_protected(s->vm) == !!(b & 2));
	FUZZ_CHECK(drm_gpuvm_immediate_mode(s->vm) == !!(b & 4));
}

static void do_vm_put(void)
{
	struct vm_slot *s = pick_vm();

	if (!s)
		return;
	if (S.exec_open && S.ve.vm == s->vm)
		exec_close();
	gpuvm_driver_vm_release(s->vm, NULL);
	s->vm = NULL;
}

static void do_gem_create(void)
{
	u8 b = u8_();
	int i = b % NGEM;
	struct drm_gem_object *resv_obj = NULL;

	if (S.gem[i])
		return;
	if (b & 0x40 && S.vms[(b >> 3) & 1].vm)
		resv_obj = S.vms[(b >> 3) & 1].vm->r_obj; /* private to that VM */
	S.gem[i] = drm_gem_object_create(S.drm, (size_t)num(), resv_obj);
}

static void do_gem_put(void)
{
	int i = u8_() % NGEM;

	drm_gem_object_put(S.gem[i]);
	S.gem[i] = NULL;
}

/* How a successful bind or apply changes the model. */
static void model_bind(struct vm_slot *s, const struct gpuvm_bind_req *req)
{
	switch (req->op) {
	case GPUVM_BIND_MAP:
		if (req->range)
			model_map(s, req->addr, req->range, req->obj, req->offset);
		else
			s->lost = true;
		break;
	case GPUVM_BIND_UNMAP:
		model_unmap(s, req->addr, req->range);
		break;
	case GPUVM_BIND_MADVISE:
		model_madvise(s, req);
		break;
	default:
		break;
	}
}

static void decode_req(struct gpuvm_bind_req *req, u32 op)
{
	req->op = op;
	req->addr = num();
	req->range = num();
	req->obj = (op == GPUVM_BIND_MAP || op == GPUVM_BIND_MADVISE) ? pick_gem() : NULL;
	req->offset = num();
}

/* Arm an allocation failure for the next call, if the input asks for one. */
static void maybe_fail(u8 b)
{
	if (b & 0x80)
		gpuvm_alloc_fail_nth(1 + (u8_() & 15));
}

static void disarm(void)
{
	gpuvm_alloc_fail_nth(0);
}

static bool may_change(const struct vm_slot *s)
{
	/* An open exec over this VM with objects locked: mark it. */
	if (S.exec_open && S.ve.vm == s->vm)
		S.exec_dirty = true;
	return room(s);
}

/* The snapshot a failing call is compared with. */
struct before {
	long live;
	unsigned int n;
	unsigned int vas;
};

static struct before snap(struct vm_slot *s)
{
	return (struct before){ gpuvm_alloc_live(), s->n, nvas(s->vm) };
}

static void check_unchanged(struct vm_slot *s, const struct before *b)
{
	/* Immediate mode may finish an earlier deferred vm_bo cleanup on the way. */
	if (drm_gpuvm_immediate_mode(s->vm))
		FUZZ_CHECK(gpuvm_alloc_live() <= b->live);
	else
		FUZZ_CHECK(gpuvm_alloc_live() == b->live);
	FUZZ_CHECK(nvas(s->vm) == b->vas);
	FUZZ_CHECK(s->n == b->n);
}

static void do_bind(u32 op)
{
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	struct gpuvm_bind_req req;
	struct gpuvm_bind_stats st = { 0 };
	struct before bf;
	int ret;

	decode_req(&req, op);
	if (!s || !may_change(s))
		return;
	bf = snap(s);
	maybe_fail(b);
	ret = gpuvm_driver_bind(s->vm, &req, (b & 1) ? NULL : &(struct gpuvm_bind_ctx){ .apply = &apply_cbs }, &st);
	disarm();
	if (op == GPUVM_BIND_MAP || op == GPUVM_BIND_UNMAP || op == GPUVM_BIND_MADVISE)
		if (!model_range_valid(s->vm, req.addr, req.range))
			FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM);
	if (ret) {
		check_errno(ret);
		check_unchanged(s, &bf);
		return;
	}
	if (op == GPUVM_BIND_PREFETCH) {
		FUZZ_CHECK(st.inserted + st.removed == 0);
		FUZZ_CHECK(nvas(s->vm) == bf.vas);
		return;
	}
	if (st.failed)
		s->lost = true;
	if (!s->lost)
		model_bind(s, &req);
}

/* Ops list created, then applied, dropped, or applied with a failure. */
static void do_ops(void)
{
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	struct gpuvm_bind_req req;
	struct drm_gpuva_ops *ops;
	struct gpuvm_bind_stats st = { 0 };
	struct before bf;
	int ret;

	decode_req(&req, 1 + (b & 3));
	if (!s || !may_change(s))
		return;
	bf = snap(s);
	maybe_fail(b);
	ops = gpuvm_driver_ops_create(s->vm, &req);
	disarm();
	FUZZ_CHECK(ops != NULL);
	if (IS_ERR(ops)) {
		check_errno((int)PTR_ERR(ops));
		check_unchanged(s, &bf);
		if (req.op != GPUVM_BIND_PREFETCH && model_range_valid(s->vm, req.addr, req.range))
			FUZZ_CHECK(PTR_ERR(ops) == -ENOMEM);
		return;
	}
	if (req.op != GPUVM_BIND_PREFETCH)
		FUZZ_CHECK(model_range_valid(s->vm, req.addr, req.range));
	/* Creating changes nothing. */
	FUZZ_CHECK(nvas(s->vm) == bf.vas);
	if (b & 0x20 || req.op == GPUVM_BIND_PREFETCH) {
		drm_gpuva_ops_free(s->vm, ops);
		FUZZ_CHECK(gpuvm_alloc_live() == bf.live);
		return;
	}
	/* bf stays the state before the list existed: compared after it is freed. */
	maybe_fail((u8)(b << 1));
	ret = gpuvm_driver_apply(s->vm, ops, (b & 0x40) ? &apply_cbs : NULL, &st);
	disarm();
	drm_gpuva_ops_free(s->vm, ops);
	if (ret) {
		check_errno(ret);
		check_unchanged(s, &bf);
		return;
	}
	if (st.failed)
		s->lost = true;
	if (!s->lost)
		model_bind(s, &req);
}

static void do_batch(void)
{
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	struct gpuvm_bind_req reqs[4];
	int errs[4];
	struct gpuvm_batch_result res;
	unsigned int n = 1 + (b & 3);
	size_t done;

	for (unsigned int i = 0; i < n; i++)
		decode_req(&reqs[i], (u8_() & 1) ? GPUVM_BIND_UNMAP : GPUVM_BIND_MAP);
	if (!s || !may_change(s))
		return;
	maybe_fail(b);
	done = gpuvm_driver_bind_batch(s->vm, reqs, n, b & 4, errs, NULL, &res);
	disarm();
	FUZZ_CHECK(done == res.processed && done <= n);
	if (res.failed)
		s->lost = true;
	size_t nerr = 0;

	for (size_t i = 0; i < done; i++) {
		if (errs[i]) {
			check_errno(errs[i]);
			nerr++;
			FUZZ_CHECK(errs[i] != -EINVAL || !reqs[i].range ||
				   !model_range_valid(s->vm, reqs[i].addr, reqs[i].range));
			continue;
		}
		FUZZ_CHECK(reqs[i].range != 0);
		if (!s->lost)
			model_bind(s, &reqs[i]);
	}
	FUZZ_CHECK(nerr == res.errors);
	if (done < n)
		FUZZ_CHECK(done && errs[done - 1] && ((b & 4) || errs[done - 1] == -ENOMEM));
}

static void extobj_add(struct drm_gpuvm_bo *vb)
{
	bool taken = false;

	/* drm_gpuvm_bo_extobj_add() asserts the VM resv in RESV_PROTECTED mode. */
	if (drm_gpuvm_resv_protected(vb->vm) && !dma_resv_held(drm_gpuvm_resv(vb->vm))) {
		FUZZ_CHECK(dma_resv_lock(drm_gpuvm_resv(vb->vm), NULL) == 0);
		taken = true;
	}
	drm_gpuvm_bo_extobj_add(vb);
	if (taken)
		dma_resv_unlock(drm_gpuvm_resv(vb->vm));
}

static int held_slot(void)
{
	return u8_() % NHELD;
}

static void do_bo_obtain(void)
{
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	struct drm_gem_object *obj = S.gem[b % NGEM];
	int h = held_slot();
	struct drm_gpuvm_bo *vb;
	long live;

	if (!s || !obj || S.held[h])
		return;
	may_change(s);
	live = gpuvm_alloc_live();
	maybe_fail(b);
	if ((b & 0x40) && drm_gpuvm_immediate_mode(s->vm)) {
		/* Immediate mode's own form: allocate first, insert under the mutex. */
		vb = drm_gpuvm_bo_create(s->vm, obj);
		disarm();
		if (!vb) {
			FUZZ_CHECK(gpuvm_alloc_live() == live);
			return;
		}
		vb = drm_gpuvm_bo_obtain_prealloc(vb);
		extobj_add(vb);
		FUZZ_CHECK(gpuvm_alloc_live() >= live);
	} else {
		vb = gpuvm_driver_bo_obtain(s->vm, obj);
	}
	disarm();
	FUZZ_CHECK(vb != NULL);
	if (IS_ERR(vb)) {
		FUZZ_CHECK(PTR_ERR(vb) == -ENOMEM);
		FUZZ_CHECK(gpuvm_alloc_live() <= live);
		return;
	}
	FUZZ_CHECK(vb->vm == s->vm && vb->obj == obj);
	S.held[h] = vb;
}

static void do_bo_put(bool deferred)
{
	int h = held_slot();
	struct drm_gpuvm_bo *vb = S.held[h];
	bool vm_live = false;

	for (int i = 0; i < NVM && vb; i++)
		vm_live |= S.vms[i].vm == vb->vm;
	/*
	 * Deferred: a zombie waits for drm_gpuvm_bo_deferred_cleanup(), which
	 * only a VM still in use gets (the next bind or its release).
	 */
	if (deferred && vb && vm_live && drm_gpuvm_immediate_mode(vb->vm))
		drm_gpuvm_bo_put_deferred(vb);
	else
		gpuvm_driver_bo_put(vb);
	S.held[h] = NULL;
}

static void do_evict(void)
{
	u8 b = u8_();
	struct drm_gpuvm_bo *vb = S.held[b % NHELD];

	if (b & 0x40) {
		struct drm_gem_object *obj = S.gem[(b >> 3) % NGEM];
		bool resv, mutex;

		if (!obj)
			return;
		if (!(b & 0x20)) {
			drm_gpuvm_bo_gem_evict(obj, b & 0x80);
			return;
		}
		/* The _locked form: the object's resv and gpuva mutex held. */
		resv = !dma_resv_held(obj->resv);
		if (resv)
			FUZZ_CHECK(dma_resv_lock(obj->resv, NULL) == 0);
		mutex = !mutex_held_by_me(&obj->gpuva.lock);
		if (mutex)
			mutex_lock(&obj->gpuva.lock);
		drm_gpuvm_bo_gem_evict_locked(obj, b & 0x80);
		if (mutex)
			mutex_unlock(&obj->gpuva.lock);
		if (resv)
			dma_resv_unlock(obj->resv);
		return;
	}
	if (vb)
		gpuvm_driver_bo_evict(vb, b & 0x80);
}

static void do_extobj_add(void)
{
	struct drm_gpuvm_bo *vb = S.held[held_slot()];

	if (vb)
		extobj_add(vb);
}

static void do_exec_lock(void)
{
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	struct gpuvm_bind_req reqs[3];
	struct drm_gem_object *objs[3];
	unsigned int nreq = b & 3, nobj = (b >> 2) & 3;
	u8 kind = u8_();
	unsigned int refs[NGEM + NVM];
	long live;
	int ret;

	for (unsigned int i = 0; i < nreq; i++)
		decode_req(&reqs[i], (u8_() & 1) ? GPUVM_BIND_UNMAP : GPUVM_BIND_MAP);
	for (unsigned int i = 0; i < nobj; i++)
		objs[i] = S.gem[u8_() % NGEM];
	if (!s || S.exec_open)
		return;
	for (unsigned int i = 0; i < nobj; i++)
		if (!objs[i])
			return;
	memset(&S.ve, 0, sizeof(S.ve));
	S.ve.vm = s->vm;
	S.ve.flags = ((b >> 4) & 1 ? DRM_EXEC_INTERRUPTIBLE_WAIT : 0) |
		     ((b >> 5) & 1 ? DRM_EXEC_IGNORE_DUPLICATES : 0);
	S.ve.num_fences = (kind >> 2) & 3;
	/*
	 * drm_gpuvm_exec_lock_array() reserves slots on its objects even for
	 * 0, which WARNs as in the kernel: a caller's miscount, not tried.
	 * (gpuvm_driver_exec_lock_binds() only locks then.)
	 */
	if ((kind & 3) == 2 && nobj && !S.ve.num_fences)
		S.ve.num_fences = 1;
	live = gpuvm_alloc_live();
	gem_refs(refs);
	maybe_fail(b);
	switch (kind & 3) {
	case 0:
	case 1:
		ret = gpuvm_driver_exec_lock_binds(&S.ve, reqs, nreq, kind & 1, objs, nobj);
		S.exec_vm_locked = kind & 1;
		break;
	case 2:
		ret = drm_gpuvm_exec_lock_array(&S.ve, objs, nobj);
		S.exec_vm_locked = true;
		break;
	default:
		ret = drm_gpuvm_exec_lock_range(&S.ve, num(), num());
		S.exec_vm_locked = false;
		break;
	}
	disarm();
	if (ret) {
		check_errno(ret);
		/*
		 * Nothing locked, no reference left behind. (Fence slots a
		 * pass reserved before the failure stay with their resv, as in
		 * the kernel: allocations may have grown.)
		 */
		FUZZ_CHECK(gpuvm_alloc_live() >= live);
		check_nothing_locked(refs);
		return;
	}
	if (S.exec_vm_locked) {
		struct drm_gpuvm_bo *vb;

		FUZZ_CHECK(dma_resv_held(drm_gpuvm_resv(s->vm)));
		list_for_each_entry(vb, &s->vm->extobj.list, list.entry.extobj)
			if (kref_read(&vb->kref)) /* zombies are skipped */
				FUZZ_CHECK(dma_resv_held(vb->obj->resv));
	}
	for (unsigned int i = 0; i < nobj && (kind & 3) < 3; i++)
		FUZZ_CHECK(dma_resv_held(objs[i]->resv));
	S.exec_open = true;
	S.exec_dirty = false;
	S.fences_left = S.ve.num_fences;
}

static void do_fence(void)
{
	u8 b = u8_();
	struct dma_fence *f;

	if (!S.exec_open || !S.fences_left)
		return;
	f = dma_fence_create(S.fence_ctx, num());
	if (!f)
		return;
	drm_gpuvm_exec_resv_add_fence(&S.ve, f, (enum dma_resv_usage)(b & 3),
				      (enum dma_resv_usage)((b >> 2) & 3));
	S.fences_left--;
	if (b & 0x10)
		dma_fence_signal(f);
	dma_fence_put(f);
}

static void do_validate(void)
{
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	bool temp = false;
	int ret;

	S.validate_policy = u8_();
	S.validate_calls = 0;
	if (!s)
		return;
	if (S.exec_open) {
		/* Only inside a transaction that holds everything the walk needs. */
		if (S.ve.vm != s->vm || !S.exec_vm_locked || S.exec_dirty)
			return;
	} else {
		memset(&S.ve, 0, sizeof(S.ve));
		S.ve.vm = s->vm;
		S.ve.flags = DRM_EXEC_INTERRUPTIBLE_WAIT;
		maybe_fail(b);
		ret = drm_gpuvm_exec_lock(&S.ve);
		disarm();
		if (ret) {
			check_errno(ret);
			return;
		}
		temp = true;
	}
	ret = drm_gpuvm_exec_validate(&S.ve);
	if (ret)
		check_errno(ret);
	if (s->vm->ops == &ops_plain)
		FUZZ_CHECK(ret == -EOPNOTSUPP);
	else
		FUZZ_CHECK(ret == 0 || ret == -EIO);
	if (temp)
		drm_gpuvm_exec_unlock(&S.ve);
}

/* Queries against the model. */
static void do_query(void)
{
	static u64 table[GPUVM_VA_TABLE_COLUMNS * MAXVA];
	struct vm_slot *s = pick_vm();
	u64 a = num(), r = num();
	u8 b = u8_();

	if (!s)
		return;
	FUZZ_CHECK(drm_gpuvm_range_valid(s->vm, a, r) == model_range_valid(s->vm, a, r));
	if (s->lost)
		return;
	switch (b & 7) {
	case 0: { /* drm_gpuva_find: exact match */
		struct drm_gpuva *va = drm_gpuva_find(s->vm, a, r);
		const struct mva *m = NULL;

		for (unsigned int i = 0; i < s->n; i++)
			if (s->va[i].addr == a && s->va[i].range == r)
				m = &s->va[i];
		if (is_kernel_node(s->vm, va))
			break;
		FUZZ_CHECK(!va == !m);
		break;
	}
	case 1: { /* drm_gpuva_find_first: lowest VA overlapping [a, a+r) */
		struct drm_gpuva *va;
		const struct mva *m = NULL;

		if (!r || overflows(a, r))
			break;
		va = drm_gpuva_find_first(s->vm, a, r);
		for (unsigned int i = 0; i < s->n && !m; i++)
			if (s->va[i].addr < a + r && a < s->va[i].addr + s->va[i].range)
				m = &s->va[i];
		if (va && is_kernel_node(s->vm, va))
			break;
		FUZZ_CHECK(!va == !m);
		if (va)
			FUZZ_CHECK(va->va.addr == m->addr);
		break;
	}
	case 2:   /* drm_gpuva_find_prev(): the tree query over [a - 1, a] */
	case 3: { /* drm_gpuva_find_next(): over [a, a + 1] */
		u64 first = (b & 7) == 2 ? a - 1 : a;
		struct drm_gpuva *va = (b & 7) == 2 ? drm_gpuva_find_prev(s->vm, a)
						    : drm_gpuva_find_next(s->vm, a);
		const struct mva *m = NULL;

		/* Both refuse a probe byte outside the valid ranges. */
		if (model_range_valid(s->vm, first, 1))
			for (unsigned int i = 0; i < s->n && !m; i++)
				if (s->va[i].addr + s->va[i].range - 1 >= first &&
				    s->va[i].addr <= first + 1)
					m = &s->va[i];
		if (va && is_kernel_node(s->vm, va))
			break;
		FUZZ_CHECK(!va == !m);
		if (va)
			FUZZ_CHECK(va->va.addr == m->addr && va->va.range == m->range);
		break;
	}
	case 4: { /* drm_gpuvm_interval_empty */
		bool empty = true;
		u64 ks = s->vm->kernel_alloc_node.va.addr;
		u64 kr = s->vm->kernel_alloc_node.va.range;

		if (!r || overflows(a, r))
			break;
		for (unsigned int i = 0; i < s->n; i++)
			if (s->va[i].addr < a + r && a < s->va[i].addr + s->va[i].range)
				empty = false;
		if (s->vm->kernel_alloc_node_inserted && ks < a + r && a < ks + kr)
			empty = false;
		FUZZ_CHECK(drm_gpuvm_interval_empty(s->vm, a, r) == empty);
		break;
	}
	default: { /* the columnar table over [a, a + r - 1] */
		u64 last = r ? a + r - 1 : a;
		size_t stride = (b >> 3) & 15, n;
		unsigned int expect = 0, k = 0;
		bool skip_kernel = !(b & 0x80);
		const struct drm_gpuva *kn = &s->vm->kernel_alloc_node;

		if (last < a)
			last = ~0ULL;
		n = gpuvm_va_table_fill(s->vm, a, last, skip_kernel, table, stride ? stride : 1);
		for (unsigned int i = 0; i < s->n; i++)
			if (s->va[i].addr <= last && a <= s->va[i].addr + s->va[i].range - 1)
				expect++;
		if (!skip_kernel) {
			/* The reserved node is a row too: only the count is checked. */
			if (s->vm->kernel_alloc_node_inserted && kn->va.addr <= last &&
			    a <= kn->va.addr + kn->va.range - 1)
				expect++;
			FUZZ_CHECK(n == expect);
			break;
		}
		FUZZ_CHECK(n == expect);
		for (unsigned int i = 0; i < s->n && k < n && k < (stride ? stride : 1); i++) {
			const struct mva *m = &s->va[i];

			if (!(m->addr <= last && a <= m->addr + m->range - 1))
				continue;
			FUZZ_CHECK(table[k] == m->addr);
			FUZZ_CHECK(table[(stride ? stride : 1) + k] == m->range);
			k++;
		}
		break;
	}
	}
}

static void do_bo_unmap(void)
{
	u8 b = u8_();
	struct drm_gpuvm_bo *vb = S.held[b % NHELD];
	struct vm_slot *s = NULL;
	struct drm_gpuva_ops *ops;
	struct gpuvm_bind_stats st = { 0 };
	struct before bf;
	int ret;

	for (int i = 0; i < NVM; i++)
		if (vb && S.vms[i].vm == vb->vm)
			s = &S.vms[i];
	if (!s)
		return;
	may_change(s);
	bf = snap(s);
	maybe_fail(b);
	ops = drm_gpuvm_bo_unmap_ops_create(vb);
	disarm();
	if (IS_ERR(ops)) {
		FUZZ_CHECK(PTR_ERR(ops) == -ENOMEM);
		check_unchanged(s, &bf);
		return;
	}
	maybe_fail((u8)(b << 1));
	ret = list_empty(&ops->list) ? 0 : gpuvm_driver_apply(s->vm, ops, NULL, &st);
	disarm();
	drm_gpuva_ops_free(s->vm, ops);
	if (ret) {
		check_errno(ret);
		check_unchanged(s, &bf);
		return;
	}
	FUZZ_CHECK(list_empty(&vb->list.gpuva));
	if (!s->lost) {
		unsigned int j = 0;

		for (unsigned int i = 0; i < s->n; i++)
			if (s->va[i].obj != vb->obj)
				s->va[j++] = s->va[i];
		s->n = j;
	}
}

static void do_va_hand(void)
{
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	u64 a = num(), r = num(), off = num();
	struct drm_gem_object *obj = pick_gem();
	struct drm_gpuva *va;
	struct before bf;
	int err = 1;

	if (!s || !may_change(s))
		return;
	if (b & 1) {
		va = nth_va(s->vm, u8_());
		if (!va)
			return;
		if (!s->lost) {
			unsigned int j = 0;

			for (unsigned int i = 0; i < s->n; i++)
				if (s->va[i].addr != va->va.addr || s->va[i].range != va->va.range)
					s->va[j++] = s->va[i];
			s->n = j;
		}
		gpuvm_driver_va_destroy(va);
		return;
	}
	bf = snap(s);
	maybe_fail(b);
	va = gpuvm_driver_va_insert(s->vm, a, r, obj, off, &err);
	disarm();
	if (!va) {
		check_errno(err);
		check_unchanged(s, &bf);
		if (err == -EINVAL)
			FUZZ_CHECK(!model_range_valid(s->vm, a, r));
		return;
	}
	FUZZ_CHECK(err == 0);
	FUZZ_CHECK(model_range_valid(s->vm, a, r));
	if (!r) {
		s->lost = true;
		return;
	}
	if (!s->lost) {
		for (unsigned int i = 0; i < s->n; i++)
			FUZZ_CHECK(!(s->va[i].addr < a + r && a < s->va[i].addr + s->va[i].range));
		model_insert(s, (struct mva){ a, r, off, obj });
	}
}

/* The callback walks see the same steps as the ops list, and change nothing. */
static void do_walk(void)
{
	static struct step_log log;
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	struct gpuvm_bind_req req;
	struct drm_gpuva_ops *ops;
	const struct drm_gpuvm_ops *saved;
	struct drm_gpuva_op *op;
	int ret;
	unsigned int i = 0;

	decode_req(&req, (b & 1) ? GPUVM_BIND_UNMAP : GPUVM_BIND_MAP);
	S.step_stop = (b & 2) ? u8_() % 8 : ~0UL;
	S.step_ret = (b & 4) ? -EINTR : 1;
	if (!s)
		return;
	ops = gpuvm_driver_ops_create(s->vm, &req);
	if (IS_ERR(ops))
		return;
	log.n = 0;
	S.steps = 0;
	saved = s->vm->ops;
	s->vm->ops = &ops_steps;
	if (req.op == GPUVM_BIND_MAP) {
		struct drm_gpuvm_map_req mr = {
			.map = { .va = { req.addr, req.range }, .gem = { req.offset, req.obj } },
		};

		ret = drm_gpuvm_sm_map(s->vm, &log, &mr);
	} else {
		ret = drm_gpuvm_sm_unmap(s->vm, &log, req.addr, req.range);
	}
	s->vm->ops = saved;
	if (S.step_stop != ~0UL && S.steps > S.step_stop)
		FUZZ_CHECK(ret == S.step_ret);
	else
		FUZZ_CHECK(ret == 0);
	drm_gpuva_for_each_op(op, ops) {
		if (i >= log.n)
			break;
		FUZZ_CHECK(op->op == log.op[i].op);
		switch (op->op) {
		case DRM_GPUVA_OP_MAP:
			FUZZ_CHECK(!memcmp(&op->map, &log.op[i].map, sizeof(op->map)));
			break;
		case DRM_GPUVA_OP_UNMAP:
			FUZZ_CHECK(op->unmap.va == log.op[i].unmap.va &&
				   op->unmap.keep == log.op[i].unmap.keep);
			break;
		case DRM_GPUVA_OP_REMAP:
			FUZZ_CHECK(op->remap.unmap->va == log.op[i].remap.unmap->va);
			FUZZ_CHECK(!op->remap.prev == !log.op[i].remap.prev);
			FUZZ_CHECK(!op->remap.next == !log.op[i].remap.next);
			if (op->remap.prev)
				FUZZ_CHECK(!memcmp(op->remap.prev, log.op[i].remap.prev,
						   sizeof(*op->remap.prev)));
			if (op->remap.next)
				FUZZ_CHECK(!memcmp(op->remap.next, log.op[i].remap.next,
						   sizeof(*op->remap.next)));
			break;
		default:
			FUZZ_CHECK(0);
		}
		i++;
	}
	/* A complete walk has exactly the list's steps. */
	if (!ret)
		FUZZ_CHECK(i == log.n && &op->entry == &ops->list);
	drm_gpuva_ops_free(s->vm, ops);
}

static void do_snapshots(void)
{
	struct drm_gpuvm_bo *out[8];
	u8 b = u8_();
	struct vm_slot *s = pick_vm();
	struct drm_gem_object *obj = S.gem[b % NGEM];
	size_t max = (b >> 4) & 7, n;

	switch ((b >> 3) & 1 ? 2 : (obj ? 0 : 1)) {
	case 0:
		n = gpuvm_driver_gem_vm_bos(obj, out, max);
		break;
	default:
		if (!s)
			return;
		n = (b & 0x80) ? gpuvm_driver_vm_evicted(s->vm, out, max)
			       : gpuvm_driver_vm_extobjs(s->vm, out, max);
		break;
	}
	if (n > max)
		return;
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(kref_read(&out[i]->kref) >= 2);
		gpuvm_driver_bo_put(out[i]);
	}
}

static void do_cleanup(void)
{
	struct vm_slot *s = pick_vm();

	if (s)
		gpuvm_driver_deferred_cleanup(s->vm);
}

/* ------------------------------------------------------------- the loop */

static void teardown(void)
{
	exec_close();
	for (int i = 0; i < NHELD; i++) {
		gpuvm_driver_bo_put(S.held[i]);
		S.held[i] = NULL;
	}
	for (int i = 0; i < NVM; i++) {
		if (S.vms[i].vm)
			gpuvm_driver_vm_release(S.vms[i].vm, NULL);
		S.vms[i].vm = NULL;
	}
	for (int i = 0; i < NGEM; i++) {
		drm_gem_object_put(S.gem[i]);
		S.gem[i] = NULL;
	}
	drm_dev_put(S.drm);
	S.drm = NULL;
}

/* FUZZ_API_TRACE=1 in the environment: one line per call (reading a crash input). */
static void print_step(size_t at, u8 op)
{
	static const char *const names[20] = {
		"vm_init", "vm_put", "gem_create", "gem_put", "map", "unmap", "prefetch/madvise",
		"ops", "batch", "bo_obtain", "bo_put", "evict", "extobj_add", "exec_lock/unlock",
		"fence", "validate", "query", "va_hand/bo_unmap", "walk", "snapshots/cleanup",
	};

	fprintf(stderr, "@%zu %s%s:", at, names[op % 20], (op & 0x80) ? "(2)" : "");
	for (int i = 0; i < NVM; i++)
		if (S.vms[i].vm)
			fprintf(stderr, " vm%d %u VAs%s", i, nvas(S.vms[i].vm),
				S.vms[i].lost ? " (model dropped)" : "");
	fprintf(stderr, "%s\n", S.exec_open ? " exec open" : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int trace = -1;
	long live0 = gpuvm_alloc_live();
	unsigned int steps = 0;

	if (trace < 0)
		trace = getenv("FUZZ_API_TRACE") != NULL;
	memset(&S, 0, sizeof(S));
	S.in = (struct fuzz_input){ data, size };
	S.fence_ctx = dma_fence_context_alloc(1);
	gpuvm_set_warn_hook(on_warn, NULL);
	S.drm = drm_dev_alloc("fuzz");
	FUZZ_CHECK(S.drm);

	while (!fuzz_done(&S.in) && steps++ < MAXSTEPS) {
		u8 op = u8_();
		size_t at = size - S.in.n - 1;

		switch (op % 20) {
		case 0: do_vm_init(); break;
		case 1: do_vm_put(); break;
		case 2: do_gem_create(); break;
		case 3: do_gem_put(); break;
		case 4: do_bind(GPUVM_BIND_MAP); break;
		case 5: do_bind(GPUVM_BIND_UNMAP); break;
		case 6: do_bind((op & 0x80) ? GPUVM_BIND_MADVISE : GPUVM_BIND_PREFETCH); break;
		case 7: do_ops(); break;
		case 8: do_batch(); break;
		case 9: do_bo_obtain(); break;
		case 10: do_bo_put(op & 0x80); break;
		case 11: do_evict(); break;
		case 12: do_extobj_add(); break;
		case 13: if (op & 0x80) exec_close(); else do_exec_lock(); break;
		case 14: do_fence(); break;
		case 15: do_validate(); break;
		case 16: do_query(); break;
		case 17: (op & 0x80) ? do_bo_unmap() : do_va_hand(); break;
		case 18: do_walk(); break;
		default: (op & 0x80) ? do_cleanup() : do_snapshots(); break;
		}
		check_all();
		if (trace)
			print_step(at, op);
	}
	teardown();
	gpuvm_set_warn_hook(NULL, NULL);
	FUZZ_CHECK(S.warns == 0);
	if (gpuvm_alloc_live() != live0)
		fprintf(stderr, "leak: %ld allocations live after teardown\n",
			gpuvm_alloc_live() - live0);
	FUZZ_CHECK(gpuvm_alloc_live() == live0);
	return 0;
}
