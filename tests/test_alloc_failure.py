"""Allocation-failure injection at every C allocation of the class operations.

For n = 1, 2, ... the n-th C allocation of the operation fails
(lib.gpuvm_alloc_fail_nth): the operation must raise OutOfMemoryError, leave the
VM exactly as it was and hold no C memory; the loop ends at the first n the
operation does not reach (it then succeeds).
"""

from __future__ import annotations

import gc

import pytest

import pygpuvm
from pygpuvm.raw import lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

MODES = [
    pytest.param(dict(), id="staged"),
    pytest.param(dict(resv_protected=True), id="resv_protected"),
    pytest.param(dict(immediate=True), id="immediate"),
]


def state(vm, bos):
    return (len(vm), vm.generation, vm.dump(bos), vm.refcount,
            [b.refcount for b in bos], [len(b.vm_bos) for b in bos])


def inject_every(vm, bos, op):
    """Run op() with the n-th allocation failing for every n it reaches; return n."""
    n = 1
    while True:
        before = state(vm, bos)
        gc.collect()
        live = lib.gpuvm_alloc_live()
        failures = lib.gpuvm_alloc_failures()
        lib.gpuvm_alloc_fail_nth(n)
        try:
            result = op()
        except pygpuvm.OutOfMemoryError as e:
            lib.gpuvm_alloc_fail_nth(0)
            assert lib.gpuvm_alloc_failures() == failures + 1
            assert e.errno == 12
            gc.collect()
            assert lib.gpuvm_alloc_live() == live, f"leak after failing allocation {n}"
            assert state(vm, bos) == before, f"state changed by failing allocation {n}"
            n += 1
            continue
        lib.gpuvm_alloc_fail_nth(0)
        assert lib.gpuvm_alloc_failures() == failures, "an injected failure was swallowed"
        return n, result


def scene(mode):
    #   0   1   2   3   4   5   6   7   8   9   a
    #   KKKKAAAAAAAAAAAA....BBBBBBBB....PPPP
    a = pygpuvm.GemObject(0x100000, name="A")
    b = pygpuvm.GemObject(0x100000, name="B")
    vm = pygpuvm.VM(**mode)
    p = vm.new_private_object(0x100000, name="P")
    vm.map(0x1000, 0x3000, a, 0)
    vm.map(0x5000, 0x2000, b, 0)
    vm.map(0x8000, 0x1000, p, 0)
    return vm, [a, b, p]


@pytest.mark.parametrize("mode", MODES)
def test_map_every_allocation(mode):
    vm, bos = scene(mode)
    c = pygpuvm.GemObject(0x100000, name="C")
    bos.append(c)
    # Centered in A (remap with prev and next), over B, new object C (new vm_bo).
    n, ops = inject_every(vm, bos, lambda: vm.map(0x2000, 0x5800, c, 0))
    assert n >= 5
    assert ops.lines()[-1] == "map 0x2000 0x5800 C 0x0"
    assert [(v.addr, v.range) for v in vm] == [(0x1000, 0x1000), (0x2000, 0x5800),
                                               (0x8000, 0x1000)]
    vm.close()


@pytest.mark.parametrize("mode", MODES)
def test_unmap_every_allocation(mode):
    vm, bos = scene(mode)
    n, ops = inject_every(vm, bos, lambda: vm.unmap(0x2000, 0x4000))
    assert n >= 4
    assert [(v.addr, v.range) for v in vm] == [(0x1000, 0x1000), (0x6000, 0x1000),
                                               (0x8000, 0x1000)]
    vm.close()


@pytest.mark.parametrize("mode", MODES)
def test_obtain_every_allocation(mode):
    vm, bos = scene(mode)
    d = pygpuvm.GemObject(0x1000, name="D")
    bos.append(d)
    n, vm_bo = inject_every(vm, bos, lambda: vm.obtain(d))
    assert n >= 2 and vm_bo.obj is d and vm.find_vm_bo(d) is vm_bo
    del vm_bo
    vm.close()


def test_insert_and_bo_unmap_every_allocation():
    vm, bos = scene({})
    n, va = inject_every(vm, bos, lambda: vm.insert(0xA000, 0x1000, bos[0], 0))
    assert n >= 2 and va.vm_bo.obj is bos[0]
    n, ops = inject_every(vm, bos, lambda: vm.bo_unmap(bos[0]))
    assert n >= 2 and len(ops) == 2
    n, _ = inject_every(vm, bos, lambda: vm.apply(ops))
    assert vm.find_vm_bo(bos[0]) is None
    vm.close()


def test_vm_and_object_creation_every_allocation():
    created = []

    def make():
        vm = pygpuvm.VM()
        created.append(vm)
        return vm

    n = 1
    while True:
        live = lib.gpuvm_alloc_live()
        lib.gpuvm_alloc_fail_nth(n)
        try:
            make()
        except pygpuvm.OutOfMemoryError:
            lib.gpuvm_alloc_fail_nth(0)
            assert lib.gpuvm_alloc_live() == live
            n += 1
            continue
        lib.gpuvm_alloc_fail_nth(0)
        break
    assert n >= 2
    created.pop().close()
    lib.gpuvm_alloc_fail_nth(1)
    with pytest.raises(pygpuvm.OutOfMemoryError):
        pygpuvm.GemObject(0x1000)
    lib.gpuvm_alloc_fail_nth(0)
