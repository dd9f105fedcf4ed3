// SPDX-License-Identifier: MIT
/*
 * The augmented interval tree of drm_gpuva (csrc/lib/interval_tree.c): drawn
 * cases for the kernel's query semantics (zero ranges, equal starts, wrap at
 * 2^64), then a long seeded random run against a brute-force model.
 *
 * Usage: test_interval_tree [seed]
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lib/interval_tree.h"
#include "linux/slab.h"

#define U64_MAX_ ((u64)~(u64)0)

static u64 rng_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: tiny, seedable, good enough for test input. */
static u64 rnd(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static u64 rnd_below(u64 n)
{
	return rnd() % n;
}

static void va_set(struct drm_gpuva *va, u64 addr, u64 range)
{
	memset(va, 0, sizeof(*va));
	va->va.addr = addr;
	va->va.range = range;
}

static struct drm_gpuva *first(struct rb_root_cached *root, u64 start, u64 last)
{
	return gpuva_it_iter_first(root, start, last);
}

/* Collect the tree in order (via gpuva_it_prev from the last node). */
static size_t in_order(struct rb_root_cached *root, struct drm_gpuva **out, size_t max)
{
	struct rb_node *n = root->rb_root.rb_node;
	size_t count = 0;

	if (!n)
		return 0;
	while (n->rb_right)
		n = n->rb_right;
	struct drm_gpuva *va = container_of(n, struct drm_gpuva, rb.node);

	for (; va; va = gpuva_it_prev(va))
		count++;
	if (count > max)
		return count;
	size_t i = count;

	for (va = container_of(n, struct drm_gpuva, rb.node); va; va = gpuva_it_prev(va))
		out[--i] = va;
	return count;
}

static bool test_empty(void)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	size_t n = 1;

	ASSERT_EQ(gpuva_it_check(&root, &n), 0);
	ASSERT_EQ(n, 0);
	ASSERT_NULL(first(&root, 0, U64_MAX_));
	ASSERT_NULL(first(&root, 5, 4));
	return true;
}

/*
 *            0         1         2
 *            0123456789abcdef0123456789
 *              AAAA  BB    CCCCCC
 */
