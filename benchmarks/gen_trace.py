#!/usr/bin/env python3
"""The benchmark trace generator (see ``pygpuvm/_bench/gen_trace.py``).

The generator ships inside the package (``python -m pygpuvm._bench.gen_trace``
from an install, used by ``pygpuvm bench``); this script runs the checkout's
copy by path, so it works without installing anything::

    python benchmarks/gen_trace.py -w steady -n 1e5 | gpuvm-replay --bench -
"""

import importlib.util
import sys
from pathlib import Path

_SRC = Path(__file__).resolve().parent.parent / "pygpuvm" / "_bench" / "gen_trace.py"
_spec = importlib.util.spec_from_file_location("_pygpuvm_bench_gen_trace", _SRC)
_mod = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _mod
_spec.loader.exec_module(_mod)
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("__")})

if __name__ == "__main__":
    sys.exit(_mod.main())
