"""Ops lists through the classes: the golden traces replayed with VM.map/unmap/...,
the split/merge case table, staleness, driver callbacks (steps), insert failures."""

from __future__ import annotations

import errno
import traceback
import warnings
from pathlib import Path

import pytest

import pygpuvm
from pygpuvm.raw import ffi, lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

TRACES = Path(__file__).parent / "traces"


# ---------------------------------------------------------------- golden traces


def _num(word: str) -> int:
    return int(word, 16) if word.startswith("0x") else int(word)


def run_trace_with_classes(text: str) -> str:
    """Run a trace through the classes and print what docs/trace-format.md prescribes."""
    out: list[str] = []
    vm = None
    bos: dict[str, pygpuvm.GemObject] = {}

    def flush(ws):
        for w in ws:
            if issubclass(w.category, pygpuvm.GpuvmWarning):
                msg = str(w.message)
                # C WARNs carry "[file:line]"; the trace shows the bare text.
                out.append("warn " + msg.rsplit(" [", 1)[0])

    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            if cmd == "vm":
                nums = [_num(w) for w in args]
                reserve = (nums[2], nums[3]) if len(nums) == 4 and nums[3] else None
                vm = pygpuvm.VM(start=nums[0], range=nums[1], reserve=reserve)
            elif cmd == "bo":
                name = args[0]
                if len(args) > 1:
                    bos[name] = pygpuvm.GemObject(0x1000, name=name)
                else:
                    bos[name] = vm.new_private_object(0x1000, name=name)
            elif cmd == "mark":
                pass
            else:
                shown = [w if (w in bos or w == "-") else hex(_num(w)) for w in args]
                out.append(" ".join(["> " + cmd] + shown))
                try:
                    if cmd == "map":
                        obj = None if args[2] == "-" else bos[args[2]]
                        ops = vm.map(_num(args[0]), _num(args[1]), obj, _num(args[3]))
                    elif cmd == "unmap":
                        ops = vm.unmap(_num(args[0]), _num(args[1]))
                    elif cmd == "prefetch":
                        ops = vm.prefetch(_num(args[0]), _num(args[1]))
                    elif cmd == "bo_unmap":
                        ops = vm.bo_unmap(bos[args[0]])
                        out.extend(ops.lines())
                        vm.apply(ops)
                        ops = None
                    elif cmd == "dump":
                        out.extend(vm.dump(list(bos.values())).splitlines())
                        ops = None
                    else:
                        raise AssertionError(f"unknown command {cmd}")
                    if ops is not None:
                        out.extend(ops.lines())
                except pygpuvm.GpuvmError as e:
                    out.append(f"error {errno.errorcode[e.errno]}")
        flush(ws)
    if vm is not None:
        vm.close()
    return "\n".join(out) + "\n"


def _golden():
    for trace in sorted(TRACES.glob("*.trace")):
        expected = trace.with_suffix(".out")
        if not expected.exists():
            continue
        text = trace.read_text()
        cmds = [line.split("#", 1)[0].split() for line in text.splitlines()]
        # The classes refuse zero-sized requests, which the kernel (and so
        # the golden output) accepts.
        if any(c and c[0] in ("map", "unmap", "prefetch") and _num(c[2]) == 0 for c in cmds):
            continue
        yield pytest.param(trace, expected, id=trace.stem)


@pytest.mark.parametrize("trace,expected", list(_golden()))
def test_golden_traces_through_the_classes(trace, expected):
    assert run_trace_with_classes(trace.read_text()) == expected.read_text()


def test_some_golden_traces_ran():
    assert len(list(_golden())) >= 15


# ---------------------------------------------------------------- sm_map case table


class Scene:
    """vm, A, B; cleared at teardown so the leak check sees them freed."""

    def __init__(self):
        self.a = pygpuvm.GemObject(0x100000, name="A")
        self.b = pygpuvm.GemObject(0x100000, name="B")
        self.vm = pygpuvm.VM(reserve=None)

    def __iter__(self):
        return iter((self.vm, self.a, self.b))

    def clear(self):
        self.vm.close()
        self.vm = self.a = self.b = None


@pytest.fixture
def scene():
    s = Scene()
    yield s
    s.clear()


