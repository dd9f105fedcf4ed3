"""VM.run_batch and Batch: many map/unmap requests in one C call.

* the final state (dump, vm_bos, extobj lists, VA count) is exactly that of
  the same requests done one by one with vm.map / vm.unmap, in every VM mode,
  whether the batch comes from tuples, Batch.map/unmap or a raw u64 buffer;
* errors: a refused request changes nothing and is reported with its index,
  the others run; ENOMEM (and any error with stop_on_error) stops the batch
  after that request, leaving exactly the prefix applied;
* allocation failure injected at an allocation of a batch leaves the VM in
  the state of the processed prefix, with no leak; finishing the rest then
  gives the state of the whole batch (a seeded slice of the allocations by
  default, every one of them with ``--run-slow``);
* live Va wrappers of removed VAs detach; malformed Python requests raise
  before anything runs.
"""

from __future__ import annotations

import errno
import gc
import random
import threading
from array import array

import pytest

import pygpuvm
from pygpuvm.raw import ffi, lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

MODES = [
    pytest.param(dict(), id="staged"),
    pytest.param(dict(resv_protected=True), id="resv_protected"),
    pytest.param(dict(immediate=True), id="immediate"),
    pytest.param(dict(immediate=True, resv_protected=True), id="immediate+resv_protected"),
]

PAGE = 0x1000
# A 64-page window above the reserved node [0, 0x1000):
#   0    1                                                    0x41
#   KKKK|.... random maps of 1..8 pages, 4 objects + none ....|
WINDOW = 64


def make_vm(mode, name="vm"):
    vm = pygpuvm.VM(name=name, **mode)
    # Two private objects (the VM's resv) and two external ones.
    objs = [vm.new_private_object(1 << 30, name="A"), vm.new_private_object(1 << 30, name="B"),
            pygpuvm.GemObject(1 << 30, name="X"), pygpuvm.GemObject(1 << 30, name="Y")]
    return vm, objs


def random_requests(rng, n, objs):
    """map/unmap tuples over the window (objects given by position in objs, or None)."""
    out = []
    for _ in range(n):
        addr = PAGE * rng.randrange(1, WINDOW + 1)
        size = PAGE * rng.randrange(1, 9)
        if rng.random() < 0.6:
            k = rng.randrange(len(objs) + 1)
            out.append(("map", addr, size, k, PAGE * rng.randrange(0, 16)))
        else:
            out.append(("unmap", addr, size))
    return out


def bind(requests, objs):
    """Requests with object positions replaced by the objects themselves."""
    out = []
    for r in requests:
        if r[0] == "map":
            out.append(("map", r[1], r[2], objs[r[3] - 1] if r[3] else None, r[4]))
        else:
            out.append(r)
    return out


def one_by_one(vm, requests):
    """vm.map / vm.unmap for each request; returns (ops applied, indices refused)."""
    ops = 0
    refused = []
    for i, r in enumerate(requests):
        try:
            if r[0] == "map":
                ops += len(vm.map(*r[1:]))
            else:
                ops += len(vm.unmap(*r[1:]))
        except pygpuvm.GpuvmError:
            refused.append(i)
    return ops, refused


def state(vm, objs):
    return (len(vm), vm.dump(objs), sorted(b.obj.name for b in vm.extobjs),
            [b.refcount for b in objs], vm.refcount)


def words_of(requests):
    """The raw u64 layout of Batch (object positions are already indices)."""
    w = array("Q")
    for r in requests:
        if r[0] == "map":
            w.extend((pygpuvm.Batch.MAP, r[1], r[2], r[3], r[4]))
        else:
            w.extend((pygpuvm.Batch.UNMAP, r[1], r[2], 0, 0))
    return w


