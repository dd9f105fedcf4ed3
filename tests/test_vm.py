"""VM and VA functions: first through the raw C API (kernel semantics, including
the kernel's quirks), then through the VM class."""

from __future__ import annotations

import errno
import warnings

import pytest

import pygpuvm
from pygpuvm.raw import ffi, lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

U64 = 1 << 64


# ---------------------------------------------------------------- raw API helpers


class RawVM:
    """A drm_gpuvm made by the binding helper, driven only through kernel functions.

    VAs are Python-owned (ffi.new) and must be removed before close().
    """

    def __init__(self, start: int, range_: int, roff: int = 0, rrange: int = 0) -> None:
        self.vm = lib.pygpuvm_vm_create(b"raw", 0, start, range_, roff, rrange)
        assert self.vm != ffi.NULL
        self.vas: list = []

    def insert(self, addr: int, range_: int) -> tuple[int, object]:
        va = ffi.new("struct drm_gpuva *")
        lib.drm_gpuva_init_lists(va)
        va.va.addr = addr
        va.va.range = range_
        ret = lib.drm_gpuva_insert(self.vm, va)
        if ret == 0:
            self.vas.append(va)
        return ret, va

    def remove(self, va) -> None:
        lib.drm_gpuva_remove(va)
        self.vas.remove(va)

    def close(self) -> None:
        for va in list(self.vas):
            self.remove(va)
        lib.drm_gpuvm_put(self.vm)

    def span(self, va) -> tuple[int, int] | None:
        if va == ffi.NULL:
            return None
        return (va.va.addr, va.va.range)


@pytest.fixture
def raw():
    vms = []

    def make(*args):
        vm = RawVM(*args)
        vms.append(vm)
        return vm

    yield make
    for vm in vms:
        vm.close()


# ---------------------------------------------------------------- range_valid

#   window [0x1000, 0x10000), reserved node [0x4000, 0x5000)
#   0   1   2   3   4   5   6 ...  f   10
#   .   [   .   .   KKKK  .   .    .]
RANGE_VALID_CASES = [
    (0x1000, 0x1000, True),      # first page of the window
    (0x0, 0x1000, False),        # below the window
    (0xF000, 0x1000, True),      # last page
    (0xF000, 0x2000, False),     # past the end
    (U64 - 1, 2, False),         # addr + range overflows
    (0x4000, 0x1000, False),     # the reserved node
    (0x3000, 0x1000, True),      # adjacent below the reserved node
    (0x5000, 0x1000, True),      # adjacent above
    (0x3800, 0x1000, False),     # overlaps its start
    (0x4800, 0x1000, False),     # overlaps its end
    (0x2000, 0, True),           # zero range inside the window
    (0x4000, 0, True),           # zero range at the reserved node's start
    (0x4800, 0, False),          # zero range strictly inside the reserved node
    (0x10000, 0, True),          # zero range at the window end
    (0x10001, 0, False),         # zero range past the end
]


@pytest.mark.parametrize("addr,range_,valid", RANGE_VALID_CASES)
def test_raw_range_valid(raw, addr, range_, valid):
    vm = raw(0x1000, 0xF000, 0x4000, 0x1000)
    assert lib.drm_gpuvm_range_valid(vm.vm, addr, range_) is valid


def test_raw_init_fields(raw):
    vm = raw(0x1000, 0xF000, 0x4000, 0x1000)
    assert vm.vm.mm_start == 0x1000 and vm.vm.mm_range == 0xF000
    node = vm.vm.kernel_alloc_node
    assert (node.va.addr, node.va.range) == (0x4000, 0x1000)
    assert vm.vm.kernel_alloc_node_inserted
    assert ffi.string(vm.vm.name) == b"raw"
    # The reserved node is in the tree but holds no VM reference.
    assert lib.pygpuvm_vm_refcount(vm.vm) == 1


