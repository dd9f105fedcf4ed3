/* SPDX-License-Identifier: MIT */
/*
 * The flat u64 records the extension's helpers fill and pygpuvm/_records.py
 * decodes: their layout is defined here and only here. The prelude
 * (pygpuvm/_gpuvm.csrc.c) includes this header; the cdef (pyhelpers.h)
 * declares each constant as `#define X ...`, so cffi reads the values from
 * this file.
 *
 * VA record, PYGPUVM_VA_WORDS words: the VA's address (its identity), addr,
 * range, offset, GEM address (0: none), flags | PYGPUVM_VA_KERNEL for the
 * VM's reserved node.
 *
 * Op record, PYGPUVM_OP_WORDS words: [0] enum drm_gpuva_op_type |
 * PYGPUVM_OP_* bits; [1] the existing VA's address (remap, unmap, prefetch;
 * else 0); [2] its flags; [3..6] addr, range, offset, GEM of the map
 * request or of the existing VA; [7..10] remap prev; [11..14] remap next.
 *
 * Buffers of op records start with PYGPUVM_HDR_WORDS header words:
 * inserted, removed, failed, one unused word, then PYGPUVM_FAILED_MAX
 * failed pieces (addr, range, offset, GEM) of an apply.
 *
 * Batch request, PYGPUVM_REQ_WORDS words: enum gpuvm_bind_op, addr, range,
 * object index (0: none, i: objs[i - 1]), offset.
 */
#ifndef PYGPUVM_RECORDS_H
#define PYGPUVM_RECORDS_H

#define PYGPUVM_VA_WORDS 6
#define PYGPUVM_VA_KERNEL (1ull << 32)

#define PYGPUVM_OP_WORDS 16
#define PYGPUVM_OP_KEEP (1u << 8)
#define PYGPUVM_OP_PREV (1u << 9)
#define PYGPUVM_OP_NEXT (1u << 10)
#define PYGPUVM_OP_KERNEL (1u << 11)
#define PYGPUVM_OP_HELD (1u << 12)
#define PYGPUVM_OP_VA 1
#define PYGPUVM_OP_MAP 3
#define PYGPUVM_OP_PREV_AT 7
#define PYGPUVM_OP_NEXT_AT 11

#define PYGPUVM_HDR_WORDS 20
#define PYGPUVM_FAILED_AT 4
#define PYGPUVM_FAILED_MAX 4

#define PYGPUVM_REQ_WORDS 5

/* Bits of pygpuvm_vm_bind()'s return value: WARNs are queued (gpuvm_warn_nqueued); */
#define PYGPUVM_BIND_WARNED (1l << 62)
/* the records must be decoded in full (an op that is neither a map nor an
 * unmap, or a record holding a GEM reference: PYGPUVM_OP_HELD). */
#define PYGPUVM_BIND_DECODE (1l << 61)

#endif
