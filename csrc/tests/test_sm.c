// SPDX-License-Identifier: MIT
/*
 * Split/merge engine tests (csrc/gpuvm/sm.c): the sm_map case table, the kernel
 * documentation's 15 split/merge drawings, sm_unmap, madvise, prefetch,
 * bo_unmap, validation, zero-sized requests, callback errors, an
 * immediate-mode style driver that edits the tree from inside the walk, and
 * allocation-failure injection for every ops-list builder.
 *
 * Every sm_map/sm_unmap expectation is checked twice, through the driver
 * callbacks and through the ops-list builder, and the VA tree must be
 * unchanged by both (only the "drive" helpers apply steps).
 *
 * Drawings: one column group is one unit P (0x1000) starting at AT(0); "n"
 * and "m" are the GEM offsets N and M, "n+1" is N + P.
 */
#include <stdio.h>
#include <string.h>

#include "drm/drm_gpuvm.h"
#include "linux/slab.h"

#include "harness.h"
#include "gpuvm/sm_internal.h"

#define P 0x1000ull
#define N 0x100000ull
#define M 0x800000ull
#define AT(k) (0x40000ull + (u64)(k) * P)

#define MAX_RECS 64
#define MAX_SNAP 128

/* --------------------------------------------------------------- fixture */

/* A flattened step, comparable after the stack op it came from is gone. */
struct rec {
	enum drm_gpuva_op_type type;
	struct drm_gpuva *va; /* UNMAP/REMAP: the VA removed; PREFETCH: the VA */
	bool keep;
	bool has_prev, has_next;
	struct drm_gpuva_op_map map, prev, next;
};

enum cb_mode {
	CB_RECORD, /* only record the steps */
	CB_DRIVE,  /* record, then apply them to the tree like panthor would */
};

struct fx {
	struct drm_device *drm;
	struct drm_gem_object *r_obj;
	struct drm_gpuvm vm;
	struct drm_gem_object *a; /* private: shares the VM's resv */
	struct drm_gem_object *b; /* external: its own resv */
	long live0;

	enum cb_mode mode;
	struct rec recs[MAX_RECS];
	size_t nrecs;
	long fail_at; /* step index that fails with fail_ret; -1: none */
	int fail_ret;
	unsigned int insert_failed;
};

#define PIECE(a_, r_, o_, f_) \
	{ .va = { .addr = (a_), .range = (r_) }, .gem = { .offset = (f_), .obj = (o_) } }
#define R_MAP(a_, r_, o_, f_) { .type = DRM_GPUVA_OP_MAP, .map = PIECE(a_, r_, o_, f_) }
#define R_UNMAP(va_, k_) { .type = DRM_GPUVA_OP_UNMAP, .va = (va_), .keep = (k_) }
#define R_REMAP_P(va_, k_, p_) \
	{ .type = DRM_GPUVA_OP_REMAP, .va = (va_), .keep = (k_), .has_prev = true, .prev = p_ }
#define R_REMAP_N(va_, k_, n_) \
	{ .type = DRM_GPUVA_OP_REMAP, .va = (va_), .keep = (k_), .has_next = true, .next = n_ }
#define R_REMAP_PN(va_, k_, p_, n_)                                                   \
	{ .type = DRM_GPUVA_OP_REMAP, .va = (va_), .keep = (k_), .has_prev = true,     \
	  .prev = p_, .has_next = true, .next = n_ }
#define R_PREFETCH(va_) { .type = DRM_GPUVA_OP_PREFETCH, .va = (va_) }

#define REQ(a_, r_, o_, f_) { .map = PIECE(a_, r_, o_, f_) }

static void rec_from_op(struct rec *r, const struct drm_gpuva_op *op)
{
	memset(r, 0, sizeof(*r));
	r->type = op->op;
	switch (op->op) {
	case DRM_GPUVA_OP_MAP:
		r->map = op->map;
		break;
	case DRM_GPUVA_OP_REMAP:
		r->va = op->remap.unmap->va;
		r->keep = op->remap.unmap->keep;
		if (op->remap.prev) {
			r->has_prev = true;
			r->prev = *op->remap.prev;
		}
		if (op->remap.next) {
			r->has_next = true;
			r->next = *op->remap.next;
		}
		break;
	case DRM_GPUVA_OP_UNMAP:
		r->va = op->unmap.va;
		r->keep = op->unmap.keep;
		break;
	case DRM_GPUVA_OP_PREFETCH:
		r->va = op->prefetch.va;
		break;
	default:
		break;
	}
}

static size_t ops_to_recs(struct drm_gpuva_ops *ops, struct rec *out, size_t max)
{
	struct drm_gpuva_op *op;
	size_t n = 0;

	drm_gpuva_for_each_op(op, ops) {
		if (n < max)
			rec_from_op(&out[n], op);
		n++;
	}
	return n;
}

static struct drm_gpuva *new_va(void)
{
	struct drm_gpuva *va = kzalloc(sizeof(*va), GFP_KERNEL);

	if (va)
		drm_gpuva_init_lists(va);
	return va;
}

/* Apply one step the way an immediate-mode driver does inside the walk. */
static int drive(struct fx *fx, const struct drm_gpuva_op *op)
{
	switch (op->op) {
	case DRM_GPUVA_OP_MAP: {
		struct drm_gpuva *va = new_va();

		if (!va)
			return -ENOMEM;
		drm_gpuva_map(&fx->vm, va, &op->map);
		if (!va->vm) {
			fx->insert_failed++;
			kfree(va);
		}
		return 0;
	}
	case DRM_GPUVA_OP_REMAP: {
		struct drm_gpuva *old = op->remap.unmap->va;
		struct drm_gpuva *prev = NULL, *next = NULL;

		if (op->remap.prev && !(prev = new_va()))
			return -ENOMEM;
		if (op->remap.next && !(next = new_va())) {
			kfree(prev);
			return -ENOMEM;
		}
		drm_gpuva_remap(prev, next, &op->remap);
		if (prev && !prev->vm) {
			fx->insert_failed++;
			kfree(prev);
		}
		if (next && !next->vm) {
			fx->insert_failed++;
			kfree(next);
		}
		kfree(old);
		return 0;
	}
	case DRM_GPUVA_OP_UNMAP:
		drm_gpuva_unmap(&op->unmap);
		kfree(op->unmap.va);
		return 0;
	default:
		return -EINVAL;
	}
}

static int step(struct drm_gpuva_op *op, void *priv)
{
	struct fx *fx = priv;

	if (fx->fail_at >= 0 && fx->nrecs == (size_t)fx->fail_at)
		return fx->fail_ret;
	if (fx->nrecs >= MAX_RECS)
		return -E2BIG;
	rec_from_op(&fx->recs[fx->nrecs++], op);
	return fx->mode == CB_DRIVE ? drive(fx, op) : 0;
}

static void vm_free_embedded(struct drm_gpuvm *gpuvm)
{
	/* The VM is embedded in the fixture; nothing to free. */
	GPUVM_UNUSED(gpuvm);
}

static const struct drm_gpuvm_ops cb_ops = {
	.vm_free = vm_free_embedded,
	.sm_step_map = step,
	.sm_step_remap = step,
	.sm_step_unmap = step,
};

/* A driver op allocator: ops embedded in a bigger driver structure. */
#define DRV_OP_MAGIC 0x6f70616c6c6f63ull
struct drv_op {
	u64 magic;
	struct drm_gpuva_op op;
	u64 driver_data;
};

static struct drm_gpuva_op *drv_op_alloc(void)
{
	struct drv_op *d = kzalloc(sizeof(*d), GFP_KERNEL);

	if (!d)
		return NULL;
	d->magic = DRV_OP_MAGIC;
	return &d->op;
}

static void drv_op_free(struct drm_gpuva_op *op)
{
	struct drv_op *d = container_of(op, struct drv_op, op);

	/* Only memory from drv_op_alloc may come back here. */
	GPUVM_BUG_ON(d->magic != DRV_OP_MAGIC);
	kfree(d);
}

static const struct drm_gpuvm_ops op_alloc_ops = {
	.vm_free = vm_free_embedded,
	.op_alloc = drv_op_alloc,
	.op_free = drv_op_free,
	.sm_step_map = step,
	.sm_step_remap = step,
	.sm_step_unmap = step,
};

static bool fx_init_flags(struct fx *fx, const struct drm_gpuvm_ops *ops,
			  enum drm_gpuvm_flags flags, u64 start, u64 range, u64 roff,
			  u64 rrange)
{
	memset(fx, 0, sizeof(*fx));
	fx->live0 = gpuvm_alloc_live();
	fx->fail_at = -1;
	fx->drm = drm_dev_alloc("test_sm");
	ASSERT_NONNULL(fx->drm);
	fx->r_obj = drm_gpuvm_resv_object_alloc(fx->drm);
	ASSERT_NONNULL(fx->r_obj);
	drm_gpuvm_init(&fx->vm, "test_sm", flags, fx->drm, fx->r_obj, start, range, roff,
		       rrange, ops);
	fx->a = drm_gem_object_create(fx->drm, 1 << 24, fx->r_obj);
	ASSERT_NONNULL(fx->a);
	fx->b = drm_gem_object_create(fx->drm, 1 << 24, NULL);
	ASSERT_NONNULL(fx->b);
	return true;
}

static bool fx_init(struct fx *fx, const struct drm_gpuvm_ops *ops, u64 start, u64 range,
		    u64 roff, u64 rrange)
{
	return fx_init_flags(fx, ops, 0, start, range, roff, rrange);
}

/* The default window: [0, 4 GiB), no reserved node. */
static bool fx_init_default(struct fx *fx)
{
	return fx_init(fx, &cb_ops, 0, 1ull << 32, 0, 0);
}

static bool fx_fini(struct fx *fx)
{
	struct drm_gpuva *va, *next;

	drm_gpuvm_for_each_va_safe(va, next, &fx->vm) {
		if (va == &fx->vm.kernel_alloc_node)
			continue;
		ASSERT_NULL(va->vm_bo);
		drm_gpuva_remove(va);
		kfree(va);
	}
	drm_gpuvm_put(&fx->vm);
	drm_gem_object_put(fx->a);
	drm_gem_object_put(fx->b);
	drm_gem_object_put(fx->r_obj);
	drm_dev_put(fx->drm);
	ASSERT_EQ(gpuvm_alloc_live(), fx->live0);
	return true;
}

static struct drm_gpuva *add_va(struct fx *fx, u64 addr, u64 range, struct drm_gem_object *obj,
				u64 offset)
{
	struct drm_gpuva *va = new_va();

	if (!va)
		return NULL;
	va->va.addr = addr;
	va->va.range = range;
	va->gem.obj = obj;
	va->gem.offset = offset;
	if (drm_gpuva_insert(&fx->vm, va)) {
		fprintf(stderr, "add_va(0x%llx, 0x%llx) failed\n", (unsigned long long)addr,
			(unsigned long long)range);
		kfree(va);
		return NULL;
	}
	return va;
}

/* ------------------------------------------------------- comparing steps */

static const char *obj_name(const struct fx *fx, const struct drm_gem_object *obj)
{
	if (!obj)
		return "-";
	if (obj == fx->a)
		return "a";
	if (obj == fx->b)
		return "b";
	return "?";
}

static void dump_piece(const struct fx *fx, const char *what, bool has,
		       const struct drm_gpuva_op_map *p)
{
	if (!has) {
		fprintf(stderr, " %s=-", what);
		return;
	}
	fprintf(stderr, " %s=0x%llx,0x%llx,%s,0x%llx", what, (unsigned long long)p->va.addr,
		(unsigned long long)p->va.range, obj_name(fx, p->gem.obj),
		(unsigned long long)p->gem.offset);
}

