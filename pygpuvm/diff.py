"""``pygpuvm diff``: differential testing of two trace replayers.

Runs seeded random traces (:mod:`pygpuvm.tracegen`) and, optionally, the golden
traces of a directory, through two programs that replay docs/trace-format.md
traces (by default ``gpuvm-replay``, our port, and ``gpuvm-replay-kernel``, the
same replay driver built around the kernel's own ``drm_gpuvm.c``; see
docs/kernel-backend.md) and compares exit status and standard output byte for
byte. A divergent trace is shrunk to a minimal one (commands are removed while the
outputs still differ) and printed with both outputs.

Standard library only (it runs programs; it does not use the extension).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import difflib
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from typing import Callable, Sequence, TextIO

if __package__:
    from .tracegen import generate
else:  # imported by kernel_source.py run as a script
    from tracegen import generate  # type: ignore[no-redef,import-not-found]

__all__ = ["Result", "Divergence", "run_trace", "diverges", "shrink", "find_program",
           "run_diff", "main"]

#: Seconds one replay may take before it counts as hung.
TIMEOUT = 30.0


@dataclass(frozen=True)
class Result:
    """What one replay printed: exit status, stdout, stderr."""

    rc: int
    out: str
    err: str

    def same(self, other: "Result") -> bool:
        """Equal as far as the trace format specifies (stderr is free text)."""
        return self.rc == other.rc and self.out == other.out


@dataclass
class Divergence:
    """A trace on which the two programs disagree, shrunk."""

    name: str
    trace: str
    shrunk: str
    ours: Result
    theirs: Result
    #: The documented difference it is, or None: unexpected.
    known: "Known | None" = None


def _vm_args(trace: str) -> tuple[int, ...] | None:
    """The numbers of the trace's vm line (start, range[, roff, rrange])."""
    for line in trace.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0] == "vm":
            try:
                return tuple(int(w, 0) for w in words[1:])
            except ValueError:
                return None
    return None


def _reserve_overflows(trace: str, ours: Result, theirs: Result) -> bool:
    vm = _vm_args(trace)
    return (vm is not None and len(vm) == 4 and vm[3] != 0 and vm[2] + vm[3] >= 1 << 64
            and ours.rc == 0 and theirs.rc < 0 and ours.out == theirs.out)


@dataclass(frozen=True)
class Known:
    """A difference explained by the kernel's behaviour (docs/kernel-backend.md)."""

    key: str
    what: str
    matches: Callable[[str, Result, Result], bool]


#: Differences the comparison expects, each documented with a trace in
#: docs/kernel-backend.md. A divergence matching one is counted, not failed.
KNOWN: tuple[Known, ...] = (
    Known("reserved-node-teardown",
          "kernel bug: drm_gpuvm_init() does not insert a reserved node whose end "
          "overflows u64, but drm_gpuvm_fini() removes it (NULL va->vm): the kernel "
          "program crashes at teardown",
          _reserve_overflows),
)


def classify(trace: str, ours: Result, theirs: Result) -> Known | None:
    """The known difference *trace* shows, if any."""
    for k in KNOWN:
        if k.matches(trace, ours, theirs):
            return k
    return None


