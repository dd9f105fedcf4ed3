// SPDX-License-Identifier: MIT
/*
 * Reference driver tests (csrc/driver/apply.c): the docs/trace-format.md examples replayed by
 * hand (ops printed in the trace format, applied with gpuvm_apply_ops, the
 * final layout and vm_bo link orders dumped) and compared with the golden
 * outputs; the internally locking and immediate-mode paths; the callbacks;
 * -ENOMEM at every allocation; the remap ordering that keeps a vm_bo alive;
 * and a randomised comparison with a page model.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drm/gpuvm_apply.h"
#include "linux/slab.h"

#include "harness.h"

#define P 0x1000ull
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_SNAP 256

/* --------------------------------------------------------------- fixture */

enum { OBJ_A, OBJ_B, NOBJ };

struct afx {
	struct drm_device *drm;
	struct drm_gem_object *r_obj;
	struct drm_gpuvm vm;
	struct drm_gem_object *objs[NOBJ]; /* A: private (VM resv), B: external */
	long live0;
	u32 apply_flags;
	/* Trace-format output, compared with the golden files. */
	char out[16384];
	size_t len;
	/* Callback counters for the ctx tests. */
	unsigned int insert_failed, va_removed, va_allocs, va_frees;
};

static void vm_free_embedded(struct drm_gpuvm *gpuvm)
{
	GPUVM_UNUSED(gpuvm);
}

static const struct drm_gpuvm_ops vm_ops = { .vm_free = vm_free_embedded };

static bool afx_init(struct afx *fx, enum drm_gpuvm_flags flags, u64 start, u64 range,
		     u64 roff, u64 rrange)
{
	memset(fx, 0, sizeof(*fx));
	fx->live0 = gpuvm_alloc_live();
	fx->apply_flags = GPUVM_APPLY_LOCKED;
	fx->drm = drm_dev_alloc("test_apply");
	ASSERT_NONNULL(fx->drm);
	fx->r_obj = drm_gpuvm_resv_object_alloc(fx->drm);
	ASSERT_NONNULL(fx->r_obj);
	drm_gpuvm_init(&fx->vm, "test_apply", flags, fx->drm, fx->r_obj, start, range, roff,
		       rrange, &vm_ops);
	fx->objs[OBJ_A] = drm_gem_object_create(fx->drm, 1 << 24, fx->r_obj);
	fx->objs[OBJ_B] = drm_gem_object_create(fx->drm, 1 << 24, NULL);
	ASSERT_NONNULL(fx->objs[OBJ_A]);
	ASSERT_NONNULL(fx->objs[OBJ_B]);
	return true;
}

