"""Packaging conventions: one version source, the message for an import from the
source checkout, and argument validation of ``pygpuvm bench``."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import pygpuvm

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=120, check=False, cwd=cwd or Path(__file__).parent)


def test_version_has_one_source():
    assert pygpuvm.__version__ == importlib.metadata.version("pygpuvm")
    if (REPO / "meson.build").is_file():
        assert pygpuvm.__version__ == (REPO / "pygpuvm" / "VERSION").read_text().strip()
        assert "files('pygpuvm/VERSION')" in (REPO / "meson.build").read_text()


def test_cli_version():
    res = run("-m", "pygpuvm", "--version")
    assert (res.returncode, res.stderr) == (0, "")
    assert res.stdout == f"pygpuvm {pygpuvm.__version__}\n"


@pytest.mark.skipif(not (REPO / "pygpuvm" / "_gpuvm.csrc.c").is_file(),
                    reason="not a source checkout")
def test_import_from_the_source_checkout_explains():
    # -S: no site-packages, so no editable-install hook; the checkout's pygpuvm/
    # (first on sys.path from the repository root) has no compiled extension.
    res = run("-S", "-c", "import pygpuvm", cwd=REPO)
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: pygpuvm was imported from its source directory")
    assert "pip install ." in last


@pytest.mark.parametrize("args, message", [
    (["--sizes", "abc"], "argument --sizes: expected comma-separated counts"),
    (["--sizes", "1e3,0"], "argument --sizes: every size must be at least 1"),
    (["--repeat", "0"], "argument --repeat: must be at least 1"),
    (["--repeat", "two"], "argument --repeat: expected a whole number"),
    (["--workloads", "nope"], "unknown workload(s): nope"),
])
def test_bench_rejects_bad_arguments(args, message):
    res = run("-m", "pygpuvm", "bench", *args)
    assert res.returncode == 2
    assert res.stdout == ""
    assert "usage: pygpuvm bench" in res.stderr
    assert f"pygpuvm bench: error: {message}" in res.stderr


def test_help_has_no_issue_numbers_or_markup():
    for args in (["--help"], ["replay", "--help"], ["show", "--help"], ["bench", "--help"],
                 ["diff", "--help"]):
        res = run("-m", "pygpuvm", *args)
        assert res.returncode == 0, args
        assert "issue" not in res.stdout.lower(), args
        assert "``" not in res.stdout and ":mod:" not in res.stdout, args