static bool test_three_intervals(void)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct drm_gpuva a, b, c;
	size_t n;

	va_set(&c, 0x14 - 6, 6); /* [0x0e, 0x14) */
	va_set(&a, 2, 4);        /* [2, 6) */
	va_set(&b, 8, 2);        /* [8, 10) */
	gpuva_it_insert(&root, &c);
	gpuva_it_insert(&root, &a);
	gpuva_it_insert(&root, &b);
	ASSERT_EQ(gpuva_it_check(&root, &n), 0);
	ASSERT_EQ(n, 3);
	ASSERT_TRUE(root.rb_leftmost == &a.rb.node);

	ASSERT_NULL(first(&root, 0, 1));        /* before A */
	ASSERT_TRUE(first(&root, 0, 2) == &a);  /* touches A's first byte */
	ASSERT_TRUE(first(&root, 5, 5) == &a);  /* A's last byte */
	ASSERT_NULL(first(&root, 6, 7));        /* the gap A..B */
	ASSERT_TRUE(first(&root, 5, 8) == &a);  /* lowest start wins */
	ASSERT_TRUE(first(&root, 7, 0x30) == &b);
	ASSERT_NULL(first(&root, 0xa, 0xd));    /* the gap B..C */
	ASSERT_TRUE(first(&root, 0x13, 0x13) == &c);
	ASSERT_NULL(first(&root, 0x14, U64_MAX_));
	ASSERT_TRUE(first(&root, 0, U64_MAX_) == &a);

	ASSERT_NULL(gpuva_it_prev(&a));
	ASSERT_TRUE(gpuva_it_prev(&b) == &a);
	ASSERT_TRUE(gpuva_it_prev(&c) == &b);

	/* Removing the leftmost moves the cache to B. */
	gpuva_it_remove(&root, &a);
	ASSERT_EQ(gpuva_it_check(&root, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT_TRUE(root.rb_leftmost == &b.rb.node);
	ASSERT_TRUE(first(&root, 0, 0x30) == &b);
	gpuva_it_remove(&root, &c);
	gpuva_it_remove(&root, &b);
	ASSERT_EQ(gpuva_it_check(&root, &n), 0);
	ASSERT_EQ(n, 0);
	ASSERT_NULL(root.rb_leftmost);
	ASSERT_NULL(root.rb_root.rb_node);
	return true;
}

/*
 * Zero ranges and equal starts. P = [0, 4); Z1 and Z2 are zero-range at 4
 * (interval [4, 3]); V = [4, 8). Equal starts keep insertion order.
 *
 *            0123456789
 *            PPPPVVVV
 *                ^ Z1, Z2 (last byte 3)
 */
static bool test_zero_range_equal_starts(void)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct drm_gpuva p, z1, z2, v;
	struct drm_gpuva *order[8];

	va_set(&z1, 4, 0);
	va_set(&z2, 4, 0);
	va_set(&v, 4, 4);
	va_set(&p, 0, 4);
	gpuva_it_insert(&root, &z1);
	gpuva_it_insert(&root, &z2);
	gpuva_it_insert(&root, &v);
	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);
	ASSERT_EQ(z1.va.addr + z1.va.range - 1, 3);

	/* Without P: the first node whose last reaches 3 is Z1, which starts at 4. */
	ASSERT_NULL(first(&root, 3, 3));
	/* [4, 4]: Z1 and Z2 end at 3, V is the first reaching 4. */
	ASSERT_TRUE(first(&root, 4, 4) == &v);
	/* The zero-size query [4, 3] behaves like a query from 4 up to 3. */
	ASSERT_NULL(first(&root, 4, 3));
	/* [3, 4]: Z1 ends at 3 and starts at 4 <= 4: Z1, not V. */
	ASSERT_TRUE(first(&root, 3, 4) == &z1);

	gpuva_it_insert(&root, &p);
	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);
	ASSERT_EQ(in_order(&root, order, 8), 4);
	ASSERT_TRUE(order[0] == &p && order[1] == &z1 && order[2] == &z2 && order[3] == &v);
	ASSERT_TRUE(first(&root, 3, 3) == &p);
	/* [4, 3] from P's view: P ends at 3 < 4, so the walk reaches V. */
	ASSERT_NULL(first(&root, 4, 3));

	/* Remove the middle equal start; order of the others is kept. */
	gpuva_it_remove(&root, &z1);
	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);
	ASSERT_EQ(in_order(&root, order, 8), 3);
	ASSERT_TRUE(order[0] == &p && order[1] == &z2 && order[2] == &v);
	/* Re-inserted, Z1 goes after every existing start 4 (after V). */
	gpuva_it_insert(&root, &z1);
	ASSERT_EQ(in_order(&root, order, 8), 4);
	ASSERT_TRUE(order[0] == &p && order[1] == &z2 && order[2] == &v && order[3] == &z1);
	ASSERT_TRUE(first(&root, 3, 4) == &p);

	gpuva_it_remove(&root, &p);
	gpuva_it_remove(&root, &z1);
	gpuva_it_remove(&root, &v);
	gpuva_it_remove(&root, &z2);
	ASSERT_NULL(root.rb_root.rb_node);
	return true;
}

/*
 * Wrap at 2^64. T = [2^64-16, 2^64) has last byte 2^64-1; W = a zero-range VA
 * at 0 has last byte 2^64-1 too and is the lowest node, so it is the answer
 * of every query (its start 0 is <= any last).
 *
 *            0 ...                     2^64-16 ... 2^64-1
 *            W                         TTTTTTTTTTTTTTTTTT
 */