def test_raw_init_overflow_warns():
    count = lib.gpuvm_warn_count()
    with pytest.warns(pygpuvm.GpuvmWarning, match="GPUVA address limited"):
        vm = lib.pygpuvm_vm_create(b"ovf", 0, U64 - 0x1000, 0x2000, 0, 0)
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    assert lib.gpuvm_warn_count() == count + 1
    # Stored anyway, as the kernel does.
    assert vm.mm_start == U64 - 0x1000
    lib.drm_gpuvm_put(vm)


def test_raw_reserve_overflow_not_inserted_but_blocks():
    with pytest.warns(pygpuvm.GpuvmWarning, match="GPUVA address limited"):
        vm = lib.pygpuvm_vm_create(b"r", 0, 0, U64 - 1, U64 - 0x1000, 0x1001)
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    assert not vm.kernel_alloc_node_inserted
    assert lib.drm_gpuva_find_first(vm, 0, 0) == ffi.NULL          # tree is empty
    # Its stored range (end wrapped to 0x1) still takes part in validation.
    assert not lib.drm_gpuvm_range_valid(vm, 0, U64 - 0xFFF)
    assert lib.drm_gpuvm_range_valid(vm, 0x1000, 0x1000)
    lib.drm_gpuvm_put(vm)                                          # no bogus remove


# ---------------------------------------------------------------- insert / remove


def test_raw_insert_errors_and_refs(raw):
    # window [0, 0x100000), reserved [0, 0x1000)
    #   0    1    2    3    4
    #   KKKKK.....AAAAA.....
    vm = raw(0, 0x100000, 0, 0x1000)
    ret, a = vm.insert(0x2000, 0x1000)
    assert ret == 0 and a.vm == vm.vm
    assert lib.pygpuvm_vm_refcount(vm.vm) == 2          # one per inserted VA
    assert vm.insert(0x2800, 0x1000)[0] == -errno.EEXIST   # overlaps A
    assert vm.insert(0x1800, 0x1000)[0] == -errno.EEXIST
    assert vm.insert(0x0, 0x1000)[0] == -errno.EINVAL      # the reserved node
    assert vm.insert(0xFF000, 0x2000)[0] == -errno.EINVAL  # past the window
    assert vm.insert(U64 - 1, 2)[0] == -errno.EINVAL       # overflow
    assert vm.insert(0x3000, 0x1000)[0] == 0               # adjacent is fine
    assert lib.pygpuvm_vm_refcount(vm.vm) == 3
    vm.remove(a)
    assert lib.pygpuvm_vm_refcount(vm.vm) == 2
    assert a.vm == vm.vm                                   # kept after remove


def test_raw_remove_reserved_node_warns_and_keeps_it(raw):
    vm = raw(0, 0x100000, 0, 0x1000)
    node = ffi.addressof(vm.vm, "kernel_alloc_node")
    with pytest.warns(pygpuvm.GpuvmWarning, match="reserved"):
        lib.drm_gpuva_remove(node)
        pygpuvm.raw.flush_warnings()   # raw calls queue their WARNs
    assert lib.drm_gpuva_find_first(vm.vm, 0, 0x1000) == node


# ---------------------------------------------------------------- lookups

#   window [0, 0x100000), reserved [0, 0x1000)
#   0    1    2    3    4    5    6    7    8    9    9001
#   KKKKK.....AAAAABBBBB..........CCCCC..........D (at 0x9001)


@pytest.fixture
def layout(raw):
    vm = raw(0, 0x100000, 0, 0x1000)
    vm.insert(0x2000, 0x1000)
    vm.insert(0x3000, 0x1000)
    vm.insert(0x6000, 0x1000)
    vm.insert(0x9001, 0x1000)
    return vm


