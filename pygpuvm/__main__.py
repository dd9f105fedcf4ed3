"""``python -m pygpuvm``: the ``pygpuvm`` command (see :mod:`pygpuvm.cli`)."""

import sys

from .cli import main

sys.exit(main())