static void outf(struct afx *fx, const char *fmt, ...) GPUVM_PRINTF(2, 3);
static void outf(struct afx *fx, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(fx->out + fx->len, sizeof(fx->out) - fx->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		fx->len += (size_t)n < sizeof(fx->out) - fx->len ? (size_t)n
								 : sizeof(fx->out) - fx->len - 1;
}

static const char *oname(const struct afx *fx, const struct drm_gem_object *obj)
{
	if (!obj)
		return "-";
	return obj == fx->objs[OBJ_A] ? "A" : obj == fx->objs[OBJ_B] ? "B" : "?";
}

static unsigned long long ull(u64 v)
{
	return (unsigned long long)v;
}

/* All resvs are held around every command, as docs/trace-format.md prescribes. */
static void lock_all(struct afx *fx)
{
	GPUVM_BUG_ON(dma_resv_lock(drm_gpuvm_resv(&fx->vm), NULL) != 0);
	GPUVM_BUG_ON(dma_resv_lock(fx->objs[OBJ_B]->resv, NULL) != 0);
}

static void unlock_all(struct afx *fx)
{
	dma_resv_unlock(fx->objs[OBJ_B]->resv);
	dma_resv_unlock(drm_gpuvm_resv(&fx->vm));
}

static bool afx_fini(struct afx *fx)
{
	struct drm_gpuva *va, *next;

	lock_all(fx);
	drm_gpuvm_for_each_va_safe(va, next, &fx->vm) {
		if (va == &fx->vm.kernel_alloc_node)
			continue;
		drm_gpuva_unlink_locked(va);
		drm_gpuva_remove(va);
		kfree(va);
	}
	unlock_all(fx);
	drm_gpuvm_bo_deferred_cleanup(&fx->vm);
	drm_gpuvm_put(&fx->vm);
	for (int i = 0; i < NOBJ; i++)
		drm_gem_object_put(fx->objs[i]);
	drm_gem_object_put(fx->r_obj);
	drm_dev_put(fx->drm);
	ASSERT_EQ(gpuvm_alloc_live(), fx->live0);
	return true;
}

static void out_piece(struct afx *fx, const struct drm_gpuva_op_map *p)
{
	if (!p) {
		outf(fx, "-");
		return;
	}
	outf(fx, "0x%llx,0x%llx,%s,0x%llx", ull(p->va.addr), ull(p->va.range),
	     oname(fx, p->gem.obj), ull(p->gem.offset));
}

static void out_ops(struct afx *fx, struct drm_gpuva_ops *ops)
{
	struct drm_gpuva_op *op;

	drm_gpuva_for_each_op(op, ops) {
		const struct drm_gpuva *va;

		switch (op->op) {
		case DRM_GPUVA_OP_MAP:
			outf(fx, "map 0x%llx 0x%llx %s 0x%llx\n", ull(op->map.va.addr),
			     ull(op->map.va.range), oname(fx, op->map.gem.obj),
			     ull(op->map.gem.offset));
			break;
		case DRM_GPUVA_OP_REMAP:
			va = op->remap.unmap->va;
			outf(fx, "remap unmap=0x%llx,0x%llx,%s,0x%llx,keep=%d prev=",
			     ull(va->va.addr), ull(va->va.range), oname(fx, va->gem.obj),
			     ull(va->gem.offset), op->remap.unmap->keep);
			out_piece(fx, op->remap.prev);
			outf(fx, " next=");
			out_piece(fx, op->remap.next);
			outf(fx, "\n");
			break;
		case DRM_GPUVA_OP_UNMAP:
			va = op->unmap.va;
			outf(fx, "unmap 0x%llx 0x%llx %s 0x%llx keep=%d\n", ull(va->va.addr),
			     ull(va->va.range), oname(fx, va->gem.obj), ull(va->gem.offset),
			     op->unmap.keep);
			break;
		case DRM_GPUVA_OP_PREFETCH:
			va = op->prefetch.va;
			outf(fx, "prefetch 0x%llx 0x%llx %s 0x%llx%s\n", ull(va->va.addr),
			     ull(va->va.range), oname(fx, va->gem.obj), ull(va->gem.offset),
			     va == &fx->vm.kernel_alloc_node ? " kernel" : "");
			break;
		default:
			outf(fx, "op %d\n", (int)op->op);
			break;
		}
	}
}

static void on_insert_failed(const struct drm_gpuva_op_map *piece, void *priv)
{
	struct afx *fx = priv;

	fx->insert_failed++;
	outf(fx, "warn insert_failed 0x%llx 0x%llx %s 0x%llx\n", ull(piece->va.addr),
	     ull(piece->va.range), oname(fx, piece->gem.obj), ull(piece->gem.offset));
}

static const char *errname(long err)
{
	switch (err) {
	case -EINVAL:
		return "EINVAL";
	case -ENOMEM:
		return "ENOMEM";
	default:
		return "E?";
	}
}

static int apply(struct afx *fx, struct drm_gpuvm_bo *vm_bo, struct drm_gpuva_ops *ops)
{
	const struct gpuvm_apply_ctx ctx = {
		.flags = fx->apply_flags,
		.insert_failed = on_insert_failed,
		.priv = fx,
	};

	return gpuvm_apply_ops(&fx->vm, vm_bo, ops, &ctx);
}

/* ------------------------------------------- the trace commands, by hand */

static bool cmd_map(struct afx *fx, u64 addr, u64 range, int obj_idx, u64 offset)
{
	struct drm_gem_object *obj = obj_idx < 0 ? NULL : fx->objs[obj_idx];
	const struct drm_gpuvm_map_req req = {
		.map = { .va = { .addr = addr, .range = range },
			 .gem = { .offset = offset, .obj = obj } },
	};
	struct drm_gpuvm_bo *vm_bo = NULL;
	struct drm_gpuva_ops *ops;

	outf(fx, "> map 0x%llx 0x%llx %s 0x%llx\n", ull(addr), ull(range), oname(fx, obj),
	     ull(offset));
	lock_all(fx);
	if (obj) {
		vm_bo = drm_gpuvm_bo_obtain_locked(&fx->vm, obj);
		ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
		drm_gpuvm_bo_extobj_add(vm_bo);
	}
	ops = drm_gpuvm_sm_map_ops_create(&fx->vm, &req);
	if (IS_ERR(ops)) {
		outf(fx, "error %s\n", errname(PTR_ERR(ops)));
	} else {
		out_ops(fx, ops);
		ASSERT_EQ(apply(fx, vm_bo, ops), 0);
		drm_gpuva_ops_free(&fx->vm, ops);
	}
	drm_gpuvm_bo_put_locked(vm_bo);
	unlock_all(fx);
	return true;
}

static bool cmd_unmap(struct afx *fx, u64 addr, u64 range)
{
	struct drm_gpuva_ops *ops;

	outf(fx, "> unmap 0x%llx 0x%llx\n", ull(addr), ull(range));
	lock_all(fx);
	ops = drm_gpuvm_sm_unmap_ops_create(&fx->vm, addr, range);
	if (IS_ERR(ops)) {
		outf(fx, "error %s\n", errname(PTR_ERR(ops)));
	} else {
		out_ops(fx, ops);
		ASSERT_EQ(apply(fx, NULL, ops), 0);
		drm_gpuva_ops_free(&fx->vm, ops);
	}
	unlock_all(fx);
	return true;
}

static bool cmd_prefetch(struct afx *fx, u64 addr, u64 range)
{
	struct drm_gpuva_ops *ops;

	outf(fx, "> prefetch 0x%llx 0x%llx\n", ull(addr), ull(range));
	ops = drm_gpuvm_prefetch_ops_create(&fx->vm, addr, range);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	out_ops(fx, ops);
	/* Prefetch lists change nothing when applied. */
	lock_all(fx);
	ASSERT_EQ(apply(fx, NULL, ops), 0);
	unlock_all(fx);
	drm_gpuva_ops_free(&fx->vm, ops);
	return true;
}

static bool cmd_bo_unmap(struct afx *fx, int obj_idx)
{
	struct drm_gem_object *obj = fx->objs[obj_idx];
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gpuva_ops *ops;

	outf(fx, "> bo_unmap %s\n", oname(fx, obj));
	lock_all(fx);
	vm_bo = drm_gpuvm_bo_find_locked(&fx->vm, obj);
	if (vm_bo) {
		ops = drm_gpuvm_bo_unmap_ops_create_locked(vm_bo);
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		out_ops(fx, ops);
		ASSERT_EQ(apply(fx, vm_bo, ops), 0);
		drm_gpuva_ops_free(&fx->vm, ops);
		drm_gpuvm_bo_put_locked(vm_bo);
	}
	unlock_all(fx);
	return true;
}

static bool on_extobj_list(struct afx *fx, struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm_bo *e;

	list_for_each_entry(e, &fx->vm.extobj.list, list.entry.extobj) {
		if (e == vm_bo)
			return true;
	}
	return false;
}

static void cmd_dump(struct afx *fx)
{
	struct drm_gpuva *va;

	outf(fx, "> dump\n");
	drm_gpuvm_for_each_va(va, &fx->vm) {
		if (va == &fx->vm.kernel_alloc_node)
			continue;
		outf(fx, "va 0x%llx 0x%llx %s 0x%llx\n", ull(va->va.addr), ull(va->va.range),
		     oname(fx, va->gem.obj), ull(va->gem.offset));
	}
	lock_all(fx);
	for (int i = 0; i < NOBJ; i++) {
		struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_find_locked(&fx->vm, fx->objs[i]);

		if (!vm_bo)
			continue;
		outf(fx, "vm_bo %s %zu%s\n", oname(fx, fx->objs[i]),
		     list_count_nodes(&vm_bo->list.gpuva), on_extobj_list(fx, vm_bo) ? " ext" : "");
		drm_gpuvm_bo_for_each_va(va, vm_bo) {
			outf(fx, "bova 0x%llx 0x%llx 0x%llx\n", ull(va->va.addr),
			     ull(va->va.range), ull(va->gem.offset));
		}
		drm_gpuvm_bo_put_locked(vm_bo);
	}
	unlock_all(fx);
	outf(fx, "end\n");
}

static bool out_is(struct afx *fx, const char *expected)
{
	if (strcmp(fx->out, expected) == 0)
		return true;
	fprintf(stderr, "--- expected\n%s--- got\n%s---\n", expected, fx->out);
	return false;
}

/* ----------------------------------------------------- docs/trace-format.md examples */

/*
 * traces/example1: split, keep, replace without merging.
 *
 *	0x10000          0x12000    0x14000                    0x18000
 *	|-------------------------- A @0 ---------------------------|  map
 *	|----- A @0 -----|- B @40000 -|---------- A @4000 ----------|  punch B
 *	|----- A @0 -----|- A @2000 --|---------- A @4000 ----------|  A back
 *	|-------------------------- A @0 ---------------------------|  re-map: keep=1 x3
 */
static bool test_example1(void)
{
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, 0, 0x0, 0x100000, 0, 0));
	ASSERT_TRUE(cmd_map(&fx, 0x10000, 0x8000, OBJ_A, 0x0));
	ASSERT_TRUE(cmd_map(&fx, 0x12000, 0x2000, OBJ_B, 0x40000));
	ASSERT_TRUE(cmd_map(&fx, 0x12000, 0x2000, OBJ_A, 0x2000));
	ASSERT_TRUE(cmd_map(&fx, 0x10000, 0x8000, OBJ_A, 0x0));
	cmd_dump(&fx);
	ASSERT_TRUE(out_is(&fx,
		"> map 0x10000 0x8000 A 0x0\n"
		"map 0x10000 0x8000 A 0x0\n"
		"> map 0x12000 0x2000 B 0x40000\n"
		"remap unmap=0x10000,0x8000,A,0x0,keep=0 prev=0x10000,0x2000,A,0x0 next=0x14000,0x4000,A,0x4000\n"
		"map 0x12000 0x2000 B 0x40000\n"
		"> map 0x12000 0x2000 A 0x2000\n"
		"unmap 0x12000 0x2000 B 0x40000 keep=0\n"
		"map 0x12000 0x2000 A 0x2000\n"
		"> map 0x10000 0x8000 A 0x0\n"
		"unmap 0x10000 0x2000 A 0x0 keep=1\n"
		"unmap 0x12000 0x2000 A 0x2000 keep=1\n"
		"unmap 0x14000 0x4000 A 0x4000 keep=1\n"
		"map 0x10000 0x8000 A 0x0\n"
		"> dump\n"
		"va 0x10000 0x8000 A 0x0\n"
		"vm_bo A 1\n"
		"bova 0x10000 0x8000 0x0\n"
		"end\n"));
	return afx_fini(&fx);
}

