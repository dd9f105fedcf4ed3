// SPDX-License-Identifier: MIT
/*
 * The counting allocator (linux/slab.h) and the diagnostics hook
 * (linux/bug.h): counters, one-shot fail-nth injection, krealloc failure
 * semantics, thread safety of the trigger, WARN counting and the hook.
 */
#include <pthread.h>
#include <string.h>

#include "child.h"
#include "harness.h"
#include "linux/bug.h"
#include "linux/slab.h"

static bool test_counters(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long count0 = gpuvm_alloc_count();
	unsigned char *z;
	void *m;
	size_t i;

	z = kzalloc(64, GFP_KERNEL);
	ASSERT_NONNULL(z);
	for (i = 0; i < 64; i++)
		ASSERT_EQ(z[i], 0);
	m = kmalloc(32, GFP_KERNEL);
	ASSERT_NONNULL(m);
	ASSERT_EQ(gpuvm_alloc_count(), count0 + 2);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 2);

	kfree(z);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);
	kfree(m);
	kfree(NULL); /* no-op, must not unbalance the counter */
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	ASSERT_EQ(gpuvm_alloc_count(), count0 + 2);
	return true;
}

static bool test_zero_size(void)
{
	long live0 = gpuvm_alloc_live();
	void *p = kmalloc(0, GFP_KERNEL);

	/* A zero-byte request is not an out-of-memory condition. */
	ASSERT_NONNULL(p);
	kfree(p);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_fail_nth(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long fail0 = gpuvm_alloc_failures();
	unsigned long count0 = gpuvm_alloc_count();
	void *a, *b, *c, *d;

	/* 1 = the very next allocation. */
	gpuvm_alloc_fail_nth(1);
	ASSERT_NULL(kzalloc(8, GFP_KERNEL));
	ASSERT_EQ(gpuvm_alloc_failures(), fail0 + 1);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	/* Failed attempts are still counted. */
	ASSERT_EQ(gpuvm_alloc_count(), count0 + 1);

	/* One-shot: the trigger disarms after firing. */
	a = kmalloc(8, GFP_KERNEL);
	ASSERT_NONNULL(a);

	/* 3 = two succeed, the third fails, the fourth succeeds. */
	gpuvm_alloc_fail_nth(3);
	b = kmalloc(8, GFP_KERNEL);
	c = kzalloc(8, GFP_KERNEL);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_NULL(kmalloc(8, GFP_KERNEL));
	d = kmalloc(8, GFP_KERNEL);
	ASSERT_NONNULL(d);
	ASSERT_EQ(gpuvm_alloc_failures(), fail0 + 2);

	kfree(a);
	kfree(b);
	kfree(c);
	kfree(d);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_fail_nth_disarm(void)
{
	unsigned long fail0 = gpuvm_alloc_failures();
	long live0 = gpuvm_alloc_live();
	void *p;

	gpuvm_alloc_fail_nth(2);
	gpuvm_alloc_fail_nth(0);
	p = kmalloc(1, GFP_KERNEL);
	ASSERT_NONNULL(p);
	kfree(p);
	p = kmalloc(1, GFP_KERNEL);
	ASSERT_NONNULL(p);
	kfree(p);
	ASSERT_EQ(gpuvm_alloc_failures(), fail0);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_krealloc(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned long count0 = gpuvm_alloc_count();
	char *p, *q;

	/* krealloc(NULL) is an allocation like any other. */
	p = krealloc(NULL, 4, GFP_KERNEL);
	ASSERT_NONNULL(p);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);
	ASSERT_EQ(gpuvm_alloc_count(), count0 + 1);
	memcpy(p, "abc", 4);

	/* Growing keeps the contents and the live count. */
	q = krealloc(p, 4096, GFP_KERNEL);
	ASSERT_NONNULL(q);
	p = q;
	ASSERT_EQ(strcmp(p, "abc"), 0);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);
	ASSERT_EQ(gpuvm_alloc_count(), count0 + 2);

	/* A failed resize returns NULL and leaves the old block intact. */
	gpuvm_alloc_fail_nth(1);
	q = krealloc(p, 1 << 20, GFP_KERNEL);
	ASSERT_NULL(q);
	ASSERT_EQ(strcmp(p, "abc"), 0);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);

	/* krealloc(NULL) can be made to fail too. */
	gpuvm_alloc_fail_nth(1);
	ASSERT_NULL(krealloc(NULL, 16, GFP_KERNEL));
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);

	kfree(p);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

