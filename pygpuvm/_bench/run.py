"""Run the pygpuvm benchmark suite: ``pygpuvm bench`` and ``python benchmarks/run.py``.

For every size (live mappings) and workload (see gen_trace.py) a seeded trace
is generated into a temporary directory and replayed with
``gpuvm-replay --bench``, several times; the median ns/command is reported.
The peak RSS of each replay process (``wait4`` rusage of that child alone)
gives the memory per mapping: (peak RSS of the population trace - peak RSS of
a baseline trace with the same fixed costs and no mappings) / live mappings.

``--kernel [PROGRAM]`` adds the kernel backend (``gpuvm-replay-kernel``, the
same replay driver built around the kernel's own drm_gpuvm.c; see
docs/kernel-backend.md) side by side: each trace is first replayed once by
both programs in normal mode, whose outputs must be identical and print the
op counts the generator's model predicts (else the run fails), then timed in
alternation (ours, kernel, ours, kernel, ...). The table gives both figures,
ours/kernel as the median of the per-pair ratios, and the targets. Without
``--kernel`` there are no kernel columns and no targets: no figure of another
machine or run is ever shown.

The Python-level benchmarks (bench_python.py, through pytest-benchmark) run
too when pytest-benchmark and pygpuvm are importable (``--no-python`` skips
them) and get their own table.

Modes: default (1e3, 1e5, 1e6; ~1-2 minutes), ``--quick`` (1e3 and 1e5,
under a minute), ``--tiny`` (seconds; what the test suite runs).

``pygpuvm bench`` prints the table (``--output FILE`` writes the Markdown);
``python benchmarks/run.py`` in a checkout runs this file with the checkout's
``benchmarks/bench_python.py`` and writes ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

HERE = Path(__file__).resolve().parent
# The source tree when this file is a checkout's pygpuvm/_bench/run.py (for the
# git revision and meson build directories); an installed copy has none.
REPO = HERE.parent.parent
IN_CHECKOUT = (REPO / "meson.build").is_file() and (REPO / "csrc").is_dir()


def _load_sibling(name: str) -> types.ModuleType:
    # Loaded by path (benchmarks/run.py in a checkout, no install needed): the
    # siblings are loaded the same way, never through the pygpuvm package.
    modname = f"_pygpuvm_bench_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


if __package__:
    from . import gen_trace
else:
    gen_trace = _load_sibling("gen_trace")

# Targets, as ratios ours/kernel measured in the same run:
# (live, workload) -> the largest allowed time ratio.
TIME_TARGETS = {
    (1_000, "population"): 0.7, (1_000, "steady"): 0.7,
    (100_000, "population"): 0.7, (100_000, "steady"): 0.7,
    (1_000_000, "population"): 0.7, (1_000_000, "steady"): 0.5,
}
MEMORY_TARGET = 1.0  # bytes per mapping, ours/kernel
MEMORY_MIN_LIVE = 10_000  # below this the RSS difference is within page/arena granularity
KERNEL_NAME = "gpuvm-replay-kernel"

WORKLOAD_ORDER = ("population", "steady", "query")


@dataclass
class Mode:
    name: str
    sizes: tuple[int, ...]
    steady: dict[int, int]  # live -> measured commands
    query: dict[int, int]
    repeat: int
    min_timed: int  # small runs are repeated until this many commands were timed
    baseline_pairs: int


MODES = {
    "full": Mode("full", (1_000, 100_000, 1_000_000),
                 {1_000: 500_000, 100_000: 500_000, 1_000_000: 1_000_000},
                 {1_000: 100_000, 100_000: 100_000, 1_000_000: 200_000},
                 repeat=5, min_timed=100_000, baseline_pairs=20_000),
    "quick": Mode("quick", (1_000, 100_000),
                  {1_000: 100_000, 100_000: 100_000},
                  {1_000: 20_000, 100_000: 20_000},
                  repeat=3, min_timed=20_000, baseline_pairs=20_000),
    "tiny": Mode("tiny", (1_000,), {1_000: 2_000}, {1_000: 1_000},
                 repeat=1, min_timed=0, baseline_pairs=2_000),
}


@dataclass
class Result:
    live: int
    workload: str
    commands: int
    ops: int
    ns_per_cmd: list[float] = field(default_factory=list)
    maxrss_kib: list[int] = field(default_factory=list)
    gen_seconds: float = 0.0
    # The kernel backend's runs, paired with ours by index (empty without --kernel).
    kernel_ns_per_cmd: list[float] = field(default_factory=list)
    kernel_maxrss_kib: list[int] = field(default_factory=list)

    @property
    def ns(self) -> float:
        return statistics.median(self.ns_per_cmd)

    @property
    def kernel_ns(self) -> float | None:
        return statistics.median(self.kernel_ns_per_cmd) if self.kernel_ns_per_cmd else None

    @property
    def ratios(self) -> list[float]:
        """ours/kernel of each alternating pair of runs."""
        return [a / b for a, b in zip(self.ns_per_cmd, self.kernel_ns_per_cmd) if b > 0]

    @property
    def ratio(self) -> float | None:
        r = self.ratios
        return statistics.median(r) if r else None

    @property
    def kernel_rss_kib(self) -> int | None:
        return int(statistics.median(self.kernel_maxrss_kib)) if self.kernel_maxrss_kib else None

    @property
    def ops_per_cmd(self) -> float:
        return self.ops / self.commands if self.commands else 0.0

    @property
    def rss_kib(self) -> int:
        return int(statistics.median(self.maxrss_kib))


class ReplayError(RuntimeError):
    pass


# ------------------------------------------------------------------ tools


def find_replay(explicit: str | None = None) -> Path:
    """The gpuvm-replay binary: --replay, $GPUVM_REPLAY, the one pip installed
    with this interpreter's pygpuvm (its scripts directory, or next to
    sys.executable), PATH, or a meson build directory of the source tree."""
    for c in (explicit, os.environ.get("GPUVM_REPLAY")):
        if c:
            return Path(c)
    cands = [Path(sysconfig.get_path("scripts")) / "gpuvm-replay",
             Path(sys.executable).parent / "gpuvm-replay"]
    w = shutil.which("gpuvm-replay")
    if w:
        cands.append(Path(w))
    if IN_CHECKOUT:
        for d in sorted(REPO.glob("build*/")) + sorted(REPO.glob("build/*/")):
            cands.append(d / "csrc" / "gpuvm-replay")
    for cand in cands:
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    raise ReplayError("gpuvm-replay not found: install pygpuvm (pip install .), or pass "
                      "--replay PATH / set GPUVM_REPLAY (e.g. <meson build dir>/csrc/gpuvm-replay)")


def _kernel_candidates() -> list[Path]:
    cands = [Path(sysconfig.get_path("scripts")) / KERNEL_NAME,
             Path(sys.executable).parent / KERNEL_NAME]
    w = shutil.which(KERNEL_NAME)
    if w:
        cands.append(Path(w))
    if IN_CHECKOUT:
        # `pygpuvm kernel build` builds into build/kernel by default (--build-dir).
        cands.append(REPO / "build" / "kernel" / "csrc" / "kernel" / KERNEL_NAME)
        for d in sorted(REPO.glob("build*/")) + sorted(REPO.glob("build/*/")):
            cands.append(d / "csrc" / "kernel" / KERNEL_NAME)
    return cands


def find_kernel(explicit: str | None = None) -> Path:
    """The kernel backend for ``--kernel [PROGRAM]``: PROGRAM, else
    $GPUVM_REPLAY_KERNEL, else gpuvm-replay-kernel in this interpreter's scripts
    directory or on PATH (where ``pygpuvm kernel build --install`` puts it), else
    the one ``pygpuvm kernel build`` left in a checkout's build/kernel (or another
    meson build directory of the checkout)."""
    for c in (explicit, os.environ.get("GPUVM_REPLAY_KERNEL")):
        if c:
            p = Path(c)
            if not (p.is_file() and os.access(p, os.X_OK)):
                raise ReplayError(f"kernel backend {c}: not an executable file")
            return p
    for cand in _kernel_candidates():
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    raise ReplayError(f"{KERNEL_NAME} not found: build it with `pygpuvm kernel build --debian` "
                      "(docs/kernel-backend.md), or pass --kernel PROGRAM / set "
                      "GPUVM_REPLAY_KERNEL")


def replay_beside(kernel: Path) -> Path | None:
    """The gpuvm-replay that ``pygpuvm kernel build`` built in the same meson build
    directory as *kernel* (BUILD/csrc/kernel/gpuvm-replay-kernel ->
    BUILD/csrc/gpuvm-replay): same configuration and flags, so the fairest
    partner. None when there is none."""
    k = kernel.resolve()
    if k.parent.name != "kernel" or k.parent.parent.name != "csrc":
        return None
    cand = k.parent.parent / "gpuvm-replay"
    return cand if cand.is_file() and os.access(cand, os.X_OK) else None


OP_PREFIXES = (b"\nmap ", b"\nremap ", b"\nunmap ", b"\nprefetch ")


@dataclass(frozen=True)
class Output:
    """What a normal-mode replay printed: exit status, op lines per kind, digest."""

    status: int
    ops: dict[str, int]
    digest: str
    stderr: str

    @property
    def total_ops(self) -> int:
        return sum(self.ops.values())


def replay_output(program: Path, trace: Path) -> Output:
    """Replay *trace* in normal mode, streaming the output (it can be hundreds
    of MB): count the op lines (``map``/``remap``/``unmap``/``prefetch``, not the
    ``> `` echo of the commands) and hash the whole text."""
    h = hashlib.sha256()
    counts = dict.fromkeys(OP_PREFIXES, 0)
    carry = b"\n"
    with tempfile.TemporaryFile() as err, subprocess.Popen(
            [str(program), str(trace)], stdout=subprocess.PIPE, stderr=err,
            stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        while True:
            chunk = proc.stdout.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            data = carry + chunk
            cut = data.rfind(b"\n")
            body, carry = data[:cut + 1], data[cut:]
            # body starts with the newline that ended the previous line, so every
            # line start is a newline followed by the line.
            for p in OP_PREFIXES:
                counts[p] += body.count(p)
        status = proc.wait()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return Output(status, {p.decode().strip(): n for p, n in counts.items()}, h.hexdigest(),
                  stderr)


def check_backends_agree(replay: Path, kernel: Path, trace: Path, expected_ops: int) -> None:
    """Both programs replay *trace* in normal mode: they must exit 0, print the same
    bytes and as many op lines as the generator's model says (*expected_ops*,
    population included). Raises ReplayError naming the difference."""
    a, b = replay_output(replay, trace), replay_output(kernel, trace)
    problems = []
    for who, o in (("gpuvm-replay", a), (KERNEL_NAME, b)):
        if o.status != 0:
            problems.append(f"{who} exited with {o.status}: {o.stderr.strip()[-400:]}")
    if a.ops != b.ops:
        problems.append(f"op counts differ: gpuvm-replay {a.ops}, {KERNEL_NAME} {b.ops}")
    elif a.total_ops != expected_ops:
        problems.append(f"both printed {a.total_ops} ops ({a.ops}), the generator's model "
                        f"says {expected_ops}")
    if a.digest != b.digest and not problems:
        problems.append("same op counts but different output (run `pygpuvm diff` on it)")
    if problems:
        raise ReplayError(f"{trace.name}: the backends disagree: " + "; ".join(problems))


# Runs in a fresh interpreter: become a child subreaper, let /bin/sh fork the
# replay in the background and exit, then reap the orphaned replay with wait4.
# Why: ru_maxrss keeps the peak of the forking process's memory image (fork
# copies the RSS counters; exec keeps the old peak), so a replay forked straight
# from Python reports Python's ~20 MB. Forked from a shell it starts at ~1 MB,
# below any replay's own peak. The background job waits on a pipe until the
# shell is gone, so the shell can never reap it first.
_MEASURE_CHILD = r"""
import ctypes, json, os, subprocess, sys
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
out, err, *cmd = sys.argv[1:]
r, w = os.pipe()
GO = 9  # the background job's copy of the pipe's read end
os.dup2(r, GO, inheritable=True)
os.close(r)
script = '{ read _ <&9; exec 9<&- "$@"; } >"$OUT" 2>"$ERR" </dev/null & echo $!'
sh = subprocess.run(["/bin/sh", "-c", script, "sh", *cmd], pass_fds=(GO,),
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, check=True,
                    env=dict(os.environ, OUT=out, ERR=err))
