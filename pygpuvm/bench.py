"""``pygpuvm bench``: run the standard benchmark suite and print the results table.

The suite itself lives in the source tree's ``benchmarks/`` directory
(``gen_trace.py``, ``run.py``, ``bench_python.py``); this module finds it and
runs ``benchmarks/run.py``'s ``main``. Unlike ``python benchmarks/run.py``,
``pygpuvm bench`` only prints the table unless ``--output FILE`` is given.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ENV_DIR = "PYGPUVM_BENCHMARKS"


def find_benchmarks() -> Path | None:
    """The benchmarks/ directory: $PYGPUVM_BENCHMARKS, next to the package
    (source checkout or editable install), or in the current directory or one
    of its parents."""
    cands: list[Path] = []
    env = os.environ.get(ENV_DIR)
    if env:
        cands.append(Path(env))
    cands.append(Path(__file__).resolve().parent.parent / "benchmarks")
    cwd = Path.cwd().resolve()
    cands += [d / "benchmarks" for d in (cwd, *cwd.parents)]
    for c in cands:
        if (c / "run.py").is_file() and (c / "gen_trace.py").is_file():
            return c
    return None


def _load_runner(directory: Path):
    name = "_pygpuvm_benchmarks_run"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, directory / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


def main(argv: list[str] | None = None) -> int:
    directory = find_benchmarks()
    if directory is None:
        print("pygpuvm bench: the benchmark suite (benchmarks/run.py) ships with the pygpuvm "
              "source tree, not with the wheel; run this command inside a checkout or set "
              f"{ENV_DIR}=/path/to/pygpuvm/benchmarks", file=sys.stderr)
        return 2
    runner = _load_runner(directory)
    return runner.main(list(sys.argv[1:] if argv is None else argv), prog="pygpuvm bench",
                       default_output=None)


if __name__ == "__main__":
    sys.exit(main())
