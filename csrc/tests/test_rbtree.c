// SPDX-License-Identifier: MIT
/*
 * The plain red-black tree of csrc/lib/rbtree.c (no augmentation): insert and
 * erase with the leftmost cache, traversal both ways, structural checks,
 * against a count-per-key model. The augmented use is tested by
 * test_interval_tree.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "linux/slab.h"
#include "lib/rbtree.h"

struct item {
	u64 key;
	struct rb_node node;
	bool in;
};

static u64 rng_state = 12345;

static u64 rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void item_insert(struct rb_root_cached *root, struct item *it)
{
	struct rb_node **link = &root->rb_root.rb_node, *parent = NULL;
	bool leftmost = true;

	while (*link) {
		parent = *link;
		if (it->key < rb_entry(parent, struct item, node)->key) {
			link = &parent->rb_left;
		} else {
			link = &parent->rb_right;
			leftmost = false;
		}
	}
	rb_link_node(&it->node, parent, link);
	rb_insert_color_cached(&it->node, root, leftmost);
}

static bool test_small_shapes(void)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct item it[3];
	size_t n;

	/* 1, 2, 3 ascending forces a rotation; the middle key ends at the root. */
	for (int i = 0; i < 3; i++) {
		memset(&it[i], 0, sizeof(it[i]));
		it[i].key = (u64)i + 1;
		item_insert(&root, &it[i]);
	}
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, &n), 0);
	ASSERT_EQ(n, 3);
	ASSERT_TRUE(root.rb_root.rb_node == &it[1].node);
	ASSERT_TRUE(rb_is_red(&it[0].node) && rb_is_red(&it[2].node));
	ASSERT_TRUE(rb_first_cached(&root) == &it[0].node);
	ASSERT_TRUE(rb_last(&root.rb_root) == &it[2].node);
	ASSERT_TRUE(rb_next(&it[0].node) == &it[1].node);
	ASSERT_NULL(rb_next(&it[2].node));
	ASSERT_TRUE(rb_prev(&it[2].node) == &it[1].node);
	ASSERT_NULL(rb_prev(&it[0].node));

	rb_erase_cached(&it[1].node, &root); /* the root, with two children */
	ASSERT_EQ(rb_check_structure(&root.rb_root, &root, &n), 0);
	ASSERT_EQ(n, 2);
	rb_erase_cached(&it[0].node, &root); /* the leftmost */
	ASSERT_TRUE(rb_first_cached(&root) == &it[2].node);
	rb_erase_cached(&it[2].node, &root);
	ASSERT_NULL(root.rb_root.rb_node);
	ASSERT_NULL(rb_first_cached(&root));
	ASSERT_NULL(rb_first(&root.rb_root));
	return true;
}

#define NITEMS 2048
#define KEYS 300

static bool test_random(void)
{
	const long live0 = gpuvm_alloc_live();
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct item *items = kzalloc(NITEMS * sizeof(*items), GFP_KERNEL);
	unsigned int count[KEYS] = { 0 };
	size_t live = 0, n;

	ASSERT_NONNULL(items);
	for (unsigned int op = 0; op < 200000; op++) {
		struct item *it = &items[rnd() % NITEMS];
		bool grow = (op / 10000) % 2 == 0;

		if (!it->in && (rnd() % 4 < (grow ? 3u : 1u))) {
			it->key = rnd() % KEYS;
			item_insert(&root, it);
			it->in = true;
			count[it->key]++;
			live++;
		} else if (it->in) {
			rb_erase_cached(&it->node, &root);
			it->in = false;
			count[it->key]--;
			live--;
		}
		if (op % 997 != 0)
			continue;

		ASSERT_EQ(rb_check_structure(&root.rb_root, &root, &n), 0);
		ASSERT_EQ(n, live);
		/* Forward walk sees every key its model number of times, in order. */
		unsigned int seen[KEYS] = { 0 };
		u64 prev = 0;
		size_t walked = 0;

		for (struct rb_node *p = rb_first_cached(&root); p; p = rb_next(p)) {
			u64 key = rb_entry(p, struct item, node)->key;

			ASSERT_TRUE(key >= prev);
			prev = key;
			seen[key]++;
			walked++;
		}
		ASSERT_EQ(walked, live);
		ASSERT_EQ(memcmp(seen, count, sizeof(seen)), 0);
		walked = 0;
		for (struct rb_node *p = rb_last(&root.rb_root); p; p = rb_prev(p))
			walked++;
		ASSERT_EQ(walked, live);
	}
	for (unsigned int i = 0; i < NITEMS; i++)
		if (items[i].in)
			rb_erase_cached(&items[i].node, &root);
	ASSERT_NULL(root.rb_root.rb_node);
	ASSERT_NULL(root.rb_leftmost);
	kfree(items);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	RUN(test_small_shapes);
	RUN(test_random);
	return harness_done();
}
