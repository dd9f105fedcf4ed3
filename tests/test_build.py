"""Smoke tests of the build and install: the extension imports, the tools are on PATH."""

import json
import os
import shutil
from importlib import metadata

import pytest


def _editable_install() -> bool:
    try:
        direct_url = metadata.distribution("pygpuvm").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return False
    return bool(direct_url and json.loads(direct_url).get("dir_info", {}).get("editable"))


def test_raw_bindings_import():
    from pygpuvm.raw import ffi, lib

    assert ffi is not None
    assert lib is not None
    # The compiled module comes from the install (or the editable build dir),
    # never from the source checkout.
    import pygpuvm._gpuvm as ext

    assert ext.__file__.endswith(".so")


def test_gpuvm_replay_on_path():
    exe = shutil.which("gpuvm-replay")
    if exe is None and _editable_install():
        pytest.skip("editable installs do not install executables: use build/cp3*/csrc/gpuvm-replay")
    assert exe is not None, "gpuvm-replay not found on PATH (is pygpuvm installed with pip install . ?)"
    assert os.access(exe, os.X_OK)
