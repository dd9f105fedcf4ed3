"""Kernel behaviour case by case, through the raw C API: what the kernel's
drm_gpuvm does in each corner that the rest of the suite did not yet pin down.

* VM and VA functions used directly: drm_gpuvm_init/get/put on a VM
  the test owns, resv_object_alloc, drm_gpuva_map/remap/unmap, init_from_op,
  link/unlink, the window/reservation corner cases;
* the sm_map case table cell by cell with every keep variant, sm_unmap,
  madvise, prefetch/bo_unmap, the validity rules of every validating entry
  point, and the kernel's edge cases (zero-sized requests, wrap-around,
  identical remaps, walk error propagation, ...);
* allocation failure at every allocation of every ops-list builder and of
  vm_bo creation, with the VM unchanged.

Each sm_map/sm_unmap expectation is checked through the ops-list builder and
through the driver callbacks (drm_gpuvm_sm_map/sm_unmap with a step payload).

Drawings: one character is 0x1000 unless a test says otherwise.
"""

from __future__ import annotations

import errno
import gc

import pytest

import pygpuvm
from pygpuvm._callbacks import Payload
from pygpuvm.raw import ffi, lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

U64 = 1 << 64
MASK = U64 - 1
K = 0x1000

MAP, REMAP, UNMAP, PREFETCH = (lib.DRM_GPUVA_OP_MAP, lib.DRM_GPUVA_OP_REMAP,
                               lib.DRM_GPUVA_OP_UNMAP, lib.DRM_GPUVA_OP_PREFETCH)
OP_W, OP_MAP, VA_W = lib.PYGPUVM_OP_WORDS, lib.PYGPUVM_OP_MAP, lib.PYGPUVM_VA_WORDS


# ====================================================================== fixture


class Fmt:
    """Turns op records into comparable tuples, naming GEM objects."""

    def __init__(self) -> None:
        self.objs: dict[str, object] = {}
        self.names: dict[int, str] = {}

    def name(self, ptr):
        key = ptr if isinstance(ptr, int) else int(ffi.cast("uintptr_t", ptr))
        return None if key == 0 else self.names[key]

    def piece(self, w, at):
        return (w[at], w[at + 1], self.name(w[at + 3]), w[at + 2])

    def fmt(self, w):
        """One op record (u64 words, pygpuvm/_cdef/records.h) as a comparable tuple."""
        op, bits = w[0] & 0xFF, w[0]
        if op == MAP:
            return ("map",) + self.piece(w, OP_MAP)
        span = (w[OP_MAP], w[OP_MAP + 1])
        keep = bool(bits & lib.PYGPUVM_OP_KEEP)
        if op == UNMAP:
            return ("unmap", span, keep)
        if op == REMAP:
            return ("remap", span, keep,
                    self.piece(w, lib.PYGPUVM_OP_PREV_AT) if bits & lib.PYGPUVM_OP_PREV else None,
                    self.piece(w, lib.PYGPUVM_OP_NEXT_AT) if bits & lib.PYGPUVM_OP_NEXT else None)
        if op == PREFETCH:
            return ("prefetch", span,
                    "kernel" if bits & lib.PYGPUVM_OP_KERNEL else self.name(w[OP_MAP + 3]))
        raise AssertionError(f"unexpected op {op}")


class World(Fmt):
    """A raw VM (binding helper pygpuvm_vm_create: kernel functions only from
    here on) plus named GEM objects. VAs made by va() are library-owned and
    linked to their vm_bo; close() frees everything."""

    def __init__(self, start=0, range_=1 << 48, roff=0, rrange=0, flags=0):
        super().__init__()
        self.vm = lib.pygpuvm_vm_create(b"kc", flags, start, range_, roff, rrange)
        assert self.vm != ffi.NULL

    def bo(self, name: str, size: int = 1 << 24):
        obj = lib.drm_gem_object_create(ffi.NULL, size, ffi.NULL)
        assert obj != ffi.NULL
        self.objs[name] = obj
        self.names[int(ffi.cast("uintptr_t", obj))] = name
        return obj

    def obj(self, name):
        return ffi.NULL if name is None else self.objs[name]

    def va(self, addr, range_, obj=None, offset=0):
        err = ffi.new("int *")
        va = lib.gpuvm_driver_va_insert(self.vm, addr, range_, self.obj(obj), offset, err)
        assert va != ffi.NULL, f"insert failed: {err[0]}"
        return va

    def read(self, ops):
        """Ops list -> list of tuples; frees the list."""
        assert ops != ffi.NULL and not lib.IS_ERR(ops)
        recs = ffi.new("u64[]", 64 * OP_W)
        n = lib.pygpuvm_ops_recs(ops, recs, 64)
        assert n <= 64
        out = [self.fmt(ffi.unpack(recs + i * OP_W, OP_W)) for i in range(n)]
        lib.drm_gpuva_ops_free(self.vm, ops)
        return out

    def map_ops(self, addr, range_, obj=None, offset=0):
        return self.read(lib.pygpuvm_sm_map_ops(self.vm, addr, range_, self.obj(obj), offset,
                                                False))

    def madvise_ops(self, addr, range_, obj=None, offset=0):
        return self.read(lib.pygpuvm_sm_map_ops(self.vm, addr, range_, self.obj(obj), offset,
                                                True))

    def unmap_ops(self, addr, range_):
        return self.read(lib.drm_gpuvm_sm_unmap_ops_create(self.vm, addr, range_))

    def map_steps(self, addr, range_, obj=None, offset=0, steps=None):
        steps = steps or Steps(self)
        req = map_req(addr, range_, self.obj(obj), offset)
        ret = lib.drm_gpuvm_sm_map(self.vm, ffi.new_handle(steps), req)
        steps.reraise()
        return ret, steps.seen

    def unmap_steps(self, addr, range_, steps=None):
        steps = steps or Steps(self)
        ret = lib.drm_gpuvm_sm_unmap(self.vm, ffi.new_handle(steps), addr, range_)
        steps.reraise()
        return ret, steps.seen

    def vas(self):
        """Every VA but the reserved node, as (addr, range, obj, offset)."""
        recs = ffi.new("u64[]", 256 * VA_W)
        n = lib.pygpuvm_vm_collect_recs(self.vm, 0, 0, True, True, recs, 256)
        assert n <= 256
        w = ffi.unpack(recs, n * VA_W)
        return [(w[i + 1], w[i + 2], self.name(w[i + 4]), w[i + 3])
                for i in range(0, n * VA_W, VA_W)]

    def state(self):
        """Everything an operation that failed must not have changed."""
        objs = [self.objs[n] for n in sorted(self.objs)]
        return (self.vas(), lib.pygpuvm_vm_refcount(self.vm),
                [lib.pygpuvm_gem_refcount(o) for o in objs],
                [lib.gpuvm_driver_gem_vm_bos(o, ffi.NULL, 0) for o in objs])

    def close(self):
        lib.pygpuvm_vm_release(self.vm)
        for obj in self.objs.values():
            lib.drm_gem_object_put(obj)
        self.objs.clear()