# ---------------------------------------------------------------- same result as one by one


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_matches_one_by_one(mode, seed):
    rng = random.Random(seed)
    ref_vm, ref_objs = make_vm(mode, "ref")
    reqs = random_requests(rng, 300, ref_objs)
    ops, refused = one_by_one(ref_vm, bind(reqs, ref_objs))
    assert not refused and ops > 300
    expected = state(ref_vm, ref_objs)

    # Tuples, Batch.map/unmap, and a raw buffer: three ways to build the same batch.
    for how in ("tuples", "methods", "buffer"):
        vm, objs = make_vm(mode, "ref")
        gen = vm.generation
        if how == "tuples":
            result = vm.run_batch(bind(reqs, objs))
        elif how == "methods":
            batch = pygpuvm.Batch()
            for r in bind(reqs, objs):
                if r[0] == "map":
                    batch.map(*r[1:])
                else:
                    batch.unmap(*r[1:])
            result = vm.run_batch(batch)
        else:
            result = vm.run_batch(pygpuvm.Batch.from_buffer(words_of(reqs), objs))
        assert result.ok, result.errors
        assert (result.processed, result.total, result.ops) == (300, 300, ops)
        assert state(vm, objs) == expected, how
        assert vm.generation == gen + 1                 # one bump for the whole batch
        vm.close()
    ref_vm.close()


def test_batch_is_reusable_and_repr():
    vm, objs = make_vm({})
    batch = pygpuvm.Batch([("map", 0x10000, 0x4000, objs[2], 0x1000), ("unmap", 0x11000, 0x1000)])
    assert len(batch) == 2 and batch.objects == (objs[2],)
    assert list(batch) == [("map", 0x10000, 0x4000, objs[2], 0x1000), ("unmap", 0x11000, 0x1000)]
    assert batch[-1] == ("unmap", 0x11000, 0x1000)
    first = vm.run_batch(batch)
    assert first.ok and first.ops == 2 and first.changed == 2   # map; remap (prev + next)
    assert "2/2 processed" in repr(first) and "ok" in repr(first)
    again = vm.run_batch(batch)                                 # map over both pieces, cut again
    assert again.ok and again.ops == 4
    assert [(v.addr, v.range) for v in vm] == [(0x10000, 0x1000), (0x12000, 0x2000)]
    assert repr(batch) == "<Batch 2 requests, 1 objects>"
    vm.close()


def test_empty_batch_changes_nothing():
    vm, objs = make_vm({})
    vm.map(0x10000, 0x1000, objs[0])
    gen = vm.generation
    for empty in ([], pygpuvm.Batch(), pygpuvm.Batch.from_buffer(b"")):
        result = vm.run_batch(empty)
        assert result.ok and (result.processed, result.ops) == (0, 0)
    # Requests that produce no ops (unmapping holes) change nothing either.
    result = vm.run_batch([("unmap", 0x20000, 0x1000), ("unmap", 0x30000, 0x5000)])
    assert result.ok and result.ops == 0 and result.changed == 0
    assert vm.generation == gen and len(vm) == 1
    vm.close()


# ---------------------------------------------------------------- errors


def test_refused_requests_are_reported_and_skipped():
    #   window [0x1000, 0x100000), reserved [0x1000, 0x2000)
    vm = pygpuvm.VM(start=0x1000, range=0xFF000, reserve=(0x1000, 0x1000))
    a = pygpuvm.GemObject(1 << 20, name="A")
    reqs = [
        ("map", 0x4000, 0x2000, a, 0),       # 0 ok
        ("map", 0x1800, 0x1000, a, 0),       # 1 overlaps the reserved node: EINVAL
        ("map", 0x200000, 0x1000, a, 0),     # 2 past the VM's end: EINVAL
        ("unmap", 0x4000, 0x1000),           # 3 ok (remap)
        ("unmap", 0x0, 0x3000),              # 4 below start: EINVAL
        ("map", 0x8000, 0x1000, None, 0),    # 5 ok
    ]
    result = vm.run_batch(reqs)
    assert [i for i, _ in result.errors] == [1, 2, 4]
    assert all(isinstance(e, pygpuvm.InvalidRangeError) and e.errno == errno.EINVAL
               for _, e in result.errors)
    assert "batch request 1: map 0x1800 0x1000 A 0x0" in str(result.errors[0][1])
    assert result.processed == 6 and not result.stopped and not result.ok
    with pytest.raises(pygpuvm.InvalidRangeError):
        result.raise_first()
    # Exactly the valid requests, one by one.
    ref = pygpuvm.VM(start=0x1000, range=0xFF000, reserve=(0x1000, 0x1000))
    _, refused = one_by_one(ref, reqs)
    assert refused == [1, 2, 4]
    assert vm.dump([a]) == ref.dump([a])
    vm.close()
    ref.close()


