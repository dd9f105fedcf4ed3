"""vm.table(): the columnar query (csrc/driver/va_table.c) against vm.vas()."""

from __future__ import annotations

import random

import pytest

import pygpuvm
from pygpuvm.table import COLUMNS, FLAG_KERNEL, Table


@pytest.fixture
def vm():
    vm = pygpuvm.VM(start=0, range=1 << 40, reserve=(0, 0x10000), name="t")
    yield vm
    vm.close()


def expected(vm, start, end, reserved=False):
    out = []
    for va in vm.vas(start, end, reserved=reserved):
        key = va.obj._key if va.obj is not None else 0
        out.append((va.addr, va.range, va.offset, key, va.flags | (FLAG_KERNEL if va.kernel else 0)))
    return out


def test_columns_match_vas_on_random_layouts(vm):
    rng = random.Random(7)
    bos = [pygpuvm.GemObject(1 << 30, name=f"o{i}") for i in range(3)] + [None]
    for _ in range(400):
        a = rng.randrange(0x10, 0x4000) * 0x1000
        vm.map(a, rng.randrange(1, 64) * 0x1000, rng.choice(bos), rng.randrange(64) * 0x1000)
        if rng.random() < 0.3:
            vm.unmap(rng.randrange(0x10, 0x4000) * 0x1000, rng.randrange(1, 32) * 0x1000)
    t = vm.table()
    assert len(t) == len(vm) and t.rows() == expected(vm, 0, 1 << 64)
    assert vm.table(reserved=True).rows() == expected(vm, 0, 1 << 64, reserved=True)
    for _ in range(300):
        a = rng.randrange(0, 0x4100) * 0x1000 + rng.choice((0, 1, 0xfff))
        b = a + rng.choice((1, 0x1000, 0x10000, 0x400000, 0x4000000))
        t = vm.table(a, b)
        assert t.rows() == expected(vm, a, b), (hex(a), hex(b))
        assert (t.start, t.end) == (a, b)
        assert t.addr.tolist() == [r[0] for r in t.rows()]
        assert t.addr.format == "Q" and t.addr.itemsize == 8


def _items(t):
    """A Table's tuple items, its data as bytes."""
    items = [tuple.__getitem__(t, i) for i in range(tuple.__len__(t))]
    return [bytes(items[0])] + items[1:]


