"""pygpuvm.Fence: signal, wait (with timeouts and from other threads), errors,
references held by reservation objects, garbage collection."""

from __future__ import annotations

import errno
import gc
import threading
import time
import warnings

import pytest

import pygpuvm
from pygpuvm.fence import Fence, ResvUsage
from pygpuvm.raw import ffi, lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")


def test_usage_enum_matches_c():
    assert ResvUsage.KERNEL == lib.DMA_RESV_USAGE_KERNEL
    assert ResvUsage.WRITE == lib.DMA_RESV_USAGE_WRITE
    assert ResvUsage.READ == lib.DMA_RESV_USAGE_READ
    assert ResvUsage.BOOKKEEP == lib.DMA_RESV_USAGE_BOOKKEEP
    assert ResvUsage.KERNEL < ResvUsage.WRITE < ResvUsage.READ < ResvUsage.BOOKKEEP


def test_contexts_and_seqno():
    a, b = Fence(), Fence()
    assert a.context != b.context                 # each gets a fresh timeline
    assert a.seqno == 0
    c = Fence(context=a.context, seqno=7)
    assert (c.context, c.seqno) == (a.context, 7)
    first = Fence.new_context(3)
    assert Fence().context >= first + 3           # the 3 ids were reserved
    with pytest.raises(ValueError):
        Fence.new_context(0)
    with pytest.raises(TypeError):
        Fence(context="x")                        # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fence(seqno=-1)


def test_signal_once():
    f = Fence()
    assert not f.signaled
    assert "pending" in repr(f)
    assert f.signal() is True
    assert f.signaled
    assert f.signal() is False                    # already signalled: not an error
    assert f.signaled and "signaled" in repr(f)


def test_wait_timeout_and_poll():
    f = Fence()
    assert f.wait(0) is False                     # poll
    t0 = time.monotonic()
    assert f.wait(0.02) is False
    assert time.monotonic() - t0 >= 0.015         # it did wait (timer slack allowed)
    f.signal()
    assert f.wait(0) is True
    assert f.wait(None) is True                   # returns at once when signalled
    assert f.wait(10) is True


def test_wait_bad_arguments():
    f = Fence()
    for bad in (-1, -0.5, float("nan")):
        with pytest.raises(ValueError):
            f.wait(bad)
    with pytest.raises(TypeError):
        f.wait("1")                               # type: ignore[arg-type]
    with pytest.raises(TypeError):
        f.wait(True)                              # type: ignore[arg-type]


def test_wait_from_another_thread():
    f = Fence()
    result: list[bool] = []
    started = threading.Event()

    def waiter():
        started.set()
        result.append(f.wait(None))               # GIL released while waiting

    t = threading.Thread(target=waiter)
    t.start()
    started.wait()
    time.sleep(0.01)
    assert not result                             # still waiting
    f.signal()
    t.join(30)
    assert not t.is_alive()
    assert result == [True]


def test_signal_from_another_thread():
    f = Fence()
    t = threading.Timer(0.01, f.signal)
    t.start()
    assert f.wait(30) is True
    t.join()


def test_many_waiters_one_signal():
    f = Fence()
    results: list[bool] = []
    lock = threading.Lock()

    def waiter():
        ok = f.wait(30)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=waiter) for _ in range(8)]
    for t in threads:
        t.start()
    f.signal()
    for t in threads:
        t.join(30)
    assert results == [True] * 8


def test_error():
    f = Fence()
    assert f.error == 0
    f.set_error(-errno.EIO)
    assert f.error == -errno.EIO and "error=" in repr(f)
    f.signal()
    assert f.signaled and f.error == -errno.EIO
    with pytest.raises(ValueError):
        f.set_error(-errno.EINVAL)               # signalled: refused, unchanged
    assert f.error == -errno.EIO
    g = Fence()
    for bad in (0, 5, -5000, True):
        with pytest.raises(ValueError):
            g.set_error(bad)
    assert g.error == 0


def _resv_add(resv, fence: Fence, usage: int) -> None:
    assert lib.dma_resv_lock(resv, ffi.NULL) == 0
    assert lib.dma_resv_reserve_fences(resv, 1) == 0
    lib.dma_resv_add_fence(resv, fence._ptr, usage)
    lib.dma_resv_unlock(resv)


def test_refcount_resv_keeps_fence_alive():
    bo = pygpuvm.GemObject(0x1000)
    resv = bo._ptr.resv
    f = Fence()
    assert f.refcount == 1
    _resv_add(resv, f, ResvUsage.WRITE)
    assert f.refcount == 2                        # the resv slot holds one
    assert lib.dma_resv_fence_count(resv, ResvUsage.WRITE) == 1
    assert not lib.dma_resv_test_signaled(resv, ResvUsage.WRITE)
    before = lib.gpuvm_alloc_live()
    del f
    gc.collect()
    assert lib.gpuvm_alloc_live() == before       # still alive in the resv
    assert lib.dma_resv_fence_count(resv, ResvUsage.WRITE) == 1
    # A wait through the resv: times out until the fence is signalled.
    assert lib.dma_resv_wait_timeout(resv, ResvUsage.WRITE, False, 1000) == 0


def test_gc_frees_fence():
    gc.collect()
    before = lib.gpuvm_alloc_live()
    fences = [Fence() for _ in range(10)]
    assert lib.gpuvm_alloc_live() == before + 10
    fences[3].signal()
    del fences
    gc.collect()
    assert lib.gpuvm_alloc_live() == before


def test_resv_fence_replaced_by_same_context():
    bo = pygpuvm.GemObject(0x1000)
    resv = bo._ptr.resv
    f1 = Fence()
    f2 = Fence(context=f1.context, seqno=1)
    _resv_add(resv, f1, ResvUsage.READ)
    _resv_add(resv, f2, ResvUsage.READ)           # same timeline and usage: replaces f1
    assert lib.dma_resv_fence_count(resv, ResvUsage.BOOKKEEP) == 1
    assert f1.refcount == 1 and f2.refcount == 2


def test_fence_enomem():
    lib.gpuvm_alloc_fail_nth(1)
    try:
        with pytest.raises(pygpuvm.OutOfMemoryError):
            Fence()
    finally:
        lib.gpuvm_alloc_fail_nth(0)
    assert Fence().signal()


def test_set_error_race_warns_not_crashes():
    # The C side WARNs (does not refuse) when set_error races with signal.
    f = Fence()
    f.signal()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        lib.dma_fence_set_error(f._ptr, -errno.EIO)
        pygpuvm.raw.flush_warnings()       # raw calls: WARNs are queued until here
    assert any(issubclass(x.category, pygpuvm.GpuvmWarning) for x in w)
