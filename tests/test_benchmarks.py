"""The benchmarks, run once as tests: correctness only, no timing assertions.

* the generator (pygpuvm._bench.gen_trace) is deterministic for a seed,
  streams its output, and its traces are valid: gpuvm-replay and
  ``pygpuvm replay`` run them without error, agree byte for byte, and print
  exactly the ops the generator's model predicts;
* ``gpuvm-replay --bench`` times exactly the commands after the mark;
* the runner (pygpuvm._bench.run) and ``pygpuvm bench --tiny`` produce the
  table from the installed package alone (outside any checkout), and the
  checkout's benchmarks/ wrappers still work;
* bench_python.py runs once (pytest-benchmark disabled), both the package's
  copy and the checkout's wrapper.
"""

from __future__ import annotations

import io
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from pygpuvm._bench import gen_trace as _gen_trace
from pygpuvm._bench import run as _run

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
PACKAGE_BENCH = Path(_run.__file__).resolve().parent

checkout_only = pytest.mark.skipif(not (BENCH_DIR / "run.py").is_file(),
                                   reason="benchmarks/ is not part of this tree")


@pytest.fixture(scope="module")
def gen():
    return _gen_trace


@pytest.fixture(scope="module")
def run():
    return _run


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


@pytest.mark.parametrize("how", [pytest.param("script", marks=checkout_only), "module"])
def test_generator_cli_pipes(gen, tmp_path, how):
    cmd = ([str(BENCH_DIR / "gen_trace.py")] if how == "script"
           else ["-m", "pygpuvm._bench.gen_trace"])
    out = subprocess.run([sys.executable, *cmd, "-w", "query", "-n", "1e3", "-c", "500",
                          "--stats"], capture_output=True, text=True, check=True, cwd=tmp_path)
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