def test_c_fast_path_gives_the_reference_table(vm):
    # vm.table(start, end) with plain ints is answered by pygpuvm/_tableq.c;
    # pygpuvm.table.query is the Python reference it must equal, item by item.
    from pygpuvm import table as tablemod

    assert type(pygpuvm.VM.table).__name__ == "method_descriptor"
    rng = random.Random(13)
    bos = [pygpuvm.GemObject(1 << 30, name=f"o{i}") for i in range(2)] + [None]
    # 64 rows fit the C path's stack buffer, 65 take its heap path.
    for n in (63, 64, 65, 200):
        base = 0x1_0000_0000 + n * 0x100_0000
        for i in range(n):
            vm.map(base + i * 0x2000, 0x1000, rng.choice(bos), i * 0x1000)
        t = vm.table(base, base + n * 0x2000)
        assert len(t) == n and _items(t) == _items(tablemod.query(vm, base, base + n * 0x2000))
        assert t.rows() == expected(vm, base, base + n * 0x2000)
        ref = tablemod.query(vm, base, base + n * 0x2000)  # bytes; cffi buffer from 56 rows
        sub = vm.tables([(0, 0x1000), (base, base + n * 0x2000)])[1]  # ...and a Tables view
        for i, c in enumerate(COLUMNS):
            want = [r[i] for r in t.rows()]
            for x in (t, ref, sub):
                col = getattr(x, c)
                assert col.readonly and col.format == "Q" and col.tolist() == want
                assert x.column(c).tolist() == want
    for _ in range(300):
        a = rng.randrange(0, 0x1_1000_0000 // 0x1000) * 0x1000 + rng.choice((0, 1, 0xfff))
        b = a + rng.choice((1, 0x1000, 0x10000, 0x1000000, 0x80000000))
        assert _items(vm.table(a, b)) == _items(tablemod.query(vm, a, b)), (hex(a), hex(b))
    # Copy semantics: a table keeps its rows after the VM changes under it.
    t = vm.table(0x1_0000_0000, 0x2_0000_0000)
    before = t.rows()
    vm.unmap(0x1_0000_0000, 0x1_0000_0000)
    assert len(vm.table(0x1_0000_0000, 0x2_0000_0000)) == 0 and t.rows() == before
    # Calls the C path hands to the reference: the same answers and errors.
    assert vm.table(5, 5).end == 5 and vm.table(9, 5).end == 9
    with pytest.raises(TypeError):
        vm.table(True, 5)
    assert vm.table(0, 1 << 64).rows() == vm.table().rows()
    with pytest.raises(ValueError):
        vm.table(-1, 5)
    with pytest.raises(TypeError):
        vm.table(1.0, 5)
    with pytest.raises(TypeError):
        vm.table(1, 5, 6)
    with pytest.raises(TypeError):
        pygpuvm.VM.table(object(), 1, 5)

    class Sub(pygpuvm.VM):
        pass

    with Sub(range=1 << 40, name="sub") as sub:
        sub.map(0x100000, 0x1000, None, 0)
        assert sub.table(0, 1 << 40).rows() == [(0x100000, 0x1000, 0, 0, 0)]
    vm.close()
    with pytest.raises(pygpuvm.DetachedError):
        vm.table(0, 10)


def test_objects_are_reachable_from_ids(vm):
    a = pygpuvm.GemObject(1 << 20, name="A")
    b = vm.new_private_object(1 << 20, name="B")
    vm.map(0x100000, 0x1000, a, 0)
    vm.map(0x200000, 0x1000, b, 0x1000)
    vm.map(0x300000, 0x1000, None, 0)
    t = vm.table()
    objs = t.objects()
    assert set(objs.values()) == {a, b}
    assert [t.object(i) for i in t.obj_id.tolist()] == [a, b, None]
    assert t.column("offset").tolist() == [0, 0x1000, 0]
    with pytest.raises(KeyError):
        t.column("nope")
    # Lazily resolved ids need the VM unchanged; eager resolution survives changes.
    lazy = vm.table()
    eager = vm.table(objects=True)
    vm.unmap(0x100000, 0x1000)
    with pytest.raises(pygpuvm.StaleOpsError):
        lazy.objects()
    assert eager.object(eager.obj_id[0]) is a
    assert t.objects() is objs  # resolved before the change: kept


def test_ranges_and_arguments(vm):
    vm.map(0x100000, 0x10000, None, 0)
    assert len(vm.table(0x100000, 0x100000)) == 0      # empty range
    assert len(vm.table(0x10ffff, 0x110000)) == 1       # last byte
    assert len(vm.table(0x110000, 1 << 64)) == 0
    assert len(vm.table(0, 0x10000, reserved=True)) == 1
    assert vm.table(0, 0x10000, reserved=True).flags[0] & FLAG_KERNEL
    # Many rows: the first, small attempt is retried with room for all.
    for i in range(100):
        vm.map(0x1000000 + i * 0x2000, 0x1000, None, 0)
    assert len(vm.table(0x1000000, 0x2000000)) == 100
    for bad in ((-1, 10), (0, (1 << 64) + 1), (1 << 64, 1 << 64)):
        with pytest.raises(ValueError):
            vm.table(*bad)
    with pytest.raises(TypeError):
        vm.table("0", 10)
    with pytest.raises(TypeError):
        Table()
    vm.close()
    with pytest.raises(pygpuvm.DetachedError):
        vm.table()


def test_numpy_columns(vm):
    np = pytest.importorskip("numpy", reason="numpy is optional (only Table.to_numpy needs it)")
    vm.map(0x100000, 0x10000, None, 0x5000)
    cols = vm.table().to_numpy()
    assert set(cols) == set(COLUMNS)
    assert cols["addr"].dtype == np.uint64 and cols["offset"].tolist() == [0x5000]


def test_busy_from_a_callback(vm):
    vm.map(0x100000, 0x10000, None, 0)
    seen = []

    class Steps:
        def sm_step_map(self, op):
            with pytest.raises(pygpuvm.VMBusyError):
                vm.table()
            with pytest.raises(pygpuvm.VMBusyError):
                vm.table(0, 1 << 30)  # the C fast path's arguments
            seen.append(op)

        def sm_step_remap(self, op):
            pass

        def sm_step_unmap(self, op):
            pass

    vm.sm_map(0x200000, 0x1000, None, 0, steps=Steps())
    assert seen


def test_tables_answer_each_range_as_table_does(vm):
    rng = random.Random(11)
    bos = [pygpuvm.GemObject(1 << 30, name=f"o{i}") for i in range(2)] + [None]
    for _ in range(300):
        vm.map(rng.randrange(0x10, 0x4000) * 0x1000, rng.randrange(1, 64) * 0x1000,
               rng.choice(bos), rng.randrange(64) * 0x1000)
    ranges = [(0, 1 << 64), (5, 5), (0x9000, 0x3000)]   # everything, empty, end < start
    for _ in range(200):
        a = rng.randrange(0, 0x4100) * 0x1000 + rng.choice((0, 1, 0xfff))
        ranges.append((a, a + rng.choice((1, 0x1000, 0x10000, 0x400000))))
    ranges.append([0x10000, 0x20000])                   # a list pair is accepted
    for reserved in (False, True):
        ts = vm.tables(ranges, reserved=reserved)
        assert len(ts) == len(ranges) and ts.total == sum(ts.counts.tolist())
        rows: list = []
        for i, (a, b) in enumerate(ranges):
            want = vm.table(a, b, reserved=reserved)
            got = ts[i]
            assert got.rows() == want.rows() and len(got) == ts.counts[i]
            assert (got.start, got.end) == (want.start, want.end)
            rows += want.rows()
        assert list(zip(*(ts.column(c).tolist() for c in COLUMNS))) == rows
        assert ts.addr.tolist() == [r[0] for r in rows]
        assert ts.query == [q for q, n in enumerate(ts.counts.tolist()) for _ in range(n)]
        assert [t.rows() for t in ts] == [ts[i].rows() for i in range(len(ts))]
        assert ts[-1].rows() == vm.table(0x10000, 0x20000, reserved=reserved).rows()
    assert set(ts.objects().values()) == set(bos[:2])
    # Only plain (int, int) tuples below 2**64: the other conversion path, same answers.
    plain = [r for r in ranges if type(r) is tuple and r[1] < 1 << 64]
    fast = vm.tables(plain)
    assert [t.rows() for t in fast] == [vm.table(a, b).rows() for a, b in plain]
    assert [(t.start, t.end) for t in fast] == [(a, max(a, b)) for a, b in plain]
    assert len(vm.tables([])) == 0 and vm.tables([]).total == 0


def test_tables_check_every_range_first(vm):
    vm.map(0x100000, 0x10000, None, 0)
    for bad, exc in (([(0, 10), (-1, 10)], ValueError), ([(0, (1 << 64) + 1)], ValueError),
                     ([(0, 10), ("0", 10)], TypeError), ([(0, 10, 3)], TypeError),
                     ([5], TypeError), ("ab", TypeError), ([(True, 10)], TypeError)):
        with pytest.raises(exc):
            vm.tables(bad)
    ts = vm.tables([(0x100000, 0x100001)])
    vm.unmap(0x100000, 0x10000)
    assert ts[0].rows()[0][0] == 0x100000              # a snapshot
    with pytest.raises(pygpuvm.StaleOpsError):
        ts.objects()
    with pytest.raises(TypeError):
        pygpuvm.table.Tables()
    vm.close()
    with pytest.raises(pygpuvm.DetachedError):
        vm.tables([(0, 10)])
