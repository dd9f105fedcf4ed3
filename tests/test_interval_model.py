"""Randomized check of the VM's interval tree against a brute-force model.

The model is the query rule of docs/trace-format.md "Semantics worth knowing", stated
directly on a list kept in tree order (ascending start, equal starts in
insertion order):

    find_first(a, r): the first node in order whose inclusive last byte
    (start + range - 1 mod 2^64) is >= a, returned only if its start is
    <= a + r - 1 (mod 2^64).

Inserts (-EINVAL / -EEXIST / 0), removals, find_first, find, find_prev,
find_next and the address-ordered list are compared after every operation,
through the raw kernel API. Addresses come from two small clusters, one at the
bottom of the space and one just below 2^64, so overlaps, equal starts, zero
ranges and wrap-around queries are all common.
"""

from __future__ import annotations

import bisect
import random

import pytest

from pygpuvm.raw import ffi, lib

pytestmark = pytest.mark.usefixtures("no_c_leaks")

U64 = 1 << 64
MASK = U64 - 1
# The whole space but the last byte: mm_start + mm_range must not overflow.
WIN_START, WIN_RANGE = 0, U64 - 1
CLUSTER = 0x400


class Model:
    """Brute-force interval list in tree order."""

    def __init__(self) -> None:
        self.nodes: list[tuple[int, int, int]] = []  # (start, seq, range)
        self.seq = 0

    @staticmethod
    def last(start: int, range_: int) -> int:
        return (start + range_ - 1) & MASK

    def range_valid(self, addr: int, range_: int) -> bool:
        end = addr + range_
        return end <= U64 - 1 and addr >= WIN_START and end <= WIN_START + WIN_RANGE

    def find_first(self, addr: int, range_: int) -> tuple[int, int, int] | None:
        qlast = (addr + range_ - 1) & MASK
        for node in self.nodes:
            if self.last(node[0], node[2]) >= addr:
                return node if node[0] <= qlast else None
        return None

    def insert(self, addr: int, range_: int) -> tuple[int, tuple[int, int, int] | None]:
        if not self.range_valid(addr, range_):
            return -22, None  # -EINVAL
        if self.find_first(addr, range_) is not None:
            return -17, None  # -EEXIST
        self.seq += 1
        node = (addr, self.seq, range_)
        # Equal starts go after the existing ones: insertion order is kept.
        idx = bisect.bisect_right([n[0] for n in self.nodes], addr)
        self.nodes.insert(idx, node)
        return 0, node

    def find_prev(self, start: int) -> tuple[int, int, int] | None:
        if not self.range_valid((start - 1) & MASK, 1):
            return None
        return self.find_first((start - 1) & MASK, 2)

    def find_next(self, end: int) -> tuple[int, int, int] | None:
        if not self.range_valid(end, 1):
            return None
        return self.find_first(end, 2)


def random_addr(rng: random.Random) -> int:
    base = 0 if rng.random() < 0.6 else U64 - CLUSTER
    return base + rng.randrange(CLUSTER)


def random_range(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.1:
        return 0
    if roll < 0.15:
        return rng.randrange(U64)  # mostly overflowing: -EINVAL
    return rng.randrange(1, 0x40)


@pytest.mark.parametrize("seed", [1, 2])
def test_interval_tree_matches_brute_force_model(seed: int) -> None:
    rng = random.Random(seed)
    vm = lib.pygpuvm_vm_create(b"model", 0, WIN_START, WIN_RANGE, 0, 0)
    assert vm != ffi.NULL
    model = Model()
    cvas: dict[tuple[int, int, int], object] = {}  # model node -> C drm_gpuva
    keyof: dict[int, tuple[int, int, int]] = {}     # C address -> model node

    def key(cva: object) -> tuple[int, int, int] | None:
        if cva == ffi.NULL:
            return None
        return keyof[int(ffi.cast("uintptr_t", cva))]

    ops = 0
    try:
        for step in range(50_000):
            roll = rng.random()
            if roll < 0.35:
                addr, range_ = random_addr(rng), random_range(rng)
                cva = ffi.new("struct drm_gpuva *")
                lib.drm_gpuva_init_lists(cva)
                cva.va.addr, cva.va.range = addr, range_
                ret = lib.drm_gpuva_insert(vm, cva)
                want, node = model.insert(addr, range_)
                assert ret == want, (step, addr, range_)
                if node is not None:
                    cvas[node] = cva
                    keyof[int(ffi.cast("uintptr_t", cva))] = node
            elif roll < 0.55 and model.nodes:
                node = rng.choice(model.nodes)
                cva = cvas.pop(node)
                lib.drm_gpuva_remove(cva)
                del keyof[int(ffi.cast("uintptr_t", cva))]
                model.nodes.remove(node)
            else:
                addr = random_addr(rng) if rng.random() < 0.9 else rng.randrange(U64)
                range_ = random_range(rng)
                got = key(lib.drm_gpuva_find_first(vm, addr, range_))
                assert got == model.find_first(addr, range_), (step, addr, range_)
                exact = model.find_first(addr, range_)
                if exact is not None and (exact[0], exact[2]) != (addr, range_):
                    exact = None
                assert key(lib.drm_gpuva_find(vm, addr, range_)) == exact
                assert key(lib.drm_gpuva_find_prev(vm, addr)) == model.find_prev(addr)
                assert key(lib.drm_gpuva_find_next(vm, addr)) == model.find_next(addr)
                ops += 3  # find, find_prev and find_next on top of find_first
            ops += 1
            if step % 500 == 0:
                # The address-ordered list is the model's order.
                order = []
                cva = lib.drm_gpuva_find_first(vm, 0, 0)  # [0, 2^64-1]: the lowest node
                while cva != ffi.NULL:
                    order.append(key(cva))
                    cva = lib.__drm_gpuva_next(cva)
                assert order == model.nodes, step
        assert ops >= 100_000
    finally:
        for cva in cvas.values():
            lib.drm_gpuva_remove(cva)
        lib.drm_gpuvm_put(vm)