/*
 * traces/example2: reserved node, invalid requests, GEM-less maps, prefetch
 * over the reserved node, bo_unmap.
 *
 *	0x1000  0x2000        0x4000  0x5000  0x6000  0x7000  0x8000      0x10000
 *	|--K----|             |--A----|---A------------------|               |
 *	                      |--A----|-(-)--|--A----|   after map - / unmap
 */
static bool test_example2(void)
{
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, 0, 0x1000, 0xf000, 0x1000, 0x1000));
	ASSERT_TRUE(cmd_map(&fx, 0x1800, 0x1000, OBJ_A, 0));
	ASSERT_TRUE(cmd_map(&fx, 0xf000, 0x2000, OBJ_A, 0));
	ASSERT_TRUE(cmd_map(&fx, 0xffffffffffff0000ull, 0x20000, OBJ_A, 0));
	ASSERT_TRUE(cmd_map(&fx, 0x4000, 0x4000, OBJ_A, 0x100000));
	ASSERT_TRUE(cmd_map(&fx, 0x5000, 0x1000, -1, 0x0));
	ASSERT_TRUE(cmd_unmap(&fx, 0x7000, 0x1000));
	ASSERT_TRUE(cmd_prefetch(&fx, 0x0, 0x10000));
	ASSERT_TRUE(cmd_bo_unmap(&fx, OBJ_A));
	cmd_dump(&fx);
	ASSERT_TRUE(out_is(&fx,
		"> map 0x1800 0x1000 A 0x0\n"
		"error EINVAL\n"
		"> map 0xf000 0x2000 A 0x0\n"
		"error EINVAL\n"
		"> map 0xffffffffffff0000 0x20000 A 0x0\n"
		"error EINVAL\n"
		"> map 0x4000 0x4000 A 0x100000\n"
		"map 0x4000 0x4000 A 0x100000\n"
		"> map 0x5000 0x1000 - 0x0\n"
		"remap unmap=0x4000,0x4000,A,0x100000,keep=0 prev=0x4000,0x1000,A,0x100000 next=0x6000,0x2000,A,0x102000\n"
		"map 0x5000 0x1000 - 0x0\n"
		"> unmap 0x7000 0x1000\n"
		"remap unmap=0x6000,0x2000,A,0x102000,keep=0 prev=0x6000,0x1000,A,0x102000 next=-\n"
		"> prefetch 0x0 0x10000\n"
		"prefetch 0x1000 0x1000 - 0x0 kernel\n"
		"prefetch 0x4000 0x1000 A 0x100000\n"
		"prefetch 0x5000 0x1000 - 0x0\n"
		"prefetch 0x6000 0x1000 A 0x102000\n"
		"> bo_unmap A\n"
		"unmap 0x4000 0x1000 A 0x100000 keep=0\n"
		"unmap 0x6000 0x1000 A 0x102000 keep=0\n"
		"> dump\n"
		"va 0x5000 0x1000 - 0x0\n"
		"end\n"));
	return afx_fini(&fx);
}

