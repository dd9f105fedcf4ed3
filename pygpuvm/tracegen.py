"""Seeded random traces (docs/trace-format.md) for differential testing.

``generate(seed)`` returns one trace as text; the same seed gives the same trace on
every machine and Python version (only :class:`random.Random` with an integer seed
is used). The traces are small (a handful of bos, a few dozen commands on a coarse
address grid) so that requests overlap often, and they reach every case the
split/merge walk has: all overlap shapes against one or several mappings, ``keep``
re-maps (same object, consistent offset), zero-size requests, requests outside the
VM or across the reserved node, u64 overflow of a request, of the VM range and of
the reserved node, sparse mappings (no object), ``bo_unmap``, ``prefetch`` (which
walks the reserved node too) and ``dump``.

Standard library only: ``pygpuvm diff`` and CI run it without the extension.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["generate", "GenConfig"]

U64 = 1 << 64
PAGE = 0x1000


@dataclass
class GenConfig:
    """Knobs of :func:`generate` (the defaults are what ``pygpuvm diff`` uses)."""

    min_cmds: int = 4
    max_cmds: int = 40
    max_bos: int = 4
    grid_pages: int = 32
    #: Probability that the VM or its reserved node overflows u64.
    p_vm_overflow: float = 0.03


@dataclass
class _State:
    rng: random.Random
    cfg: GenConfig
    start: int = 0
    span: int = 0
    bos: list[str] = field(default_factory=list)
    #: Mappings requested so far: (addr, range, bo, offset); may be stale.
    maps: list[tuple[int, int, str, int]] = field(default_factory=list)


def _h(v: int) -> str:
    return hex(v % U64)


def _vm_line(s: _State) -> str:
    r = s.rng
    pages = s.cfg.grid_pages
    if r.random() < s.cfg.p_vm_overflow:
        # start + range overflows u64 (the init WARNs; every request then fails).
        s.start = U64 - PAGE * r.randint(1, pages)
        s.span = PAGE * pages
        return f"vm {_h(s.start)} {_h(s.span)}"
    s.start = r.choice([0, 0, PAGE * r.randint(0, 4), U64 - PAGE * (pages + 8)])
    s.span = PAGE * pages
    if r.random() < 0.5:
        return f"vm {_h(s.start)} {_h(s.span)}"
    if r.random() < s.cfg.p_vm_overflow:
        roff = U64 - PAGE * r.randint(1, 3)
        return f"vm {_h(s.start)} {_h(s.span)} {_h(roff)} {_h(PAGE * 8)}"
    choice = r.random()
    if choice < 0.4:
        # The kernel's typical use: the reserved node at the VM's start.
        roff, rr = s.start, PAGE * r.randint(1, 3)
    elif choice < 0.8:
        roff = s.start + PAGE * r.randint(0, pages - 1)
        rr = PAGE * r.randint(1, 4)
    else:
        # Reserved range (partly) outside the VM, or of size zero (no node).
        roff = s.start + PAGE * r.randint(-2, pages + 2)
        rr = PAGE * r.randint(0, 3)
    return f"vm {_h(s.start)} {_h(s.span)} {_h(roff)} {_h(rr)}"


def _addr_range(s: _State) -> tuple[int, int]:
    r = s.rng
    pages = s.cfg.grid_pages
    k = r.random()
    if k < 0.06:
        # Zero-size request.
        return s.start + PAGE * r.randint(0, pages), 0
    if k < 0.10:
        # Outside the VM, or across its end.
        a = s.start + PAGE * r.randint(pages - 4, pages + 4)
        return a, PAGE * r.randint(1, 8)
    if k < 0.13:
        # Overflowing u64.
        return U64 - PAGE * r.randint(1, 4), PAGE * r.randint(5, 16)
    if k < 0.16:
        # Not page aligned.
        a = s.start + r.randrange(PAGE * pages)
        return a, r.randint(1, PAGE * 4)
    if k < 0.20:
        # The whole VM.
        return s.start, s.span
    a = r.randint(0, pages - 1)
    n = r.randint(1, min(pages - a, r.choice([1, 2, 4, 8, 16])))
    return s.start + PAGE * a, PAGE * n


def _map_line(s: _State) -> str:
    r = s.rng
    if s.maps and r.random() < 0.3:
        # A keep candidate: a sub- or super-range of an earlier mapping of the same
        # object at the consistent offset (or one page off, to miss keep).
        addr, rng_, bo, off = r.choice(s.maps)
        lo = addr + PAGE * r.randint(-2, max(0, rng_ // PAGE))
        n = PAGE * r.randint(1, 8)
        if r.random() < 0.15:
            n = 0
        noff = off + (lo - addr) + (PAGE if r.random() < 0.2 else 0)
        s.maps.append((lo % U64, n, bo, noff % U64))
        return f"map {_h(lo)} {_h(n)} {bo} {_h(noff)}"
    addr, n = _addr_range(s)
    if s.bos and r.random() < 0.85:
        bo = r.choice(s.bos)
        off = PAGE * r.randint(0, 64) if r.random() < 0.9 else U64 - PAGE * r.randint(1, 4)
        s.maps.append((addr % U64, n, bo, off % U64))
        return f"map {_h(addr)} {_h(n)} {bo} {_h(off)}"
    return f"map {_h(addr)} {_h(n)} - {_h(PAGE * r.randint(0, 8))}"


def generate(seed: int, cfg: GenConfig | None = None) -> str:
    """One random trace for *seed* (deterministic), ending with a ``dump``."""
    cfg = cfg or GenConfig()
    s = _State(random.Random(seed), cfg)
    r = s.rng
    lines = [f"# pygpuvm.tracegen seed {seed}", _vm_line(s)]
    for i in range(r.randint(0, cfg.max_bos)):
        name = "ABCDEFGHIJ"[i]
        s.bos.append(name)
        lines.append(f"bo {name} ext" if r.random() < 0.4 else f"bo {name}")
    for _ in range(r.randint(cfg.min_cmds, cfg.max_cmds)):
        k = r.random()
        if k < 0.50:
            lines.append(_map_line(s))
        elif k < 0.72:
            a, n = _addr_range(s)
            lines.append(f"unmap {_h(a)} {_h(n)}")
        elif k < 0.80 and s.bos:
            lines.append(f"bo_unmap {r.choice(s.bos)}")
        elif k < 0.90:
            a, n = _addr_range(s)
            if r.random() < 0.1:
                a, n = 0, U64 - 1
            lines.append(f"prefetch {_h(a)} {_h(n)}")
        elif k < 0.97:
            lines.append("dump")
        else:
            lines.append("mark")
    lines.append("dump")
    return "\n".join(lines) + "\n"
