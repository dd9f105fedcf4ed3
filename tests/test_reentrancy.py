"""Regression tests: Python code that used to crash, hang or
misbehave pygpuvm through re-entrancy, copies, cross-thread close and WARN hooks.

Scripts that used to abort the interpreter (use-after-free, a C BUG) or spin
forever run in a child process with a timeout, so a regression fails one test
instead of killing the run; the rest run in process.
"""

from __future__ import annotations

import copy
import gc
import pickle
import subprocess
import tempfile
import sys
import textwrap
import threading
import time
import warnings

import pytest

import pygpuvm
from pygpuvm import errors

pytestmark = pytest.mark.usefixtures("no_c_leaks")


def run_script(src: str, timeout: float = 60) -> str:
    """Run ``src`` in a fresh interpreter; it must exit 0. Returns its stdout."""
    # Run outside the checkout: there `import pygpuvm` would find the source tree
    # (no compiled extension) instead of the installed package.
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(src)], capture_output=True,
                          text=True, timeout=timeout, cwd=tempfile.mkdtemp())
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}")
    return proc.stdout


# ------------------------------------------------------------ finalizers mid-read

FINALIZER_PRELUDE = """
    import gc, pygpuvm
    vm = pygpuvm.VM()
    objs = [pygpuvm.GemObject(0x1000, name=f"B{i}") for i in range(200)]
    for i, o in enumerate(objs):
        vm.map(0x10000 + i * 0x1000, 0x1000, o, 0)
    del objs, o

    class Bomb:
        def __init__(self):
            self.me = self          # cyclic garbage: only the collector frees it
        def __del__(self):
            ACTION()
"""


@pytest.mark.parametrize("query", ["list(vm)", "vm.vas()", "vm.spans()", "vm.vas(0x10000, 0x100000)",
                                   "vm.find(0x10000, 0x1000)", "vm.extobjs"])
def test_finalizer_closing_the_vm_during_a_query(query):
    # A collection in the middle of decoding records ran __del__ -> vm.close(),
    # and the rest of the records named freed GEMs and VAs (heap-use-after-free).
    out = run_script(FINALIZER_PRELUDE + f"""
    ACTION = vm.close
    gc.collect()
    gc.set_threshold(40)
    Bomb()
    try:
        out = {query}
    except pygpuvm.DetachedError:
        out = None
    gc.set_threshold(700)
    gc.collect()
    assert vm.closed
    if isinstance(out, list):
        for x in out:
            if isinstance(x, pygpuvm.Va):
                assert not x.mapped
    print("ok")
    """)
    assert out.strip() == "ok"


@pytest.mark.parametrize("query", ["list(vm)", "vm.vas()", "vm.spans()"])
def test_finalizer_unmapping_during_a_query(query):
    # The same with vm.unmap(): the query returned wrappers saying "mapped"
    # for VAs the VM had freed, and va.invalidate() wrote freed memory.
    run_script(FINALIZER_PRELUDE + f"""
    ACTION = lambda: vm.unmap(0x10000, 200 * 0x1000)
    gc.collect()
    gc.set_threshold(40)
    Bomb()
    out = {query}
    gc.set_threshold(700)
    gc.collect()
    assert len(vm) == 0
    vas = [x for x in out if isinstance(x, pygpuvm.Va)]
    assert not any(va.mapped for va in vas), sum(va.mapped for va in vas)
    for va in vas:
        try:
            va.invalidate()
        except pygpuvm.DetachedError:
            pass
    vm.close()
    """)


# ------------------------------------------------------------ validate callbacks


def test_close_inside_validate_callback_is_refused():
    # The library marked the (freed) vm_bo valid after the callback closed the VM.
    out = run_script("""
    import pygpuvm
    vm = pygpuvm.VM(resv_protected=True)
    bo = vm.new_private_object(0x10000)
    vm.map(0x10000, 0x10000, bo, 0)
    vb = vm.obtain(bo)
    vb.evict(True)
    def fn(v):
        vm.close()
    try:
        vm.validate(fn)
    except pygpuvm.VMBusyError as e:
        print("busy", e)
    assert not vm.closed
    vm.close()
    """)
    assert out.startswith("busy")