static bool test_wrap(void)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct drm_gpuva t, w, m;

	va_set(&t, U64_MAX_ - 15, 16);
	va_set(&m, 0x1000, 0x1000);
	gpuva_it_insert(&root, &t);
	gpuva_it_insert(&root, &m);
	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);
	ASSERT_TRUE(first(&root, U64_MAX_, U64_MAX_) == &t);
	ASSERT_TRUE(first(&root, U64_MAX_ - 15, U64_MAX_ - 15) == &t);
	ASSERT_NULL(first(&root, U64_MAX_ - 0x100, U64_MAX_ - 16));
	ASSERT_TRUE(first(&root, 0x1fff, U64_MAX_) == &m);
	ASSERT_TRUE(first(&root, 0x2000, U64_MAX_) == &t);

	va_set(&w, 0, 0);
	gpuva_it_insert(&root, &w);
	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);
	ASSERT_TRUE(root.rb_leftmost == &w.rb.node);
	ASSERT_TRUE(first(&root, U64_MAX_, U64_MAX_) == &w);
	ASSERT_TRUE(first(&root, 0x1800, 0x1800) == &w);
	ASSERT_TRUE(first(&root, 0, 0) == &w);

	/* A range that wraps past 2^64 has a small last byte. */
	gpuva_it_remove(&root, &w);
	gpuva_it_remove(&root, &t);
	va_set(&t, U64_MAX_ - 15, 32); /* last byte 15 */
	gpuva_it_insert(&root, &t);
	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);
	ASSERT_EQ(t.rb.__subtree_last, 15);
	ASSERT_NULL(first(&root, U64_MAX_, U64_MAX_)); /* T ends at 15 */
	ASSERT_TRUE(first(&root, 0x10, 0x1000) == &m);
	gpuva_it_remove(&root, &t);
	gpuva_it_remove(&root, &m);
	ASSERT_NULL(root.rb_root.rb_node);
	return true;
}

/* -------------------------------------------------------------- random */

#define POOL 512

struct model {
	struct drm_gpuva *va; /* POOL slots, kzalloc'd */
	bool in[POOL];
	u64 seq[POOL];        /* insertion order, for equal starts */
	unsigned int live;
	u64 next_seq;
};

static u64 rnd_addr(void)
{
	switch (rnd_below(8)) {
	case 0: /* near the top of the address space */
		return U64_MAX_ - rnd_below(64);
	case 1: /* anywhere */
		return rnd();
	case 2:
	case 3: /* sparse: gaps between the VAs */
		return rnd_below(4096);
	default: /* small universe: lots of overlaps and equal starts */
		return rnd_below(96);
	}
}

static u64 rnd_range(void)
{
	switch (rnd_below(8)) {
	case 0:
	case 1:
		return 0;
	case 2:
		return rnd_below(200);
	default:
		return 1 + rnd_below(12);
	}
}

static u64 last_of(const struct drm_gpuva *va)
{
	return va->va.addr + va->va.range - 1;
}

/* a before b in tree order: by start, then by insertion. */
static bool model_before(const struct model *m, unsigned int a, unsigned int b)
{
	if (m->va[a].va.addr != m->va[b].va.addr)
		return m->va[a].va.addr < m->va[b].va.addr;
	return m->seq[a] < m->seq[b];
}

static struct drm_gpuva *model_first(const struct model *m, u64 start, u64 last)
{
	int best = -1;

	for (unsigned int i = 0; i < POOL; i++) {
		if (!m->in[i] || last_of(&m->va[i]) < start)
			continue;
		if (best < 0 || model_before(m, i, (unsigned int)best))
			best = (int)i;
	}
	if (best < 0 || m->va[best].va.addr > last)
		return NULL;
	return &m->va[best];
}

static const struct model *sort_model;

static int by_tree_order(const void *pa, const void *pb)
{
	unsigned int a = *(const unsigned int *)pa, b = *(const unsigned int *)pb;

	if (a == b)
		return 0;
	return model_before(sort_model, a, b) ? -1 : 1;
}

/* Full comparison: invariants, count, and in-order sequence == model order. */
static bool model_check(struct model *m, struct rb_root_cached *root)
{
	static unsigned int idx[POOL];
	static struct drm_gpuva *order[POOL];
	unsigned int k = 0;
	size_t n;

	ASSERT_EQ(gpuva_it_check(root, &n), 0);
	ASSERT_EQ(n, m->live);
	for (unsigned int i = 0; i < POOL; i++)
		if (m->in[i])
			idx[k++] = i;
	sort_model = m;
	qsort(idx, k, sizeof(idx[0]), by_tree_order);
	ASSERT_EQ(in_order(root, order, POOL), k);
	for (unsigned int i = 0; i < k; i++)
		ASSERT_TRUE(order[i] == &m->va[idx[i]]);
	return true;
}

static u64 test_seed = 1;

