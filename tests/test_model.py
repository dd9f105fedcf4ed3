"""Model-based test: random map/unmap/prefetch/bo_unmap sequences run through the
classes and through a pure-Python model written from the semantics (the sm_map
case table and sm_unmap of docs/design.md and the kernel, and the application
rules of docs/trace-format.md). After every step the op
lines, the VA layout and the vm_bo link lists must agree.

The model is independent of the C code: a sorted list of mappings plus, per
object, the list of its mappings in link order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import pygpuvm

pytestmark = pytest.mark.usefixtures("no_c_leaks")

PAGE = 0x1000
WINDOW_PAGES = 48                 # VM window [0, 48 pages); requests may exceed it
RESERVED = (0, PAGE)              # the reserved node: page 0
M64 = (1 << 64) - 1
BO_NAMES = ["A", "B", "C"]


def h(n: int) -> str:
    return f"{n:#x}"


@dataclass
class Mapping:
    addr: int
    range: int
    obj: str | None
    offset: int

    @property
    def end(self) -> int:
        return self.addr + self.range

    def trace(self) -> str:
        return f"{h(self.addr)},{h(self.range)},{self.obj or '-'},{h(self.offset)}"


@dataclass
class Model:
    vas: list[Mapping] = field(default_factory=list)            # address order
    links: dict[str, list[Mapping]] = field(default_factory=dict)  # link order per object

    def valid(self, a: int, r: int) -> bool:
        e = a + r
        if e > M64 or a < 0 or e > WINDOW_PAGES * PAGE:
            return False
        ks, kr = RESERVED
        return not (a < ks + kr and ks < e)

    def overlapping(self, a: int, e: int) -> list[Mapping]:
        return [m for m in self.vas if m.addr < e and m.end > a]

    # -- walks (sm_map case table / sm_unmap), returning (lines, removed, added)

    def sm_map(self, A: int, R: int, O: str | None, F: int):
        E = A + R
        lines, removed, added = [], [], []
        for m in self.overlapping(A, E):
            a, e, o, f = m.addr, m.end, m.obj, m.offset
            k = o is not None and o == O
            prev = nxt = None
            if a == A:
                k = k and f == F
            elif a < A:
                prev = Mapping(a, A - a, o, f)
                k = k and (f + (A - a)) & M64 == F
            else:
                k = k and f == (F + (a - A)) & M64
            if e > E:
                nxt = Mapping(E, e - E, o, (f + (E - a)) & M64)
            self._emit(lines, removed, added, m, prev, nxt, int(k))
            if e >= E:
                break
        lines.append(f"map {h(A)} {h(R)} {O or '-'} {h(F)}")
        added.append(Mapping(A, R, O, F))
        return lines, removed, added

    def sm_unmap(self, A: int, R: int):
        E = A + R
        lines, removed, added = [], [], []
        for m in self.overlapping(A, E):
            prev = Mapping(m.addr, A - m.addr, m.obj, m.offset) if m.addr < A else None
            nxt = (Mapping(E, m.end - E, m.obj, (m.offset + (E - m.addr)) & M64)
                   if m.end > E else None)
            self._emit(lines, removed, added, m, prev, nxt, 0)
        return lines, removed, added

    @staticmethod
    def _emit(lines, removed, added, m, prev, nxt, keep):
        removed.append(m)
        if prev is None and nxt is None:
            lines.append(f"unmap {h(m.addr)} {h(m.range)} {m.obj or '-'} {h(m.offset)} "
                         f"keep={keep}")
            return
        lines.append(f"remap unmap={m.trace()},keep={keep} "
                     f"prev={prev.trace() if prev else '-'} next={nxt.trace() if nxt else '-'}")
        added.extend(p for p in (prev, nxt) if p is not None)

    def prefetch(self, A: int, R: int) -> list[str]:
        lines = []
        ks, kr = RESERVED
        nodes = [Mapping(ks, kr, None, 0)] + self.vas
        for m in sorted(nodes, key=lambda m: m.addr):
            if m.addr < A + R and m.end > A:
                kernel = " kernel" if (m.addr, m.range) == RESERVED and m.obj is None else ""
                lines.append(f"prefetch {h(m.addr)} {h(m.range)} {m.obj or '-'} "
                             f"{h(m.offset)}{kernel}")
        return lines

    def bo_unmap(self, name: str):
        lines, removed = [], []
        for m in self.links.get(name, []):
            lines.append(f"unmap {h(m.addr)} {h(m.range)} {name} {h(m.offset)} keep=0")
            removed.append(m)
        return lines, removed, []

    # -- applying (docs/trace-format.md): pieces are linked in op order, old VAs unlinked after

    def apply(self, removed: list[Mapping], added: list[Mapping]) -> None:
        for m in removed:
            self.vas.remove(m)
        for m in added:
            self.vas.append(m)
            if m.obj is not None:
                self.links.setdefault(m.obj, []).append(m)
        for m in removed:
            if m.obj is not None:
                self.links[m.obj].remove(m)
                if not self.links[m.obj]:
                    del self.links[m.obj]
        self.vas.sort(key=lambda m: m.addr)

    def dump(self, names: list[str], private: set[str]) -> str:
        out = [f"va {h(m.addr)} {h(m.range)} {m.obj or '-'} {h(m.offset)}" for m in self.vas]
        for name in names:
            if name in self.links:
                ext = "" if name in private else " ext"
                out.append(f"vm_bo {name} {len(self.links[name])}{ext}")
                out.extend(f"bova {h(m.addr)} {h(m.range)} {h(m.offset)}"
                           for m in self.links[name])
        out.append("end")
        return "\n".join(out)


pages = st.integers(min_value=0, max_value=WINDOW_PAGES + 2)
sizes = st.integers(min_value=1, max_value=20)
objs = st.sampled_from(BO_NAMES + ["P", None])
offsets = st.integers(min_value=0, max_value=64)


class GpuvmMachine(RuleBasedStateMachine):
    """The classes against the model; ``examples`` counts state machines run."""

    examples = 0

    def __init__(self) -> None:
        super().__init__()
        GpuvmMachine.examples += 1
        self.vm = pygpuvm.VM(range=WINDOW_PAGES * PAGE, reserve=RESERVED)
        self.bos = {n: pygpuvm.GemObject(1 << 24, name=n) for n in BO_NAMES}
        self.bos["P"] = self.vm.new_private_object(1 << 24, name="P")
        self.model = Model()

    def _check_ops(self, got: pygpuvm.Ops, lines: list[str]) -> None:
        assert got.lines() == lines

    @rule(p=pages, n=sizes, obj=objs, off=offsets)
    def map(self, p: int, n: int, obj: str | None, off: int) -> None:
        a, r, f = p * PAGE, n * PAGE, off * PAGE
        bo = self.bos[obj] if obj else None
        if not self.model.valid(a, r):
            with pytest.raises(pygpuvm.InvalidRangeError):
                self.vm.map(a, r, bo, f)
            return
        lines, removed, added = self.model.sm_map(a, r, obj, f)
        self._check_ops(self.vm.map(a, r, bo, f), lines)
        self.model.apply(removed, added)

    @rule(p=pages, n=sizes, obj=objs, off=offsets)
    def sm_map_only(self, p: int, n: int, obj: str | None, off: int) -> None:
        a, r, f = p * PAGE, n * PAGE, off * PAGE
        if self.model.valid(a, r):
            lines, _, _ = self.model.sm_map(a, r, obj, f)
            self._check_ops(self.vm.sm_map(a, r, self.bos[obj] if obj else None, f), lines)

    @rule(p=pages, n=sizes)
    def unmap(self, p: int, n: int) -> None:
        a, r = p * PAGE, n * PAGE
        if not self.model.valid(a, r):
            with pytest.raises(pygpuvm.InvalidRangeError):
                self.vm.unmap(a, r)
            return
        lines, removed, added = self.model.sm_unmap(a, r)
        self._check_ops(self.vm.unmap(a, r), lines)
        self.model.apply(removed, added)

    @rule(p=pages, n=sizes)
    def prefetch(self, p: int, n: int) -> None:
        a, r = p * PAGE, n * PAGE
        self._check_ops(self.vm.prefetch(a, r), self.model.prefetch(a, r))

    @rule(obj=st.sampled_from(BO_NAMES + ["P"]))
    def bo_unmap(self, obj: str) -> None:
        lines, removed, added = self.model.bo_unmap(obj)
        ops = self.vm.bo_unmap(self.bos[obj])
        self._check_ops(ops, lines)
        self.vm.apply(ops)
        self.model.apply(removed, added)

    @invariant()
    def layout_matches(self) -> None:
        assert len(self.vm) == len(self.model.vas)
        assert self.vm.dump(list(self.bos.values())) == self.model.dump(list(self.bos), {"P"})

    def teardown(self) -> None:
        self.vm.close()


COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestModel(GpuvmMachine.TestCase):
    settings = settings(max_examples=150, stateful_step_count=50, **COMMON)


@pytest.mark.slow
class TestModelSlow(GpuvmMachine.TestCase):
    settings = settings(max_examples=2000, stateful_step_count=80, **COMMON)


def test_model_known_sequence():
    """A fixed sequence (docs/trace-format.md example 1) through the same machine."""
    m = GpuvmMachine()
    try:
        m.map(16, 8, "A", 0)
        m.map(18, 2, "B", 64)
        m.map(18, 2, "A", 2)
        m.map(16, 8, "A", 0)
        m.layout_matches()
        m.unmap(17, 2)
        m.bo_unmap("A")
        m.layout_matches()
    finally:
        m.teardown()