/*
 * traces/example3: zero-sized requests, including the insert that fails
 * because a zero-sized VA sits inside the requested range, and the list
 * order drifting from address order.
 *
 *	0x1000  0x2000  0x2800  0x3000  0x3800          0x5000
 *	|--A@0--|--A@1000------|---A@2000---------------|   after the splits
 *	                        Z (zero-sized at 0x3000)
 *	map 0x2800+0x1000 cuts both neighbours, but Z blocks the insert.
 */
static bool test_example3(void)
{
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, 0, 0x0, 0x10000, 0, 0));
	ASSERT_TRUE(cmd_map(&fx, 0x1000, 0x4000, OBJ_A, 0x0));
	ASSERT_TRUE(cmd_unmap(&fx, 0x2000, 0x0));
	ASSERT_TRUE(cmd_map(&fx, 0x3000, 0x0, OBJ_A, 0x0));
	ASSERT_TRUE(cmd_prefetch(&fx, 0x4000, 0x0));
	ASSERT_TRUE(cmd_map(&fx, 0x2800, 0x1000, OBJ_A, 0x1800));
	ASSERT_EQ(fx.insert_failed, 1);
	cmd_dump(&fx);
	ASSERT_TRUE(cmd_map(&fx, 0x0, 0x0, -1, 0x0));
	ASSERT_EQ(fx.insert_failed, 2);
	ASSERT_TRUE(out_is(&fx,
		"> map 0x1000 0x4000 A 0x0\n"
		"map 0x1000 0x4000 A 0x0\n"
		"> unmap 0x2000 0x0\n"
		"remap unmap=0x1000,0x4000,A,0x0,keep=0 prev=0x1000,0x1000,A,0x0 next=0x2000,0x3000,A,0x1000\n"
		"> map 0x3000 0x0 A 0x0\n"
		"remap unmap=0x2000,0x3000,A,0x1000,keep=0 prev=0x2000,0x1000,A,0x1000 next=0x3000,0x2000,A,0x2000\n"
		"map 0x3000 0x0 A 0x0\n"
		"> prefetch 0x4000 0x0\n"
		"prefetch 0x3000 0x2000 A 0x2000\n"
		"prefetch 0x3000 0x0 A 0x0\n"
		"> map 0x2800 0x1000 A 0x1800\n"
		"remap unmap=0x2000,0x1000,A,0x1000,keep=1 prev=0x2000,0x800,A,0x1000 next=-\n"
		"remap unmap=0x3000,0x2000,A,0x2000,keep=1 prev=- next=0x3800,0x1800,A,0x2800\n"
		"map 0x2800 0x1000 A 0x1800\n"
		"warn insert_failed 0x2800 0x1000 A 0x1800\n"
		"> dump\n"
		"va 0x1000 0x1000 A 0x0\n"
		"va 0x2000 0x800 A 0x1000\n"
		"va 0x3000 0x0 A 0x0\n"
		"va 0x3800 0x1800 A 0x2800\n"
		"vm_bo A 4\n"
		"bova 0x1000 0x1000 0x0\n"
		"bova 0x3000 0x0 0x0\n"
		"bova 0x2000 0x800 0x1000\n"
		"bova 0x3800 0x1800 0x2800\n"
		"end\n"
		"> map 0x0 0x0 - 0x0\n"
		"map 0x0 0x0 - 0x0\n"
		"warn insert_failed 0x0 0x0 - 0x0\n"));
	return afx_fini(&fx);
}

/* ------------------------------------------------ snapshots of the state */

/* VA tree plus every vm_bo's VA list, as pointers and values. */
struct state {
	size_t nva;
	struct {
		const struct drm_gpuva *va;
		u64 addr, range, offset;
		const struct drm_gem_object *obj;
		const struct drm_gpuvm_bo *vm_bo;
	} va[MAX_SNAP];
	size_t nbo[NOBJ];
	const struct drm_gpuva *bova[NOBJ][MAX_SNAP];
	const struct drm_gpuvm_bo *vm_bo[NOBJ];
};

static void take_state(struct afx *fx, struct state *s)
{
	struct drm_gpuva *va;

	memset(s, 0, sizeof(*s));
	drm_gpuvm_for_each_va(va, &fx->vm) {
		if (s->nva == MAX_SNAP)
			break;
		s->va[s->nva].va = va;
		s->va[s->nva].addr = va->va.addr;
		s->va[s->nva].range = va->va.range;
		s->va[s->nva].offset = va->gem.offset;
		s->va[s->nva].obj = va->gem.obj;
		s->va[s->nva].vm_bo = va->vm_bo;
		s->nva++;
	}
	for (int i = 0; i < NOBJ; i++) {
		struct drm_gpuvm_bo *vm_bo;

		/* A weak look: no reference, no lock needed single-threaded. */
		drm_gem_for_each_gpuvm_bo(vm_bo, fx->objs[i]) {
			if (vm_bo->vm != &fx->vm)
				continue;
			s->vm_bo[i] = vm_bo;
			drm_gpuvm_bo_for_each_va(va, vm_bo) {
				if (s->nbo[i] < MAX_SNAP)
					s->bova[i][s->nbo[i]++] = va;
			}
		}
	}
}

