"""Fetch the kernel files the kernel backend needs from Debian's linux-source packages.

The repository contains no kernel code. To build ``gpuvm-replay-kernel`` (see
docs/kernel-backend.md) from Debian's sources instead of a checkout, this module
downloads a ``linux-source-X.Y`` package with apt and extracts only the few files
the build uses (``drivers/gpu/drm/drm_gpuvm.c``, ``include/drm/drm_gpuvm.h``, the
rbtree / interval-tree sources and headers, ``COPYING``) into a cache directory.

The package archive is never named here: the mirror is read from the machine's
apt configuration (``/etc/apt/sources.list`` and ``sources.list.d``, one-line and
deb822 formats). For a suite the machine is not configured for (``sid``,
``stable``, ...), a temporary sources list pointing at that same mirror is written
into the cache, and apt runs with private ``Dir::State``/``Dir::Cache``/
``Dir::Etc::SourceList`` options, so the system's apt state is not changed.

Standard library only, so that it runs before pygpuvm is built:

    python pygpuvm/kernel_source.py fetch --suite sid --dest build/kernel-src

prints the path of the extracted tree (usable as ``-Dkernel_tree=PATH``).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Iterable, Sequence

__all__ = [
    "AptSource", "FetchError", "KERNEL_FILES", "configured_sources", "debian_mirror",
    "fetch", "main",
]

#: Files (shell globs, relative to the tree's top) the kernel build needs.
KERNEL_FILES: tuple[str, ...] = (
    "COPYING",
    "Makefile",
    "drivers/gpu/drm/drm_gpuvm.c",
    "include/drm/drm_gpuvm.h",
    "lib/rbtree.c",
    "include/linux/rbtree.h",
    "include/linux/rbtree_types.h",
    "include/linux/rbtree_augmented.h",
    "include/linux/interval_tree.h",
    "include/linux/interval_tree_generic.h",
)

#: Packages of the form linux-source-X.Y (not linux-source, the meta package).
_PKG_RE = re.compile(r"^linux-source-(\d+)\.(\d+)$")


class FetchError(RuntimeError):
    """apt could not deliver the package, or the apt configuration has no Debian mirror."""


@dataclasses.dataclass(frozen=True)
class AptSource:
    """One ``deb`` entry of the machine's apt configuration."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str | None


def _parse_one_line(text: str) -> Iterable[AptSource]:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] != "deb":
            continue
        words = words[1:]
        signed_by = None
        if words and words[0].startswith("["):
            opts: list[str] = []
            while words:
                w = words.pop(0)
                opts.append(w)
                if w.endswith("]"):
                    break
            for o in " ".join(opts).strip("[]").split():
                if o.startswith("signed-by="):
                    signed_by = o.split("=", 1)[1]
        if len(words) < 2:
            continue
        yield AptSource(words[0], (words[1],), tuple(words[2:]), signed_by)


def _parse_deb822(text: str) -> Iterable[AptSource]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key is not None:
                fields[key] += " " + line.strip()
                continue
            if ":" not in line:
                continue
            k, v = line.split(":", 1)
            key = k.strip().lower()
            fields[key] = v.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield AptSource(uri, tuple(fields.get("suites", "").split()),
                            tuple(fields.get("components", "").split()),
                            fields.get("signed-by"))


def configured_sources(etc: str = "/etc/apt") -> list[AptSource]:
    """Every ``deb`` entry of the apt configuration under *etc*, in apt's order."""
    out: list[AptSource] = []
    main_list = os.path.join(etc, "sources.list")
    if os.path.isfile(main_list):
        with open(main_list, encoding="utf-8", errors="replace") as f:
            out.extend(_parse_one_line(f.read()))
    for path in sorted(glob.glob(os.path.join(etc, "sources.list.d", "*"))):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".list"):
            out.extend(_parse_one_line(text))
        elif path.endswith(".sources"):
            out.extend(_parse_deb822(text))
    return out


def debian_mirror(sources: Sequence[AptSource]) -> AptSource:
    """The first entry that is Debian's main archive (not security, not a third party).

    Recognised by its components (``main``) and its suites being Debian code names
    or suite names without a ``-security`` suffix, and its keyring (if named) being
    Debian's archive keyring.
    """
    for src in sources:
        if "main" not in src.components or not src.suites:
            continue
        if any("security" in s for s in src.suites):
            continue
        if src.signed_by and "debian-archive" not in src.signed_by:
            continue
        if src.uri.startswith("cdrom:") or src.uri.startswith("file:"):
            continue
        return src
    raise FetchError("no Debian archive found in the apt configuration "
                     "(/etc/apt/sources.list, /etc/apt/sources.list.d)")


