"""The ``pygpuvm`` command.

    pygpuvm                 a small built-in demo: a trace, its replay, the drawing
    pygpuvm replay [FILE|-] run a trace (docs/trace-format.md) and print the canonical result
    pygpuvm show FILE|-     draw the address space at the end of a trace
    pygpuvm bench           the standard benchmarks
    pygpuvm diff            random traces through our port and the kernel's drm_gpuvm.c
    pygpuvm kernel fetch    fetch the kernel files of Debian's linux-source (apt)
    pygpuvm kernel build    build gpuvm-replay-kernel from a kernel tree or Debian's sources
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import textwrap
from collections.abc import Iterable
from typing import IO

__all__ = ["main", "DEMO_TRACE"]

DEMO_TRACE = b"""\
# pygpuvm demo: a 1 MiB VM whose first 64 KiB are reserved for the kernel,
# a private bo (shares the VM's resv) and an external one (its own resv).
vm 0x0 0x100000 0x0 0x10000
bo color
bo depth ext
map 0x10000 0x40000 color 0x0         # one mapping of color
map 0x20000 0x10000 depth 0x100000    # depth punched into it: a remap (prev + next)
map 0x60000 0x20000 depth 0x0
map 0x90000 0x8000 - 0x0              # sparse: no object behind it
unmap 0x48000 0x8000                  # trim the end of color's tail piece
prefetch 0x0 0x100000                 # every node, the kernel's included
dump
"""

_EPILOG = """\
traces: one command per line, '#' comments; see docs/trace-format.md in the pygpuvm sources:
  vm <start> <range> [<roff> <rrange>]   bo <name> [ext]
  map <addr> <range> <bo|-> <offset>      unmap <addr> <range>
  bo_unmap <bo>   prefetch <addr> <range>   dump   mark
