"""``pygpuvm bench``: run the standard benchmark suite and print the results table.

The suite ships with the package (:mod:`pygpuvm._bench`): the trace generator,
the runner and the Python-level pytest-benchmark file, so this works from a
plain ``pip install`` without the source tree. ``gpuvm-replay`` is the one pip
installed next to this interpreter (or on PATH; ``--replay PATH`` or
``$GPUVM_REPLAY`` override). Unlike ``python benchmarks/run.py`` in a
checkout, ``pygpuvm bench`` only prints the table unless ``--output FILE`` is
given. The Python-level table needs pytest-benchmark (``pip install 'pygpuvm[bench]'``).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from ._bench import run

    return run.main(list(sys.argv[1:] if argv is None else argv), prog="pygpuvm bench",
                    default_output=None)


if __name__ == "__main__":
    sys.exit(main())