class _PrivateApt:
    """apt-get / apt-cache with a private state directory and one suite of one mirror."""

    def __init__(self, root: str, mirror: AptSource, suite: str) -> None:
        self.root = root
        for d in ("lists/partial", "cache/archives/partial", "etc/sources.list.d",
                  "etc/preferences.d", "etc/apt.conf.d"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        signed = f" [signed-by={mirror.signed_by}]" if mirror.signed_by else ""
        with open(os.path.join(root, "etc", "sources.list"), "w", encoding="utf-8") as f:
            f.write(f"deb{signed} {mirror.uri} {suite} main\n")
        status = os.path.join(root, "status")
        if not os.path.exists(status):
            open(status, "w", encoding="utf-8").close()
        self.opts = [
            "-o", f"Dir::Etc::SourceList={root}/etc/sources.list",
            "-o", f"Dir::Etc::SourceParts={root}/etc/sources.list.d",
            "-o", f"Dir::Etc::Preferences={root}/etc/preferences",
            "-o", f"Dir::Etc::PreferencesParts={root}/etc/preferences.d",
            "-o", f"Dir::State={root}",
            "-o", f"Dir::State::Lists={root}/lists",
            "-o", f"Dir::State::status={status}",
            "-o", f"Dir::Cache={root}/cache",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Get::List-Cleanup=0",
            "-o", "Acquire::Languages=none",
            "-o", "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
        ]

    def run(self, tool: str, *args: str, cwd: str | None = None) -> str:
        cmd = [tool, *self.opts, *args]
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, check=False)
        if p.returncode != 0:
            raise FetchError(f"{tool} {' '.join(args)} failed:\n{p.stderr.strip()}")
        return p.stdout

    def update(self) -> None:
        self.run("apt-get", "-q", "update")

    def newest_linux_source(self) -> str:
        names = self.run("apt-cache", "pkgnames", "linux-source-").split()
        best: tuple[int, int] | None = None
        for n in names:
            m = _PKG_RE.match(n)
            if m:
                v = (int(m.group(1)), int(m.group(2)))
                best = v if best is None or v > best else best
        if best is None:
            raise FetchError("the suite has no linux-source-X.Y package")
        return f"linux-source-{best[0]}.{best[1]}"

    def version(self, pkg: str) -> str:
        out = self.run("apt-cache", "show", "--no-all-versions", pkg)
        for line in out.splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
        raise FetchError(f"apt-cache show {pkg}: no version")

    def download(self, pkg: str, dest: str) -> str:
        self.run("apt-get", "-q", "download", pkg, cwd=dest)
        debs = sorted(glob.glob(os.path.join(dest, f"{pkg}_*.deb")))
        if not debs:
            raise FetchError(f"apt-get download {pkg}: no .deb appeared")
        return debs[-1]


def _extract(deb: str, pkg: str, dest: str) -> None:
    """Extract KERNEL_FILES of the source tarball inside *deb* into *dest*."""
    tarball = f"./usr/src/{pkg}.tar.xz"
    top = pkg
    patterns = [f"{top}/{g}" for g in KERNEL_FILES]
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
        outer = subprocess.Popen(["tar", "-xO", "-f", "-", tarball], stdin=dpkg.stdout,
                                 stdout=subprocess.PIPE)
        assert dpkg.stdout is not None and outer.stdout is not None
        dpkg.stdout.close()
        inner = subprocess.run(["tar", "-xJ", "-f", "-", "-C", tmp, "--wildcards",
                                *patterns], stdin=outer.stdout, check=False,
                               stderr=subprocess.PIPE, text=True)
        outer.stdout.close()
        rc_outer, rc_dpkg = outer.wait(), dpkg.wait()
        if rc_dpkg or rc_outer or inner.returncode:
            raise FetchError(f"extracting {tarball} from {deb} failed: {inner.stderr.strip()}")
        final = os.path.join(dest, top)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(os.path.join(tmp, top), final)


