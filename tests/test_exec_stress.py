"""Bounded multi-thread stress of the exec transactions.

8 threads drive 4 VMs (two threads per VM) that share 6 external objects and
each own 2 private ones. Every transaction is one of:

* a VM_BIND: ``vm.bind_lock`` of 1-3 random map/unmap binds, ``ex.bind()``;
* evict + validate: ``vm.exec_lock`` with some extra shared objects, evict a
  random vm_bo, ``vm.validate(ex, fn)``;
* ``vm.exec_lock_range`` over a random range;

and adds a fresh fence to everything it locked. A "GPU" thread signals the
fences in submission order; each worker waits for its own fence of a few
transactions back before going on (waits across threads). Afterwards every
reservation object is unlocked, every fence is signalled and, once the VMs
and objects are gone, referenced by nobody but its wrapper, and the C
allocator is back at its start value.

The default run takes a few seconds per VM mode; ``--run-slow`` adds a long run.
"""

from __future__ import annotations

import collections
import gc
import queue
import random
import threading
import time

import pytest

import pygpuvm
from pygpuvm.fence import Fence, ResvUsage
from pygpuvm.raw import lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

SLOT = 0x10000
NSLOTS = 24
BASE = 0x100000


class Gpu:
    """Signals submitted fences in order, a little later (a fake GPU ring)."""

    def __init__(self) -> None:
        self.q: queue.Queue[Fence | None] = queue.Queue()
        self.signaled = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            f = self.q.get()
            if f is None:
                return
            if self.q.qsize() < 4:
                time.sleep(0)
            assert f.signal()
            self.signaled += 1

    def submit(self, f: Fence) -> None:
        self.q.put(f)

    def stop(self) -> None:
        self.q.put(None)
        self.thread.join(60)
        assert not self.thread.is_alive()


def random_binds(rng: random.Random, objs: list[pygpuvm.GemObject]) -> list[tuple]:
    binds = []
    for _ in range(rng.randint(1, 3)):
        start = BASE + rng.randrange(NSLOTS * SLOT // 0x1000) * 0x1000
        size = rng.choice((0x1000, 0x4000, SLOT, 3 * SLOT))
        if rng.random() < 0.65:
            obj = rng.choice(objs)
            binds.append(("map", start, size, obj, rng.randrange(16) * 0x1000))
        else:
            binds.append(("unmap", start, size))
    return binds


def run_stress(duration: float, immediate: bool, seed: int = 1) -> None:
    gc.collect()
    start_live = lib.gpuvm_alloc_live()
    vms = [pygpuvm.VM(name=f"vm{i}", immediate=immediate, resv_protected=bool(i % 2))
           for i in range(4)]
    shared = [pygpuvm.GemObject(0x400000, f"S{i}") for i in range(6)]
    private = [[vm.new_private_object(0x400000, f"{vm.name}.P{j}") for j in range(2)]
               for vm in vms]
    gpu = Gpu()
    fences: list[Fence] = []
    fences_lock = threading.Lock()
    stats = collections.Counter()
    stats_lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)
    deadline = [0.0]

    def worker(t: int) -> None:
        rng = random.Random(seed * 100 + t)
        vm = vms[t % 4]
        objs = shared + private[t % 4]
        ctx = Fence.new_context()
        mine: collections.deque[Fence] = collections.deque()
        local = collections.Counter()
        seqno = 0
        try:
            barrier.wait()
            while time.monotonic() < deadline[0]:
                seqno += 1
                f = Fence(ctx, seqno)
                kind = rng.random()
                if kind < 0.5:
                    binds = random_binds(rng, objs)
                    with vm.bind_lock(binds, num_fences=1) as ex:
                        ex.bind()
                        ex.add_fence(f)
                    local["bind"] += 1
                elif kind < 0.8:
                    extra = rng.sample(shared, rng.randint(0, 3))
                    validated = []
                    with vm.exec_lock(num_fences=1, objects=extra) as ex:
                        candidates = vm.extobjs + [v for v in map(vm.find_vm_bo, private[t % 4])
                                                   if v is not None]
                        if candidates:
                            victim = rng.choice(candidates)
                            assert ex.is_locked(victim.obj)
                            victim.evict(True)
                            local["evict"] += 1
                        vm.validate(ex, lambda vm_bo: validated.append(vm_bo.obj))
                        ex.add_fence(f, private_usage=ResvUsage.BOOKKEEP,
                                     extobj_usage=ResvUsage.READ)
                        del candidates
                        victim = None
                    local["validated"] += len(validated)
                    local["exec"] += 1
                else:
                    start = BASE + rng.randrange(NSLOTS) * SLOT
                    with vm.exec_lock_range(start, rng.randrange(1, 6) * SLOT) as ex:
                        assert all(ex.is_locked(o) for o in ex.locked_objects)
                        ex.add_fence(f, extobj_usage=ResvUsage.WRITE)
                    local["range"] += 1
                local["backoffs"] += ex.backoffs
                gpu.submit(f)
                with fences_lock:
                    fences.append(f)
                mine.append(f)
                if len(mine) > 3:
                    assert mine.popleft().wait(30), "the GPU thread stalled"
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        with stats_lock:
            stats.update(local)

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(8)]
    t0 = time.monotonic()
    deadline[0] = t0 + duration
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 120)
    elapsed = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads), "deadlock: a worker never finished"
    gpu.stop()
    if errors:
        raise errors[0]

    transactions = stats["bind"] + stats["exec"] + stats["range"]
    print(f"\n[{'immediate' if immediate else 'staged'}] {transactions} transactions in "
          f"{elapsed:.2f}s = {transactions / elapsed:.0f}/s (8 threads, 4 VMs): "
          f"{stats['bind']} binds, {stats['exec']} exec+validate "
          f"({stats['evict']} evictions, {stats['validated']} validated), "
          f"{stats['range']} range locks; back-offs {stats['backoffs']}; "
          f"VAs now {[len(vm) for vm in vms]}")
    assert transactions == len(fences) == gpu.signaled > 0

    every = shared + [p for ps in private for p in ps]
    assert not any(lib.dma_resv_is_locked(o._ptr.resv) for o in every)
    assert not any(lib.dma_resv_is_locked(vm._ptr.r_obj.resv) for vm in vms)
    assert all(f.signaled for f in fences)
    for o in every:
        assert lib.dma_resv_test_signaled(o._ptr.resv, ResvUsage.BOOKKEEP)
    # Each VM's view is consistent: every VA is on its object's vm_bo.
    va = None
    for vm in vms:
        for va in vm:
            if va.obj is not None:
                assert va in va.vm_bo.vas
        vm.validate()
        assert vm.evicted_bos == []
        vm.close()
    del vms, vm, va, every, o, private, shared, threads
    gc.collect()
    # Nobody but the wrappers refers to the fences any more.
    assert all(f.refcount == 1 for f in fences)
    del fences
    gc.collect()
    assert lib.gpuvm_alloc_live() == start_live


@pytest.mark.parametrize("immediate", [False, True], ids=["staged", "immediate"])
def test_exec_stress(immediate):
    run_stress(2.0, immediate)


@pytest.mark.slow
@pytest.mark.parametrize("immediate", [False, True], ids=["staged", "immediate"])
def test_exec_stress_long(immediate):
    run_stress(60.0, immediate, seed=7)
