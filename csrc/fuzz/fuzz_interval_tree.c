// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the VA interval tree (csrc/lib/interval_tree.c) against a
 * brute-force model. The input is a stream of operations on a pool of VAs:
 * insert, insert_checked, insert_after, replace, remove, iter_first and prev.
 * After each one the tree's invariants hold (gpuva_it_check), its in-order
 * sequence is the model's (by start, then insertion order), and every query
 * answers what the model answers.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_input.h"
#include "lib/interval_tree.h"

#define POOL 48

struct model {
	struct drm_gpuva va[POOL];
	bool in[POOL];
	uint64_t seq[POOL]; /* insertion order among equal starts */
	uint64_t next_seq;
	unsigned int live;
};

static uint64_t last_of(const struct drm_gpuva *va)
{
	return va->va.addr + va->va.range - 1;
}

static bool before(const struct model *m, unsigned int a, unsigned int b)
{
	if (m->va[a].va.addr != m->va[b].va.addr)
		return m->va[a].va.addr < m->va[b].va.addr;
	return m->seq[a] < m->seq[b];
}

/* The model's answer to gpuva_it_iter_first(). */
static int model_first(const struct model *m, uint64_t start, uint64_t last)
{
	int best = -1;

	for (unsigned int i = 0; i < POOL; i++) {
		if (!m->in[i] || last_of(&m->va[i]) < start)
			continue;
		if (best < 0 || before(m, i, (unsigned int)best))
			best = (int)i;
	}
	if (best < 0 || m->va[best].va.addr > last)
		return -1;
	return best;
}

/* In-order neighbour of slot @i in the model (which need not be in it yet). */
static int model_next(const struct model *m, unsigned int i)
{
	int best = -1;

	for (unsigned int j = 0; j < POOL; j++) {
		if (!m->in[j] || j == i || !before(m, i, j))
			continue;
		if (best < 0 || before(m, j, (unsigned int)best))
			best = (int)j;
	}
	return best;
}

static int model_prev(const struct model *m, unsigned int i)
{
	int best = -1;

	for (unsigned int j = 0; j < POOL; j++) {
		if (!m->in[j] || j == i || !before(m, j, i))
			continue;
		if (best < 0 || before(m, (unsigned int)best, j))
			best = (int)j;
	}
	return best;
}

static struct drm_gpuva *slot(struct model *m, int i)
{
	return i < 0 ? NULL : &m->va[i];
}

static void check_all(struct model *m, struct rb_root_cached *root)
{
	size_t n = 0;
	struct rb_node *node = root->rb_root.rb_node;
	int want;

	FUZZ_CHECK(gpuva_it_check(root, &n) == 0);
	FUZZ_CHECK(n == m->live);
	if (!node) {
		FUZZ_CHECK(m->live == 0);
		return;
	}
	/* Walk back from the last node with gpuva_it_prev(). */
	while (node->rb_right)
		node = node->rb_right;
	want = -1;
	for (unsigned int j = 0; j < POOL; j++)
		if (m->in[j] && (want < 0 || before(m, (unsigned int)want, j)))
			want = (int)j;
	for (struct drm_gpuva *va = container_of(node, struct drm_gpuva, rb.node); va;
	     va = gpuva_it_prev(va)) {
		FUZZ_CHECK(want >= 0 && va == &m->va[want]);
		want = model_prev(m, (unsigned int)want);
	}
	FUZZ_CHECK(want == -1);
}

static uint64_t pick_addr(struct fuzz_input *in)
{
	uint8_t mode = fuzz_u8(in);

	/* Mostly a small universe: overlaps and equal starts are the hard part. */
	if (mode < 160)
		return mode & 63;
	return fuzz_u64(in);
}

static uint64_t pick_range(struct fuzz_input *in)
{
	uint8_t r = fuzz_u8(in);

	if (r < 48)
		return 0;
	if (r < 224)
		return r & 15;
	return fuzz_u64(in);
}

static void do_insert(struct model *m, struct rb_root_cached *root, struct fuzz_input *in,
		      unsigned int i)
{
	struct drm_gpuva *va = &m->va[i], *next;
	int want_next;

	memset(va, 0, sizeof(*va));
	va->va.addr = pick_addr(in);
	va->va.range = pick_range(in);
	m->seq[i] = m->next_seq++;
	want_next = model_next(m, i);
	next = gpuva_it_insert(root, va);
	FUZZ_CHECK(next == slot(m, want_next));
	m->in[i] = true;
	m->live++;
}

static void do_insert_checked(struct model *m, struct rb_root_cached *root,
			      struct fuzz_input *in, unsigned int i)
{
	struct drm_gpuva *va = &m->va[i], *next = NULL;
	int ret, want_next;
	uint64_t last;