static bool state_same(const struct state *x, const struct state *y)
{
	return memcmp(x, y, sizeof(*x)) == 0;
}

/* ------------------------------------------------------- -ENOMEM paths */

/*
 *	     0     1     2     3     4     5     6     7     8
 *	     |----A@0----|-B---|-----------A@3P------------|
 *	map:       |-----------------------------|   B @ 0x100000
 *	-> REMAP(prev, A), UNMAP B, REMAP(next, A), MAP: 3 VAs to allocate
 *	unmap [0.5, 0.75): REMAP with prev and next: 2 VAs
 */
static bool apply_inject(struct afx *fx, struct drm_gpuvm_bo *vm_bo, struct drm_gpuva_ops *ops,
			 unsigned long exp_allocs)
{
	struct state before, now;
	long live;
	unsigned long n, count;
	int ret;

	lock_all(fx);
	take_state(fx, &before);
	live = gpuvm_alloc_live();
	for (n = 1;; n++) {
		ASSERT_TRUE(n < 50);
		gpuvm_alloc_fail_nth(n);
		count = gpuvm_alloc_count();
		ret = apply(fx, vm_bo, ops);
		count = gpuvm_alloc_count() - count;
		gpuvm_alloc_fail_nth(0);
		if (ret == 0)
			break;
		ASSERT_EQ(ret, -ENOMEM);
		ASSERT_EQ(count, n);
		ASSERT_EQ(gpuvm_alloc_live(), live);
		take_state(fx, &now);
		ASSERT_TRUE(state_same(&before, &now));
	}
	/* Exactly one allocation per new VA, nothing else. */
	ASSERT_EQ(count, exp_allocs);
	ASSERT_EQ(n - 1, exp_allocs);
	unlock_all(fx);
	return true;
}

static bool test_apply_enomem(void)
{
	struct drm_gpuva_ops *ops;
	struct drm_gpuvm_bo *vm_bo;
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, 0, 0, 1ull << 32, 0, 0));
	ASSERT_TRUE(cmd_map(&fx, 0, 8 * P, OBJ_A, 0));
	ASSERT_TRUE(cmd_map(&fx, 2 * P, P, OBJ_B, 0));

	lock_all(&fx);
	vm_bo = drm_gpuvm_bo_obtain_locked(&fx.vm, fx.objs[OBJ_B]);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	{
		const struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = P, .range = 5 * P },
				 .gem = { .offset = 0x100000, .obj = fx.objs[OBJ_B] } },
		};

		ops = drm_gpuvm_sm_map_ops_create(&fx.vm, &req);
	}
	unlock_all(&fx);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(list_count_nodes(&ops->list), 4);
	ASSERT_TRUE(apply_inject(&fx, vm_bo, ops, 3));
	drm_gpuva_ops_free(&fx.vm, ops);
	lock_all(&fx);
	drm_gpuvm_bo_put_locked(vm_bo);
	unlock_all(&fx);

	fx.len = 0;
	fx.out[0] = '\0';
	cmd_dump(&fx);
	ASSERT_TRUE(out_is(&fx,
		"> dump\n"
		"va 0x0 0x1000 A 0x0\n"
		"va 0x1000 0x5000 B 0x100000\n"
		"va 0x6000 0x2000 A 0x6000\n"
		"vm_bo A 2\n"
		"bova 0x0 0x1000 0x0\n"
		"bova 0x6000 0x2000 0x6000\n"
		"vm_bo B 1 ext\n"
		"bova 0x1000 0x5000 0x100000\n"
		"end\n"));

	/* A hole in the middle of a VA: two pieces. */
	ops = drm_gpuvm_sm_unmap_ops_create(&fx.vm, 2 * P, P);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_TRUE(apply_inject(&fx, NULL, ops, 2));
	drm_gpuva_ops_free(&fx.vm, ops);
	return afx_fini(&fx);
}

/* -------------------------------------------------- apply_ops variations */

/*
 * Linking the pieces before unlinking the old VA keeps the vm_bo, and the
 * GEM it holds the last reference to, alive across a remap:
 *
 *	     0     1     2     3     4
 *	     |---------B@0-----------|   only the VA holds the vm_bo, only the
 *	unmap      |-----|               vm_bo holds B
 */
static bool remap_keeps_vm_bo(u32 apply_flags)
{
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gem_object *b;
	struct drm_gpuva *va;
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, 0, 0, 1ull << 32, 0, 0));
	fx.apply_flags = apply_flags;
	b = fx.objs[OBJ_B];
	ASSERT_TRUE(cmd_map(&fx, 0, 4 * P, OBJ_B, 0));
	/*
	 * Drop our GEM reference: the VA's vm_bo link is all that keeps B
	 * alive. Had the old VA been unlinked before the pieces were linked,
	 * B would be freed under its own held resv (an abort) or used after
	 * being freed.
	 */
	drm_gem_object_put(b);

	ASSERT_TRUE(cmd_unmap(&fx, P, P));
	/* Still one vm_bo, now with the two pieces, prev then next. */
	ASSERT_EQ(list_count_nodes(&b->gpuva.list), 1);
	vm_bo = list_first_entry(&b->gpuva.list, struct drm_gpuvm_bo, list.entry.gem);
	ASSERT_EQ(list_count_nodes(&vm_bo->list.gpuva), 2);
	va = list_first_entry(&vm_bo->list.gpuva, struct drm_gpuva, gem.entry);
	ASSERT_EQ(va->va.addr, 0);
	va = list_last_entry(&vm_bo->list.gpuva, struct drm_gpuva, gem.entry);
	ASSERT_EQ(va->va.addr, 2 * P);
	/* Take a reference back for afx_fini() to drop. */
	drm_gem_object_get(b);
	return afx_fini(&fx);
}

