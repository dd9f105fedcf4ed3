#!/usr/bin/env python3
"""Run the benchmark suite from a checkout and write benchmarks/RESULTS.md.

The runner ships inside the package (``pygpuvm/_bench/run.py``, behind
``pygpuvm bench``); this script runs the checkout's copy by path, with this
directory's bench_python.py for the Python-level table (which measures the
*installed* pygpuvm) and RESULTS.md here as the default output::

    python benchmarks/run.py [--quick | --tiny] [--output FILE] [--note TEXT]
"""

import importlib.util
import sys
from pathlib import Path

_DIR = Path(__file__).resolve().parent  # not HERE: the runner's globals are copied below
_SRC = _DIR.parent / "pygpuvm" / "_bench" / "run.py"
_spec = importlib.util.spec_from_file_location("_pygpuvm_bench_run", _SRC)
_mod = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _mod
_spec.loader.exec_module(_mod)
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("__")})


def main(argv=None, prog=None, default_output=str(_DIR / "RESULTS.md"),
         python_bench=_DIR / "bench_python.py"):
    return _mod.main(argv, prog=prog, default_output=default_output, python_bench=python_bench)


if __name__ == "__main__":
    sys.exit(main())