static void dump_recs(const struct fx *fx, const char *what, const struct rec *r, size_t n)
{
	fprintf(stderr, "  %s: %zu op(s)\n", what, n);
	for (size_t i = 0; i < n; i++) {
		const struct drm_gpuva *va = r[i].va;

		fprintf(stderr, "    ");
		switch (r[i].type) {
		case DRM_GPUVA_OP_MAP:
			fprintf(stderr, "map");
			dump_piece(fx, "req", true, &r[i].map);
			break;
		case DRM_GPUVA_OP_REMAP:
			fprintf(stderr, "remap va=%p keep=%d", (const void *)va, r[i].keep);
			dump_piece(fx, "prev", r[i].has_prev, &r[i].prev);
			dump_piece(fx, "next", r[i].has_next, &r[i].next);
			break;
		case DRM_GPUVA_OP_UNMAP:
			fprintf(stderr, "unmap va=%p keep=%d", (const void *)va, r[i].keep);
			break;
		case DRM_GPUVA_OP_PREFETCH:
			fprintf(stderr, "prefetch va=%p", (const void *)va);
			break;
		default:
			fprintf(stderr, "op %d", (int)r[i].type);
			break;
		}
		fprintf(stderr, "\n");
	}
}

static bool piece_eq(const struct drm_gpuva_op_map *x, const struct drm_gpuva_op_map *y)
{
	return x->va.addr == y->va.addr && x->va.range == y->va.range &&
	       x->gem.obj == y->gem.obj && x->gem.offset == y->gem.offset;
}

static bool rec_eq(const struct rec *x, const struct rec *y)
{
	if (x->type != y->type)
		return false;
	switch (x->type) {
	case DRM_GPUVA_OP_MAP:
		return piece_eq(&x->map, &y->map);
	case DRM_GPUVA_OP_REMAP:
		return x->va == y->va && x->keep == y->keep && x->has_prev == y->has_prev &&
		       x->has_next == y->has_next &&
		       (!x->has_prev || piece_eq(&x->prev, &y->prev)) &&
		       (!x->has_next || piece_eq(&x->next, &y->next));
	case DRM_GPUVA_OP_UNMAP:
		return x->va == y->va && x->keep == y->keep;
	case DRM_GPUVA_OP_PREFETCH:
		return x->va == y->va;
	default:
		return false;
	}
}

static bool recs_match(const struct fx *fx, const char *what, const struct rec *got, size_t ngot,
		       const struct rec *exp, size_t nexp)
{
	bool ok = ngot == nexp;

	for (size_t i = 0; ok && i < ngot; i++)
		ok = rec_eq(&got[i], &exp[i]);
	if (!ok) {
		fprintf(stderr, "%s: op sequence mismatch\n", what);
		dump_recs(fx, "expected", exp, nexp);
		dump_recs(fx, "got", got, ngot);
	}
	return ok;
}

/* The VA tree (reserved node included) as comparable values. */
struct snap {
	size_t n;
	struct {
		const struct drm_gpuva *va;
		u64 addr, range, offset;
		const struct drm_gem_object *obj;
	} e[MAX_SNAP];
};

static void take_snap(struct fx *fx, struct snap *s)
{
	struct drm_gpuva *va;

	s->n = 0;
	drm_gpuvm_for_each_va(va, &fx->vm) {
		if (s->n == MAX_SNAP)
			break;
		s->e[s->n].va = va;
		s->e[s->n].addr = va->va.addr;
		s->e[s->n].range = va->va.range;
		s->e[s->n].offset = va->gem.offset;
		s->e[s->n].obj = va->gem.obj;
		s->n++;
	}
}

static bool snap_same(const struct snap *x, const struct snap *y)
{
	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		if (x->e[i].va != y->e[i].va || x->e[i].addr != y->e[i].addr ||
		    x->e[i].range != y->e[i].range || x->e[i].offset != y->e[i].offset ||
		    x->e[i].obj != y->e[i].obj)
			return false;
	}
	return true;
}

static bool vm_unchanged(struct fx *fx, const struct snap *before)
{
	struct snap now;

	take_snap(fx, &now);
	return snap_same(before, &now);
}

/* The VAs in tree order (reserved node skipped) must be exactly @exp. */
static bool expect_layout(struct fx *fx, const struct drm_gpuva_op_map *exp, size_t nexp)
{
	struct drm_gpuva *va;
	size_t i = 0;
	bool ok = true;

	drm_gpuvm_for_each_va(va, &fx->vm) {
		struct drm_gpuva_op_map got = PIECE(va->va.addr, va->va.range, va->gem.obj,
						    va->gem.offset);

		if (va == &fx->vm.kernel_alloc_node)
			continue;
		if (i >= nexp || !piece_eq(&got, &exp[i]))
			ok = false;
		i++;
	}
	if (ok && i == nexp)
		return true;

	fprintf(stderr, "layout mismatch; expected:\n");
	for (i = 0; i < nexp; i++) {
		dump_piece(fx, "va", true, &exp[i]);
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "got:\n");
	drm_gpuvm_for_each_va(va, &fx->vm) {
		struct drm_gpuva_op_map got = PIECE(va->va.addr, va->va.range, va->gem.obj,
						    va->gem.offset);

		if (va == &fx->vm.kernel_alloc_node)
			continue;
		dump_piece(fx, "va", true, &got);
		fprintf(stderr, "\n");
	}
	return false;
}

/* sm_map through callbacks and through the ops list; the VM must not change. */
static bool expect_map(struct fx *fx, u64 addr, u64 range, struct drm_gem_object *obj,
		       u64 offset, const struct rec *exp, size_t nexp)
{
	const struct drm_gpuvm_map_req req = REQ(addr, range, obj, offset);
	struct rec got[MAX_RECS];
	struct drm_gpuva_ops *ops;
	struct snap before;
	size_t ngot;

	take_snap(fx, &before);

	fx->mode = CB_RECORD;
	fx->nrecs = 0;
	ASSERT_EQ(drm_gpuvm_sm_map(&fx->vm, fx, &req), 0);
	ASSERT_TRUE(recs_match(fx, "drm_gpuvm_sm_map", fx->recs, fx->nrecs, exp, nexp));

	ops = drm_gpuvm_sm_map_ops_create(&fx->vm, &req);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ngot = ops_to_recs(ops, got, MAX_RECS);
	drm_gpuva_ops_free(&fx->vm, ops);
	ASSERT_TRUE(recs_match(fx, "drm_gpuvm_sm_map_ops_create", got, ngot, exp, nexp));

	ASSERT_TRUE(vm_unchanged(fx, &before));
	return true;
}

static bool expect_unmap(struct fx *fx, u64 addr, u64 range, const struct rec *exp, size_t nexp)
{
	struct rec got[MAX_RECS];
	struct drm_gpuva_ops *ops;
	struct snap before;
	size_t ngot;

	take_snap(fx, &before);

	fx->mode = CB_RECORD;
	fx->nrecs = 0;
	ASSERT_EQ(drm_gpuvm_sm_unmap(&fx->vm, fx, addr, range), 0);
	ASSERT_TRUE(recs_match(fx, "drm_gpuvm_sm_unmap", fx->recs, fx->nrecs, exp, nexp));

	ops = drm_gpuvm_sm_unmap_ops_create(&fx->vm, addr, range);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ngot = ops_to_recs(ops, got, MAX_RECS);
	drm_gpuva_ops_free(&fx->vm, ops);
	ASSERT_TRUE(recs_match(fx, "drm_gpuvm_sm_unmap_ops_create", got, ngot, exp, nexp));

	ASSERT_TRUE(vm_unchanged(fx, &before));
	return true;
}

static bool expect_madvise(struct fx *fx, u64 addr, u64 range, struct drm_gem_object *obj,
			   u64 offset, const struct rec *exp, size_t nexp)
{
	const struct drm_gpuvm_map_req req = REQ(addr, range, obj, offset);
	struct rec got[MAX_RECS];
	struct drm_gpuva_ops *ops;
	struct snap before;
	size_t ngot;

	take_snap(fx, &before);
	ops = drm_gpuvm_madvise_ops_create(&fx->vm, &req);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ngot = ops_to_recs(ops, got, MAX_RECS);
	drm_gpuva_ops_free(&fx->vm, ops);
	ASSERT_TRUE(recs_match(fx, "drm_gpuvm_madvise_ops_create", got, ngot, exp, nexp));
	ASSERT_TRUE(vm_unchanged(fx, &before));
	return true;
}

/*
 * Run sm_map with the immediate-mode style driver: the callbacks remove the
 * current VA and insert the pieces while the walk goes on. The steps seen
 * must still be @exp (computed on the untouched tree) and the result @new.
 */
static bool drive_map(struct fx *fx, u64 addr, u64 range, struct drm_gem_object *obj,
		      u64 offset, const struct rec *exp, size_t nexp,
		      const struct drm_gpuva_op_map *new, size_t nnew)
{
	const struct drm_gpuvm_map_req req = REQ(addr, range, obj, offset);

	fx->mode = CB_DRIVE;
	fx->nrecs = 0;
	fx->insert_failed = 0;
	ASSERT_EQ(drm_gpuvm_sm_map(&fx->vm, fx, &req), 0);
	ASSERT_TRUE(recs_match(fx, "drm_gpuvm_sm_map (driving)", fx->recs, fx->nrecs, exp,
			       nexp));
	ASSERT_EQ(fx->insert_failed, 0);
	ASSERT_TRUE(expect_layout(fx, new, nnew));
	return true;
}

static bool drive_unmap(struct fx *fx, u64 addr, u64 range, const struct drm_gpuva_op_map *new,
			size_t nnew)
{
	fx->mode = CB_DRIVE;
	fx->nrecs = 0;
	fx->insert_failed = 0;
	ASSERT_EQ(drm_gpuvm_sm_unmap(&fx->vm, fx, addr, range), 0);
	ASSERT_EQ(fx->insert_failed, 0);
	ASSERT_TRUE(expect_layout(fx, new, nnew));
	return true;
}

/* Check the steps, then apply them and check the resulting layout. */
#define DOC_CASE(fx_, A_, R_, O_, F_, exp_, new_)                                          \
	do {                                                                               \
		ASSERT_TRUE(expect_map(fx_, A_, R_, O_, F_, exp_, ARRAY_SIZE(exp_)));      \
		ASSERT_TRUE(drive_map(fx_, A_, R_, O_, F_, exp_, ARRAY_SIZE(exp_), new_,   \
				      ARRAY_SIZE(new_)));                                  \
	} while (0)

/* ------------------------------------- "DOC: Split and Merge", 15 drawings */

/*
 * 1) Same range, same GEM, same offset: the old VA goes (its PTEs may be
 *    kept) and the request is mapped again; never an empty sequence.
 *
 *	     0     a     1
 *	old: |-----------| (bo_offset=n)
 *
 *	     0     a     1
 *	req: |-----------| (bo_offset=n)
 *
 *	     0     a     1
 *	new: |-----------| (bo_offset=n)
 */
static bool test_doc_case_1(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), P, fx.a, N));
	const struct rec exp[] = { R_UNMAP(va, true), R_MAP(AT(0), P, fx.a, N) };
	const struct drm_gpuva_op_map new[] = { PIECE(AT(0), P, fx.a, N) };

	DOC_CASE(&fx, AT(0), P, fx.a, N, exp, new);
	return fx_fini(&fx);
}

/*
 * 2) Same range and GEM, other offset: replaced, nothing to keep.
 *
 *	     0     a     1
 *	old: |-----------| (bo_offset=n)
 *
 *	     0     a     1
 *	req: |-----------| (bo_offset=m)
 *
 *	     0     a     1
 *	new: |-----------| (bo_offset=m)
 */
static bool test_doc_case_2(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), P, fx.a, N));
	const struct rec exp[] = { R_UNMAP(va, false), R_MAP(AT(0), P, fx.a, M) };
	const struct drm_gpuva_op_map new[] = { PIECE(AT(0), P, fx.a, M) };

	DOC_CASE(&fx, AT(0), P, fx.a, M, exp, new);
	return fx_fini(&fx);
}

/*
 * 3) Same range and offset, other GEM: replaced, nothing to keep.
 *
 *	     0     a     1
 *	old: |-----------| (bo_offset=n)
 *
 *	     0     b     1
 *	req: |-----------| (bo_offset=n)
 *
 *	     0     b     1
 *	new: |-----------| (bo_offset=n)
 */
