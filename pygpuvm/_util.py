"""Small helpers shared by the classes: argument checks and pointer keys."""

from __future__ import annotations

from typing import Any

from ._gpuvm import ffi

U64_MAX = (1 << 64) - 1


def u64(name: str, value: Any) -> int:
    """``value`` as a Python int in [0, 2**64); TypeError/ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0 or value > U64_MAX:
        raise ValueError(f"{name} must be in [0, 2**64), got {value:#x}")
    return int(value)


def addr_of(ptr: Any) -> int:
    """The address of a cdata pointer, as an int key."""
    return int(ffi.cast("uintptr_t", ptr))


def hexs(n: int) -> str:
    """Trace-format number: lowercase hex with a 0x prefix."""
    return f"{n:#x}"