# Existing VA: A at [0x4000, 0x8000) offset 0x10000.
#   0   2   4   6   8   a   c
#   ........AAAAAAAA........
@pytest.mark.parametrize("req,expect", [
    # a == A, e == E, identical: keep, stop
    ((0x4000, 0x4000, "A", 0x10000), ["unmap 0x4000 0x4000 A 0x10000 keep=1",
                                      "map 0x4000 0x4000 A 0x10000"]),
    # a == A, e < E: unmap, continue
    ((0x4000, 0x6000, "A", 0x10000), ["unmap 0x4000 0x4000 A 0x10000 keep=1",
                                      "map 0x4000 0x6000 A 0x10000"]),
    # a == A, e > E: remap next = f + R
    ((0x4000, 0x1000, "A", 0x10000), [
        "remap unmap=0x4000,0x4000,A,0x10000,keep=1 prev=- next=0x5000,0x3000,A,0x11000",
        "map 0x4000 0x1000 A 0x10000"]),
    # a < A, e == E: remap prev, keep needs f + (A - a) == F
    ((0x6000, 0x2000, "A", 0x12000), [
        "remap unmap=0x4000,0x4000,A,0x10000,keep=1 prev=0x4000,0x2000,A,0x10000 next=-",
        "map 0x6000 0x2000 A 0x12000"]),
    ((0x6000, 0x2000, "A", 0x10000), [
        "remap unmap=0x4000,0x4000,A,0x10000,keep=0 prev=0x4000,0x2000,A,0x10000 next=-",
        "map 0x6000 0x2000 A 0x10000"]),
    # a < A, e > E: centered: prev and next, next offset f + (E - a)
    ((0x5000, 0x1000, "B", 0x0), [
        "remap unmap=0x4000,0x4000,A,0x10000,keep=0 prev=0x4000,0x1000,A,0x10000 "
        "next=0x6000,0x2000,A,0x12000",
        "map 0x5000 0x1000 B 0x0"]),
    # a > A, e < E: unmap, keep needs f == F + (a - A)
    ((0x2000, 0x8000, "A", 0xE000), ["unmap 0x4000 0x4000 A 0x10000 keep=1",
                                     "map 0x2000 0x8000 A 0xe000"]),
    # a > A, e > E: remap next = f + (E - a)
    ((0x2000, 0x4000, "A", 0xE000), [
        "remap unmap=0x4000,0x4000,A,0x10000,keep=1 prev=- next=0x6000,0x2000,A,0x12000",
        "map 0x2000 0x4000 A 0xe000"]),
    # no object: keep is always 0
    ((0x4000, 0x4000, "-", 0x10000), ["unmap 0x4000 0x4000 A 0x10000 keep=0",
                                      "map 0x4000 0x4000 - 0x10000"]),
    # empty space: just the map
    ((0x10000, 0x1000, "B", 0x0), ["map 0x10000 0x1000 B 0x0"]),
])
def test_sm_map_case_table(scene, req, expect):
    vm, a, b = scene
    vm.map(0x4000, 0x4000, a, 0x10000)
    objs = {"A": a, "B": b, "-": None}
    ops = vm.sm_map(req[0], req[1], objs[req[2]], req[3])
    assert ops.lines() == expect
    assert ops.kind == "map" and not ops.stale


def test_ops_fields_and_sequence(scene):
    vm, a, b = scene
    vm.map(0x4000, 0x4000, a, 0x10000)
    ops = vm.sm_map(0x5000, 0x1000, b, 0)
    assert len(ops) == 2 and list(ops) == [ops[0], ops[1]] and ops[-1] is ops[1]
    remap, mapop = ops
    assert isinstance(remap, pygpuvm.RemapOp) and isinstance(mapop, pygpuvm.MapOp)
    assert remap.va is vm.find(0x4000, 0x4000)
    assert (remap.addr, remap.range, remap.obj, remap.offset, remap.keep) == (
        0x4000, 0x4000, a, 0x10000, False)
    assert remap.prev == pygpuvm.Piece(0x4000, 0x1000, a, 0x10000)
    assert remap.next == pygpuvm.Piece(0x6000, 0x2000, a, 0x12000)
    assert remap.unmap_range() == (0x5000, 0x1000)
    assert (mapop.addr, mapop.range, mapop.obj, mapop.offset, mapop.end) == (
        0x5000, 0x1000, b, 0, 0x6000)
    assert str(ops) == "\n".join(ops.lines())
    assert "remap" in repr(ops)