static bool test_doc_case_3(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), P, fx.a, N));
	const struct rec exp[] = { R_UNMAP(va, false), R_MAP(AT(0), P, fx.b, N) };
	const struct drm_gpuva_op_map new[] = { PIECE(AT(0), P, fx.b, N) };

	DOC_CASE(&fx, AT(0), P, fx.b, N, exp, new);
	return fx_fini(&fx);
}

/*
 * 4) The old VA is the left-aligned head of the request: unmapped (keep, as
 *    GEM and offset line up) and the whole request mapped. Another GEM or a
 *    non-contiguous offset gives the same shape with keep=0.
 *
 *	     0  a  1
 *	old: |-----|       (bo_offset=n)
 *
 *	     0     a     2
 *	req: |-----------| (bo_offset=n)
 *
 *	     0     a     2
 *	new: |-----------| (bo_offset=n)
 */
static bool test_doc_case_4(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), P, fx.a, N));
	{
		const struct rec other_bo[] = { R_UNMAP(va, false), R_MAP(AT(0), 2 * P, fx.b, N) };
		const struct rec other_off[] = { R_UNMAP(va, false),
						 R_MAP(AT(0), 2 * P, fx.a, M) };

		ASSERT_TRUE(expect_map(&fx, AT(0), 2 * P, fx.b, N, other_bo,
				       ARRAY_SIZE(other_bo)));
		ASSERT_TRUE(expect_map(&fx, AT(0), 2 * P, fx.a, M, other_off,
				       ARRAY_SIZE(other_off)));
	}
	const struct rec exp[] = { R_UNMAP(va, true), R_MAP(AT(0), 2 * P, fx.a, N) };
	const struct drm_gpuva_op_map new[] = { PIECE(AT(0), 2 * P, fx.a, N) };

	DOC_CASE(&fx, AT(0), 2 * P, fx.a, N, exp, new);
	return fx_fini(&fx);
}

/*
 * 5) The request covers the left part of the old VA with another GEM: the old
 *    VA is remapped to its right part (offset advanced), the request mapped.
 *
 *	     0     a     2
 *	old: |-----------| (bo_offset=n)
 *
 *	     0  b  1
 *	req: |-----|       (bo_offset=n)
 *
 *	     0  b  1  a' 2
 *	new: |-----|-----| (b.bo_offset=n, a.bo_offset=n+1)
 */
static bool test_doc_case_5(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 2 * P, fx.a, N));
	{
		/* Same GEM but a non-contiguous offset: same shape, keep=0. */
		const struct rec other_off[] = {
			R_REMAP_N(va, false, PIECE(AT(1), P, fx.a, N + P)),
			R_MAP(AT(0), P, fx.a, M),
		};

		ASSERT_TRUE(expect_map(&fx, AT(0), P, fx.a, M, other_off,
				       ARRAY_SIZE(other_off)));
	}
	const struct rec exp[] = {
		R_REMAP_N(va, false, PIECE(AT(1), P, fx.a, N + P)),
		R_MAP(AT(0), P, fx.b, N),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.b, N),
		PIECE(AT(1), P, fx.a, N + P),
	};

	DOC_CASE(&fx, AT(0), P, fx.b, N, exp, new);
	return fx_fini(&fx);
}

/*
 * 6) The request is the left part of the old VA, same GEM, same offset: split
 *    with keep=1.
 *
 *	     0     a     2
 *	old: |-----------| (bo_offset=n)
 *
 *	     0  a  1
 *	req: |-----|       (bo_offset=n)
 *
 *	     0  a  1  a' 2
 *	new: |-----|-----| (a.bo_offset=n, a'.bo_offset=n+1)
 */
static bool test_doc_case_6(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 2 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_N(va, true, PIECE(AT(1), P, fx.a, N + P)),
		R_MAP(AT(0), P, fx.a, N),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.a, N),
		PIECE(AT(1), P, fx.a, N + P),
	};

	DOC_CASE(&fx, AT(0), P, fx.a, N, exp, new);
	return fx_fini(&fx);
}

/*
 * 7) The request covers the right part of the old VA with another GEM: the
 *    old VA keeps its left part, offset unchanged.
 *
 *	     0     a     2
 *	old: |-----------| (bo_offset=n)
 *
 *	           1  b  2
 *	req:       |-----| (bo_offset=m)
 *
 *	     0  a  1  b  2
 *	new: |-----|-----| (a.bo_offset=n,b.bo_offset=m)
 */
static bool test_doc_case_7(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 2 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_P(va, false, PIECE(AT(0), P, fx.a, N)),
		R_MAP(AT(1), P, fx.b, M),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.a, N),
		PIECE(AT(1), P, fx.b, M),
	};

	DOC_CASE(&fx, AT(1), P, fx.b, M, exp, new);
	return fx_fini(&fx);
}

/*
 * 8) The request is the right part of the old VA, same GEM, contiguous
 *    offset: split with keep=1.
 *
 *	     0     a     2
 *	old: |-----------| (bo_offset=n)
 *
 *	           1  a  2
 *	req:       |-----| (bo_offset=n+1)
 *
 *	     0  a' 1  a  2
 *	new: |-----|-----| (a'.bo_offset=n, a.bo_offset=n+1)
 */
static bool test_doc_case_8(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 2 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_P(va, true, PIECE(AT(0), P, fx.a, N)),
		R_MAP(AT(1), P, fx.a, N + P),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.a, N),
		PIECE(AT(1), P, fx.a, N + P),
	};

	DOC_CASE(&fx, AT(1), P, fx.a, N + P, exp, new);
	return fx_fini(&fx);
}

/*
 * 9) The request overlaps the end of the old VA and goes beyond, other GEM:
 *    the old VA keeps its left part.
 *
 *	     0     a     2
 *	old: |-----------|       (bo_offset=n)
 *
 *	           1     b     3
 *	req:       |-----------| (bo_offset=m)
 *
 *	     0  a  1     b     3
 *	new: |-----|-----------| (a.bo_offset=n,b.bo_offset=m)
 */
static bool test_doc_case_9(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 2 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_P(va, false, PIECE(AT(0), P, fx.a, N)),
		R_MAP(AT(1), 2 * P, fx.b, M),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.a, N),
		PIECE(AT(1), 2 * P, fx.b, M),
	};

	DOC_CASE(&fx, AT(1), 2 * P, fx.b, M, exp, new);
	return fx_fini(&fx);
}

/*
 * 10) As 9) but same GEM and contiguous offset: keep=1 (no merging; the
 *     left part stays a separate VA).
 *
 *	      0     a     2
 *	 old: |-----------|       (bo_offset=n)
 *
 *	            1     a     3
 *	 req:       |-----------| (bo_offset=n+1)
 *
 *	      0  a' 1     a     3
 *	 new: |-----|-----------| (a'.bo_offset=n, a.bo_offset=n+1)
 */
static bool test_doc_case_10(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 2 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_P(va, true, PIECE(AT(0), P, fx.a, N)),
		R_MAP(AT(1), 2 * P, fx.a, N + P),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.a, N),
		PIECE(AT(1), 2 * P, fx.a, N + P),
	};

	DOC_CASE(&fx, AT(1), 2 * P, fx.a, N + P, exp, new);
	return fx_fini(&fx);
}

/*
 * 11) The request sits strictly inside the old VA, other GEM: one REMAP with
 *     both pieces, the right one's offset advanced past the hole.
 *
 *	      0        a        3
 *	 old: |-----------------| (bo_offset=n)
 *
 *	            1  b  2
 *	 req:       |-----|       (bo_offset=m)
 *
 *	      0  a  1  b  2  a' 3
 *	 new: |-----|-----|-----| (a.bo_offset=n,b.bo_offset=m,a'.bo_offset=n+2)
 */
static bool test_doc_case_11(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 3 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_PN(va, false, PIECE(AT(0), P, fx.a, N), PIECE(AT(2), P, fx.a, N + 2 * P)),
		R_MAP(AT(1), P, fx.b, M),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.a, N),
		PIECE(AT(1), P, fx.b, M),
		PIECE(AT(2), P, fx.a, N + 2 * P),
	};

	DOC_CASE(&fx, AT(1), P, fx.b, M, exp, new);
	return fx_fini(&fx);
}

/*
 * 12) As 11) but same GEM and contiguous offset: three VAs, keep=1.
 *
 *	      0        a        3
 *	 old: |-----------------| (bo_offset=n)
 *
 *	            1  a  2
 *	 req:       |-----|       (bo_offset=n+1)
 *
 *	      0  a' 1  a  2 a'' 3
 *	 new: |-----|-----|-----| (a'.bo_offset=n, a.bo_offset=n+1, a''.bo_offset=n+2)
 */
static bool test_doc_case_12(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 3 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_PN(va, true, PIECE(AT(0), P, fx.a, N), PIECE(AT(2), P, fx.a, N + 2 * P)),
		R_MAP(AT(1), P, fx.a, N + P),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.a, N),
		PIECE(AT(1), P, fx.a, N + P),
		PIECE(AT(2), P, fx.a, N + 2 * P),
	};

	DOC_CASE(&fx, AT(1), P, fx.a, N + P, exp, new);
	return fx_fini(&fx);
}

/*
 * 13) The old VA is the right-aligned tail of the request: unmapped (keep,
 *     offsets line up), whole request mapped; other GEM/offset: keep=0.
 *
 *	            1  a  2
 *	 old:       |-----| (bo_offset=n+1)
 *
 *	      0     a     2
 *	 req: |-----------| (bo_offset=n)
 *
 *	      0     a     2
 *	 new: |-----------| (bo_offset=n)
 */
static bool test_doc_case_13(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(1), P, fx.a, N + P));
	{
		const struct rec other_bo[] = { R_UNMAP(va, false), R_MAP(AT(0), 2 * P, fx.b, N) };
		const struct rec other_off[] = { R_UNMAP(va, false),
						 R_MAP(AT(0), 2 * P, fx.a, N + P) };

		ASSERT_TRUE(expect_map(&fx, AT(0), 2 * P, fx.b, N, other_bo,
				       ARRAY_SIZE(other_bo)));
		ASSERT_TRUE(expect_map(&fx, AT(0), 2 * P, fx.a, N + P, other_off,
				       ARRAY_SIZE(other_off)));
	}
	const struct rec exp[] = { R_UNMAP(va, true), R_MAP(AT(0), 2 * P, fx.a, N) };
	const struct drm_gpuva_op_map new[] = { PIECE(AT(0), 2 * P, fx.a, N) };

	DOC_CASE(&fx, AT(0), 2 * P, fx.a, N, exp, new);
	return fx_fini(&fx);
}

/*
 * 14) The old VA sits strictly inside the request: unmapped (keep, offsets
 *     line up), request mapped; other GEM/offset: keep=0.
 *
 *	            1  a  2
 *	 old:       |-----|       (bo_offset=n+1)
 *
 *	      0        a        3
 *	 req: |-----------------| (bo_offset=n)
 *
 *	      0        a        3
 *	 new: |-----------------| (bo_offset=n)
 */
static bool test_doc_case_14(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(1), P, fx.a, N + P));
	{
		const struct rec other_bo[] = { R_UNMAP(va, false), R_MAP(AT(0), 3 * P, fx.b, N) };
		const struct rec other_off[] = { R_UNMAP(va, false),
						 R_MAP(AT(0), 3 * P, fx.a, M) };

		ASSERT_TRUE(expect_map(&fx, AT(0), 3 * P, fx.b, N, other_bo,
				       ARRAY_SIZE(other_bo)));
		ASSERT_TRUE(expect_map(&fx, AT(0), 3 * P, fx.a, M, other_off,
				       ARRAY_SIZE(other_off)));
	}
	const struct rec exp[] = { R_UNMAP(va, true), R_MAP(AT(0), 3 * P, fx.a, N) };
	const struct drm_gpuva_op_map new[] = { PIECE(AT(0), 3 * P, fx.a, N) };

	DOC_CASE(&fx, AT(0), 3 * P, fx.a, N, exp, new);
	return fx_fini(&fx);
}

