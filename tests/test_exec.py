"""Exec transactions (pygpuvm.exec): what vm.exec_lock / exec_lock_range /
bind_lock lock, unlocking on exit and on exceptions, validate, add_fence usage
selection and fence slots, the internally locking paths inside a transaction,
thread ownership, and threads locking overlapping sets in opposite orders.

Locks are checked through the raw C API: ``dma_resv_held`` (this thread
holds it) and ``dma_resv_is_locked`` (anybody holds it)."""

from __future__ import annotations

import errno
import random
import threading
import warnings

import pytest

import pygpuvm
from pygpuvm.exec import Exec, ResvObject
from pygpuvm.fence import Fence, ResvUsage
from pygpuvm.raw import ffi, lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

K = 0x1000
MODES = [
    pytest.param(dict(immediate=False, resv_protected=False), id="staged"),
    pytest.param(dict(immediate=False, resv_protected=True), id="staged-resv"),
    pytest.param(dict(immediate=True, resv_protected=False), id="immediate"),
    pytest.param(dict(immediate=True, resv_protected=True), id="immediate-resv"),
]


def held(obj) -> bool:
    return bool(lib.dma_resv_held(obj._ptr.resv))


def locked(obj) -> bool:
    return bool(lib.dma_resv_is_locked(obj._ptr.resv))


def vm_resv(vm):
    return vm._ptr.r_obj.resv


def vm_held(vm) -> bool:
    return bool(lib.dma_resv_held(vm_resv(vm)))


def count(resv, usage) -> int:
    return int(lib.dma_resv_fence_count(resv, usage))


def names(objs) -> list[str]:
    return ["VM" if isinstance(o, ResvObject) else o.name for o in objs]


def bos(*names_: str, size: int = 0x100000) -> list[pygpuvm.GemObject]:
    return [pygpuvm.GemObject(size, n) for n in names_]


def free_of_other_threads(vm) -> bool:
    """True if another thread can take the VM lock right now."""
    out = []

    def probe():
        got = vm._lock.acquire(timeout=0)
        if got:
            vm._lock.release()
        out.append(got)

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    return out == [True]


# ---------------------------------------------------------------- exec_lock


@pytest.mark.parametrize("mode", MODES)
def test_exec_lock_vm_resv_extobjs_and_extra_objects(mode):
    # 1       2       3       4
    # AAAA    BBBB    PPPP          A, B external; P private; C extra; D untouched
    vm = pygpuvm.VM(**mode)
    a, b, c, d = bos("A", "B", "C", "D")
    p = vm.new_private_object(0x100000, "P")
    vm.map(0x10000, 4 * K, a)
    vm.map(0x20000, 4 * K, b)
    vm.map(0x30000, 4 * K, p)
    with vm.exec_lock(num_fences=1, objects=[c]) as ex:
        assert isinstance(ex, Exec) and ex.locked and ex.vm is vm
        assert vm_held(vm) and held(a) and held(b) and held(c) and held(p)
        assert not locked(d)
        assert names(ex.locked_objects) == ["VM", "A", "B", "C"]
        assert ex.locked_objects[1] is a          # the same Python objects come back
        assert ex.is_locked(c) and not ex.is_locked(d)
        assert not free_of_other_threads(vm)      # the VM lock is held for the block
    assert not ex.locked
    for o in (a, b, c, d, p):
        assert not locked(o)
    assert not lib.dma_resv_is_locked(vm_resv(vm))
    assert free_of_other_threads(vm)
    vm.close()


def test_exec_lock_unlocks_on_exception():
    vm = pygpuvm.VM()
    (a,) = bos("A")
    vm.map(0x10000, K, a)
    with pytest.raises(KeyError):
        with vm.exec_lock() as ex:
            assert held(a)
            raise KeyError("boom")
    assert not ex.locked and not locked(a)
    assert not lib.dma_resv_is_locked(vm_resv(vm))
    assert free_of_other_threads(vm)
    # The VM works normally afterwards, from another thread too.
    t = threading.Thread(target=lambda: vm.map(0x20000, K, a))
    t.start()
    t.join(30)
    assert len(vm) == 2
    vm.close()


