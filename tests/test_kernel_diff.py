"""The differential-testing tools: trace generator, shrinker, ``pygpuvm diff``,
the Debian source fetcher's apt-configuration parsing, and (when built) the
kernel backend against our port.

The kernel backend, ``gpuvm-replay-kernel``, is found through the environment
variable GPUVM_REPLAY_KERNEL or on PATH; without it the kernel test is skipped
(docs/kernel-backend.md says how to build it).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from pygpuvm import diff, kernel_source, tracegen

TRACES = Path(__file__).parent / "traces"


def _ours() -> str:
    prog = os.environ.get("GPUVM_REPLAY") or diff.find_program("gpuvm-replay")
    if prog is None:
        pytest.skip("gpuvm-replay is not installed")
    return prog


def _kernel() -> str:
    prog = os.environ.get("GPUVM_REPLAY_KERNEL") or diff.find_program("gpuvm-replay-kernel")
    if not prog:
        pytest.skip("no kernel backend: build gpuvm-replay-kernel (meson -Dkernel_tree=PATH, "
                    "see docs/kernel-backend.md) and put it on PATH or in "
                    "GPUVM_REPLAY_KERNEL")
    return prog


def test_generate_is_deterministic_and_well_formed() -> None:
    assert tracegen.generate(7) == tracegen.generate(7)
    assert tracegen.generate(7) != tracegen.generate(8)
    ours = _ours()
    for seed in range(10):
        r = diff.run_trace([ours], tracegen.generate(seed))
        assert r.rc == 0, (seed, r.err)
        assert r.out.rstrip().endswith("end")


def test_generated_traces_reach_the_interesting_cases() -> None:
    ours = _ours()
    out = "".join(diff.run_trace([ours], tracegen.generate(s)).out for s in range(80))
    for needle in ("remap ", "keep=1", "error EINVAL", "warn insert_failed",
                   " kernel\n", "> bo_unmap", "> map 0x", " 0x0 - ", "vm_bo ",
                   "warn GPUVA address limited"):
        assert needle in out, needle


def test_shrink_keeps_only_what_the_failure_needs() -> None:
    trace = "# c\nvm 0 0x10000\nbo A\nmap 0 0x1000 A 0\nunmap 0 0x1000\nmap 0x2000 0x1000 A 0\ndump\n"
    small = diff.shrink(trace, lambda t: "unmap 0 0x1000" in t)
    assert small == "vm 0 0x10000\nunmap 0 0x1000\n"
    assert diff.shrink(trace, lambda t: False) == trace


def _fake_backend(tmp_path: Path) -> str:
    """A 'kernel' that differs from gpuvm-replay on traces with a prefetch."""
    ours = _ours()
    script = tmp_path / "fake-kernel"
    script.write_text(
        "#!/bin/sh\n"
        f"t={tmp_path}/in.$$\n"
        "cat > \"$t\"\n"
        f"'{ours}' \"$t\"; rc=$?\n"
        "if grep -q prefetch \"$t\"; then echo extra; fi\n"
        "rm -f \"$t\"; exit $rc\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_diff_finds_and_shrinks_a_divergence(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    ours, fake = _ours(), _fake_backend(tmp_path)
    assert diff.main(["--ours", ours, "--kernel", ours, "--count", "6"]) == 0
    assert diff.main(["--ours", ours, "--kernel", fake, "--count", "6", "--show", "1"]) == 1
    out = capsys.readouterr().out
    assert "divergent" in out and "+extra" in out
    # The shrunk trace is the vm line and one prefetch.
    shrunk = out.split("shrunk trace:\n", 1)[1].split("---", 1)[0].splitlines()
    assert len(shrunk) == 2 and shrunk[0].startswith("vm ")
    assert shrunk[1].startswith("prefetch ")


def test_diff_without_a_program_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert diff.main(["--kernel", "/nonexistent/gpuvm-replay-kernel", "--count", "1"]) == 2
    assert "not found" in capsys.readouterr().err


def test_apt_configuration_parsing(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64 signed-by=/k/thirdparty.gpg] http://third.example/x stable main\n")
    (d / "a.sources").write_text(
        "Types: deb deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n")
    (d / "b.list").write_text("deb http://other.example/debian sid main\n")
    srcs = kernel_source.configured_sources(str(tmp_path))
    assert [s.uri for s in srcs] == ["http://third.example/x", "http://mirror.example/debian",
                                     "http://mirror.example/debian-security",
                                     "http://other.example/debian"]
    m = kernel_source.debian_mirror(srcs)
    assert m.uri == "http://mirror.example/debian"
    assert m.suites == ("bookworm", "bookworm-updates")
    with pytest.raises(kernel_source.FetchError):
        kernel_source.debian_mirror(srcs[:1])


def test_fetch_rejects_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        kernel_source.fetch("sid; rm -rf /", str(tmp_path))


def test_known_differences_are_classified() -> None:
    crash = diff.Result(-11, "warn GPUVA address limited to 8 bytes.\n", "")
    fine = diff.Result(0, "warn GPUVA address limited to 8 bytes.\n", "")
    over = "vm 0x0 0x20000 0xfffffffffffff000 0x8000  # reserve end wraps\n"
    k = diff.classify(over, fine, crash)
    assert k is not None and k.key == "reserved-node-teardown"
    # Not the reserve overflowing, another output, or not a crash: unexpected.
    assert diff.classify("vm 0x0 0x20000 0x1000 0x8000\n", fine, crash) is None
    assert diff.classify(over, fine, diff.Result(-11, "", "")) is None
    assert diff.classify(over, fine, diff.Result(1, fine.out, "")) is None


def _agree(count: int, seed: int) -> None:
    ours, kernel = _ours(), _kernel()
    golden = sorted(str(p) for p in TRACES.glob("*.trace"))
    n, divs = diff.run_diff([ours], [kernel], count, seed, golden, jobs=2)
    assert n == count + len(golden)
    assert [(d.name, d.shrunk) for d in divs if d.known is None] == []
    # The two golden traces whose reserve overflows show the kernel's teardown bug.
    known = {Path(d.name).name for d in divs if d.known is not None and "/" in d.name}
    assert known == {"reserve_overflow.trace", "vm_overflow.trace"}


def test_kernel_backend_agrees_with_the_port() -> None:
    """Golden traces and 100 random ones: no unexpected divergence from the kernel."""
    _agree(100, 0)


@pytest.mark.slow
def test_kernel_backend_agrees_on_10000_traces() -> None:
    _agree(10000, 1000)
