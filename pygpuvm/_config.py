"""Where the C headers, the static library and the pkg-config file are.

For C users of the library, the way numpy.get_include() and pybind11 work:

    cc prog.c $(pygpuvm-config --cflags --libs)
    PKG_CONFIG_PATH=$(pygpuvm-config --pkgconfigdir) pkg-config --cflags --libs pygpuvm
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_PKG = Path(__file__).resolve().parent
# An editable install runs from the source tree, which has no installed copies.
_SOURCE_INCLUDE = _PKG.parent / "csrc" / "include"


def get_include() -> str:
    """The directory to pass with -I: holds drm/drm_gpuvm.h, linux/list.h, ..."""
    inc = _PKG / "include"
    if (inc / "drm" / "drm_gpuvm.h").is_file():
        return str(inc)
    if (_SOURCE_INCLUDE / "drm" / "drm_gpuvm.h").is_file():
        return str(_SOURCE_INCLUDE)
    raise FileNotFoundError("pygpuvm's C headers are not installed (pip install pygpuvm)")


def get_library_dir() -> str:
    """The directory holding libgpuvm_core.a (wheels only, not editable installs)."""
    lib = _PKG / "lib"
    if (lib / "libgpuvm_core.a").is_file():
        return str(lib)
    raise FileNotFoundError(
        "libgpuvm_core.a is not installed here (editable install?): "
        "use a regular `pip install .` or the meson subproject route")


def get_pkgconfig_dir() -> str:
    """The directory to put on PKG_CONFIG_PATH for `pkg-config pygpuvm`."""
    pc = Path(get_library_dir()) / "pkgconfig"
    if not (pc / "pygpuvm.pc").is_file():
        raise FileNotFoundError(f"{pc / 'pygpuvm.pc'} is missing")
    return str(pc)


def cflags() -> list[str]:
    return [f"-I{get_include()}"]


def libs() -> list[str]:
    return [f"-L{get_library_dir()}", "-lgpuvm_core", "-pthread"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pygpuvm-config",
                                 description="compiler flags for pygpuvm's C library")
    ap.add_argument("--cflags", action="store_true", help="print -I flags")
    ap.add_argument("--libs", action="store_true", help="print -L/-l flags")
    ap.add_argument("--includedir", action="store_true", help="print the header directory")
    ap.add_argument("--libdir", action="store_true", help="print the library directory")
    ap.add_argument("--pkgconfigdir", action="store_true",
                    help="print the directory holding pygpuvm.pc")
    args = ap.parse_args(argv)
    try:
        out: list[str] = []
        if args.cflags:
            out += cflags()
        if args.libs:
            out += libs()
        if args.includedir:
            out.append(get_include())
        if args.libdir:
            out.append(get_library_dir())
        if args.pkgconfigdir:
            out.append(get_pkgconfig_dir())
    except FileNotFoundError as e:
        print(f"pygpuvm-config: {e}", file=sys.stderr)
        return 1
    if not out:
        ap.print_usage(sys.stderr)
        return 2
    print(" ".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