def run_trace(program: Sequence[str], trace: str) -> Result:
    """Replay *trace* (text) with *program* (argv, ``-`` appended) and collect its output."""
    try:
        p = subprocess.run([*program, "-"], input=trace, capture_output=True, text=True,
                           timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return Result(-1, "", f"timed out after {TIMEOUT}s")
    return Result(p.returncode, p.stdout, p.stderr)


def diverges(a: Sequence[str], b: Sequence[str], trace: str) -> bool:
    """True when *a* and *b* disagree on *trace*."""
    return not run_trace(a, trace).same(run_trace(b, trace))


def shrink(trace: str, bad: Callable[[str], bool]) -> str:
    """A minimal trace (by removal of command lines) for which *bad* still holds.

    Comments and blank lines go first; the ``vm`` line is kept. Removing a ``bo``
    line that is still used makes the trace malformed, which both programs reject
    alike, so such a removal is not kept. Delta debugging: chunks, then lines.
    """
    lines = [ln for ln in trace.splitlines() if ln.split("#", 1)[0].strip()]
    text = "\n".join(lines) + "\n"
    if not bad(text):
        return trace
    head, body = lines[:1], lines[1:]
    n = 2
    while body:
        chunk = max(1, len(body) // n)
        reduced = False
        i = 0
        while i < len(body):
            cand = body[:i] + body[i + chunk:]
            if bad("\n".join(head + cand) + "\n"):
                body = cand
                reduced = True
            else:
                i += chunk
        if not reduced:
            if chunk == 1:
                break
            n = min(len(body), n * 2)
    return "\n".join(head + body) + "\n"


def find_program(name: str) -> str | None:
    """*name* in this interpreter's scripts directory (where pip installs
    ``gpuvm-replay``), else on PATH."""
    cand = os.path.join(sysconfig.get_path("scripts"), name)
    if os.access(cand, os.X_OK):
        return cand
    return shutil.which(name)


def _check(ours: Sequence[str], theirs: Sequence[str], name: str,
           trace: str) -> Divergence | None:
    a, b = run_trace(ours, trace), run_trace(theirs, trace)
    if a.same(b):
        return None
    known = classify(trace, a, b)
    if known is not None:
        # Expected: no need to shrink it.
        return Divergence(name, trace, trace, a, b, known)
    small = shrink(trace, lambda t: diverges(ours, theirs, t))
    return Divergence(name, trace, small, run_trace(ours, small), run_trace(theirs, small))


def run_diff(ours: Sequence[str], theirs: Sequence[str], count: int, seed: int,
             golden: Sequence[str] = (), jobs: int = 1) -> tuple[int, list[Divergence]]:
    """Compare on *count* random traces from *seed* on, plus the *golden* trace files.

    Returns (traces run, divergences).
    """
    work: list[tuple[str, str]] = []
    for path in golden:
        with open(path, encoding="utf-8") as f:
            work.append((path, f.read()))
    for s in range(seed, seed + count):
        work.append((f"seed {s}", generate(s)))
    divs: list[Divergence] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for d in pool.map(lambda w: _check(ours, theirs, w[0], w[1]), work):
            if d is not None:
                divs.append(d)
    return len(work), divs


def _show(d: Divergence, na: str, nb: str, f: TextIO) -> None:
    print(f"--- divergence: {d.name}; shrunk trace:", file=f)
    f.write(d.shrunk)
    for label, r in ((na, d.ours), (nb, d.theirs)):
        print(f"--- {label}: exit {r.rc}", file=f)
        f.write(r.out)
        if r.err:
            f.write("".join(f"[stderr] {ln}\n" for ln in r.err.splitlines()))
    diff = difflib.unified_diff(d.ours.out.splitlines(), d.theirs.out.splitlines(),
                                na, nb, lineterm="", n=1)
    print("\n".join(diff), file=f)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``pygpuvm diff`` (shared with ``python -m pygpuvm.diff``)."""
    p.add_argument("--kernel", metavar="PROGRAM", default=None,
                   help="the kernel backend (default: gpuvm-replay-kernel on PATH)")
    p.add_argument("--ours", metavar="PROGRAM", default=None,
                   help="our backend (default: gpuvm-replay on PATH)")
    p.add_argument("--count", type=int, default=1000, metavar="N",
                   help="random traces to run (default 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="first seed (traces use seeds S .. S+N-1; default 0)")
    p.add_argument("--golden", metavar="DIR", default=None,
                   help="also run every *.trace file of DIR")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="traces compared in parallel (default 1)")
    p.add_argument("--show", type=int, default=3, metavar="K",
                   help="print at most K shrunk divergences (default 3)")


def run_args(args: argparse.Namespace) -> int:
    """Carry out ``pygpuvm diff``; exit status 0 only without divergence."""
    if args.count < 0 or args.jobs < 1:
        print("pygpuvm diff: --count must be >= 0 and --jobs >= 1", file=sys.stderr)
        return 2
    ours = args.ours or find_program("gpuvm-replay")
    theirs = args.kernel or find_program("gpuvm-replay-kernel")
    for label, prog in (("gpuvm-replay", ours), ("gpuvm-replay-kernel", theirs)):
        if not prog or not os.access(prog, os.X_OK):
            print(f"pygpuvm diff: {label} program not found ({prog or 'not on PATH'}); "
                  "see docs/kernel-backend.md for building the kernel backend",
                  file=sys.stderr)
            return 2
    assert ours is not None and theirs is not None
    golden: list[str] = []
    if args.golden:
        golden = sorted(os.path.join(args.golden, n) for n in os.listdir(args.golden)
                        if n.endswith(".trace"))
    n, divs = run_diff([ours], [theirs], args.count, args.seed, golden, args.jobs)
    bad = [d for d in divs if d.known is None]
    for d in bad[:args.show]:
        _show(d, "ours", "kernel", sys.stdout)
    counts: dict[str, int] = {}
    for d in divs:
        if d.known is not None:
            counts[d.known.key] = counts.get(d.known.key, 0) + 1
    print(f"pygpuvm diff: {n} traces ({len(golden)} golden, {args.count} random from seed "
          f"{args.seed}), {len(bad)} divergent, {len(divs) - len(bad)} known differences")
    for k in KNOWN:
        if k.key in counts:
            print(f"  known {k.key}: {counts[k.key]} ({k.what})")
    print(f"ours:   {ours}\nkernel: {theirs}")
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pygpuvm.diff``: the same as ``pygpuvm diff``."""
    p = argparse.ArgumentParser(prog="pygpuvm diff", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run_args(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