@pytest.fixture
def world():
    made = []

    def make(*args, **kw):
        w = World(*args, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def map_req(addr, range_, obj=ffi.NULL, offset=0):
    req = ffi.new("struct drm_gpuvm_map_req *")
    req.map.va.addr, req.map.va.range = addr, range_
    req.map.gem.obj, req.map.gem.offset = obj, offset
    return req


class Steps(Payload):
    """Driver callbacks for drm_gpuvm_sm_map/sm_unmap: record every step; with
    fail_at=i the i-th step returns ret; with drive=True each step is applied
    to the tree the way an immediate-mode driver does (panthor)."""

    def __init__(self, world, fail_at=None, ret=-errno.EIO, drive=False, hook=None):
        super().__init__()
        self.world, self.fail_at, self.ret, self.drive, self.hook = (
            world, fail_at, ret, drive, hook)
        self.seen: list = []
        self.failed: list = []

    def step(self, op, name):
        rec = ffi.new("u64[]", OP_W)
        lib.pygpuvm_op_rec(op, rec)
        self.seen.append(self.world.fmt(ffi.unpack(rec, OP_W)))
        expect = {MAP: "sm_step_map", REMAP: "sm_step_remap", UNMAP: "sm_step_unmap"}
        assert expect[op.op] == name
        if self.fail_at is not None and len(self.seen) - 1 == self.fail_at:
            return self.ret
        if self.hook:
            self.hook(self, op)
        if self.drive:
            self.apply(op)
        return 0

    def apply(self, op):
        w = self.world
        if op.op == MAP:
            m = op.map
            if m.va.range:
                err = ffi.new("int *")
                if lib.gpuvm_driver_va_insert(w.vm, m.va.addr, m.va.range, m.gem.obj,
                                         m.gem.offset, err) == ffi.NULL:
                    self.failed.append((m.va.addr, m.va.range, err[0]))
        elif op.op == REMAP:
            old = op.remap.unmap.va
            lib.gpuvm_driver_va_destroy(old)
            for p in (op.remap.prev, op.remap.next):
                if p != ffi.NULL:
                    w.va(p.va.addr, p.va.range, w.name(p.gem.obj), p.gem.offset)
        elif op.op == UNMAP:
            lib.gpuvm_driver_va_destroy(op.unmap.va)


class NoWarn:
    """Assert that no C WARN fires inside the block."""

    def __enter__(self):
        self.count = lib.gpuvm_warn_count()

    def __exit__(self, *exc):
        assert lib.gpuvm_warn_count() == self.count, "unexpected C WARN"


def exec_run(fn):
    """Run fn(exec) in a drm_exec loop as drm_exec_until_all_locked does;
    returns (ret, [locked objects], exec) with the exec still locked."""
    ex = ffi.new("struct drm_exec *")
    lib.drm_exec_init(ex, lib.DRM_EXEC_IGNORE_DUPLICATES, 0)
    ret = 0
    while lib.drm_exec_cleanup(ex):
        ret = fn(ex)
        if lib.drm_exec_is_contended(ex):
            continue
    return ret, [ex.objects[i] for i in range(ex.num_objects)], ex


# ============================================================= VM and VA functions


def test_init_put_on_a_vm_the_caller_owns():
    # drm_gpuvm_init on caller memory, r_obj from drm_gpuvm_resv_object_alloc,
    # no vm_free: the last put runs fini and WARNs (the kernel leaks the VM;
    # here the memory is the test's, so nothing leaks).
    live = lib.gpuvm_alloc_live()
    r_obj = lib.drm_gpuvm_resv_object_alloc(ffi.NULL)
    assert r_obj != ffi.NULL
    assert r_obj.size == 0 and r_obj.resv != ffi.NULL and r_obj.resv_obj == ffi.NULL
    assert lib.pygpuvm_gem_refcount(r_obj) == 1
    vm = ffi.new("struct drm_gpuvm *")
    ops = ffi.new("struct drm_gpuvm_ops *")
    with NoWarn():
        lib.drm_gpuvm_init(vm, ffi.NULL, lib.DRM_GPUVM_USERBITS, ffi.NULL, r_obj,
                           0x1000, 0xF000, 0, 0, ops)
    assert ffi.string(vm.name) == b"unknown"
    assert vm.flags == lib.DRM_GPUVM_USERBITS and vm.ops == ops and vm.r_obj == r_obj
    assert lib.pygpuvm_gem_refcount(r_obj) == 2            # the VM's reference
    lib.drm_gem_object_put(r_obj)                            # as drivers do after init
    assert lib.drm_gpuvm_resv(vm) == r_obj.resv and lib.drm_gpuvm_resv_obj(vm) == r_obj
    assert not lib.drm_gpuvm_resv_protected(vm) and not lib.drm_gpuvm_immediate_mode(vm)
    # No reservation: the node stays empty and is not in the tree.
    assert vm.kernel_alloc_node.va.range == 0 and not vm.kernel_alloc_node_inserted
    assert lib.drm_gpuva_find_first(vm, 0, 0) == ffi.NULL

    assert lib.drm_gpuvm_get(vm) == vm
    assert lib.pygpuvm_vm_refcount(vm) == 2
    lib.drm_gpuvm_put(vm)
    assert lib.pygpuvm_vm_refcount(vm) == 1 and vm.name != ffi.NULL
    lib.drm_gpuvm_put(ffi.NULL)                              # NULL-safe
    with pytest.warns(pygpuvm.GpuvmWarning, match="vm_free is missing"):
        lib.drm_gpuvm_put(vm)
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    assert vm.name == ffi.NULL                               # fini ran
    assert lib.gpuvm_alloc_live() == live                    # r_obj went with fini


def test_missing_step_callbacks():
    # sm_map needs all three steps, sm_unmap only remap and unmap.
    r_obj = lib.drm_gpuvm_resv_object_alloc(ffi.NULL)
    vm = ffi.new("struct drm_gpuvm *")
    ops = ffi.new("struct drm_gpuvm_ops *")
    lib.drm_gpuvm_init(vm, b"cb", 0, ffi.NULL, r_obj, 0, 1 << 32, 0, 0, ops)
    lib.drm_gem_object_put(r_obj)
    w = Fmt()
    va = ffi.new("struct drm_gpuva *")
    lib.drm_gpuva_init_lists(va)
    va.va.addr, va.va.range = 0x2000, 0x2000
    assert lib.drm_gpuva_insert(vm, va) == 0
    req = map_req(0x3000, 0x2000)

    def run(fn, *args):
        steps = Steps(w)
        ret = fn(vm, ffi.new_handle(steps), *args)
        steps.reraise()
        return ret, steps.seen

    assert run(lib.drm_gpuvm_sm_map, req) == (-errno.EINVAL, [])
    assert run(lib.drm_gpuvm_sm_unmap, 0x3000, 0x2000) == (-errno.EINVAL, [])
    ops.sm_step_remap = lib._pygpuvm_sm_step_remap
    assert run(lib.drm_gpuvm_sm_map, req) == (-errno.EINVAL, [])
    assert run(lib.drm_gpuvm_sm_unmap, 0x3000, 0x2000) == (-errno.EINVAL, [])
    ops.sm_step_unmap = lib._pygpuvm_sm_step_unmap
    # sm_unmap is complete now; sm_map still lacks sm_step_map.
    assert run(lib.drm_gpuvm_sm_map, req) == (-errno.EINVAL, [])
    remap = ("remap", (0x2000, 0x2000), False, (0x2000, 0x1000, None, 0), None)
    assert run(lib.drm_gpuvm_sm_unmap, 0x3000, 0x2000) == (0, [remap])
    ops.sm_step_map = lib._pygpuvm_sm_step_map
    assert run(lib.drm_gpuvm_sm_map, req) == (0, [remap, ("map", 0x3000, 0x2000, None, 0)])
    # A VM without an ops table at all: the same -EINVAL.
    vm.ops = ffi.NULL
    assert run(lib.drm_gpuvm_sm_map, req) == (-errno.EINVAL, [])
    assert run(lib.drm_gpuvm_sm_unmap, 0x3000, 0x2000) == (-errno.EINVAL, [])
    vm.ops = ops
    lib.drm_gpuva_remove(va)
    with pytest.warns(pygpuvm.GpuvmWarning, match="vm_free is missing"):
        lib.drm_gpuvm_put(vm)
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs


def test_resv_object_alloc_failure():
    live = lib.gpuvm_alloc_live()
    lib.gpuvm_alloc_fail_nth(1)
    assert lib.drm_gpuvm_resv_object_alloc(ffi.NULL) == ffi.NULL
    lib.gpuvm_alloc_fail_nth(0)
    assert lib.gpuvm_alloc_live() == live


def test_vm_refs_follow_vas_and_vm_bos(world):
    w = world()
    a = w.bo("A")
    assert lib.pygpuvm_vm_refcount(w.vm) == 1
    va = w.va(0x1000, 0x1000, "A")
    # +1 for the VA, +1 for the vm_bo; the vm_bo holds one GEM reference.
    assert lib.pygpuvm_vm_refcount(w.vm) == 3
    assert lib.pygpuvm_gem_refcount(a) == 2
    lib.gpuvm_driver_va_destroy(va)
    assert lib.pygpuvm_vm_refcount(w.vm) == 1 and lib.pygpuvm_gem_refcount(a) == 1


def test_gpuva_map_remap_unmap_raw(world):
    #   0   1   2   3   4   5   6   7   8
    #   ....OOOOOOOOOOOOOOOO....              O: the old VA, mapped with drm_gpuva_map
    #   ....PPPP........NNNN....              after drm_gpuva_remap with [2, 4) cut out
    w = world()
    a = w.bo("A")
    old, prev, nxt, clash = (ffi.new("struct drm_gpuva *") for _ in range(4))
    for v in (old, prev, nxt, clash):
        lib.drm_gpuva_init_lists(v)
    op = ffi.new("struct drm_gpuva_op_map *")
    op.va.addr, op.va.range, op.gem.obj, op.gem.offset = 0x1000, 0x4000, a, 0x100
    old.flags = lib.DRM_GPUVA_SPARSE
    lib.drm_gpuva_map(w.vm, old, op)
    # init_from_op copies address and GEM, never the flags.
    assert (old.va.addr, old.va.range, old.gem.obj, old.gem.offset) == (0x1000, 0x4000, a, 0x100)
    assert old.flags == lib.DRM_GPUVA_SPARSE and old.vm == w.vm
    assert lib.drm_gpuva_find(w.vm, 0x1000, 0x4000) == old
    assert lib.pygpuvm_vm_refcount(w.vm) == 2
    # A map that overlaps is silently not inserted, and takes no VM ref.
    with NoWarn():
        lib.drm_gpuva_map(w.vm, clash, op)
    assert clash.vm == ffi.NULL and lib.pygpuvm_vm_refcount(w.vm) == 2
    assert (clash.va.addr, clash.va.range) == (0x1000, 0x4000)
    assert lib.drm_gpuva_find(w.vm, 0x1000, 0x4000) == old

    ops = lib.drm_gpuvm_sm_unmap_ops_create(w.vm, 0x2000, 0x2000)
    first = lib.drm_gpuva_first_op(ops)
    assert first.op == REMAP and first.remap.unmap.va == old
    lib.drm_gpuva_remap(prev, nxt, ffi.addressof(first, "remap"))
    # The old VA is out (its vm kept), the pieces are in the old VA's VM, with
    # no flags (drivers copy them), one VM reference each.
    assert lib.drm_gpuva_find(w.vm, 0x1000, 0x4000) == ffi.NULL and old.vm == w.vm
    assert lib.drm_gpuva_find(w.vm, 0x1000, 0x1000) == prev
    assert lib.drm_gpuva_find(w.vm, 0x4000, 0x1000) == nxt
    assert (prev.gem.obj, prev.gem.offset, nxt.gem.offset) == (a, 0x100, 0x3100)
    assert prev.flags == 0 and nxt.flags == 0
    assert lib.pygpuvm_vm_refcount(w.vm) == 3
    lib.drm_gpuva_ops_free(w.vm, ops)

    # A remap whose piece cannot be inserted: it stays out, the rest happens.
    blocker = w.va(0x6000, 0x1000)
    ops = lib.drm_gpuvm_sm_unmap_ops_create(w.vm, 0x4000, 0x800)
    first = lib.drm_gpuva_first_op(ops)
    assert first.remap.prev == ffi.NULL
    first.remap.next.va.range = 0x2000                       # now overlaps the blocker
    piece = ffi.new("struct drm_gpuva *")
    lib.drm_gpuva_init_lists(piece)
    with NoWarn():
        lib.drm_gpuva_remap(ffi.NULL, piece, ffi.addressof(first, "remap"))
    assert piece.vm == ffi.NULL and lib.drm_gpuva_find_first(w.vm, 0x4000, 0x2000) == ffi.NULL
    lib.drm_gpuva_ops_free(w.vm, ops)

    unmap = ffi.new("struct drm_gpuva_op_unmap *")
    for v in (prev,):
        unmap.va = v
        lib.drm_gpuva_unmap(unmap)
    assert w.vas() == [(0x6000, 0x1000, None, 0)]
    lib.gpuvm_driver_va_destroy(blocker)
    assert lib.pygpuvm_vm_refcount(w.vm) == 1


def test_link_unlink_raw(world):
    w = world()
    a, b = w.bo("A"), w.bo("B")
    vm_bo = lib.drm_gpuvm_bo_obtain(w.vm, a)
    assert not lib.IS_ERR(vm_bo) and lib.pygpuvm_vm_bo_refcount(vm_bo) == 1
    va, sparse = ffi.new("struct drm_gpuva *"), ffi.new("struct drm_gpuva *")
    for v in (va, sparse):
        lib.drm_gpuva_init_lists(v)
    va.va.addr, va.va.range, va.gem.obj = 0x1000, 0x1000, a
    sparse.va.addr, sparse.va.range = 0x2000, 0x1000
    assert lib.drm_gpuva_insert(w.vm, va) == 0
    assert lib.drm_gpuva_insert(w.vm, sparse) == 0
    with NoWarn():
        lib.drm_gpuva_link(va, vm_bo)
        lib.drm_gpuva_link(sparse, vm_bo)                   # no GEM: a no-op
    assert va.vm_bo == vm_bo and sparse.vm_bo == ffi.NULL
    assert lib.pygpuvm_vm_bo_refcount(vm_bo) == 2
    out = ffi.new("u64[]", 4 * VA_W)
    assert lib.pygpuvm_vm_bo_va_recs(vm_bo, out, 4) == 1
    assert out[0] == int(ffi.cast("uintptr_t", va))
    # The _locked forms need the GEM's gpuva lock (its resv in staged mode).
    with pytest.warns(pygpuvm.GpuvmWarning, match="lock not held"):
        lib.drm_gpuva_unlink_locked(va)
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    assert va.vm_bo == ffi.NULL and lib.pygpuvm_vm_bo_refcount(vm_bo) == 1
    assert lib.dma_resv_lock(a.resv, ffi.NULL) == 0
    with NoWarn():
        lib.drm_gpuva_link_locked(va, vm_bo)
    lib.dma_resv_unlock(a.resv)
    # Unlink after remove still works: va->vm survives the remove.
    lib.drm_gpuva_remove(va)
    assert va.vm == w.vm and va.vm_bo == vm_bo
    with NoWarn():
        lib.drm_gpuva_unlink(va)
        lib.drm_gpuva_unlink(sparse)
        lib.drm_gpuva_unlink(va)                            # not linked any more: no-op
    assert va.vm_bo == ffi.NULL and lib.pygpuvm_vm_bo_refcount(vm_bo) == 1
    # A VA whose GEM is not the vm_bo's: WARN, linked all the same.
    va.gem.obj = b
    with pytest.warns(pygpuvm.GpuvmWarning, match="differs"):
        lib.drm_gpuva_link(va, vm_bo)
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    assert va.vm_bo == vm_bo
    va.gem.obj = a
    lib.drm_gpuva_unlink(va)
    lib.drm_gpuva_remove(sparse)
    assert lib.drm_gpuvm_bo_put(vm_bo)                      # the last reference
    assert lib.gpuvm_driver_gem_vm_bos(a, ffi.NULL, 0) == 0


def test_obtain_and_create_allocation_failure(world):
    # Every allocation of vm_bo creation fails cleanly: NULL / ERR_PTR(-ENOMEM)
    # and the object's vm_bo list, the refcounts and the tree are unchanged.
    for flags in (0, lib.DRM_GPUVM_RESV_PROTECTED, lib.DRM_GPUVM_IMMEDIATE_MODE):
        w = world(flags=flags)
        a = w.bo("A")
        w.va(0x1000, 0x1000, "A")
        b = w.bo("B")
        before = w.state()
        lib.gpuvm_alloc_fail_nth(1)
        assert lib.drm_gpuvm_bo_create(w.vm, b) == ffi.NULL
        lib.gpuvm_alloc_fail_nth(1)
        vm_bo = lib.drm_gpuvm_bo_obtain(w.vm, b)
        assert lib.IS_ERR(vm_bo) and lib.PTR_ERR(vm_bo) == -errno.ENOMEM
        if not flags & lib.DRM_GPUVM_IMMEDIATE_MODE:
            assert lib.dma_resv_lock(b.resv, ffi.NULL) == 0
            lib.gpuvm_alloc_fail_nth(1)
            vm_bo = lib.drm_gpuvm_bo_obtain_locked(w.vm, b)
            lib.dma_resv_unlock(b.resv)
            assert lib.IS_ERR(vm_bo) and lib.PTR_ERR(vm_bo) == -errno.ENOMEM
        lib.gpuvm_alloc_fail_nth(0)
        assert w.state() == before
        # An existing vm_bo is found without allocating at all.
        lib.gpuvm_alloc_fail_nth(1)
        found = lib.drm_gpuvm_bo_obtain(w.vm, a)
        lib.gpuvm_alloc_fail_nth(0)
        assert not lib.IS_ERR(found) and found.obj == a
        lib.gpuvm_driver_bo_put(found)


def test_reserved_node_outside_the_window(world):
    #   window [0x10000, 0x20000), reserved [0x30000, 0x31000): allowed
    w = world(0x10000, 0x10000, 0x30000, 0x1000)
    node = ffi.addressof(w.vm, "kernel_alloc_node")
    assert w.vm.kernel_alloc_node_inserted
    assert lib.drm_gpuva_find_first(w.vm, 0, U64 - 1) == node
    assert lib.drm_gpuvm_range_valid(w.vm, 0x10000, 0x10000)     # the whole window
    assert not lib.drm_gpuvm_range_valid(w.vm, 0x30000, 0x1000)  # outside anyway
    assert not lib.drm_gpuvm_interval_empty(w.vm, 0x30800, 1)
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 0x2F000, 0x3000)) == [
        ("prefetch", (0x30000, 0x1000), "kernel")]
    w.va(0x1F000, 0x1000)
    assert lib.drm_gpuva_find_next(w.vm, 0x1F000) != ffi.NULL
    assert lib.drm_gpuva_find_next(w.vm, 0x30000) == ffi.NULL    # outside the window