def test_exec_lock_reuse_and_misuse():
    vm = pygpuvm.VM()
    (a,) = bos("A")
    vm.map(0x10000, K, a)
    ex = vm.exec_lock()
    assert not ex.locked and "unlocked" in repr(ex)
    with pytest.raises(RuntimeError):
        ex.locked_objects                          # noqa: B018 - not locked
    with ex:
        assert "locked 2 objects" in repr(ex)
        with pytest.raises(RuntimeError):
            ex.lock()                              # already locked
        with pytest.raises(RuntimeError):
            with vm.exec_lock():                   # one transaction per thread
                pass
        other = pygpuvm.VM(name="other")
        with pytest.raises(RuntimeError):
            with other.exec_lock_range(0, 1 << 40):
                pass
        other.close()
    ex.unlock()                                    # idempotent
    with ex:                                       # and reusable
        assert held(a)
    assert not locked(a)
    with pytest.raises(TypeError):
        vm.exec_lock(objects=[a, "nope"])          # type: ignore[list-item]
    with pytest.raises(TypeError):
        vm.exec_lock(objects=a)                    # type: ignore[arg-type]
    with pytest.raises(ValueError):
        vm.exec_lock(num_fences=-1)
    vm.close()


def test_private_objects_share_vm_resv():
    vm = pygpuvm.VM()
    p = vm.new_private_object(0x10000, "P")
    q = vm.new_private_object(0x10000, "Q")
    vm.map(0x10000, K, p)
    with vm.exec_lock(objects=[p, q]) as ex:
        # One resv: locked once, as the VM's; P and Q are ignored duplicates.
        assert names(ex.locked_objects) == ["VM"]
        assert held(p) and held(q) and vm_held(vm)
    assert not locked(p)
    # Without ignore_duplicates the duplicate is an error and nothing stays locked.
    with pytest.raises(pygpuvm.AlreadyLockedError) as e:
        with vm.exec_lock(objects=[p], ignore_duplicates=False):
            pass
    assert e.value.errno == errno.EALREADY
    assert not locked(p) and free_of_other_threads(vm)
    vm.close()


def test_exec_lock_closed_vm_and_close_inside():
    vm = pygpuvm.VM()
    (a,) = bos("A")
    vm.map(0x10000, K, a)
    with vm.exec_lock() as ex:
        vm.close()                                 # the transaction keeps the C VM alive
        assert held(a)
    assert not locked(a)
    with pytest.raises(pygpuvm.DetachedError):
        with vm.exec_lock():
            pass
    assert not ex.locked


def test_exec_lock_enomem_leaves_nothing_locked():
    # Fresh objects for every attempt, so each one allocates fence slots anew.
    def scenario():
        vm = pygpuvm.VM()
        objs = bos(*"ABCDEFGHIJKLMNOPQRST")        # more than drm_exec's initial 16 slots
        for i, o in enumerate(objs[:10]):
            vm.map(0x100000 * (i + 1), K, o)
        return vm, objs

    vm, objs = scenario()
    start = lib.gpuvm_alloc_count()
    with vm.exec_lock(num_fences=2, objects=objs[10:]):
        pass
    allocations = lib.gpuvm_alloc_count() - start
    vm.close()
    failures = 0
    for n in range(1, allocations + 1):
        vm, objs = scenario()
        lib.gpuvm_alloc_fail_nth(n)
        try:
            with vm.exec_lock(num_fences=2, objects=objs[10:]) as ex:
                lib.gpuvm_alloc_fail_nth(0)
                assert len(ex.locked_objects) == 21     # a failed preallocation is fine
        except pygpuvm.OutOfMemoryError:
            failures += 1
            assert not any(locked(o) for o in objs)
            assert not lib.dma_resv_is_locked(vm_resv(vm))
            assert free_of_other_threads(vm)
        finally:
            lib.gpuvm_alloc_fail_nth(0)
        vm.close()
    assert allocations > 40 and failures == allocations - 1


# ---------------------------------------------------------------- exec_lock_range