static bool test_random_vs_model(void)
{
	const long live0 = gpuvm_alloc_live();
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct model m;
	const unsigned int ops = 400000;
	unsigned int queries = 0, hits = 0;

	memset(&m, 0, sizeof(m));
	m.va = kzalloc(POOL * sizeof(*m.va), GFP_KERNEL);
	ASSERT_NONNULL(m.va);
	rng_state = test_seed;

	for (unsigned int op = 0; op < ops; op++) {
		/* Phases that grow towards full and shrink towards empty. */
		unsigned int grow = ((op / 20000) % 2 == 0) ? 6 : 3;
		unsigned int r = (unsigned int)rnd_below(10);

		if (r < 4) {
			unsigned int i = (unsigned int)rnd_below(POOL);
			bool insert = rnd_below(9) < grow;

			if (insert && !m.in[i]) {
				va_set(&m.va[i], rnd_addr(), rnd_range());
				gpuva_it_insert(&root, &m.va[i]);
				m.in[i] = true;
				m.seq[i] = m.next_seq++;
				m.live++;
			} else if (!insert && m.in[i]) {
				gpuva_it_remove(&root, &m.va[i]);
				m.in[i] = false;
				m.live--;
			}
		} else {
			u64 start = rnd_addr(), last;

			switch (rnd_below(4)) {
			case 0: /* zero-size query [start, start-1] */
				last = start - 1;
				break;
			case 1:
				last = rnd_addr();
				break;
			default:
				last = start + rnd_below(16);
				break;
			}
			struct drm_gpuva *want = model_first(&m, start, last);
			struct drm_gpuva *got = first(&root, start, last);

			queries++;
			hits += want != NULL;
			if (got != want) {
				fprintf(stderr, "op %u: query [0x%llx, 0x%llx"
					"] got %p want %p\n", op, start, last, (void *)got,
					(void *)want);
				ASSERT_TRUE(got == want);
			}
		}
		if (op % 1000 == 999 && !model_check(&m, &root))
			return false;
	}
	ASSERT_TRUE(model_check(&m, &root));
	fprintf(stderr, "# %u queries, %u hits, %u live at end\n", queries, hits, m.live);
	/* Both answers must have been common, or the run proved little. */
	ASSERT_TRUE(hits > queries / 20 && hits < queries - queries / 20);

	for (unsigned int i = 0; i < POOL; i++)
		if (m.in[i])
			gpuva_it_remove(&root, &m.va[i]);
	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);
	ASSERT_NULL(root.rb_root.rb_node);
	ASSERT_NULL(root.rb_leftmost);
	kfree(m.va);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* The model's successor of slot @i in tree order, or NULL. */
static struct drm_gpuva *model_next(const struct model *m, unsigned int i)
{
	int best = -1;

	for (unsigned int j = 0; j < POOL; j++) {
		if (!m->in[j] || j == i || !model_before(m, i, j))
			continue;
		if (best < 0 || model_before(m, j, (unsigned int)best))
			best = (int)j;
	}
	return best < 0 ? NULL : &m->va[best];
}

static int model_free_slot(const struct model *m)
{
	unsigned int i = (unsigned int)rnd_below(POOL);

	for (unsigned int k = 0; k < POOL; k++, i = (i + 1) % POOL)
		if (!m->in[i])
			return (int)i;
	return -1;
}

static int model_live_slot(const struct model *m)
{
	unsigned int i = (unsigned int)rnd_below(POOL);

	for (unsigned int k = 0; k < POOL; k++, i = (i + 1) % POOL)
		if (m->in[i])
			return (int)i;
	return -1;
}

/*
 * The tree driven the way drm_gpuva_insert() and drm_gpuva_remap() drive it:
 * only VAs the overlap check lets in, through gpuva_it_insert_checked() for
 * ranges >= 1 (its answer and successor must match the query and the model),
 * and pieces of a VA taking over its node through gpuva_it_replace() under
 * the conditions __drm_gpuva_replace() checks. The model does a removal and
 * a fresh insertion instead, so its order (equal starts: latest last) proves
 * that the replacement lands where the insertion would have.
 */
