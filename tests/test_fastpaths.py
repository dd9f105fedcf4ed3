"""The one-call paths of the classes (flat records, scratch buffers, weak caches).

VM.map/unmap create, record, apply and free their ops in one C call; queries
read flat records. These tests cover what those paths must get right beyond
the ordinary cases: more ops or VAs than the per-VM scratch buffer holds, GEM
objects that lose their last reference in the apply while Python still has to
name them, open-ended ranges, reentrant use of the scratch buffer, and the
caches' sweeping.
"""

from __future__ import annotations

import gc

import pytest

import pygpuvm
from pygpuvm._util import WeakCache
from pygpuvm.gem import gem_from_addr
from pygpuvm.raw import lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

PAGE = 0x1000


def test_unmap_names_objects_that_die_in_the_apply():
    # The object's only references are the VA's vm_bo (the wrapper is gone):
    # unmapping its last VA frees the vm_bo, which held the object.
    #   1    2    3    4
    #   AAAAAAAAAAAAAAA       unmap all of A / cut A to its first page
    with pygpuvm.VM() as vm:
        a = pygpuvm.GemObject(0x10000, name="A")
        vm.map(0x1000, 0x3000, a, 0x100)
        key = a._key
        del a
        gc.collect()
        ops = vm.unmap(0x1000, 0x3000)
        op = ops[0]
        assert op.kind == "unmap" and op.va.detached
        # A new wrapper, made while the apply's extra reference kept the object alive;
        # it now owns the only reference.
        assert op.obj is not None and op.obj._key == key and op.obj.refcount == 1
        assert repr(op) == f"unmap 0x1000 0x3000 {op.obj.name} 0x100 keep=0"
        del ops, op
        gc.collect()

        b = pygpuvm.GemObject(0x10000, name="B")
        vm.map(0x1000, 0x3000, b, 0)
        del b
        gc.collect()
        ops = vm.unmap(0x2000, 0x2000)                    # remap: prev keeps the object
        remap = ops[0]
        assert remap.kind == "remap" and remap.prev.obj is remap.va.obj
        assert remap.va.obj.refcount == 2                 # wrapper + the vm_bo of prev
        assert vm.find(0x1000, 0x1000).obj is remap.va.obj


def test_unmap_names_objects_another_va_keeps_alive():
    # No extra reference is taken when the object's vm_bo keeps more VAs than the
    # ops remove: the records are read while one of them still holds the object.
    #   1    2    3    4    5
    #   AAAA      AAAA      AAAA     unmap one, then two at once, then the last
    with pygpuvm.VM() as vm:
        a = pygpuvm.GemObject(0x10000, name="A")
        for i in range(3):
            vm.map(0x1000 + 2 * i * PAGE, PAGE, a, i * PAGE)
        key = a._key
        del a
        gc.collect()
        op = vm.unmap(0x1000, PAGE)[0]
        assert op.kind == "unmap" and op.obj is not None and op.obj._key == key
        assert op.obj.refcount == 2                              # new wrapper + vm_bo
        del op
        gc.collect()
        vm.map(0x7000, PAGE, None, 0)
        ops = vm.unmap(0x3000, 0x5000)                           # both of A's, and 0x7000
        assert [o.kind for o in ops] == ["unmap"] * 3 and len(vm) == 0
        assert ops[0].obj._key == key and ops[1].obj is ops[0].obj
        assert ops[0].obj.refcount == 1 and ops[2].obj is None   # only the new wrapper
        del ops
        gc.collect()


def test_map_and_unmap_with_more_ops_than_the_scratch_holds():
    #   one page mapped every other page, 40 of them; then one map over all of them
    a = pygpuvm.GemObject(1 << 20, name="A")
    b = pygpuvm.GemObject(1 << 20, name="B")
    with pygpuvm.VM() as vm:
        for i in range(40):
            vm.map(0x10000 + 2 * i * PAGE, PAGE, a, i * PAGE)
        kept = [vm.find(0x10000 + 2 * i * PAGE, PAGE) for i in range(0, 40, 3)]
        ops = vm.map(0x10000, 80 * PAGE, b, 0)
        assert len(ops) == 41 and [op.kind for op in ops] == ["unmap"] * 40 + ["map"]
        assert all(op.va.detached for op in ops[:-1])
        assert [ops[3 * k].va for k in range(len(kept))] == kept   # same wrappers, detached
        assert len(vm) == 1 and vm.find(0x10000, 80 * PAGE).obj is b
        # Unmap pieces of it: 1 op; then 30 separate pages, one unmap of all: 30 ops.
        vm.unmap(0x10000, 80 * PAGE)
        for i in range(30):
            vm.map(0x10000 + 2 * i * PAGE, PAGE, None, 0)
        ops = vm.unmap(0x1000, 1 << 40)
        assert len(ops) == 30 and len(vm) == 0 and vm.generation > 0


