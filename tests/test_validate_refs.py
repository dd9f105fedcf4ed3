"""vm.validate: no vm_bo is freed under the C walk.

drm_gpuvm_validate's RESV_PROTECTED walk (validate_locked) holds no vm_bo
references and runs with the VM resv held by the validating thread. A
``VmBo`` wrapper whose last Python reference went away during the walk (in
``fn``, or in another thread while ``fn`` held it) used to put the vm_bo's
last C reference inside the walk, which then read the freed vm_bo (found by
ASan in tests/test_threads.py). The wrappers now stay alive until the walk is
over. Under ASan (CI step 4) the old behaviour aborts; here the end state is
checked too: the vm_bo is gone afterwards, nothing leaks.
"""

from __future__ import annotations

import gc

import pytest

import pygpuvm

pytestmark = pytest.mark.usefixtures("no_c_leaks")

MODES = [
    pytest.param(dict(resv_protected=True), id="resv_protected"),
    pytest.param(dict(resv_protected=True, immediate=True), id="resv_protected+immediate"),
    pytest.param(dict(), id="staged"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("external", [False, True], ids=["private", "external"])
def test_fn_dropping_the_last_wrapper_does_not_free_under_the_walk(mode, external):
    vm = pygpuvm.VM(**mode)
    a = pygpuvm.GemObject(0x10000, name="A") if external else vm.new_private_object(0x10000)
    holder = [vm.obtain(a)]                  # the vm_bo's only reference: no VA maps A
    holder[0].evict(True)
    seen = []

    def fn(vm_bo):
        seen.append(vm_bo.obj.name)
        holder.clear()                       # the walk's wrapper is now the last one

    vm.validate(fn)
    assert seen == [a.name] and holder == []
    gc.collect()
    assert vm.evicted_bos == [] and vm.find_vm_bo(a) is None   # released after the walk
    assert a.refcount == 1
    vm.close()


def test_other_evicted_vm_bos_survive_a_walk_that_drops_them():
    # fn drops the wrappers of vm_bos the walk has not reached yet.
    vm = pygpuvm.VM(resv_protected=True)
    objs = [vm.new_private_object(0x10000, name=f"P{i}") for i in range(4)]
    holder = [vm.obtain(o) for o in objs]
    for vb in holder:
        vb.evict(True)
    del vb
    order = []

    def fn(vm_bo):
        order.append(vm_bo.obj.name)
        holder.clear()

    vm.validate(fn)
    assert sorted(order) == ["P0", "P1", "P2", "P3"]
    gc.collect()
    assert vm.evicted_bos == [] and all(vm.find_vm_bo(o) is None for o in objs)
    vm.close()