static bool test_apply_remap_keeps_vm_bo_locked(void)
{
	return remap_keeps_vm_bo(GPUVM_APPLY_LOCKED);
}

/*
 * Internally locking link/unlink: nothing held by the caller; the last
 * unmap's unlink frees the vm_bo and with it B after the lock is dropped.
 */
static bool test_apply_unlocked(void)
{
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gem_object *b;
	struct drm_gpuva_ops *ops;
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, 0, 0, 1ull << 32, 0, 0));
	fx.apply_flags = 0;
	b = fx.objs[OBJ_B];
	vm_bo = drm_gpuvm_bo_obtain(&fx.vm, b);
	ASSERT_FALSE(IS_ERR_OR_NULL(vm_bo));
	{
		const struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = 0, .range = 4 * P }, .gem = { .obj = b } },
		};

		ops = drm_gpuvm_sm_map_ops_create(&fx.vm, &req);
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		ASSERT_EQ(apply(&fx, vm_bo, ops), 0);
		drm_gpuva_ops_free(&fx.vm, ops);
	}
	drm_gpuvm_bo_put(vm_bo);
	/* The VA's link is now what keeps the vm_bo; drop our GEM ref too. */
	fx.objs[OBJ_B] = drm_gem_object_create(fx.drm, P, NULL);
	ASSERT_NONNULL(fx.objs[OBJ_B]);
	drm_gem_object_put(b);

	ops = drm_gpuvm_sm_unmap_ops_create(&fx.vm, P, P);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(apply(&fx, NULL, ops), 0);
	drm_gpuva_ops_free(&fx.vm, ops);
	ASSERT_EQ(list_count_nodes(&b->gpuva.list), 1);

	/* Unmapping everything drops the last vm_bo reference, then B. */
	ops = drm_gpuvm_sm_unmap_ops_create(&fx.vm, 0, 4 * P);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(apply(&fx, NULL, ops), 0);
	drm_gpuva_ops_free(&fx.vm, ops);
	ASSERT_TRUE(list_empty(&fx.vm.rb.list));
	return afx_fini(&fx);
}

/*
 * Immediate mode: vm_bo from create + obtain_prealloc, plain link, and
 * unlink_defer, so the dead vm_bo waits on bo_defer until the cleanup.
 */
static bool test_apply_immediate(void)
{
	struct drm_gpuvm_bo *vm_bo;
	struct drm_gem_object *b;
	struct drm_gpuva_ops *ops;
	unsigned long warns = gpuvm_warn_count();
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, DRM_GPUVM_IMMEDIATE_MODE, 0, 1ull << 32, 0, 0));
	fx.apply_flags = 0;
	b = fx.objs[OBJ_B];
	vm_bo = drm_gpuvm_bo_create(&fx.vm, b);
	ASSERT_NONNULL(vm_bo);
	vm_bo = drm_gpuvm_bo_obtain_prealloc(vm_bo);
	{
		const struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = 0, .range = 4 * P }, .gem = { .obj = b } },
		};

		ops = drm_gpuvm_sm_map_ops_create(&fx.vm, &req);
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		ASSERT_EQ(apply(&fx, vm_bo, ops), 0);
		drm_gpuva_ops_free(&fx.vm, ops);
	}
	drm_gpuvm_bo_put_deferred(vm_bo);
	ASSERT_TRUE(llist_empty(&fx.vm.bo_defer));

	ops = drm_gpuvm_sm_unmap_ops_create(&fx.vm, P, 2 * P);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(apply(&fx, NULL, ops), 0);
	drm_gpuva_ops_free(&fx.vm, ops);
	ASSERT_TRUE(llist_empty(&fx.vm.bo_defer));
	ASSERT_EQ(list_count_nodes(&vm_bo->list.gpuva), 2);

	ops = drm_gpuvm_sm_unmap_ops_create(&fx.vm, 0, 4 * P);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	ASSERT_EQ(apply(&fx, NULL, ops), 0);
	drm_gpuva_ops_free(&fx.vm, ops);
	/* The last unlink made the vm_bo a zombie, freed only by the cleanup. */
	ASSERT_FALSE(llist_empty(&fx.vm.bo_defer));
	ASSERT_TRUE(list_empty(&b->gpuva.list));
	drm_gpuvm_bo_deferred_cleanup(&fx.vm);
	ASSERT_TRUE(llist_empty(&fx.vm.bo_defer));
	ASSERT_EQ(gpuvm_warn_count(), warns);
	return afx_fini(&fx);
}

/* ------------------------------------------------------------- ctx hooks */

static struct drm_gpuva *counting_va_alloc(void *priv)
{
	struct afx *fx = priv;

	fx->va_allocs++;
	return kzalloc(sizeof(struct drm_gpuva), GFP_KERNEL);
}

static void counting_va_free(struct drm_gpuva *va, void *priv)
{
	struct afx *fx = priv;

	fx->va_frees++;
	kfree(va);
}

static void counting_va_removed(struct drm_gpuva *va, void *priv)
{
	struct afx *fx = priv;

	/* Called while the VA is still mapped and linked. */
	GPUVM_BUG_ON(!va->vm);
	fx->va_removed++;
}