def test_sm_map_and_prefetch_with_many_ops():
    a = pygpuvm.GemObject(1 << 20, name="A")
    with pygpuvm.VM() as vm:
        for i in range(25):
            vm.map(0x10000 + 2 * i * PAGE, PAGE, a, 0)
        ops = vm.sm_map(0x10000, 60 * PAGE, None, 0)
        assert len(ops) == 26 and not ops.applied
        assert all(op.va.mapped for op in ops[:-1])
        pf = vm.prefetch(0, 1 << 40)
        assert len(pf) == 26 and pf[0].va.kernel         # reserved node first
        assert [op.va for op in pf[1:]] == [op.va for op in ops[:-1]]   # same wrappers
        vm.apply(ops)
        assert len(vm) == 1 and all(op.va.detached for op in ops[:-1])


def test_range_queries_beyond_the_scratch_and_open_ended():
    #   100 pages mapped every other page from 0x10000
    a = pygpuvm.GemObject(1 << 20, name="A")
    with pygpuvm.VM() as vm:
        for i in range(100):
            vm.map(0x10000 + 2 * i * PAGE, PAGE, a if i % 2 else None, i)
        everything = list(vm)
        assert len(everything) == 100
        assert vm.vas(0, 1 << 64) == everything
        assert vm.vas(0x10000, 0x10000 + 200 * PAGE) == everything
        # An end of 2**64 with a non-zero start (the range wraps in C).
        assert vm.vas(0x10000 + 2 * PAGE) == everything[1:]
        assert vm.vas(0x10000 + 199 * PAGE) == []
        assert vm.vas((1 << 64) - 1) == []
        spans = vm.spans(0x10800, 0x10000 + 11 * PAGE)
        assert spans == [pygpuvm.Piece(v.addr, v.range, v.obj, v.offset) for v in everything[:6]]
        assert vm.spans(0x10000 + 2 * PAGE) == [
            (v.addr, v.range, v.obj, v.offset) for v in everything[1:]]
        assert vm.spans(reserved=True)[0] == pygpuvm.Piece(0, 0x1000, None, 0)
        assert len(vm.spans()) == 100 and vm.spans(5, 5) == []
        with pytest.raises(TypeError):
            vm.spans("0")
        with pytest.raises(ValueError):
            vm.spans(0, (1 << 64) + 1)


def test_reentrant_use_gets_its_own_scratch():
    a = pygpuvm.GemObject(1 << 20, name="A")
    with pygpuvm.VM() as vm:
        vm.map(0x10000, PAGE, a)
        buf = vm._take_scratch()          # as if an outer call were using it
        assert vm._scratch is None
        assert vm.find(0x10000, PAGE).addr == 0x10000
        assert len(vm.map(0x20000, PAGE, a)) == 1
        assert vm._scratch is not None and vm._scratch != buf
        vm._scratch = buf


def test_va_pointer_and_cache_identity():
    a = pygpuvm.GemObject(1 << 20, name="A")
    with pygpuvm.VM() as vm:
        vm.map(0x10000, PAGE, a)
        va = vm.find(0x10000, PAGE)
        assert va._ptr.va.addr == 0x10000
        assert vm.vas(0x10000, 0x11000) == [va] and vm.find_first(0x10000, 1) is va
        vm.unmap(0x10000, PAGE)
        assert va._ptr is None and va.detached


def test_weak_cache_sweeps_dead_entries():
    class Obj:
        pass

    cache: WeakCache[Obj] = WeakCache()
    first = [Obj() for _ in range(500)]
    for i, o in enumerate(first):
        cache.put(i, o)
    assert len(cache) == 500
    del first, o
    second = [Obj() for _ in range(500)]
    for i, o in enumerate(second):
        cache.put(1000 + i, o)
    # The dead half was swept on the way: at most twice what is alive.
    assert len(cache) == 500 and len(cache.data) <= 2 * 500 + 64
    assert cache.get(1000) is second[0] and cache.get(0) is None
    cache.discard(1000, second[1])
    assert cache.get(1000) is second[0]
    assert cache.pop(1000) is second[0] and cache.get(1000) is None


def test_gem_wrapper_recreated_for_a_live_object():
    with pygpuvm.VM() as vm:
        a = pygpuvm.GemObject(0x10000, name="A")
        vm.map(0x10000, PAGE, a)
        key = a._key
        del a
        gc.collect()
        again = gem_from_addr(key)
        assert again is not None and again.name.startswith("bo")
        assert gem_from_addr(key) is again and vm.find(0x10000, PAGE).obj is again
        assert again.refcount == 2 and gem_from_addr(0) is None


def test_pending_warning_exception_is_raised_by_the_fast_paths():
    import warnings

    with pygpuvm.VM() as vm:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pygpuvm.GpuvmWarning)
            lib.gpuvm_warn(b"here.c", 1, b"raised later")     # a WARN outside any method
            with pytest.raises(pygpuvm.GpuvmWarning, match="raised later"):
                vm.find(0x10000, PAGE)
        assert vm.find(0x10000, PAGE) is None
