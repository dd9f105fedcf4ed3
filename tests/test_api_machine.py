"""A hypothesis state machine over the whole public API.

The machine keeps live, closed and stale objects of every class (VMs, GEM
objects, vm_bos, VAs, ops lists, batches, exec transactions, fences, tables)
and calls random methods on them with random, stale or wrong-typed
arguments. The only exceptions allowed are the documented ones: GpuvmError
subclasses, ValueError and TypeError (and RuntimeError from the exec
transaction rules). Besides the main thread's calls it runs re-entrant code
from everywhere Python can be called back: ``sm_step`` callbacks, validate
callbacks, ``__del__`` finalizers of cyclic garbage (collected at random
points: the collector's threshold is set low and changed by a rule), a
``warnings.showwarning`` hook, and a second thread that closes VMs and
changes them while the main thread works.

Invariants after every step: nothing unexpected was raised anywhere
(finalizers, hooks and threads record what they saw), and the VA tree of
every live VM equals a Python model of it, ``(addr, range, object, offset)``
per VA, compared through ``vm.table()`` and ``vm.spans()``. When an example
ends, everything is closed and dropped and the C live-allocation count
(``lib.gpuvm_alloc_live()``) must be back at its value before the example.

Keeping the model exact while other code changes the VMs at unpredictable
moments: the address window of each VM is split in two. The main thread's
rules map and unmap pages of zone A only; "foreign" code (finalizers, the
warning hook, the second thread, callbacks) maps and unmaps only zone B,
and only without an object (so ``bo_unmap`` of the main thread's objects
never reaches zone B). Changes of disjoint ranges commute, so the model
stays exact whatever the interleaving; each zone-B change updates the model
under its lock right after the call. ``close()`` may come from anywhere: a
closed VM's model is dropped.

Default run: ``EXAMPLES * STEPS`` steps with a fixed seed (printed; set
``PYGPUVM_MACHINE_SEED`` to run another one); ``--run-slow`` runs 500,000.
"""

from __future__ import annotations

import copy
import gc
import os
import pickle
import random
import threading
import time
import warnings
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import pygpuvm
from pygpuvm import errors
from pygpuvm.raw import ffi, lib

PAGE = 0x1000
NPAGES = 64
WINDOW = NPAGES * PAGE
ZONE_A = (1, 40)            # pages of the main thread's requests (page 0: reserved)
ZONE_B = (40, NPAGES)       # pages foreign code changes
MAX_VMS = 4
MAX_POOL = 24

SEED = int(os.environ.get("PYGPUVM_MACHINE_SEED", "20261205"))
EXAMPLES, STEPS = 100, 60                       # default: 6,000 steps
SLOW_EXAMPLES, SLOW_STEPS = 5000, 100           # --run-slow: 500,000 steps

ALLOWED = (errors.GpuvmError, ValueError, TypeError)
FAILED: Any = type("Failed", (), {"__repr__": lambda self: "FAILED"})()


def seq(res: Any) -> Any:
    return () if res is FAILED else res


def allowed(exc: BaseException) -> bool:
    if isinstance(exc, ALLOWED):
        return True
    # Documented for exec transactions: a second transaction of a thread, or
    # one used from a thread that does not own it.
    return type(exc) is RuntimeError and "exec transaction" in str(exc)


# ---------------------------------------------------------------- the model


class Model:
    """The VA tree of one VM: addr -> (range, object key, offset)."""

    def __init__(self) -> None:
        self.vas: dict[int, tuple[int, int, int]] = {}
        self.lock = threading.Lock()

    def _cut(self, a: int, e: int) -> None:
        for va_addr, (r, key, off) in list(self.vas.items()):
            va_end = va_addr + r
            if va_end <= a or va_addr >= e:
                continue
            del self.vas[va_addr]
            if va_addr < a:
                self.vas[va_addr] = (a - va_addr, key, off)
            if va_end > e:
                self.vas[e] = (va_end - e, key, off + (e - va_addr))

    def map(self, a: int, r: int, key: int, off: int) -> None:
        with self.lock:
            self._cut(a, a + r)
            self.vas[a] = (r, key, off)

    def unmap(self, a: int, r: int) -> None:
        with self.lock:
            self._cut(a, a + r)

    def overlaps(self, a: int, r: int) -> bool:
        with self.lock:
            return any(va_addr < a + r and a < va_addr + vr
                       for va_addr, (vr, _, _) in self.vas.items())

    def apply_ops(self, ops: pygpuvm.Ops) -> None:
        """Follow an applied op list (used for madvise, whose split rules the
        model does not re-derive)."""
        with self.lock:
            for op in ops:
                if op.kind in ("unmap", "remap"):
                    self.vas.pop(op.va.addr, None)
                if op.kind == "remap":
                    for piece in (op.prev, op.next):
                        if piece is not None:
                            self.vas[piece.addr] = (piece.range, key_of(piece.obj), piece.offset)
                if op.kind == "map":
                    self.vas[op.addr] = (op.range, key_of(op.obj), op.offset)

    def rows(self) -> list[tuple[int, int, int, int]]:
        with self.lock:
            return sorted((a, r, k, o) for a, (r, k, o) in self.vas.items())


