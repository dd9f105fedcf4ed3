"""The standard benchmarks, shipped with the package so that ``pygpuvm bench``
works from an installed wheel, without a source checkout.

* :mod:`.gen_trace`: the seeded workload generator (docs/trace-format.md traces);
* :mod:`.run`: the runner (``gpuvm-replay --bench`` timings, memory per
  mapping, the Python-level table) behind ``pygpuvm bench`` and
  ``python benchmarks/run.py``;
* ``bench_python.py``: the Python-level pytest-benchmark file.

The checkout's ``benchmarks/`` directory keeps RESULTS.md, PROFILE.md and the
README, plus thin wrappers with the historical script names that run this
package's files from the checkout (so they work without an install).
"""
