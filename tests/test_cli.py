"""The ``pygpuvm`` command: demo, show, replay from stdin, help, errors."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TRACES = Path(__file__).resolve().parent / "traces"


def pygpuvm(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    # cwd: not the repository root, whose pygpuvm/ lacks the compiled extension.
    return subprocess.run([sys.executable, "-m", "pygpuvm", *args], input=stdin,
                          capture_output=True, timeout=120, check=False, cwd=TRACES)


def test_demo_runs():
    from pygpuvm.cli import DEMO_TRACE

    res = pygpuvm()
    assert (res.returncode, res.stderr) == (0, b"")
    out = res.stdout
    assert out.startswith(b"pygpuvm demo")
    assert DEMO_TRACE in out
    # The replay part is exactly the canonical replay of the demo trace.
    from pygpuvm.replay import replay

    expect = io.BytesIO()
    assert replay(DEMO_TRACE.splitlines(keepends=True), expect, io.BytesIO()) == 0
    assert expect.getvalue() in out
    assert b"remap unmap=0x10000,0x40000,color,0x0,keep=0" in out
    # ... followed by the drawing.
    assert b"VM [0x0, 0x100000): 5 mappings, reserved [0x0, 0x10000)" in out
    assert b"vm_bos (mappings in link order):" in out
    assert res.stdout == pygpuvm("demo").stdout


def _rows(text: str) -> list[list[str]]:
    """The table rows of a drawing: start, end, size, bo, [offset], bar."""
    rows = []
    for line in text.splitlines():
        if re.match(r"^0x[0-9a-f]+\s", line):
            rows.append(line.split())
    return rows


def test_show_draws_the_final_state():
    res = pygpuvm("show", "--width", "24", str(TRACES / "sm12_centered_keep.trace"))
    assert (res.returncode, res.stderr) == (0, b"")
    text = res.stdout.decode()
    assert text.startswith("VM [0x0, 0x100000): 3 mappings\n")
    rows = _rows(text)
    assert [r[:5] for r in rows] == [
        ["0x10000", "0x11000", "0x1000", "a", "0x40000"],
        ["0x11000", "0x12000", "0x1000", "a", "0x41000"],
        ["0x12000", "0x13000", "0x1000", "a", "0x42000"],
    ]
    for r in rows:
        bar = r[-1]
        assert len(bar) == 24 + 2 and bar[0] == bar[-1] == "|"
        assert set(bar[1:-1]) <= {".", "a"} and "a" in bar
    # vm_bo summary in link order: prev, next, then the new middle piece.
    assert re.search(r"^  a  \(a\)  private  3 mappings: 0x10000\+0x1000@0x40000, "
                     r"0x12000\+0x1000@0x42000, 0x11000\+0x1000@0x41000$", text, re.M)


def test_show_marks_the_reserved_node_and_zero_sized_vas():
    res = pygpuvm("show", "--width", "32", str(TRACES / "reserved.trace"))
    assert res.returncode == 0
    text = res.stdout.decode()
    assert "reserved [0x4000, 0x6000)" in text
    rows = _rows(text)
    kernel = [r for r in rows if r[3] == "kernel"]
    assert len(kernel) == 1 and kernel[0][:3] == ["0x4000", "0x6000", "0x2000"]
    assert "*" in kernel[0][-1]
    zero = [r for r in rows if r[2] == "0x0"]
    assert len(zero) == 1 and zero[0][-1].count("|") == 3  # the bar's two ends + the mark


def test_show_from_stdin_and_overflowing_window():
    trace = (TRACES / "vm_overflow.trace").read_bytes()
    res = pygpuvm("show", "-", stdin=trace)
    assert res.returncode == 0
    assert b"(end wraps past 2^64)" in res.stdout
    assert b"(not in the tree: its end overflows)" in res.stdout
    assert b"vm_bos: none" in res.stdout


@pytest.mark.parametrize("trace", sorted(TRACES.glob("*.trace")), ids=lambda p: p.stem)
def test_show_every_golden_trace(trace: Path):
    """The drawing lists exactly the VAs the trace's last dump lists."""
    from pygpuvm.cli import _show

    out = io.StringIO()
    assert _show(trace.open("rb"), 40, "pygpuvm show", out) == 0
    golden = trace.with_suffix(".out").read_bytes().decode()
    last_dump = golden.rsplit("> dump\n", 1)
    rows = [r for r in _rows(out.getvalue()) if r[3] != "kernel"]
    if len(last_dump) == 2 and "\n> " not in last_dump[1]:
        vas = [ln.split()[1:] for ln in last_dump[1].splitlines() if ln.startswith("va ")]
        assert [[r[0], r[2], r[3], r[4]] for r in rows] == vas