@pytest.mark.parametrize("resv_protected", [True, False])
def test_validate_callback_evicting_another_vm_bo_gets_a_clear_error(resv_protected):
    # Marking another evicted vm_bo valid removed the walk's saved next entry:
    # the RESV_PROTECTED walk span forever on a self-linked node.
    out = run_script(f"""
    import pygpuvm
    vm = pygpuvm.VM(resv_protected={resv_protected})
    objs = [vm.new_private_object(0x10000) for _ in range(3)]
    vbs = [vm.obtain(o) for o in objs]
    for v in vbs:
        v.evict(True)
    calls = [0]
    def fn(v):
        calls[0] += 1
        if calls[0] > 100:
            raise SystemExit("hang: %d calls" % calls[0])
        vbs[1].evict(False)
    try:
        vm.validate(fn)
    except pygpuvm.VMBusyError as e:
        print("busy", calls[0])
    # Nothing is lost: the list still has every vm_bo, a plain walk validates them.
    assert len(vm.evicted_bos) == 3
    vm.validate()
    assert vm.evicted_bos == []
    vm.close()
    """, timeout=30)
    assert out.split() == ["busy", "1"]


def test_nested_validate_is_refused_with_vm_busy():
    vm = pygpuvm.VM(resv_protected=True)
    objs = [vm.new_private_object(0x10000) for _ in range(2)]
    vbs = [vm.obtain(o) for o in objs]
    for v in vbs:
        v.evict(True)
    with pytest.raises(pygpuvm.VMBusyError, match="validate"):
        vm.validate(lambda v: vm.validate(lambda w: None))
    vm.validate()
    assert vm.evicted_bos == []
    del vbs
    vm.close()


@pytest.mark.parametrize("resv_protected", [True, False])
def test_nested_validate_with_the_transaction_is_refused_with_vm_busy(resv_protected):
    # The form: vm.validate(ex) (and ex.validate) inside a validate
    # callback raised a bare ENOTSUP in RESV_PROTECTED mode.
    vm = pygpuvm.VM(resv_protected=resv_protected)
    objs = [vm.new_private_object(0x10000) for _ in range(2)]
    vbs = [vm.obtain(o) for o in objs]
    for v in vbs:
        v.evict(True)
    with vm.exec_lock() as ex:
        with pytest.raises(pygpuvm.VMBusyError, match="validate"):
            vm.validate(ex, lambda v: vm.validate(ex, lambda w: None))
        with pytest.raises(pygpuvm.VMBusyError, match="validate"):
            ex.validate(lambda v: ex.validate(lambda w: None))
        vm.validate(ex)
    assert vm.evicted_bos == []
    del vbs, v
    vm.close()


@pytest.mark.parametrize("resv_protected", [True, False])
def test_validate_callback_may_query_and_change_the_vm(resv_protected):
    # What docs/python.md promises a validate callback: the VM's queries and
    # binds work; deferred_cleanup() (it would free vm_bos of the walked list)
    # and close(), also from a finalizer the callback triggers, are refused.
    vm = pygpuvm.VM(resv_protected=resv_protected, immediate=True)
    bo = vm.new_private_object(0x10000)
    vm.map(0x10000, 0x1000, bo)
    vb = vm.obtain(bo)
    vb.evict(True)
    seen: list[object] = []

    class Bomb:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            try:
                vm.close()
            except pygpuvm.VMBusyError:
                seen.append("finalizer busy")

    def fn(v):
        with pytest.raises(pygpuvm.VMBusyError, match="deferred_cleanup"):
            vm.deferred_cleanup()
        seen.append(len(vm.vas()))
        vm.map(0x20000, 0x1000)
        seen.append(len(vm))
        vm.unmap(0x20000, 0x1000)
        Bomb()
        gc.collect()

    vm.validate(fn)
    assert seen == [1, 2, "finalizer busy"]
    assert not vm.closed and len(vm) == 1 and vm.evicted_bos == []
    del vb
    vm.close()


def test_close_from_a_step_callback_is_refused_with_vm_busy():
    vm = pygpuvm.VM()

    class Steps:
        def sm_step_map(self, op):
            vm.close()

        sm_step_remap = sm_step_unmap = sm_step_map

    with pytest.raises(pygpuvm.VMBusyError, match="close"):
        vm.sm_map(0x10000, 0x1000, steps=Steps())
    assert not vm.closed and len(vm) == 0
    vm.close()


@pytest.mark.parametrize("value", [1 << 80, -(1 << 80)])
def test_callback_returning_a_huge_int_is_a_clear_error(value):
    vm = pygpuvm.VM(resv_protected=True)
    bo = vm.new_private_object(0x10000)
    vb = vm.obtain(bo)
    vb.evict(True)
    with pytest.raises(ValueError, match="errno"):
        vm.validate(lambda v: value)

    class Steps:
        def sm_step_map(self, op):
            return value

    with pytest.raises(ValueError, match="errno"):
        vm.sm_map(0x10000, 0x1000, steps=Steps())
    vm.validate()
    del vb
    vm.close()


