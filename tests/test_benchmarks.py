"""The benchmarks, run once as tests: correctness only, no timing assertions.

* benchmarks/gen_trace.py is deterministic for a seed, streams its output, and
  its traces are valid: gpuvm-replay and ``pygpuvm replay`` run them without
  error, agree byte for byte, and print exactly the ops the generator's model
  predicts;
* ``gpuvm-replay --bench`` times exactly the commands after the mark;
* benchmarks/run.py --tiny and ``pygpuvm bench --tiny`` produce the table;
* benchmarks/bench_python.py runs once (pytest-benchmark disabled).
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"

pytestmark = pytest.mark.skipif(not (BENCH_DIR / "run.py").is_file(),
                                reason="benchmarks/ is not part of this tree")


def _load(name: str):
    modname = f"_pygpuvm_benchmarks_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, BENCH_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def gen():
    return _load("gen_trace")


@pytest.fixture(scope="module")
def run():
    return _load("run")


@pytest.fixture(scope="module")
def replay(run):
    try:
        return run.find_replay()
    except run.ReplayError as e:
        pytest.skip(str(e))


def _trace(gen, workload, live, commands, seed=1):
    buf = io.StringIO()
    stats = gen.generate(buf, workload, live, commands, seed)
    return buf.getvalue(), stats


OP_LINE = re.compile(r"^(map|remap|unmap|prefetch) ", re.M)


# ------------------------------------------------------------------ generator


@pytest.mark.parametrize("workload", ["population", "steady", "query"])
def test_generator_is_deterministic(gen, workload):
    a, sa = _trace(gen, workload, 300, 800, seed=7)
    b, sb = _trace(gen, workload, 300, 800, seed=7)
    c, _ = _trace(gen, workload, 300, 800, seed=8)
    assert a == b
    assert sa == sb
    assert a != c


def test_generator_layout_and_phases(gen):
    text, stats = _trace(gen, "steady", 500, 2000)
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[0].split()[0] == "vm"
    assert [ln.split()[0] for ln in lines[1:5]] == ["bo"] * 4
    assert sum(ln.endswith(" ext") for ln in lines[1:5]) == 2
    mark = lines.index("mark")
    population = lines[5:mark]
    assert len(population) == 500 and len(lines) - mark - 1 == stats.commands == 2000
    # Population: address order, 4 KiB..2 MiB, 4 KiB aligned, inside 2^48.
    addrs = []
    for ln in population:
        op, addr, size, _bo, _off = ln.split()
        addr, size = int(addr, 16), int(size, 16)
        assert op == "map"
        assert addr % 4096 == 0 and size % 4096 == 0 and 4096 <= size <= 2 << 20
        assert addr + size <= 1 << 48
        addrs.append(addr)
    assert addrs == sorted(addrs)
    assert stats.live_at_mark == stats.live_end == 500
    assert stats.peak_live <= 500 + 3
    # ~1.4 ops per command, as the kernel measurement's steady state.
    assert 1.3 <= stats.ops_per_command <= 1.55


def test_population_mark_comes_first(gen):
    text, stats = _trace(gen, "population", 200, None)
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[5] == "mark" and lines.count("mark") == 1
    assert stats.commands == stats.ops == 200 == len(lines) - 6


def test_generator_streams(gen):
    class Sink:
        def __init__(self):
            self.writes = 0
            self.biggest = 0

        def write(self, s):
            self.writes += 1
            self.biggest = max(self.biggest, s.count("\n"))

    sink = Sink()
    stats = gen.generate(sink, "steady", 5000, 30_000, 1)
    assert stats.lines > 30_000
    assert sink.writes >= stats.lines // gen.FLUSH_LINES
    assert sink.biggest <= gen.FLUSH_LINES


def test_generator_cli_pipes(gen, tmp_path):
    out = subprocess.run([sys.executable, str(BENCH_DIR / "gen_trace.py"), "-w", "query",
                          "-n", "1e3", "-c", "500", "--stats"],
                         capture_output=True, text=True, check=True)
    text, stats = _trace(gen, "query", 1000, 500)
    assert out.stdout == text
    assert f'"ops": {stats.ops}' in out.stderr


# ------------------------------------------------------------------ replays


@pytest.mark.parametrize("workload", ["population", "steady", "query"])
def test_traces_replay_and_ops_match_model(gen, replay, workload, tmp_path):
    text, stats = _trace(gen, workload, 400, 1500)
    path = tmp_path / "t.trace"
    path.write_text(text)
    out = subprocess.run([str(replay), str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert "error" not in out.stdout and "warn" not in out.stdout
    ops = len(OP_LINE.findall(out.stdout))
    untimed = 0 if workload == "population" else stats.live
    assert ops - untimed == stats.ops

    bench = subprocess.run([str(replay), "--bench", str(path)], capture_output=True, text=True)
    assert bench.returncode == 0, bench.stderr
    m = re.fullmatch(r"ops (\d+) ns_per_cmd (\d+(?:\.\d+)?)\n", bench.stdout)
    assert m and int(m.group(1)) == stats.commands


def test_trace_via_stdin_and_pygpuvm_replay_agree(gen, replay, tmp_path):
    text, _ = _trace(gen, "steady", 150, 600, seed=3)
    c = subprocess.run([str(replay), "-"], input=text, capture_output=True, text=True)
    assert c.returncode == 0, c.stderr
    path = tmp_path / "t.trace"
    path.write_text(text)
    # cwd: `python -m` puts it first on sys.path; the checkout has no built extension.
    py = subprocess.run([sys.executable, "-m", "pygpuvm.cli", "replay", str(path)],
                        capture_output=True, text=True, cwd=tmp_path)
    assert py.returncode == 0, py.stderr
    assert py.stdout == c.stdout


def test_baseline_trace_is_valid(gen, replay, tmp_path):
    path = tmp_path / "b.trace"
    with open(path, "w") as f:
        stats = gen.generate_baseline(f, 100)
    out = subprocess.run([str(replay), "--bench", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"ops {stats.commands} ")


# ------------------------------------------------------------------ runners


def test_run_tiny_writes_results(run, replay, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    rc = run.main(["--tiny", "--replay", str(replay), "--output", str(results)])
    out = capsys.readouterr().out
    assert rc == 0
    md = results.read_text()
    for wl in ("population", "steady", "query"):
        assert re.search(rf"^\| 1e3 \| {wl} \| \d+ \| [\d.]+ \| [\d.]+ \|", md, re.M), wl
        assert f"| 1e3 | {wl} |" in out
    assert "run.py --tiny" in md
    assert "## Machine" in md and "cpu:" in md
    assert "bytes/mapping" in md


def test_measured_rss_is_the_childs_own(run):
    # A child forked straight from Python would report Python's peak RSS
    # (tens of MiB); the measuring helper must see only the child's own.
    status, out, _, rss_kib = run.measure(["/bin/sh", "-c", "echo hello; exit 3"])
    assert (status, out) == (3, "hello\n")
    # Relative, so an LD_PRELOADed sanitizer runtime (CI's ASan step) is fine too.
    own_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert 0 < rss_kib < own_kib / 2


def test_replay_rss_grows_with_mappings(run, gen, replay, tmp_path):
    sizes = {}
    for n in (1000, 50_000):
        path = tmp_path / f"p{n}.trace"
        with open(path, "w") as f:
            gen.generate(f, "population", n, None, 1)
        sizes[n] = run.run_replay(replay, path)[2]
    # Each mapping costs memory (no assumption on how much: sanitizer builds differ).
    assert sizes[50_000] > sizes[1000]


def test_pygpuvm_bench_tiny(replay, tmp_path):
    # An installed (non-editable) pygpuvm finds the suite through this variable.
    out = subprocess.run([sys.executable, "-m", "pygpuvm.cli", "bench", "--tiny",
                          "--replay", str(replay)], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYGPUVM_BENCHMARKS": str(BENCH_DIR)})
    assert out.returncode == 0, out.stderr
    assert "| 1e3 | steady |" in out.stdout


def test_bench_python_runs_once(tmp_path):
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("intervaltree")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", str(BENCH_DIR / "bench_python.py"), "-q",
         "--benchmark-disable", "-p", "no:cacheprovider", "--rootdir", str(BENCH_DIR)],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYGPUVM_BENCH_TINY": "1"})
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
