"""The finalizer guard (pygpuvm._util.gc_hold/gc_release, pygpuvm/_gcguard.c)."""

from __future__ import annotations

import gc
import threading

import pytest

from pygpuvm import _gcguard
from pygpuvm._util import gc_hold, gc_release


def test_holds_nest_and_restore_an_enabled_collector() -> None:
    assert gc.isenabled() and _gcguard.holds() == 0
    gc_hold()
    gc_hold()
    assert not gc.isenabled() and _gcguard.holds() == 2
    gc_release()
    assert not gc.isenabled()
    gc_release()
    assert gc.isenabled() and _gcguard.holds() == 0


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        gc_hold()
        gc_release()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_release_without_hold_is_an_error_and_changes_nothing() -> None:
    with pytest.raises(RuntimeError, match="without gc_hold"):
        gc_release()
    assert gc.isenabled() and _gcguard.holds() == 0


def test_holds_overlapping_across_threads() -> None:
    # Thread A holds, B holds, A releases: still held until B releases.
    a_held, b_held, a_done = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def a() -> None:
        gc_hold()
        a_held.set()
        b_held.wait()
        gc_release()
        a_done.set()

    def b() -> None:
        a_held.wait()
        gc_hold()
        b_held.set()
        a_done.wait()
        seen.append(gc.isenabled())
        gc_release()

    ts = [threading.Thread(target=f) for f in (a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == [False]
    assert gc.isenabled() and _gcguard.holds() == 0


def test_no_collection_runs_finalizers_while_held() -> None:
    ran: list[int] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            ran.append(1)

    gc.collect()
    gc_hold()
    try:
        for _ in range(20000):   # well past the collector's allocation threshold
            Cycle()
        assert ran == []
    finally:
        gc_release()
    gc.collect()
    assert len(ran) == 20000