static bool test_checked_insert_and_replace_vs_model(void)
{
	const long live0 = gpuvm_alloc_live();
	struct rb_root_cached root = RB_ROOT_CACHED;
	unsigned int inserted = 0, refused = 0, replaced = 0, declined = 0;
	struct model m;

	memset(&m, 0, sizeof(m));
	m.va = kzalloc(POOL * sizeof(*m.va), GFP_KERNEL);
	ASSERT_NONNULL(m.va);
	rng_state = test_seed ^ 0xc4ec;

	for (unsigned int op = 0; op < 300000; op++) {
		unsigned int grow = ((op / 20000) % 2 == 0) ? 6 : 3;
		unsigned int r = (unsigned int)rnd_below(10);

		if (r < 4) {
			int i = model_free_slot(&m);
			u64 addr = rnd_addr(), range = rnd_range();

			/* drm_gpuva_insert() rejects an end that overflows first. */
			if (i < 0 || rnd_below(9) >= grow || addr + range < addr)
				continue;
			struct drm_gpuva *va = &m.va[i];
			struct drm_gpuva *want = model_first(&m, addr, addr + range - 1);
			struct drm_gpuva *next = NULL;
			int ret;

			va_set(va, addr, range);
			if (range) {
				ret = gpuva_it_insert_checked(&root, va, &next);
			} else {
				ret = first(&root, addr, addr - 1) ? -EEXIST : 0;
				if (!ret)
					next = gpuva_it_insert(&root, va);
			}
			ASSERT_EQ(ret, want ? -EEXIST : 0);
			if (ret) {
				refused++;
				continue;
			}
			m.in[i] = true;
			m.seq[i] = m.next_seq++;
			m.live++;
			inserted++;
			ASSERT_TRUE(next == model_next(&m, (unsigned int)i));
		} else if (r < 6) {
			int i = model_live_slot(&m);

			if (i < 0 || rnd_below(9) < grow)
				continue;
			gpuva_it_remove(&root, &m.va[i]);
			m.in[i] = false;
			m.live--;
		} else if (r < 8) {
			int i = model_live_slot(&m), j = model_free_slot(&m);

			if (i < 0 || j < 0 || m.va[i].va.range < 1)
				continue;
			struct drm_gpuva *old = &m.va[i], *piece = &m.va[j];
			/* A sub-range of @old, often a head or a tail as remaps make. */
			u64 off = rnd_below(2) ? 0 : rnd_below(old->va.range);
			u64 range = 1 + rnd_below(old->va.range - off);
			struct drm_gpuva *succ = model_next(&m, (unsigned int)i);

			if (rnd_below(2))
				range = old->va.range - off;
			va_set(piece, old->va.addr + off, range);
			if (succ && succ->va.addr <= last_of(piece)) {
				declined++;
				continue;
			}
			/* The invariant the replacement relies on: insertion would succeed. */
			m.in[i] = false;
			ASSERT_NULL(model_first(&m, piece->va.addr, last_of(piece)));
			gpuva_it_replace(&root, old, piece);
			m.in[j] = true;
			m.seq[j] = m.next_seq++;
			replaced++;
		} else {
			u64 start = rnd_addr(), last = rnd_below(2) ? start - 1 : start + rnd_below(16);

			ASSERT_TRUE(first(&root, start, last) == model_first(&m, start, last));
		}
		if (op % 1000 == 999 && !model_check(&m, &root))
			return false;
	}
	ASSERT_TRUE(model_check(&m, &root));
	fprintf(stderr, "# %u inserted, %u refused, %u replaced, %u replacements declined\n",
		inserted, refused, replaced, declined);
	ASSERT_TRUE(inserted > 1000 && refused > 1000 && replaced > 1000 && declined > 100);

	for (unsigned int i = 0; i < POOL; i++)
		if (m.in[i])
			gpuva_it_remove(&root, &m.va[i]);
	ASSERT_NULL(root.rb_root.rb_node);
	ASSERT_NULL(root.rb_leftmost);
	kfree(m.va);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * Larger trees: ascending, descending and shuffled inserts of disjoint
 * intervals, removal in a shuffled order, invariants checked as it goes.
 */
static bool test_large(void)
{
	const long live0 = gpuvm_alloc_live();
	const size_t n = 100000;
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct drm_gpuva *va = kzalloc(n * sizeof(*va), GFP_KERNEL);
	size_t *perm = kzalloc(n * sizeof(*perm), GFP_KERNEL);
	size_t count;

	ASSERT_NONNULL(va);
	ASSERT_NONNULL(perm);
	rng_state = test_seed ^ 0x5555;
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < n; i++)
			perm[i] = i;
		if (pass == 1) {
			for (size_t i = 0; i < n / 2; i++) {
				size_t t = perm[i];

				perm[i] = perm[n - 1 - i];
				perm[n - 1 - i] = t;
			}
		} else if (pass == 2) {
			for (size_t i = n - 1; i > 0; i--) {
				size_t j = (size_t)rnd_below(i + 1), t = perm[i];

				perm[i] = perm[j];
				perm[j] = t;
			}
		}
		for (size_t i = 0; i < n; i++) {
			size_t k = perm[i];

			va_set(&va[k], (u64)k * 0x1000, 0x1000);
			gpuva_it_insert(&root, &va[k]);
		}
		ASSERT_EQ(gpuva_it_check(&root, &count), 0);
		ASSERT_EQ(count, n);
		ASSERT_TRUE(root.rb_leftmost == &va[0].rb.node);
		for (size_t i = 0; i < 1000; i++) {
			size_t k = (size_t)rnd_below(n);
			u64 a = (u64)k * 0x1000 + rnd_below(0x1000);

			ASSERT_TRUE(first(&root, a, a) == &va[k]);
			ASSERT_TRUE(first(&root, a, a + 0x5000) == &va[k]);
			ASSERT_TRUE(gpuva_it_prev(&va[k]) == (k ? &va[k - 1] : NULL));
		}
		ASSERT_NULL(first(&root, (u64)n * 0x1000, U64_MAX_));

		for (size_t i = n - 1; i > 0; i--) {
			size_t j = (size_t)rnd_below(i + 1), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (size_t i = 0; i < n; i++) {
			gpuva_it_remove(&root, &va[perm[i]]);
			if (i % 9973 == 0) {
				ASSERT_EQ(gpuva_it_check(&root, &count), 0);
				ASSERT_EQ(count, n - i - 1);
			}
		}
		ASSERT_NULL(root.rb_root.rb_node);
		ASSERT_NULL(root.rb_leftmost);
	}
	kfree(perm);
	kfree(va);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* The checker itself must catch broken trees. */
static bool test_check_detects_corruption(void)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct drm_gpuva v[7];

	for (int i = 0; i < 7; i++) {
		va_set(&v[i], (u64)i * 0x10, 0x10);
		gpuva_it_insert(&root, &v[i]);
	}
	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);

	struct drm_gpuva *top = container_of(root.rb_root.rb_node, struct drm_gpuva, rb.node);
	u64 saved = top->rb.__subtree_last;

	top->rb.__subtree_last = saved + 1;
	ASSERT_EQ(gpuva_it_check(&root, NULL), -EINVAL);
	top->rb.__subtree_last = saved;

	u64 addr = v[6].va.addr;

	v[6].va.addr = 0; /* out of order (and its subtree_last is stale) */
	ASSERT_EQ(gpuva_it_check(&root, NULL), -EINVAL);
	v[6].va.addr = addr;

	struct rb_node *lm = root.rb_leftmost;

	root.rb_leftmost = &v[1].rb.node;
	ASSERT_EQ(gpuva_it_check(&root, NULL), -EINVAL);
	root.rb_leftmost = lm;

	uintptr_t pc = top->rb.node.__rb_parent_color;

	top->rb.node.__rb_parent_color = pc & ~(uintptr_t)1; /* red root */
	ASSERT_EQ(gpuva_it_check(&root, NULL), -EINVAL);
	top->rb.node.__rb_parent_color = pc;

	ASSERT_EQ(gpuva_it_check(&root, NULL), 0);
	for (int i = 0; i < 7; i++)
		gpuva_it_remove(&root, &v[i]);
	ASSERT_NULL(root.rb_root.rb_node);
	return true;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		test_seed = strtoull(argv[1], NULL, 0);
	printf("# seed %llu\n", test_seed);

	RUN(test_empty);
	RUN(test_three_intervals);
	RUN(test_zero_range_equal_starts);
	RUN(test_wrap);
	RUN(test_check_detects_corruption);
	RUN(test_random_vs_model);
	RUN(test_checked_insert_and_replace_vs_model);
	RUN(test_large);
	return harness_done();
}