def test_raw_find_first(layout):
    vm = layout
    assert vm.span(lib.drm_gpuva_find_first(vm.vm, 0x2800, 0x1000)) == (0x2000, 0x1000)
    assert vm.span(lib.drm_gpuva_find_first(vm.vm, 0x4000, 0x2000)) is None
    assert vm.span(lib.drm_gpuva_find_first(vm.vm, 0x4000, 0x2001)) == (0x6000, 0x1000)
    # The reserved node is found like any VA.
    assert vm.span(lib.drm_gpuva_find_first(vm.vm, 0x800, 0x10)) == (0, 0x1000)
    # Zero range: [a, a-1] finds a VA that contains both a-1 and a ...
    assert vm.span(lib.drm_gpuva_find_first(vm.vm, 0x2800, 0)) == (0x2000, 0x1000)
    # ... so not one that merely starts or ends at a;
    assert vm.span(lib.drm_gpuva_find_first(vm.vm, 0x3000, 0)) is None
    # and at 0 the query wraps to the whole space: the lowest node overall.
    assert vm.span(lib.drm_gpuva_find_first(vm.vm, 0, 0)) == (0, 0x1000)


def test_raw_find_exact(layout):
    vm = layout
    assert vm.span(lib.drm_gpuva_find(vm.vm, 0x2000, 0x1000)) == (0x2000, 0x1000)
    assert lib.drm_gpuva_find(vm.vm, 0x2000, 0x800) == ffi.NULL
    assert lib.drm_gpuva_find(vm.vm, 0x2800, 0x800) == ffi.NULL


def test_raw_find_prev_quirks(layout):
    vm = layout
    assert vm.span(lib.drm_gpuva_find_prev(vm.vm, 0x3000)) == (0x2000, 0x1000)
    assert vm.span(lib.drm_gpuva_find_prev(vm.vm, 0x4000)) == (0x3000, 0x1000)
    # Nothing covers 0x5fff, but a VA starts at 0x6000: that one is returned.
    assert vm.span(lib.drm_gpuva_find_prev(vm.vm, 0x6000)) == (0x6000, 0x1000)
    assert lib.drm_gpuva_find_prev(vm.vm, 0x5000) == ffi.NULL
    # start-1 inside the reserved node, or below the window: NULL.
    assert lib.drm_gpuva_find_prev(vm.vm, 0x1000) == ffi.NULL
    assert lib.drm_gpuva_find_prev(vm.vm, 0) == ffi.NULL


def test_raw_find_next_quirks(layout):
    vm = layout
    assert vm.span(lib.drm_gpuva_find_next(vm.vm, 0x3000)) == (0x3000, 0x1000)
    # The lowest VA overlapping [end, end+1]: one covering end itself wins.
    assert vm.span(lib.drm_gpuva_find_next(vm.vm, 0x2FFF)) == (0x2000, 0x1000)
    assert lib.drm_gpuva_find_next(vm.vm, 0x4000) == ffi.NULL
    # Nothing starts at 0x9000, but one starts at 0x9001 (not adjacent): returned.
    assert vm.span(lib.drm_gpuva_find_next(vm.vm, 0x9000)) == (0x9001, 0x1000)
    # Inside the reserved node, or past the window: NULL.
    assert lib.drm_gpuva_find_next(vm.vm, 0x800) == ffi.NULL
    assert lib.drm_gpuva_find_next(vm.vm, 0x100000) == ffi.NULL


def test_raw_interval_empty_counts_reserved(layout):
    vm = layout
    assert not lib.drm_gpuvm_interval_empty(vm.vm, 0, 0x10)
    assert lib.drm_gpuvm_interval_empty(vm.vm, 0x4000, 0x2000)
    assert not lib.drm_gpuvm_interval_empty(vm.vm, 0x4000, 0x2001)