def test_window_end_overflow_uses_the_wrapped_end():
    # start + range wraps to 0x1000: init only WARNs, every later comparison
    # uses the wrapped end, so no request fits.
    with pytest.warns(pygpuvm.GpuvmWarning, match="GPUVA address limited"):
        vm = lib.pygpuvm_vm_create(b"wrap", 0, U64 - 0x1000, 0x2000, 0, 0)
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    try:
        assert (vm.mm_start, vm.mm_range) == (U64 - 0x1000, 0x2000)
        for addr, rng in [(U64 - 0x1000, 0x800), (U64 - 0x1000, 0x1000), (U64 - 0x1000, 0),
                          (0, 0x800), (0x800, 0)]:
            assert not lib.drm_gpuvm_range_valid(vm, addr, rng), (hex(addr), rng)
        va = ffi.new("struct drm_gpuva *")
        lib.drm_gpuva_init_lists(va)
        va.va.addr, va.va.range = U64 - 0x1000, 0x800
        assert lib.drm_gpuva_insert(vm, va) == -errno.EINVAL
        ops = lib.drm_gpuvm_sm_unmap_ops_create(vm, U64 - 0x1000, 0x800)
        assert lib.IS_ERR(ops) and lib.PTR_ERR(ops) == -errno.EINVAL
        assert lib.drm_gpuva_find_next(vm, U64 - 0x1000) == ffi.NULL
    finally:
        lib.drm_gpuvm_put(vm)