/*
 * 15) The request overlaps the start of the old VA from the left, other GEM:
 *     the old VA keeps its right part with the offset advanced by E - a.
 *     (The kernel's drawing labels that offset n+2; the computation it
 *     documents, and performs, gives n + (2 - 1) = n+1.)
 *
 *	            1     a     3
 *	 old:       |-----------| (bo_offset=n)
 *
 *	      0     b     2
 *	 req: |-----------|       (bo_offset=m)
 *
 *	      0     b     2  a' 3
 *	 new: |-----------|-----| (b.bo_offset=m,a.bo_offset=n+1)
 */
static bool test_doc_case_15(void)
{
	struct fx fx;
	struct drm_gpuva *va;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(1), 2 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_N(va, false, PIECE(AT(2), P, fx.a, N + P)),
		R_MAP(AT(0), 2 * P, fx.b, M),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), 2 * P, fx.b, M),
		PIECE(AT(2), P, fx.a, N + P),
	};

	DOC_CASE(&fx, AT(0), 2 * P, fx.b, M, exp, new);
	return fx_fini(&fx);
}

/* -------------------------------------------------- the sm_map case table */

/*
 * One row per (position, end) pair. In page units: the existing VA [a, a+r)
 * at offset N, the request [A, A+R). Rows that continue get a follower VA
 * [a+r, A+R+1) (GEM b, offset M) that must be visited next; rows that stop
 * are run a second time with a zero-sized VA inserted at the same start
 * after the main one: it comes next in address order and would be visited
 * (and split) if the walk did not stop.
 *
 *	e.g. "a < A, e > E":     2     4     6     8
 *	                   old:  |-----------------|   (offset n)
 *	                   req:        |-----|         (offset n+2: keep)
 *	                   ->    prev [2,4) n, next [6,8) n+4
 */
struct sm_row {
	const char *name;
	u64 a, r, A, R;
	bool cont;
	enum drm_gpuva_op_type type;
	bool has_prev;
	bool has_next;
	u64 next_adv; /* next piece's offset = N + next_adv pages */
};

static const struct sm_row sm_rows[] = {
	{ "a == A, e == E", 4, 4, 4, 4, false, DRM_GPUVA_OP_UNMAP, false, false, 0 },
	{ "a == A, e <  E", 4, 2, 4, 4, true, DRM_GPUVA_OP_UNMAP, false, false, 0 },
	{ "a == A, e >  E", 4, 4, 4, 2, false, DRM_GPUVA_OP_REMAP, false, true, 2 },
	{ "a <  A, e == E", 2, 6, 4, 4, false, DRM_GPUVA_OP_REMAP, true, false, 0 },
	{ "a <  A, e <  E", 2, 4, 4, 4, true, DRM_GPUVA_OP_REMAP, true, false, 0 },
	{ "a <  A, e >  E", 2, 6, 4, 2, false, DRM_GPUVA_OP_REMAP, true, true, 4 },
	{ "a >  A, e == E", 6, 2, 4, 4, false, DRM_GPUVA_OP_UNMAP, false, false, 0 },
	{ "a >  A, e <  E", 5, 1, 4, 4, true, DRM_GPUVA_OP_UNMAP, false, false, 0 },
	{ "a >  A, e >  E", 6, 4, 4, 4, false, DRM_GPUVA_OP_REMAP, false, true, 2 },
};

enum row_variant {
	V_KEEP,     /* same GEM, offset lines up: keep=1 */
	V_OTHER_BO, /* request with the other GEM */
	V_OFFSET,   /* same GEM, offset off by one page */
	V_NO_GEM,   /* GEM-less VA and request, offsets line up: still keep=0 */
	V_COUNT,
};

static bool run_sm_row(const struct sm_row *row, enum row_variant v, bool zero_va)
{
	const u64 a = AT(row->a), e = AT(row->a + row->r);
	const u64 A = AT(row->A), R = row->R * P, E = A + R;
	struct drm_gem_object *va_obj, *req_obj;
	struct drm_gpuva *va, *follower = NULL;
	struct rec exp[3];
	size_t n = 0;
	struct fx fx;
	u64 F;

	ASSERT_TRUE(fx_init_default(&fx));
	va_obj = v == V_NO_GEM ? NULL : fx.a;
	req_obj = v == V_NO_GEM ? NULL : v == V_OTHER_BO ? fx.b : fx.a;
	/* The request offset that lines up with the VA's: f + A == F + a. */
	F = N + A - a + (v == V_OFFSET ? P : 0);

	ASSERT_NONNULL(va = add_va(&fx, a, e - a, va_obj, N));
	if (row->cont)
		ASSERT_NONNULL(follower = add_va(&fx, e, E + P - e, fx.b, M));
	if (zero_va)
		ASSERT_NONNULL(add_va(&fx, a, 0, NULL, 0));

	memset(exp, 0, sizeof(exp));
	exp[n].type = row->type;
	exp[n].va = va;
	exp[n].keep = v == V_KEEP;
	exp[n].has_prev = row->has_prev;
	exp[n].prev = (struct drm_gpuva_op_map)PIECE(a, A - a, va_obj, N);
	exp[n].has_next = row->has_next;
	exp[n].next = (struct drm_gpuva_op_map)PIECE(E, e - E, va_obj, N + row->next_adv * P);
	n++;
	if (follower) {
		exp[n] = (struct rec)R_REMAP_N(follower, false,
					       PIECE(E, P, fx.b, M + (E - e)));
		n++;
	}
	exp[n] = (struct rec)R_MAP(A, R, req_obj, F);
	n++;

	if (!expect_map(&fx, A, R, req_obj, F, exp, n)) {
		fprintf(stderr, "row \"%s\", variant %d, zero_va %d\n", row->name, (int)v,
			zero_va);
		return false;
	}
	return fx_fini(&fx);
}

static bool test_sm_map_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(sm_rows); i++) {
		for (int v = 0; v < V_COUNT; v++) {
			ASSERT_TRUE(run_sm_row(&sm_rows[i], (enum row_variant)v, false));
			if (!sm_rows[i].cont)
				ASSERT_TRUE(run_sm_row(&sm_rows[i], (enum row_variant)v, true));
		}
	}
	return true;
}

/*
 * A request over several VAs with partial overlaps at both ends:
 *
 *	     0     1     2     3     4     5     6
 *	old: |-----va0---|-va1-|-va2-|----va3----|
 *	req:       |-----------------------|
 *	->   REMAP(va0: prev [0,1)), UNMAP va1, UNMAP va2, REMAP(va3: next [5,6)), MAP
 *
 * also applied through the immediate-mode style driver.
 */
static bool test_sm_map_spanning(void)
{
	struct drm_gpuva *va0, *va1, *va2, *va3;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va0 = add_va(&fx, AT(0), 2 * P, fx.a, N));
	ASSERT_NONNULL(va1 = add_va(&fx, AT(2), P, fx.b, M));
	ASSERT_NONNULL(va2 = add_va(&fx, AT(3), P, NULL, 0));
	ASSERT_NONNULL(va3 = add_va(&fx, AT(4), 2 * P, fx.a, N + 4 * P));

	const struct rec exp[] = {
		R_REMAP_P(va0, true, PIECE(AT(0), P, fx.a, N)),
		R_UNMAP(va1, false),
		R_UNMAP(va2, false),
		R_REMAP_N(va3, true, PIECE(AT(5), P, fx.a, N + 5 * P)),
		R_MAP(AT(1), 4 * P, fx.a, N + P),
	};
	const struct drm_gpuva_op_map new[] = {
		PIECE(AT(0), P, fx.a, N),
		PIECE(AT(1), 4 * P, fx.a, N + P),
		PIECE(AT(5), P, fx.a, N + 5 * P),
	};

	DOC_CASE(&fx, AT(1), 4 * P, fx.a, N + P, exp, new);
	return fx_fini(&fx);
}

/* Empty space, and a GEM-less request over GEM-less VAs (keep always 0). */
static bool test_sm_map_empty_and_sparse(void)
{
	struct drm_gpuva *va;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	{
		const struct rec exp[] = { R_MAP(AT(0), P, fx.a, N) };

		ASSERT_TRUE(expect_map(&fx, AT(0), P, fx.a, N, exp, ARRAY_SIZE(exp)));
	}
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 2 * P, NULL, 0));
	{
		/* Identical sparse re-map: UNMAP keep=0, then MAP. */
		const struct rec exp[] = { R_UNMAP(va, false), R_MAP(AT(0), 2 * P, NULL, 0) };

		ASSERT_TRUE(expect_map(&fx, AT(0), 2 * P, NULL, 0, exp, ARRAY_SIZE(exp)));
	}
	{
		/* Pieces of a GEM-less VA still carry computed offsets. */
		const struct rec exp[] = {
			R_REMAP_N(va, false, PIECE(AT(1), P, NULL, P)),
			R_MAP(AT(0), P, NULL, 0),
		};

		ASSERT_TRUE(expect_map(&fx, AT(0), P, NULL, 0, exp, ARRAY_SIZE(exp)));
	}
	return fx_fini(&fx);
}

/* ------------------------------------------------------------ sm_unmap */

/*
 *	     0     1     2     3     4     5     6     7     8
 *	     |-va0-|           |-------va1-------|-va2-|
 *	gap:       |-----------|                              -> nothing
 *	inside:                      |-|                      -> REMAP(va1, prev+next)
 *	span:   |-----------------------------------|         -> REMAP(va0 prev),
 *	                                                         UNMAP va1, REMAP(va2 next)
 *	drive:                       |-----------------------| -> va1 keeps [3,4), va2 goes
 */
static bool test_sm_unmap(void)
{
	struct drm_gpuva *va0, *va1, *va2;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va0 = add_va(&fx, AT(0), P, fx.a, N));
	ASSERT_NONNULL(va1 = add_va(&fx, AT(3), 3 * P, fx.a, N + 3 * P));
	ASSERT_NONNULL(va2 = add_va(&fx, AT(6), P, NULL, 0));

	/* A gap: empty sequence. */
	ASSERT_TRUE(expect_unmap(&fx, AT(1), 2 * P, NULL, 0));
	/* Exactly one VA: UNMAP, keep=0 even though nothing could be kept anyway. */
	{
		const struct rec exp[] = { R_UNMAP(va0, false) };

		ASSERT_TRUE(expect_unmap(&fx, AT(0), P, exp, ARRAY_SIZE(exp)));
	}
	/* Strictly inside va1: one REMAP with both pieces, never keep. */
	{
		const struct rec exp[] = {
			R_REMAP_PN(va1, false, PIECE(AT(3), P + P / 2, fx.a, N + 3 * P),
				   PIECE(AT(5), P, fx.a, N + 5 * P)),
		};

		ASSERT_TRUE(expect_unmap(&fx, AT(4) + P / 2, P / 2, exp, ARRAY_SIZE(exp)));
	}
	/* Spanning all three: va0 and va2 cut, va1 removed; keep stays 0. */
	{
		const struct rec exp[] = {
			R_REMAP_P(va0, false, PIECE(AT(0), P / 2, fx.a, N)),
			R_UNMAP(va1, false),
			R_REMAP_N(va2, false, PIECE(AT(6) + P / 2, P / 2, NULL, P / 2)),
		};

		ASSERT_TRUE(expect_unmap(&fx, AT(0) + P / 2, AT(6) - AT(0), exp,
					 ARRAY_SIZE(exp)));
	}
	/* Apply a spanning unmap through the driver. */
	{
		const struct drm_gpuva_op_map new[] = {
			PIECE(AT(0), P, fx.a, N),
			PIECE(AT(3), P, fx.a, N + 3 * P),
		};

		ASSERT_TRUE(drive_unmap(&fx, AT(4), 4 * P, new, ARRAY_SIZE(new)));
	}
	return fx_fini(&fx);
}

/*
 * sm_unmap never stops early, sm_map does. A zero-sized VA z at the start of
 * va (inserted after it, so it follows it in address order):
 *
 *	     0           4
 *	va:  |-----------|
 *	z:   | (empty: [0, -1])
 *	req: |-----------|
 */