def test_exec_lock_range_locks_only_objects_mapped_in_range():
    # 0      1      2      3      4      5
    # kkk    AAAA   ----   BBBB   PPPP   CCCC      k: reserved node, -: VA without object
    # [--------------- range ----------------)     (ends inside P)
    vm = pygpuvm.VM(reserve=(0, K))
    a, b, c, d = bos("A", "B", "C", "D")
    p = vm.new_private_object(0x100000, "P")
    vm.map(0x10000, 4 * K, a)
    vm.map(0x20000, 4 * K, None)
    vm.map(0x30000, 4 * K, b)
    vm.map(0x40000, 4 * K, p)
    vm.map(0x50000, 4 * K, c)
    with vm.exec_lock_range(0, 0x41000) as ex:
        # Not the VM resv as such: P is locked through its own (shared) resv.
        assert names(ex.locked_objects) == ["A", "B", "P"]
        assert held(a) and held(b) and held(p)
        assert not locked(c) and not locked(d)
    with vm.exec_lock_range(0, 0x40000) as ex:
        assert names(ex.locked_objects) == ["A", "B"]
        assert not lib.dma_resv_is_locked(vm_resv(vm))   # as in the kernel
        assert not locked(c)                              # an extobj, but outside
    with vm.exec_lock_range(0x60000, 0x10000) as ex:
        assert ex.locked_objects == []
    with vm.exec_lock_range(0, K) as ex:                  # the reserved node only
        assert ex.locked_objects == []
    # Several VAs of one object: locked once (duplicates ignored).
    vm.map(0x70000, K, a, 0x8000)
    with vm.exec_lock_range(0x10000, 0x70000) as ex:
        assert names(ex.locked_objects) == ["A", "B", "P", "C"]
    with pytest.raises(pygpuvm.AlreadyLockedError):
        with vm.exec_lock_range(0x10000, 0x70000, ignore_duplicates=False):
            pass
    assert not any(locked(o) for o in (a, b, c, p))
    vm.close()


# ---------------------------------------------------------------- bind_lock


def test_bind_lock_walks_lock_exactly_the_touched_objects():
    # 1       2       3       4       5
    # AAAA    BBBB    CCCC    ----    EEEE
    #   [== map D ====]                         splits A, cuts B's head, maps D
    #                 [unmap]                   removes C
    #                         [map F]           replaces the object-less VA
    vm = pygpuvm.VM()
    a, b, c, d, e, f, g = bos("A", "B", "C", "D", "E", "F", "G")
    vm.map(0x10000, 4 * K, a)
    vm.map(0x20000, 4 * K, b)
    vm.map(0x30000, 4 * K, c)
    vm.map(0x40000, 4 * K, None)
    vm.map(0x50000, 4 * K, e)
    binds = [("map", 0x12000, 0x10000, d, 0), ("unmap", 0x30000, 4 * K),
             ("map", 0x40000, 4 * K, f)]
    with vm.bind_lock(binds, num_fences=1, lock_vm=False) as ex:
        # The map target first, then the objects whose VAs the walk takes.
        assert names(ex.locked_objects) == ["D", "A", "B", "C", "F"]
        assert not lib.dma_resv_is_locked(vm_resv(vm))
        assert not locked(e) and not locked(g)
    with vm.bind_lock(binds, objects=[g]) as ex:
        # drm_gpuvm_exec_lock: the VM resv and every extobj, then the walks.
        assert names(ex.locked_objects) == ["VM", "A", "B", "C", "E", "D", "F", "G"]
        ops = ex.bind()
        assert [o.kind for o in ops[0]] == ["remap", "remap", "map"]
        fence = Fence()
        ex.add_fence(fence)
    assert not any(locked(o) for o in (a, b, c, d, e, f, g))
    assert vm.dump() == "\n".join([
        "va 0x10000 0x2000 A 0x0",
        "va 0x12000 0x10000 D 0x0",
        "va 0x22000 0x2000 B 0x2000",
        "va 0x40000 0x4000 F 0x0",
        "va 0x50000 0x4000 E 0x0",
        "end"])
    # Every locked object got the fence (the walks only lock; bind_lock reserves).
    for o in (a, b, c, d, e, f, g):
        assert count(o._ptr.resv, ResvUsage.BOOKKEEP) == 1, o.name
    vm.close()