def test_raw_iteration_helpers_follow_address_order(layout):
    vm = layout
    W = lib.PYGPUVM_VA_WORDS
    arr = ffi.new("u64[]", 8 * W)

    def spans(n):
        return [(arr[i * W + 1], arr[i * W + 2]) for i in range(n)]

    n = lib.pygpuvm_vm_collect_recs(vm.vm, 0, 0, True, False, arr, 8)
    assert spans(n) == [
        (0, 0x1000), (0x2000, 0x1000), (0x3000, 0x1000), (0x6000, 0x1000), (0x9001, 0x1000)]
    n = lib.pygpuvm_vm_collect_recs(vm.vm, 0x2800, 0x4000, False, True, arr, 8)
    assert spans(n) == [(0x2000, 0x1000), (0x3000, 0x1000), (0x6000, 0x1000)]
    # Too small an array: the count is still returned.
    assert lib.pygpuvm_vm_collect_recs(vm.vm, 0, 0, True, False, arr, 2) == 5
    # __drm_gpuva_next walks the list, NULL after the last.
    last = lib.drm_gpuva_find(vm.vm, 0x9001, 0x1000)
    assert lib.__drm_gpuva_next(last) == ffi.NULL


# ---------------------------------------------------------------- zero-sized VAs


def test_raw_zero_range_insert_blocks_strict_containers(raw):
    #   4    5    6
    #   .....|.....      a zero-sized VA at 0x5000 ([0x5000, 0x4fff])
    vm = raw(0, 0x100000, 0, 0x1000)
    ret, z = vm.insert(0x5000, 0)
    assert ret == 0
    # Walks and lookups starting at 0x5000 do not see it ...
    assert lib.drm_gpuva_find_first(vm.vm, 0x5000, 0x1000) == ffi.NULL
    # ... but it blocks an insert strictly containing 0x5000,
    assert vm.insert(0x4800, 0x1000)[0] == -errno.EEXIST
    # not ones that start or end at it.
    assert vm.insert(0x5000, 0x1000)[0] == 0
    assert vm.insert(0x4000, 0x1000)[0] == 0


def test_raw_zero_insert_at_0_spans_everything(raw):
    vm = raw(0, 1 << 48)                      # no reserved node
    assert vm.insert(0, 0)[0] == 0            # interval [0, 2^64-1]
    assert vm.insert(0x1000, 0x1000)[0] == -errno.EEXIST
    assert vm.insert(0xFFFF0000, 0x1000)[0] == -errno.EEXIST


def test_raw_zero_range_map_splits_the_spanning_va(raw):
    vm = raw(0, 0x100000, 0, 0x1000)
    vm.insert(0x2000, 0x2000)
    ops = lib.pygpuvm_sm_map_ops(vm.vm, 0x3000, 0, ffi.NULL, 0, False)
    assert not lib.IS_ERR(ops)
    W = lib.PYGPUVM_OP_WORDS
    recs = ffi.new("u64[]", 4 * W)
    n = lib.pygpuvm_ops_recs(ops, recs, 4)
    assert n == 2
    prev, nxt = lib.PYGPUVM_OP_PREV_AT, lib.PYGPUVM_OP_NEXT_AT
    assert recs[0] & 0xFF == lib.DRM_GPUVA_OP_REMAP
    assert (recs[prev], recs[prev + 1]) == (0x2000, 0x1000)
    assert (recs[nxt], recs[nxt + 1]) == (0x3000, 0x1000)
    assert recs[W] & 0xFF == lib.DRM_GPUVA_OP_MAP and recs[W + lib.PYGPUVM_OP_MAP + 1] == 0
    lib.drm_gpuva_ops_free(vm.vm, ops)
    # sm_unmap of zero size splits the same way and removes nothing.
    ops = lib.drm_gpuvm_sm_unmap_ops_create(vm.vm, 0x3000, 0)
    n = lib.pygpuvm_ops_recs(ops, recs, 4)
    assert n == 1 and recs[0] & 0xFF == lib.DRM_GPUVA_OP_REMAP
    lib.drm_gpuva_ops_free(vm.vm, ops)


def test_raw_err_ptr_helpers():
    p = lib.ERR_PTR(-errno.ENOMEM)
    assert lib.IS_ERR(p) and lib.PTR_ERR(p) == -errno.ENOMEM
    assert lib.IS_ERR_OR_NULL(ffi.NULL) and not lib.IS_ERR(ffi.NULL)
    assert lib.PTR_ERR_OR_ZERO(p) == -errno.ENOMEM
    assert lib.MAX_ERRNO == 4095
    for name in ("EINVAL", "EEXIST", "ENOMEM", "EDEADLK", "EALREADY", "ENOENT",
                 "EOPNOTSUPP", "EINTR"):
        assert getattr(lib, name) == getattr(errno, name)


