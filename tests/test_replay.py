"""Trace replay (docs/trace-format.md): golden traces, C vs Python cross-checks, malformed
traces, benchmark mode.

Two implementations are compared: the C program ``gpuvm-replay`` (ops applied
by ``gpuvm_apply_ops()``) and ``pygpuvm replay`` (pygpuvm/replay.py: its own
parser, printing and op application over the raw bindings). Every golden trace
in tests/traces/ must come out byte for byte through both; a few hundred seeded
random traces must give the same output through both.

gpuvm-replay is looked up as $GPUVM_REPLAY, then on PATH (pip install puts it
there), then in an editable install's build directory.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TRACES = Path(__file__).resolve().parent / "traces"
REPO = TRACES.parent.parent
GOLDEN = sorted(TRACES.glob("*.trace"))
BAD = sorted((TRACES / "bad").glob("*.trace"))
BENCH_LINE = re.compile(rb"^ops (\d+) ns_per_cmd \d+(\.\d+)?\n$")
U64 = 1 << 64


def _find_gpuvm_replay() -> str | None:
    env = os.environ.get("GPUVM_REPLAY")
    if env:
        return env
    exe = shutil.which("gpuvm-replay")
    if exe:
        return exe
    for cand in sorted(REPO.glob("build/cp3*/csrc/gpuvm-replay")):
        if os.access(cand, os.X_OK):
            return str(cand)
    return None


GPUVM_REPLAY = _find_gpuvm_replay()
needs_c = pytest.mark.skipif(GPUVM_REPLAY is None, reason="gpuvm-replay not found "
                             "(set GPUVM_REPLAY, or pip install . to put it on PATH)")


def run_c(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    assert GPUVM_REPLAY is not None
    return subprocess.run([GPUVM_REPLAY, *args], input=stdin, capture_output=True,
                          timeout=120, check=False)


def run_py(args: list[str], stdin: bytes | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess:
    # cwd: anywhere but the repository root, whose pygpuvm/ has no extension.
    return subprocess.run([sys.executable, "-m", "pygpuvm", "replay", *args], input=stdin,
                          capture_output=True, timeout=120, check=False,
                          cwd=cwd or TRACES)


def replay_in_process(trace: bytes) -> tuple[int, bytes, bytes]:
    from pygpuvm.replay import replay

    out, err = io.BytesIO(), io.BytesIO()
    status = replay(trace.splitlines(keepends=True), out, err)
    return status, out.getvalue(), err.getvalue()


def test_golden_traces_present():
    names = {p.stem for p in GOLDEN}
    assert {"example1", "example2", "example3"} <= names
    assert len([n for n in names if n.startswith("sm")]) == 15
    for p in GOLDEN + BAD:
        assert p.with_suffix(".out").is_file(), p
    for p in BAD:
        assert p.with_suffix(".err").is_file(), p


# ---------------------------------------------------------------- golden traces


@needs_c
@pytest.mark.parametrize("trace", GOLDEN, ids=lambda p: p.stem)
def test_golden_c(trace: Path):
    res = run_c([str(trace)])
    assert res.stderr == b""
    assert res.returncode == 0
    assert res.stdout == trace.with_suffix(".out").read_bytes()


@pytest.mark.parametrize("trace", GOLDEN, ids=lambda p: p.stem)
def test_golden_python(trace: Path):
    res = run_py([str(trace)])
    assert res.stderr == b""
    assert res.returncode == 0
    assert res.stdout == trace.with_suffix(".out").read_bytes()


@pytest.mark.parametrize("trace", GOLDEN, ids=lambda p: p.stem)
def test_golden_python_in_process(trace: Path):
    status, out, err = replay_in_process(trace.read_bytes())
    assert (status, err) == (0, b"")
    assert out == trace.with_suffix(".out").read_bytes()


@needs_c
def test_stdin_c():
    trace = TRACES / "example1.trace"
    res = run_c(["-"], stdin=trace.read_bytes())
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == trace.with_suffix(".out").read_bytes()


# ---------------------------------------------------------------- malformed traces


@needs_c
@pytest.mark.parametrize("trace", BAD, ids=lambda p: p.stem)
def test_malformed_c(trace: Path):
    res = run_c([str(trace)])
    assert res.returncode == 2
    assert res.stdout == trace.with_suffix(".out").read_bytes()
    assert res.stderr == b"gpuvm-replay: " + trace.with_suffix(".err").read_bytes()


@pytest.mark.parametrize("trace", BAD, ids=lambda p: p.stem)
def test_malformed_python(trace: Path):
    res = run_py([str(trace)])
    assert res.returncode == 2
    assert res.stdout == trace.with_suffix(".out").read_bytes()
    assert res.stderr == b"pygpuvm replay: " + trace.with_suffix(".err").read_bytes()


MORE_BAD = [
    # (trace, line, message start) for rules without a golden file
    (b"vm 0 0x1000\nbo A\x00B\n", 2, b"NUL byte in line"),
    (b"vm 0 0x1000\nbo_unmap A B\n", 2, b"wrong number of arguments for 'bo_unmap'"),
    (b"vm 0 0x1000\nmark x\n", 2, b"wrong number of arguments for 'mark'"),
    (b"vm 0 0x1000\nbo A ext ext\n", 2, b"wrong number of arguments for 'bo'"),
    (b"vm 0 0x1000 1 2 3\n", 1, b"wrong number of arguments for 'vm'"),
    (b"vm 0 0x1000\nmap 1 2 - 3 4\n", 2, b"wrong number of arguments for 'map'"),
    (b"vm 0 0x1000\nunmap 0x10 +1\n", 2, b"bad number '+1'"),
    (b"vm 0 0x1000\nunmap 0x10 1e3\n", 2, b"bad number '1e3'"),
    (b"vm 0 0x1000\nunmap 0x10 0x-1\n", 2, b"bad number '0x-1'"),
    (b"vm 0 0x1000\nprefetch 0xffffffffffffffff 18446744073709551615\nunmap 0 0x0fffffffffffffffff\n",
     3, b"number out of range '0x0fffffffffffffffff'"),
    (b"# only a comment\nmap 0 0x1000 - 0\n", 2, b"'vm' missing"),
    (b"", 1, b"'vm' missing"),
    (b"vm 0 0x1000\nmap 0 0x1000 a 0\n", 2, b"unknown bo 'a'"),
    (b"vm 0 0x1000\nbo a\nbo_unmap A\n", 3, b"unknown bo 'A'"),
]


@pytest.mark.parametrize("trace,line,msg", MORE_BAD)
def test_malformed_more(trace: bytes, line: int, msg: bytes):
    py = run_py(["-"], stdin=trace)
    assert py.returncode == 2
    assert py.stderr.startswith(b"pygpuvm replay: line %d: %s" % (line, msg)), py.stderr
    assert py.stderr.count(b"\n") == 1
    if GPUVM_REPLAY is not None:
        c = run_c(["-"], stdin=trace)
        assert c.returncode == 2
        assert c.stderr == b"gpuvm-replay" + py.stderr[len(b"pygpuvm replay"):]
        assert c.stdout == py.stdout


def test_errors_leave_earlier_output():
    trace = b"vm 0 0x10000\nbo A\nmap 0 0x1000 A 0\nprefetch 0 0x10000\nmap 1 2 3\ndump\n"
    status, out, err = replay_in_process(trace)
    assert status == 2
    assert out == (b"> map 0x0 0x1000 A 0x0\nmap 0x0 0x1000 A 0x0\n"
                   b"> prefetch 0x0 0x10000\nprefetch 0x0 0x1000 A 0x0\n")
    assert err == (b"pygpuvm replay: line 5: wrong number of arguments for 'map': "
                   b"expected 4, got 3\n")


@needs_c
def test_missing_file():
    res = run_c(["/nonexistent/trace"])
    assert res.returncode == 2 and b"/nonexistent/trace" in res.stderr
    res = run_py(["/nonexistent/trace"])
    assert res.returncode == 2 and b"/nonexistent/trace" in res.stderr


@needs_c
def test_usage_c():
    trace = TRACES / "example1.trace"
    res = run_c([], stdin=trace.read_bytes())          # no FILE: standard input
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == trace.with_suffix(".out").read_bytes()
    assert run_c(["a.trace", "b.trace"]).returncode == 2
    assert run_c(["--frobnicate", "x"]).returncode == 2
    res = run_c(["--help"])
    assert res.returncode == 0 and b"usage: gpuvm-replay" in res.stdout


# ---------------------------------------------------------------- syntax details


def test_syntax_accepted():
    # Tabs, CR, comments glued to words, leading zeros, uppercase hex digits,
    # decimal numbers, the largest u64, names with odd bytes.
    trace = (b"\t vm\t0 0x100000 # window\r\n"
             b"bo n\xc3\xa4me ext\n"
             b"bo x#not part of the name\n"
             b"map 0x0000000000000000001000 4096 n\xc3\xa4me 0xABCdef\r\n"
             b"prefetch 0xffffffffffffffff 18446744073709551615\n"
             b"map 0x3000 0x1000 x 0#\n"
             b"dump\n")
    status, out, err = replay_in_process(trace)
    assert (status, err) == (0, b"")
    assert out == (b"> map 0x1000 0x1000 n\xc3\xa4me 0xabcdef\n"
                   b"map 0x1000 0x1000 n\xc3\xa4me 0xabcdef\n"
                   b"> prefetch 0xffffffffffffffff 0xffffffffffffffff\n"
                   b"> map 0x3000 0x1000 x 0x0\n"
                   b"map 0x3000 0x1000 x 0x0\n"
                   b"> dump\n"
                   b"va 0x1000 0x1000 n\xc3\xa4me 0xabcdef\n"
                   b"va 0x3000 0x1000 x 0x0\n"
                   b"vm_bo n\xc3\xa4me 1 ext\n"
                   b"bova 0x1000 0x1000 0xabcdef\n"
                   b"vm_bo x 1\n"
                   b"bova 0x3000 0x1000 0x0\n"
                   b"end\n")
    if GPUVM_REPLAY is not None:
        c = run_c(["-"], stdin=trace)
        assert (c.returncode, c.stderr, c.stdout) == (0, b"", out)


def test_long_lines_and_many_bos():
    # Lines far longer than any read buffer, and enough bos to grow the name index.
    names = [b"bo%d_" % i + b"x" * (i % 50) for i in range(300)]
    lines = [b"vm 0 0x10000000 # " + b"c" * 100000]
    lines += [b"bo %s%s" % (n, b" ext" if i % 3 == 0 else b"") for i, n in enumerate(names)]
    lines += [b"map 0x%x 0x1000 %s 0x%x" % (0x1000 * i, n, 0x1000 * i)
              for i, n in enumerate(names)]
    lines += [b"bo_unmap %s" % n for n in names[::7]]
    lines.append(b"dump")
    trace = b"\n".join(lines) + b"\n"
    status, out, err = replay_in_process(trace)
    assert (status, err) == (0, b"")
    assert out.count(b"\nvm_bo ") == 300 - len(names[::7])
    assert out.count(b" ext\n") == len([i for i in range(300) if i % 3 == 0 and i % 7])
    if GPUVM_REPLAY is not None:
        c = run_c(["-"], stdin=trace)
        assert (c.returncode, c.stderr) == (0, b"")
        assert c.stdout == out


# ---------------------------------------------------------------- random traces


def random_trace(seed: int) -> bytes:
    """A seeded trace over a small address universe: maps (contiguous offsets
    often, so keep is common), unmaps, prefetches, bo_unmaps and dumps, a few
    bos (some ext), usually a reserved node, sometimes zero-sized requests,
    requests that leave the window or overflow u64, and sometimes a window at
    the very top of the address space."""
    rng = random.Random(seed)
    page = 0x1000
    pages = rng.choice((8, 16, 32))
    top = rng.random() < 0.2
    base = (U64 - (pages + 1) * page) if top else rng.choice((0, 0x100000))
    lines = []
    if rng.random() < 0.75:
        rstart = base + rng.randrange(0, pages) * page
        rsize = rng.randrange(1, 3) * page
        if rng.random() < 0.15:
            rstart = base + pages * page  # just past the window
        lines.append("vm %#x %#x %#x %#x" % (base, pages * page, rstart, rsize))
    else:
        lines.append("vm %d %d" % (base, pages * page))
    bos = [f"b{i}" for i in range(rng.randint(1, 4))]
    bo_base = {}
    for i, b in enumerate(bos):
        lines.append(f"bo {b}" + (" ext" if rng.random() < 0.4 else ""))
        bo_base[b] = rng.randrange(0, 64) * page

    def addr_range() -> tuple[int, int]:
        a = base + rng.randrange(-1, pages + 1) * page
        if rng.random() < 0.1:
            a += rng.choice((page // 2, 1))
        r = rng.randrange(1, max(2, pages // 2)) * page
        roll = rng.random()
        if roll < 0.06:
            r = 0
        elif roll < 0.09:
            r = U64 - a + rng.randrange(0, 3) * page  # reaches or passes 2^64
        a %= U64
        r %= U64
        return a, r

    for _ in range(rng.randint(10, 70)):
        roll = rng.random()
        if roll < 0.5:
            a, r = addr_range()
            if rng.random() < 0.15:
                lines.append(f"map {a:#x} {r:#x} - {rng.randrange(0, 4) * page:#x}")
            else:
                b = rng.choice(bos)
                if rng.random() < 0.6:
                    off = (bo_base[b] + a - base) % U64  # contiguous: keep=1 candidates
                else:
                    off = rng.randrange(0, 64) * page
                lines.append(f"map {a:#x} {r:#x} {b} {off:#x}")
        elif roll < 0.7:
            a, r = addr_range()
            lines.append(f"unmap {a:#x} {r:#x}")
        elif roll < 0.8:
            a, r = addr_range()
            lines.append(f"prefetch {a:#x} {r:#x}")
        elif roll < 0.9:
            lines.append(f"bo_unmap {rng.choice(bos)}")
        else:
            lines.append("dump")
    lines.append("dump")
    return ("\n".join(lines) + "\n").encode()


def test_random_trace_generator_is_deterministic():
    assert random_trace(7) == random_trace(7)
    assert random_trace(7) != random_trace(8)


@needs_c
@pytest.mark.parametrize("chunk", range(6))
def test_random_traces_c_equals_python(chunk: int):
    """300 seeded traces (6 chunks of 50): both implementations, same bytes."""
    interesting = dict.fromkeys(("keep=1", "remap", "error EINVAL", "kernel"), 0)
    for seed in range(chunk * 50, chunk * 50 + 50):
        trace = random_trace(seed)
        status, out, err = replay_in_process(trace)
        assert (status, err) == (0, b""), (seed, err)
        c = run_c(["-"], stdin=trace)
        assert (c.returncode, c.stderr) == (0, b""), (seed, c.stderr)
        if c.stdout != out:
            import difflib

            diff = "\n".join(difflib.unified_diff(c.stdout.decode().splitlines(),
                                                  out.decode().splitlines(), "gpuvm-replay",
                                                  "pygpuvm replay", lineterm="", n=2))
            pytest.fail(f"seed {seed}: outputs differ\n{trace.decode()}\n{diff}")
        for k in interesting:
            interesting[k] += out.count(k.encode())
    # Every chunk exercises the interesting paths.
    assert all(interesting.values()), interesting


def test_random_traces_cover_edge_cases():
    """Over the whole seed range, every kind of edge case appears at least once."""
    checks = {
        "insert failed": re.compile(rb"^warn insert_failed ", re.M),
        "vm overflow WARN": re.compile(rb"^warn GPUVA address limited to 8 bytes\.$", re.M),
        "zero-sized VA": re.compile(rb"^va 0x[0-9a-f]+ 0x0 ", re.M),
        "keep=1 remap": re.compile(rb"^remap .*keep=1", re.M),
        "kernel node prefetched": re.compile(rb" kernel$", re.M),
        "EINVAL": re.compile(rb"^error EINVAL$", re.M),
        "ext vm_bo": re.compile(rb"^vm_bo \S+ \d+ ext$", re.M),
        "bo_unmap ops": re.compile(rb"^> bo_unmap \S+\nunmap ", re.M),
    }
    seen = dict.fromkeys(checks, False)
    for seed in range(300):
        status, out, err = replay_in_process(random_trace(seed))
        assert (status, err) == (0, b"")
        for k, rx in checks.items():
            seen[k] = seen[k] or bool(rx.search(out))
    assert all(seen.values()), seen


# ---------------------------------------------------------------- benchmark mode


def bench_trace(population: int, measured: int, marks: int = 1) -> bytes:
    lines = ["# bench trace", "vm 0x0 0x1000000000 0xfff0000000 0x10000000", "bo A",
             "bo X ext"]
    for i in range(population):
        lines.append(f"map {i * 0x10000:#x} 0x8000 {'AX'[i % 2]} {i * 0x10000:#x}")
    for _ in range(marks):
        lines.append("mark")
    rng = random.Random(population)
    for i in range(measured):
        a = rng.randrange(population or 1) * 0x10000 + rng.randrange(8) * 0x1000
        kind = i % 6
        if kind < 3:
            lines.append(f"map {a:#x} 0x2000 {'AX'[i % 2]} 0x0")
        elif kind == 3:
            lines.append(f"unmap {a:#x} 0x3000")
        elif kind == 4:
            lines.append(f"prefetch {a:#x} 0x20000")
        else:
            lines.append("dump" if i % 12 == 5 else "bo_unmap A")
    return ("\n".join(lines) + "\n").encode()


@needs_c
@pytest.mark.parametrize("population,measured", [(10, 7), (100, 1000), (5000, 3000),
                                                 (0, 0)])
def test_bench_counts_commands_after_last_mark(population: int, measured: int):
    res = run_c(["--bench", "-"], stdin=bench_trace(population, measured, marks=2))
    assert (res.returncode, res.stderr) == (0, b"")
    m = BENCH_LINE.match(res.stdout)
    assert m, res.stdout
    assert int(m.group(1)) == measured


@needs_c
def test_bench_without_mark_times_everything():
    trace = bench_trace(20, 30, marks=0)
    res = run_c(["--bench", "-"], stdin=trace)
    m = BENCH_LINE.match(res.stdout)
    assert m and res.returncode == 0
    commands = [ln for ln in trace.split(b"\n") if ln.strip() and not ln.startswith(b"#")]
    assert int(m.group(1)) == len(commands)


@needs_c
def test_bench_mark_in_a_later_chunk(tmp_path: Path):
    # The mark lies beyond the first chunks of a few thousand commands.
    trace = bench_trace(9000, 1234)
    path = tmp_path / "big.trace"
    path.write_bytes(trace)
    res = run_c(["--bench", str(path)])
    m = BENCH_LINE.match(res.stdout)
    assert m and res.returncode == 0 and res.stderr == b""
    assert int(m.group(1)) == 1234


@needs_c
def test_bench_malformed_prints_no_timing():
    trace = bench_trace(10, 10) + b"mapp 0 0 - 0\n"
    res = run_c(["--bench", "-"], stdin=trace)
    assert res.returncode == 2
    assert res.stdout == b""
    line = trace.count(b"\n")
    assert res.stderr == b"gpuvm-replay: line %d: unknown command 'mapp'\n" % line
