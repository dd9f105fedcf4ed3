"""Object lifetimes: any drop order, reference cycles, interpreter exit, close().

The C reference counts, not the order in which Python finalizes wrappers, keep
memory valid: every order must end with no live C allocation (run under ASan
too, see .ci/run), and no object may touch freed memory.

The drop-order tests call gc.collect() after each of their 2,280 orders. Inside
a full test run the heap holds everything earlier tests left alive, and a full
collection scans all of it (~15 ms each, 38 s of a 122 s run). They therefore
freeze the objects that existed before they started out of the collector
(``frozen_heap``): each collection then scans only what the test created, and
all the orders together take well under a second.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import subprocess
import sys
import textwrap

import pytest

import pygpuvm
from pygpuvm.raw import lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

NAMES = ["vm", "bo", "pbo", "vm_bo", "va", "ops"]


@contextlib.contextmanager
def frozen_heap():
    """Keep the objects alive before the block out of gc.collect()'s scans.

    Objects created inside the block are collected as usual, cycles included;
    the frozen ones are handed back to the collector on exit.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def build(mode: dict) -> dict:
    #   0   1   2   3   4   5
    #   KKKKBBBBBBBB....PPPP      (B: external bo, P: private bo)
    vm = pygpuvm.VM(**mode)
    bo = pygpuvm.GemObject(0x10000, name="B")
    pbo = vm.new_private_object(0x10000, name="P")
    vm.map(0x1000, 0x2000, bo, 0)
    vm.map(0x4000, 0x1000, pbo, 0)
    ops = vm.sm_map(0x2000, 0x3000, bo, 0x1000)       # pending (not applied)
    return {"vm": vm, "bo": bo, "pbo": pbo, "vm_bo": vm.obtain(bo),
            "va": vm.find(0x1000, 0x2000), "ops": ops}


@pytest.mark.parametrize("mode", [dict(), dict(immediate=True, resv_protected=True)],
                         ids=["staged", "immediate+resv_protected"])
def test_every_drop_order(mode):
    start = lib.gpuvm_alloc_live()
    orders = 0
    with frozen_heap():
        for order in itertools.permutations(NAMES):
            objs = build(mode)
            for name in order:
                del objs[name]
            gc.collect()
            assert lib.gpuvm_alloc_live() == start, f"leak after dropping in order {order}"
            orders += 1
    assert orders == 720


def test_every_drop_order_after_use():
    # Each object is used after some of the others are gone.
    start = lib.gpuvm_alloc_live()
    orders = 0
    with frozen_heap():
        for order in itertools.permutations(NAMES):
            objs = build({})
            for name in order:
                obj = objs.pop(name)
                if "vm_bo" in objs:
                    assert objs["vm_bo"].vm.find(0x1000, 0x2000) is not None
                if "va" in objs:
                    assert objs["va"].addr == 0x1000
                if "ops" in objs:
                    assert len(objs["ops"]) >= 1
                if "bo" in objs:
                    assert objs["bo"].refcount >= 1
                del obj
            gc.collect()
            assert lib.gpuvm_alloc_live() == start, f"leak after {order}"
            orders += 1
    assert orders == 720


def test_close_then_drop_in_every_order():
    start = lib.gpuvm_alloc_live()
    orders = 0
    with frozen_heap():
        for order in itertools.permutations(["bo", "pbo", "vm_bo", "va", "ops"]):
            objs = build({})
            objs.pop("vm").close()
            for name in order:
                del objs[name]
            gc.collect()
            assert lib.gpuvm_alloc_live() == start, f"leak after {order}"
            orders += 1
    assert orders == 120


def test_reference_cycles_are_collected():
    start = lib.gpuvm_alloc_live()
    objs = build({})
    cycle: list = [objs]
    cycle.append(cycle)
    objs["self"] = objs

    class Steps:
        def __init__(self, vm):
            self.vm = vm                                  # steps -> vm -> ... -> steps
            self.ops = []

        def sm_step_map(self, op):
            self.ops.append(op)

        sm_step_remap = sm_step_unmap = sm_step_map

    steps = Steps(objs["vm"])
    steps.ops.append(objs["vm"].sm_map(0x8000, 0x1000, objs["bo"], 0, steps=steps))
    steps.me = steps
    objs["steps"] = steps
    del objs, steps, cycle
    gc.collect()
    assert lib.gpuvm_alloc_live() == start


def test_children_keep_parents_alive():
    a = pygpuvm.GemObject(0x10000)
    vm = pygpuvm.VM()
    vm.map(0x1000, 0x1000, a)
    va = vm.find(0x1000, 0x1000)
    vm_bo = va.vm_bo
    ops = vm.sm_unmap(0x1000, 0x1000)
    del vm
    gc.collect()
    assert not va.vm.closed and vm_bo.vm is va.vm and ops.vm is va.vm
    ops.vm.apply(ops)                                    # still fully usable
    assert va.detached and vm_bo.vas == []


def test_exception_in_callback_leaks_nothing():
    start = lib.gpuvm_alloc_live()
    a = pygpuvm.GemObject(0x10000)
    vm = pygpuvm.VM()
    vm.map(0x1000, 0x3000, a)

    class Boom:
        def sm_step_map(self, op):
            raise RuntimeError("boom")

        def sm_step_remap(self, op):
            raise RuntimeError("boom")

        sm_step_unmap = sm_step_remap

    for _ in range(3):
        with pytest.raises(RuntimeError):
            vm.sm_map(0x2000, 0x1000, a, 0, steps=Boom())
    del vm, a
    gc.collect()
    assert lib.gpuvm_alloc_live() == start


EXIT_SCRIPT = textwrap.dedent("""
    import threading
    import pygpuvm
    keep = []
    for mode in ({}, {"immediate": True, "resv_protected": True}):
        vm = pygpuvm.VM(**mode)
        a = pygpuvm.GemObject(0x100000, name="A")
        p = vm.new_private_object(0x1000)
        vm.map(0x1000, 0x2000, a, 0)
        vm.map(0x4000, 0x1000, p, 0)
        ops = vm.sm_map(0x1800, 0x1000, a, 0)
        vb = vm.obtain(a)
        vb.evict(True)
        cycle = [vm, a, p, ops, vb, vm.find(0x1000, 0x2000)]
        cycle.append(cycle)
        keep.append(cycle)
    holder = threading.Thread(target=lambda: None)
    holder.start(); holder.join()
    print("alive at exit")
""")


def test_interpreter_exit_with_everything_alive(tmp_path):
    # cwd: not the checkout, whose pygpuvm/ lacks the compiled extension.
    proc = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "alive at exit"
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