def test_bind_lock_without_fences_only_locks():
    # num_fences=0: a map's own object and the extra objects are locked, not
    # reserved (a 0-slot reservation WARNed and failed the lock with EINVAL;
    # found by csrc/fuzz/fuzz_api.c).
    vm = pygpuvm.VM()
    a, d, g = bos("A", "D", "G")
    vm.map(0x10000, 4 * K, a)
    binds = [("map", 0x12000, 4 * K, d, 0)]
    for lock_vm in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with vm.bind_lock(binds, num_fences=0, lock_vm=lock_vm, objects=[g]) as ex:
                assert {"A", "D", "G"} <= set(names(ex.locked_objects))
                assert locked(d) and locked(g)
        assert not locked(d) and not locked(g)
    vm.close()


def test_exec_lock_objects_without_fences_only_locks():
    # exec_lock(num_fences=0, objects=...) raised InvalidRangeError ("vm lock")
    # after a 0-slot reservation WARN (drm_gpuvm_exec_lock_array's, as in the kernel).
    vm = pygpuvm.VM()
    a, b = bos("A", "B")
    vm.map(0x10000, 4 * K, a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with vm.exec_lock(num_fences=0, objects=[b]) as ex:
            assert names(ex.locked_objects) == ["VM", "A", "B"]
            assert locked(a) and locked(b)
        assert not locked(a) and not locked(b)
        with vm.exec_lock(num_fences=2, objects=[b]) as ex:
            assert names(ex.locked_objects) == ["VM", "A", "B"]
    vm.close()


def test_bind_lock_overlapping_binds_and_private_objects():
    # A later bind touching what an earlier one locks: duplicates are ignored.
    vm = pygpuvm.VM()
    (a,) = bos("A")
    p = vm.new_private_object(0x100000, "P")
    vm.map(0x10000, 8 * K, p)
    binds = [("map", 0x10000, 4 * K, a), ("map", 0x12000, 4 * K, a, 0x2000),
             ("unmap", 0x11000, K)]
    with vm.bind_lock(binds) as ex:
        assert names(ex.locked_objects) == ["VM", "A"]    # P is the VM resv
        vm.map(0x10000, 4 * K, a)
        vm.map(0x12000, 4 * K, a, 0x2000)
        vm.unmap(0x11000, K)
    assert vm.dump() == "\n".join([
        "va 0x10000 0x1000 A 0x0", "va 0x12000 0x4000 A 0x2000",
        "va 0x16000 0x2000 P 0x6000", "end"])
    with vm.bind_lock([("unmap", 0x10000, 8 * K)], lock_vm=False) as ex:
        assert names(ex.locked_objects) == ["A", "P"]
    vm.close()


def test_bind_lock_errors_leave_nothing_locked():
    vm = pygpuvm.VM(start=0, range=1 << 32, reserve=(0, 0x10000))
    (a,) = bos("A")
    with pytest.raises(pygpuvm.InvalidRangeError):
        with vm.bind_lock([("map", 0x8000, 0x10000, a)]):   # overlaps the reserved node
            pass
    with pytest.raises(pygpuvm.InvalidRangeError):
        with vm.bind_lock([("unmap", 1 << 32, K)]):         # outside the VM
            pass
    assert not locked(a) and not lib.dma_resv_is_locked(vm_resv(vm))
    assert free_of_other_threads(vm)
    with pytest.raises(pygpuvm.InvalidRangeError):
        vm.bind_lock([("map", 0x10000, 0, a)])               # zero size refused up front
    with pytest.raises(TypeError):
        vm.bind_lock([("map", 0x10000)])
    with pytest.raises(TypeError):
        vm.bind_lock([("unmap", 0x10000, K, a)])
    with pytest.raises(TypeError):
        vm.bind_lock([["map", 0x10000, K]])                  # type: ignore[list-item]
    with pytest.raises(ValueError):
        vm.bind_lock([("remap", 0x10000, K)])
    with pytest.raises(TypeError):
        vm.bind_lock([("map", 0x10000, K, "A")])
    with pytest.raises(ValueError):
        with vm.exec_lock() as ex:
            ex.bind()                                        # not a bind transaction
    vm.close()


# ---------------------------------------------------------------- validate


@pytest.mark.parametrize("resv_protected", [False, True], ids=["spinlock", "resv"])
def test_validate_calls_back_for_evicted_vm_bos(resv_protected):
    vm = pygpuvm.VM(resv_protected=resv_protected)
    a, b = bos("A", "B")
    p = vm.new_private_object(0x100000, "P")
    for i, o in enumerate((a, b, p)):
        vm.map(0x100000 * (i + 1), K, o)
    va_, vb, vp = (vm.find_vm_bo(o) for o in (a, b, p))
    va_.evict(True)
    vp.evict(True)
    assert va_.evicted and vp.evicted and not vb.evicted
    if resv_protected:
        # An external object's vm_bo only records the flag until the next prepare.
        assert names(v.obj for v in vm.evicted_bos) == ["P"]
    else:
        assert names(v.obj for v in vm.evicted_bos) == ["A", "P"]
    seen = []

    def fn(vm_bo):
        assert held(vm_bo.obj)                    # the object is locked by the exec
        seen.append(vm_bo.obj.name)

    with vm.exec_lock() as ex:
        if resv_protected:
            assert names(v.obj for v in vm.evicted_bos) == ["P", "A"]
        vm.validate(ex, fn)
    assert sorted(seen) == ["A", "P"]
    assert not va_.evicted and not vp.evicted and vm.evicted_bos == []
    # Nothing evicted: no call.
    with vm.exec_lock() as ex:
        ex.validate(fn)
    assert len(seen) == 2
    vm.close()


@pytest.mark.parametrize("resv_protected", [False, True], ids=["spinlock", "resv"])
def test_validate_errors_stop_the_walk(resv_protected):
    vm = pygpuvm.VM(resv_protected=resv_protected)
    p = vm.new_private_object(0x100000, "P")
    q = vm.new_private_object(0x100000, "Q")
    vm.map(0x10000, K, p)
    vm.map(0x20000, K, q)
    vm.find_vm_bo(p).evict()
    vm.find_vm_bo(q).evict()
    calls = []

    def boom(vm_bo):
        calls.append(vm_bo.obj.name)
        raise ZeroDivisionError("driver failed")

    with vm.exec_lock() as ex:
        with pytest.raises(ZeroDivisionError):
            vm.validate(ex, boom)
        assert calls == ["P"]                     # the walk stopped at the first
        assert held(p)                            # still inside the transaction
        with pytest.raises(pygpuvm.GpuvmError) as e:
            vm.validate(ex, lambda vm_bo: -errno.EIO)
        assert e.value.errno == errno.EIO
    assert names(v.obj for v in vm.evicted_bos) == ["P", "Q"]
    assert not locked(p)
    # Without an exec: a transaction of its own; vm.validate(fn) still works.
    vm.validate(lambda vm_bo: None)
    assert vm.evicted_bos == []
    vm.close()


def test_validate_requires_the_right_transaction():
    vm = pygpuvm.VM(resv_protected=True)
    other = pygpuvm.VM(name="other")
    (a,) = bos("A")
    vm.map(0x10000, K, a)
    with vm.exec_lock_range(0x10000, K) as ex:
        with pytest.raises(ValueError):
            vm.validate(ex)                        # the VM resv is not locked
    with other.exec_lock() as ex:
        with pytest.raises(ValueError):
            vm.validate(ex)                        # another VM's transaction
        with pytest.raises(TypeError):
            other.validate(ex, 42)                 # type: ignore[arg-type]
    with vm.exec_lock():
        vm.validate()                              # picks this thread's transaction
    vm.close()
    other.close()


@pytest.mark.parametrize("resv_protected", [False, True], ids=["spinlock", "resv"])
def test_zombies_skipped_in_immediate_mode(resv_protected):
    vm = pygpuvm.VM(immediate=True, resv_protected=resv_protected)
    z, b = bos("Z", "B")
    p = vm.new_private_object(0x100000, "P")
    vm.map(0x10000, K, b)
    vm.find_vm_bo(b).evict()
    # vm_bos of Z and P held only from C, evicted, then put deferred: zombies.
    zombies = []
    for o in (z, p):
        ptr = lib.gpuvm_driver_bo_obtain(vm._ptr, o._ptr)
        lib.gpuvm_driver_bo_evict(ptr, True)
        zombies.append(ptr)
    if resv_protected:
        # The external zombie's flag joins the list only at a prepare, P is on it.
        with vm.exec_lock():
            pass
    for ptr in zombies:
        assert lib.drm_gpuvm_bo_put_deferred(ptr)
    seen = []
    with vm.exec_lock() as ex:
        assert names(ex.locked_objects) == ["VM", "B"]     # the zombie Z is not locked
        assert not locked(z)
        vm.validate(ex, lambda vm_bo: seen.append(vm_bo.obj.name))
    assert seen == ["B"]
    vm.deferred_cleanup()
    assert vm.evicted_bos == [] and names(v.obj for v in vm.extobjs) == ["B"]
    assert z.vm_bos == [] and p.vm_bos == []
    vm.close()


# ---------------------------------------------------------------- fences


def test_add_fence_usage_selection():
    vm = pygpuvm.VM()
    a, c = bos("A", "C")
    p = vm.new_private_object(0x100000, "P")
    vm.map(0x10000, K, a)
    vm.map(0x20000, K, p)
    f = Fence()
    with vm.exec_lock(objects=[c]) as ex:
        ex.add_fence(f, private_usage=ResvUsage.KERNEL, extobj_usage=ResvUsage.READ)
    r = vm_resv(vm)
    assert (count(r, ResvUsage.KERNEL), count(r, ResvUsage.BOOKKEEP)) == (1, 1)
    assert count(p._ptr.resv, ResvUsage.KERNEL) == 1          # the same resv
    assert (count(a._ptr.resv, ResvUsage.WRITE), count(a._ptr.resv, ResvUsage.READ)) == (0, 1)
    # C is unrelated to the VM, but not sharing its resv counts as external.
    assert (count(c._ptr.resv, ResvUsage.WRITE), count(c._ptr.resv, ResvUsage.READ)) == (0, 1)
    assert f.refcount == 1 + 3
    assert not lib.dma_resv_test_signaled(r, ResvUsage.KERNEL)
    f.signal()
    assert lib.dma_resv_test_signaled(r, ResvUsage.BOOKKEEP)
    with vm.exec_lock() as ex:
        with pytest.raises(ValueError):
            ex.add_fence(f, private_usage=7)
        with pytest.raises(TypeError):
            ex.add_fence(f, extobj_usage="read")              # type: ignore[arg-type]
        with pytest.raises(TypeError):
            ex.add_fence(object())                            # type: ignore[arg-type]
    vm.close()


def test_fence_slots_are_reserved():
    vm = pygpuvm.VM()
    (a,) = bos("A")
    vm.map(0x10000, K, a)
    resv = a._ptr.resv
    fences = [Fence() for _ in range(4)]                      # distinct timelines
    with warnings.catch_warnings():
        warnings.simplefilter("error", pygpuvm.GpuvmWarning)
        with vm.exec_lock(num_fences=2) as ex:
            ex.add_fence(fences[0])
            ex.add_fence(fences[1])
            ex.add_fence(Fence(context=fences[1].context, seqno=1))   # replaces, no slot
        assert count(resv, ResvUsage.BOOKKEEP) == 2
    with vm.exec_lock(num_fences=1) as ex:
        ex.add_fence(fences[2])
        with pytest.warns(pygpuvm.GpuvmWarning, match="reserved fence slot"):
            ex.add_fence(fences[3])                           # no slot left: WARN, skipped
    assert count(resv, ResvUsage.BOOKKEEP) == 3
    with vm.exec_lock(num_fences=0) as ex:
        with pytest.warns(pygpuvm.GpuvmWarning, match="reserved fence slot"):
            ex.add_fence(fences[3])
    assert count(resv, ResvUsage.BOOKKEEP) == 3
    for f in fences:
        f.signal()
    vm.close()


# ---------------------------------------------------------------- internal locking inside


@pytest.mark.parametrize("mode", MODES)
def test_internally_locking_paths_inside_a_transaction(mode):
    # Everything the block does touches objects the block locked.
    vm = pygpuvm.VM(**mode)
    a, b, c = bos("A", "B", "C")
    p = vm.new_private_object(0x100000, "P")
    vm.map(0x10000, 4 * K, a)
    vm.map(0x20000, 4 * K, p)
    with vm.exec_lock(objects=[b, c]) as ex:
        vm.map(0x30000, 4 * K, b)                  # obtain + extobj_add + link
        vm.map(0x12000, 4 * K, c)                  # splits A, links C
        vm.unmap(0x20000, 2 * K)                   # remaps P
        vm_bo, vm_bo_p = vm.obtain(c), vm.find_vm_bo(p)
        vm_bo.evict(True)
        vm_bo_p.evict(True)
        # RESV_PROTECTED: an external vm_bo joins the list at the next prepare.
        expect = ["P"] if mode["resv_protected"] else ["C", "P"]
        assert names(v.obj for v in vm.evicted_bos) == expect
        vm.validate(ex)
        assert not vm_bo_p.evicted and vm_bo.evicted == mode["resv_protected"]
        assert [v.vm for v in a.vm_bos] == [vm]
        assert names(v.obj for v in vm.extobjs) == ["A", "B", "C"]
        vm.deferred_cleanup()                      # no-op where it needs the VM resv
        vm.unmap(0x10000, 0x20000)                 # unlinks A's pieces: its vm_bo dies
        assert names(v.obj for v in vm.extobjs) == ["B", "C"]
        ex.add_fence(Fence())
    assert not any(locked(o) for o in (a, b, c, p))
    vm.validate()
    assert not vm_bo.evicted and vm.evicted_bos == []
    del vm_bo, vm_bo_p
    assert not any(locked(o) for o in (a, b, c, p))
    vm.deferred_cleanup()
    assert vm.dump() == "va 0x30000 0x4000 B 0x0\nend"
    vm.close()


# ---------------------------------------------------------------- threads


def test_transaction_belongs_to_its_thread():
    vm = pygpuvm.VM()
    (a,) = bos("A")
    vm.map(0x10000, K, a)
    errors = []
    with vm.exec_lock() as ex:
        def other():
            for call in (ex.unlock, lambda: ex.add_fence(Fence()), lambda: ex.locked_objects):
                try:
                    call()
                except RuntimeError as e:
                    errors.append(str(e))
        t = threading.Thread(target=other)
        t.start()
        t.join(30)
        assert held(a)
    assert len(errors) == 3 and all("another thread" in e for e in errors)
    vm.close()


def test_other_threads_wait_for_the_vm_until_the_block_ends():
    vm = pygpuvm.VM()
    a, b = bos("A", "B")
    vm.map(0x10000, K, a)
    done = threading.Event()

    def other():
        vm.map(0x20000, K, b)                      # needs the VM lock
        done.set()

    with vm.bind_lock([("map", 0x10000, 2 * K, a)]):
        t = threading.Thread(target=other)
        t.start()
        assert not done.wait(0.05)                 # blocked: the walk's view must hold
        vm.map(0x10000, 2 * K, a)
    t.join(30)
    assert done.is_set()
    assert vm.dump() == "va 0x10000 0x2000 A 0x0\nva 0x20000 0x1000 B 0x0\nend"
    vm.close()


def test_younger_transaction_backs_off_and_both_complete():
    # T1 (older) holds X and waits for Z, which the main thread holds with a
    # plain lock; T2 (younger) holds Y and finds X held by an older
    # transaction: it backs off (drops Y) and waits for X in the slow path.
    # Releasing Z lets T1 finish, then T2.
    vm1, vm2 = pygpuvm.VM(name="vm1"), pygpuvm.VM(name="vm2")
    x, y, z = bos("X", "Y", "Z")
    ex1 = vm1.exec_lock(objects=[x, z])
    ex2 = vm2.exec_lock(objects=[y, x])
    results = {}

    def run(name, ex):
        with ex:
            results[name] = names(ex.locked_objects)

    assert lib.dma_resv_lock(z._ptr.resv, ffi.NULL) == 0
    t1 = threading.Thread(target=run, args=("t1", ex1))
    t1.start()
    while not locked(x):
        threading.Event().wait(0.001)
    t2 = threading.Thread(target=run, args=("t2", ex2))
    t2.start()
    for _ in range(30000):
        if ex2.backoffs:
            break
        threading.Event().wait(0.001)
    assert ex2.backoffs == 1 and not locked(y)     # T2 dropped what it held
    lib.dma_resv_unlock(z._ptr.resv)
    t1.join(30)
    t2.join(30)
    assert not t1.is_alive() and not t2.is_alive()
    assert results == {"t1": ["VM", "X", "Z"], "t2": ["VM", "Y", "X"]}
    assert (ex1.backoffs, ex2.backoffs) == (0, 1)
    assert not any(locked(o) for o in (x, y, z))
    vm1.close()
    vm2.close()


def _run_threads(workers, timeout=120.0):
    threads = [threading.Thread(target=w, daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "transactions did not complete"


@pytest.mark.parametrize("nthreads", [2, 4])
def test_threads_lock_overlapping_sets_in_opposite_orders(nthreads):
    shared = bos(*(f"S{i}" for i in range(8)))
    vms = [pygpuvm.VM(name=f"vm{i}") for i in range(nthreads)]
    rounds = 200
    barrier = threading.Barrier(nthreads)
    stats = {}
    errors = []

    def worker(i):
        vm = vms[i]
        rng = random.Random(i)
        order = shared if i % 2 == 0 else shared[::-1]
        backoffs = done = 0
        ctx = Fence.new_context()
        try:
            barrier.wait()
            for n in range(rounds):
                objs = order if nthreads == 2 else rng.sample(shared, 5)
                with vm.exec_lock(objects=objs) as ex:
                    assert all(held(o) for o in objs)
                    f = Fence(ctx, n)
                    ex.add_fence(f, extobj_usage=ResvUsage.WRITE)
                    f.signal()
                backoffs += ex.backoffs
                done += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        stats[i] = (done, backoffs)

    _run_threads([lambda i=i: worker(i) for i in range(nthreads)])
    assert not errors, errors
    assert all(d == rounds for d, _ in stats.values())
    print(f"\n{nthreads} threads x {rounds} transactions over 8 shared objects: "
          f"back-offs per thread {[stats[i][1] for i in range(nthreads)]}")
    assert not any(locked(o) for o in shared)
    for vm in vms:
        vm.close()


def test_threads_lock_vms_whose_extobj_lists_are_in_opposite_orders():
    # vm0 maps A..F in order, vm1 in reverse: drm_gpuvm_exec_lock walks the
    # extobj lists, so the two transactions take the shared resvs in opposite
    # orders and maps/unmaps inside the block keep changing the lists.
    shared = bos(*"ABCDEF")
    vms = [pygpuvm.VM(name="vm0"), pygpuvm.VM(name="vm1", resv_protected=True)]
    for i, o in enumerate(shared):
        vms[0].map(0x100000 * (i + 1), K, o)
        vms[1].map(0x100000 * (6 - i), K, o)
    rounds = 300
    barrier = threading.Barrier(2)
    totals = [0, 0]
    errors = []

    def worker(i):
        vm = vms[i]
        try:
            barrier.wait()
            for n in range(rounds):
                with vm.exec_lock() as ex:
                    assert len(ex.locked_objects) == 7
                    vm.map(0x800000, K, shared[n % 6])
                    vm.unmap(0x800000, K)
                    ex.add_fence(Fence())
                totals[i] += ex.backoffs
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    _run_threads([lambda i=i: worker(i) for i in range(2)])
    assert not errors, errors
    print(f"\nextobj lists in opposite orders, 2 x {rounds} transactions: back-offs {totals}")
    assert not any(locked(o) for o in shared)
    for vm in vms:
        vm.close()


def test_exports():
    assert pygpuvm.Fence is Fence and pygpuvm.ResvUsage is ResvUsage
    assert pygpuvm.Exec is Exec and pygpuvm.ResvObject is ResvObject


def test_raw_exec_api_reachable():
    # The raw drm_exec loop from Python, as exec.h describes it.
    (a,) = bos("A")
    ex = ffi.new("struct drm_exec *")
    lib.drm_exec_init(ex, lib.DRM_EXEC_IGNORE_DUPLICATES, 0)
    while lib.drm_exec_cleanup(ex):
        ret = lib.drm_exec_prepare_obj(ex, a._ptr, 1)
        if lib.drm_exec_is_contended(ex):
            continue
        assert ret == 0
    assert held(a) and ex.num_objects == 1
    lib.drm_exec_fini(ex)
    assert not locked(a)