static bool test_sm_unmap_no_early_stop(void)
{
	struct drm_gpuva *va, *z;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 4 * P, fx.a, N));
	ASSERT_NONNULL(z = add_va(&fx, AT(0), 0, NULL, 0));
	{
		const struct rec exp[] = { R_UNMAP(va, false), R_UNMAP(z, false) };

		ASSERT_TRUE(expect_unmap(&fx, AT(0), 4 * P, exp, ARRAY_SIZE(exp)));
	}
	{
		const struct rec exp[] = { R_UNMAP(va, true), R_MAP(AT(0), 4 * P, fx.a, N) };

		ASSERT_TRUE(expect_map(&fx, AT(0), 4 * P, fx.a, N, exp, ARRAY_SIZE(exp)));
	}
	return fx_fini(&fx);
}

/* --------------------------------------------------------------- madvise */

/*
 * 1) Request strictly inside one GEM-less VA:
 *
 *	     0     1     2     3
 *	pre: |-----------------|
 *	req:       |-----|
 *	->   REMAP(prev [0,1), next [2,3)), MAP(req)
 */
static bool test_madvise_inside_one(void)
{
	struct drm_gpuva *va;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 3 * P, NULL, 0));
	const struct rec exp[] = {
		R_REMAP_PN(va, false, PIECE(AT(0), P, NULL, 0), PIECE(AT(2), P, NULL, 2 * P)),
		R_MAP(AT(1), P, fx.b, M),
	};

	ASSERT_TRUE(expect_madvise(&fx, AT(1), P, fx.b, M, exp, ARRAY_SIZE(exp)));
	return fx_fini(&fx);
}

/*
 * 2) Request across three GEM-less VAs, both ends inside:
 *
 *	     0     1     2     3     4     5     6
 *	pre: |----va1----|----va2----|----va3----|
 *	req:       |-----------------------|
 *	->   REMAP(va1 prev [0,1)), MAP [1,2) (no GEM),
 *	     REMAP(va3 next [5,6)), MAP [4,5) (no GEM); no MAP(req)
 */
static bool test_madvise_spanning(void)
{
	struct drm_gpuva *va1, *va3;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va1 = add_va(&fx, AT(0), 2 * P, NULL, 0));
	ASSERT_NONNULL(add_va(&fx, AT(2), 2 * P, NULL, 0));
	ASSERT_NONNULL(va3 = add_va(&fx, AT(4), 2 * P, NULL, 0));
	const struct rec exp[] = {
		R_REMAP_P(va1, false, PIECE(AT(0), P, NULL, 0)),
		R_MAP(AT(1), P, NULL, 0),
		R_REMAP_N(va3, false, PIECE(AT(5), P, NULL, P)),
		R_MAP(AT(4), P, NULL, 0),
	};

	ASSERT_TRUE(expect_madvise(&fx, AT(1), 4 * P, fx.a, N, exp, ARRAY_SIZE(exp)));
	return fx_fini(&fx);
}

/*
 * 3) One end on a VA boundary, the other inside a VA:
 *
 *	     0     1     2     3     4     5     6
 *	pre: |----va1----|----va2----|----va3----|
 *	req: |-----------------------------|      start aligned
 *	->   REMAP(va3 next [5,6)), MAP [4,5) (no GEM), return
 *	req:       |-----------------|            end aligned
 *	->   REMAP(va1 prev [0,1)), MAP [1,2) (no GEM)
 */
static bool test_madvise_one_end_inside(void)
{
	struct drm_gpuva *va1, *va3;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va1 = add_va(&fx, AT(0), 2 * P, NULL, 0));
	ASSERT_NONNULL(add_va(&fx, AT(2), 2 * P, NULL, 0));
	ASSERT_NONNULL(va3 = add_va(&fx, AT(4), 2 * P, NULL, 0));
	{
		const struct rec exp[] = {
			R_REMAP_N(va3, false, PIECE(AT(5), P, NULL, P)),
			R_MAP(AT(4), P, NULL, 0),
		};

		ASSERT_TRUE(expect_madvise(&fx, AT(0), 5 * P, fx.a, N, exp, ARRAY_SIZE(exp)));
	}
	{
		const struct rec exp[] = {
			R_REMAP_P(va1, false, PIECE(AT(0), P, NULL, 0)),
			R_MAP(AT(1), P, NULL, 0),
		};

		ASSERT_TRUE(expect_madvise(&fx, AT(1), 3 * P, fx.a, N, exp, ARRAY_SIZE(exp)));
	}
	return fx_fini(&fx);
}

/*
 * 4) Both ends on VA boundaries, and 5) no VAs at all: empty lists. Also the
 * left/right-aligned single-VA cases that enable the final MAP(req):
 *
 *	     0     1     2     3
 *	pre: |-----------|
 *	req: |-----------|            -> nothing
 *	req: |-----|                  -> REMAP(next [1,2)), MAP(req)
 *	req:       |-----|            -> REMAP(prev [0,1)), MAP(req)
 *	req:                   |--|   -> nothing (no VA)
 */
static bool test_madvise_aligned_and_empty(void)
{
	struct drm_gpuva *va;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_TRUE(expect_madvise(&fx, AT(0), 2 * P, fx.a, N, NULL, 0));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 2 * P, NULL, 0));
	ASSERT_TRUE(expect_madvise(&fx, AT(0), 2 * P, fx.a, N, NULL, 0));
	ASSERT_TRUE(expect_madvise(&fx, AT(3), P, fx.a, N, NULL, 0));
	{
		const struct rec exp[] = {
			R_REMAP_N(va, false, PIECE(AT(1), P, NULL, P)),
			R_MAP(AT(0), P, fx.a, N),
		};

		ASSERT_TRUE(expect_madvise(&fx, AT(0), P, fx.a, N, exp, ARRAY_SIZE(exp)));
	}
	{
		const struct rec exp[] = {
			R_REMAP_P(va, false, PIECE(AT(0), P, NULL, 0)),
			R_MAP(AT(1), P, fx.a, N),
		};

		ASSERT_TRUE(expect_madvise(&fx, AT(1), P, fx.a, N, exp, ARRAY_SIZE(exp)));
	}
	return fx_fini(&fx);
}

/*
 * VAs with a GEM are skipped entirely, wherever they are:
 *
 *	     0     1     2     3     4
 *	pre: |-sparse----|---GEM a---|
 *	req:       |-----------|
 *	->   REMAP(sparse prev [0,1)), MAP [1,2) (no GEM); GEM VA untouched,
 *	     no MAP(req)
 *	req:              |--|  (inside the GEM VA)  -> nothing
 */
static bool test_madvise_skips_gem_vas(void)
{
	struct drm_gpuva *sparse;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(sparse = add_va(&fx, AT(0), 2 * P, NULL, 0));
	ASSERT_NONNULL(add_va(&fx, AT(2), 2 * P, fx.a, N));
	{
		const struct rec exp[] = {
			R_REMAP_P(sparse, false, PIECE(AT(0), P, NULL, 0)),
			R_MAP(AT(1), P, NULL, 0),
		};

		ASSERT_TRUE(expect_madvise(&fx, AT(1), 2 * P, fx.b, M, exp, ARRAY_SIZE(exp)));
	}
	ASSERT_TRUE(expect_madvise(&fx, AT(2) + P / 2, P / 2, fx.b, M, NULL, 0));
	return fx_fini(&fx);
}

/*
 * "a > A, e > E" returns right after its MAP: nothing after it, in
 * particular no final MAP(req), even though the request started in a hole.
 *
 *	     0     1     2     3
 *	pre:       |-----------|
 *	req: |-----------|
 *	->   REMAP(next [2,3)), MAP [1,2) (no GEM)
 */
static bool test_madvise_right_overlap_returns(void)
{
	struct drm_gpuva *va;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va = add_va(&fx, AT(1), 2 * P, NULL, 0));
	const struct rec exp[] = {
		R_REMAP_N(va, false, PIECE(AT(2), P, NULL, P)),
		R_MAP(AT(1), P, NULL, 0),
	};

	ASSERT_TRUE(expect_madvise(&fx, AT(0), 2 * P, fx.a, N, exp, ARRAY_SIZE(exp)));
	return fx_fini(&fx);
}

/* -------------------------------------------------------------- prefetch */

static bool expect_prefetch(struct fx *fx, u64 addr, u64 range, const struct rec *exp,
			    size_t nexp)
{
	struct rec got[MAX_RECS];
	struct drm_gpuva_ops *ops;
	size_t ngot;

	ops = drm_gpuvm_prefetch_ops_create(&fx->vm, addr, range);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ngot = ops_to_recs(ops, got, MAX_RECS);
	drm_gpuva_ops_free(&fx->vm, ops);
	ASSERT_TRUE(recs_match(fx, "drm_gpuvm_prefetch_ops_create", got, ngot, exp, nexp));
	return true;
}

/*
 * Window [0x1000, 0x10000), reserved node K [0x1000, 0x2000):
 *
 *	     1     2     3     4     5     6  (x 0x1000)
 *	     |--K--|     |--va0----|-va1-|
 *
 * Prefetch walks everything overlapping, the reserved node included, and
 * validates nothing (outside the window, overflowing, zero range).
 */
static bool test_prefetch(void)
{
	struct drm_gpuva *k, *va0, *va1;
	struct fx fx;

	ASSERT_TRUE(fx_init(&fx, &cb_ops, 0x1000, 0xf000, 0x1000, 0x1000));
	k = &fx.vm.kernel_alloc_node;
	ASSERT_NONNULL(va0 = add_va(&fx, 0x3000, 0x2000, fx.a, N));
	ASSERT_NONNULL(va1 = add_va(&fx, 0x5000, 0x1000, NULL, 0));
	{
		const struct rec exp[] = { R_PREFETCH(k), R_PREFETCH(va0), R_PREFETCH(va1) };

		/* Starts below the window. */
		ASSERT_TRUE(expect_prefetch(&fx, 0, 0x10000, exp, ARRAY_SIZE(exp)));
	}
	{
		const struct rec exp[] = { R_PREFETCH(k) };

		ASSERT_TRUE(expect_prefetch(&fx, 0x1800, 0x100, exp, ARRAY_SIZE(exp)));
	}
	{
		/* Zero range: finds the node strictly containing the address. */
		const struct rec exp[] = { R_PREFETCH(va0) };

		ASSERT_TRUE(expect_prefetch(&fx, 0x4000, 0, exp, ARRAY_SIZE(exp)));
		/* ... and nothing at a boundary. */
		ASSERT_TRUE(expect_prefetch(&fx, 0x5000, 0, NULL, 0));
	}
	/* Overflowing range: no -EINVAL, just the wrapped walk. */
	{
		struct drm_gpuva_ops *ops = drm_gpuvm_prefetch_ops_create(&fx.vm, ~0ull - 0xfff,
									  0x4000);

		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		drm_gpuva_ops_free(&fx.vm, ops);
	}
	/* The gap between the reserved node and va0. */
	ASSERT_TRUE(expect_prefetch(&fx, 0x2000, 0x1000, NULL, 0));
	return fx_fini(&fx);
}

/* -------------------------------------------------------------- bo_unmap */

static bool expect_bo_unmap_list(struct fx *fx, struct drm_gpuva_ops *ops, const struct rec *exp,
				 size_t nexp)
{
	struct rec got[MAX_RECS];
	size_t ngot;

	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ngot = ops_to_recs(ops, got, MAX_RECS);
	drm_gpuva_ops_free(&fx->vm, ops);
	ASSERT_TRUE(recs_match(fx, "bo_unmap", got, ngot, exp, nexp));
	return true;
}

/*
 * bo_unmap lists follow the vm_bo's link order, not address order:
 *
 *	     0     1     2     3     4     5
 *	     |-va0-|     |-va1-|-vb--|-va2-|     linked: va2, va0, va1 (GEM a)
 */
static void count_lock_warn(const char *file, int line, const char *msg, void *data)
{
	GPUVM_UNUSED(file);
	GPUVM_UNUSED(line);
	if (strstr(msg, "lock not held"))
		++*(unsigned int *)data;
}