# ---------------------------------------------------------------- the VM class


def test_vm_defaults_and_queries():
    with pygpuvm.VM() as vm:
        assert (vm.start, vm.range, vm.reserve) == (0, 1 << 48, (0, 0x1000))
        assert len(vm) == 0 and list(vm) == []
        assert vm.range_valid(0x1000, 0x1000) and not vm.range_valid(0, 0x1000)
        assert not vm.interval_empty(0, 0x1000)
        kernel = vm.find_first(0, 0x10)
        assert kernel is not None and kernel.kernel and kernel.obj is None
        assert vm.vas(reserved=True) == [kernel]
        assert vm.vas() == []
        assert vm.flags == 0


def test_vm_flags():
    with pygpuvm.VM(immediate=True, resv_protected=True) as vm:
        assert vm.flags == lib.DRM_GPUVM_IMMEDIATE_MODE | lib.DRM_GPUVM_RESV_PROTECTED


def test_vm_map_find_iter_len():
    a = pygpuvm.GemObject(0x100000, name="A")
    with pygpuvm.VM(reserve=None) as vm:
        vm.map(0x1000, 0x3000, a, 0)
        vm.map(0x8000, 0x1000, None, 0)
        assert len(vm) == 2
        va = vm.find(0x1000, 0x3000)
        assert va is not None and (va.addr, va.range, va.obj, va.offset) == (0x1000, 0x3000, a, 0)
        assert vm.find(0x1000, 0x3000) is va                       # identity
        assert [v.addr for v in vm] == [0x1000, 0x8000]
        assert [v.addr for v in vm.vas(0x2000, 0x8001)] == [0x1000, 0x8000]
        assert vm.vas(0x4000, 0x8000) == []
        assert vm.vas(0x5000, 0x5000) == []
        assert vm.find_next(0x4000) is None and vm.find_prev(0x4000) is va
        assert not vm.interval_empty(0x3FFF, 1) and vm.interval_empty(0x4000, 0x4000)


def test_vm_zero_size_requests_refused_unchanged():
    a = pygpuvm.GemObject(0x10000)
    with pygpuvm.VM() as vm:
        vm.map(0x1000, 0x2000, a, 0)
        gen = vm.generation
        for call in (lambda: vm.map(0x2000, 0, a, 0), lambda: vm.unmap(0x2000, 0),
                     lambda: vm.sm_map(0x2000, 0), lambda: vm.sm_unmap(0x2000, 0),
                     lambda: vm.insert(0x9000, 0), lambda: vm.prefetch(0x2000, 0),
                     lambda: vm.madvise(0x2000, 0)):
            with pytest.raises(pygpuvm.InvalidRangeError, match="kernel accepts") as ei:
                call()
            assert ei.value.errno == errno.EINVAL
        assert vm.generation == gen and len(vm) == 1
        assert [(v.addr, v.range) for v in vm] == [(0x1000, 0x2000)]


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (1 << 64, ValueError),
                                     ("0x1000", TypeError), (1.0, TypeError),
                                     (True, TypeError), (None, TypeError)])
def test_vm_bad_python_arguments(bad, exc):
    a = pygpuvm.GemObject(0x10000)
    with pygpuvm.VM() as vm:
        vm.map(0x1000, 0x1000, a, 0)
        gen = vm.generation
        for call in (lambda: vm.map(bad, 0x1000, a, 0), lambda: vm.map(0x2000, bad, a),
                     lambda: vm.map(0x2000, 0x1000, a, bad), lambda: vm.unmap(bad, 0x1000),
                     lambda: vm.find(bad, 1), lambda: vm.find_prev(bad),
                     lambda: vm.range_valid(0, bad), lambda: vm.insert(bad, 0x1000)):
            with pytest.raises(exc):
                call()
        assert vm.generation == gen and len(vm) == 1
    with pytest.raises((TypeError, ValueError)):
        pygpuvm.VM(start=bad)


