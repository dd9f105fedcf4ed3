"""C users of the library: pygpuvm tells where the headers, library and .pc file are."""

import shutil
import subprocess
from pathlib import Path

import pytest

import pygpuvm
from pygpuvm import _config

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello_gpuvm.c"


def test_get_include_has_the_kernel_paths():
    inc = Path(pygpuvm.get_include())
    assert (inc / "drm" / "drm_gpuvm.h").is_file()
    assert (inc / "linux" / "list.h").is_file()
    assert _config.cflags() == [f"-I{inc}"]


def _library_dir() -> str | None:
    try:
        return pygpuvm.get_library_dir()
    except FileNotFoundError:
        return None


@pytest.mark.skipif(_library_dir() is None, reason="editable install: no installed libgpuvm_core.a")
def test_pkgconfig_file_is_relocatable():
    pc = Path(pygpuvm.get_pkgconfig_dir()) / "pygpuvm.pc"
    text = pc.read_text()
    assert "prefix=${pcfiledir}/../.." in text and "-lgpuvm_core" in text


@pytest.mark.skipif(_library_dir() is None or shutil.which("cc") is None or not EXAMPLE.is_file(),
                    reason="needs an installed wheel, a C compiler and examples/")
def test_hello_example_builds_and_runs(tmp_path):
    exe = tmp_path / "hello_gpuvm"
    # A sanitizer build of the wheel (CI step 4) needs the same runtimes at link time.
    lib = (Path(pygpuvm.get_library_dir()) / "libgpuvm_core.a").read_bytes()
    san = [f for f, sym in (("address", b"__asan_"), ("undefined", b"__ubsan_")) if sym in lib]
    extra = [f"-fsanitize={','.join(san)}"] if san else []
    subprocess.run(["cc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", *extra, str(EXAMPLE),
                    *_config.cflags(), *_config.libs(), "-o", str(exe)], check=True)
    res = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    assert res.stdout.endswith("hello_gpuvm: ok\n")


def test_config_cli(capsys):
    assert _config.main(["--cflags"]) == 0
    assert capsys.readouterr().out.strip() == f"-I{pygpuvm.get_include()}"
    assert _config.main([]) == 2
