"""Exceptions and warnings raised by the pygpuvm classes.

Every error of the C core is a negative errno; :func:`error_from_errno` maps it
to the matching :class:`GpuvmError` subclass. Wrong Python arguments (wrong
types, negative numbers, numbers that do not fit in 64 bits) raise the
built-in :class:`TypeError` / :class:`ValueError` instead, before anything
reaches C. After any exception the state of every object is unchanged.

Two errors do not come from C:

* :class:`StaleOpsError` (``ESTALE``): an :class:`~pygpuvm.Ops` list describes
  the VM as it was when the list was created; applying it after the VM changed
  would apply a transition from a state that no longer exists.
* :class:`DetachedError` (``ENODEV``): the object was detached from its C
  counterpart, e.g. a method of a closed :class:`~pygpuvm.VM` (or of a vm_bo or
  ops list that the close released).
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = [
    "GpuvmError",
    "InvalidRangeError",
    "OverlapError",
    "OutOfMemoryError",
    "DeadlockError",
    "AlreadyLockedError",
    "NotFoundError",
    "NotSupportedError",
    "InterruptedWaitError",
    "StaleOpsError",
    "DetachedError",
    "VMBusyError",
    "GpuvmWarning",
    "error_from_errno",
    "check",
]


class GpuvmError(Exception):
    """An error of the C core (or of the classes' own checks), with its errno."""

    errno: int = 0

    def __init__(self, message: str | None = None, *, errno: int | None = None) -> None:
        if errno is not None:
            self.errno = errno
        name = _errno.errorcode.get(self.errno, str(self.errno))
        if message:
            text = f"{name}: {message}"
        elif name != str(self.errno):
            text = f"{name} ({os.strerror(self.errno)})"
        else:
            text = f"unknown error {self.errno}"
        super().__init__(text)


class InvalidRangeError(GpuvmError, ValueError):
    """``EINVAL``: the range is outside the VM, overflows, touches the reserved
    node, or is zero-sized (refused by the classes, see :class:`pygpuvm.VM`)."""

    errno = _errno.EINVAL


class OverlapError(GpuvmError):
    """``EEXIST``: the range overlaps an existing VA."""

    errno = _errno.EEXIST


class OutOfMemoryError(GpuvmError, MemoryError):
    """``ENOMEM``: a C allocation failed (real or injected); nothing changed."""

    errno = _errno.ENOMEM


class DeadlockError(GpuvmError):
    """``EDEADLK``: lock contention inside a drm_exec transaction; retry."""

    errno = _errno.EDEADLK


class AlreadyLockedError(GpuvmError):
    """``EALREADY``: the object is already locked by this transaction."""

    errno = _errno.EALREADY


class NotFoundError(GpuvmError, LookupError):
    """``ENOENT``."""

    errno = _errno.ENOENT


class NotSupportedError(GpuvmError):
    """``EOPNOTSUPP``: e.g. validate without a validate callback."""

    errno = _errno.EOPNOTSUPP


class InterruptedWaitError(GpuvmError):
    """``EINTR``: an interruptible wait was interrupted."""

    errno = _errno.EINTR


class StaleOpsError(GpuvmError):
    """``ESTALE``: the ops list was created against an older state of the VM."""

    errno = _errno.ESTALE


class DetachedError(GpuvmError):
    """``ENODEV``: the object no longer has a C counterpart (e.g. its VM was closed)."""

    errno = _errno.ENODEV


class VMBusyError(GpuvmError, RuntimeError):
    """``EBUSY``: a driver callback (``steps``) called back into the VM that is
    walking; the VM lock is held by the walk, so this would deadlock."""

    errno = _errno.EBUSY


class GpuvmWarning(UserWarning):
    """A kernel WARN raised by the C core (the C code then continued, as the
    kernel does), or an insert that failed while applying ops."""


_BY_ERRNO: dict[int, type[GpuvmError]] = {
    cls.errno: cls
    for cls in (
        InvalidRangeError,
        OverlapError,
        OutOfMemoryError,
        DeadlockError,
        AlreadyLockedError,
        NotFoundError,
        NotSupportedError,
        InterruptedWaitError,
        StaleOpsError,
        DetachedError,
        VMBusyError,
    )
}


def error_from_errno(err: int, message: str | None = None) -> GpuvmError:
    """The exception for a C return value ``err`` (a negative errno; the sign is ignored)."""
    code = abs(int(err))
    cls = _BY_ERRNO.get(code)
    if cls is None:
        return GpuvmError(message, errno=code)
    return cls(message)