def fetch(suite: str, dest: str, package: str | None = None, keep_deb: bool = False,
          etc: str = "/etc/apt") -> str:
    """Fetch ``linux-source-X.Y`` of *suite* and extract the kernel files under *dest*.

    *package* defaults to the newest ``linux-source-X.Y`` of the suite. Returns the
    extracted tree ``dest/<suite>/linux-source-X.Y`` (a ``DEBIAN-VERSION`` file in it
    names the package version). A tree already extracted for the same package
    version is reused without downloading.
    Raises FetchError when apt cannot deliver the package.
    """
    if not re.fullmatch(r"[a-z][a-z0-9.-]*", suite):
        raise ValueError(f"not a suite name: {suite!r}")
    mirror = debian_mirror(configured_sources(etc))
    sdir = os.path.abspath(os.path.join(dest, suite))
    apt = _PrivateApt(os.path.join(sdir, "apt"), mirror, suite)
    apt.update()
    pkg = package or apt.newest_linux_source()
    if not _PKG_RE.match(pkg):
        raise ValueError(f"not a linux-source-X.Y package: {pkg!r}")
    ver = apt.version(pkg)
    tree = os.path.join(sdir, pkg)
    stamp = os.path.join(tree, "DEBIAN-VERSION")
    if os.path.isfile(stamp):
        with open(stamp, encoding="utf-8") as f:
            if f.read().split() == [pkg, ver]:
                return tree
    debdir = os.path.join(sdir, "deb")
    os.makedirs(debdir, exist_ok=True)
    for old in glob.glob(os.path.join(debdir, "*.deb")):
        os.unlink(old)
    deb = apt.download(pkg, debdir)
    _extract(deb, pkg, sdir)
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(f"{pkg} {ver}\n")
    if not keep_deb:
        os.unlink(deb)
    return tree