def test_vm_wrong_object_types():
    with pygpuvm.VM() as vm:
        with pytest.raises(TypeError):
            vm.map(0x1000, 0x1000, "A", 0)
        with pytest.raises(TypeError):
            vm.obtain(None)
        with pytest.raises(TypeError):
            vm.apply([])
        with pytest.raises(TypeError):
            vm.remove(0x1000)
        with pytest.raises(TypeError):
            pygpuvm.VM(reserve=0x1000)
        assert len(vm) == 0


def test_vm_invalid_ranges_raise_and_change_nothing():
    a = pygpuvm.GemObject(0x10000)
    with pygpuvm.VM(start=0x1000, range=0x10000, reserve=(0x4000, 0x1000)) as vm:
        vm.map(0x1000, 0x1000, a)
        gen = vm.generation
        for addr, rng in [(0, 0x1000), (0x10000, 0x2000), (0x3800, 0x1000),
                          ((1 << 64) - 1, 2)]:
            with pytest.raises(pygpuvm.InvalidRangeError):
                vm.map(addr, rng, a)
            with pytest.raises(pygpuvm.InvalidRangeError):
                vm.unmap(addr, rng)
            with pytest.raises(pygpuvm.InvalidRangeError):
                vm.insert(addr, rng)
        assert vm.generation == gen and len(vm) == 1


def test_vm_insert_remove_library_owned():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM() as vm:
        va = vm.insert(0x1000, 0x2000, a, 0x100)
        assert len(vm) == 1 and va.vm_bo is not None and va.vm_bo.obj is a
        with pytest.raises(pygpuvm.OverlapError) as ei:
            vm.insert(0x2000, 0x1000)
        assert ei.value.errno == errno.EEXIST
        with pytest.raises(pygpuvm.InvalidRangeError):
            vm.insert(0x800, 0x1000)
        assert len(vm) == 1
        vm.remove(va)
        assert va.detached and len(vm) == 0 and vm.find(0x1000, 0x2000) is None
        with pytest.raises(pygpuvm.DetachedError):
            vm.remove(va)
        with pytest.raises(ValueError):
            vm.remove(vm.find_first(0, 1))          # the reserved node
        other = pygpuvm.VM(name="other")
        ova = other.insert(0x1000, 0x1000)
        with pytest.raises(ValueError):
            vm.remove(ova)
        other.close()


def test_vm_close_detaches_everything():
    a = pygpuvm.GemObject(0x10000)
    vm = pygpuvm.VM()
    ops = vm.map(0x1000, 0x1000, a)
    va = vm.find(0x1000, 0x1000)
    vm_bo = vm.obtain(a)
    pending = vm.sm_map(0x3000, 0x1000, a)
    vm.close()
    vm.close()                                     # idempotent
    assert vm.closed and va.detached and vm_bo.detached
    assert va.addr == 0x1000 and va.vm_bo is None   # snapshot kept
    assert len(ops) == 1 and repr(ops[0]).startswith("map ")
    for call in (lambda: len(vm), lambda: vm.map(0x1000, 0x1000), lambda: vm.find(0, 1),
                 lambda: list(vm), lambda: vm.apply(pending), lambda: vm.obtain(a),
                 lambda: vm_bo.vas, lambda: vm.extobjs, lambda: vm.deferred_cleanup(),
                 lambda: vm.range_valid(0, 1), lambda: vm_bo.evict(True)):
        with pytest.raises(pygpuvm.DetachedError):
            call()
    assert a.vm_bos == []


def test_vm_init_overflow_is_a_warning():
    with pytest.warns(pygpuvm.GpuvmWarning, match="GPUVA address limited"):
        vm = pygpuvm.VM(start=U64 - 0x1000, range=0x2000, reserve=None)
    vm.close()