os.close(GO)
os.write(w, b"go\n")
os.close(w)
_, status, ru = os.wait4(int(sh.stdout), 0)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "maxrss_kib": ru.ru_maxrss}))
"""


def measure(args: list[str]) -> tuple[int, str, str, int]:
    """Run ``args``; return (exit status, stdout, stderr, peak RSS in KiB of that process)."""
    with tempfile.TemporaryDirectory(prefix="pygpuvm-replay-") as d:
        out, err = Path(d) / "out", Path(d) / "err"
        helper = subprocess.run([sys.executable, "-I", "-c", _MEASURE_CHILD, str(out), str(err),
                                 *args], capture_output=True, text=True)
        if helper.returncode != 0:
            raise ReplayError(f"measuring {shlex.join(args)} failed: {helper.stderr.strip()}")
        res = json.loads(helper.stdout)
        return (res["exit"], out.read_text(errors="replace"), err.read_text(errors="replace"),
                int(res["maxrss_kib"]))


def run_replay(replay: Path, trace: Path) -> tuple[int, float, int]:
    """Run ``gpuvm-replay --bench TRACE``; return (timed commands, ns/cmd, peak RSS KiB)."""
    args = [str(replay), "--bench", str(trace)]
    status, stdout, stderr, rss = measure(args)
    if status != 0:
        raise ReplayError(f"{shlex.join(args)} exited with {status}: {stderr.strip()}")
    m = re.fullmatch(r"ops (\d+) ns_per_cmd (\d+(?:\.\d+)?)\n", stdout)
    if not m:
        raise ReplayError(f"{shlex.join(args)}: unexpected output {stdout!r}")
    return int(m.group(1)), float(m.group(2)), rss


def _cmd_output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def machine_info(replay: Path | None, kernel: Path | None = None) -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cpu"] = cpu
    info["cores"] = str(os.cpu_count())
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    info["os"] = f"{platform.system()} {platform.release()}"
    load = _loadavg()
    if load:
        info["load average (1/5/15 min) after the run"] = load
    info["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    compiler = ""
    if replay is not None:
        # The compiler that built the replay binary is recorded in its .comment section.
        comment = _cmd_output(["readelf", "-p", ".comment", str(replay)])
        found = re.findall(r"(GCC: .*|clang version .*)", comment)
        compiler = found[0].strip() if found else ""
        info["gpuvm-replay"] = str(replay)
    if kernel is not None:
        info[KERNEL_NAME] = f"{kernel} (GPL-2.0: the kernel's drm_gpuvm.c)"
    if not compiler:
        compiler = (_cmd_output(["cc", "--version"]).splitlines() or ["unknown"])[0]
    info["compiler"] = compiler
    rev = _cmd_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).strip() \
        if IN_CHECKOUT else ""
    if rev:
        dirty = _cmd_output(["git", "-C", str(REPO), "status", "--porcelain",
                             "--untracked-files=no"]).strip()
        info["source"] = f"git {rev}{' (working tree modified)' if dirty else ''}"
    return info


class Progress:
    """One rewritten status line on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.total = total
        self.done = 0
        self.t0 = time.monotonic()

    def step(self, text: str) -> None:
        msg = f"[{self.done}/{self.total} {time.monotonic() - self.t0:5.1f}s] {text}"
        if self.tty:
            self.stream.write("\r\x1b[K" + msg)
        else:
            self.stream.write(msg + "\n")
        self.stream.flush()

    def advance(self) -> None:
        self.done += 1

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# ------------------------------------------------------------------ suite


