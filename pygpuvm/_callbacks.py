"""C -> Python callbacks (``extern "Python"`` in ``_cdef/pyhelpers.h``).

Protocol (pygit2's): a C call that may call back receives ``ffi.new_handle(payload)``
as its ``priv`` pointer; the payload object is kept alive by the caller for the
whole C call. A callback never lets an exception escape into C: it stores the
exception on the payload and returns an error code, which makes the C walk stop;
the caller re-raises the stored exception (with its traceback) once the C call
has returned (:meth:`Payload.reraise`).

WARNs are deferred: a WARN fires inside C, possibly while C holds locks (an
evict-list spinlock, a resv), so no Python code may run there (a warning hook
or a finalizer that the hook's allocations trigger could call back into the
same VM and take those locks again). The C core queues each WARN in the
raising thread (``gpuvm_warn_queue``, csrc/standin/bug.c), and
:func:`raise_pending`, which every class method calls once its C call has
returned, emits them as :class:`~pygpuvm.GpuvmWarning` with
:func:`warnings.warn`, in that thread. A WARN raised outside any pygpuvm call
(a finalizer releasing a C object, teardown) is emitted by the thread's next
call, or at interpreter exit. If the warning filters turn a warning into an
exception, the exception is kept per thread and raised by the same
:func:`raise_pending`.
"""

from __future__ import annotations

import atexit
import errno
import threading
import warnings
from typing import Any, cast

from ._gpuvm import ffi, lib
from .errors import GpuvmWarning

__all__ = ["Payload", "raise_pending"]

_tls = threading.local()
# PENDING[0]: how many threads have a pending exception. Hot paths test this
# list item (one load) and only then look at their thread-local slot.
PENDING = [0]
# gpuvm_warn_nqueued (WARNs queued in C, any thread) through a pointer:
# WARN_QUEUED[0] costs less than the lib attribute on hot paths.
WARN_QUEUED = ffi.addressof(cast(Any, lib), "gpuvm_warn_nqueued")
_pending_lock = threading.Lock()


def raise_pending() -> None:
    """Emit this thread's queued WARNs; raise the exception one turned into, if any."""
    if WARN_QUEUED[0]:
        emit_queued()
    if not PENDING[0]:
        return
    exc = getattr(_tls, "pending", None)
    if exc is not None:
        _tls.pending = None
        with _pending_lock:
            PENDING[0] -= 1
        raise exc


# What a callback may return as an errno: 0 or a negative errno the size of
# the kernel's (MAX_ERRNO); anything else would not fit the C int or means nothing.
_MAX_ERRNO = 4095


def errno_result(what: str, ret: Any) -> int:
    """A driver callback's return value checked: None/0 continue, a negative errno stops."""
    if ret is None:
        return 0
    if isinstance(ret, bool) or not isinstance(ret, int):
        raise TypeError(f"{what} must return None or an int errno, not {type(ret).__name__}")
    if not -_MAX_ERRNO <= ret <= 0:
        raise ValueError(f"{what} must return None, 0 or a negative errno "
                         f"(>= -{_MAX_ERRNO}), not {ret}")
    return int(ret)


def _set_pending(exc: BaseException) -> None:
    if getattr(_tls, "pending", None) is None:
        _tls.pending = exc
        with _pending_lock:
            PENDING[0] += 1