def test_unmap_ops_never_keep_and_span(scene):
    #   0   2   4   6   8   a   c
    #   ....AAAA....BBBB....AAAA
    vm, a, b = scene
    vm.map(0x2000, 0x2000, a, 0)
    vm.map(0x6000, 0x2000, b, 0)
    vm.map(0xA000, 0x2000, a, 0xA000)
    ops = vm.sm_unmap(0x3000, 0x8000)
    assert ops.lines() == [
        "remap unmap=0x2000,0x2000,A,0x0,keep=0 prev=0x2000,0x1000,A,0x0 next=-",
        "unmap 0x6000 0x2000 B 0x0 keep=0",
        "remap unmap=0xa000,0x2000,A,0xa000,keep=0 prev=- next=0xb000,0x1000,A,0xb000",
    ]
    vm.apply(ops)
    assert [(v.addr, v.range, v.offset) for v in vm] == [(0x2000, 0x1000, 0), (0xB000, 0x1000, 0xB000)]
    assert vm.unmap(0x4000, 0x1000).lines() == []


def test_stale_ops_refused_and_nothing_changes(scene):
    vm, a, b = scene
    first = vm.sm_map(0x1000, 0x1000, a)
    second = vm.sm_map(0x1000, 0x2000, b)
    vm.apply(first)
    assert first.applied and second.stale
    gen, layout = vm.generation, [(v.addr, v.range) for v in vm]
    with pytest.raises(pygpuvm.StaleOpsError) as ei:
        vm.apply(second)
    assert ei.value.errno == errno.ESTALE
    with pytest.raises(pygpuvm.StaleOpsError):
        vm.apply(first)                            # applying twice is stale too
    assert vm.generation == gen and [(v.addr, v.range) for v in vm] == layout
    other = pygpuvm.VM(name="other")
    with pytest.raises(ValueError):
        other.apply(other.sm_map(0x1000, 0x1000) if False else vm.sm_map(0x9000, 0x1000))
    other.close()


def test_prefetch_includes_the_reserved_node_and_is_not_applied():
    a = pygpuvm.GemObject(0x10000, name="A")
    with pygpuvm.VM() as vm:
        vm.map(0x1000, 0x1000, a)
        ops = vm.prefetch(0, 0x3000)
        assert ops.lines() == ["prefetch 0x0 0x1000 - 0x0 kernel", "prefetch 0x1000 0x1000 A 0x0"]
        assert ops[0].va.kernel
        gen = vm.generation
        vm.apply(ops)
        assert vm.generation == gen and len(vm) == 1


def test_bo_unmap_in_link_order(scene):
    # A remap appends prev then next, so link order drifts from address order.
    vm, a, b = scene
    vm.map(0x1000, 0x6000, a, 0)
    vm.map(0x3000, 0x1000, b, 0)                   # A splits: [1,3) and [4,7) appended
    vm.map(0x0, 0x1000, a, 0x100000 - 0x1000)
    ops = vm.bo_unmap(a)
    assert ops.lines() == [
        "unmap 0x1000 0x2000 A 0x0 keep=0",
        "unmap 0x4000 0x3000 A 0x3000 keep=0",
        "unmap 0x0 0x1000 A 0xff000 keep=0",
    ]
    vm.apply(ops)
    assert [(v.addr, v.obj) for v in vm] == [(0x3000, b)]
    assert vm.find_vm_bo(a) is None
    assert vm.bo_unmap(a).lines() == []
    vm.apply(vm.bo_unmap(a))


def test_madvise_splits_objectless_vas_only(scene):
    vm, a, b = scene
    vm.map(0x1000, 0x4000, None, 0)
    vm.map(0x8000, 0x2000, a, 0)
    ops = vm.madvise(0x2000, 0x1000)
    assert ops.lines() == [
        "remap unmap=0x1000,0x4000,-,0x0,keep=0 prev=0x1000,0x1000,-,0x0 next=0x3000,0x2000,-,0x2000",
        "map 0x2000 0x1000 - 0x0",
    ]
    assert vm.madvise(0x8000, 0x1000, a).lines() == []   # VAs with an object are skipped
    vm.apply(ops)
    assert [(v.addr, v.range) for v in vm] == [(0x1000, 0x1000), (0x2000, 0x1000),
                                               (0x3000, 0x2000), (0x8000, 0x2000)]


# ---------------------------------------------------------------- driver callbacks


