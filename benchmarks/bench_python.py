"""Python-level benchmarks (pytest-benchmark): the package's
``pygpuvm/_bench/bench_python.py``, collected from here in a checkout::

    python -m pytest benchmarks/bench_python.py --benchmark-only

It measures the *installed* pygpuvm (conftest.py keeps the checkout's
uncompiled pygpuvm/ off sys.path); ``pygpuvm bench`` runs the same file.
"""

from pygpuvm._bench.bench_python import *  # noqa: F401,F403
