#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz_api (csrc/fuzz/seeds/fuzz_api/).

Each seed is a short driver session spelled in fuzz_api.c's input encoding:
one VM in each mode (staged, immediate, RESV_PROTECTED, both) mapping,
splitting and unmapping external and private objects, madvise over sparse
mappings, queries, vm_bo obtain/evict, an exec transaction with a fence and
validate, callback walks, a batch, ops with an injected allocation failure,
bo_unmap, a hand-made VA, snapshots, and a second VM whose range overflows.
The fuzzer only needs a start: the byte layout follows the decoder
(LLVMFuzzerTestOneInput's switch and the do_* functions), so keep the two in
step when the decoder changes (`fuzz_api seeds/fuzz_api/*` replays them).

    python3 csrc/fuzz/make_api_seeds.py
"""
from __future__ import annotations

import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "fuzz_api")


def num(v: int) -> bytes:
    """fuzz_u64's encoding of v (csrc/fuzz/fuzz_input.h)."""
    if v < 32:
        return bytes([v << 3])
    if v < 256:
        return bytes([1, v])
    if v % 4096 == 0 and (v >> 12) < 65536:
        return bytes([3]) + struct.pack("<H", v >> 12)
    if v >= (1 << 64) - 256:
        return bytes([4, (1 << 64) - 1 - v])
    return bytes([7]) + struct.pack("<Q", v)


def op(code: int, high: bool = False) -> bytes:
    """An operation byte: code = op % 20, high = bit 7 (the variant)."""
    v = code + 20 * (7 if high else 0)
    assert v % 20 == code and bool(v & 0x80) == high and v < 256
    return bytes([v])


NULL_GEM = 0xff


def req(addr: int, rng: int, gem: int | None, offset: int = 0) -> bytes:
    """decode_req(): addr, range, [gem byte for map/madvise], offset."""
    b = num(addr) + num(rng)
    if gem is not None:
        b += bytes([gem])
    return b + num(offset)


def session(flags: int) -> bytes:
    s = b""
    s += op(0) + bytes([0x10 | (flags << 1)])                 # VM 0: [0, 2^32), page 0 reserved
    s += op(2) + bytes([0x00]) + num(0x10000)                 # GEM 0: external
    s += op(2) + bytes([0x41]) + num(0x10000)                 # GEM 1: private to VM 0
    s += op(4) + bytes([0x01, 0]) + req(0x10000, 0x8000, 0)   # map A
    s += op(4) + bytes([0x00, 0]) + req(0x20000, 0x4000, 1)   # map P
    s += op(4) + bytes([0x01, 0]) + req(0x14000, 0x2000, 1, 0x1000)  # split A
    s += op(5) + bytes([0x01, 0]) + req(0x16000, 0x1000, None)       # unmap inside A
    s += op(4) + bytes([0x01, 0]) + req(0x40000, 0x10000, NULL_GEM)  # sparse
    s += op(6, True) + bytes([0x01, 0]) + req(0x44000, 0x4000, NULL_GEM)  # madvise
    s += op(6) + bytes([0x01, 0]) + req(0x10000, 0x40000, None)      # prefetch
    for kind in range(8):
        s += op(16) + bytes([0]) + num(0x12000 + kind * 0x1000) + num(0x3000) + bytes([kind])
    s += op(9) + bytes([0x00, 0, 0])                          # hold vm_bo of GEM 0
    s += op(9) + bytes([0x01, 0, 1])                          # hold vm_bo of GEM 1
    s += op(11) + bytes([0x80 | 0])                           # evict GEM 0's vm_bo
    s += op(11) + bytes([0x80 | 1])                           # evict GEM 1's vm_bo
    # exec: lock_vm, 1 fence, one map bind of GEM 1
    s += op(13) + bytes([0x01, 0, 0x05]) + bytes([0]) + req(0x30000, 0x1000, 1)
    s += op(14) + bytes([0x10]) + num(1)                      # fence, signalled
    s += op(15) + bytes([0x00, 0, 0x00])                      # validate: all valid again
    s += op(13, True)                                         # exec unlock
    s += op(11) + bytes([0xc0 | (0 << 3)])                    # gem_evict(GEM 0, true)
    s += op(15) + bytes([0x00, 0, 0x03])                      # validate: -EIO at the first
    s += op(15) + bytes([0x00, 0, 0x08])                      # validate: the second stays evicted
    s += op(18) + bytes([0x00, 0]) + req(0x12000, 0x10000, 0)  # sm_map walk
    s += op(18) + bytes([0x07, 0]) + req(0x10000, 0x20000, None) + bytes([1])  # stopped unmap walk
    s += op(8) + bytes([0x01, 0]) + bytes([0]) + req(0x50000, 0x1000, 0) \
        + bytes([1]) + req(0x10000, 0x1000, None)            # batch: map, unmap
    s += op(7) + bytes([0x80, 0]) + req(0x60000, 0x2000, 0) + bytes([2])  # ops create fails
    s += op(7) + bytes([0x40, 0]) + req(0x60000, 0x2000, 0) + bytes([1])  # apply fails
    s += op(7) + bytes([0x00, 0]) + req(0x60000, 0x2000, 0)  # ops created and applied
    s += op(17) + bytes([0x00, 0]) + num(0x70000) + num(0x1000) + num(0) + bytes([1])  # hand VA
    s += op(19) + bytes([0x60, 0])                            # GEM 0's vm_bos
    s += op(19) + bytes([0x78, 0])                            # VM 0's extobjs
    s += op(19) + bytes([0xf8, 0])                            # VM 0's evict list
    s += op(17, True) + bytes([0])                            # bo_unmap GEM 0
    s += op(19, True) + bytes([0])                            # deferred cleanup
    s += op(10) + bytes([0])                                  # put held vm_bos
    s += op(10) + bytes([1])
    s += op(0) + bytes([0x01]) + num(0x100000) + num((1 << 64) - 1) + num(0x100000) + num(0x1000)
    s += op(4) + bytes([0x01, 1]) + req(0x200000, 0x1000, 0)  # VM 1: nothing valid
    s += op(1) + bytes([0])                                   # VM 0 put
    s += op(3) + bytes([0])                                   # GEM 0 put
    return s


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    for flags, name in enumerate(("staged", "resv_protected", "immediate", "immediate_protected")):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(session(flags))


if __name__ == "__main__":
    main()