def source_root() -> str:
    """The pygpuvm source tree this file belongs to (it has csrc/kernel/meson.build)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isfile(os.path.join(root, "csrc", "kernel", "meson.build")):
        raise FetchError(f"{root} is not a pygpuvm source tree: building the kernel backend "
                         "needs a clone of the repository (csrc/kernel/meson.build)")
    return root


def build(tree: str, build_dir: str, sanitize: str | None = None,
          buildtype: str = "release", tests: bool = False) -> tuple[str, str]:
    """Configure and build ``gpuvm-replay-kernel`` from *tree* (and ``gpuvm-replay`` beside it).

    Runs ``meson setup BUILD_DIR -Dkernel_tree=TREE`` in the source tree (reconfiguring
    a build dir that exists) and compiles both replay programs; with *tests*, the C
    tests too (among them the corpus built on the kernel's file, see :func:`corpus`).
    Returns the programs' paths (kernel, ours). Raises FetchError when meson fails.
    """
    root = source_root()
    tree = os.path.abspath(tree)
    build_dir = os.path.abspath(build_dir)
    args = [f"-Dkernel_tree={tree}", f"-Dtests={'true' if tests else 'false'}",
            f"--buildtype={buildtype}"]
    if sanitize:
        args += [f"-Db_sanitize={sanitize}", "-Db_lundef=false"]
    if os.path.isdir(os.path.join(build_dir, "meson-private")):
        setup = ["meson", "setup", "--reconfigure", build_dir, *args]
    else:
        setup = ["meson", "setup", build_dir, *args]
    kernel = os.path.join(build_dir, "csrc", "kernel", "gpuvm-replay-kernel")
    ours = os.path.join(build_dir, "csrc", "gpuvm-replay")
    for cmd in (setup, ["meson", "compile", "-C", build_dir, "gpuvm-replay-kernel",
                        "gpuvm-replay"]):
        try:
            p = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, check=False)
        except FileNotFoundError as e:
            raise FetchError(f"{cmd[0]} not found: pip install meson ninja") from e
        if p.returncode != 0:
            raise FetchError(f"{' '.join(cmd)} failed:\n{p.stdout[-4000:]}")
    return kernel, ours


def corpus(build_dir: str) -> int:
    """Run the driver-style corpus (csrc/tests/corpus) built on the kernel's
    drm_gpuvm.c: ``meson test --suite kernel`` in *build_dir* (configured by
    :func:`build` with tests). Returns meson's exit status."""
    cmd = ["meson", "test", "-C", os.path.abspath(build_dir), "--suite", "kernel",
           "--print-errorlogs"]
    return subprocess.run(cmd, cwd=source_root(), check=False).returncode


def _install_beside(kernel: str) -> str | None:
    """Copy *kernel* next to the ``gpuvm-replay`` on PATH (the scripts directory pip
    installed it to); the copy's path, or None when there is none or it is not writable."""
    found = shutil.which("gpuvm-replay")
    if not found:
        return None
    dest = os.path.join(os.path.dirname(os.path.abspath(found)), "gpuvm-replay-kernel")
    try:
        shutil.copy2(kernel, dest)
    except OSError:
        return None
    return dest


def _cmd_build(args: argparse.Namespace) -> int:
    if (args.tree is None) == (args.debian is None):
        print("kernel build: give a kernel tree PATH or --debian [SUITE]", file=sys.stderr)
        return 2
    build_dir = args.build_dir
    if args.debian is not None:
        tree = fetch(args.debian, os.path.join(build_dir, "kernel-src"), args.package)
        label = f"{args.debian} {_stamp(tree)}"
    else:
        tree = args.tree
        label = os.path.abspath(tree)
    kernel, ours = build(tree, build_dir, args.sanitize, args.buildtype, tests=args.corpus)
    print(f"gpuvm-replay-kernel ({label}, GPL-2.0): {kernel}")
    if args.corpus and corpus(build_dir) != 0:
        print("kernel build: the corpus failed on the kernel's drm_gpuvm.c", file=sys.stderr)
        return 1
    if args.install:
        dest = _install_beside(kernel)
        if dest is None:
            print("kernel build: no writable directory with gpuvm-replay on PATH; "
                  "not installed", file=sys.stderr)
            return 1
        print(f"installed: {dest}")
    if args.diff is None:
        return 0
    if __package__:
        from .diff import main as diff_main
    else:  # run as a script: the modules beside this file, standard library only
        from diff import main as diff_main  # type: ignore[no-redef,import-not-found]
    golden = os.path.join(source_root(), "tests", "traces")
    return diff_main(["--ours", ours, "--kernel", kernel, "--count", str(args.diff),
                      "--golden", golden, "--jobs", str(args.jobs)])


def _stamp(tree: str) -> str:
    try:
        with open(os.path.join(tree, "DEBIAN-VERSION"), encoding="utf-8") as f:
            return " ".join(f.read().split()[1:])
    except OSError:
        return "?"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommands (fetch, build, mirror) on *parser* (``pygpuvm kernel`` uses them too)."""
    sub = parser.add_subparsers(dest="kcommand", metavar="KCOMMAND", required=True)
    p = sub.add_parser("fetch", help="fetch and extract; print the tree's path")
    p.add_argument("--suite", default="sid", help="Debian suite (default: sid)")
    p.add_argument("--package", default=None,
                   help="linux-source-X.Y (default: the suite's newest)")
    p.add_argument("--dest", default=os.path.join("build", "kernel-src"),
                   help="cache directory (default: build/kernel-src)")
    p.add_argument("--keep-deb", action="store_true", help="keep the downloaded .deb")
    p = sub.add_parser(
        "build", help="build gpuvm-replay-kernel from a kernel tree or Debian's sources",
        description="Build gpuvm-replay-kernel (GPL-2.0: it contains the kernel's "
                    "drm_gpuvm.c) and gpuvm-replay with meson from this source tree; "
                    "with --diff, then run that many random traces plus the golden "
                    "ones through both and report divergences.")
    p.add_argument("tree", nargs="?", default=None, help="kernel source tree")
    p.add_argument("--debian", nargs="?", const="sid", default=None, metavar="SUITE",
                   help="fetch Debian's linux-source of SUITE (default: sid) instead")
    p.add_argument("--package", default=None,
                   help="with --debian: linux-source-X.Y (default: the suite's newest)")
    p.add_argument("--build-dir", default=os.path.join("build", "kernel"),
                   help="meson build directory; Debian sources are cached under it "
                        "(default: build/kernel)")
    p.add_argument("--buildtype", default="release", help="meson buildtype (default: release)")
    p.add_argument("--sanitize", default=None, metavar="LIST",
                   help="meson b_sanitize, e.g. address,undefined")
    p.add_argument("--install", action="store_true",
                   help="copy gpuvm-replay-kernel beside the gpuvm-replay on PATH")
    p.add_argument("--diff", type=int, default=None, metavar="COUNT",
                   help="then diff COUNT random traces (+ tests/traces) against the port")
    p.add_argument("--jobs", type=int, default=2, help="parallel replays for --diff (default 2)")
    p.add_argument("--corpus", action="store_true",
                   help="also build the C tests and run the driver-style corpus on the "
                        "kernel's drm_gpuvm.c (meson test --suite kernel)")
    sub.add_parser("mirror", help="print the Debian mirror read from apt's configuration")


def main(argv: Sequence[str] | None = None) -> int:
    """``kernel_source.py fetch|build|mirror ...`` (see add_arguments)."""
    parser = argparse.ArgumentParser(
        prog="kernel_source.py",
        description="Fetch the files the kernel backend needs from Debian's linux-source "
                    "packages (apt, private state; the system's apt state is unchanged) "
                    "and build gpuvm-replay-kernel from them.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_args(args)


def run_args(args: argparse.Namespace) -> int:
    """Run a parsed fetch/build/mirror command; 3 when apt or meson cannot deliver."""
    try:
        if args.kcommand == "mirror":
            print(debian_mirror(configured_sources()).uri)
            return 0
        if args.kcommand == "build":
            return _cmd_build(args)
        print(fetch(args.suite, args.dest, args.package, args.keep_deb))
    except FetchError as e:
        print(f"kernel_source: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