def test_stop_on_error_leaves_the_rest_untouched():
    vm, objs = make_vm({})
    reqs = [("map", 0x10000, 0x1000, objs[0], 0), ("map", 0x0, 0x2000, objs[0], 0),
            ("map", 0x20000, 0x1000, objs[1], 0)]
    result = vm.run_batch(reqs, stop_on_error=True)
    assert result.processed == 2 and result.stopped and [i for i, _ in result.errors] == [1]
    assert [(v.addr, v.range) for v in vm] == [(0x10000, 0x1000)]
    vm.close()


def test_buffer_words_are_checked_in_c():
    vm, objs = make_vm({})
    w = array("Q", [
        pygpuvm.Batch.MAP, 0x10000, 0x1000, 1, 0,      # 0 ok (objs[0])
        pygpuvm.Batch.MAP, 0x11000, 0x1000, 9, 0,      # 1 object index past the table
        7, 0x12000, 0x1000, 0, 0,                      # 2 unknown kind
        pygpuvm.Batch.MAP, 0x13000, 0, 0, 0,           # 3 zero-sized (refused like vm.map)
        pygpuvm.Batch.UNMAP, 0x10000, 0, 0, 0,         # 4 zero-sized unmap
        pygpuvm.Batch.MAP, 0x14000, 0x1000, 0, 0,      # 5 ok (no object)
    ])
    batch = pygpuvm.Batch.from_buffer(w, objs[:1])
    assert batch[1] == (pygpuvm.Batch.MAP, 0x11000, 0x1000, 9, 0)    # not a valid request
    result = vm.run_batch(batch)
    assert [i for i, _ in result.errors] == [1, 2, 3, 4]
    assert all(e.errno == errno.EINVAL for _, e in result.errors)
    assert "invalid request words" in str(result.errors[1][1])
    assert [(v.addr, v.obj) for v in vm] == [(0x10000, objs[0]), (0x14000, None)]
    vm.close()


@pytest.mark.parametrize("bad,exc", [
    (("map", 0x1000), TypeError), (("map", -1, 0x1000), ValueError),
    (("map", 0x1000, 0x1000, "A"), TypeError), (("unmap", 0x1000, 1 << 64), ValueError),
    (("remap", 0x1000, 0x1000), ValueError), ([("map", 0x1000, 0x1000)], TypeError),
    (("unmap", 0x1000, 0x1000, 0), TypeError), (("map", 0x2000, 0), pygpuvm.InvalidRangeError),
    (("map", True, 0x1000), TypeError),
])
def test_malformed_requests_raise_before_anything_runs(bad, exc):
    vm, objs = make_vm({})
    vm.map(0x10000, 0x1000, objs[0])
    gen, before = vm.generation, state(vm, objs)
    with pytest.raises(exc):
        vm.run_batch([("map", 0x20000, 0x1000, objs[1], 0), bad])
    assert vm.generation == gen and state(vm, objs) == before
    batch = pygpuvm.Batch([("unmap", 0x10000, 0x1000)])
    with pytest.raises(exc):
        batch.extend([("unmap", 0x30000, 0x1000), bad])
    assert len(batch) == 1 and batch.objects == ()          # the failed extend kept nothing
    vm.close()


def test_bad_buffers():
    with pytest.raises(ValueError):
        pygpuvm.Batch.from_buffer(bytes(8 * 4))
    with pytest.raises(TypeError):
        pygpuvm.Batch.from_buffer(object())
    with pytest.raises(TypeError):
        pygpuvm.Batch(objects=["A"])