exit status: 0 ok, 2 malformed trace or bad usage, 1 internal failure.
"""


def _wrap(text: str) -> str:
    # The raw formatter keeps the epilog's layout, so descriptions are wrapped here.
    return textwrap.fill(text, 78)


def _build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="pygpuvm", epilog=_EPILOG, formatter_class=raw,
        description=_wrap("pygpuvm: the Linux kernel's DRM GPU VA manager (drm_gpuvm) in "
                          "userspace. Without a command, runs a small demo."))
    from . import __version__

    parser.add_argument("--version", action="version", version=f"pygpuvm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("demo", help="the built-in demo (the default)",
                   description=_wrap("Replay a small built-in trace and draw the result."))

    p = sub.add_parser(
        "replay", help="run a trace and print the canonical result", epilog=_EPILOG,
        formatter_class=raw,
        description=_wrap("Run a trace through the C core, as a staged-mode driver would, "
                          "and print every command's ops list, warnings and dumps in the "
                          "canonical, byte-exact format of docs/trace-format.md (compare "
                          "implementations with diff). This is the Python implementation "
                          "over the raw bindings; the C program gpuvm-replay prints the "
                          "same."))
    p.add_argument("trace", metavar="FILE|-", nargs="?", default="-",
                   help="trace file; - or nothing reads standard input")

    p = sub.add_parser(
        "show", help="draw the address space at the end of a trace", epilog=_EPILOG,
        formatter_class=raw,
        description=_wrap("Run a trace (output discarded) and draw the final address "
                          "space: an overview bar, one bar per mapping with its bo and "
                          "offset, the kernel-reserved node, and the vm_bos with their "
                          "mappings."))
    p.add_argument("trace", metavar="FILE|-", help="trace file, or - for standard input")
    p.add_argument("--width", type=int, default=None, metavar="N",
                   help="bar width in columns (default: fit the terminal); for svg and "
                        "html: the picture's width in pixels (default 1200)")
    p.add_argument("--format", choices=("text", "svg", "html", "png"), default="text",
                   help="text (default), an SVG picture of the final address space, or a "
                        "self-contained HTML page: the timeline of every command (with "
                        "--final: the final address space); png: the html (with --final: "
                        "the svg) as an image, through headless Chromium (needs -o)")
    p.add_argument("--start", type=_number, default=None, metavar="ADDR",
                   help="svg/html: zoom, first address of the view")
    p.add_argument("--end", type=_number, default=None, metavar="ADDR",
                   help="svg/html: zoom, end of the view (exclusive)")
    p.add_argument("--final", action="store_true",
                   help="html: only the final address space (no timeline)")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="write to FILE instead of standard output")

    # Every argument (--quick, --help, ...) goes to pygpuvm.bench's own parser:
    # with a '+' prefix this subparser treats '--x' as a plain word, which a
    # REMAINDER positional then takes even in first position.
    p = sub.add_parser("bench", help="run the standard benchmarks",
                       description=_wrap("Run the standard benchmarks."),
                       add_help=False, prefix_chars="+")
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    from .diff import add_arguments as diff_arguments

    p = sub.add_parser(
        "diff", help="differential test: our port against the kernel's drm_gpuvm.c",
        description=_wrap("Run seeded random traces (and optionally golden ones) through "
                          "gpuvm-replay and gpuvm-replay-kernel (see "
                          "docs/kernel-backend.md) and compare their outputs byte for "
                          "byte; a divergent trace is shrunk and printed with both "
                          "outputs. Exit status 0 only without divergence, 1 with, 2 "
                          "when a program is missing."))
    diff_arguments(p)

    p = sub.add_parser("kernel", help="the kernel backend: fetch Debian's sources, build it",
                       description=_wrap("Fetch the few kernel files the kernel backend "
                                         "is built from out of Debian's linux-source "
                                         "packages (apt, private apt state), and build "
                                         "gpuvm-replay-kernel from them or from a kernel "
                                         "tree (see docs/kernel-backend.md)."))
    from .kernel_source import add_arguments as kernel_arguments

    kernel_arguments(p)
    return parser


def _number(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _open(path: str) -> IO[bytes]:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def _cmd_replay(path: str) -> int:
    from .replay import run

    return run(path)


def _show(lines: Iterable[bytes], width: int | None, prog: str,
          out: IO[str]) -> int:
    from .replay import replay_state
    from .show import render

    status, state = replay_state(lines, io.BytesIO(), sys.stderr.buffer, prog)
    if state is not None:
        out.write(render(state, width))
    return status


def _show_picture(f: IO[bytes], args: argparse.Namespace) -> int:
    from . import svg
    from .replay import replay_state

    width = 1200 if args.width is None else args.width
    if width < 200:
        sys.stderr.write("pygpuvm show: --width must be at least 200 for svg and html\n")
        return 2
    name = os.path.basename(args.trace) if args.trace != "-" else "stdin"
    from . import timeline

    if args.format == "png" and args.output is None:
        sys.stderr.write("pygpuvm show: --format png needs -o FILE\n")
        return 2
    if args.format in ("html", "png") and not args.final:
        try:
            data = f.read().splitlines(keepends=True)
            text = timeline.render_trace(data, width=width, start=args.start, end=args.end,
                                         title=name)
            if args.format == "png":
                steps = text.count('"cmd":')
                timeline.screenshot(text, ".html", width + 40, timeline.page_height(steps),
                                    args.output)
                return 0
        except timeline.TimelineError as exc:
            sys.stderr.write(f"pygpuvm show: {exc}\n")
            return exc.status
        return _emit(text, args.output)
    status, state = replay_state(f, io.BytesIO(), sys.stderr.buffer, "pygpuvm show")
    if state is None:
        return status
    try:
        snap = svg.snapshot_from_state(state, args.start, args.end, name)
    except (TypeError, ValueError) as exc:
        sys.stderr.write(f"pygpuvm show: {exc}\n")
        return 2
    if args.format == "png":
        picture = svg.render(snap, width)
        try:
            timeline.screenshot(picture, ".svg", width, svg.height_of(picture), args.output)
        except timeline.TimelineError as exc:
            sys.stderr.write(f"pygpuvm show: {exc}\n")
            return exc.status
        return status
    text = svg.render(snap, width) if args.format == "svg" else svg.html_page(snap, width)
    return _emit(text, args.output) or status


def _emit(text: str, path: str | None) -> int:
    if path is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        sys.stderr.write(f"pygpuvm show: {path}: {exc.strerror}\n")
        return 2
    return 0


def _cmd_show(path: str, width: int | None, args: argparse.Namespace | None = None) -> int:
    picture = args is not None and args.format != "text"
    if not picture and width is not None and width < 8:
        sys.stderr.write("pygpuvm show: --width must be at least 8\n")
        return 2
    try:
        f = _open(path)
    except OSError as exc:
        sys.stderr.write(f"pygpuvm show: {path}: {exc.strerror}\n")
        return 2
    try:
        if picture:
            assert args is not None
            return _show_picture(f, args)
        return _show(f, width, "pygpuvm show", sys.stdout)
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _cmd_demo() -> int:
    from .replay import replay

    out = sys.stdout
    out.write("pygpuvm demo. The trace:\n\n")
    out.write(DEMO_TRACE.decode())
    out.write("\nReplayed (pygpuvm replay FILE prints this for any trace):\n\n")
    out.flush()
    status = replay(DEMO_TRACE.splitlines(keepends=True), sys.stdout.buffer,
                    sys.stderr.buffer, "pygpuvm")
    if status:
        return status
    out.write("\nThe address space at the end (pygpuvm show FILE draws this):\n\n")
    return _show(DEMO_TRACE.splitlines(keepends=True), None, "pygpuvm", out)


def _cmd_bench(args: list[str]) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "replay":
            return _cmd_replay(args.trace)
        if args.command == "show":
            return _cmd_show(args.trace, args.width, args)
        if args.command == "bench":
            return _cmd_bench(args.args)
        if args.command == "diff":
            from .diff import run_args

            return run_args(args)
        if args.command == "kernel":
            from .kernel_source import run_args as kernel_run

            return kernel_run(args)
        return _cmd_demo()
    except BrokenPipeError:
        # `pygpuvm replay big.trace | head`: stop quietly; point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