static bool bo_unmap_order(enum drm_gpuvm_flags flags)
{
	struct drm_gpuva *va0, *va1, *va2;
	struct drm_gpuva_ops *ops;
	struct drm_gpuvm_bo *vm_bo;
	unsigned long warns;
	struct fx fx;

	ASSERT_TRUE(fx_init_flags(&fx, &cb_ops, flags, 0, 1ull << 32, 0, 0));
	ASSERT_NONNULL(va0 = add_va(&fx, AT(0), P, fx.a, N));
	ASSERT_NONNULL(va1 = add_va(&fx, AT(2), P, fx.a, N + 2 * P));
	ASSERT_NONNULL(add_va(&fx, AT(3), P, fx.b, M));
	ASSERT_NONNULL(va2 = add_va(&fx, AT(4), P, fx.a, N + 4 * P));

	if (flags & DRM_GPUVM_IMMEDIATE_MODE) {
		vm_bo = drm_gpuvm_bo_create(&fx.vm, fx.a);
		ASSERT_NONNULL(vm_bo);
		vm_bo = drm_gpuvm_bo_obtain_prealloc(vm_bo);
	} else {
		vm_bo = drm_gpuvm_bo_obtain(&fx.vm, fx.a);
	}
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	drm_gpuva_link(va2, vm_bo);
	drm_gpuva_link(va0, vm_bo);
	drm_gpuva_link(va1, vm_bo);

	const struct rec exp[] = { R_UNMAP(va2, false), R_UNMAP(va0, false), R_UNMAP(va1, false) };

	/* The internally locking form takes the GEM's gpuva lock itself. */
	ASSERT_TRUE(expect_bo_unmap_list(&fx, drm_gpuvm_bo_unmap_ops_create(vm_bo), exp,
					 ARRAY_SIZE(exp)));

	/* The _locked form with the lock held: no lock WARN. */
	warns = gpuvm_warn_count();
	if (flags & DRM_GPUVM_IMMEDIATE_MODE)
		mutex_lock(&fx.a->gpuva.lock);
	else
		ASSERT_EQ(dma_resv_lock(fx.a->resv, NULL), 0);
	ASSERT_TRUE(expect_bo_unmap_list(&fx, drm_gpuvm_bo_unmap_ops_create_locked(vm_bo), exp,
					 ARRAY_SIZE(exp)));
	/* Holding it already: the plain form must not deadlock. */
	ASSERT_TRUE(expect_bo_unmap_list(&fx, drm_gpuvm_bo_unmap_ops_create(vm_bo), exp,
					 ARRAY_SIZE(exp)));
	if (flags & DRM_GPUVM_IMMEDIATE_MODE)
		mutex_unlock(&fx.a->gpuva.lock);
	else
		dma_resv_unlock(fx.a->resv);
	ASSERT_EQ(gpuvm_warn_count(), warns);

	/* The _locked form without the lock: the assertion fires (a WARN). */
	{
		unsigned int lock_warns = 0;

		gpuvm_set_warn_hook(count_lock_warn, &lock_warns);
		ops = drm_gpuvm_bo_unmap_ops_create_locked(vm_bo);
		gpuvm_set_warn_hook(NULL, NULL);
		ASSERT_TRUE(expect_bo_unmap_list(&fx, ops, exp, ARRAY_SIZE(exp)));
		ASSERT_EQ(lock_warns, 1);
		ASSERT_TRUE(gpuvm_warn_count() > warns);
	}

	drm_gpuva_unlink(va0);
	drm_gpuva_unlink(va1);
	drm_gpuva_unlink(va2);
	drm_gpuvm_bo_put(vm_bo);
	return fx_fini(&fx);
}

static bool test_bo_unmap_link_order(void)
{
	return bo_unmap_order(0);
}

static bool test_bo_unmap_link_order_immediate(void)
{
	return bo_unmap_order(DRM_GPUVM_IMMEDIATE_MODE);
}

/* ------------------------------------------------------------ validation */

static bool expect_einval(struct fx *fx, u64 addr, u64 range)
{
	const struct drm_gpuvm_map_req req = REQ(addr, range, fx->a, 0);
	struct drm_gpuva_ops *ops;
	struct snap before;

	take_snap(fx, &before);
	fx->mode = CB_RECORD;
	fx->nrecs = 0;
	ASSERT_EQ(drm_gpuvm_sm_map(&fx->vm, fx, &req), -EINVAL);
	ASSERT_EQ(drm_gpuvm_sm_unmap(&fx->vm, fx, addr, range), -EINVAL);
	ASSERT_EQ(fx->nrecs, 0);
	ops = drm_gpuvm_sm_map_ops_create(&fx->vm, &req);
	ASSERT_TRUE(IS_ERR(ops) && PTR_ERR(ops) == -EINVAL);
	ops = drm_gpuvm_madvise_ops_create(&fx->vm, &req);
	ASSERT_TRUE(IS_ERR(ops) && PTR_ERR(ops) == -EINVAL);
	ops = drm_gpuvm_sm_unmap_ops_create(&fx->vm, addr, range);
	ASSERT_TRUE(IS_ERR(ops) && PTR_ERR(ops) == -EINVAL);
	ASSERT_TRUE(vm_unchanged(fx, &before));
	return true;
}

/*
 * Window [0x1000, 0x10000), reserved node K [0x2000, 0x3000):
 *
 *	     1     2     3     4 ...          0x10
 *	     |     |--K--|                    |
 */
static bool test_validation(void)
{
	struct fx fx;
	long live;

	ASSERT_TRUE(fx_init(&fx, &cb_ops, 0x1000, 0xf000, 0x2000, 0x1000));
	live = gpuvm_alloc_live();
	/* u64 overflow of addr + range. */
	ASSERT_TRUE(expect_einval(&fx, ~0ull - 0xfff, 0x2000));
	/* Below and beyond the window. */
	ASSERT_TRUE(expect_einval(&fx, 0, 0x1000));
	ASSERT_TRUE(expect_einval(&fx, 0xf000, 0x2000));
	/* Touching the reserved node, from either side or inside. */
	ASSERT_TRUE(expect_einval(&fx, 0x1800, 0x1000));
	ASSERT_TRUE(expect_einval(&fx, 0x2800, 0x1000));
	ASSERT_TRUE(expect_einval(&fx, 0x2400, 0x100));
	/* Zero range strictly inside the reserved node. */
	ASSERT_TRUE(expect_einval(&fx, 0x2800, 0));
	/* Nothing leaked by the failed calls (no container allocated). */
	ASSERT_EQ(gpuvm_alloc_live(), live);

	/* Adjacent on both sides is fine, and so is the whole window edge. */
	{
		const struct rec left[] = { R_MAP(0x1000, 0x1000, fx.a, 0) };
		const struct rec right[] = { R_MAP(0x3000, 0xd000, fx.a, 0) };
		const struct rec at_k[] = { R_MAP(0x2000, 0, fx.a, 0) };

		ASSERT_TRUE(expect_map(&fx, 0x1000, 0x1000, fx.a, 0, left, ARRAY_SIZE(left)));
		ASSERT_TRUE(expect_map(&fx, 0x3000, 0xd000, fx.a, 0, right, ARRAY_SIZE(right)));
		/* A zero-sized request exactly at the reserved node's start. */
		ASSERT_TRUE(expect_map(&fx, 0x2000, 0, fx.a, 0, at_k, ARRAY_SIZE(at_k)));
		ASSERT_TRUE(expect_unmap(&fx, 0x3000, 0xd000, NULL, 0));
	}
	return fx_fini(&fx);
}

/* sm_map needs all three steps, sm_unmap remap and unmap; lists need none. */
static int never_called(struct drm_gpuva_op *op, void *priv)
{
	GPUVM_UNUSED(op);
	GPUVM_UNUSED(priv);
	return -EIO;
}

static bool test_missing_callbacks(void)
{
	static const struct drm_gpuvm_ops no_steps = { .vm_free = vm_free_embedded };
	static const struct drm_gpuvm_ops no_map = {
		.vm_free = vm_free_embedded,
		.sm_step_remap = step,
		.sm_step_unmap = step,
	};
	static const struct drm_gpuvm_ops no_remap = {
		.vm_free = vm_free_embedded,
		.sm_step_map = never_called,
		.sm_step_unmap = never_called,
	};
	static const struct drm_gpuvm_ops no_unmap = {
		.vm_free = vm_free_embedded,
		.sm_step_map = never_called,
		.sm_step_remap = never_called,
	};
	const struct drm_gpuvm_ops *const bad_map[] = { NULL, &no_steps, &no_map, &no_remap,
							&no_unmap };
	struct drm_gpuva *va;
	struct fx fx;

	for (size_t i = 0; i < ARRAY_SIZE(bad_map); i++) {
		const struct drm_gpuvm_map_req req = REQ(AT(1), P, NULL, 0);
		struct drm_gpuva_ops *ops;

		/* No ops at all: swapped in after init, as vm_free is mandatory. */
		ASSERT_TRUE(fx_init(&fx, bad_map[i] ? bad_map[i] : &no_steps, 0, 1ull << 32, 0,
				    0));
		fx.vm.ops = bad_map[i];
		ASSERT_NONNULL(va = add_va(&fx, AT(0), 4 * P, NULL, 0));
		ASSERT_EQ(drm_gpuvm_sm_map(&fx.vm, &fx, &req), -EINVAL);
		if (bad_map[i] == &no_map) {
			/* sm_unmap does not need sm_step_map. */
			const struct rec exp[] = {
				R_REMAP_PN(va, false, PIECE(AT(0), P, NULL, 0),
					   PIECE(AT(2), 2 * P, NULL, 2 * P)),
			};

			ASSERT_EQ(drm_gpuvm_sm_unmap(&fx.vm, &fx, AT(1), P), 0);
			ASSERT_TRUE(recs_match(&fx, "sm_unmap without sm_step_map", fx.recs,
					       fx.nrecs, exp, ARRAY_SIZE(exp)));
		} else {
			ASSERT_EQ(drm_gpuvm_sm_unmap(&fx.vm, &fx, AT(1), P), -EINVAL);
		}
		/* Ops lists never need driver callbacks. */
		ops = drm_gpuvm_sm_map_ops_create(&fx.vm, &req);
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		drm_gpuva_ops_free(&fx.vm, ops);
		fx.vm.ops = bad_map[i] ? bad_map[i] : &no_steps;
		ASSERT_TRUE(fx_fini(&fx));
	}
	return true;
}

/* ------------------------------------------------------ zero-sized requests */

/*
 * The kernel accepts zero-sized requests (docs/trace-format.md "Zero-sized gpuvas"):
 *
 *	     1     2     3     4     5   (x 0x1000)
 *	old: |-----------------------|  (a, offset 0)
 *	unmap 2 0:  splits at 2, nothing removed
 *	map 3 0:    splits at 3 again, then MAP with range 0
 *	map 0 0:    on an empty tree: just MAP
 */