def test_unaligned_and_readonly_buffers():
    vm, objs = make_vm({})
    words = words_of([("map", 0x10000, 0x2000, 1, 0), ("unmap", 0x11000, 0x1000)])
    raw = bytearray(4) + words.tobytes()
    view = memoryview(raw)[4:]                              # 4-byte aligned only
    result = vm.run_batch(pygpuvm.Batch.from_buffer(view, objs))
    assert result.ok and [(v.addr, v.range) for v in vm] == [(0x10000, 0x1000)]
    result = vm.run_batch(pygpuvm.Batch.from_buffer(bytes(words), objs))   # read-only
    assert result.ok and len(vm) == 1
    vm.close()


def test_appending_to_a_buffer_batch_copies_it():
    vm, objs = make_vm({})
    words = words_of([("map", 0x10000, 0x1000, 1, 0)])
    batch = pygpuvm.Batch.from_buffer(words, objs[:1])
    batch.unmap(0x10000, 0x1000)
    words.append(0)                                          # the buffer is not exported any more
    assert len(batch) == 2 and vm.run_batch(batch).ok and len(vm) == 0
    vm.close()


def test_closed_and_busy_vms():
    vm, objs = make_vm({})
    reqs = [("map", 0x10000, 0x1000, objs[0], 0)]

    class Steps:
        def sm_step_map(self, op):
            with pytest.raises(pygpuvm.VMBusyError):
                vm.run_batch(reqs)

        sm_step_remap = sm_step_unmap = sm_step_map

    vm.sm_map(0x20000, 0x1000, objs[1], 0, steps=Steps())
    assert len(vm) == 0
    vm.close()
    with pytest.raises(pygpuvm.DetachedError):
        vm.run_batch(reqs)


# ---------------------------------------------------------------- wrappers and staleness


def test_removed_vas_detach_and_others_keep_identity():
    #   1    2    3    4    5    6
    #   AAAAAAAAAA.....BBBBB.....CCCCC     batch: unmap A's middle, replace B, keep C
    vm, objs = make_vm({})
    vm.map(0x10000, 0x2000, objs[0])
    vm.map(0x14000, 0x1000, objs[1])
    vm.map(0x16000, 0x1000, objs[2])
    a, b, c = vm.find(0x10000, 0x2000), vm.find(0x14000, 0x1000), vm.find(0x16000, 0x1000)
    pending = vm.sm_map(0x30000, 0x1000, objs[3])
    result = vm.run_batch([("unmap", 0x11000, 0x800), ("map", 0x14000, 0x1000, objs[3], 0)])
    assert result.ok and result.ops == 3
    assert a.detached and b.detached and not c.detached
    assert vm.find(0x16000, 0x1000) is c
    assert vm.find(0x14000, 0x1000).obj is objs[3]
    assert pending.stale
    with pytest.raises(pygpuvm.StaleOpsError):
        vm.apply(pending)
    vm.close()


def test_insert_failures_in_a_batch_are_warnings():
    # As test_ops: a zero-sized VA made through the raw API blocks an insert.
    #   4    5    6
    #   XXXXX|XXXXX      X split at 0x5000 by a zero-sized map
    x = pygpuvm.GemObject(0x10000, name="X")
    y = pygpuvm.GemObject(0x10000, name="Y")
    with pygpuvm.VM() as vm:
        vm.map(0x4000, 0x2000, x, 0)
        with vm._lock:
            zero = vm._make_ops(lib.pygpuvm_sm_map_ops(vm._ptr, 0x5000, 0, ffi.NULL, 0, False),
                                "map")
        vm.apply(zero)
        with pytest.warns(pygpuvm.GpuvmWarning, match="insert_failed 0x4800 0x1000 Y 0x0"):
            result = vm.run_batch([("map", 0x4800, 0x1000, y, 0)])
        assert result.ok and len(vm) == 3 == len(list(vm))
        assert vm.find(0x4800, 0x1000) is None


# ---------------------------------------------------------------- allocation failures