def test_unvalidated_lookups_wrap(world):
    # find_first/interval_empty/prefetch take addr + range modulo 2^64:
    # [0x3000, 0x3000 + 2^64 - 1) is the query [0x3000, 0x2ffe], which only a
    # VA containing both 0x2ffe and 0x3000 meets; nothing is refused.
    #   0   1   2   3   4   5
    #   KKKK....SSSSSSSS....VVVV           S spans 0x3000, V lies beyond
    w = world(0, 1 << 48, 0, 0x1000)
    s = w.va(0x2000, 0x2000)
    w.va(0x5000, 0x1000)
    assert lib.drm_gpuva_find_first(w.vm, 0x3000, MASK) == s
    assert not lib.drm_gpuvm_interval_empty(w.vm, 0x3000, MASK)
    assert lib.drm_gpuvm_interval_empty(w.vm, 0x4800, MASK)   # nothing spans 0x4800
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 0x3000, MASK)) == [
        ("prefetch", (0x2000, 0x2000), None)]
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 0x4800, MASK)) == []
    # Queries far outside the window are answered, not refused.
    assert lib.drm_gpuva_find_first(w.vm, 1 << 60, 0x1000) == ffi.NULL
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 1 << 60, 0x1000)) == []
    # The validated paths refuse the same ranges.
    assert lib.PTR_ERR(lib.drm_gpuvm_sm_unmap_ops_create(w.vm, 0x3000, MASK)) == -errno.EINVAL


def test_find_prev_next_at_the_window_edges(world):
    #   window [0x10000, 0x20000), VAs at both ends
    w = world(0x10000, 0x10000)
    lo = w.va(0x10000, 0x1000)
    hi = w.va(0x1F000, 0x1000)
    assert lib.drm_gpuva_find_prev(w.vm, 0x10000) == ffi.NULL    # start - 1 outside
    assert lib.drm_gpuva_find_prev(w.vm, 0x11000) == lo
    assert lib.drm_gpuva_find_next(w.vm, 0x1F000) == hi
    assert lib.drm_gpuva_find_next(w.vm, 0x1FFFF) == hi           # [end, end+1]: end+1 is out
    assert lib.drm_gpuva_find_next(w.vm, 0x20000) == ffi.NULL    # end outside
    assert lib.drm_gpuva_find_prev(w.vm, 0) == ffi.NULL          # start - 1 wraps


# ============================================================ the sm_map case table

# The existing VA: [0x4000, 0x8000) at offset f = 0x10000.
#   0   1   2   3   4   5   6   7   8   9   a
#   ................OOOOOOOOOOOOOOOO........
# For each cell of the sm_map case table: the request (A, R), the offset F that makes the
# request contiguous with the VA, and the step (pieces spelled out).
F0 = 0x10000
SM_MAP_CELLS = {
    # a == A
    "a=A,e=E": (0x4000, 0x4000, 0x10000, None),
    "a=A,e<E": (0x4000, 0x6000, 0x10000, None),
    "a=A,e>E": (0x4000, 0x1000, 0x10000, (None, (0x5000, 0x3000, 0x11000))),
    # a < A
    "a<A,e=E": (0x6000, 0x2000, 0x12000, ((0x4000, 0x2000, F0), None)),
    "a<A,e<E": (0x6000, 0x4000, 0x12000, ((0x4000, 0x2000, F0), None)),
    "a<A,e>E": (0x5000, 0x1000, 0x11000, ((0x4000, 0x1000, F0), (0x6000, 0x2000, 0x12000))),
    # a > A
    "a>A,e=E": (0x2000, 0x6000, 0xE000, None),
    "a>A,e<E": (0x2000, 0x8000, 0xE000, None),
    "a>A,e>E": (0x2000, 0x4000, 0xE000, (None, (0x6000, 0x2000, 0x12000))),
}

# keep variants: (VA object, request object, offset delta from the aligned F, keep)
KEEP_VARIANTS = {
    "contiguous": ("A", "A", 0, True),
    "other-offset": ("A", "A", 0x1000, False),
    "other-object": ("A", "B", 0, False),
    "request-without-object": ("A", None, 0, False),
    "va-without-object": (None, "A", 0, False),
    "neither-has-an-object": (None, None, 0, False),   # still keep=0
}


def expected_map_ops(cell, variant):
    A, R, F, pieces = SM_MAP_CELLS[cell]
    vobj, robj, delta, keep = KEEP_VARIANTS[variant]
    F = (F + delta) & MASK
    if pieces is None:
        first = ("unmap", (0x4000, 0x4000), keep)
    else:
        prev, nxt = pieces
        first = ("remap", (0x4000, 0x4000), keep,
                 prev and (prev[0], prev[1], vobj, prev[2]),
                 nxt and (nxt[0], nxt[1], vobj, nxt[2]))
    return A, R, robj, F, vobj, [first, ("map", A, R, robj, F)]


@pytest.mark.parametrize("variant", list(KEEP_VARIANTS))
@pytest.mark.parametrize("cell", list(SM_MAP_CELLS))
def test_sm_map_case_table(world, cell, variant):
    A, R, robj, F, vobj, expect = expected_map_ops(cell, variant)
    w = world()
    w.bo("A")
    w.bo("B")
    w.va(0x4000, 0x4000, vobj, F0)
    # Neighbours outside [A, E) are never part of the walk.
    w.va(0x1000, 0x1000, "B", 0)
    w.va(0xA000, 0x1000, "B", 0)
    before = w.state()
    with NoWarn():
        assert w.map_ops(A, R, robj, F) == expect
        assert w.map_steps(A, R, robj, F) == (0, expect)
    assert w.state() == before                     # building and walking change nothing
    # Applied by a driver inside the walk, the request ends up mapped as asked.
    ret, _ = w.map_steps(A, R, robj, F, steps=Steps(w, drive=True))
    assert ret == 0
    layout = w.vas()
    assert (A, R, robj, F) in layout
    covered = sum(r for (a, r, _, _) in layout if a < 0x9000 and a + r > 0x2000)
    assert covered == max(0x8000, A + R) - min(0x4000, A)


def test_sm_map_spanning_several_vas_in_address_order(world):
    #   0   1   2   3   4   5   6   7   8   9
    #   ....AAAAAAAA....BBBB....AAAAAAAA....
    #           [==== map C =======]
    w = world()
    for n in "ABC":
        w.bo(n)
    w.va(0x1000, 0x2000, "A", 0)
    w.va(0x4000, 0x1000, "B", 0)
    w.va(0x6000, 0x2000, "A", 0x6000)
    expect = [
        ("remap", (0x1000, 0x2000), False, (0x1000, 0x1000, "A", 0), None),
        ("unmap", (0x4000, 0x1000), False),
        ("remap", (0x6000, 0x2000), False, None, (0x7000, 0x1000, "A", 0x7000)),
        ("map", 0x2000, 0x5000, "C", 0),
    ]
    assert w.map_ops(0x2000, 0x5000, "C", 0) == expect
    assert w.map_steps(0x2000, 0x5000, "C", 0) == (0, expect)
    # Object A at offset 0x1000 is contiguous with the first VA only: keep is
    # decided VA by VA.
    ops = w.map_ops(0x2000, 0x5000, "A", 0x1000)
    assert [op[2] for op in ops[:3]] == [True, False, False]


def test_keep_and_offsets_wrap_around_2_64(world):
    #   the VA's offset is 2^64 - 0x1000: pieces and keep use u64 arithmetic
    w = world()
    w.bo("A")
    f = U64 - 0x1000
    w.va(0x4000, 0x4000, "A", f)
    expect = [("remap", (0x4000, 0x4000), True, (0x4000, 0x1000, "A", f),
               (0x6000, 0x2000, "A", 0x1000)),
              ("map", 0x5000, 0x1000, "A", 0)]
    assert w.map_ops(0x5000, 0x1000, "A", 0) == expect
    assert w.map_steps(0x5000, 0x1000, "A", 0) == (0, expect)
    # a > A: keep needs f == F + (a - A), again modulo 2^64.
    assert w.map_ops(0x3000, 0x6000, "A", U64 - 0x2000)[0] == ("unmap", (0x4000, 0x4000), True)


def test_remap_pieces_never_zero_sized(world):
    # Exhaustive over requests around one VA [4, 8) (units of 0x1000): a prev
    # piece exactly when a < A, a next piece exactly when e > E, never empty,
    # together with the hole exactly covering the old VA.
    w = world()
    w.bo("A")
    w.va(0x4000, 0x4000, "A", F0)
    for start in range(2, 10):
        for end in range(start + 1, 11):
            A, R = start * K, (end - start) * K
            ops = w.map_ops(A, R, "A", 0)
            assert ops[-1] == ("map", A, R, "A", 0)
            if end <= 4 or start >= 8:
                assert ops == [ops[-1]]
                continue
            op = ops[0]
            if A <= 0x4000 and A + R >= 0x8000:
                assert op[0] == "unmap"
                continue
            assert op[0] == "remap"
            prev, nxt = op[3], op[4]
            assert (prev is not None) == (0x4000 < A)
            assert (nxt is not None) == (A + R < 0x8000)
            for p in (prev, nxt):
                assert p is None or p[1] > 0
            lo = prev[0] + prev[1] if prev else 0x4000
            hi = nxt[0] if nxt else 0x8000
            assert (lo, hi) == (max(A, 0x4000), min(A + R, 0x8000))
            if nxt:
                assert nxt[3] == F0 + (nxt[0] - 0x4000)


