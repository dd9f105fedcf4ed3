"""C users of the library: pygpuvm tells where the headers, library and .pc file are."""

import json
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


CHECKOUT = Path(__file__).resolve().parent.parent

SUBPROJECT_USER = """\
project('gpuvm-user', 'c', default_options: ['c_std=gnu11', 'warning_level=2', 'werror=true'])
gpuvm = dependency('pygpuvm', fallback: ['pygpuvm', 'pygpuvm_dep'])
test('hello', executable('hello', 'hello_gpuvm.c', dependencies: gpuvm))
"""


@pytest.mark.skipif(shutil.which("meson") is None or shutil.which("ninja") is None
                    or shutil.which("cc") is None or not (CHECKOUT / "meson.build").is_file()
                    or not EXAMPLE.is_file(),
                    reason="needs meson, ninja, a C compiler and the source checkout")
def test_meson_subproject_route(tmp_path):
    """A meson project with subprojects/pygpuvm -> this checkout builds and runs the example."""
    proj = tmp_path / "user"
    (proj / "subprojects").mkdir(parents=True)
    (proj / "subprojects" / "pygpuvm").symlink_to(CHECKOUT, target_is_directory=True)
    shutil.copy(EXAMPLE, proj / "hello_gpuvm.c")
    (proj / "meson.build").write_text(SUBPROJECT_USER)
    build = tmp_path / "build"
    # Force the subproject even where an installed pygpuvm.pc is visible.
    setup = subprocess.run(["meson", "setup", str(build), str(proj), "--force-fallback-for=pygpuvm"],
                           capture_output=True, text=True)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "Executing subproject pygpuvm" in setup.stdout
    comp = subprocess.run(["meson", "compile", "-C", str(build), "hello"],
                          capture_output=True, text=True)
    assert comp.returncode == 0, comp.stdout + comp.stderr
    res = subprocess.run([str(build / "hello")], capture_output=True, text=True, check=True)
    assert res.stdout.endswith("hello_gpuvm: ok\n")
    # The subproject builds only the C library: no Python extension, no C tests.
    intro = subprocess.run(["meson", "introspect", "--targets", str(build)],
                           capture_output=True, text=True, check=True).stdout
    names = {t["name"] for t in json.loads(intro) if t["subproject"] == "pygpuvm"}
    assert "gpuvm_core" in names
    assert not {n for n in names if n.startswith(("_gpuvm", "test_", "corpus_"))}, names
