"""The ``pygpuvm`` console script."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("pygpuvm: demo not implemented yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
