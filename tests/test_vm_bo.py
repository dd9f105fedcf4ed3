"""vm_bos through the classes: obtain, extobj/evict lists, eviction in both list
modes, bo.vm_bos, immediate mode with deferred cleanup, validate."""

from __future__ import annotations

import pytest

import pygpuvm

pytestmark = pytest.mark.usefixtures("no_c_leaks")

MODES = [
    pytest.param(dict(), id="staged"),
    pytest.param(dict(resv_protected=True), id="resv_protected"),
    pytest.param(dict(immediate=True), id="immediate"),
    pytest.param(dict(immediate=True, resv_protected=True), id="immediate+resv_protected"),
]


@pytest.mark.parametrize("mode", MODES)
def test_obtain_is_unique_and_counted(mode):
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM(**mode) as vm:
        vm_bo = vm.obtain(a)
        assert vm.obtain(a) is vm_bo                  # one vm_bo per (VM, GEM)
        assert vm_bo.refcount == 1 and vm_bo.vas == []
        assert vm.extobjs == [vm_bo] and vm_bo.on_extobj_list
        vm.map(0x1000, 0x1000, a)
        vm.map(0x3000, 0x1000, a, 0x2000)
        assert vm_bo.refcount == 3                    # + one per linked VA
        assert [v.addr for v in vm_bo.vas] == [0x1000, 0x3000]
        assert a.vm_bos == [vm_bo]
        vm.unmap(0x1000, 0x4000)
        assert vm_bo.refcount == 1 and vm_bo.vas == []
    assert vm_bo.detached


@pytest.mark.parametrize("mode", MODES)
def test_vm_bo_dies_with_its_last_va(mode):
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM(**mode) as vm:
        vm.map(0x1000, 0x1000, a)
        assert len(a.vm_bos) == 1 and a.refcount == 2
        vm.unmap(0x1000, 0x1000)
        assert vm.find_vm_bo(a) is None and vm.extobjs == []
        assert a.vm_bos == [] and a.refcount == 1


@pytest.mark.parametrize("mode", MODES)
def test_gem_vm_bos_across_vms(mode):
    a = pygpuvm.GemObject(0x10000, name="A")
    vms = [pygpuvm.VM(name=f"vm{i}", **mode) for i in range(3)]
    for vm in vms:
        vm.map(0x1000, 0x1000, a)
    assert [vb.vm for vb in a.vm_bos] == vms         # creation order
    vms[1].close()
    assert [vb.vm for vb in a.vm_bos] == [vms[0], vms[2]]
    for vm in vms:
        vm.close()
    assert a.vm_bos == []


@pytest.mark.parametrize("mode", MODES)
def test_evict_private_object(mode):
    with pygpuvm.VM(**mode) as vm:
        p = vm.new_private_object(0x10000, name="P")
        vm.map(0x1000, 0x1000, p)
        vm_bo = vm.obtain(p)
        assert vm.extobjs == []                       # private: never an extobj
        vm_bo.evict(True)
        assert vm_bo.evicted and vm.evicted_bos == [vm_bo]
        vm_bo.evict(True)                             # idempotent
        assert vm.evicted_bos == [vm_bo]
        vm_bo.evict(False)
        assert not vm_bo.evicted and vm.evicted_bos == []


def test_evict_external_object_by_list_mode():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM() as vm:
        vm_bo = vm.obtain(a)
        vm_bo.evict(True)
        assert vm.evicted_bos == [vm_bo] and vm_bo.on_evict_list
    with pygpuvm.VM(resv_protected=True) as vm:
        vm_bo = vm.obtain(a)
        vm_bo.evict(True)
        # RESV_PROTECTED: only the flag; the list follows at prepare_objects().
        assert vm_bo.evicted and vm.evicted_bos == []
        seen = []
        vm.validate(lambda vb: seen.append(vb))
        assert seen == [vm_bo] and not vm_bo.evicted and vm.evicted_bos == []


@pytest.mark.parametrize("mode", MODES)
def test_validate_calls_back_for_evicted(mode):
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM(**mode) as vm:
        p = vm.new_private_object(0x10000, name="P")
        vm.map(0x1000, 0x1000, a)
        vm.map(0x2000, 0x1000, p)
        for vb in (vm.obtain(a), vm.obtain(p)):
            vb.evict(True)
        seen = []
        vm.validate(lambda vb: seen.append(vb.obj.name))
        assert sorted(seen) == ["A", "P"]
        assert vm.evicted_bos == []
        vm.validate()                                 # nothing evicted: no calls


def test_validate_error_and_exception():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM() as vm:
        vb = vm.obtain(a)
        vb.evict(True)
        with pytest.raises(pygpuvm.NotFoundError):
            vm.validate(lambda v: -2)
        with pytest.raises(ZeroDivisionError):
            vm.validate(lambda v: 1 // 0)
        assert vb.evicted
        vm.validate()
        assert not vb.evicted


def test_immediate_mode_unmap_cleans_up_deferred():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM(immediate=True) as vm:
        vm.map(0x1000, 0x2000, a)
        vm.map(0x1800, 0x100, None)                   # remap: unlink_defer of the old VA
        assert [v.range for v in vm] == [0x800, 0x100, 0x1700]
        vm.unmap(0x1000, 0x2000)                      # last VA gone: zombie, cleaned up
        assert vm.find_vm_bo(a) is None and a.refcount == 1
        vm.deferred_cleanup()
