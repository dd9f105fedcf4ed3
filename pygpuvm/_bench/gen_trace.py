#!/usr/bin/env python3
"""Seeded workload generator for ``gpuvm-replay --bench`` (trace format: docs/trace-format.md).

Layout. The VA space is ``[0, 2^48)`` with the low 4 GiB reserved for the
kernel (the ``vm`` line's reserved node). Above it, N *slots* are laid out in
address order, one per live mapping of the population; slot ``i`` starts at
``4 GiB + i * stride + jitter`` (4 KiB aligned) and every mapping of the slot
stays inside its 2 MiB *window* ``[base, base + 2 MiB)``::

    0        4G                                                          2^48
    |reserved|[slot 0 ]      [slot 1 ]    [slot 2 ]     ...  [slot N-1]   |
              ^base0 ^window  ^base1

(The reserved node sits below the population on purpose: above it, every
address-ordered map's find_first would descend to it; PROFILE.md measures that.)

Phases. ``vm`` and ``bo`` lines (four objects, two of them ``ext``), the
*population* (one map per slot at its base, 4 KiB .. 2 MiB, address order),
``mark``, then the measured phase of the chosen workload:

* ``population``: the population itself is measured (``mark`` comes right
  after the ``bo`` lines instead).
* ``steady``: random maps over existing mappings that split them (remap with
  prev and next, then map) or replace them (unmap, then map), partial unmaps
  (a cut at either end or a hole in the middle), and whole-slot
  ``unmap base 2MiB`` + ``map base size`` pairs that defragment a slot. A
  reset is chosen whenever the live count exceeds N, so it stays ~N.
* ``query``: ``prefetch`` walks (the trace format's only query), half of them
  short ranges inside a slot window, half spanning 1..8 slots.

The generator simulates the address space (per slot: a list of pieces in pages)
so it knows the exact number of ops each command produces; :class:`TraceStats`
reports them (tests compare them with the replay's printed ops). Output is
streamed in blocks: a 1e6-mapping trace is never held in memory.

Usage (``python -m pygpuvm._bench.gen_trace`` from an install)::

    python benchmarks/gen_trace.py --workload steady --live 100000 --seed 1 \\
        | gpuvm-replay --bench -
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from array import array
from dataclasses import asdict, dataclass
from typing import TextIO

PAGE = 4096
WINDOW = 512  # pages: a slot's mappings all lie in [base, base + 2 MiB)
VA_SPACE = 1 << 48
RESERVE = 1 << 32  # kernel-reserved node [0, 4 GiB)
SLOT_AREA = VA_SPACE - RESERVE  # slots live in [RESERVE, VA_SPACE)
BOS = (("A", False), ("B", False), ("X", True), ("Y", True))
WORKLOADS = ("population", "steady", "query")
FLUSH_LINES = 8192

# Steady-state mix of the non-reset actions (resets are driven by the live
# count). Tuned so the whole measured phase averages ~1.4 ops per command,
# the mix of the kernel measurement the targets were first set against.
STEADY_WEIGHTS = (
    ("split", 0.12),  # map strictly inside a piece: remap(prev,next) + map
    ("replace", 0.13),  # map exactly over a piece: unmap + map
    ("grow", 0.05),  # map from inside a piece past its end: 1..k pieces + map
    ("cut", 0.58),  # unmap one end of a piece: remap(prev|next)
    ("hole", 0.12),  # unmap the middle of a piece: remap(prev,next)
)

# Smallest piece (pages) each action applies to.
MIN_PAGES = {"split": 3, "replace": 1, "grow": 1, "cut": 2, "hole": 3}


@dataclass
class TraceStats:
    """What a generated trace contains, known from the generator's own model."""

    workload: str
    live: int  # population size N
    seed: int
    commands: int  # commands after the last mark (what --bench times)
    ops: int  # ops those commands produce (map/remap/unmap/prefetch lines)
    live_at_mark: int
    live_end: int
    peak_live: int
    lines: int  # lines written, comments included

    @property
    def ops_per_command(self) -> float:
        return self.ops / self.commands if self.commands else 0.0