def key_of(obj: Any) -> int:
    return obj._key if obj is not None else 0


def zone_valid(a: int, r: int) -> bool:
    return ZONE_A[0] * PAGE <= a and a + r <= ZONE_A[1] * PAGE and r > 0


# ---------------------------------------------------------------- strategies

GARBAGE = st.sampled_from([
    -1, -PAGE, 1 << 64, (1 << 64) - 1, (1 << 63), 1.5, float("nan"), "0x1000", b"\x00",
    None, True, [], (1, 2), object(), 10 ** 5000 if False else 1 << 200,
])
zone_pages = st.integers(ZONE_A[0], ZONE_A[1] - 1)
zone_sizes = st.integers(1, 12)
offsets = st.sampled_from([p * PAGE for p in range(65)])
picks = st.integers(0, 1 << 16)
seeds = st.integers(0, (1 << 32) - 1)


@st.composite
def request(draw: Any) -> tuple[Any, Any, Any]:
    """(addr, range, offset): mostly page-aligned zone-A requests, sometimes
    out of range, zero-sized, unaligned or of the wrong type."""
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        p = draw(zone_pages)
        n = min(draw(zone_sizes), ZONE_A[1] - p)
        return p * PAGE, n * PAGE, draw(offsets)
    if kind == 6:      # the reserved node, the window's end, zero, huge
        return draw(st.sampled_from([(0, PAGE, 0), (WINDOW - PAGE, 2 * PAGE, 0),
                                     (PAGE, 0, 0), (1 << 63, 1 << 63, 0),
                                     (WINDOW, PAGE, 0), ((1 << 64) - PAGE, PAGE, 0)]))
    if kind == 7:      # unaligned but in zone A: the kernel accepts any byte range
        a = draw(st.integers(ZONE_A[0] * PAGE, ZONE_A[1] * PAGE - 2))
        r = draw(st.integers(1, ZONE_A[1] * PAGE - a))
        return a, r, draw(st.integers(0, 1 << 40))
    return draw(GARBAGE), draw(st.one_of(GARBAGE, st.just(PAGE))), draw(
        st.one_of(GARBAGE, st.just(0)))


def well_typed(*vals: Any) -> bool:
    return all(type(v) is int and 0 <= v < 1 << 64 for v in vals)


# ---------------------------------------------------------------- the machine