def test_warning_filter_error_raises_from_the_method():
    with warnings.catch_warnings():
        warnings.simplefilter("error", pygpuvm.GpuvmWarning)
        with pytest.raises(pygpuvm.GpuvmWarning):
            pygpuvm.VM(start=U64 - 0x1000, range=0x2000, reserve=None).close()


def test_vm_repr_and_dump():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM(name="v") as vm:
        vm.map(0x1000, 0x2000, a, 0x10)
        assert "1 VAs" in repr(vm)
        assert vm.dump([a]) == ("va 0x1000 0x2000 A 0x10\nvm_bo A 1 ext\n"
                                "bova 0x1000 0x2000 0x10\nend")
    assert "closed" in repr(vm)


# ---------------------------------------------------------------- the raw API is complete

INCLUDE = __import__("pathlib").Path(__file__).resolve().parent.parent / "csrc" / "include"


def _public_functions():
    import re

    found = set()
    for header in sorted(INCLUDE.rglob("*.h")):
        text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
        for m in re.finditer(r"^(?:static inline )?(?:const )?(?:struct |enum |unsigned )?"
                             r"\w+[\s*]+(\w+)\(", text, re.M):
            found.add(m.group(1))
    # internals (list.h's __list_add, lockdep.h's gpuvm_resv_held__, ...)
    return {n for n in found if not (n.startswith("__") or n.endswith("__"))}


@pytest.mark.skipif(not INCLUDE.exists(), reason="needs the C sources (csrc/include)")
def test_raw_api_declares_every_public_function():
    names = _public_functions()
    assert len(names) > 150
    missing = sorted(n for n in names if not hasattr(lib, n))
    assert missing == []


def test_raw_flags_and_enums():
    assert lib.DRM_GPUVM_RESV_PROTECTED == 1 and lib.DRM_GPUVM_IMMEDIATE_MODE == 2
    assert lib.DRM_GPUVA_INVALIDATED == 1 and lib.DRM_GPUVA_SPARSE == 2
    assert [lib.DRM_GPUVA_OP_MAP, lib.DRM_GPUVA_OP_REMAP, lib.DRM_GPUVA_OP_UNMAP,
            lib.DRM_GPUVA_OP_PREFETCH, lib.DRM_GPUVA_OP_DRIVER] == [0, 1, 2, 3, 4]
    assert lib.DRM_EXEC_INTERRUPTIBLE_WAIT == 1 and lib.DRM_EXEC_IGNORE_DUPLICATES == 2
    assert lib.DMA_RESV_USAGE_KERNEL < lib.DMA_RESV_USAGE_BOOKKEEP
    assert lib.GPUVM_APPLY_LOCKED == 1
    assert ffi.addressof(lib, "reservation_ww_class") != ffi.NULL


def test_raw_ops_list_navigation(raw):
    vm = raw(0, 0x100000, 0, 0x1000)
    vm.insert(0x2000, 0x2000)
    ops = lib.pygpuvm_sm_map_ops(vm.vm, 0x3000, 0x2000, ffi.NULL, 0, False)
    first, last = lib.drm_gpuva_first_op(ops), lib.drm_gpuva_last_op(ops)
    assert first.op == lib.DRM_GPUVA_OP_REMAP and last.op == lib.DRM_GPUVA_OP_MAP
    assert lib.drm_gpuva_next_op(first) == last and lib.drm_gpuva_prev_op(last) == first
    remap = first.remap
    assert remap.unmap.va.va.addr == 0x2000 and remap.next == ffi.NULL
    start, rng = ffi.new("u64 *"), ffi.new("u64 *")
    lib.drm_gpuva_op_remap_to_unmap_range(ffi.addressof(first, "remap"), start, rng)
    assert (start[0], rng[0]) == (0x3000, 0x1000)
    assert (last.map.va.addr, last.map.va.range, last.map.gem.obj) == (0x3000, 0x2000, ffi.NULL)
    lib.drm_gpuva_ops_free(vm.vm, ops)