# =============================================================== sm_unmap

SM_UNMAP_CELLS = {
    "exact": (0x4000, 0x4000, None),
    "a=A,e<E": (0x4000, 0x6000, None),
    "a=A,e>E": (0x4000, 0x1000, (None, (0x5000, 0x3000, "A", 0x11000))),
    "a<A,e=E": (0x6000, 0x2000, ((0x4000, 0x2000, "A", F0), None)),
    "a<A,e<E": (0x6000, 0x4000, ((0x4000, 0x2000, "A", F0), None)),
    "a<A,e>E": (0x5000, 0x1000, ((0x4000, 0x1000, "A", F0), (0x6000, 0x2000, "A", 0x12000))),
    "a>A,e=E": (0x2000, 0x6000, None),
    "a>A,e<E": (0x2000, 0x8000, None),
    "a>A,e>E": (0x2000, 0x4000, (None, (0x6000, 0x2000, "A", 0x12000))),
}


@pytest.mark.parametrize("cell", list(SM_UNMAP_CELLS))
def test_sm_unmap_case_table(world, cell):
    A, R, pieces = SM_UNMAP_CELLS[cell]
    w = world()
    w.bo("A")
    w.va(0x4000, 0x4000, "A", F0)
    if pieces is None:
        expect = [("unmap", (0x4000, 0x4000), False)]      # keep is never set
    else:
        expect = [("remap", (0x4000, 0x4000), False) + pieces]
    assert w.unmap_ops(A, R) == expect
    assert w.unmap_steps(A, R) == (0, expect)
    steps = Steps(w, drive=True)
    assert w.unmap_steps(A, R, steps=steps) == (0, expect)
    assert lib.drm_gpuvm_interval_empty(w.vm, A, R)
    # What is left of the VA: exactly the pieces, offsets included.
    left = [] if pieces is None else [p for p in pieces if p]
    assert w.vas() == left


def test_sm_unmap_gaps_and_spans(world):
    #   0   1   2   3   4   5   6   7   8   9   a
    #   ....AAAAAAAA....BBBB....----........
    w = world()
    w.bo("A")
    w.bo("B")
    w.va(0x1000, 0x2000, "A", 0)
    w.va(0x4000, 0x1000, "B", 0)
    w.va(0x6000, 0x1000)
    assert w.unmap_ops(0x8000, 0x2000) == []                   # a gap: nothing
    assert w.unmap_ops(0x3000, 0x1000) == []
    assert w.unmap_steps(0x8000, 0x2000) == (0, [])
    expect = [
        ("remap", (0x1000, 0x2000), False, (0x1000, 0x1000, "A", 0), None),
        ("unmap", (0x4000, 0x1000), False),
        ("unmap", (0x6000, 0x1000), False),
    ]
    assert w.unmap_ops(0x2000, 0x6000) == expect
    assert w.unmap_steps(0x2000, 0x6000) == (0, expect)


# ================================================================= madvise

# A GEM-less VA [0x4000, 0x8000) at offset f; request object B at 0x777.
MADVISE_CELLS = {
    "a=A,e=E": (0x4000, 0x4000, []),
    "a=A,e<E": (0x4000, 0x6000, []),
    "a=A,e>E": (0x4000, 0x1000, [
        ("remap", (0x4000, 0x4000), False, None, (0x5000, 0x3000, None, 0x11000)), "req"]),
    "a<A,e=E": (0x6000, 0x2000, [
        ("remap", (0x4000, 0x4000), False, (0x4000, 0x2000, None, F0), None), "req"]),
    "a<A,e<E": (0x6000, 0x4000, [
        ("remap", (0x4000, 0x4000), False, (0x4000, 0x2000, None, F0), None),
        ("map", 0x6000, 0x2000, None, 0)]),
    "a<A,e>E": (0x5000, 0x1000, [
        ("remap", (0x4000, 0x4000), False, (0x4000, 0x1000, None, F0),
         (0x6000, 0x2000, None, 0x12000)), "req"]),
    "a>A,e=E": (0x2000, 0x6000, []),
    "a>A,e<E": (0x2000, 0x8000, []),
    "a>A,e>E": (0x2000, 0x4000, [
        ("remap", (0x4000, 0x4000), False, None, (0x6000, 0x2000, None, 0x12000)),
        ("map", 0x4000, 0x2000, None, 0)]),
}


@pytest.mark.parametrize("cell", list(MADVISE_CELLS))
def test_madvise_case_table(world, cell):
    A, R, expect = MADVISE_CELLS[cell]
    w = world()
    w.bo("A")
    w.bo("B")
    w.va(0x4000, 0x4000, None, F0)
    # The final MAP carries the request's object and offset.
    expect = [("map", A, R, "B", 0x777) if e == "req" else e for e in expect]
    assert w.madvise_ops(A, R, "B", 0x777) == expect


@pytest.mark.parametrize("cell", list(MADVISE_CELLS))
def test_madvise_skips_vas_with_an_object(world, cell):
    A, R, _ = MADVISE_CELLS[cell]
    w = world()
    w.bo("A")
    w.va(0x4000, 0x4000, "A", F0)
    assert w.madvise_ops(A, R, "A", F0) == []
    assert w.madvise_ops(A, R) == []


def test_madvise_spanning_returns_after_the_right_edge(world):
    #   0   1   2   3   4   5   6   7   8   9   a
    #   ........--------........AAAA....--------....   - GEM-less, A with an object
    #               [====== madvise =======]
    # left edge: REMAP(prev) + MAP{A, e-A}; A skipped; right edge: REMAP(next)
    # + MAP{a, E-a}, then the walk returns: no MAP of the whole request.
    w = world()
    w.bo("A")
    w.va(0x2000, 0x2000, None, 0x50)
    w.va(0x6000, 0x1000, "A", 0)
    w.va(0x8000, 0x2000, None, 0x90)
    assert w.madvise_ops(0x3000, 0x6000, "A", 0x1234) == [
        ("remap", (0x2000, 0x2000), False, (0x2000, 0x1000, None, 0x50), None),
        ("map", 0x3000, 0x1000, None, 0),
        ("remap", (0x8000, 0x2000), False, None, (0x9000, 0x1000, None, 0x1090)),
        ("map", 0x8000, 0x1000, None, 0),
    ]
    # Nothing GEM-less in range: an empty list, not a MAP.
    assert w.madvise_ops(0x6000, 0x1000, "A", 0) == []
    assert w.madvise_ops(0xB000, 0x1000) == []
    # Invalid requests are refused like sm_map's.
    ops = lib.pygpuvm_sm_map_ops(w.vm, U64 - 1, 2, ffi.NULL, 0, True)
    assert lib.IS_ERR(ops) and lib.PTR_ERR(ops) == -errno.EINVAL


# ======================================================== prefetch and bo_unmap


def test_prefetch_is_unvalidated_and_sees_everything(world):
    #   0   1   2   3   4   5
    #   KKKK----AAAA........        K reserved, - GEM-less
    w = world(0x1000, 0x10000, 0, 0x1000)                # the node lies below the window
    w.bo("A")
    w.va(0x1000, 0x1000)
    w.va(0x2000, 0x1000, "A", 0x40)
    expect = [("prefetch", (0, 0x1000), "kernel"), ("prefetch", (0x1000, 0x1000), None),
              ("prefetch", (0x2000, 0x1000), "A")]
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 0, 0x5000)) == expect
    # Zero range at 0: the query [0, 2^64 - 1], but the walk stops at once
    # since no VA starts below 0.
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 0, 0)) == []
    # Past the end of the address space: end = 0x17ff, query [0x1800, 0x17fe]
    # (wrapped), which the VA containing 0x17fe..0x1800 meets.
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 0x1800, MASK)) == expect[1:2]
    # end wrapping to exactly 0: the walk condition va.addr < 0 stops at once.
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 0x1800, U64 - 0x1800)) == []
    assert w.read(lib.drm_gpuvm_prefetch_ops_create(w.vm, 0x20000, 0x1000)) == []


@pytest.mark.parametrize("flags", [0, lib.DRM_GPUVM_IMMEDIATE_MODE], ids=["staged", "immediate"])
def test_bo_unmap_link_order_and_never_keep(world, flags):
    #   0   1   2   3   4   5   6   7   8   9   a   b   c
    #   AAAA............AAAA............BBBB............AAAA
    #   A's VAs linked in the order 4, 0, c (not address order)
    w = world(flags=flags)
    a = w.bo("A")
    w.bo("B")
    w.va(0x4000, 0x1000, "A", 0x4000)
    w.va(0x0, 0x1000, "A", 0)
    w.va(0x8000, 0x1000, "B", 0)
    w.va(0xC000, 0x1000, "A", 0x4000)
    vm_bo = lib.gpuvm_driver_bo_obtain(w.vm, a)
    expect = [("unmap", (0x4000, 0x1000), False), ("unmap", (0x0, 0x1000), False),
              ("unmap", (0xC000, 0x1000), False)]
    with NoWarn():
        assert w.read(lib.drm_gpuvm_bo_unmap_ops_create(vm_bo)) == expect
    if not flags:
        # (the gpuva mutex of immediate mode is not reachable from Python)
        assert lib.dma_resv_lock(a.resv, ffi.NULL) == 0
        with NoWarn():
            assert w.read(lib.drm_gpuvm_bo_unmap_ops_create_locked(vm_bo)) == expect
        lib.dma_resv_unlock(a.resv)
    # Without the lock the _locked form says so (and still answers).
    with pytest.warns(pygpuvm.GpuvmWarning, match="lock not held"):
        assert w.read(lib.drm_gpuvm_bo_unmap_ops_create_locked(vm_bo)) == expect
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    lib.gpuvm_driver_bo_put(vm_bo)