class _FailureCase:
    """40 seeded requests in one VM mode, with the state after every prefix."""

    def __init__(self, mode):
        self.mode = mode
        rng = random.Random(7)
        probe_vm, probe_objs = make_vm(mode)
        self.reqs = random_requests(rng, 40, probe_objs)
        probe_vm.close()
        del probe_vm, probe_objs
        # The state after each prefix, one by one.
        ref_vm, ref_objs = make_vm(mode, "ref")
        self.prefix_states = [state(ref_vm, ref_objs)]
        for r in bind(self.reqs, ref_objs):
            (ref_vm.map if r[0] == "map" else ref_vm.unmap)(*r[1:])
            self.prefix_states.append(state(ref_vm, ref_objs))
        self.final = self.prefix_states[-1]
        ref_vm.close()
        del ref_vm, ref_objs
        # How many allocations the whole batch makes when none fails.
        gc.collect()
        vm, objs = make_vm(mode, "ref")
        before = lib.gpuvm_alloc_count()
        assert vm.run_batch(bind(self.reqs, objs)).ok
        self.allocations = lib.gpuvm_alloc_count() - before
        vm.close()
        del vm, objs

    def fail_at(self, nth):
        """Fail allocation @nth of the batch; returns False once the batch no longer fails."""
        gc.collect()
        live = lib.gpuvm_alloc_live()
        vm, objs = make_vm(self.mode, "ref")
        lib.gpuvm_alloc_fail_nth(nth)
        result = vm.run_batch(bind(self.reqs, objs))
        lib.gpuvm_alloc_fail_nth(0)
        if result.ok:
            assert state(vm, objs) == self.final
            vm.close()
            return False
        # Stopped at the failing request: the prefix before it, nothing else.
        assert len(result.errors) == 1
        i, err = result.errors[0]
        assert isinstance(err, pygpuvm.OutOfMemoryError) and result.processed == i + 1
        assert result.stopped == (i < len(self.reqs) - 1)
        assert state(vm, objs) == self.prefix_states[i], f"allocation {nth}"
        # The rest of the batch, re-run, completes the same final state.
        rest = vm.run_batch(bind(self.reqs, objs)[i:])
        assert rest.ok and state(vm, objs) == self.final
        vm.close()
        del vm, objs, result, err, rest
        gc.collect()
        assert lib.gpuvm_alloc_live() == live, f"leak after failing allocation {nth}"
        return True


@pytest.mark.parametrize("mode", MODES)
def test_allocation_failure_stops_at_a_consistent_prefix(mode):
    """A seeded slice of the allocations: the first and last few, and 12 drawn at random."""
    case = _FailureCase(mode)
    n = case.allocations
    assert n > 40
    picked = set(range(1, 5)) | set(range(n - 3, n + 1))
    picked |= set(random.Random(2026).sample(range(5, n - 3), 12))
    for nth in sorted(picked):
        assert case.fail_at(nth), f"allocation {nth} of {n} did not fail the batch"
    assert not case.fail_at(n + 1)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_allocation_failure_stops_at_a_consistent_prefix_exhaustive(mode):
    """Every allocation of the batch, one run each (--run-slow)."""
    case = _FailureCase(mode)
    nth = 1
    while case.fail_at(nth):
        nth += 1
    assert nth == case.allocations + 1


# ---------------------------------------------------------------- threads


def test_batches_and_single_calls_from_threads():
    vm, objs = make_vm({})
    errors = []

    def batches(seed):
        rng = random.Random(seed)
        try:
            for _ in range(30):
                vm.run_batch(bind(random_requests(rng, 20, objs), objs))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def singles(seed):
        rng = random.Random(seed)
        try:
            for _ in range(300):
                addr = PAGE * rng.randrange(1, WINDOW + 1)
                if rng.random() < 0.5:
                    vm.map(addr, PAGE, objs[rng.randrange(4)], 0)
                else:
                    for va in vm.vas(addr, addr + 4 * PAGE):
                        assert va.vm is vm
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=batches, args=(1,)),
               threading.Thread(target=batches, args=(2,)),
               threading.Thread(target=singles, args=(3,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    vas = list(vm)
    assert len(vas) == len(vm)
    assert all(l.end <= r.addr for l, r in zip(vas, vas[1:]))
    for bo in objs:
        vm_bo = vm.find_vm_bo(bo)
        linked = sorted((v.addr, v.range) for v in vas if v.obj is bo)
        got = sorted((v.addr, v.range) for v in vm_bo.vas) if vm_bo is not None else []
        assert got == linked, bo.name
    vm.close()