def default_commands(workload: str, live: int) -> int:
    """Measured-phase length when none is given."""
    if workload == "population":
        return live
    if workload == "steady":
        return max(live, 100_000)
    return max(live // 5, 50_000)


class _Writer:
    """Line sink that writes in blocks (one write() per FLUSH_LINES lines)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.buf: list[str] = []
        self.lines = 0

    def line(self, text: str) -> None:
        self.buf.append(text)
        if len(self.buf) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.lines += len(self.buf)
            self.out.write("".join(self.buf))
            self.buf.clear()


class _Space:
    """The generator's model of the VA space: pieces per slot, in pages.

    A slot whose only piece starts at the slot base is stored compactly as its
    size in ``head``; any other shape lives in ``shaped`` as a sorted list of
    ``(start, end)`` page pairs relative to the base. Slots with two or more
    pieces are kept in an indexable set so resets can pick one in O(1).
    """

    def __init__(self, n: int, rng: random.Random) -> None:
        self.n = n
        self.stride = (SLOT_AREA // n) // PAGE * PAGE
        if self.stride < WINDOW * PAGE:
            raise ValueError(f"--live {n} too large: slots would be < 2 MiB apart")
        jitter_pages = (self.stride - WINDOW * PAGE) // PAGE
        rand = rng.randrange
        self.base = array("Q", (RESERVE + i * self.stride + rand(jitter_pages + 1) * PAGE
                                for i in range(n)))
        self.head = array("H", bytes(2 * n))
        self.shaped: dict[int, list[tuple[int, int]]] = {}
        self.multi: list[int] = []
        self.multi_pos: dict[int, int] = {}
        self.live = 0

    def pieces(self, i: int) -> list[tuple[int, int]]:
        p = self.shaped.get(i)
        if p is not None:
            return p
        h = self.head[i]
        return [(0, h)] if h else []

    def set_pieces(self, i: int, pieces: list[tuple[int, int]]) -> None:
        self.live += len(pieces) - len(self.pieces(i))
        if len(pieces) == 1 and pieces[0][0] == 0:
            self.head[i] = pieces[0][1]
            self.shaped.pop(i, None)
        elif not pieces:
            self.head[i] = 0
            self.shaped.pop(i, None)
        else:
            self.head[i] = 0
            self.shaped[i] = pieces
        if len(pieces) >= 2:
            if i not in self.multi_pos:
                self.multi_pos[i] = len(self.multi)
                self.multi.append(i)
        elif i in self.multi_pos:
            pos = self.multi_pos.pop(i)
            last = self.multi.pop()
            if last != i:
                self.multi[pos] = last
                self.multi_pos[last] = pos

    def request(self, i: int, a: int, b: int, is_map: bool) -> int:
        """Apply map/unmap of pages [a, b) in slot i; return the ops it yields.

        Every touched piece yields one op (unmap, or remap keeping the parts
        outside [a, b)); a map adds its own map op. Requests never leave the
        slot window, so no other slot is touched.
        """
        out: list[tuple[int, int]] = []
        touched = 0
        for s, e in self.pieces(i):
            if e <= a or s >= b:
                out.append((s, e))
                continue
            touched += 1
            if s < a:
                out.append((s, a))
            if e > b:
                out.append((b, e))
        if is_map:
            out.append((a, b))
            out.sort()
        self.set_pieces(i, out)
        return touched + (1 if is_map else 0)

    def count_range(self, addr: int, end: int) -> int:
        """Pieces intersecting the byte range [addr, end) (a prefetch walk)."""
        first = min((addr - RESERVE) // self.stride, self.n - 1)
        last = min((end - 1 - RESERVE) // self.stride, self.n - 1)
        hits = 0
        for j in range(first, last + 1):
            base = self.base[j]
            for s, e in self.pieces(j):
                if base + s * PAGE < end and base + e * PAGE > addr:
                    hits += 1
        return hits


def _offset(i: int, page: int) -> int:
    # Each slot owns a 2 MiB stretch of its object, so a piece keeps its offset
    # relation across remaps and an identical re-map gets keep=1.
    return ((i % 4096) * WINDOW + page) * PAGE


def generate(out: TextIO, workload: str, live: int, commands: int | None = None,
             seed: int = 1) -> TraceStats:
    """Write one trace to ``out``; return what it contains."""
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r} (one of {', '.join(WORKLOADS)})")
    if live < 1:
        raise ValueError("live must be >= 1")
    if commands is None:
        commands = default_commands(workload, live)
    rng = random.Random(f"pygpuvm-bench:{workload}:{live}:{seed}")
    space = _Space(live, rng)
    w = _Writer(out)
    names = [name for name, _ in BOS]
    rand = rng.randrange
    randint = rng.randint

    w.line(f"# pygpuvm benchmark trace: workload={workload} live={live} "
           f"commands={commands} seed={seed}\n")
    w.line(f"vm 0x0 {VA_SPACE:#x} 0x0 {RESERVE:#x}\n")
    for name, ext in BOS:
        w.line(f"bo {name}{' ext' if ext else ''}\n")

    def map_line(i: int, a: int, b: int) -> str:
        return (f"map {space.base[i] + a * PAGE:#x} {(b - a) * PAGE:#x} "
                f"{names[rand(4)]} {_offset(i, a):#x}\n")

    timed_ops = 0
    if workload == "population":
        w.line("mark\n")
    # Population: one mapping per slot, address order.
    for i in range(live):
        size = randint(1, WINDOW)
        space.request(i, 0, size, True)
        w.line(map_line(i, 0, size))
    if workload == "population":
        timed_ops = live
    else:
        w.line("mark\n")
    live_at_mark = space.live
    peak = space.live

    if workload == "steady":
        kinds = [k for k, _ in STEADY_WEIGHTS]
        cum = []
        total = 0.0
        for _, wt in STEADY_WEIGHTS:
            total += wt
            cum.append(total)

        def reset(i: int) -> int:
            base = space.base[i]
            w.line(f"unmap {base:#x} {WINDOW * PAGE:#x}\n")
            size = randint(1, WINDOW)
            w.line(map_line(i, 0, size))
            return space.request(i, 0, WINDOW, False) + space.request(i, 0, size, True)

        done = 0
        while done < commands:
            if space.live > peak:
                peak = space.live
            if space.live > live and space.multi and commands - done >= 2:
                # Defragment: a whole-slot unmap + map of a slot with 2+ pieces.
                timed_ops += reset(space.multi[rand(len(space.multi))])
                done += 2
                continue
            i = rand(live)
            pieces = space.pieces(i)
            r = rng.random() * total
            kind = kinds[next(k for k, c in enumerate(cum) if r < c)]
            if not pieces:
                s = e = 0
            else:
                s, e = pieces[rand(len(pieces))]
            n = e - s
            if n < MIN_PAGES[kind]:
                # Too small to split or cut (or an empty slot): the slot is
                # remapped whole instead, which also undoes the shrinking
                # that repeated cuts cause on small populations.
                if commands - done >= 2:
                    timed_ops += reset(i)
                    done += 2
                    continue
                kind = "replace"
                if not pieces:
                    s, e = 0, randint(1, WINDOW)
            is_map = kind in ("split", "replace", "grow")
            if kind == "split":
                a = randint(s + 1, e - 2)
                b = randint(a + 1, e - 1)
            elif kind == "replace":
                a, b = s, e
            elif kind == "grow":
                a = randint(s, e - 1)
                b = randint(e, WINDOW) if e < WINDOW else e
            elif kind == "cut":
                k = randint(1, n - 1)
                a, b = (s, s + k) if rng.random() < 0.5 else (e - k, e)
            else:  # hole
                a = randint(s + 1, e - 2)
                b = randint(a + 1, e - 1)
            timed_ops += space.request(i, a, b, is_map)
            addr = space.base[i] + a * PAGE
            if is_map:
                w.line(map_line(i, a, b))
            else:
                w.line(f"unmap {addr:#x} {(b - a) * PAGE:#x}\n")
            done += 1
    elif workload == "query":
        stride = space.stride
        top = RESERVE + live * stride
        for _ in range(commands):
            if rng.random() < 0.5:
                i = rand(live)
                addr = space.base[i] + rand(WINDOW) * PAGE
                size = randint(1, 16) * PAGE
            else:
                size = randint(1, 8) * stride
                addr = RESERVE + rand(max(1, (top - RESERVE - size) // PAGE)) * PAGE
            timed_ops += space.count_range(addr, addr + size)
            w.line(f"prefetch {addr:#x} {size:#x}\n")

    w.flush()
    return TraceStats(
        workload=workload,
        live=live,
        seed=seed,
        commands=live if workload == "population" else commands,
        ops=timed_ops,
        live_at_mark=0 if workload == "population" else live_at_mark,
        live_end=space.live,
        peak_live=max(peak, space.live),
        lines=w.lines,
    )


def trace_text(workload: str, live: int, commands: int | None = None,
               seed: int = 1) -> tuple[str, TraceStats]:
    """A whole trace as a string (for small traces and tests), with its stats."""
    buf = io.StringIO()
    stats = generate(buf, workload, live, commands, seed)
    return buf.getvalue(), stats


def generate_baseline(out: TextIO, pairs: int = 20_000) -> TraceStats:
    """A trace with the same fixed costs as a workload but ~no live mappings.

    The same ``vm``/``bo`` lines, then map/unmap pairs of one 4 KiB range: the
    replay's parse chunks and ops lists reach their working size while at
    most one mapping is ever live. Peak-RSS differences against this trace are
    the cost of the mappings themselves.
    """
    w = _Writer(out)
    w.line("# pygpuvm benchmark baseline trace (fixed costs only)\n")
    w.line(f"vm 0x0 {VA_SPACE:#x} 0x0 {RESERVE:#x}\n")
    for name, ext in BOS:
        w.line(f"bo {name}{' ext' if ext else ''}\n")
    w.line("mark\n")
    for k in range(pairs):
        name = BOS[k % 4][0]
        w.line(f"map {2 * RESERVE:#x} 0x1000 {name} 0x0\n")
        w.line(f"unmap {2 * RESERVE:#x} 0x1000\n")
    w.flush()
    return TraceStats("baseline", 0, 0, 2 * pairs, 2 * pairs, 0, 0, 1, w.lines)


def _int(text: str) -> int:
    # Accept 1e5-style sizes as well as plain integers.
    value = float(text) if any(c in text for c in ".eE") else int(text, 0)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"not an integer: {text}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", "-w", choices=WORKLOADS + ("baseline",), default="steady")
    ap.add_argument("--live", "-n", type=_int, default=1000,
                    help="live mappings after the population (default 1000; 1e5 style accepted)")
    ap.add_argument("--commands", "-c", type=_int, default=None,
                    help="measured-phase commands (default: depends on the workload)")
    ap.add_argument("--seed", "-s", type=int, default=1)
    ap.add_argument("--output", "-o", default="-", help="trace file (default: stdout)")
    ap.add_argument("--stats", action="store_true",
                    help="print the trace statistics as JSON on stderr")
    args = ap.parse_args(argv)

    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="ascii")
    try:
        if args.workload == "baseline":
            stats = generate_baseline(out)
        else:
            stats = generate(out, args.workload, args.live, args.commands, args.seed)
        out.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); not an error of ours.
        sys.stderr.close()
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    if args.stats:
        d = asdict(stats)
        d["ops_per_command"] = round(stats.ops_per_command, 4)
        print(json.dumps(d), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