def test_steps_without_sm_step_map_is_a_type_error():
    vm = pygpuvm.VM()

    class Steps:
        def sm_step_unmap(self, op):
            return None

    with pytest.raises(TypeError, match="sm_step_map"):
        vm.sm_map(0x10000, 0x1000, steps=Steps())
    assert len(vm) == 0
    vm.close()


# ------------------------------------------------------------ copies and pickles


def _wrappers():
    vm = pygpuvm.VM(name="cp")
    bo = pygpuvm.GemObject(0x10000, name="A")
    vm.map(0x10000, 0x1000, bo, 0)
    va = vm.find(0x10000, 0x1000)
    vb = vm.find_vm_bo(bo)
    ops = vm.sm_unmap(0x10000, 0x1000)
    fence = pygpuvm.Fence()
    ex = vm.exec_lock()
    return vm, [vm, bo, va, vb, ops, fence, ex]


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_wrappers_refuse_copy_and_pickle(how):
    fn = {"copy": copy.copy, "deepcopy": copy.deepcopy,
          "pickle": lambda o: pickle.dumps(o, protocol=pickle.HIGHEST_PROTOCOL)}[how]
    vm, objs = _wrappers()
    for obj in objs:
        with pytest.raises(TypeError) as info:
            fn(obj)
        text = str(info.value)
        assert type(obj).__name__ in text and "RLock" not in text and "CData" not in text
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(vm, protocol=proto)
    vm.close()


def test_copy_of_vm_no_longer_frees_the_original():
    vm = pygpuvm.VM()
    with pytest.raises(TypeError):
        copy.copy(vm).close()
    vm.map(0x10000, 0x1000)
    assert len(vm) == 1
    vm.close()


def test_batch_copies_are_independent():
    bo = pygpuvm.GemObject(0x1000)
    b = pygpuvm.Batch([("map", 0x10000, 0x1000, bo, 0)])
    for c in (copy.copy(b), copy.deepcopy(b)):
        c.unmap(0x10000, 0x1000)
        assert len(c) == 2 and len(b) == 1
        assert c.objects[0] is bo
    with pytest.raises(TypeError, match="Batch"):
        pickle.dumps(b)


# ------------------------------------------------------------ other threads


def test_cross_thread_close_while_a_vm_bo_read_waits():
    # Thread B waited in C on the VM resv (held by A's exec block) to read a
    # vm_bo that A's close() then freed: B read freed memory.
    vm = pygpuvm.VM(resv_protected=True)
    bo = pygpuvm.GemObject(0x10000)
    vb = vm.obtain(bo)
    res: list[object] = []
    started = threading.Event()

    def reader():
        started.set()
        try:
            res.append(vb.on_extobj_list)
        except pygpuvm.DetachedError:
            res.append("detached")

    with vm.exec_lock():
        t = threading.Thread(target=reader)
        t.start()
        started.wait()
        time.sleep(0.2)         # let B block (the outcome does not depend on it)
        vm.close()
    t.join()
    assert res == ["detached"]


@pytest.mark.parametrize("how", ["own block", "another VM's block"])
def test_close_with_the_vm_resv_held_frees_the_vm(how):
    # An unmap left zombie vm_bos whose cleanup needs the VM resv, held by an
    # exec block; close() then skipped the cleanup and the zombies' references
    # kept the C VM alive forever (10 allocations leaked, found by fuzz_api).
    vm = pygpuvm.VM(resv_protected=True, immediate=True)
    p = vm.new_private_object(0x10000)
    a = pygpuvm.GemObject(0x10000)
    vm.map(0x10000, 0x1000, p)
    vm.map(0x20000, 0x1000, a)
    other = pygpuvm.VM()
    block = vm.exec_lock() if how == "own block" else other.exec_lock(objects=[p])
    with block:
        vm.unmap(0x10000, 0x20000)
        vm.close()
    other.close()
    del p, a
    gc.collect()
    # no_c_leaks checks that every C allocation is gone.