static bool test_zero_range(void)
{
	struct drm_gpuva *va, *left, *right;
	struct fx fx;

	ASSERT_TRUE(fx_init(&fx, &cb_ops, 0, 0x10000, 0, 0));
	{
		const struct rec exp[] = { R_MAP(0, 0, NULL, 0) };

		ASSERT_TRUE(expect_map(&fx, 0, 0, NULL, 0, exp, ARRAY_SIZE(exp)));
	}
	ASSERT_NONNULL(va = add_va(&fx, 0x1000, 0x4000, fx.a, 0));
	{
		const struct rec exp[] = {
			R_REMAP_PN(va, false, PIECE(0x1000, 0x1000, fx.a, 0),
				   PIECE(0x2000, 0x3000, fx.a, 0x1000)),
		};
		const struct drm_gpuva_op_map new[] = {
			PIECE(0x1000, 0x1000, fx.a, 0),
			PIECE(0x2000, 0x3000, fx.a, 0x1000),
		};

		ASSERT_TRUE(expect_unmap(&fx, 0x2000, 0, exp, ARRAY_SIZE(exp)));
		ASSERT_TRUE(drive_unmap(&fx, 0x2000, 0, new, ARRAY_SIZE(new)));
		/* At a boundary nothing is split. */
		ASSERT_TRUE(expect_unmap(&fx, 0x2000, 0, NULL, 0));
	}
	left = drm_gpuva_find(&fx.vm, 0x1000, 0x1000);
	right = drm_gpuva_find(&fx.vm, 0x2000, 0x3000);
	ASSERT_NONNULL(left);
	ASSERT_NONNULL(right);
	{
		/* keep: same GEM, offset 0x1000 + (0x3000 - 0x2000) != 0. */
		const struct rec exp[] = {
			R_REMAP_PN(right, false, PIECE(0x2000, 0x1000, fx.a, 0x1000),
				   PIECE(0x3000, 0x2000, fx.a, 0x2000)),
			R_MAP(0x3000, 0, fx.a, 0),
		};
		const struct drm_gpuva_op_map new[] = {
			PIECE(0x1000, 0x1000, fx.a, 0),
			PIECE(0x2000, 0x1000, fx.a, 0x1000),
			PIECE(0x3000, 0x2000, fx.a, 0x2000),
			PIECE(0x3000, 0, fx.a, 0),
		};

		DOC_CASE(&fx, 0x3000, 0, fx.a, 0, exp, new);
	}
	{
		/* A zero-sized request at 0 never walks: nothing is below 0. */
		const struct rec exp[] = { R_MAP(0, 0, NULL, 0) };

		ASSERT_TRUE(expect_map(&fx, 0, 0, NULL, 0, exp, ARRAY_SIZE(exp)));
	}
	return fx_fini(&fx);
}

/* ------------------------------------------------------- callback errors */

/*
 * A failing step aborts the walk, its value is returned as is, and the steps
 * the driver already applied stay applied (no rollback):
 *
 *	     0     1     2     3     4     5     6
 *	old: |----va0----|-va1-|-va2-|     |---vc----|
 *	req:       |-----------|           step 0: REMAP va0 (applied)
 *	                                   step 1: UNMAP va1 -> -EIO
 */
static bool test_callback_error(void)
{
	struct drm_gpuva *va0, *va1, *va2, *vc;
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(va0 = add_va(&fx, AT(0), 2 * P, fx.a, N));
	ASSERT_NONNULL(va1 = add_va(&fx, AT(2), P, fx.a, N + 2 * P));
	ASSERT_NONNULL(va2 = add_va(&fx, AT(3), P, fx.a, N + 3 * P));
	ASSERT_NONNULL(vc = add_va(&fx, AT(5), 2 * P, NULL, 0));
	{
		const struct drm_gpuvm_map_req req = REQ(AT(1), 2 * P, fx.b, M);
		const struct rec exp[] = { R_REMAP_P(va0, false, PIECE(AT(0), P, fx.a, N)) };
		const struct drm_gpuva_op_map new[] = {
			PIECE(AT(0), P, fx.a, N),
			PIECE(AT(2), P, fx.a, N + 2 * P),
			PIECE(AT(3), P, fx.a, N + 3 * P),
			PIECE(AT(5), 2 * P, NULL, 0),
		};

		fx.mode = CB_DRIVE;
		fx.nrecs = 0;
		fx.fail_at = 1;
		fx.fail_ret = -EIO;
		ASSERT_EQ(drm_gpuvm_sm_map(&fx.vm, &fx, &req), -EIO);
		ASSERT_TRUE(recs_match(&fx, "sm_map failing at step 1", fx.recs, fx.nrecs, exp,
				       ARRAY_SIZE(exp)));
		ASSERT_TRUE(expect_layout(&fx, new, ARRAY_SIZE(new)));
	}
	{
		/* The final MAP failing: everything before it is applied. */
		const struct drm_gpuvm_map_req req = REQ(AT(2), 2 * P, fx.b, M);
		const struct rec exp[] = { R_UNMAP(va1, false), R_UNMAP(va2, false) };
		const struct drm_gpuva_op_map new[] = {
			PIECE(AT(0), P, fx.a, N),
			PIECE(AT(5), 2 * P, NULL, 0),
		};

		fx.nrecs = 0;
		fx.fail_at = 2;
		fx.fail_ret = -ENOSPC;
		ASSERT_EQ(drm_gpuvm_sm_map(&fx.vm, &fx, &req), -ENOSPC);
		ASSERT_TRUE(recs_match(&fx, "sm_map failing at the MAP", fx.recs, fx.nrecs, exp,
				       ARRAY_SIZE(exp)));
		ASSERT_TRUE(expect_layout(&fx, new, ARRAY_SIZE(new)));
	}
	{
		/* sm_unmap; a positive value is returned unchanged too. */
		const struct drm_gpuva_op_map new[] = { PIECE(AT(5), 2 * P, NULL, 0) };

		fx.nrecs = 0;
		fx.fail_at = 1;
		fx.fail_ret = 7;
		ASSERT_EQ(drm_gpuvm_sm_unmap(&fx.vm, &fx, AT(0), 8 * P), 7);
		ASSERT_EQ(fx.nrecs, 1);
		ASSERT_TRUE(expect_layout(&fx, new, ARRAY_SIZE(new)));
	}
	fx.fail_at = -1;
	return fx_fini(&fx);
}

/* ------------------------------------- drm_gpuva_op_remap_to_unmap_range */

/*
 *	     0     1     2     3
 *	old: |-----------------|
 *	unmap [1,3): prev only  -> hole [1,3)
 *	unmap [0,1): next only  -> hole [0,1)
 *	unmap [1,2): both       -> hole [1,2)
 */
static bool check_hole(struct fx *fx, u64 addr, u64 range)
{
	struct drm_gpuva_ops *ops = drm_gpuvm_sm_unmap_ops_create(&fx->vm, addr, range);
	struct drm_gpuva_op *op;
	u64 start = 0, len = 0;

	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(list_count_nodes(&ops->list), 1);
	op = drm_gpuva_first_op(ops);
	ASSERT_EQ(op->op, DRM_GPUVA_OP_REMAP);
	drm_gpuva_op_remap_to_unmap_range(&op->remap, &start, &len);
	ASSERT_EQ(start, addr);
	ASSERT_EQ(len, range);
	/* Either output may be omitted. */
	start = len = 0;
	drm_gpuva_op_remap_to_unmap_range(&op->remap, &start, NULL);
	drm_gpuva_op_remap_to_unmap_range(&op->remap, NULL, &len);
	drm_gpuva_op_remap_to_unmap_range(&op->remap, NULL, NULL);
	ASSERT_EQ(start, addr);
	ASSERT_EQ(len, range);
	drm_gpuva_ops_free(&fx->vm, ops);
	return true;
}

static bool test_remap_to_unmap_range(void)
{
	struct fx fx;

	ASSERT_TRUE(fx_init_default(&fx));
	ASSERT_NONNULL(add_va(&fx, AT(0), 3 * P, fx.a, N));
	ASSERT_TRUE(check_hole(&fx, AT(1), 2 * P));
	ASSERT_TRUE(check_hole(&fx, AT(0), P));
	ASSERT_TRUE(check_hole(&fx, AT(1), P));
	return fx_fini(&fx);
}

/* ------------------------------------------------- allocation failures */

/*
 *	     0     1     2     3     4     5     6     7     8 ... 10    11    12    13
 *	     |----va0----|-va1-|-sparse----|-------va2-------|     |----sparse2------|
 */
static bool add_injection_layout(struct fx *fx)
{
	ASSERT_NONNULL(add_va(fx, AT(0), 2 * P, fx->a, N));
	ASSERT_NONNULL(add_va(fx, AT(2), P, fx->b, M));
	ASSERT_NONNULL(add_va(fx, AT(3), 2 * P, NULL, 0));
	ASSERT_NONNULL(add_va(fx, AT(5), 3 * P, fx->a, N + 5 * P));
	ASSERT_NONNULL(add_va(fx, AT(10), 3 * P, NULL, 0));
	return true;
}

enum create_kind { C_MAP, C_MAP_CENTERED, C_UNMAP, C_MADVISE, C_MADVISE_SPAN, C_PREFETCH };

static struct drm_gpuva_ops *create(struct fx *fx, enum create_kind kind)
{
	const struct drm_gpuvm_map_req span = REQ(AT(1), 6 * P, fx->b, M);
	const struct drm_gpuvm_map_req centered = REQ(AT(11), P, fx->b, M);
	const struct drm_gpuvm_map_req madv_span = REQ(AT(4), 8 * P, fx->b, M);

	switch (kind) {
	case C_MAP:
		return drm_gpuvm_sm_map_ops_create(&fx->vm, &span);
	case C_MAP_CENTERED:
		return drm_gpuvm_sm_map_ops_create(&fx->vm, &centered);
	case C_UNMAP:
		return drm_gpuvm_sm_unmap_ops_create(&fx->vm, AT(1), 6 * P);
	case C_MADVISE:
		return drm_gpuvm_madvise_ops_create(&fx->vm, &centered);
	case C_MADVISE_SPAN:
		return drm_gpuvm_madvise_ops_create(&fx->vm, &madv_span);
	case C_PREFETCH:
	default:
		return drm_gpuvm_prefetch_ops_create(&fx->vm, AT(0), 14 * P);
	}
}

/*
 * Allocations a successful build needs: the container, which holds the first
 * DRM_GPUVA_OPS_INLINE ops, plus one per further op; with a driver op_alloc,
 * one per op plus the remap sub-structs.
 */
static unsigned long expected_allocs(struct fx *fx, struct drm_gpuva_ops *ops)
{
	bool driver = fx->vm.ops && fx->vm.ops->op_alloc;
	struct drm_gpuva_op *op;
	unsigned long n = 1, nops = 0;

	drm_gpuva_for_each_op(op, ops) {
		nops++;
		if (!driver && nops <= DRM_GPUVA_OPS_INLINE)
			continue;
		n++;
		if (driver && op->op == DRM_GPUVA_OP_REMAP)
			n += 1 + (op->remap.prev != NULL) + (op->remap.next != NULL);
	}
	return n;
}

/*
 * Fail the 1st, 2nd, ... allocation of a build until it succeeds: every
 * failure returns -ENOMEM, leaks nothing and leaves the VM alone.
 */
static bool inject_all(struct fx *fx, enum create_kind kind, size_t exp_ops)
{
	const long live = gpuvm_alloc_live();
	struct drm_gpuva_ops *ops;
	struct snap before;
	unsigned long n, count;

	take_snap(fx, &before);
	for (n = 1;; n++) {
		ASSERT_TRUE(n < 100);
		gpuvm_alloc_fail_nth(n);
		count = gpuvm_alloc_count();
		ops = create(fx, kind);
		count = gpuvm_alloc_count() - count;
		gpuvm_alloc_fail_nth(0);
		if (!IS_ERR(ops))
			break;
		ASSERT_EQ(PTR_ERR(ops), -ENOMEM);
		/* The n-th allocation was the one that failed, and the last tried. */
		ASSERT_EQ(count, n);
		ASSERT_EQ(gpuvm_alloc_live(), live);
		ASSERT_TRUE(vm_unchanged(fx, &before));
	}
	ASSERT_NONNULL(ops);
	ASSERT_EQ(list_count_nodes(&ops->list), exp_ops);
	/* n - 1 allocations could fail, and that is all a build needs. */
	ASSERT_EQ(count, n - 1);
	ASSERT_EQ(count, expected_allocs(fx, ops));
	if (fx->vm.ops && fx->vm.ops->op_alloc) {
		struct drm_gpuva_op *op;

		drm_gpuva_for_each_op(op, ops)
			ASSERT_EQ(container_of(op, struct drv_op, op)->magic, DRV_OP_MAGIC);
	}
	drm_gpuva_ops_free(&fx->vm, ops);
	ASSERT_EQ(gpuvm_alloc_live(), live);
	ASSERT_TRUE(vm_unchanged(fx, &before));
	return true;
}