static int apply_counting(struct afx *fx, struct drm_gpuvm_bo *vm_bo, struct drm_gpuva_ops *ops)
{
	const struct gpuvm_apply_ctx ctx = {
		.flags = GPUVM_APPLY_LOCKED,
		.va_alloc = counting_va_alloc,
		.va_free = counting_va_free,
		.insert_failed = on_insert_failed,
		.va_removed = counting_va_removed,
		.priv = fx,
	};
	int ret;

	lock_all(fx);
	ret = gpuvm_apply_ops(&fx->vm, vm_bo, ops, &ctx);
	unlock_all(fx);
	return ret;
}

/*
 * va_alloc/va_free/va_removed/insert_failed, and flags inherited by pieces:
 *
 *	     0     1     2     3     4
 *	     |----sparse (flags)-----|      map [1,2) GEM-less: REMAP + MAP
 *	     |--s--|--0--|-----s-----|      pieces inherit the flags, the map not
 *	                 Z                  zero-sized VA at 2, after [2,4)
 *	map        |--------|               [1.5,3): REMAP, REMAP, MAP; Z was
 *	                                    not walked but blocks the insert
 */
static bool test_apply_ctx_hooks(void)
{
	const enum drm_gpuva_flags flags = DRM_GPUVA_SPARSE | DRM_GPUVA_USERBITS;
	struct drm_gpuva_ops *ops;
	struct drm_gpuva *va;
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, 0, 0, 1ull << 32, 0, 0));
	ASSERT_TRUE(cmd_map(&fx, 0, 4 * P, -1, 0));
	va = drm_gpuva_find(&fx.vm, 0, 4 * P);
	ASSERT_NONNULL(va);
	va->flags = flags;

	{
		const struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = P, .range = P } },
		};

		ops = drm_gpuvm_sm_map_ops_create(&fx.vm, &req);
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		ASSERT_EQ(apply_counting(&fx, NULL, ops), 0);
		drm_gpuva_ops_free(&fx.vm, ops);
	}
	ASSERT_EQ(fx.va_allocs, 3);
	ASSERT_EQ(fx.va_removed, 1);
	ASSERT_EQ(fx.va_frees, 1);
	ASSERT_EQ(fx.insert_failed, 0);
	ASSERT_NONNULL(va = drm_gpuva_find(&fx.vm, 0, P));
	ASSERT_EQ(va->flags, flags);
	ASSERT_NONNULL(va = drm_gpuva_find(&fx.vm, 2 * P, 2 * P));
	ASSERT_EQ(va->flags, flags);
	ASSERT_NONNULL(va = drm_gpuva_find(&fx.vm, P, P));
	ASSERT_EQ(va->flags, 0);

	ASSERT_TRUE(cmd_map(&fx, 2 * P, 0, -1, 0));
	{
		const struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = P + P / 2, .range = P + P / 2 } },
		};

		fx.va_allocs = fx.va_frees = fx.va_removed = 0;
		ops = drm_gpuvm_sm_map_ops_create(&fx.vm, &req);
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
		ASSERT_EQ(list_count_nodes(&ops->list), 3);
		ASSERT_EQ(apply_counting(&fx, NULL, ops), 0);
		drm_gpuva_ops_free(&fx.vm, ops);
	}
	ASSERT_EQ(fx.va_allocs, 3);
	ASSERT_EQ(fx.va_removed, 2);
	ASSERT_EQ(fx.va_frees, 3);
	ASSERT_EQ(fx.insert_failed, 1);
	ASSERT_NULL(drm_gpuva_find(&fx.vm, P + P / 2, P + P / 2));
	ASSERT_NONNULL(va = drm_gpuva_find(&fx.vm, P, P / 2));
	ASSERT_EQ(va->flags, 0);
	ASSERT_NONNULL(va = drm_gpuva_find(&fx.vm, 3 * P, P));
	ASSERT_EQ(va->flags, flags);

	/* Unmap all: every VA (the zero-sized one included) reported and freed. */
	ops = drm_gpuvm_sm_unmap_ops_create(&fx.vm, 0, 8 * P);
	ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	fx.va_allocs = fx.va_frees = fx.va_removed = 0;
	ASSERT_EQ(apply_counting(&fx, NULL, ops), 0);
	drm_gpuva_ops_free(&fx.vm, ops);
	ASSERT_EQ(fx.va_allocs, 0);
	ASSERT_EQ(fx.va_removed, 4);
	ASSERT_EQ(fx.va_frees, 4);
	ASSERT_TRUE(list_empty(&fx.vm.rb.list));
	return afx_fini(&fx);
}

/* A map op with a GEM needs that GEM's vm_bo; refused before any change. */
static bool test_apply_einval(void)
{
	struct drm_gpuvm_bo *vm_bo_a;
	struct drm_gpuva_ops *ops, *prefetch;
	struct state before, now;
	long live;
	struct afx fx;

	ASSERT_TRUE(afx_init(&fx, 0, 0x1000, 1ull << 32, 0x1000, 0x1000));
	ASSERT_TRUE(cmd_map(&fx, 0x4000, P, OBJ_A, 0));
	{
		const struct drm_gpuvm_map_req req = {
			.map = { .va = { .addr = 0x2000, .range = 0x4000 },
				 .gem = { .obj = fx.objs[OBJ_B] } },
		};

		ops = drm_gpuvm_sm_map_ops_create(&fx.vm, &req);
		ASSERT_FALSE(IS_ERR_OR_NULL(ops));
	}
	lock_all(&fx);
	vm_bo_a = drm_gpuvm_bo_find_locked(&fx.vm, fx.objs[OBJ_A]);
	ASSERT_NONNULL(vm_bo_a);
	take_state(&fx, &before);
	live = gpuvm_alloc_live();
	ASSERT_EQ(apply(&fx, NULL, ops), -EINVAL);
	ASSERT_EQ(apply(&fx, vm_bo_a, ops), -EINVAL);
	take_state(&fx, &now);
	ASSERT_TRUE(state_same(&before, &now));
	ASSERT_EQ(gpuvm_alloc_live(), live);

	/* An UNMAP naming the reserved node (only prefetch lists hold it). */
	prefetch = drm_gpuvm_prefetch_ops_create(&fx.vm, 0, 0x10000);
	ASSERT_FALSE(IS_ERR_OR_NULL(prefetch));
	ASSERT_EQ(list_count_nodes(&prefetch->list), 2);
	drm_gpuva_first_op(prefetch)->op = DRM_GPUVA_OP_UNMAP;
	ASSERT_EQ(apply(&fx, NULL, prefetch), -EINVAL);
	take_state(&fx, &now);
	ASSERT_TRUE(state_same(&before, &now));
	drm_gpuva_first_op(prefetch)->op = DRM_GPUVA_OP_PREFETCH;
	drm_gpuva_ops_free(&fx.vm, prefetch);

	drm_gpuvm_bo_put_locked(vm_bo_a);
	unlock_all(&fx);
	drm_gpuva_ops_free(&fx.vm, ops);
	return afx_fini(&fx);
}

