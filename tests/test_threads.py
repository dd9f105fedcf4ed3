"""Threads: 8 threads map and unmap shared GEM objects across 4 VMs for a bounded
time (cffi releases the GIL around every C call, so they really run in C at
the same time), then the final state must be consistent and leak-free."""

from __future__ import annotations

import gc
import os
import random
import threading
import time

import pytest

import pygpuvm
from pygpuvm.raw import lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

SECONDS = float(os.environ.get("PYGPUVM_THREAD_SECONDS", "2.0"))
PAGE = 0x1000
SPACE = 64 * PAGE


def check_consistent(vm, bos):
    vas = list(vm)
    assert len(vas) == len(vm)
    for left, right in zip(vas, vas[1:]):
        assert left.end <= right.addr, f"overlap {left} {right}"
    linked = {}
    for va in vas:
        if va.obj is not None:
            vm_bo = va.vm_bo
            assert vm_bo is not None and vm_bo.obj is va.obj and vm_bo.vm is vm
            linked.setdefault(va.obj.name, set()).add((va.addr, va.range))
    for bo in bos:
        vm_bo = vm.find_vm_bo(bo)
        got = {(v.addr, v.range) for v in vm_bo.vas} if vm_bo is not None else set()
        assert got == linked.get(bo.name, set())
        if vm_bo is not None:
            assert vm_bo.on_extobj_list
    assert vm.refcount >= 1 + len(vas)


def worker(seed, vms, bos, deadline, errors, counts):
    rng = random.Random(seed)
    n = 0
    try:
        while time.monotonic() < deadline:
            vm = rng.choice(vms)
            what = rng.random()
            addr = PAGE * rng.randrange(1, SPACE // PAGE - 4)
            size = PAGE * rng.randrange(1, 4)
            if what < 0.45:
                bo = rng.choice(bos + [None])
                vm.map(addr, size, bo, PAGE * rng.randrange(0, 8))
            elif what < 0.75:
                vm.unmap(addr, size)
            elif what < 0.82:
                # Not atomic: another thread may change the VM in between,
                # which apply must detect.
                ops = vm.bo_unmap(rng.choice(bos))
                try:
                    vm.apply(ops)
                except pygpuvm.StaleOpsError:
                    assert ops.stale
            elif what < 0.88:
                vm_bo = vm.obtain(rng.choice(bos))
                vm_bo.evict(rng.random() < 0.5)
                _ = vm_bo.vas
            elif what < 0.92:
                for vm_bo in rng.choice(bos).vm_bos:
                    _ = vm_bo.evicted
            elif what < 0.95:
                vm.validate()
            else:
                _ = [va.vm_bo for va in vm.vas(addr, addr + 8 * size)]
                _ = vm.extobjs, vm.evicted_bos
            n += 1
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)
    counts.append(n)


@pytest.mark.parametrize("family", [
    pytest.param([dict(), dict(), dict(resv_protected=True), dict(resv_protected=True)],
                 id="staged"),
    pytest.param([dict(immediate=True), dict(immediate=True),
                  dict(immediate=True, resv_protected=True),
                  dict(immediate=True, resv_protected=True)], id="immediate"),
])
def test_eight_threads_four_vms(family):
    start = lib.gpuvm_alloc_live()
    warns = lib.gpuvm_warn_count()
    bos = [pygpuvm.GemObject(1 << 20, name=f"B{i}") for i in range(6)]
    vms = [pygpuvm.VM(name=f"vm{i}", **mode) for i, mode in enumerate(family)]
    errors: list[BaseException] = []
    counts: list[int] = []
    deadline = time.monotonic() + SECONDS / 2
    threads = [threading.Thread(target=worker, args=(i, vms, bos, deadline, errors, counts))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    assert not errors, errors
    assert sum(counts) > 100
    assert lib.gpuvm_warn_count() == warns, "the C core WARNed under concurrency"
    for vm in vms:
        check_consistent(vm, bos)
    for bo in bos:
        assert {vb.vm.name for vb in bo.vm_bos} <= {vm.name for vm in vms}
    for vm in vms:
        vm.close()
    for bo in bos:
        assert bo.refcount == 1 and bo.vm_bos == []
    del vms, bos, vm, bo
    gc.collect()
    assert lib.gpuvm_alloc_live() == start
    print(f"no race conditions: {sum(counts)} operations by 8 threads")