def test_show_malformed_trace():
    res = pygpuvm("show", str(TRACES / "bad" / "unknown_command.trace"))
    assert res.returncode == 2
    assert res.stdout == b""
    assert res.stderr == b"pygpuvm show: line 7: unknown command 'mapp'\n"


def test_replay_from_stdin():
    trace = TRACES / "example2.trace"
    res = pygpuvm("replay", "-", stdin=trace.read_bytes())
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == trace.with_suffix(".out").read_bytes()


def test_replay_file():
    trace = TRACES / "example3.trace"
    res = pygpuvm("replay", str(trace))
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == trace.with_suffix(".out").read_bytes()


def test_replay_errors():
    res = pygpuvm("replay", "-", stdin=b"bo A\n")
    assert res.returncode == 2
    assert res.stderr == b"pygpuvm replay: line 1: 'vm' missing: the first command must be 'vm'\n"
    res = pygpuvm("replay", "/nonexistent.trace")
    assert res.returncode == 2 and b"/nonexistent.trace" in res.stderr
    res = pygpuvm("replay", "a.trace", "b.trace")
    assert res.returncode == 2 and b"usage:" in res.stderr


def test_replay_without_file_reads_stdin():
    trace = TRACES / "example1.trace"
    res = pygpuvm("replay", stdin=trace.read_bytes())
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == trace.with_suffix(".out").read_bytes()


def test_help_lists_the_commands():
    res = pygpuvm("--help")
    assert res.returncode == 0
    for cmd in (b"demo", b"replay", b"show", b"bench"):
        assert re.search(rb"^\s+" + cmd + rb"\s", res.stdout, re.M), cmd
    assert b"map <addr> <range> <bo|-> <offset>" in res.stdout
    for cmd in ("replay", "show"):
        sub = pygpuvm(cmd, "--help")
        assert sub.returncode == 0 and b"FILE|-" in sub.stdout


def test_unknown_command():
    res = pygpuvm("frobnicate")
    assert res.returncode == 2
    assert b"invalid choice" in res.stderr


def test_bench_is_a_command():
    res = pygpuvm("bench", "--help")
    # A stub (exit 2, "not implemented yet") until the benchmarks land; then help.
    assert res.returncode in (0, 2)
    assert res.stdout or res.stderr


def test_console_script():
    exe = shutil.which("pygpuvm")
    if exe is None:
        pytest.skip("the pygpuvm console script is not on PATH (not pip-installed)")
    res = subprocess.run([exe, "replay", str(TRACES / "example1.trace")],
                         capture_output=True, timeout=120, check=False, cwd=TRACES)
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == (TRACES / "example1.out").read_bytes()


def test_broken_pipe_is_quiet(tmp_path: Path):
    # `pygpuvm replay big.trace | head -1`: no traceback. The trace is a file,
    # so nothing blocks on a full stdin pipe while stdout is not read.
    path = tmp_path / "big.trace"
    path.write_bytes(b"vm 0 0x100000000\nbo A\n" + b"".join(
        b"map 0x%x 0x1000 A 0\n" % (i * 0x1000) for i in range(20000)))
    proc = subprocess.Popen([sys.executable, "-m", "pygpuvm", "replay", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=TRACES)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == b"> map 0x0 0x1000 A 0x0\n"
        proc.stdout.close()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"Traceback" not in err
    assert proc.returncode == 1