/* ------------------------------------------ randomised model comparison */

#define NPAGES 40

struct page_model {
	bool mapped;
	int obj; /* OBJ_A, OBJ_B or -1 */
	u64 off;
};

static u64 xorshift(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * The tree matches the page model, every GEM-backed VA is linked to its
 * GEM's vm_bo, every vm_bo lists exactly the VAs of its GEM, and a GEM
 * without VAs has no vm_bo left in this VM.
 */
static bool check_model(struct afx *fx, const struct page_model *pm)
{
	bool covered[NPAGES] = { false };
	size_t per_obj[NOBJ] = { 0 };
	struct drm_gpuva *va;

	drm_gpuvm_for_each_va(va, &fx->vm) {
		const u64 first = va->va.addr / P, end = (va->va.addr + va->va.range) / P;

		ASSERT_TRUE(va->va.range > 0);
		for (u64 p = first; p < end; p++) {
			ASSERT_TRUE(p < NPAGES && pm[p].mapped && !covered[p]);
			ASSERT_TRUE(va->gem.obj == (pm[p].obj < 0 ? NULL : fx->objs[pm[p].obj]));
			ASSERT_EQ(pm[p].off, va->gem.offset + (p * P - va->va.addr));
			covered[p] = true;
		}
		if (!va->gem.obj) {
			ASSERT_NULL(va->vm_bo);
			continue;
		}
		ASSERT_NONNULL(va->vm_bo);
		ASSERT_TRUE(va->vm_bo->obj == va->gem.obj);
		ASSERT_TRUE(va->vm_bo->vm == &fx->vm);
		per_obj[va->gem.obj == fx->objs[OBJ_A] ? OBJ_A : OBJ_B]++;
	}
	for (u64 p = 0; p < NPAGES; p++)
		ASSERT_EQ(covered[p], pm[p].mapped);
	for (int i = 0; i < NOBJ; i++) {
		struct drm_gpuvm_bo *vm_bo;
		size_t n = 0;

		drm_gem_for_each_gpuvm_bo(vm_bo, fx->objs[i]) {
			ASSERT_EQ(list_count_nodes(&vm_bo->list.gpuva), per_obj[i]);
			drm_gpuvm_bo_for_each_va(va, vm_bo)
				ASSERT_TRUE(va->vm_bo == vm_bo);
			n++;
		}
		ASSERT_EQ(n, per_obj[i] ? 1 : 0);
	}
	return true;
}

static bool test_apply_random(void)
{
	struct page_model pm[NPAGES];
	u64 seed = 0x2545f4914f6cdd1dull;
	struct afx fx;

	memset(pm, 0, sizeof(pm));
	ASSERT_TRUE(afx_init(&fx, 0, 0, NPAGES * P, 0, 0));
	for (int iter = 0; iter < 2000; iter++) {
		const u64 first = xorshift(&seed) % NPAGES;
		const u64 len = 1 + xorshift(&seed) % (NPAGES - first < 10 ? NPAGES - first : 10);
		const unsigned int kind = xorshift(&seed) % 8;
		int obj = (int)(xorshift(&seed) % 3) - 1;
		u64 off = (xorshift(&seed) % 8) * P;

		if (pm[first].mapped && xorshift(&seed) % 2) {
			obj = pm[first].obj;
			off = pm[first].off;
		}
		fx.len = 0;
		if (kind < 5) {
			ASSERT_TRUE(cmd_map(&fx, first * P, len * P, obj, off));
			for (u64 p = first; p < first + len; p++)
				pm[p] = (struct page_model){ true, obj, off + (p - first) * P };
		} else if (kind < 7) {
			ASSERT_TRUE(cmd_unmap(&fx, first * P, len * P));
			for (u64 p = first; p < first + len; p++)
				pm[p] = (struct page_model){ false, -1, 0 };
		} else {
			const int victim = (int)(xorshift(&seed) % NOBJ);

			ASSERT_TRUE(cmd_bo_unmap(&fx, victim));
			for (u64 p = 0; p < NPAGES; p++) {
				if (pm[p].mapped && pm[p].obj == victim)
					pm[p] = (struct page_model){ false, -1, 0 };
			}
		}
		ASSERT_EQ(fx.insert_failed, 0);
		if (!check_model(&fx, pm)) {
			fprintf(stderr, "iteration %d:\n%s", iter, fx.out);
			return false;
		}
	}
	return afx_fini(&fx);
}

int main(void)
{
	RUN(test_example1);
	RUN(test_example2);
	RUN(test_example3);
	RUN(test_apply_enomem);
	RUN(test_apply_remap_keeps_vm_bo_locked);
	RUN(test_apply_unlocked);
	RUN(test_apply_immediate);
	RUN(test_apply_ctx_hooks);
	RUN(test_apply_einval);
	RUN(test_apply_random);
	return harness_done();
}
