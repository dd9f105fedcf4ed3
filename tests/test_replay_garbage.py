"""The replay tools under garbage input (docs/trace-format.md, malformed traces).

``gpuvm-replay``, ``pygpuvm replay`` and ``pygpuvm show`` are fed random
bytes, NUL bytes, invalid UTF-8, very long lines and numbers and inputs of a
million lines. Each must exit with status 2 and one message on stderr naming
the offending line (or 0 when the garbage happens to be a valid trace), and
never crash, hang or grow without bound:

* every child runs with a timeout (a hang fails the test, it does not stall it);
* its peak resident set is compared with the same tool's peak on a tiny
  trace: garbage may cost memory in proportion to the input (a long line is
  held whole), never more. The peak comes from a small launcher process
  (``_LAUNCHER``) that forks and execs the tool and reads ``ru_maxrss`` from
  ``os.wait4``: Linux keeps the high-water mark of the address space a program
  was exec'ed from in the child's ``ru_maxrss``, and subprocess spawns with
  vfork, so a tool started straight from pytest would report pytest's own peak
  (hundreds of MiB under ASan, growing as the session runs). ``RLIMIT_AS`` is
  not used: sanitizer builds (CI step 4) reserve terabytes of address space
  (and ASan's quarantine is turned off in these children, see ``_CHILD_ENV``);
* children run in a fresh empty directory (a shared /tmp can hold files that
  shadow the standard library, and the checkout's pygpuvm/ has no extension).

The C program and the Python replay print the same messages word for word, so
wherever both run, their stdout and stderr (program name aside) must agree.

gpuvm-replay is looked up as in tests/test_replay.py ($GPUVM_REPLAY first: a
stale global one may be on PATH). Inputs of 10^6 lines go through the Python
tools only with ``--run-slow`` (a few seconds each); the C program always gets
them.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _find_gpuvm_replay() -> str | None:
    # As tests/test_replay.py: $GPUVM_REPLAY, PATH, an editable install's build dir.
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

TIMEOUT = 120.0
MiB = 1 << 20

TOOLS = ["c", "replay", "show"]
PROG = {"c": b"gpuvm-replay", "replay": b"pygpuvm replay", "show": b"pygpuvm show"}
MSG = re.compile(rb"^(gpuvm-replay|pygpuvm replay|pygpuvm show): line (\d+): ([^\n]*)\n\Z")

VALID_HEAD = b"vm 0x0 0x100000000\nbo A\nbo X ext\nmap 0x1000 0x2000 A 0x0\n"


class Result:
    def __init__(self, status: int, out: bytes, err: bytes, maxrss_kib: int) -> None:
        self.status, self.out, self.err, self.maxrss_kib = status, out, err, maxrss_kib

    def line(self) -> int:
        m = MSG.match(self.err)
        assert m, f"status {self.status}, stderr is not one 'line N: ...' message: {self.err[:300]!r}"
        return int(m.group(2))


def _argv(tool: str) -> list[str]:
    if tool == "c":
        if GPUVM_REPLAY is None:
            pytest.skip("gpuvm-replay not found (set GPUVM_REPLAY, or pip install .)")
        return [GPUVM_REPLAY]
    return [sys.executable, "-m", "pygpuvm", tool]


# argv: REPORT TIMEOUT PROGRAM ARGS...; forks and execs PROGRAM (stdin, stdout
# and stderr inherited), kills it after TIMEOUT seconds, and writes
# "<wait status> <ru_maxrss KiB>" or "hung" to REPORT. The tool's peak then
# includes only this small interpreter's, the same for every run.
_LAUNCHER = """
import os, sys, time
report, timeout, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
deadline = time.monotonic() + timeout
while True:
    got, status, ru = os.wait4(pid, os.WNOHANG)
    if got:
        break
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        os.wait4(pid, 0)
        status = None
        break
    time.sleep(0.005)
with open(report, "w") as f:
    f.write("hung" if status is None else f"{status} {ru.ru_maxrss}")