static bool inject_every_builder(const struct drm_gpuvm_ops *vm_ops)
{
	struct fx fx;

	ASSERT_TRUE(fx_init(&fx, vm_ops, 0, 1ull << 32, 0, 0));
	ASSERT_TRUE(add_injection_layout(&fx));
	/* REMAP va0 (prev), UNMAP va1, UNMAP sparse, REMAP va2 (next), MAP. */
	ASSERT_TRUE(inject_all(&fx, C_MAP, 5));
	/* REMAP sparse2 (prev + next), MAP. */
	ASSERT_TRUE(inject_all(&fx, C_MAP_CENTERED, 2));
	ASSERT_TRUE(inject_all(&fx, C_UNMAP, 4));
	ASSERT_TRUE(inject_all(&fx, C_MADVISE, 2));
	/* REMAP sparse (prev), MAP, [va2 skipped], REMAP sparse2 (next), MAP. */
	ASSERT_TRUE(inject_all(&fx, C_MADVISE_SPAN, 4));
	ASSERT_TRUE(inject_all(&fx, C_PREFETCH, 5));
	return fx_fini(&fx);
}

static bool test_alloc_failure_ops_create(void)
{
	return inject_every_builder(&cb_ops);
}

static bool test_alloc_failure_ops_create_op_alloc(void)
{
	return inject_every_builder(&op_alloc_ops);
}

/* Custom op_alloc: the list is built from driver memory and freed by op_free. */
static bool test_op_alloc_lists(void)
{
	struct drm_gpuva *va;
	struct fx fx;

	ASSERT_TRUE(fx_init(&fx, &op_alloc_ops, 0, 1ull << 32, 0, 0));
	ASSERT_NONNULL(va = add_va(&fx, AT(0), 3 * P, fx.a, N));
	const struct rec exp[] = {
		R_REMAP_PN(va, true, PIECE(AT(0), P, fx.a, N), PIECE(AT(2), P, fx.a, N + 2 * P)),
		R_MAP(AT(1), P, fx.a, N + P),
	};

	ASSERT_TRUE(expect_map(&fx, AT(1), P, fx.a, N + P, exp, ARRAY_SIZE(exp)));
	return fx_fini(&fx);
}

/* bo_unmap builders under allocation failure (staged mode, resv locked). */
static bool test_alloc_failure_bo_unmap(void)
{
	const struct drm_gpuvm_ops *const variants[] = { &cb_ops, &op_alloc_ops };

	for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
		struct drm_gpuva *vas[3];
		struct drm_gpuvm_bo *vm_bo;
		struct drm_gpuva_ops *ops;
		struct snap before;
		unsigned long n;
		struct fx fx;
		long live;

		ASSERT_TRUE(fx_init(&fx, variants[i], 0, 1ull << 32, 0, 0));
		for (int k = 0; k < 3; k++)
			ASSERT_NONNULL(vas[k] = add_va(&fx, AT(2 * k), P, fx.b, M + 2 * k * P));
		ASSERT_EQ(dma_resv_lock(fx.b->resv, NULL), 0);
		vm_bo = drm_gpuvm_bo_obtain_locked(&fx.vm, fx.b);
		ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
		for (int k = 0; k < 3; k++)
			drm_gpuva_link_locked(vas[k], vm_bo);
		take_snap(&fx, &before);
		live = gpuvm_alloc_live();
		for (n = 1;; n++) {
			ASSERT_TRUE(n < 20);
			gpuvm_alloc_fail_nth(n);
			ops = drm_gpuvm_bo_unmap_ops_create_locked(vm_bo);
			gpuvm_alloc_fail_nth(0);
			if (!IS_ERR(ops))
				break;
			ASSERT_EQ(PTR_ERR(ops), -ENOMEM);
			ASSERT_EQ(gpuvm_alloc_live(), live);
			ASSERT_TRUE(vm_unchanged(&fx, &before));
		}
		/*
		 * Container + one op per VA; without op_alloc the three ops fit
		 * in the container (n is the first allocation left to succeed).
		 */
		ASSERT_EQ(n, variants[i]->op_alloc ? 5 : 2);
		ASSERT_EQ(list_count_nodes(&ops->list), 3);
		drm_gpuva_ops_free(&fx.vm, ops);
		ASSERT_EQ(gpuvm_alloc_live(), live);
		for (int k = 0; k < 3; k++)
			drm_gpuva_unlink_locked(vas[k]);
		drm_gpuvm_bo_put_locked(vm_bo);
		dma_resv_unlock(fx.b->resv);
		ASSERT_TRUE(fx_fini(&fx));
	}
	return true;
}

/* ------------------------------------------ randomised model comparison */

/*
 * Random maps and unmaps in a 48-page window, applied by the immediate-mode
 * style driver from inside the walk, against a page-array model. Every list
 * is also checked for the structural rules: steps in address order, keep iff
 * same non-NULL GEM with f + A == F + a, prev only on the first step, next
 * only on the last one, MAP exactly once and last (sm_map only), and the
 * callback path must produce the same steps as the list.
 */
#define NPAGES 48

struct page_model {
	bool mapped;
	struct drm_gem_object *obj;
	u64 off;
};

static u64 xorshift(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool check_model(struct fx *fx, const struct page_model *pm)
{
	bool covered[NPAGES] = { false };
	struct drm_gpuva *va;

	drm_gpuvm_for_each_va(va, &fx->vm) {
		const u64 first = va->va.addr / P, end = (va->va.addr + va->va.range) / P;

		ASSERT_EQ(va->va.addr % P, 0);
		ASSERT_EQ(va->va.range % P, 0);
		ASSERT_TRUE(va->va.range > 0);
		for (u64 p = first; p < end; p++) {
			ASSERT_TRUE(p < NPAGES);
			ASSERT_TRUE(pm[p].mapped);
			ASSERT_TRUE(pm[p].obj == va->gem.obj);
			ASSERT_EQ(pm[p].off, va->gem.offset + (p * P - va->va.addr));
			ASSERT_FALSE(covered[p]);
			covered[p] = true;
		}
	}
	for (u64 p = 0; p < NPAGES; p++)
		ASSERT_EQ(covered[p], pm[p].mapped);
	return true;
}

static bool check_steps(const struct rec *r, size_t n, bool is_map, u64 A, u64 R,
			struct drm_gem_object *O, u64 F)
{
	size_t last = is_map ? n - 1 : n;
	u64 prev_addr = 0;

	if (is_map) {
		ASSERT_TRUE(n >= 1);
		ASSERT_EQ(r[last].type, DRM_GPUVA_OP_MAP);
		ASSERT_EQ(r[last].map.va.addr, A);
		ASSERT_EQ(r[last].map.va.range, R);
		ASSERT_TRUE(r[last].map.gem.obj == O);
		ASSERT_EQ(r[last].map.gem.offset, F);
	}
	for (size_t i = 0; i < last; i++) {
		const struct drm_gpuva *va = r[i].va;
		const u64 a = va->va.addr, f = va->gem.offset;
		const bool keep = is_map && va->gem.obj && va->gem.obj == O && f + A == F + a;

		ASSERT_TRUE(r[i].type == DRM_GPUVA_OP_UNMAP || r[i].type == DRM_GPUVA_OP_REMAP);
		ASSERT_TRUE(i == 0 || a > prev_addr);
		prev_addr = a;
		ASSERT_EQ(r[i].keep, keep);
		ASSERT_TRUE(!r[i].has_prev || i == 0);
		ASSERT_TRUE(!r[i].has_next || i == last - 1);
		ASSERT_EQ(r[i].has_prev, a < A);
		ASSERT_EQ(r[i].has_next, a + va->va.range > A + R);
		if (r[i].type == DRM_GPUVA_OP_REMAP)
			ASSERT_TRUE(r[i].has_prev || r[i].has_next);
	}
	return true;
}

static bool test_random_against_model(void)
{
	struct page_model pm[NPAGES];
	u64 seed = 0x9e3779b97f4a7c15ull;
	struct fx fx;

	memset(pm, 0, sizeof(pm));
	ASSERT_TRUE(fx_init(&fx, &cb_ops, 0, NPAGES * P, 0, 0));
	for (int iter = 0; iter < 3000; iter++) {
		const u64 first = xorshift(&seed) % NPAGES;
		const u64 len = 1 + xorshift(&seed) % (NPAGES - first < 12 ? NPAGES - first : 12);
		const bool is_map = xorshift(&seed) % 4 != 0;
		struct drm_gem_object *const objs[] = { fx.a, fx.b, NULL };
		struct drm_gem_object *obj = objs[xorshift(&seed) % 3];
		u64 off = (xorshift(&seed) % 8) * P;
		struct rec got[MAX_RECS];
		struct drm_gpuva_ops *ops;
		size_t n;

		/* Often line up with what is there, so keep=1 gets exercised. */
		if (pm[first].mapped && xorshift(&seed) % 2) {
			obj = pm[first].obj;
			off = pm[first].off;
		}

		if (is_map) {
			const struct drm_gpuvm_map_req req = REQ(first * P, len * P, obj, off);

			ops = drm_gpuvm_sm_map_ops_create(&fx.vm, &req);
		} else {
			ops = drm_gpuvm_sm_unmap_ops_create(&fx.vm, first * P, len * P);
		}
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		n = ops_to_recs(ops, got, MAX_RECS);
		drm_gpuva_ops_free(&fx.vm, ops);
		ASSERT_TRUE(n <= MAX_RECS);
		if (!check_steps(got, n, is_map, first * P, len * P, obj, off)) {
			fprintf(stderr, "iteration %d\n", iter);
			return false;
		}

		fx.mode = CB_DRIVE;
		fx.nrecs = 0;
		fx.insert_failed = 0;
		if (is_map) {
			const struct drm_gpuvm_map_req req = REQ(first * P, len * P, obj, off);

			ASSERT_EQ(drm_gpuvm_sm_map(&fx.vm, &fx, &req), 0);
		} else {
			ASSERT_EQ(drm_gpuvm_sm_unmap(&fx.vm, &fx, first * P, len * P), 0);
		}
		ASSERT_EQ(fx.insert_failed, 0);
		ASSERT_TRUE(recs_match(&fx, "callbacks vs list", fx.recs, fx.nrecs, got, n));

		for (u64 p = first; p < first + len; p++) {
			pm[p].mapped = is_map;
			pm[p].obj = is_map ? obj : NULL;
			pm[p].off = is_map ? off + (p - first) * P : 0;
		}
		if (!check_model(&fx, pm)) {
			fprintf(stderr, "iteration %d\n", iter);
			return false;
		}
	}
	return fx_fini(&fx);
}

int main(void)
{
	RUN(test_doc_case_1);
	RUN(test_doc_case_2);
	RUN(test_doc_case_3);
	RUN(test_doc_case_4);
	RUN(test_doc_case_5);
	RUN(test_doc_case_6);
	RUN(test_doc_case_7);
	RUN(test_doc_case_8);
	RUN(test_doc_case_9);
	RUN(test_doc_case_10);
	RUN(test_doc_case_11);
	RUN(test_doc_case_12);
	RUN(test_doc_case_13);
	RUN(test_doc_case_14);
	RUN(test_doc_case_15);
	RUN(test_sm_map_table);
	RUN(test_sm_map_spanning);
	RUN(test_sm_map_empty_and_sparse);
	RUN(test_sm_unmap);
	RUN(test_sm_unmap_no_early_stop);
	RUN(test_madvise_inside_one);
	RUN(test_madvise_spanning);
	RUN(test_madvise_one_end_inside);
	RUN(test_madvise_aligned_and_empty);
	RUN(test_madvise_skips_gem_vas);
	RUN(test_madvise_right_overlap_returns);
	RUN(test_prefetch);
	RUN(test_bo_unmap_link_order);
	RUN(test_bo_unmap_link_order_immediate);
	RUN(test_validation);
	RUN(test_missing_callbacks);
	RUN(test_zero_range);
	RUN(test_callback_error);
	RUN(test_remap_to_unmap_range);
	RUN(test_op_alloc_lists);
	RUN(test_alloc_failure_ops_create);
	RUN(test_alloc_failure_ops_create_op_alloc);
	RUN(test_alloc_failure_bo_unmap);
	RUN(test_random_against_model);
	return harness_done();
}