def test_pygpuvm_bench_tiny_from_the_installed_package(replay, tmp_path):
    # Outside the checkout, with nothing pointing at it: the suite ships in the
    # package, and gpuvm-replay is found next to the interpreter or on PATH.
    env = {k: v for k, v in os.environ.items() if k not in ("PYGPUVM_BENCHMARKS", "GPUVM_REPLAY")}
    env["PATH"] = os.pathsep.join([str(replay.parent), env.get("PATH", "")])
    out = subprocess.run([sys.executable, "-m", "pygpuvm.cli", "bench", "--tiny",
                          "--output", str(tmp_path / "R.md")], capture_output=True, text=True,
                         cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "| 1e3 | steady |" in out.stdout
    assert "Produced by `pygpuvm bench --tiny" in (tmp_path / "R.md").read_text()
    # Without a terminal the progress lines are plain lines on stderr.
    assert "[0/" in out.stderr and "\r" not in out.stderr


def test_progress_rewrites_one_line_on_a_terminal(run):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    progress = run.Progress(stream, 2)
    progress.step("first")
    progress.advance()
    progress.step("second")
    progress.finish()
    text = stream.getvalue()
    assert text.count("\r\x1b[K") == 3 and "\n" not in text
    assert "[0/2" in text and "[1/2" in text and "second" in text


@checkout_only
def test_checkout_run_script_tiny(replay, tmp_path):
    out = subprocess.run([sys.executable, str(BENCH_DIR / "run.py"), "--tiny", "--replay",
                          str(replay), "--output", str(tmp_path / "R.md")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "R.md").read_text()
    assert "| 1e3 | population |" in md and "## Machine" in md


@checkout_only
def test_checkout_run_script_uses_the_checkout_files(monkeypatch):
    # benchmarks/run.py: RESULTS.md and bench_python.py of benchmarks/, the runner
    # of the checkout's pygpuvm/_bench (not the installed one).
    import importlib.util

    spec = importlib.util.spec_from_file_location("_h11_wrapper", BENCH_DIR / "run.py")
    wrapper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wrapper)
    seen = {}
    monkeypatch.setattr(wrapper._mod, "main", lambda argv, **kw: seen.update(kw) or 0)
    assert wrapper.main(["--tiny"]) == 0
    assert seen["python_bench"] == BENCH_DIR / "bench_python.py"
    assert seen["default_output"] == str(BENCH_DIR / "RESULTS.md")
    assert Path(wrapper._mod.__file__).resolve() == BENCH_DIR.parent / "pygpuvm" / "_bench" / "run.py"


@pytest.mark.parametrize("where", [pytest.param("checkout", marks=checkout_only), "package"])
def test_bench_python_runs_once(tmp_path, where):
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("intervaltree")
    directory = BENCH_DIR if where == "checkout" else PACKAGE_BENCH
    out = subprocess.run(
        [sys.executable, "-m", "pytest", str(directory / "bench_python.py"), "-q",
         "--benchmark-disable", "-p", "no:cacheprovider", "--rootdir", str(directory),
         "-c", os.devnull],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYGPUVM_BENCH_TINY": "1"})
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    cases = (PACKAGE_BENCH / "bench_python.py").read_text().count("\ndef test_")
    assert f"{cases} passed" in out.stdout, out.stdout[-2000:]


# ------------------------------------------------------------------ side by side (--kernel)
#
# The port's own gpuvm-replay stands in for the kernel backend here (same
# output format): these tests check the argument handling, the agreement
# check and the table, never the timings. The real kernel program is used
# when one is found (pygpuvm kernel build).


def _fake_program(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_run_tiny_side_by_side_table(run, replay, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    rc = run.main(["--tiny", "--replay", str(replay), "--kernel", str(replay),
                   "--output", str(results)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    md = results.read_text()
    for wl in ("population", "steady", "query"):
        # live | workload | cmds | ops/cmd | ns | kernel ns | ratio | target | status | ...
        row = re.search(rf"^\| 1e3 \| {wl} \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| "
                        rf"([\d.]+) \| ([^|]*) \| ([^|]*) \|", md, re.M)
        assert row, wl
        assert float(row.group(1)) > 0
        if wl == "query":
            assert row.group(2).strip() == "-" and row.group(3).strip() == ""
        else:
            assert row.group(2).strip() == "<= 0.7x"
            assert row.group(3).strip() in ("ok", "MISSED")
        assert f"| 1e3 | {wl} |" in out.out
    assert "| kernel ns/cmd | ours/kernel" in md
    assert "| live | peak RSS, bytes/mapping | kernel | ours/kernel |" in md
    assert re.search(r"measured side by side in this run .*: \d+ met, \d+ missed\.", md)
    assert f"* gpuvm-replay-kernel: {replay}" in md
    assert "side by side:" in out.err


def test_without_kernel_the_table_has_no_kernel_columns(run, replay, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    assert run.main(["--tiny", "--replay", str(replay), "--workloads", "steady",
                     "--output", str(results)]) == 0
    md = results.read_text()
    capsys.readouterr()
    assert "kernel ns" not in md and "ours/kernel" not in md
    assert "No kernel backend in this run" in md
    assert "| live | peak RSS, bytes/mapping |\n" in md
    assert not hasattr(run, "KERNEL_NS")  # no figures typed in from elsewhere


def test_disagreeing_backends_fail_loudly(run, replay, tmp_path, capsys):
    # A "kernel" that prints one unmap op fewer in normal mode (but times fine).
    liar = _fake_program(tmp_path, "liar", f"""\
if [ "$1" = --bench ]; then exec "{replay}" "$@"; fi
"{replay}" "$@" | awk '/^unmap / && !done {{ done = 1; next }} {{ print }}'
""")
    rc = run.main(["--tiny", "--replay", str(replay), "--kernel", str(liar), "--output", "-"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "the backends disagree" in err and "op counts differ" in err


def test_same_counts_different_output_fails(run, replay, tmp_path):
    trace = tmp_path / "t.trace"
    with open(trace, "w") as f:
        stats = _gen_trace.generate(f, "steady", 100, 300, 1)
    run.check_backends_agree(replay, replay, trace, stats.ops + stats.live)
    odd = _fake_program(tmp_path, "odd", f'"{replay}" "$@"; echo "# trailer"\n')
    with pytest.raises(run.ReplayError, match="different output"):
        run.check_backends_agree(replay, odd, trace, stats.ops + stats.live)
    with pytest.raises(run.ReplayError, match="the generator's model says"):
        run.check_backends_agree(replay, replay, trace, stats.ops)
    crash = _fake_program(tmp_path, "crash", "echo boom >&2; exit 3\n")
    with pytest.raises(run.ReplayError, match="exited with 3: boom"):
        run.check_backends_agree(replay, crash, trace, stats.ops + stats.live)


def test_replay_output_counts_across_chunks(run, tmp_path):
    # Lines cross the 1 MiB read boundaries; echoed commands ("> map") are not ops.
    prog = _fake_program(tmp_path, "many", """\
i=0
while [ $i -lt 40000 ]; do
  echo "> map 0x1000 0x1000 A 0x0"; echo "map 0x1000 0x1000 A 0x0 ...................."
  echo "remap 0x1 0x2"; echo "unmap 0x3"; echo "prefetch 0x4"; i=$((i + 1))
done
""")
    out = run.replay_output(prog, tmp_path / "unused")
    assert out.status == 0
    assert out.ops == {"map": 40000, "remap": 40000, "unmap": 40000, "prefetch": 40000}
    assert out.total_ops == 160000


def test_kernel_argument_handling(run, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GPUVM_REPLAY_KERNEL", raising=False)
    monkeypatch.setattr(run, "_kernel_candidates", lambda: [tmp_path / "nothing"])
    # --kernel without a program and none to be found: exit 2 with a hint.
    assert run.main(["--tiny", "--kernel", "--output", "-"]) == 2
    assert "gpuvm-replay-kernel not found" in capsys.readouterr().err
    # A named program that does not exist: exit 2, nothing run.
    assert run.main(["--tiny", "--kernel", str(tmp_path / "nope"), "--output", "-"]) == 2
    assert "not an executable file" in capsys.readouterr().err
    # $GPUVM_REPLAY_KERNEL, then the candidates, in that order.
    prog = _fake_program(tmp_path, "k", "exit 0\n")
    monkeypatch.setenv("GPUVM_REPLAY_KERNEL", str(prog))
    assert run.find_kernel() == prog
    monkeypatch.delenv("GPUVM_REPLAY_KERNEL")
    monkeypatch.setattr(run, "_kernel_candidates", lambda: [tmp_path / "nothing", prog])
    assert run.find_kernel() == prog
    assert run.find_kernel(str(prog)) == prog


def test_replay_beside_the_kernel_program(run, tmp_path):
    # pygpuvm kernel build: BUILD/csrc/kernel/gpuvm-replay-kernel, BUILD/csrc/gpuvm-replay.
    (tmp_path / "csrc" / "kernel").mkdir(parents=True)
    kernel = _fake_program(tmp_path / "csrc" / "kernel", "gpuvm-replay-kernel", "exit 0\n")
    assert run.replay_beside(kernel) is None
    ours = _fake_program(tmp_path / "csrc", "gpuvm-replay", "exit 0\n")
    assert run.replay_beside(kernel) == ours.resolve()
    elsewhere = _fake_program(tmp_path, "gpuvm-replay-kernel", "exit 0\n")
    assert run.replay_beside(elsewhere) is None


def test_real_kernel_backend_tiny(run, tmp_path, capsys):
    try:
        kernel = run.find_kernel()
    except run.ReplayError as e:
        pytest.skip(str(e))
    rc = run.main(["--tiny", "--kernel", str(kernel), "--output", str(tmp_path / "R.md")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "ours/kernel" in (tmp_path / "R.md").read_text()


@checkout_only
def test_overlap_interleaved_script_runs():
    """benchmarks/overlap_interleaved.py (the figures of docs/visualization.md)
    runs and checks its answers against intervaltree's (tiny VM, one round)."""
    pytest.importorskip("intervaltree")
    env = dict(os.environ, PYGPUVM_BENCH_TINY="1", ROUNDS="1")
    out = subprocess.run([sys.executable, str(BENCH_DIR / "overlap_interleaved.py")],
                         capture_output=True, text=True, env=env, timeout=300, check=True).stdout
    for name in ("single, len()", "batched vm.tables, counts", "single, addr column"):
        assert re.search(re.escape(name) + r" .* ratio median [\d.]+x", out), out