def test_batch_append_during_run_batch_from_another_thread():
    # Batch.append while run_batch reads the words raised BufferError.
    vm = pygpuvm.VM()
    b = pygpuvm.Batch()
    for i in range(20000):
        b.map(0x10000 + i * 0x1000, 0x1000)
    stop = threading.Event()
    errs: list[BaseException] = []

    def appender():
        while not stop.is_set():
            try:
                b.unmap(0x10000, 0x1000)
            except BaseException as exc:  # noqa: BLE001
                errs.append(exc)
                return

    t = threading.Thread(target=appender)
    t.start()
    try:
        for _ in range(5):
            vm.run_batch(b)
    finally:
        stop.set()
        t.join()
    assert not errs or all(isinstance(e, pygpuvm.VMBusyError) for e in errs), errs
    vm.close()


# ------------------------------------------------------------ WARN hooks


def test_warning_hook_reading_the_vm_during_a_c_warn():
    # A WARN inside the C evict-list walk called Python with the evict lock
    # held; a showwarning reading vm.evicted_bos re-took it: recursive mutex, abort.
    out = run_script("""
    import warnings, pygpuvm
    vm = pygpuvm.VM()
    bo = vm.new_private_object(0x10000)
    vb = vm.obtain(bo)
    vb.evict(True)
    seen = []
    def show(message, category, filename, lineno, file=None, line=None):
        seen.append(len(vm.evicted_bos))
    warnings.showwarning = show
    warnings.simplefilter("always")
    def fn(v):
        try:
            vm.validate(lambda w: None)
        except pygpuvm.GpuvmError as e:
            seen.append(type(e).__name__)
    vm.validate(fn)
    print(seen)
    """)
    assert "VMBusyError" in out


def test_warn_is_emitted_after_the_call_in_the_calling_thread():
    vm = pygpuvm.VM()
    inside = []

    def show(message, category, filename, lineno, file=None, line=None):
        inside.append(str(message))
        inside.append(len(vm))           # the VM is usable from the hook

    old = warnings.showwarning
    warnings.showwarning = show
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            from pygpuvm.raw import ffi, lib
            lib.gpuvm_warn(b"here.c", 7, b"%s", ffi.new("char[]", b"queued warn"))
            # Raised by C outside any pygpuvm call: emitted by the next call.
            assert inside == []
            len(vm.vas())
    finally:
        warnings.showwarning = old
    assert inside == ["queued warn [here.c:7]", 0]
    vm.close()


def test_warn_queued_before_a_failing_call_waits_for_the_next_call():
    # A method that raises leaves the thread's queued WARNs to its next call.
    vm = pygpuvm.VM()
    from pygpuvm.raw import ffi, lib
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        lib.gpuvm_warn(b"here.c", 9, b"%s", ffi.new("char[]", b"left queued"))
        with pytest.raises(pygpuvm.InvalidRangeError):
            vm.map(0, 0x1000)                       # the reserved node: EINVAL from C
        assert [str(w.message) for w in seen] == []
        len(vm.vas())
        assert [str(w.message) for w in seen] == ["left queued [here.c:9]"]
    vm.close()


# ------------------------------------------------------------ argument checks


def test_fence_wait_infinite_timeout():
    f = pygpuvm.Fence()
    f.signal()
    assert f.wait(float("inf")) is True
    assert f.wait(1e300) is True
    g = pygpuvm.Fence()
    threading.Timer(0.05, g.signal).start()
    assert g.wait(float("inf")) is True


@pytest.mark.parametrize("code", [1 << 31, 1 << 70, -(1 << 70)])
def test_out_of_range_errno(code):
    err = errors.error_from_errno(code, "x")
    assert type(err) is pygpuvm.GpuvmError
    assert "x" in str(err)


def test_vm_name_with_nul_is_refused():
    with pytest.raises(ValueError, match="NUL"):
        pygpuvm.VM(name="a\0b")
    gc.collect()


# ------------------------------------------------------------ replay tools


@pytest.mark.parametrize("cmd", ["replay", "show"])
@pytest.mark.parametrize("line", ["map {n} 0x1000 - 0", "map 0x10000 {n} - 0",
                                  "vm 0 {n}", "bo A {n}"])
def test_replay_tools_on_numbers_past_the_int_digit_limit(tmp_path, cmd, line):
    # Python's 4300-digit int limit gave a traceback and exit 1.
    path = tmp_path / "big.trace"
    body = line.format(n="1" * 5000)
    if line.startswith("vm"):
        path.write_text(body + "\n")
        where = 1
    else:
        path.write_text("vm 0 0x1000000000000 0 0x1000\nbo A\n" + body + "\n")
        where = 3
    proc = subprocess.run([sys.executable, "-m", "pygpuvm", cmd, str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"line {where}" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr) < 1000
