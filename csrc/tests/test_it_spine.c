// SPDX-License-Identifier: MIT
/*
 * The right-spine cache of the VA interval tree
 * (gpuva_it_insert_checked_spine(), csrc/lib/interval_tree.c): appends that
 * use it, mixed with every other tree change that can leave it stale
 * (removals of spine nodes and of the rightmost, inserts in the middle,
 * zero-range VAs, replace, insert_after), with removed VAs freed at once so
 * that a sanitizer build catches any read through a stale entry. Every few
 * steps the tree is checked (red-black rules, maxima, order) against a model.
 * The trees grow large enough for spines the cache is used for (short ones
 * are walked).
 *
 * Usage: test_it_spine [seed]
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lib/interval_tree.h"
#include "lib/rbtree.h"

#define SLOT 0x10000ull /* one model slot per possible VA start */
#define NSLOTS 65536

static u64 rng_state = 0x2545f4914f6cdd1dull;

static u64 rnd(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct world {
	struct rb_root_cached root;
	struct gpuva_it_spine spine;
	struct drm_gpuva *slot[NSLOTS]; /* the model: at most one VA per slot */
	size_t count;
	size_t top; /* highest used slot while count != 0 */
};

static struct drm_gpuva *va_new(u64 addr, u64 range)
{
	struct drm_gpuva *va = calloc(1, sizeof(*va));

	if (va) {
		va->va.addr = addr;
		va->va.range = range;
	}
	return va;
}

/* Tree valid, and in order exactly the model's VAs. */
static bool check(struct world *w)
{
	struct rb_node *n = rb_first(&w->root.rb_root);
	size_t count;

	ASSERT_EQ(gpuva_it_check(&w->root, &count), 0);
	ASSERT_EQ(count, w->count);
	for (size_t i = 0; i < NSLOTS; i++) {
		if (!w->slot[i])
			continue;
		ASSERT_NONNULL(n);
		ASSERT_TRUE(n == &w->slot[i]->rb.node);
		n = rb_next(n);
	}
	ASSERT_TRUE(n == NULL);
	return true;
}

/* The highest used slot, or SIZE_MAX: w->top, kept by add and drop. */
static size_t last_used(struct world *w)
{
	return w->count ? w->top : SIZE_MAX;
}

/* A VA inside slot @i that fits (range >= 1), inserted through the cache. */
static bool add_checked(struct world *w, size_t i, bool zero)
{
	u64 addr = i * SLOT + (rnd() % 4) * 0x1000;
	struct drm_gpuva *va = va_new(addr, zero ? 0 : 0x1000 + (rnd() % 8) * 0x1000);
	struct drm_gpuva *next;

	ASSERT_NONNULL(va);
	if (zero) {
		gpuva_it_insert(&w->root, va);
	} else {
		ASSERT_EQ(gpuva_it_insert_checked_spine(&w->root, &w->spine, va, &next), 0);
		for (size_t j = i + 1; j < NSLOTS; j++) {
			if (w->slot[j]) {
				ASSERT_TRUE(next == w->slot[j]);
				break;
			}
			if (j == NSLOTS - 1)
				ASSERT_TRUE(next == NULL);
		}
	}
	w->slot[i] = va;
	if (!w->count++ || i > w->top)
		w->top = i;
	return true;
}

static void drop(struct world *w, size_t i)
{
	gpuva_it_remove(&w->root, w->slot[i]);
	free(w->slot[i]);
	w->slot[i] = NULL;
	if (--w->count && i == w->top)
		while (!w->slot[w->top])
			w->top--;
}

/* A node on the right spine, as the tree has it now. */
static size_t spine_slot(struct world *w, unsigned int depth)
{
	struct rb_node *n = w->root.rb_root.rb_node;

	for (unsigned int d = 0; d < depth && n->rb_right; d++)
		n = n->rb_right;
	return (size_t)(container_of(n, struct drm_gpuva, rb.node)->va.addr / SLOT);
}

static bool test_appends_only(void)
{
	static struct world w;
	size_t i;

	memset(&w, 0, sizeof(w));
	w.root = RB_ROOT_CACHED;
	w.spine.walk = GPUVA_IT_SPINE_WALK;
	for (i = 0; i < NSLOTS; i++) {
		ASSERT_TRUE(add_checked(&w, i, false));
		if (i % 4096 == 0 || i < 70)
			ASSERT_TRUE(check(&w));
	}
	ASSERT_TRUE(check(&w));
	/*
	 * The spine grew long enough to be cached (short ones are walked): the
	 * cache holds it, root first.
	 */
	ASSERT_TRUE(w.spine.len >= 24);
	ASSERT_TRUE(w.spine.node[0] == (uintptr_t)w.root.rb_root.rb_node);
	for (i = 0; i < NSLOTS; i++)
		drop(&w, i);
	ASSERT_TRUE(check(&w));
	/* An empty tree, then appends again with the stale cache. */
	for (i = 0; i < 100; i++)
		ASSERT_TRUE(add_checked(&w, i * 7, false));
	ASSERT_TRUE(check(&w));
	for (i = 0; i < NSLOTS; i++)
		if (w.slot[i])
			drop(&w, i);
	return check(&w);
}

static bool mixed(unsigned int walk)
{
	static struct world w;
	unsigned int cached_steps = 0;

	memset(&w, 0, sizeof(w));
	w.root = RB_ROOT_CACHED;
	w.spine.walk = walk;
	for (unsigned int step = 0; step < 200000; step++) {
		size_t top = last_used(&w);
		u64 r = rnd() % 100;

		if (top == SIZE_MAX || r < 40) {
			/* Append in a slot above every VA (the cached path). */
			size_t i = top == SIZE_MAX ? 0 : top + 1 + rnd() % 3;

			if (i >= NSLOTS) {
				drop(&w, top);
			} else {
				ASSERT_TRUE(add_checked(&w, i, false));
			}
		} else if (r < 55) {
			/* Remove a spine node, the rightmost often. */
			drop(&w, spine_slot(&w, (unsigned int)(rnd() % 24)));
		} else if (r < 70) {
			/* Remove any VA. */
			size_t i = rnd() % (top + 1);

			while (!w.slot[i])
				i = (i + 1) % (top + 1);
			drop(&w, i);
		} else if (r < 80) {
			/* Insert in a free slot below the top, through the cache too. */
			size_t i = rnd() % (top + 1);

			if (!w.slot[i])
				ASSERT_TRUE(add_checked(&w, i, rnd() % 4 == 0));
		} else if (r < 90) {
			/* Replace a VA by a shorter one at its start. */
			size_t i = rnd() % (top + 1);

			if (w.slot[i] && w.slot[i]->va.range > 0x1000) {
				struct drm_gpuva *old = w.slot[i];
				struct drm_gpuva *nva = va_new(old->va.addr, 0x1000);

				ASSERT_NONNULL(nva);
				gpuva_it_replace(&w.root, old, nva);
				free(old);
				w.slot[i] = nva;
			}
		} else {
			/* A VA right after another one, without a descent. */
			size_t i = rnd() % (top + 1);

			if (w.slot[i] && i + 1 < NSLOTS && !w.slot[i + 1]) {
				struct drm_gpuva *va = va_new((i + 1) * SLOT, 0x1000);

				ASSERT_NONNULL(va);
				gpuva_it_insert_after(&w.root, w.slot[i], va);
				w.slot[i + 1] = va;
				if (i + 1 > w.top)
					w.top = i + 1;
				w.count++;
			}
		}
		if (w.spine.len >= w.spine.walk && w.spine.node[0] == (uintptr_t)w.root.rb_root.rb_node)
			cached_steps++;
		if (step % 1999 == 0 && !check(&w)) {
			fprintf(stderr, "# step %u\n", step);
			return false;
		}
	}
	ASSERT_TRUE(check(&w));
	/* Most of the run had a spine long enough for the cache. */
	if (!walk)
		ASSERT_TRUE(cached_steps > 100000);
	for (size_t i = 0; i < NSLOTS; i++)
		if (w.slot[i])
			drop(&w, i);
	return check(&w);
}

/* The cache at every length, with every kind of staleness. */
static bool test_mixed_always_cached(void)
{
	return mixed(0);
}

/* As the VM uses it: short spines walked, long ones cached. */
static bool test_mixed_default(void)
{
	return mixed(GPUVA_IT_SPINE_WALK);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		rng_state = strtoull(argv[1], NULL, 0);
	RUN(test_appends_only);
	RUN(test_mixed_always_cached);
	RUN(test_mixed_default);
	return harness_done();
}