class Payload:
    """Python side of one C call that calls back (see the module docstring)."""

    __slots__ = ("exc",)

    def __init__(self) -> None:
        self.exc: BaseException | None = None

    def step(self, op: Any, name: str) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def insert_failed(self, piece: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def validate(self, vm_bo: Any, exec_: Any) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def reraise(self) -> None:
        exc = self.exc
        if exc is not None:
            self.exc = None
            raise exc


def emit_queued(stacklevel: int = 3) -> None:
    """Pop this thread's queued WARNs (C) and emit each as a GpuvmWarning."""
    file = ffi.new("const char **")
    line = ffi.new("int *")
    msg = ffi.new("char[]", 512)
    texts = []
    while lib.gpuvm_warn_pop(file, line, msg, 512):
        where = ffi.string(file[0]).decode("utf-8", "replace") if file[0] != ffi.NULL else "?"
        texts.append(f"{ffi.string(msg).decode('utf-8', 'replace')} [{where}:{line[0]}]")
    for text in texts:
        try:
            warnings.warn(GpuvmWarning(text), stacklevel=stacklevel)
        except BaseException as exc:  # noqa: BLE001 - raised by raise_pending
            _set_pending(exc)


@ffi.def_extern()
def _pygpuvm_warn_hook(file: Any, line: int, msg: Any, data: Any) -> None:
    try:
        text = ffi.string(msg).decode("utf-8", "replace") if msg != ffi.NULL else "WARN"
        where = ffi.string(file).decode("utf-8", "replace") if file != ffi.NULL else "?"
        warnings.warn(GpuvmWarning(f"{text} [{where}:{line}]"), stacklevel=2)
    except BaseException as exc:  # noqa: BLE001 - must not propagate into C
        _set_pending(exc)


def _call_step(op: Any, priv: Any, name: str) -> int:
    if priv == ffi.NULL:
        # A raw drm_gpuvm_sm_map() on a pygpuvm VM without a payload.
        return -errno.EINVAL
    payload: Payload = ffi.from_handle(priv)
    if payload.exc is not None:
        return -errno.ECANCELED
    try:
        return int(payload.step(op, name))
    except BaseException as exc:  # noqa: BLE001
        payload.exc = exc
        return -errno.ECANCELED


@ffi.def_extern(error=-errno.ECANCELED)
def _pygpuvm_sm_step_map(op: Any, priv: Any) -> int:
    return _call_step(op, priv, "sm_step_map")


@ffi.def_extern(error=-errno.ECANCELED)
def _pygpuvm_sm_step_remap(op: Any, priv: Any) -> int:
    return _call_step(op, priv, "sm_step_remap")


@ffi.def_extern(error=-errno.ECANCELED)
def _pygpuvm_sm_step_unmap(op: Any, priv: Any) -> int:
    return _call_step(op, priv, "sm_step_unmap")


@ffi.def_extern(error=-errno.ECANCELED)
def _pygpuvm_vm_bo_validate(vm_bo: Any, exec_: Any) -> int:
    handle = lib.pygpuvm_vm_get_handle(vm_bo.vm)
    if handle == ffi.NULL:
        return -errno.EOPNOTSUPP
    payload: Payload = ffi.from_handle(handle)
    if payload.exc is not None:
        return -errno.ECANCELED
    try:
        return int(payload.validate(vm_bo, exec_))
    except BaseException as exc:  # noqa: BLE001
        payload.exc = exc
        return -errno.ECANCELED


@ffi.def_extern()
def _pygpuvm_insert_failed(piece: Any, priv: Any) -> None:
    payload: Payload = ffi.from_handle(priv)
    try:
        payload.insert_failed(piece)
    except BaseException as exc:  # noqa: BLE001
        if payload.exc is None:
            payload.exc = exc


def _uninstall_warn_hook() -> None:
    # Emit what this thread still has queued; WARNs during interpreter teardown
    # must not call into a dying interpreter: from here on C prints them.
    try:
        emit_queued(2)
    except BaseException:  # noqa: BLE001
        pass
    lib.gpuvm_warn_queue(False)
    lib.gpuvm_set_warn_hook(ffi.cast("gpuvm_warn_fn", 0), ffi.NULL)


# Realise the C types the classes use now, in the importing thread: cffi builds
# them lazily, and doing it here keeps that out of concurrent first uses.
for _ctype in ("struct gpuvm_bind_req[]", "struct drm_gpuva *[]",
               "struct drm_gpuvm_bo *[]", "struct pygpuvm_apply_result *",
               "struct drm_gpuvm_exec *", "struct drm_gpuvm_map_req *", "int *", "int[]",
               "u64[]", "u64 *", "unsigned char[]", "struct drm_gem_object *[]",
               "struct gpuvm_batch_result *", "struct drm_gpuva *", "struct drm_gpuvm *"):
    ffi.typeof(_ctype)
del _ctype

lib.pygpuvm_install_warn_hook()
lib.gpuvm_warn_queue(True)
atexit.register(_uninstall_warn_hook)