#define FAIL_THREADS 8
#define FAIL_ALLOCS 2000

struct fail_arg {
	unsigned int nulls;
};

static void *alloc_thread(void *data)
{
	struct fail_arg *arg = data;
	unsigned int i;

	for (i = 0; i < FAIL_ALLOCS; i++) {
		void *p = kmalloc(16, GFP_KERNEL);

		if (!p)
			arg->nulls++;
		kfree(p);
	}
	return NULL;
}

/* Many threads racing past an armed trigger: exactly one of them fails. */
static bool test_fail_nth_threads(void)
{
	pthread_t threads[FAIL_THREADS];
	struct fail_arg args[FAIL_THREADS];
	unsigned long fail0 = gpuvm_alloc_failures();
	unsigned long count0 = gpuvm_alloc_count();
	long live0 = gpuvm_alloc_live();
	unsigned int i, nulls = 0;

	memset(args, 0, sizeof(args));
	gpuvm_alloc_fail_nth(FAIL_THREADS * FAIL_ALLOCS / 2);
	for (i = 0; i < FAIL_THREADS; i++)
		ASSERT_EQ(pthread_create(&threads[i], NULL, alloc_thread, &args[i]), 0);
	for (i = 0; i < FAIL_THREADS; i++) {
		pthread_join(threads[i], NULL);
		nulls += args[i].nulls;
	}
	ASSERT_EQ(nulls, 1);
	ASSERT_EQ(gpuvm_alloc_failures(), fail0 + 1);
	ASSERT_EQ(gpuvm_alloc_count(), count0 + FAIL_THREADS * FAIL_ALLOCS);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

struct hook_log {
	unsigned int calls;
	int line;
	char msg[128];
	char file[128];
};

static void log_hook(const char *file, int line, const char *msg, void *data)
{
	struct hook_log *log = data;

	log->calls++;
	log->line = line;
	snprintf(log->msg, sizeof(log->msg), "%s", msg);
	snprintf(log->file, sizeof(log->file), "%s", file);
}

static bool test_warn_hook(void)
{
	struct hook_log log = { 0 };
	unsigned long warns0 = gpuvm_warn_count();
	long live0 = gpuvm_alloc_live();
	int expect_line, r;

	gpuvm_set_warn_hook(log_hook, &log);

	/* A false condition neither counts nor calls the hook. */
	r = WARN(0, "never %d", 1);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(log.calls, 0);
	ASSERT_EQ(gpuvm_warn_count(), warns0);

	/* WARN evaluates to its condition, as the kernel's does. */
	expect_line = __LINE__ + 1;
	r = WARN(2 > 1, "value %d and %s", 42, "text");
	ASSERT_EQ(r, 1);
	ASSERT_EQ(log.calls, 1);
	ASSERT_EQ(log.line, expect_line);
	ASSERT_EQ(strcmp(log.msg, "value 42 and text"), 0);
	ASSERT_NONNULL(strstr(log.file, "test_alloc.c"));
	ASSERT_EQ(gpuvm_warn_count(), warns0 + 1);

	/* Statement form; WARN_ON names the condition. */
	WARN_ON(log.calls == 1);
	ASSERT_EQ(log.calls, 2);
	ASSERT_EQ(strcmp(log.msg, "WARN_ON(log.calls == 1)"), 0);

	/* Lock assertions are WARNs carrying "lock not held". */
	gpuvm_lockdep_assert(false, "the test lock");
	ASSERT_EQ(log.calls, 3);
	ASSERT_NONNULL(strstr(log.msg, "lock not held"));
	ASSERT_NONNULL(strstr(log.msg, "the test lock"));

	/* Long messages are truncated, not overflowed. */
	{
		char big[2000];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		WARN(1, "%s", big);
		ASSERT_EQ(log.calls, 4);
	}

	gpuvm_set_warn_hook(NULL, NULL);
	ASSERT_EQ(gpuvm_warn_count(), warns0 + 4);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static void *warn_in_thread(void *arg)
{
	(void)arg;
	WARN(1, "queued in a thread that exits");
	return NULL;
}

/* Deferred WARNs: queued per thread, popped in order, bounded, never hooked. */
static bool test_warn_queue(void)
{
	struct hook_log log = { 0 };
	unsigned long warns0 = gpuvm_warn_count();
	const char *file;
	char msg[64];
	int line, expect_line;
	pthread_t t;

	gpuvm_set_warn_hook(log_hook, &log);
	gpuvm_warn_queue(true);
	ASSERT_EQ(gpuvm_warn_pop(&file, &line, msg, sizeof(msg)), 0);

	expect_line = __LINE__ + 1;
	WARN(1, "first %d", 1);
	WARN(1, "second");
	ASSERT_EQ(log.calls, 0);
	ASSERT_EQ(gpuvm_warn_nqueued, 2);
	ASSERT_EQ(gpuvm_warn_count(), warns0 + 2);
	ASSERT_EQ(gpuvm_warn_pop(&file, &line, msg, sizeof(msg)), 1);
	ASSERT_EQ(strcmp(msg, "first 1"), 0);
	ASSERT_EQ(line, expect_line);
	ASSERT_NONNULL(strstr(file, "test_alloc.c"));
	ASSERT_EQ(gpuvm_warn_pop(&file, &line, msg, sizeof(msg)), 1);
	ASSERT_EQ(strcmp(msg, "second"), 0);
	ASSERT_EQ(gpuvm_warn_pop(&file, &line, msg, sizeof(msg)), 0);
	ASSERT_EQ(gpuvm_warn_nqueued, 0);

	/* Another thread's WARNs are its own; it prints them when it exits. */
	ASSERT_EQ(pthread_create(&t, NULL, warn_in_thread, NULL), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(gpuvm_warn_pop(&file, &line, msg, sizeof(msg)), 0);
	ASSERT_EQ(gpuvm_warn_nqueued, 0);

	/* A full queue drops the rest and says how many, once, at the end. */
	for (int i = 0; i < 40; i++)
		WARN(1, "flood %d", i);
	for (int i = 0; i < 16; i++) {
		char want[16];

		snprintf(want, sizeof(want), "flood %d", i);
		ASSERT_EQ(gpuvm_warn_pop(&file, &line, msg, sizeof(msg)), 1);
		ASSERT_EQ(strcmp(msg, want), 0);
	}
	ASSERT_EQ(gpuvm_warn_pop(&file, &line, msg, sizeof(msg)), 1);
	ASSERT_NONNULL(strstr(msg, "24 more WARNs"));
	ASSERT_EQ(gpuvm_warn_pop(&file, &line, msg, sizeof(msg)), 0);
	ASSERT_EQ(gpuvm_warn_nqueued, 0);

	gpuvm_warn_queue(false);
	WARN(1, "hooked again");
	ASSERT_EQ(log.calls, 1);
	gpuvm_set_warn_hook(NULL, NULL);
	return true;
}

static void warn_without_hook(void *arg)
{
	(void)arg;
	gpuvm_set_warn_hook(NULL, NULL);
	WARN(1, "unhooked %s", "warning");
}

static void bug_child(void *arg)
{
	(void)arg;
	gpuvm_bug("somefile.c", 77, "broken %d", 7);
}

static void bug_on_child(void *arg)
{
	int x = *(int *)arg;

	GPUVM_BUG_ON(x == 3);
}

static bool test_default_warn_and_bug(void)
{
	struct child_result res;
	int three = 3;

	/* Without a hook a WARN goes to stderr and execution continues. */
	ASSERT_TRUE(run_in_child(warn_without_hook, NULL, &res));
	ASSERT_EQ(res.term_signal, 0);
	ASSERT_EQ(res.exit_code, 0);
	ASSERT_NONNULL(strstr(res.err, "WARNING: "));
	ASSERT_NONNULL(strstr(res.err, "test_alloc.c:"));
	ASSERT_NONNULL(strstr(res.err, "unhooked warning"));

	ASSERT_TRUE(run_in_child(bug_child, NULL, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "BUG: somefile.c:77: broken 7"));

	ASSERT_TRUE(run_in_child(bug_on_child, &three, &res));
	ASSERT_EQ(res.term_signal, SIGABRT);
	ASSERT_NONNULL(strstr(res.err, "BUG_ON(x == 3)"));
	return true;
}

int main(void)
{
	RUN(test_counters);
	RUN(test_zero_size);
	RUN(test_fail_nth);
	RUN(test_fail_nth_disarm);
	RUN(test_krealloc);
	RUN(test_fail_nth_threads);
	RUN(test_warn_hook);
	RUN(test_warn_queue);
	RUN(test_default_warn_and_bug);
	return harness_done();
}