def _fmt_live(n: int) -> str:
    e = len(str(n)) - 1
    return f"1e{e}" if n == 10**e else str(n)


def run_suite(mode: Mode, replay: Path, seed: int, workdir: Path,
              progress: Progress, workloads: tuple[str, ...] = WORKLOAD_ORDER,
              kernel: Path | None = None) -> tuple[list[Result], Result]:
    """Every (size, workload) of *mode*; with *kernel*, each trace is checked
    (both backends print the same output and the model's op count) and then
    timed in alternating runs: ours, kernel, ours, kernel, ..."""
    programs = [("gpuvm-replay", replay)] + ([(KERNEL_NAME, kernel)] if kernel else [])

    def timed(res: Result, trace: Path, tag: str, reps: int) -> None:
        for r in range(reps):
            for who, prog in programs:
                progress.step(f"{tag}: {who} {r + 1}/{reps}")
                n, ns, rss = run_replay(prog, trace)
                if n != res.commands:
                    raise ReplayError(f"{trace.name}: {who} timed {n} commands, "
                                      f"the trace has {res.commands} after its mark")
                if prog is replay:
                    res.ns_per_cmd.append(ns)
                    res.maxrss_kib.append(rss)
                else:
                    res.kernel_ns_per_cmd.append(ns)
                    res.kernel_maxrss_kib.append(rss)

    results: list[Result] = []
    base_trace = workdir / "baseline.trace"
    with open(base_trace, "w", encoding="ascii") as f:
        bstats = gen_trace.generate_baseline(f, mode.baseline_pairs)
    baseline = Result(0, "baseline", bstats.commands, bstats.ops)
    if kernel is not None:
        progress.step("baseline: checking that both backends agree")
        check_backends_agree(replay, kernel, base_trace, bstats.ops)
    timed(baseline, base_trace, "baseline", max(mode.repeat, 3))
    base_trace.unlink()
    progress.advance()

    for live in mode.sizes:
        for wl in workloads:
            commands = {"population": live, "steady": mode.steady.get(live),
                        "query": mode.query.get(live)}[wl]
            tag = f"{_fmt_live(live)} {wl}"
            progress.step(f"{tag}: generating trace")
            trace = workdir / f"{wl}-{live}.trace"
            t0 = time.monotonic()
            with open(trace, "w", encoding="ascii") as f:
                stats = gen_trace.generate(f, wl, live, commands, seed)
            res = Result(live, wl, stats.commands, stats.ops,
                         gen_seconds=time.monotonic() - t0)
            if kernel is not None:
                progress.step(f"{tag}: checking that both backends agree")
                # The population before the mark prints one map op per mapping.
                untimed = 0 if wl == "population" else stats.live
                check_backends_agree(replay, kernel, trace, stats.ops + untimed)
            # Short phases are repeated more so that enough commands are timed.
            reps = max(mode.repeat, min(25, -(-mode.min_timed // max(stats.commands, 1))))
            timed(res, trace, tag, reps)
            trace.unlink()
            results.append(res)
            progress.advance()
    return results, baseline


def _per_mapping(kib: int | None, base_kib: int | None, live: int) -> float | None:
    if kib is None or base_kib is None:
        return None
    return (kib - base_kib) * 1024 / live


def kernel_bytes_per_mapping(results: list[Result], baseline: Result) -> dict[int, float]:
    out = {}
    for r in results:
        if r.workload == "population":
            b = _per_mapping(r.kernel_rss_kib, baseline.kernel_rss_kib, r.live)
            if b is not None:
                out[r.live] = b
    return out


def bytes_per_mapping(results: list[Result], baseline: Result) -> dict[int, float]:
    out = {}
    for r in results:
        if r.workload == "population":
            out[r.live] = (r.rss_kib - baseline.rss_kib) * 1024 / r.live
    return out


# ------------------------------------------------------------------ python level


def _python_benchmarks_available() -> bool:
    return all(importlib.util.find_spec(m) is not None
               for m in ("pytest", "pytest_benchmark", "pygpuvm"))


def run_python_benchmarks(quick: bool, progress: Progress,
                          bench_file: Path | None = None) -> dict[str, Any] | None:
    """bench_python.py through pytest-benchmark; returns its JSON (or None).

    ``bench_file``: this package's bench_python.py by default; a checkout runs
    its benchmarks/bench_python.py (whose conftest keeps the checkout's
    uncompiled pygpuvm/ off sys.path)."""
    bench_file = bench_file or HERE / "bench_python.py"
    progress.step("python level: starting pytest-benchmark")
    done = re.compile(r"::(test_\w+)\s+(PASSED|FAILED|SKIPPED|ERROR)")
    with tempfile.TemporaryDirectory() as d:
        js = Path(d) / "bench.json"
        args = [sys.executable, "-m", "pytest", str(bench_file), "--benchmark-only",
                f"--benchmark-json={js}", "-v", "-p", "no:cacheprovider",
                "--rootdir", str(bench_file.parent), "-c", os.devnull]
        env = dict(os.environ)
        if quick:
            env["PYGPUVM_BENCH_QUICK"] = "1"
        tail: list[str] = []
        finished = 0
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=d) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                tail = (tail + [line])[-60:]
                m = done.search(line)
                if m:
                    finished += 1
                    progress.step(f"python level: {finished} done, last {m.group(1)} "
                                  f"{m.group(2).lower()}")
        progress.advance()
        if proc.returncode != 0 or not js.exists():
            sys.stderr.write(f"\npython-level benchmarks failed (exit {proc.returncode}):\n"
                             + "".join(tail) + "\n")
            return None
        data: dict[str, Any] = json.loads(js.read_text())
        return data


# ------------------------------------------------------------------ report


def _status(value: float, limit: float | None) -> str:
    if limit is None:
        return ""
    return "ok" if value <= limit else "MISSED"


def _fmt_ratio(r: Result) -> str:
    rs = r.ratios
    if not rs:
        return "-"
    spread = f" ({min(rs):.2f}-{max(rs):.2f})" if len(rs) > 1 else ""
    return f"{statistics.median(rs):.2f}{spread}"


def time_status(r: Result) -> tuple[float | None, str]:
    """(target ratio, 'ok'/'MISSED'/'') of one result; no target without the kernel."""
    target = TIME_TARGETS.get((r.live, r.workload))
    ratio = r.ratio
    if target is None or ratio is None:
        return target, ""
    return target, _status(ratio, target)


def memory_status(live: int, ours: float, kernel: float | None) -> tuple[float | None, str]:
    if kernel is None or live < MEMORY_MIN_LIVE or kernel <= 0:
        return None, ""
    return ours / kernel, _status(ours / kernel, MEMORY_TARGET)


def replay_table(results: list[Result], bpm: dict[int, float],
                 kbpm: dict[int, float] | None = None) -> list[str]:
    """The --bench tables; kernel columns only when the kernel backend ran."""
    side = any(r.kernel_ns_per_cmd for r in results)
    if side:
        lines = [
            "| live | workload | timed cmds | ops/cmd | ns/cmd | kernel ns/cmd | "
            "ours/kernel (min-max) | target | status | Mcmd/s | Mops/s |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
    else:
        lines = ["| live | workload | timed cmds | ops/cmd | ns/cmd | Mcmd/s | Mops/s |",
                 "|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        ns = r.ns
        head = (f"| {_fmt_live(r.live)} | {r.workload} | {r.commands} | {r.ops_per_cmd:.2f} | "
                f"{ns:.1f} |")
        tail = f" {1e3 / ns:.2f} | {1e3 / ns * r.ops_per_cmd:.2f} |"
        if side:
            target, status = time_status(r)
            k = r.kernel_ns
            head += (f" {f'{k:.1f}' if k else '-'} | {_fmt_ratio(r)} | "
                     f"{f'<= {target:g}x' if target else '-'} | {status} |")
        lines.append(head + tail)
    if side:
        mem = ["| live | peak RSS, bytes/mapping | kernel | ours/kernel | target | status |",
               "|---:|---:|---:|---:|---:|---|"]
    else:
        mem = ["| live | peak RSS, bytes/mapping |", "|---:|---:|"]
    for live, b in bpm.items():
        note = " (below RSS resolution)" if live < MEMORY_MIN_LIVE else ""
        row = f"| {_fmt_live(live)} | {b:.1f}{note} |"
        if side:
            k = (kbpm or {}).get(live)
            ratio, status = memory_status(live, b, k)
            row += (f" {f'{k:.1f}' if k is not None else '-'} | "
                    f"{f'{ratio:.2f}' if ratio is not None else '-'} | "
                    f"{f'<= {MEMORY_TARGET:g}x' if ratio is not None else '-'} | {status} |")
        mem.append(row)
    return lines + [""] + mem


def python_table(data: dict[str, Any], results: list[Result]) -> list[str]:
    """Summarise pytest-benchmark JSON: medians, and the issue's Python targets."""
    benches = data.get("benchmarks", [])
    steady = {r.live: r.ns for r in results if r.workload == "steady"}
    refs = {b["extra_info"]["compare"]: b["stats"]["median"] for b in benches
            if b.get("extra_info", {}).get("reference")}
    lines = ["| benchmark | N live | median per call | per item | target | status |",
             "|---|---:|---:|---:|---|---|"]
    for b in benches:
        med = b["stats"]["median"]
        extra = b.get("extra_info", {})
        items = extra.get("items", 1)
        per = med / items
        target = status = ""
        if extra.get("target_us") is not None:
            target = f"<= {extra['target_us']:g} us"
            status = _status(per * 1e6, extra["target_us"])
        elif extra.get("replay_steady_live") is not None:
            ref = steady.get(extra["replay_steady_live"])
            if ref:
                target = f"<= 2x gpuvm-replay steady ({2 * ref:.0f} ns/cmd)"
                status = _status(per * 1e9, 2 * ref)
        elif extra.get("compare") in refs and not extra.get("reference"):
            speedup = refs[extra["compare"]] / med
            want = extra.get("target_ratio", 20)
            form = f", {extra['form']}" if extra.get("form") else ""
            target = f">= {want}x intervaltree{form} (measured {speedup:.1f}x)"
            status = "ok" if speedup >= want else "MISSED"
        live = extra.get("live")
        lines.append(f"| {b['name']} | {_fmt_live(live) if live else ''} | {_fmt_time(med)} | "
                     f"{_fmt_time(per) if items > 1 else ''} | {target} | {status} |")
    return lines


def _fmt_time(sec: float) -> str:
    if sec >= 1:
        return f"{sec:.2f} s"
    if sec >= 1e-3:
        return f"{sec * 1e3:.2f} ms"
    if sec >= 1e-6:
        return f"{sec * 1e6:.2f} us"
    return f"{sec * 1e9:.0f} ns"


METHOD = """\
## Method

* Traces: `benchmarks/gen_trace.py` (seeded). Population = address-ordered maps
  of 4 KiB..2 MiB (4 KiB aligned) in a 2^48 VA space, one per slot, over four
  bos (two `ext`), low 4 GiB reserved. `steady` = random maps over existing
  mappings that split or replace them, partial unmaps (end cuts and holes),
  and whole-slot unmap + map pairs whenever the live count exceeds N (so it
  stays at N); `query` = `prefetch` walks (half inside one slot window, half
  spanning 1..8 slots). `mark` ends the population, so only the measured
  phase is timed (`population` puts `mark` before the population instead).
  ops/cmd is the exact op count of the timed commands, from the generator's
  model of the address space (tests check it against the replay's output).
* Timing: `gpuvm-replay --bench` (parses a chunk of commands, then executes
  it; only execution after the last `mark` is timed). Each trace is replayed
  several times (more for short ones); the table shows the median.
* Memory: peak RSS (`ru_maxrss` of the replay process alone: forked by
  `/bin/sh`, reaped with `wait4` by a subreaper, so no Python memory image is
  counted) of the population trace minus that of a baseline trace with the
  same `vm`/`bo` lines and map/unmap pairs of one page (same parse chunks and
  ops lists, at most one live mapping), divided by the live mappings. Below
  ~1e4 mappings the difference is within page/arena granularity.
* Build: the `gpuvm-replay` named under Machine; `pip install .` builds it
  with meson-python's defaults (buildtype=release, -O3).
"""

METHOD_KERNEL = """\
* Kernel backend (`--kernel PROGRAM`): `gpuvm-replay-kernel`, the same
  replay driver, parser and allocators built around the kernel's own
  `drm_gpuvm.c` (docs/kernel-backend.md). Before timing, both programs replay
  each trace once in normal mode: the outputs must be identical and hold the
  op count of the generator's model, else the run fails. Then the runs
  alternate (ours, kernel, ours, kernel, ...) so that both see the same machine
  load; ours/kernel is the median of the per-pair ratios (min-max beside it).
  Memory: the same per-mapping computation for each program, ratio of the two.
  Targets: time <= 0.7x the kernel's for population and steady at 1e3, 1e5
  and 1e6 live, <= 0.5x at 1e6 steady; bytes/mapping <= the kernel's (at 1e4
  live and above).
"""

METHOD_NO_KERNEL = """\
* No kernel backend in this run: `--kernel PROGRAM` replays every trace
  through `gpuvm-replay-kernel` too (the kernel's own `drm_gpuvm.c` beside the
  same replay driver; docs/kernel-backend.md) and adds its figures, the
  ratios and the targets.
"""


def summary(results: list[Result], bpm: dict[int, float], py: dict[str, Any] | None,
            load: str, kbpm: dict[int, float] | None = None) -> list[str]:
    met = missed = 0
    statuses = [time_status(r)[1] for r in results]
    statuses += [memory_status(live, b, (kbpm or {}).get(live))[1] for live, b in bpm.items()]
    met, missed = statuses.count("ok"), statuses.count("MISSED")
    if any(r.kernel_ns_per_cmd for r in results):
        text = (f"Replay targets against the kernel backend, measured side by side in this run "
                f"(time <= 0.7x the kernel's, <= 0.5x at 1e6 steady; bytes/mapping <= the "
                f"kernel's): {met} met, {missed} missed.")
    else:
        text = ("No kernel backend in this run (`--kernel PROGRAM` adds it side by side), "
                "so no kernel columns and no targets.")
    if py:
        pst = [line.rsplit("|", 2)[-2].strip() for line in python_table(py, results)[2:]]
        text += (f" Python-level targets: {pst.count('ok')} met, "
                 f"{pst.count('MISSED')} missed (see their table).")
    out = [text]
    if load and float(load.split()[0]) > 0.5 * (os.cpu_count() or 1):
        out += ["", f"The machine was busy during this run (load average {load} before it, "
                f"on {os.cpu_count()} cores): wall-clock figures carry +-20% noise"
                + (" (the ratios less: the two backends alternate)." if kbpm is not None
                   else ".")]
    out += ["", "Where the time goes and what would close the gaps: PROFILE.md."]
    return out


def render(mode: Mode, results: list[Result], baseline: Result, info: dict[str, str],
           command: str, py: dict[str, Any] | None, seconds: float) -> tuple[str, str]:
    """(terminal text, RESULTS.md text)."""
    bpm = bytes_per_mapping(results, baseline)
    side = any(r.kernel_ns_per_cmd for r in results)
    kbpm = kernel_bytes_per_mapping(results, baseline) if side else None
    table = replay_table(results, bpm, kbpm)
    pyt = python_table(py, results) if py else []
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    term = [("gpuvm-replay and gpuvm-replay-kernel --bench, alternating (median ns/command; "
             "ours/kernel: median of the per-pair ratios):") if side
            else "gpuvm-replay --bench (median ns/command):", *table]
    if pyt:
        term += ["", "Python level (pytest-benchmark medians):", *pyt]
    term += ["", "machine: " + "; ".join(f"{k} {v}" for k, v in info.items()
                                         if k not in ("gpuvm-replay", KERNEL_NAME)),
             f"mode {mode.name}, {seconds:.0f} s"]
    md = ["# pygpuvm benchmark results", "",
          f"Produced by `{command}` ({mode.name} mode, {when}, {seconds:.0f} s).", "",
          *summary(results, bpm, py, info.get("load average (1/5/15 min) before the run", ""),
                   kbpm),
          "",
          "## gpuvm-replay --bench" + (" beside gpuvm-replay-kernel" if side else ""), "",
          *table, ""]
    if pyt:
        md += ["## Python level (pytest-benchmark)", "",
               "`python -m pytest benchmarks/bench_python.py --benchmark-only`; "
               "medians, per-item figures divide by the items per call.", "", *pyt, ""]
    md += ["## Machine", ""] + [f"* {k}: {v}" for k, v in info.items()]
    md += ["", METHOD + (METHOD_KERNEL if side else METHOD_NO_KERNEL)]
    return "\n".join(term) + "\n", "\n".join(md)


def _sizes_arg(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(gen_trace._int(s.strip()) for s in text.split(","))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated counts such as 1e3,1e5, not {text!r}") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"every size must be at least 1, not {text!r}")
    return sizes


def _positive_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None, prog: str | None = None,
         default_output: str | None = None, python_bench: Path | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog=prog, description="Run the pygpuvm benchmark suite: gpuvm-replay --bench over "
        "seeded traces (ns per command, memory per mapping) and, when pytest-benchmark is "
        "installed, the Python-level benchmarks.")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="1e3 and 1e5 only, shorter phases (< 1 min)")
    g.add_argument("--tiny", action="store_true", help="a few seconds: 1e3, tiny phases (tests)")
    ap.add_argument("--sizes", type=_sizes_arg,
                    help="comma-separated live-mapping counts (e.g. 1e3,1e5)")
    ap.add_argument("--workloads", default=",".join(WORKLOAD_ORDER),
                    help="comma-separated subset of " + ",".join(WORKLOAD_ORDER))
    ap.add_argument("--repeat", type=_positive_arg,
                    help="replays per trace, at least 1 (median reported)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replay", help="gpuvm-replay binary (default: with --kernel, the one "
                    "built beside the kernel program, else the installed one)")
    ap.add_argument("--kernel", nargs="?", const="", default=None, metavar="PROGRAM",
                    help="also run every replay workload through the kernel backend "
                    "(gpuvm-replay-kernel), alternating with ours, and report ratios and "
                    "targets; without PROGRAM: $GPUVM_REPLAY_KERNEL, then "
                    "gpuvm-replay-kernel on PATH, then the checkout's build/kernel (where "
                    "`pygpuvm kernel build` puts it)")
    ap.add_argument("--python", action=argparse.BooleanOptionalAction, default=None,
                    help="run the Python-level benchmarks (bench_python.py; default: yes when "
                    "pytest-benchmark is installed, except with --tiny; install it with "
                    "pip install 'pygpuvm[bench]')")
    ap.add_argument("--output", "-o", default=default_output,
                    help="results file to write (default: %(default)s); '-' for none")
    ap.add_argument("--workdir", help="directory for the temporary traces (default: $TMPDIR)")
    ap.add_argument("--note", action="append", default=[], metavar="TEXT",
                    help="a line for the Machine section of the results (e.g. how the "
                    "replay was built); repeatable")
    args = ap.parse_args(argv)

    mode = MODES["quick" if args.quick else "tiny" if args.tiny else "full"]
    if args.sizes:
        sizes = args.sizes
        base = MODES["full"]
        mode = Mode(mode.name + "+sizes", sizes,
                    {n: mode.steady.get(n, base.steady.get(n, max(n, 100_000))) for n in sizes},
                    {n: mode.query.get(n, base.query.get(n, max(n // 5, 20_000))) for n in sizes},
                    mode.repeat, mode.min_timed, mode.baseline_pairs)
    if args.repeat:
        mode = dataclasses.replace(mode, repeat=args.repeat)
    py_note = ""
    if args.python and not _python_benchmarks_available():
        ap.error("--python needs pytest and pytest-benchmark: pip install 'pygpuvm[bench]'")
    if args.python is None:
        args.python = not args.tiny and _python_benchmarks_available()
        if not args.tiny and not args.python:
            py_note = ("note: Python-level benchmarks skipped (they need pytest and "
                       "pytest-benchmark: pip install 'pygpuvm[bench]')\n")
    workloads = tuple(w for w in args.workloads.split(",") if w)
    bad = [w for w in workloads if w not in WORKLOAD_ORDER]
    if bad:
        ap.error(f"unknown workload(s): {', '.join(bad)}")

    kernel = None
    try:
        if args.kernel is not None:
            kernel = find_kernel(args.kernel or None)
        beside = (replay_beside(kernel) if kernel is not None and not args.replay
                  and not os.environ.get("GPUVM_REPLAY") else None)
        replay = beside or find_replay(args.replay)
    except ReplayError as e:
        print(f"{ap.prog}: {e}", file=sys.stderr)
        return 2
    if kernel is not None:
        print(f"side by side: {replay}{' (built beside the kernel program)' if beside else ''}"
              f" and {kernel}", file=sys.stderr)
    command = " ".join([prog or "python benchmarks/run.py",
                        shlex.join(sys.argv[1:] if argv is None else argv)]).strip()
    load_before = _loadavg()
    if load_before and float(load_before.split()[0]) > 0.5 * (os.cpu_count() or 1):
        print(f"note: the machine is busy (load average {load_before}); timings will be noisy",
              file=sys.stderr)
    progress = Progress(sys.stderr, 1 + len(mode.sizes) * len(workloads) + int(args.python))
    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="pygpuvm-bench-", dir=args.workdir) as d:
            results, baseline = run_suite(mode, replay, args.seed, Path(d), progress, workloads,
                                          kernel)
        py = (run_python_benchmarks(args.quick or args.tiny, progress, python_bench)
              if args.python else None)
    except ReplayError as e:
        progress.finish()
        print(f"{ap.prog}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        progress.finish()
        return 130
    progress.finish()
    info = {}
    if load_before:
        info["load average (1/5/15 min) before the run"] = load_before
    info.update(machine_info(replay, kernel))
    for i, note in enumerate(args.note, 1):
        info[f"note {i}" if len(args.note) > 1 else "note"] = note
    term, md = render(mode, results, baseline, info, command, py, time.monotonic() - t0)
    sys.stdout.write(term)
    sys.stderr.write(py_note)
    if args.output and args.output != "-":
        Path(args.output).write_text(md, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0 if (py is not None or not args.python) else 1


if __name__ == "__main__":
    sys.exit(main())