class Bomb:
    """Cyclic garbage: only the collector frees it, and then runs ``action``."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.me = self
        self.action = action

    def __del__(self) -> None:
        self.action()


class ApiMachine(RuleBasedStateMachine):
    steps_run = 0
    examples_run = 0

    def __init__(self) -> None:
        super().__init__()
        ApiMachine.examples_run += 1
        gc.collect(1)
        self.alloc_start = lib.gpuvm_alloc_live()
        self.vms: list[pygpuvm.VM] = []
        self.models: dict[int, Model] = {}     # id(vm) -> model, live VMs only
        self.gems: list[pygpuvm.GemObject] = []
        self.vm_bos: list[pygpuvm.VmBo] = []
        self.vas: list[pygpuvm.Va] = []
        self.ops: list[pygpuvm.Ops] = []
        self.batches: list[pygpuvm.Batch] = []
        self.execs: list[pygpuvm.Exec] = []
        self.fences: list[pygpuvm.Fence] = []
        self.tables: list[Any] = []
        self.failures: list[str] = []
        self.fail_lock = threading.Lock()
        self.rng = random.Random(0)
        self.old_threshold = gc.get_threshold()
        self.old_showwarning = warnings.showwarning
        self.warn_filters = warnings.catch_warnings()
        self.warn_filters.__enter__()
        warnings.simplefilter("always")
        warnings.showwarning = self._showwarning
        self.hook_action: Callable[[], None] | None = None
        self.in_hook = False

    # ------------------------------------------------------------ plumbing

    def fail(self, text: str) -> None:
        with self.fail_lock:
            self.failures.append(text)

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """fn(*args): its result, or FAILED after a documented exception."""
        try:
            return fn(*args, **kw)
        except BaseException as exc:  # noqa: BLE001
            if allowed(exc):
                return FAILED
            raise

    def guarded(self, where: str, fn: Callable[[], Any]) -> None:
        """Run foreign code (finalizer, hook, thread, callback): record anything
        undocumented instead of letting it vanish into "Exception ignored"."""
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001
            if not allowed(exc):
                self.fail(f"{where}: {type(exc).__name__}: {exc}")

    def pick(self, pool: list[Any], i: int) -> Any:
        return pool[i % len(pool)] if pool else None

    def keep(self, pool: list[Any], obj: Any) -> None:
        if obj is None or obj is FAILED:
            return
        pool.append(obj)
        if len(pool) > MAX_POOL:
            del pool[self.rng.randrange(len(pool))]

    def model(self, vm: pygpuvm.VM) -> Model | None:
        return self.models.get(id(vm)) if not vm.closed else None

    def any_object(self, i: int) -> Any:
        pools = [self.vms, self.gems, self.vm_bos, self.vas, self.ops, self.batches,
                 self.execs, self.fences, self.tables]
        pool = pools[i % len(pools)]
        obj = self.pick(pool, i // len(pools)) if pool else i
        return obj[0] if isinstance(obj, tuple) else obj

    # ------------------------------------------------------------ foreign code

    def foreign(self, where: str, r: random.Random) -> None:
        """One random action of code that runs at an unpredictable moment:
        queries of any VM, zone-B changes (model updated), close, evict."""
        vm = self.pick(self.vms, r.randrange(1 << 16))
        what = r.randrange(10)

        def act() -> None:
            if vm is None:
                gc.collect(1)
                return
            if what <= 2:
                p = r.randrange(*ZONE_B)
                n = r.randrange(1, ZONE_B[1] - p + 1)
                m = self.model(vm)
                if what == 0:
                    off = r.randrange(64) * PAGE
                    vm.map(p * PAGE, n * PAGE, None, off)
                    if m is not None:
                        m.map(p * PAGE, n * PAGE, 0, off)
                else:
                    vm.unmap(p * PAGE, n * PAGE)
                    if m is not None:
                        m.unmap(p * PAGE, n * PAGE)
            elif what == 3:
                len(vm.vas())
                list(vm)
                vm.spans(0, WINDOW)
            elif what == 4:
                vm.table(objects=True).rows()
                vm.evicted_bos
                vm.extobjs
            elif what == 5:
                if r.randrange(4) == 0:
                    vm.close()
            elif what == 6:
                vb = self.pick(self.vm_bos, r.randrange(1 << 16))
                if vb is not None:
                    vb.evict(bool(r.randrange(2)))
            elif what == 7:
                va = self.pick(self.vas, r.randrange(1 << 16))
                if va is not None:
                    va.invalidate(bool(r.randrange(2)))
                    va.vm_bo
            elif what == 8:
                vm.find(PAGE * r.randrange(NPAGES), PAGE)
                vm.find_first(0, WINDOW)
            else:
                vm.validate()

        self.guarded(where, act)

    def _showwarning(self, message: Any, category: Any, filename: Any, lineno: Any,
                     file: Any = None, line: Any = None) -> None:
        if self.in_hook:
            return
        self.in_hook = True
        try:
            action = self.hook_action
            if action is not None:
                action()
        finally:
            self.in_hook = False

    # ------------------------------------------------------------ creation

    def room_for_vm(self) -> bool:
        return sum(not v.closed for v in self.vms) < MAX_VMS

    @precondition(room_for_vm)
    @rule(immediate=st.booleans(), resv_protected=st.booleans(),
          reserve=st.sampled_from([(0, PAGE), None]))
    def new_vm(self, immediate: bool, resv_protected: bool, reserve: Any) -> None:
        vm = pygpuvm.VM(start=0, range=WINDOW, reserve=reserve, name=f"vm{len(self.vms)}",
                        immediate=immediate, resv_protected=resv_protected)
        if reserve is None:
            # Keep page 0 out of reach anyway: the model's zones start at page 1.
            pass
        self.vms.append(vm)
        self.models[id(vm)] = Model()
        if len(self.vms) > 2 * MAX_VMS:
            old = self.vms.pop(0)
            self.models.pop(id(old), None)

    @rule(data=st.data())
    def new_vm_bad_args(self, data: Any) -> None:
        args = data.draw(st.fixed_dictionaries({}, optional={
            "start": GARBAGE, "range": GARBAGE, "reserve": st.one_of(GARBAGE, st.just((1,))),
            "name": st.one_of(GARBAGE, st.just("a\0b"))}))
        vm = self.call(pygpuvm.VM, **args)
        if vm is not FAILED:
            vm.close()

    @rule(i=picks, private=st.booleans(), size=st.sampled_from([0, PAGE, 1 << 24]),
          bad=st.booleans())
    def new_gem(self, i: int, private: bool, size: int, bad: bool) -> None:
        if bad:
            self.call(pygpuvm.GemObject, self.any_object(i), name=self.any_object(i + 1))
            return
        vm = self.pick(self.vms, i)
        if private and vm is not None:
            obj = self.call(vm.new_private_object, size, name=f"P{i}")
        else:
            obj = pygpuvm.GemObject(size, name=f"G{i}")
        self.keep(self.gems, obj)

    @rule(ctx=st.sampled_from([None, 0, 7, -1, 1 << 64, "x"]), seqno=st.integers(0, 3))
    def new_fence(self, ctx: Any, seqno: int) -> None:
        self.keep(self.fences, self.call(pygpuvm.Fence, ctx, seqno))

    # ------------------------------------------------------------ requests

    def gem_arg(self, i: int, vm: pygpuvm.VM | None = None) -> Any:
        """An object argument: None, an external object, a private object of
        ``vm`` (never another VM's: those belong in their own VM's transactions
        only, see docs/python.md), or now and then something of the wrong type."""
        k = i % 8
        if k < 2:
            return None
        if k == 7:
            return self.any_object(i)
        obj = self.pick(self.gems, i)
        if obj is not None and obj.private_vm is not None and obj.private_vm is not vm:
            return None
        return obj

    def expect_ok(self, vm: pygpuvm.VM, a: Any, r: Any, off: Any, obj: Any) -> bool:
        """Whether a map/unmap request must succeed on a live VM."""
        if not (well_typed(a, r, off) and r > 0 and a + r <= WINDOW):
            return False
        if obj is not None and not isinstance(obj, pygpuvm.GemObject):
            return False
        res = vm.reserve
        return res is None or a + r <= res[0] or a >= res[0] + res[1]

    def check_request(self, vm: pygpuvm.VM, what: str, res: Any, a: Any, r: Any, off: Any,
                      obj: Any) -> None:
        """A request the model says is fine must have succeeded (unless foreign
        code closed the VM meanwhile); a bad one must have raised."""
        if vm.closed:
            return
        good = self.expect_ok(vm, a, r, off, obj)
        if good and res is FAILED:
            self.fail(f"{what}({a:#x}, {r:#x}, {obj!r}, {off:#x}) on a live VM raised")
        if not good and res is not FAILED:
            self.fail(f"{what}({a!r}, {r!r}, {obj!r}, {off!r}) should have raised")

    def do_map(self, vm: pygpuvm.VM, a: Any, r: Any, obj: Any, off: Any,
               check: bool = True) -> Any:
        res = self.call(vm.map, a, r, obj, off)
        m = self.model(vm)
        if res is not FAILED and m is not None:
            m.map(a, r, key_of(obj), off)
        if check:
            self.check_request(vm, "map", res, a, r, off, obj)
        return res

    def do_unmap(self, vm: pygpuvm.VM, a: Any, r: Any, check: bool = True) -> Any:
        res = self.call(vm.unmap, a, r)
        m = self.model(vm)
        if res is not FAILED and m is not None:
            m.unmap(a, r)
        if check:
            self.check_request(vm, "unmap", res, a, r, 0, None)
        return res

    @rule(i=picks, req=request(), g=picks)
    def map(self, i: int, req: Any, g: int) -> None:
        vm = self.pick(self.vms, i)
        if vm is not None:
            a, r, off = req
            self.do_map(vm, a, r, self.gem_arg(g, vm), off)

    @rule(i=picks, req=request())
    def unmap(self, i: int, req: Any) -> None:
        vm = self.pick(self.vms, i)
        if vm is not None:
            self.do_unmap(vm, req[0], req[1])

    @rule(i=picks, req=request(), g=picks, kind=st.sampled_from(
        ["sm_map", "sm_unmap", "madvise", "prefetch", "bo_unmap"]))
    def make_ops(self, i: int, req: Any, g: int, kind: str) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        a, r, off = req
        obj = self.gem_arg(g, vm)
        if kind == "sm_map":
            ops = self.call(vm.sm_map, a, r, obj, off)
        elif kind == "sm_unmap":
            ops = self.call(vm.sm_unmap, a, r)
        elif kind == "madvise":
            ops = self.call(vm.madvise, a, r, obj, off)
        elif kind == "prefetch":
            ops = self.call(vm.prefetch, a, r)
        else:
            ops = self.call(vm.bo_unmap, obj)
        if ops is not FAILED:
            str(ops)
            len(ops)
            self.keep(self.ops, (ops, kind, a, r, obj, off))

    @rule(i=picks, j=picks)
    def apply(self, i: int, j: int) -> None:
        vm = self.pick(self.vms, i)
        entry = self.pick(self.ops, j)
        if vm is None or entry is None:
            return
        ops, kind, a, r, obj, off = entry
        target = ops if j % 5 else self.any_object(j)
        fresh = isinstance(target, pygpuvm.Ops) and not target.stale and not target.applied
        res = self.call(vm.apply, target)
        m = self.model(vm)
        if res is FAILED or m is None or target is not ops or not fresh or ops.vm is not vm:
            return
        if kind == "sm_map":
            m.map(a, r, key_of(obj), off)
        elif kind == "sm_unmap":
            m.unmap(a, r)
        elif kind in ("madvise", "bo_unmap"):
            m.apply_ops(ops)

    @rule(i=picks, req=request(), g=picks)
    def insert_remove(self, i: int, req: Any, g: int) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        a, r, off = req
        obj = self.gem_arg(g, vm)
        m = self.model(vm)
        overlap = m is not None and well_typed(a, r) and m.overlaps(a, r)
        va = self.call(vm.insert, a, r, obj, off)
        if va is not FAILED:
            if overlap:
                self.fail(f"insert({a:#x}, {r:#x}) over a mapped VA succeeded")
            if m is not None:
                m.map(a, r, key_of(obj), off)
            self.keep(self.vas, va)
        elif m is not None and not vm.closed and not overlap and self.expect_ok(vm, a, r, off,
                                                                                 obj):
            self.fail(f"insert({a:#x}, {r:#x}) into a hole raised")
        va = self.pick(self.vas, g)
        if va is not None and g % 3 == 0:
            # Zone A only: zone-B VAs may be removed by foreign code at any time.
            mapped = va.mapped and va.vm is vm and va.addr < ZONE_A[1] * PAGE
            res = self.call(vm.remove, va)
            if res is not FAILED and not mapped:
                self.fail(f"remove({va!r}) of a VA not mapped in this VM succeeded")
            if res is not FAILED and m is not None:
                m.unmap(va.addr, va.range)

    @rule(i=picks, n=st.integers(0, 6), data=st.data())
    def batch(self, i: int, n: int, data: Any) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        if self.batches and data.draw(st.booleans()):
            b = self.pick(self.batches, data.draw(picks))
        else:
            b = pygpuvm.Batch()
            for _ in range(n):
                a, r, off = data.draw(request())
                if data.draw(st.booleans()):
                    self.call(b.append, ("map", a, r, self.gem_arg(data.draw(picks), vm), off))
                else:
                    self.call(b.append, ("unmap", a, r))
            self.keep(self.batches, b)
        reqs = list(b)
        if any(q[0] == "map" and q[3] is not None and q[3].private_vm not in (None, vm)
               for q in reqs):
            return
        res = self.call(vm.run_batch, b, stop_on_error=data.draw(st.booleans()))
        m = self.model(vm)
        if res is FAILED or m is None:
            return
        failed = {idx for idx, _ in res.errors}
        for idx in range(res.processed):
            q = reqs[idx]
            ok = self.expect_ok(vm, q[1], q[2], q[4] if q[0] == "map" else 0,
                                q[3] if q[0] == "map" else None)
            if (idx in failed) == ok:
                self.fail(f"batch request {q!r}: failed={idx in failed}")
            if idx in failed:
                continue
            if q[0] == "map":
                m.map(q[1], q[2], key_of(q[3]), q[4])
            else:
                m.unmap(q[1], q[2])

    # ------------------------------------------------------------ callbacks

    @rule(i=picks, req=request(), g=picks, data=st.data())
    def sm_walk(self, i: int, req: Any, g: int, data: Any) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        a, r, off = req
        r_ = random.Random(data.draw(seeds))
        machine = self

        class Steps:
            def step(self, op: Any) -> Any:
                k = r_.randrange(8)
                if k == 0:
                    machine.call(vm.map, a, r)          # the walking VM: VMBusyError
                elif k == 1:
                    machine.call(vm.close)
                elif k == 2:
                    machine.foreign("sm_step", r_)
                elif k == 3:
                    gc.collect(1)
                elif k == 4:
                    raise KeyError("from a step")
                elif k == 5:
                    return r_.choice([-22, -12, 1, "x", 1 << 80, None, 0])
                return None

            sm_step_map = sm_step_remap = sm_step_unmap = step

        steps: Any = Steps() if g % 7 else object()
        gen = vm.generation
        try:
            if g % 2:
                self.call(vm.sm_map, a, r, self.gem_arg(g, vm), off, steps=steps)
            else:
                self.call(vm.sm_unmap, a, r, steps=steps)
        except KeyError:
            pass
        del gen

    def validate_fn(self, vm: pygpuvm.VM, r_: random.Random) -> Callable[[Any], Any]:
        def fn(vb: Any) -> Any:
            k = r_.randrange(10)
            if k == 0:
                self.call(vm.close)
            elif k == 1:
                self.call(vm.validate)
            elif k == 2:
                other = self.pick(self.vm_bos, r_.randrange(1 << 16))
                if other is not None:
                    self.call(other.evict, bool(r_.randrange(2)))
            elif k == 3:
                self.foreign("validate", r_)
            elif k == 4:
                gc.collect(1)
            elif k == 5:
                raise KeyError("from validate")
            elif k == 6:
                return r_.choice([0, -22, 1, "x", 1 << 80])
            elif k == 7:
                self.call(vb.evict, False)
            vb.evicted
            vb.vas
            return None
        return fn

    @rule(i=picks, g=picks, data=st.data())
    def vm_bo_ops(self, i: int, g: int, data: Any) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        obj = self.gem_arg(g, vm)
        k = data.draw(st.integers(0, 4))
        if k == 0:
            self.keep(self.vm_bos, self.call(vm.obtain, obj))
        elif k == 1:
            self.keep(self.vm_bos, self.call(vm.find_vm_bo, obj))
        elif k == 2:
            if isinstance(obj, pygpuvm.GemObject):
                for vb in obj.vm_bos:
                    self.keep(self.vm_bos, vb)
                obj.refcount
        vb = self.pick(self.vm_bos, g)
        if vb is None:
            return
        what = data.draw(st.integers(0, 6))
        if what == 0:
            self.call(vb.evict, data.draw(st.sampled_from([True, False, 1, "x"])))
        elif what == 1:
            self.call(lambda: (vb.evicted, vb.on_evict_list, vb.on_extobj_list))
        elif what == 2:
            self.call(lambda: vb.vas)
        elif what == 3:
            self.call(lambda: vb.refcount)
        else:
            repr(vb)
            vb.detached

    @rule(i=picks, data=st.data())
    def validate(self, i: int, data: Any) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        r_ = random.Random(data.draw(seeds))
        fn = self.validate_fn(vm, r_)
        how = data.draw(st.integers(0, 3))
        try:
            if how == 0:
                self.call(vm.validate, fn)
            elif how == 1:
                ex = vm.exec_lock()
                with ex:
                    self.call(vm.validate, ex, fn)
            elif how == 2:
                self.call(vm.validate, self.any_object(data.draw(picks)))
            else:
                self.call(vm.validate)
        except KeyError:
            pass
        except pygpuvm.DetachedError:
            pass

    # ------------------------------------------------------------ exec

    @rule(i=picks, data=st.data())
    def exec_block(self, i: int, data: Any) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        kind = data.draw(st.integers(0, 2))
        nf = data.draw(st.sampled_from([0, 1, 2, -1, "x"]))
        objs = [self.gem_arg(data.draw(picks), vm) for _ in range(data.draw(st.integers(0, 2)))]
        objs = [o for o in objs if o is not None]
        if kind == 0:
            ex = self.call(vm.exec_lock, nf, objs)
        elif kind == 1:
            a, r, _ = data.draw(request())
            ex = self.call(vm.exec_lock_range, a, r, nf)
        else:
            a, r, off = data.draw(request())
            binds = [("map", a, r, self.gem_arg(data.draw(picks), vm), off), ("unmap", a, r)]
            ex = self.call(vm.bind_lock, binds[: data.draw(st.integers(0, 2))], nf,
                           data.draw(st.booleans()), objs)
        if ex is FAILED:
            return
        self.keep(self.execs, ex)
        if self.call(ex.lock) is FAILED:
            return
        try:
            for _ in range(data.draw(st.integers(0, 3))):
                what = data.draw(st.integers(0, 7))
                if what == 0:
                    self.call(ex.add_fence, self.pick(self.fences, data.draw(picks)))
                elif what == 1:
                    ex.locked_objects
                    obj = self.pick(self.gems, data.draw(picks))
                    if obj is not None:
                        ex.is_locked(obj)
                elif what == 2:
                    other = self.pick(self.execs, data.draw(picks))
                    if self.call(other.lock) is not FAILED:   # a second transaction
                        self.fail("a second exec transaction of one thread was locked")
                        other.unlock()
                elif what == 3 and ex.kind == "bind":
                    res = self.call(ex.bind)
                    m = self.model(vm)
                    if m is not None and res is not FAILED:
                        for b in ex._binds:
                            if b[0] == "map":
                                m.map(b[1], b[2], key_of(b[3]), b[4])
                            else:
                                m.unmap(b[1], b[2])
                    elif m is not None and not vm.closed:
                        self.fail(f"ex.bind() of {ex._binds!r} raised after bind_lock")
                elif what == 4:
                    r_ = random.Random(data.draw(seeds))
                    try:
                        self.call(ex.validate, self.validate_fn(vm, r_))
                    except KeyError:
                        pass
                elif what == 5:
                    self.call(vm.close)
                elif what == 6:
                    repr(ex)
                    ex.backoffs
                else:
                    a, r, off = data.draw(request())
                    self.do_map(vm, a, r, self.gem_arg(data.draw(picks), vm), off)
        finally:
            self.call(ex.unlock)

    # ------------------------------------------------------------ queries

    @rule(i=picks, data=st.data())
    def query(self, i: int, data: Any) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        k = data.draw(st.integers(0, 11))
        a, r, _ = data.draw(request())
        if k == 0:
            for va in seq(self.call(lambda: list(vm))):
                self.keep(self.vas, va)
        elif k == 1:
            for va in seq(self.call(vm.vas, a, r)):
                self.keep(self.vas, va)
        elif k == 2:
            self.call(vm.spans, a, r, reserved=data.draw(st.booleans()))
        elif k == 3:
            t = self.call(vm.table, a, r, objects=data.draw(st.booleans()))
            self.keep(self.tables, t)
        elif k == 4:
            for name in ("find", "find_first", "range_valid", "interval_empty"):
                res = self.call(getattr(vm, name), a, r)
                if isinstance(res, pygpuvm.Va):
                    self.keep(self.vas, res)
            self.keep(self.vas, self.call(vm.find_prev, a))
            self.keep(self.vas, self.call(vm.find_next, a))
        elif k == 5:
            self.call(lambda: (vm.extobjs, vm.evicted_bos))
        elif k == 6:
            self.call(lambda: (len(vm), vm.refcount, vm.flags, vm.generation, repr(vm)))
        elif k == 7:
            self.call(vm.dump, [g for g in self.gems[:3]])
        elif k == 8:
            self.call(vm.is_extobj, self.gem_arg(data.draw(picks), vm))
        elif k == 9:
            self.call(vm.deferred_cleanup)
        elif k == 10:
            t = self.pick(self.tables, data.draw(picks))
            if t is not None:
                self.call(lambda: (t.rows(), t.objects(), len(t), t.addr.tolist()))
        else:
            self.call(vm.to_svg) if data.draw(st.integers(0, 9)) == 0 else None

    @rule(j=picks, data=st.data())
    def va_ops(self, j: int, data: Any) -> None:
        va = self.pick(self.vas, j)
        if va is None:
            return
        k = data.draw(st.integers(0, 3))
        if k == 0:
            self.call(va.invalidate, data.draw(st.sampled_from([True, False, 0, "x"])))
        elif k == 1:
            self.call(lambda: (va.flags, va.invalidated, va.mapped, va.detached, va.end))
        elif k == 2:
            self.keep(self.vm_bos, self.call(lambda: va.vm_bo))
        else:
            repr(va)

    @rule(j=picks, data=st.data())
    def fence_ops(self, j: int, data: Any) -> None:
        f = self.pick(self.fences, j)
        if f is None:
            return
        k = data.draw(st.integers(0, 4))
        if k == 0:
            f.signal()
        elif k == 1:
            self.call(f.set_error, data.draw(st.sampled_from([-5, 0, 5, -5000, "x"])))
        elif k == 2:
            self.call(f.wait, data.draw(st.sampled_from([0, 0.001, -1, "x", float("nan")])))
        else:
            self.call(lambda: (f.signaled, f.error, f.refcount, repr(f)))

    # ------------------------------------------------------------ hostile Python

    @rule(j=picks, how=st.sampled_from(["copy", "deepcopy", "pickle"]))
    def copy_or_pickle(self, j: int, how: str) -> None:
        obj = self.any_object(j)
        fn: Any = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": pickle.dumps}[how]
        try:
            c = fn(obj)
        except TypeError:
            return
        if isinstance(obj, (pygpuvm.VM, pygpuvm.GemObject, pygpuvm.VmBo, pygpuvm.Va,
                            pygpuvm.Ops, pygpuvm.Exec, pygpuvm.Fence)):
            self.fail(f"{how} of {type(obj).__name__} did not raise TypeError")
        del c

    @rule(data=st.data())
    def bomb(self, data: Any) -> None:
        r_ = random.Random(data.draw(seeds))
        Bomb(lambda: self.foreign("__del__", r_))

    @rule(t=st.sampled_from([10, 50, 200, 700]), now=st.integers(0, 3))
    def collect(self, t: int, now: int) -> None:
        gc.set_threshold(t)
        if now:
            gc.collect(now - 1)

    @rule(data=st.data(), fire=st.booleans())
    def warning_hook(self, data: Any, fire: bool) -> None:
        r_ = random.Random(data.draw(seeds))
        self.hook_action = lambda: self.foreign("showwarning", r_)
        if fire:
            lib.gpuvm_warn(b"machine.c", 1, b"%s", ffi.new("char[]", b"machine warn"))
            vm = self.pick(self.vms, r_.randrange(1 << 16))
            if vm is not None:
                self.call(len, vm)
                self.call(vm.vas)

    @rule(i=picks, j=picks, drop=st.integers(0, 8))
    def drop(self, i: int, j: int, drop: int) -> None:
        pools = [self.gems, self.vm_bos, self.vas, self.ops, self.batches, self.execs,
                 self.fences, self.tables]
        pool = pools[drop % len(pools)]
        if pool:
            del pool[i % len(pool)]

    @rule(i=picks, data=st.data())
    def close_vm(self, i: int, data: Any) -> None:
        vm = self.pick(self.vms, i)
        if vm is None:
            return
        if data.draw(st.booleans()):
            self.call(vm.close)
            return
        # Another thread closes it while this one (and maybe a third) works on it.
        r_ = random.Random(data.draw(seeds))
        started = threading.Event()

        def closer() -> None:
            started.set()
            time.sleep(r_.random() * 0.002)
            self.guarded("thread", vm.close)

        def changer() -> None:
            for _ in range(3):
                self.foreign("thread", r_)

        threads = [threading.Thread(target=closer)]
        if data.draw(st.booleans()):
            threads.append(threading.Thread(target=changer))
        for t in threads:
            t.start()
        started.wait()
        for _ in range(data.draw(st.integers(0, 4))):
            a, r, off = data.draw(request())
            self.do_map(vm, a, r, self.gem_arg(data.draw(picks), vm), off)
            self.call(vm.vas)
        for t in threads:
            t.join(60)
            if t.is_alive():
                self.fail("a thread did not finish in 60 s (hang)")

    # ------------------------------------------------------------ invariants

    @invariant()
    def nothing_unexpected(self) -> None:
        ApiMachine.steps_run += 1
        assert not self.failures, self.failures

    @invariant()
    def trees_match_models(self) -> None:
        # No finalizer between reading the tree and reading the model.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._trees_match_models()
        finally:
            if enabled:
                gc.enable()

    def _trees_match_models(self) -> None:
        for vm in self.vms:
            m = self.models.get(id(vm))
            if vm.closed or m is None:
                continue
            rows = [(a, r, k, o) for a, r, o, k, f in vm.table().rows()
                    if not f & pygpuvm.table.FLAG_KERNEL]
            assert rows == m.rows(), (vm, rows, m.rows())
            assert len(vm) == len(rows)

    def teardown(self) -> None:
        try:
            self.hook_action = None
            for vm in self.vms:
                vm.close()
            if any(ex.locked for ex in self.execs):
                self.fail("an Exec stayed locked")
            pygpuvm.raw.flush_warnings()
            warnings.showwarning = self.old_showwarning
            self.warn_filters.__exit__(None, None, None)
            gc.set_threshold(*self.old_threshold)
        finally:
            self.vms = self.gems = self.vm_bos = self.vas = self.ops = []
            self.batches = self.execs = self.fences = self.tables = []
            self.models = {}
        # Young collections first (cheap); a full one only if C memory is left.
        gc.collect(1)
        gc.collect(1)
        if lib.gpuvm_alloc_live() != self.alloc_start:
            gc.collect()
        assert lib.gpuvm_alloc_live() == self.alloc_start, (
            f"{lib.gpuvm_alloc_live() - self.alloc_start} C allocations left")
        assert not self.failures, self.failures


COMMON = dict(deadline=None, database=None, derandomize=False,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))


def _run(examples: int, steps: int, out: Callable[[str], None] = print) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    ApiMachine.steps_run = ApiMachine.examples_run = 0
    t0 = time.perf_counter()
    machine = seed(SEED)(ApiMachine)
    out(f"api machine: seed {SEED} (PYGPUVM_MACHINE_SEED), {examples} examples x {steps} steps")
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=steps, **COMMON))
    out(f"api machine: {ApiMachine.steps_run} steps in {ApiMachine.examples_run} examples, "
        f"{time.perf_counter() - t0:.1f} s")
    assert ApiMachine.steps_run >= examples * steps * 0.8


def test_api_machine(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    try:
        _run(EXAMPLES, STEPS, lines.append)
    finally:
        with capsys.disabled():
            print("\n" + "\n".join(lines))


@pytest.mark.slow
def test_api_machine_long(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    try:
        _run(SLOW_EXAMPLES, SLOW_STEPS, lines.append)
    finally:
        with capsys.disabled():
            print("\n" + "\n".join(lines))