"""


# Under AddressSanitizer (CI step 4 preloads it into every child) freed blocks
# wait in a quarantine of up to 256 MiB before reuse, so every temporary copy of
# a long line would stay resident: turn the quarantine off in the children whose
# memory is measured (use-after-free checks stay on everywhere else).
_CHILD_ENV = {**os.environ, "ASAN_OPTIONS": ":".join(
    filter(None, [os.environ.get("ASAN_OPTIONS", ""),
                  "quarantine_size_mb=0", "thread_local_quarantine_size_kb=0"]))}


def run_process(tool: str, data: bytes, workdir: Path) -> Result:
    """Run @tool on @data (given as a file) in an empty directory; kill it after TIMEOUT."""
    global _runs
    _runs += 1
    cwd = workdir / f"run{_runs}"
    cwd.mkdir()
    path = workdir / "in.trace"
    path.write_bytes(data)
    report = workdir / "report"
    report.unlink(missing_ok=True)
    argv = _argv(tool)
    argv[0] = shutil.which(argv[0]) or argv[0]  # execv does not search PATH
    with open(path, "rb") as fin, open(workdir / "out", "wb+") as fout, \
            open(workdir / "err", "wb+") as ferr:
        subprocess.run([sys.executable, "-I", "-c", _LAUNCHER, str(report), str(TIMEOUT),
                        *argv, str(path)], stdin=fin, stdout=fout, stderr=ferr, cwd=cwd,
                       check=True, timeout=TIMEOUT + 60, env=_CHILD_ENV)
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    words = report.read_text().split()
    if words == ["hung"]:
        pytest.fail(f"{tool} hung on {len(data)} bytes of input (killed after {TIMEOUT}s)")
    wstatus, maxrss_kib = int(words[0]), int(words[1])
    if os.WIFSIGNALED(wstatus):
        sig = os.WTERMSIG(wstatus)
        pytest.fail(f"{tool} died of {signal.Signals(sig).name}: {err[-2000:]!r}")
    return Result(os.WEXITSTATUS(wstatus), out, err, maxrss_kib)


_runs = 0


def run_in_process(tool: str, data: bytes, workdir: Path) -> Result:
    """`pygpuvm replay|show FILE` through pygpuvm.cli.main() in this process (no
    interpreter start-up; a crash takes pytest down, which fails the run too)."""
    from pygpuvm.cli import main

    path = workdir / "in.trace"
    path.write_bytes(data)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape")
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        status = main([tool, str(path)])
    finally:
        sys.stdout, sys.stderr = saved
    out.flush()
    err.flush()
    return Result(status, out.buffer.getvalue(), err.buffer.getvalue(), 0)  # type: ignore[attr-defined]


# Python tools run as processes for inputs at least this big (memory is
# measured there) or when asked; smaller ones in process, which is ~100x faster.
PROCESS_SIZE = 64 * 1024


def run(tool: str, data: bytes, workdir: Path, process: bool = False) -> Result:
    if tool == "c" or process or len(data) >= PROCESS_SIZE:
        return run_process(tool, data, workdir)
    return run_in_process(tool, data, workdir)


_BASELINE: dict[str, int] = {}


def baseline_kib(tool: str, workdir: Path) -> int:
    if tool not in _BASELINE:
        r = run(tool, VALID_HEAD + b"dump\n", workdir, process=True)
        assert r.status == 0, r.err
        _BASELINE[tool] = r.maxrss_kib
    return _BASELINE[tool]


def check_memory(tool: str, r: Result, size: int, workdir: Path) -> None:
    # A line is held whole (and Python splits it into a second copy): a few
    # times the input, plus slack for the allocator and the interpreter.
    if not r.maxrss_kib:
        return  # run in process: nothing to measure
    limit = baseline_kib(tool, workdir) + (4 * size + 64 * MiB) // 1024
    assert r.maxrss_kib <= limit, f"{tool}: peak RSS {r.maxrss_kib} KiB > {limit} KiB"


def check_malformed(tool: str, data: bytes, workdir: Path, line: int | None = None,
                    process: bool = False) -> Result:
    """@data must be refused with status 2 and one message naming a line that exists."""
    r = run(tool, data, workdir, process)
    assert r.status == 2, (r.status, r.err[:300])
    n = r.line()
    nlines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    # A trace without 'vm' is blamed on the line after the last one.
    assert 1 <= n <= nlines + 1, (n, nlines)
    if line is not None:
        assert n == line, r.err[:300]
    assert r.err.startswith(PROG[tool] + b": "), r.err[:100]
    check_memory(tool, r, len(data), workdir)
    return r


def same_as_c(results: dict[str, Result]) -> None:
    """The C program and the Python replay agree byte for byte (program name aside)."""
    c, py = results.get("c"), results.get("replay")
    if c is None or py is None:
        return
    assert (c.status, c.out) == (py.status, py.out)
    assert c.err.replace(PROG["c"], b"", 1) == py.err.replace(PROG["replay"], b"", 1)


def tools_for(workdir: Path, data: bytes, line: int | None = None,
              process: bool = False) -> dict[str, Result]:
    """All three tools refuse @data alike (Python ones as processes if @process)."""
    results = {t: check_malformed(t, data, workdir, line, process) for t in TOOLS}
    same_as_c(results)
    return results


# ---------------------------------------------------------------- the inputs

@pytest.mark.parametrize("seed", range(4))
def test_random_bytes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    data = bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 100, 5000, 20000])))
    tools_for(tmp_path, data, process=seed == 0)


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes_after_valid_lines(tmp_path: Path, seed: int) -> None:
    # The garbage comes after a valid prefix, so the tools get past the header.
    rng = random.Random(100 + seed)
    tail = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 3000)))
    data = VALID_HEAD + b"dump\n" + tail
    results = tools_for(tmp_path, data, process=seed == 0)
    # The valid prefix was executed: its output is there before the error.
    assert b"va 0x1000 0x2000 A 0x0" in results["c"].out


def test_random_words(tmp_path: Path) -> None:
    # Random lines made of trace words, numbers and junk: mostly valid commands
    # with wrong arities, unknown bos and out-of-range numbers; each must either
    # run (status 0) or be refused on a line, identically by C and Python.
    rng = random.Random(7)
    words = [b"vm", b"bo", b"map", b"unmap", b"bo_unmap", b"prefetch", b"dump", b"mark",
             b"A", b"X", b"ext", b"-", b"0", b"0x1000", b"0x0", b"18446744073709551615",
             b"18446744073709551616", b"0xffffffffffffffff", b"0x10000000000000000",
             b"0x", b"-1", b"1e3", b"\xff\xfe", b"\xc3\x28", b"#", b"\t", b"\r"]
    for i in range(12):
        lines = [VALID_HEAD] if i % 2 else []
        for _ in range(rng.randrange(1, 40)):
            lines.append(b" ".join(rng.choice(words) for _ in range(rng.randrange(0, 7))) + b"\n")
        data = b"".join(lines)
        results: dict[str, Result] = {}
        for t in ("c", "replay"):
            r = run(t, data, tmp_path)
            assert r.status in (0, 2), (t, r.status, r.err[:300])
            if r.status == 2:
                r.line()
            results[t] = r
        same_as_c(results)


def test_nul_bytes(tmp_path: Path) -> None:
    tools_for(tmp_path, b"\0", line=1, process=True)
    tools_for(tmp_path, b"\0" * MiB, line=1)
    tools_for(tmp_path, VALID_HEAD + b"map 0x9000 0x1000 A 0x0\0\n", line=5)
    tools_for(tmp_path, VALID_HEAD + b"\0\ndump\n", line=5)
    # A NUL inside a comment still counts: the line would be cut short in C.
    tools_for(tmp_path, VALID_HEAD + b"dump # \0\n", line=5)
    # NULs on many lines: the first one is reported.
    tools_for(tmp_path, VALID_HEAD + b"\n" * 100 + b"bo \0B\n" + b"\0\n" * 100, line=105)


def test_invalid_utf8(tmp_path: Path) -> None:
    for i, junk in enumerate((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80" * 100)):
        tools_for(tmp_path, VALID_HEAD + junk + b" 0x0 0x1000\n", line=5,    # as the command
                  process=i == 0)
        tools_for(tmp_path, VALID_HEAD + b"map 0x9000 0x1000 " + junk + b" 0x0\n", line=5)
        tools_for(tmp_path, VALID_HEAD + b"unmap 0x" + junk + b" 0x1000\n", line=5)
    # As a bo name it is valid: names are bytes, printed as written.
    data = VALID_HEAD + b"bo \xff\xfe\nmap 0x8000 0x1000 \xff\xfe 0x0\ndump\n"
    results = {t: run(t, data, tmp_path, process=True) for t in TOOLS}
    for t, r in results.items():
        assert r.status == 0, (t, r.err)
    assert b"va 0x8000 0x1000 \xff\xfe 0x0" in results["c"].out
    same_as_c(results)


def test_line_endings_and_empty_inputs(tmp_path: Path) -> None:
    tools_for(tmp_path, b"", line=1, process=True)
    tools_for(tmp_path, b"\n\n\n", line=4)
    tools_for(tmp_path, b"   \t\r\n# only comments\n", line=3)
    tools_for(tmp_path, b"\r" * 10000, line=2)       # one line of whitespace, no vm
    tools_for(tmp_path, VALID_HEAD + b"bogus", line=5)   # no final newline
    # CR is whitespace: CRLF traces run.
    data = VALID_HEAD.replace(b"\n", b"\r\n") + b"dump\r\n"
    results = {t: run(t, data, tmp_path) for t in TOOLS}
    assert all(r.status == 0 for r in results.values()), {t: r.err for t, r in results.items()}
    same_as_c(results)


@pytest.mark.parametrize("size", [16 * 1024, 4 * MiB])
def test_long_lines(tmp_path: Path, size: int) -> None:
    tools_for(tmp_path, b"a" * size + b"\n", line=1)
    tools_for(tmp_path, VALID_HEAD + b"map " + b"0x1000 " * (size // 7) + b"\n", line=5)
    tools_for(tmp_path, VALID_HEAD + b"dump " + b" " * size + b"x\n", line=5)
    # A long bo name is valid, and an unknown long one is refused.
    name = b"B" * size
    tools_for(tmp_path, VALID_HEAD + b"map 0x9000 0x1000 " + name + b" 0x0\n", line=5)
    data = VALID_HEAD + b"bo " + name + b"\nmap 0x9000 0x1000 " + name + b" 0x0\n"
    for t in TOOLS:
        r = run(t, data, tmp_path)
        assert r.status == 0, (t, r.err[:300])
        check_memory(t, r, len(data), tmp_path)


@pytest.mark.parametrize("digits", [21, 4301, 2 * MiB])
def test_long_numbers(tmp_path: Path, digits: int) -> None:
    dec = b"9" * digits
    tools_for(tmp_path, VALID_HEAD + b"unmap " + dec + b" 0x1000\n", line=5, process=True)
    tools_for(tmp_path, VALID_HEAD + b"unmap 0x" + b"f" * digits + b" 0x1000\n", line=5)
    tools_for(tmp_path, b"vm 0 " + dec + b"\n", line=1)
    # Leading zeros do not make a number big: these are valid.
    data = (VALID_HEAD + b"unmap 0x" + b"0" * digits + b"1000 " + b"0" * digits + b"4096\n"
            + b"dump\n")
    results = {t: run(t, data, tmp_path) for t in TOOLS}
    for t, r in results.items():
        assert r.status == 0, (t, r.err[:300])
        check_memory(t, r, len(data), tmp_path)
    same_as_c(results)


def _million_lines(n: int, last: bytes) -> bytes:
    body = b"mark\n# a comment\n\n   \t\n" * ((n - 5) // 4)
    data = VALID_HEAD + body
    data += b"mark\n" * (n - 1 - data.count(b"\n"))
    return data + last


@pytest.mark.parametrize("tool", TOOLS)
def test_many_lines(tmp_path: Path, tool: str, request: pytest.FixtureRequest) -> None:
    slow = request.config.getoption("--run-slow")
    n = 10**6 if tool == "c" or slow else 10**5
    data = _million_lines(n, b"bogus\n")
    assert data.count(b"\n") == n
    check_malformed(tool, data, tmp_path, line=n)
    data = _million_lines(n, b"map 0x1000 0x1000 B 0x0\n")
    check_malformed(tool, data, tmp_path, line=n)


def test_many_lines_of_garbage(tmp_path: Path) -> None:
    # 10^6 short lines after a vm: the first bad one is reported, and the tool
    # stops there (a bounded time however long the rest of the input is).
    data = VALID_HEAD + b"dump\nmark\n" + b"\xff\0junk\n" * 10**6
    tools_for(tmp_path, data, line=7)


@pytest.mark.slow
def test_huge_line(tmp_path: Path) -> None:
    data = VALID_HEAD + b"x" * (64 * MiB) + b"\n"
    tools_for(tmp_path, data, line=5)


@pytest.mark.slow
def test_many_maps(tmp_path: Path) -> None:
    # 10^6 valid maps then garbage: the tools run them all, then refuse the last
    # line. Memory here grows with the VM's 10^6 live VAs, not only the input:
    # allow 1 KiB per VA.
    n = 10**6
    lines = [VALID_HEAD] + [b"map 0x%x 0x1000 A 0x0\n" % (0x10000 + i * 0x1000)
                            for i in range(n - 5)]
    data = b"".join(lines) + b"\xff\n"
    results = {}
    for t in TOOLS:
        r = results[t] = run(t, data, tmp_path)
        assert r.status == 2 and r.line() == n, (t, r.status, r.err[:300])
        limit = baseline_kib(t, tmp_path) + (4 * len(data) + 64 * MiB) // 1024 + n
        assert r.maxrss_kib <= limit, f"{t}: peak RSS {r.maxrss_kib} KiB > {limit} KiB"
    same_as_c(results)