# ========================================================== the validity rules

#   window [0x10000, 0x100000), reserved [0x20000, 0x21000)
#   1   ...   2   2+1  ...   10
#   [.........KKKK..........]
WINDOW = (0x10000, 0xF0000, 0x20000, 0x1000)
INVALID = {
    "overflow": (U64 - 0x1000, 0x2000),
    "below-window": (0xF000, 0x2000),
    "above-window": (0xFF000, 0x2000),
    "far-above": (1 << 40, 0x1000),
    "reserved": (0x20000, 0x1000),
    "over-reserved-start": (0x1F000, 0x2000),
    "over-reserved-end": (0x20800, 0x1000),
    "containing-reserved": (0x18000, 0x10000),
    "zero-inside-reserved": (0x20800, 0),
    "zero-past-window": (0x100001, 0),
}
VALID = {
    "adjacent-below-reserved": (0x1F000, 0x1000),
    "adjacent-above-reserved": (0x21000, 0x1000),
    "zero-at-reserved-start": (0x20000, 0),
    "zero-at-reserved-end": (0x21000, 0),
    "zero-at-window-end": (0x100000, 0),
    "whole-window-below": (0x10000, 0x10000),
    "last-page": (0xFF000, 0x1000),
}


def validated_calls(w):
    """Every validating entry point, as name -> fn(addr, range) -> errno or 0."""

    def ops_ret(ops):
        if lib.IS_ERR(ops):
            return lib.PTR_ERR(ops)
        lib.drm_gpuva_ops_free(w.vm, ops)
        return 0

    def insert(addr, rng):
        va = ffi.new("struct drm_gpuva *")
        lib.drm_gpuva_init_lists(va)
        va.va.addr, va.va.range = addr, rng
        ret = lib.drm_gpuva_insert(w.vm, va)
        if ret == 0:
            lib.drm_gpuva_remove(va)
        return ret

    def exec_ret(fn):
        ret, _, ex = exec_run(fn)
        lib.drm_exec_fini(ex)
        return ret

    a = w.objs["A"]
    return {
        "insert": insert,
        "sm_map_ops_create": lambda x, r: ops_ret(
            lib.pygpuvm_sm_map_ops(w.vm, x, r, a, 0, False)),
        "madvise_ops_create": lambda x, r: ops_ret(
            lib.pygpuvm_sm_map_ops(w.vm, x, r, ffi.NULL, 0, True)),
        "sm_unmap_ops_create": lambda x, r: ops_ret(
            lib.drm_gpuvm_sm_unmap_ops_create(w.vm, x, r)),
        "sm_map": lambda x, r: w.map_steps(x, r, "A", 0)[0],
        "sm_unmap": lambda x, r: w.unmap_steps(x, r)[0],
        "sm_map_exec_lock": lambda x, r: exec_ret(
            lambda ex: lib.drm_gpuvm_sm_map_exec_lock(w.vm, ex, 1, map_req(x, r, a, 0))),
        "sm_unmap_exec_lock": lambda x, r: exec_ret(
            lambda ex: lib.drm_gpuvm_sm_unmap_exec_lock(w.vm, ex, x, r)),
    }


