"""pytest configuration for the Python-level benchmarks (bench_python.py).

Run them with ``python -m pytest benchmarks/bench_python.py --benchmark-only``;
the normal test run (``testpaths = ["tests"]``) never collects this directory.

As in tests/conftest.py, the benchmarks import the *installed* pygpuvm: the
repository root (which ``python -m pytest`` puts on ``sys.path``) holds the
sources without the compiled extension, so it is dropped here.
"""

import os
import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _REPO_ROOT]
