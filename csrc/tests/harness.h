/* SPDX-License-Identifier: MIT */
/*
 * Minimal TAP test harness for the pygpuvm C unit tests, in the style of the
 * kernel's tools/testing/vma:
 *
 *	static bool test_insert(void)
 *	{
 *		struct foo *f = foo_new();
 *
 *		ASSERT_NONNULL(f);
 *		ASSERT_EQ(foo_count(f), 0);
 *		foo_free(f);
 *		return true;
 *	}
 *
 *	int main(void)
 *	{
 *		RUN(test_insert);
 *		return harness_done();
 *	}
 *
 * ASSERT_* print "file:line:function: message" to stderr and `return false`
 * from the enclosing test function (so clean-up after a failed assertion is
 * skipped; tests that must clean up should use a goto-style wrapper).
 * RUN() emits "ok N - name" / "not ok N - name"; harness_done() emits the TAP
 * plan "1..N" plus a "# N tests run, N passed, N failed" comment and returns
 * the number of failures (use it as main()'s exit code).
 *
 * Diagnostics go to stderr (meson's TAP parser only reads stdout); stdout is
 * flushed after every line so TAP output is not reordered with crashes.
 */
#ifndef PYGPUVM_TESTS_HARNESS_H
#define PYGPUVM_TESTS_HARNESS_H

#include <stdbool.h>
#include <stdio.h>

static unsigned int harness_num_tests;
static unsigned int harness_num_fail;

#define HARNESS_FAIL(fmt, ...)						\
	do {								\
		fprintf(stderr, "%s:%d:%s: " fmt "\n",			\
			__FILE__, __LINE__, __func__, __VA_ARGS__);	\
		return false;						\
	} while (0)

#define ASSERT_TRUE(_expr)						\
	do {								\
		if (!(_expr))						\
			HARNESS_FAIL("%s", "assert failed: " #_expr);	\
	} while (0)

#define ASSERT_FALSE(_expr) ASSERT_TRUE(!(_expr))

#define ASSERT_EQ(_a, _b)						\
	do {								\
		unsigned long long _va = (unsigned long long)(_a);	\
		unsigned long long _vb = (unsigned long long)(_b);	\
		if (_va != _vb)						\
			HARNESS_FAIL("assert failed: %s == %s "		\
				     "(0x%llx != 0x%llx)",		\
				     #_a, #_b, _va, _vb);		\
	} while (0)

#define ASSERT_NE(_a, _b)						\
	do {								\
		unsigned long long _va = (unsigned long long)(_a);	\
		unsigned long long _vb = (unsigned long long)(_b);	\
		if (_va == _vb)						\
			HARNESS_FAIL("assert failed: %s != %s "		\
				     "(both 0x%llx)", #_a, #_b, _va);	\
	} while (0)

#define ASSERT_NULL(_ptr)						\
	do {								\
		const void *_p = (_ptr);				\
		if (_p != NULL)						\
			HARNESS_FAIL("assert failed: %s is NULL (is %p)",	\
				     #_ptr, _p);			\
	} while (0)

#define ASSERT_NONNULL(_ptr)						\
	do {								\
		if ((_ptr) == NULL)					\
			HARNESS_FAIL("%s", "assert failed: " #_ptr	\
				     " is not NULL");			\
	} while (0)

/* Run one `static bool fn(void)` test and print its TAP line. */
#define RUN(_fn)							\
	do {								\
		bool _ok = _fn();					\
		harness_num_tests++;					\
		if (!_ok)						\
			harness_num_fail++;				\
		printf("%sok %u - %s\n", _ok ? "" : "not ",		\
		       harness_num_tests, #_fn);			\
		fflush(stdout);						\
	} while (0)

/* Print the TAP plan and summary; returns the failure count (exit code). */
static inline int harness_done(void)
{
	printf("1..%u\n", harness_num_tests);
	printf("# %u tests run, %u passed, %u failed\n", harness_num_tests,
	       harness_num_tests - harness_num_fail, harness_num_fail);
	fflush(stdout);
	return harness_num_fail > 255 ? 255 : (int)harness_num_fail;
}

#endif /* PYGPUVM_TESTS_HARNESS_H */