ENTRY_POINTS = ["insert", "sm_map_ops_create", "madvise_ops_create", "sm_unmap_ops_create",
                "sm_map", "sm_unmap", "sm_map_exec_lock", "sm_unmap_exec_lock"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_validity_table(world, entry):
    w = world(*WINDOW)
    a = w.bo("A")
    w.va(0x30000, 0x1000, "A", 0)
    fn = validated_calls(w)[entry]
    before = w.state()
    with NoWarn():
        for name, (addr, rng) in INVALID.items():
            assert fn(addr, rng) == -errno.EINVAL, name
            assert lib.drm_gpuvm_range_valid(w.vm, addr, rng) is False, name
        assert w.state() == before
        for name, (addr, rng) in VALID.items():
            assert fn(addr, rng) == 0, name
            assert lib.drm_gpuvm_range_valid(w.vm, addr, rng) is True, name
        # Overlapping an existing VA: only insert refuses (-EEXIST).
        assert fn(0x30800, 0x1000) == (-errno.EEXIST if entry == "insert" else 0)
    assert w.state() == before
    assert not lib.dma_resv_is_locked(a.resv)


def test_unvalidated_paths_accept_the_invalid_inputs(world):
    # find_*/interval_empty/prefetch/prepare_range take what the validated
    # paths refuse: the reserved node is simply found (the range lock validates nothing).
    w = world(*WINDOW)
    node = ffi.addressof(w.vm, "kernel_alloc_node")
    for name, (addr, rng) in INVALID.items():
        ops = lib.drm_gpuvm_prefetch_ops_create(w.vm, addr, rng)
        assert not lib.IS_ERR(ops), name
        lib.drm_gpuva_ops_free(w.vm, ops)
        ret, locked, ex = exec_run(
            lambda ex: lib.drm_gpuvm_prepare_range(w.vm, ex, addr, rng, 1))
        lib.drm_exec_fini(ex)
        assert ret == 0 and locked == [], name          # the node has no GEM to lock
    assert lib.drm_gpuva_find_first(w.vm, 0x1F000, 0x2000) == node
    assert lib.drm_gpuva_find(w.vm, 0x20000, 0x1000) == node
    assert not lib.drm_gpuvm_interval_empty(w.vm, 0x20800, 0x10)


# ==================================================================== edge cases


def test_zero_range_requests(world):
    #   0   1   2   3   4   5
    #   ....VVVVVVVV........        V = [0x1000, 0x3000); no reserved node
    w = world(0, 1 << 48)
    w.bo("A")
    v = w.va(0x1000, 0x2000, "A", 0x100)
    # At 0 the query wraps to the whole space but no VA starts below E = 0:
    # only the zero-sized MAP.
    assert w.map_ops(0, 0, "A", 0) == [("map", 0, 0, "A", 0)]
    assert w.unmap_ops(0, 0) == []
    # At a VA's start or end nothing spans: again only the MAP.
    assert w.map_ops(0x1000, 0) == [("map", 0x1000, 0, None, 0)]
    assert w.map_ops(0x3000, 0) == [("map", 0x3000, 0, None, 0)]
    # Strictly inside: the VA is split around the empty request, with
    # keep computed as for a < A.
    split = ("remap", (0x1000, 0x2000), True, (0x1000, 0x1000, "A", 0x100),
             (0x2000, 0x1000, "A", 0x1100))
    assert w.map_ops(0x2000, 0, "A", 0x1100) == [split, ("map", 0x2000, 0, "A", 0x1100)]
    assert w.map_steps(0x2000, 0, "A", 0x1100) == (0, [split, ("map", 0x2000, 0, "A", 0x1100)])
    unsplit = split[:2] + (False,) + split[3:]
    assert w.unmap_ops(0x2000, 0) == [unsplit]
    assert w.unmap_steps(0x2000, 0) == (0, [unsplit])
    # madvise of zero size on a GEM-backed VA: skipped, nothing at all.
    assert w.madvise_ops(0x2000, 0) == []
    # A zero-sized insert: refused only by a VA spanning the address.
    z = ffi.new("struct drm_gpuva *")
    lib.drm_gpuva_init_lists(z)
    z.va.addr = 0x2000
    assert lib.drm_gpuva_insert(w.vm, z) == -errno.EEXIST
    z.va.addr = 0x3000
    assert lib.drm_gpuva_insert(w.vm, z) == 0
    assert lib.drm_gpuva_find(w.vm, 0x3000, 0) == ffi.NULL      # [a, a-1] finds no node
    lib.drm_gpuva_remove(z)
    assert v.vm == w.vm


def test_map_always_emits_the_map(world):
    # An identical mapping: UNMAP(keep) + MAP, never an empty sequence,
    # and a driver applying it ends where it started.
    w = world()
    w.bo("A")
    w.va(0x1000, 0x1000, "A", 0x10)
    expect = [("unmap", (0x1000, 0x1000), True), ("map", 0x1000, 0x1000, "A", 0x10)]
    assert w.map_ops(0x1000, 0x1000, "A", 0x10) == expect
    ret, seen = w.map_steps(0x1000, 0x1000, "A", 0x10, steps=Steps(w, drive=True))
    assert (ret, seen) == (0, expect)
    assert w.vas() == [(0x1000, 0x1000, "A", 0x10)]


def test_walk_survives_the_driver_editing_the_tree(world):
    # The walk prefetches the successor, so steps may remove the current
    # VA and insert pieces; a VA inserted behind the walk (before the current
    # position) or after E is not visited.
    #   0   1   2   3   4   5   6   7   8   9   a   b   c
    #   ....AAAAAAAA....BBBB....CCCCCCCC....................
    #           [====== map D =====]
    w = world()
    for n in "ABCDX":
        w.bo(n)
    w.va(0x1000, 0x2000, "A", 0)
    w.va(0x4000, 0x1000, "B", 0)
    w.va(0x6000, 0x2000, "C", 0)
    inserted = []

    def hook(steps, op):
        if op.op == UNMAP and not inserted:
            # behind the walk: in the gap [3, 4); and after E: at 0xb000
            inserted.append(w.va(0x3000, 0x800, "X", 0))
            inserted.append(w.va(0xB000, 0x1000, "X", 0))

    steps = Steps(w, drive=True, hook=hook)
    ret, seen = w.map_steps(0x2000, 0x5000, "D", 0, steps=steps)
    assert ret == 0 and steps.failed == [(0x2000, 0x5000, -errno.EEXIST)]
    assert seen == [
        ("remap", (0x1000, 0x2000), False, (0x1000, 0x1000, "A", 0), None),
        ("unmap", (0x4000, 0x1000), False),
        ("remap", (0x6000, 0x2000), False, None, (0x7000, 0x1000, "C", 0x1000)),
        ("map", 0x2000, 0x5000, "D", 0),
    ]
    # The map could not be inserted over the VA the driver added at 0x3000:
    # drivers that edit the tree inside the walk own the consequences.
    assert w.vas() == [(0x1000, 0x1000, "A", 0), (0x3000, 0x800, "X", 0),
                       (0x7000, 0x1000, "C", 0x1000), (0xB000, 0x1000, "X", 0)]


@pytest.mark.parametrize("fail_at", [0, 1, 2, 3])
def test_callback_errors_are_not_rolled_back(world, fail_at):
    # The walk stops at the first failing step and returns its error;
    # what the driver already applied stays applied.
    #   0   1   2   3   4   5   6   7   8
    #   ....AAAAAAAA....BBBB....CCCCCCCC
    w = world()
    for n in "ABCD":
        w.bo(n)
    w.va(0x1000, 0x2000, "A", 0)
    w.va(0x4000, 0x1000, "B", 0)
    w.va(0x6000, 0x2000, "C", 0)
    ret, seen = w.map_steps(0x2000, 0x5000, "D", 0,
                            steps=Steps(w, drive=True, fail_at=fail_at, ret=-errno.EIO))
    assert ret == -errno.EIO
    assert len(seen) == fail_at + 1
    layouts = [
        [(0x1000, 0x2000, "A", 0), (0x4000, 0x1000, "B", 0), (0x6000, 0x2000, "C", 0)],
        [(0x1000, 0x1000, "A", 0), (0x4000, 0x1000, "B", 0), (0x6000, 0x2000, "C", 0)],
        [(0x1000, 0x1000, "A", 0), (0x6000, 0x2000, "C", 0)],
        [(0x1000, 0x1000, "A", 0), (0x7000, 0x1000, "C", 0x1000)],
    ]
    assert w.vas() == layouts[fail_at]
    # The same request as an ops list from the resulting state is consistent.
    ops = w.map_ops(0x2000, 0x5000, "D", 0)
    assert ops[-1] == ("map", 0x2000, 0x5000, "D", 0)


def test_step_exception_stops_the_raw_walk(world):
    w = world()
    w.bo("A")
    w.va(0x1000, 0x1000, "A", 0)
    w.va(0x3000, 0x1000, "A", 0x2000)

    class Boom(Steps):
        def step(self, op, name):
            super().step(op, name)
            raise KeyError("driver")

    steps = Boom(w)
    with pytest.raises(KeyError):
        w.map_steps(0x1000, 0x4000, "A", 0, steps=steps)
    assert len(steps.seen) == 1
    assert len(w.vas()) == 2


# ================================================== allocation failure, ops lists


def fail_every_allocation(w, build):
    """Fail the n-th allocation of build() for n = 1, 2, ... until it
    succeeds: each failure must be ERR_PTR(-ENOMEM) with nothing leaked and the
    VM unchanged. Returns (n, the successful result)."""
    n = 1
    while True:
        before = w.state()
        gc.collect()
        live = lib.gpuvm_alloc_live()
        failures = lib.gpuvm_alloc_failures()
        lib.gpuvm_alloc_fail_nth(n)
        ops = build()
        lib.gpuvm_alloc_fail_nth(0)
        if lib.gpuvm_alloc_failures() == failures:
            assert not lib.IS_ERR(ops)
            return n, ops
        assert lib.IS_ERR(ops) and lib.PTR_ERR(ops) == -errno.ENOMEM, f"allocation {n}"
        assert lib.gpuvm_alloc_live() == live, f"leak after failing allocation {n}"
        assert w.state() == before, f"state changed by failing allocation {n}"
        n += 1


def busy_world(world, flags=0):
    #   0   1   2   3   4   5   6   7   8   9   a   b   c   d
    #   ....AAAAAAAA....BBBB....CCCC....----....AAAAAAAA........
    w = world(flags=flags)
    for n in "ABCD":
        w.bo(n)
    w.va(0x1000, 0x2000, "A", 0)
    w.va(0x4000, 0x1000, "B", 0)
    w.va(0x6000, 0x1000, "C", 0)
    w.va(0x8000, 0x1000, None, 0)
    w.va(0xA000, 0x2000, "A", 0xA000)
    return w


BUILDERS = {
    # two REMAPs (prev, next), three UNMAPs, the MAP
    "sm_map": lambda w: lib.pygpuvm_sm_map_ops(w.vm, 0x2000, 0x9000, w.objs["D"], 0, False),
    # one REMAP with both pieces, then the MAP
    "sm_map_centered": lambda w: lib.pygpuvm_sm_map_ops(w.vm, 0x1800, 0x800, ffi.NULL, 0,
                                                        False),
    "sm_unmap": lambda w: lib.drm_gpuvm_sm_unmap_ops_create(w.vm, 0x2000, 0x9000),
    "madvise": lambda w: lib.pygpuvm_sm_map_ops(w.vm, 0x7000, 0x1800, w.objs["D"], 0, True),
    "prefetch": lambda w: lib.drm_gpuvm_prefetch_ops_create(w.vm, 0, 0x10000),
    "bo_unmap": lambda w: lib.drm_gpuvm_bo_unmap_ops_create(w.vm_bo),
}
MIN_OPS = {"sm_map": 6, "sm_map_centered": 2, "sm_unmap": 5, "madvise": 2, "prefetch": 5,
           "bo_unmap": 2}


@pytest.mark.parametrize("builder", list(BUILDERS))
def test_ops_create_fails_cleanly_at_every_allocation(world, builder):
    w = busy_world(world)
    w.vm_bo = lib.gpuvm_driver_bo_obtain(w.vm, w.objs["A"])
    n, ops = fail_every_allocation(w, lambda: BUILDERS[builder](w))
    assert n >= 2                                  # at least the container and one op
    assert len(w.read(ops)) == MIN_OPS[builder]
    lib.gpuvm_driver_bo_put(w.vm_bo)


@pytest.mark.parametrize("flags", [0, lib.DRM_GPUVM_RESV_PROTECTED, lib.DRM_GPUVM_IMMEDIATE_MODE],
                         ids=["staged", "resv_protected", "immediate"])
def test_apply_fails_cleanly_at_every_allocation(world, flags):
    # The binding's driver (gpuvm_apply_ops) allocates every VA before it
    # changes anything: each failure leaves the VM as it was.
    w = busy_world(world, flags)
    ops = lib.pygpuvm_sm_map_ops(w.vm, 0x2000, 0x9000, w.objs["D"], 0, False)
    res = ffi.new("struct pygpuvm_apply_result *")
    n = 1
    while True:
        before = w.state()
        live = lib.gpuvm_alloc_live()
        failures = lib.gpuvm_alloc_failures()
        lib.gpuvm_alloc_fail_nth(n)
        ret = lib.pygpuvm_apply(w.vm, ops, ffi.NULL, res)
        lib.gpuvm_alloc_fail_nth(0)
        if lib.gpuvm_alloc_failures() == failures:
            assert ret == 0
            break
        assert ret == -errno.ENOMEM, n
        assert lib.gpuvm_alloc_live() == live and w.state() == before, n
        n += 1
    assert n >= 3
    lib.drm_gpuva_ops_free(w.vm, ops)
    assert w.vas() == [(0x1000, 0x1000, "A", 0), (0x2000, 0x9000, "D", 0),
                       (0xB000, 0x1000, "A", 0xB000)]


# ============================================================= exec, lists

IMM, PROT = lib.DRM_GPUVM_IMMEDIATE_MODE, lib.DRM_GPUVM_RESV_PROTECTED


class Validate(Payload):
    """vm_bo_validate callback: record; then act(vm_bo) decides what happens."""

    def __init__(self, world, act=None):
        super().__init__()
        self.world, self.act, self.seen = world, act, []

    def validate(self, vm_bo, exec_):
        self.seen.append(self.world.name(vm_bo.obj))
        assert lib.dma_resv_held(vm_bo.obj.resv)
        return self.act(vm_bo) if self.act else 0


def validate(w, vm_exec, act=None):
    payload = Validate(w, act)
    handle = ffi.new_handle(payload)
    lib.pygpuvm_vm_set_handle(w.vm, handle)
    try:
        ret = lib.drm_gpuvm_exec_validate(vm_exec)
    finally:
        lib.pygpuvm_vm_set_handle(w.vm, ffi.NULL)
    payload.reraise()
    return ret, payload.seen


def vm_exec_for(w, num_fences=1):
    vm_exec = ffi.new("struct drm_gpuvm_exec *")
    vm_exec.vm, vm_exec.num_fences = w.vm, num_fences
    vm_exec.flags = lib.DRM_EXEC_IGNORE_DUPLICATES
    return vm_exec


def evict_list(w):
    out = ffi.new("struct drm_gpuvm_bo *[]", 16)
    n = lib.gpuvm_driver_vm_evicted(w.vm, out, 16)
    names = [w.name(out[i].obj) for i in range(n)]
    for i in range(n):
        lib.gpuvm_driver_bo_put(out[i])
    return names


@pytest.mark.parametrize("flags", [0, PROT], ids=["spinlock", "resv_protected"])
def test_validate_removes_entries_only_in_resv_protected_mode(world, flags):
    # A callback that clears vm_bo->evicted without drm_gpuvm_bo_evict():
    # RESV_PROTECTED validate takes the entry off the list itself, the
    # spinlock mode leaves list upkeep to the driver.
    w = world(flags=flags)
    r_obj = w.vm.r_obj
    p = lib.drm_gem_object_create(ffi.NULL, 0x10000, r_obj)        # private: VM's resv
    w.objs["P"] = p
    w.names[int(ffi.cast("uintptr_t", p))] = "P"
    w.va(0x1000, 0x1000, "P", 0)
    vp = lib.gpuvm_driver_bo_obtain(w.vm, p)
    lib.gpuvm_driver_bo_evict(vp, True)
    assert evict_list(w) == ["P"]
    vm_exec = vm_exec_for(w)
    assert lib.drm_gpuvm_exec_lock(vm_exec) == 0

    def leave_evicted(vm_bo):
        return 0

    def clear_flag_only(vm_bo):
        vm_bo.evicted = False
        return 0

    assert validate(w, vm_exec, leave_evicted) == (0, ["P"])
    assert evict_list(w) == ["P"]                                  # both modes keep it
    assert validate(w, vm_exec, clear_flag_only) == (0, ["P"])
    assert evict_list(w) == ([] if flags & PROT else ["P"])
    lib.drm_gpuvm_exec_unlock(vm_exec)
    lib.gpuvm_driver_bo_evict(vp, False)
    assert evict_list(w) == []
    lib.gpuvm_driver_bo_put(vp)


def test_zombie_with_a_pending_evict_flag_is_skipped():
    # IMMEDIATE|RESV_PROTECTED, an external vm_bo evicted
    # (flag only: the list needs the VM resv) then put deferred: a zombie on
    # the extobj list with evicted set. prepare_objects must neither lock it
    # nor move it onto the evict list; validate never sees it.
    w = World(flags=IMM | PROT)
    try:
        z, b = w.bo("Z"), w.bo("B")
        w.va(0x1000, 0x1000, "B", 0)
        vb = lib.gpuvm_driver_bo_obtain(w.vm, b)
        vz = lib.gpuvm_driver_bo_obtain(w.vm, z)
        lib.gpuvm_driver_bo_evict(vz, True)
        lib.gpuvm_driver_bo_evict(vb, True)
        assert vz.evicted and evict_list(w) == []
        assert lib.drm_gpuvm_bo_put_deferred(vz)                   # the zombie
        assert lib.pygpuvm_vm_bo_refcount(vz) == 0 and lib.gpuvm_driver_bo_on_extobj_list(vz)
        vm_exec = vm_exec_for(w, 2)
        with NoWarn():
            assert lib.drm_gpuvm_exec_lock(vm_exec) == 0
        locked = [vm_exec.exec.objects[i] for i in range(vm_exec.exec.num_objects)]
        assert locked == [w.vm.r_obj, b]
        assert not lib.dma_resv_is_locked(z.resv)
        assert not lib.gpuvm_driver_bo_on_evict_list(vz)
        assert lib.gpuvm_driver_bo_on_evict_list(vb)
        assert validate(w, vm_exec, lambda vm_bo: lib.drm_gpuvm_bo_evict(vm_bo, False) or 0) \
            == (0, ["B"])
        lib.drm_gpuvm_exec_unlock(vm_exec)
        assert lib.pygpuvm_gem_refcount(z) == 2                    # the zombie's reference
        lib.drm_gpuvm_bo_deferred_cleanup(w.vm)
        assert lib.pygpuvm_gem_refcount(z) == 1
        assert evict_list(w) == [] and not vb.evicted
        lib.gpuvm_driver_bo_put(vb)
    finally:
        w.close()


def test_sm_exec_lock_prepares_only_the_request_object(world):
    # The request's GEM is prepared (lock + num_fences slots) whatever
    # num_fences is, so 0 reserves zero fences: WARN and -EINVAL, as
    # dma_resv_reserve_fences() does in the kernel. The GEMs of VAs a
    # REMAP/UNMAP takes are only locked.
    #   0   1   2   3   4   5   6
    #   ....AAAAAAAA....BBBB----....        - GEM-less
    #         [==== map R ====]
    w = world()
    a, b, r = w.bo("A"), w.bo("B"), w.bo("R")
    w.va(0x1000, 0x2000, "A", 0)
    w.va(0x4000, 0x1000, "B", 0)
    w.va(0x5000, 0x1000)
    with pytest.warns(pygpuvm.GpuvmWarning, match="num_fences"):
        ret, locked, ex = exec_run(lambda ex: lib.drm_gpuvm_sm_map_exec_lock(
            w.vm, ex, 0, map_req(0x2000, 0x3800, r, 0)))
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    assert ret == -errno.EINVAL and locked == []          # unlocked again
    lib.drm_exec_fini(ex)
    ret, locked, ex = exec_run(lambda ex: lib.drm_gpuvm_sm_map_exec_lock(
        w.vm, ex, 3, map_req(0x2000, 0x3800, r, 0)))
    assert ret == 0 and locked == [r, a, b]
    assert [o.resv.num_reserved for o in locked] == [3, 0, 0]
    lib.drm_exec_fini(ex)
    assert not any(lib.dma_resv_is_locked(o.resv) for o in (a, b, r))
    # Without a request object only the walk's targets; unmap likewise.
    ret, locked, ex = exec_run(lambda ex: lib.drm_gpuvm_sm_map_exec_lock(
        w.vm, ex, 2, map_req(0x2000, 0x3800)))
    assert ret == 0 and locked == [a, b]
    assert [o.resv.num_reserved for o in locked] == [0, 0]
    lib.drm_exec_fini(ex)
    ret, locked, ex = exec_run(lambda ex: lib.drm_gpuvm_sm_unmap_exec_lock(
        w.vm, ex, 0x4800, 0x1000))
    assert ret == 0 and locked == [b]
    lib.drm_exec_fini(ex)
    # A map into a hole: just the request object.
    ret, locked, ex = exec_run(lambda ex: lib.drm_gpuvm_sm_map_exec_lock(
        w.vm, ex, 1, map_req(0x8000, 0x1000, r, 0)))
    assert ret == 0 and locked == [r] and r.resv.num_reserved == 1
    lib.drm_exec_fini(ex)


def test_exec_lock_helpers_reserve_fence_slots(world):
    # prepare = lock + num_fences slots on every object each helper locks.
    w = world(flags=0)
    a, c = w.bo("A"), w.bo("C")
    w.va(0x1000, 0x1000, "A", 0)
    vm_exec = vm_exec_for(w, 2)
    arr = ffi.new("struct drm_gem_object *[]", [c])
    assert lib.drm_gpuvm_exec_lock_array(vm_exec, arr, 1) == 0
    locked = [vm_exec.exec.objects[i] for i in range(vm_exec.exec.num_objects)]
    assert locked == [w.vm.r_obj, a, c]
    assert [o.resv.num_reserved for o in locked] == [2, 2, 2]
    # extra is what it was before the call, no pointer into a dead frame.
    assert vm_exec.extra.fn == ffi.NULL and vm_exec.extra.priv == ffi.NULL
    lib.drm_gpuvm_exec_unlock(vm_exec)
    assert all(o.resv.num_reserved == 0 for o in locked)       # per critical section
    # Locking again with the same struct: VM resv and extobjs only.
    assert lib.drm_gpuvm_exec_lock(vm_exec) == 0
    assert vm_exec.exec.num_objects == 2 and not lib.dma_resv_is_locked(c.resv)
    lib.drm_gpuvm_exec_unlock(vm_exec)
    # exec_lock_range: the objects mapped in the range, with their slots.
    vm_exec.num_fences = 3
    assert lib.drm_gpuvm_exec_lock_range(vm_exec, 0, 0x10000) == 0
    assert vm_exec.exec.num_objects == 1 and vm_exec.exec.objects[0] == a
    assert a.resv.num_reserved == 3 and not lib.dma_resv_is_locked(w.vm.r_obj.resv)
    lib.drm_gpuvm_exec_unlock(vm_exec)
    # Invalid ranges are not refused by the range lock: nothing mapped there.
    assert lib.drm_gpuvm_exec_lock_range(vm_exec, MASK - 0x800, 0x1000) == 0
    assert vm_exec.exec.num_objects == 0
    lib.drm_gpuvm_exec_unlock(vm_exec)