	memset(va, 0, sizeof(*va));
	va->va.addr = pick_addr(in);
	va->va.range = pick_range(in);
	/* Its contract: range >= 1 and an end that does not overflow. */
	if (!va->va.range)
		va->va.range = 1;
	if (va->va.addr + va->va.range < va->va.addr)
		va->va.range = ~va->va.addr + 1; /* up to 2^64 - 1 inclusive; 0 if addr = 0 */
	if (!va->va.range)
		return;
	/*
	 * The fast path assumes what the VM guarantees: no VA in the tree has an
	 * end past 2^64 (drm_gpuvm_range_valid() refuses those). Other trees only
	 * get the plain insertion.
	 */
	for (unsigned int j = 0; j < POOL; j++)
		if (m->in[j] && m->va[j].va.range && last_of(&m->va[j]) < m->va[j].va.addr)
			return;
	last = last_of(va);
	m->seq[i] = m->next_seq;
	want_next = model_next(m, i);
	ret = gpuva_it_insert_checked(root, va, &next);
	if (model_first(m, va->va.addr, last) >= 0) {
		FUZZ_CHECK(ret == -EEXIST);
		return;
	}
	FUZZ_CHECK(ret == 0);
	FUZZ_CHECK(next == slot(m, want_next));
	m->next_seq++;
	m->in[i] = true;
	m->live++;
}

/* Insert slot @i right after the node the insertion rule would put it after. */
static void do_insert_after(struct model *m, struct rb_root_cached *root,
			    struct fuzz_input *in, unsigned int i)
{
	struct drm_gpuva *va = &m->va[i];
	int prev;

	memset(va, 0, sizeof(*va));
	va->va.addr = pick_addr(in);
	va->va.range = pick_range(in);
	m->seq[i] = m->next_seq;
	prev = model_prev(m, i);
	if (prev < 0)
		return; /* it would be the first node: no @prev to name */
	gpuva_it_insert_after(root, &m->va[prev], va);
	m->next_seq++;
	m->in[i] = true;
	m->live++;
}

/* Slot @n takes the place of slot @o, with a start that keeps the order. */
static void do_replace(struct model *m, struct rb_root_cached *root, struct fuzz_input *in,
		       unsigned int o, unsigned int n)
{
	struct drm_gpuva *old = &m->va[o], *new = &m->va[n];
	int prev = model_prev(m, o), next = model_next(m, o);
	uint64_t lo = prev >= 0 ? m->va[prev].va.addr : 0;
	uint64_t addr = old->va.addr;
	uint8_t how = fuzz_u8(in);

	/* Keep the start, or move it within [prev start, next start). */
	if (how & 1) {
		uint64_t hi = next >= 0 ? m->va[next].va.addr : ~(uint64_t)0;

		if (hi > lo)
			addr = lo + fuzz_u64(in) % (hi - lo);
		else
			addr = lo;
		/* An equal start to prev is fine (new goes after it), to next is not. */
		if (next >= 0 && addr == m->va[next].va.addr)
			addr = old->va.addr;
	}
	memset(new, 0, sizeof(*new));
	new->va.addr = addr;
	new->va.range = pick_range(in);
	gpuva_it_replace(root, old, new);
	/*
	 * Kept start: old's place among equal starts. Moved: strictly before
	 * next's start, so every VA with that start is at or before prev, and a
	 * fresh (largest) sequence number orders it right after them.
	 */
	m->seq[n] = addr == old->va.addr ? m->seq[o] : m->next_seq++;
	m->in[o] = false;
	m->in[n] = true;
}

static void do_query(struct model *m, struct rb_root_cached *root, struct fuzz_input *in)
{
	uint64_t start = pick_addr(in), last;

	switch (fuzz_u8(in) & 3) {
	case 0:
		last = start - 1; /* the zero-size query */
		break;
	case 1:
		last = pick_addr(in);
		break;
	default:
		last = start + pick_range(in);
		break;
	}
	FUZZ_CHECK(gpuva_it_iter_first(root, start, last) == slot(m, model_first(m, start, last)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct fuzz_input in = { data, size };
	unsigned int steps = 0;

	memset(&m, 0, sizeof(m));
	while (!fuzz_done(&in) && steps++ < 4096) {
		uint8_t op = fuzz_u8(&in);
		unsigned int i = fuzz_u8(&in) % POOL;
		unsigned int j;

		switch (op % 8) {
		case 0:
		case 1:
			if (!m.in[i])
				do_insert(&m, &root, &in, i);
			break;
		case 2:
			if (!m.in[i])
				do_insert_checked(&m, &root, &in, i);
			break;
		case 3:
			if (!m.in[i])
				do_insert_after(&m, &root, &in, i);
			break;
		case 4:
			j = fuzz_u8(&in) % POOL;
			if (m.in[i] && !m.in[j])
				do_replace(&m, &root, &in, i, j);
			break;
		case 5:
			if (m.in[i]) {
				gpuva_it_remove(&root, &m.va[i]);
				m.in[i] = false;
				m.live--;
			}
			break;
		case 6:
			if (m.in[i])
				FUZZ_CHECK(gpuva_it_prev(&m.va[i]) == slot(&m, model_prev(&m, i)));
			break;
		default:
			do_query(&m, &root, &in);
			break;
		}
		check_all(&m, &root);
	}
	for (unsigned int i = 0; i < POOL; i++)
		if (m.in[i])
			gpuva_it_remove(&root, &m.va[i]);
	FUZZ_CHECK(!root.rb_root.rb_node && !root.rb_leftmost);
	return 0;
}
