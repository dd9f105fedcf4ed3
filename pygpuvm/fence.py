"""Fences: completion signals that reservation objects collect.

A :class:`Fence` owns one reference on a C ``struct dma_fence`` (released by
``dma_fence_put`` when the wrapper is collected); every reservation object the
fence was added to holds its own, so the C fence outlives the wrapper there.

Choices made here, where the kernel leaves room:

* :meth:`Fence.signal` on an already signalled fence returns False instead
  of raising (the kernel's ``dma_fence_signal`` returns ``-EINVAL``, which
  its callers treat as "nothing to do"): several parties racing to complete
  the same job is normal, not an error.
* :meth:`Fence.wait` takes seconds (a float, None = forever) and returns a
  bool. The C wait runs without the GIL; a long wait is cut into short
  slices so that Ctrl-C (delivered between slices) still works.
"""

from __future__ import annotations

import enum
import math
from typing import Any

from . import _callbacks
from ._gpuvm import ffi, lib
from ._util import no_copy, u64
from .errors import OutOfMemoryError

__all__ = ["Fence", "ResvUsage"]

_MAX_TIMEOUT_NS = int(lib.MAX_SCHEDULE_TIMEOUT)
# Longest single C wait: bounds how late a KeyboardInterrupt is seen.
_SLICE_NS = 100_000_000


class ResvUsage(enum.IntEnum):
    """``enum dma_resv_usage``: how an operation uses the object its fence is added to.

    Ordered: a query for usage ``U`` sees every fence whose usage is ``<= U``
    (``KERNEL`` fences are seen by everybody, ``BOOKKEEP`` ones only by
    ``BOOKKEEP`` queries).
    """

    KERNEL = int(lib.DMA_RESV_USAGE_KERNEL)
    WRITE = int(lib.DMA_RESV_USAGE_WRITE)
    READ = int(lib.DMA_RESV_USAGE_READ)
    BOOKKEEP = int(lib.DMA_RESV_USAGE_BOOKKEEP)


def _usage(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a ResvUsage, not {type(value).__name__}")
    try:
        return int(ResvUsage(value))
    except ValueError:
        raise ValueError(f"{name} must be a ResvUsage, got {value!r}") from None


@no_copy
class Fence:
    """A ``struct dma_fence`` of timeline ``context``, number ``seqno``.

    ``context=None`` allocates a fresh timeline (``dma_fence_context_alloc``).
    Reservation objects keep only the newest fence of a timeline per usage, so
    fences that must all stay visible need distinct contexts.
    """

    __slots__ = ("_ptr", "context", "seqno", "__weakref__")

    def __init__(self, context: int | None = None, seqno: int = 0) -> None:
        if context is None:
            context = int(lib.dma_fence_context_alloc(1))
        context = u64("context", context)
        seqno = u64("seqno", seqno)
        ptr = lib.dma_fence_create(context, seqno)
        if ptr == ffi.NULL:
            raise OutOfMemoryError("dma_fence_create")
        self._ptr = ffi.gc(ptr, lib.dma_fence_put)
        self.context = context
        self.seqno = seqno

    @staticmethod
    def new_context(count: int = 1) -> int:
        """``dma_fence_context_alloc(count)``: the first of ``count`` new timeline ids."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count < 1 << 32:
            raise ValueError("count must be an int in [1, 2**32)")
        return int(lib.dma_fence_context_alloc(count))

    @property
    def signaled(self) -> bool:
        """True once :meth:`signal` ran (``dma_fence_is_signaled``)."""
        return bool(lib.dma_fence_is_signaled(self._ptr))

    def signal(self) -> bool:
        """Signal the fence, waking every waiter: True, or False if it already was."""
        return lib.dma_fence_signal(self._ptr) == 0

    @property
    def error(self) -> int:
        """The error recorded with :meth:`set_error` (a negative errno), or 0."""
        return int(self._ptr.error)

    def set_error(self, error: int) -> None:
        """``dma_fence_set_error``: mark the work as failed; call before :meth:`signal`.

        ``error`` is a negative errno. A signalled fence is refused with
        ValueError (the kernel WARNs and overwrites; a signal racing with this
        call from another thread still gets that WARN, as a
        :class:`~pygpuvm.GpuvmWarning`).
        """
        if isinstance(error, bool) or not isinstance(error, int) or not -4095 <= error < 0:
            raise ValueError("error must be a negative errno")
        if self.signaled:
            raise ValueError("the fence is already signalled")
        lib.dma_fence_set_error(self._ptr, error)
        _callbacks.raise_pending()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until signalled: True, or False if ``timeout`` seconds passed first.

        ``timeout=None`` waits forever, ``0`` only polls. The GIL is released
        while waiting, so other threads (including the signaller) run.
        """
        if timeout is None:
            deadline_ns = None
        else:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
            if math.isnan(timeout) or timeout < 0:
                raise ValueError("timeout must be >= 0")
            if timeout == 0:
                return self.signaled
            # inf, and anything past MAX_SCHEDULE_TIMEOUT, waits forever.
            deadline_ns = (None if timeout * 1e9 >= _MAX_TIMEOUT_NS
                           else math.ceil(timeout * 1e9))
        waited = 0
        while True:
            chunk = _SLICE_NS if deadline_ns is None else min(_SLICE_NS, deadline_ns - waited)
            if lib.dma_fence_wait_timeout(self._ptr, False, chunk) > 0:
                return True
            waited += chunk
            if deadline_ns is not None and waited >= deadline_ns:
                return False

    @property
    def refcount(self) -> int:
        """The C reference count (this wrapper's and every resv slot's)."""
        return int(lib.kref_read(ffi.addressof(self._ptr, "refcount")))

    def __repr__(self) -> str:
        state = "signaled" if self.signaled else "pending"
        err = f" error={self.error}" if self.error else ""
        return f"<Fence {self.context}:{self.seqno} {state}{err}>"
