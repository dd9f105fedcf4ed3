"""Va wrappers: snapshot fields, identity, detaching on removal, flags, vm_bo."""

from __future__ import annotations

import gc

import pytest

import pygpuvm
from pygpuvm.raw import lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")


def test_va_fields_and_identity():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM() as vm:
        vm.map(0x2000, 0x3000, a, 0x400)
        va = vm.find(0x2000, 0x3000)
        assert (va.addr, va.range, va.end, va.obj, va.offset) == (0x2000, 0x3000, 0x5000, a, 0x400)
        assert va.vm is vm and va.mapped and not va.detached and not va.kernel
        assert va.flags == 0
        assert vm.find_first(0x4000, 1) is va and next(iter(vm)) is va
        assert vm.find_vm_bo(a).vas == [va]
        assert repr(va) == "<Va 0x2000 0x3000 A 0x400>"


def test_identity_is_weak_and_rebuilt():
    a = pygpuvm.GemObject(0x10000)
    with pygpuvm.VM() as vm:
        vm.map(0x2000, 0x1000, a)
        va = vm.find(0x2000, 0x1000)
        del va
        gc.collect()
        assert len(vm._vas) == 0                     # the cache holds no strong reference
        again = vm.find(0x2000, 0x1000)
        assert again.addr == 0x2000 and vm.find(0x2000, 0x1000) is again


def test_unmapped_va_detaches_and_keeps_its_snapshot():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM() as vm:
        vm.map(0x2000, 0x4000, a, 0)
        whole = vm.find(0x2000, 0x4000)
        ops = vm.unmap(0x3000, 0x1000)               # remap: whole is replaced
        assert whole.detached and not whole.mapped
        assert (whole.addr, whole.range, whole.obj) == (0x2000, 0x4000, a)
        assert whole.vm_bo is None
        assert ops[0].va is whole
        with pytest.raises(pygpuvm.DetachedError):
            whole.invalidate()
        with pytest.raises(pygpuvm.DetachedError):
            vm.remove(whole)
        assert "detached" in repr(whole)
        left, right = list(vm)
        assert (left.addr, left.range, right.addr, right.range, right.offset) == (
            0x2000, 0x1000, 0x4000, 0x2000, 0x2000)


def test_invalidate_flags():
    a = pygpuvm.GemObject(0x10000)
    with pygpuvm.VM() as vm:
        va = vm.insert(0x2000, 0x1000, a)
        assert not va.invalidated
        va.invalidate()
        assert va.invalidated and va.flags & lib.DRM_GPUVA_INVALIDATED
        va.invalidate(False)
        assert not va.invalidated
        va.invalidate()
        vm.remove(va)
        assert va.invalidated                        # the last flags seen are kept


def test_va_vm_bo_link():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM() as vm:
        vm.map(0x2000, 0x1000, a)
        vm.map(0x4000, 0x1000, None)
        va = vm.find(0x2000, 0x1000)
        vm_bo = va.vm_bo
        assert vm_bo is vm.find_vm_bo(a) and vm_bo.obj is a and vm_bo.vm is vm
        assert vm.find(0x4000, 0x1000).vm_bo is None


def test_reserved_node_va():
    with pygpuvm.VM(reserve=(0x10000, 0x2000)) as vm:
        k = vm.find(0x10000, 0x2000)
        assert k.kernel and k.obj is None and k.vm_bo is None
        assert vm.find_first(0, 1 << 48) is k
        assert "kernel" in repr(k)
        vm.close()
        assert k.detached


def test_gem_object_basics():
    a = pygpuvm.GemObject(size=0x2000)
    assert a.name.startswith("bo") and a.size == 0x2000 and a.refcount == 1
    b = pygpuvm.GemObject(0x1000, name="B")
    assert repr(b) == "<GemObject B size=0x1000>"
    with pytest.raises(TypeError):
        pygpuvm.GemObject(0x1000, name=3)
    with pytest.raises(ValueError):
        pygpuvm.GemObject(-1)
    with pygpuvm.VM() as vm:
        p = vm.new_private_object(0x1000, name="P")
        assert p.private_vm is vm and not vm.is_extobj(p) and vm.is_extobj(a)
        vm.map(0x2000, 0x1000, p)
        vm.map(0x3000, 0x1000, a)
        assert [x.obj for x in vm.extobjs] == [a]   # private objects are not extobjs
        assert a.refcount == 2                       # + the vm_bo's reference
    assert a.refcount == 1