class Recorder:
    def __init__(self, fail_on=None, exc=None, ret=None):
        self.seen: list[str] = []
        self.fail_on, self.exc, self.ret = fail_on, exc, ret

    def _step(self, kind, op):
        self.seen.append(repr(op))
        if kind == self.fail_on:
            if self.exc is not None:
                raise self.exc
            return self.ret
        return None

    def sm_step_map(self, op):
        return self._step("map", op)

    def sm_step_remap(self, op):
        return self._step("remap", op)

    def sm_step_unmap(self, op):
        return self._step("unmap", op)


def test_steps_see_the_same_ops_as_the_list(scene):
    vm, a, b = scene
    vm.map(0x4000, 0x4000, a, 0x10000)
    vm.map(0x9000, 0x1000, b, 0)
    rec = Recorder()
    steps = vm.sm_map(0x5000, 0x6000, b, 0, steps=rec)
    assert rec.seen == vm.sm_map(0x5000, 0x6000, b, 0).lines() == steps.lines()
    assert steps.kind == "steps"
    with pytest.raises(ValueError):
        vm.apply(steps)
    rec = Recorder()
    vm.sm_unmap(0x5000, 0x6000, steps=rec)
    assert rec.seen == vm.sm_unmap(0x5000, 0x6000).lines()
    assert len(vm) == 2                             # callbacks changed nothing


def test_step_exception_stops_the_walk_and_is_reraised(scene):
    vm, a, b = scene
    vm.map(0x4000, 0x1000, a)
    vm.map(0x6000, 0x1000, a)
    rec = Recorder(fail_on="unmap", exc=KeyError("driver failed"))
    with pytest.raises(KeyError, match="driver failed") as ei:
        vm.sm_map(0x3000, 0x8000, b, 0, steps=rec)
    assert len(rec.seen) == 1                       # the walk stopped at the first step
    frames = [f.name for f in traceback.extract_tb(ei.value.__traceback__)]
    assert "_step" in frames                        # the callback's own frame is kept
    assert len(vm) == 2


def test_step_errno_return_stops_and_raises(scene):
    vm, a, b = scene
    vm.map(0x4000, 0x1000, a)
    rec = Recorder(fail_on="unmap", ret=-errno.ENOENT)
    with pytest.raises(pygpuvm.NotFoundError):
        vm.sm_map(0x3000, 0x8000, b, 0, steps=rec)
    rec = Recorder(fail_on="map", ret="nope")
    with pytest.raises(TypeError):
        vm.sm_map(0x3000, 0x8000, b, 0, steps=rec)


def test_step_calling_back_into_the_vm_raises_busy(scene):
    vm, a, b = scene
    vm.map(0x4000, 0x1000, a)
    inner: list[BaseException] = []

    class Reentrant(Recorder):
        def sm_step_unmap(self, op):
            try:
                vm.map(0x1000, 0x1000, a)
            except pygpuvm.VMBusyError as e:
                inner.append(e)
                raise

    with pytest.raises(pygpuvm.VMBusyError):
        vm.sm_map(0x4000, 0x1000, b, 0, steps=Reentrant())
    assert len(inner) == 1 and len(vm) == 1
    vm.map(0x1000, 0x1000, a)                       # the VM is usable again
    assert len(vm) == 2


def test_raw_sm_map_without_payload_is_refused(scene):
    vm, a, b = scene
    req = ffi.new("struct drm_gpuvm_map_req *")
    req.map.va.addr, req.map.va.range = 0x1000, 0x1000
    assert lib.drm_gpuvm_sm_map(vm._ptr, ffi.NULL, req) == -errno.EINVAL


# ---------------------------------------------------------------- insert failures


def test_insert_failure_inside_apply_is_a_warning():
    # A zero-sized VA (made through the raw API: the classes refuse zero sizes)
    # blocks inserts strictly containing its address; a remap walk that stops
    # before reaching it then fails to insert the new mapping (kernel semantics).
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
        assert len(vm) == 3
        with pytest.warns(pygpuvm.GpuvmWarning, match="insert_failed 0x4800 0x1000 Y 0x0"):
            ops = vm.map(0x4800, 0x1000, y, 0)
        assert ops.lines()[-1] == "map 0x4800 0x1000 Y 0x0"
        assert len(vm) == 3 == len(list(vm))
        assert vm.find(0x4800, 0x1000) is None
        assert vm.find_vm_bo(y) is None             # the failed piece was never linked
