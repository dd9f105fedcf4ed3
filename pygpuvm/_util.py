"""Small helpers shared by the classes: argument checks, pointer keys, weak caches."""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, TypeVar
from weakref import ref

from . import _gcguard
from ._gpuvm import ffi

U64_MAX = (1 << 64) - 1

T = TypeVar("T")


def u64(name: str, value: Any) -> int:
    """``value`` as a Python int in [0, 2**64); TypeError/ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0 or value > U64_MAX:
        raise ValueError(f"{name} must be in [0, 2**64), got {value:#x}")
    return int(value)


# Return values of C fills from here up are results (errno, flag bits), not counts.
_COUNT_LIMIT = 1 << 32


def retry(fill: Callable[[Any, int], int], n: int, new: Callable[[int], Any]) -> tuple[int, Any]:
    """The count-and-retry protocol of the C helpers that fill caller arrays.

    ``fill(buf, n)`` writes at most ``n`` entries into ``buf`` and returns the
    total it has (a negative errno or a value >= 2**32 is a result, not a
    count). Calls it with ``new(n)`` buffers until everything fits; returns
    the last result and its buffer. Callers usually try their own scratch
    buffer first and come here when it was too small.
    """
    while True:
        buf = new(n)
        ret = fill(buf, n)
        if not n < ret < _COUNT_LIMIT:
            return ret, buf
        n = ret


# ---------------------------------------------------------------- finalizers

# gc_hold(): defer the cyclic collector (and so every ``__del__`` it would run)
# until the matching gc_release(). Used around the code that turns C records
# into wrappers: a collection there would run finalizers in this thread, under
# the VM lock it holds, and a finalizer that unmaps or closes that VM would free
# what the remaining records name. Holds nest and may overlap across threads.
# In C (pygpuvm/_gcguard.c): each call runs whole under the GIL, no lock needed.
gc_hold = _gcguard.hold
gc_release = _gcguard.release


C = TypeVar("C", bound=type)


def no_copy(cls: C) -> C:
    """Class decorator: instances refuse ``copy.copy``, ``copy.deepcopy`` and pickling
    with a TypeError. A wrapper stands for one C object and owns references on
    it; a field-by-field copy would share them, and whichever copy released
    them first would leave the other pointing at freed memory."""
    name = cls.__name__

    def refuse(self: Any, *args: Any) -> Any:
        raise TypeError(f"{name} objects cannot be copied or pickled: each one stands for "
                        f"a C object of this process (share the {name} itself instead)")

    for attr in ("__copy__", "__deepcopy__", "__reduce__", "__reduce_ex__"):
        setattr(cls, attr, refuse)
    return cls


def addr_of(ptr: Any) -> int:
    """The address of a cdata pointer, as an int key."""
    return int(ffi.cast("uintptr_t", ptr))


def hexs(n: int) -> str:
    """Trace-format number: lowercase hex with a 0x prefix."""
    return f"{n:#x}"


class WeakCache(Generic[T]):
    """C address -> the Python wrapper of that C object, held weakly.

    ``data`` is a plain dict of :func:`weakref.ref` (no callbacks): hot paths
    read it directly (``r = data.get(key)``, ``r()``), one C-level dict lookup
    instead of WeakValueDictionary's Python-level methods. Dead entries are
    swept whenever the dict has doubled since the last sweep (amortised O(1)
    per insert). The owner serialises writers (its lock).
    """

    __slots__ = ("data", "sweep_at")

    def __init__(self) -> None:
        self.data: dict[int, ref[T]] = {}
        self.sweep_at = 64

    def get(self, key: int) -> T | None:
        r = self.data.get(key)
        return r() if r is not None else None

    def put(self, key: int, obj: T) -> None:
        data = self.data
        data[key] = ref(obj)
        if len(data) > self.sweep_at:
            self.sweep()

    def sweep(self) -> None:
        data = self.data
        for key in [k for k, r in data.items() if r() is None]:
            del data[key]
        self.sweep_at = max(64, 2 * len(data))

    def pop(self, key: int) -> T | None:
        r = self.data.pop(key, None)
        return r() if r is not None else None

    def discard(self, key: int, obj: T) -> None:
        """Forget ``key`` if it still maps to ``obj``."""
        r = self.data.get(key)
        if r is not None and r() is obj:
            del self.data[key]

    def items(self) -> list[tuple[int, T]]:
        """The live entries (a snapshot)."""
        out = []
        for k, r in list(self.data.items()):
            obj = r()
            if obj is not None:
                out.append((k, obj))
        return out

    def values(self) -> list[T]:
        return [obj for _, obj in self.items()]

    def clear(self) -> None:
        self.data.clear()
        self.sweep_at = 64

    def __len__(self) -> int:
        """Live entries only."""
        return sum(1 for r in list(self.data.values()) if r() is not None)

    def __iter__(self) -> Iterator[int]:
        return iter([k for k, _ in self.items()])
