// SPDX-License-Identifier: MIT
/*
 * Self-test of csrc/tests/harness.h: every ASSERT_* must pass on true
 * conditions, and on false ones must `return false` and report
 * "file:line:function: message" on stderr. Also links gpuvm_core, so this
 * doubles as a smoke test that the core library builds and links.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* --- helpers that must fail; their stderr is captured, see capture() --- */

static bool fail_true(void)     { ASSERT_TRUE(1 + 1 == 3); return true; }
static bool fail_false(void)    { ASSERT_FALSE(2 > 1); return true; }
static bool fail_eq(void)       { ASSERT_EQ(0x10, 0x20); return true; }
static bool fail_ne(void)       { ASSERT_NE(7, 7); return true; }
static bool fail_null(void)     { static int x; ASSERT_NULL(&x); return true; }
static bool fail_nonnull(void)  { int *p = NULL; ASSERT_NONNULL(p); return true; }

/* Run @fn with stderr redirected into @buf; returns @fn's result. */
static bool capture(bool (*fn)(void), char *buf, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n = 0;
	bool ret;

	if (!tmp || saved < 0) {
		perror("capture");
		exit(99);
	}
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	ret = fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return ret;
}

static bool check_fails(bool (*fn)(void), const char *fn_name,
			const char *needle)
{
	char msg[512];

	ASSERT_FALSE(capture(fn, msg, sizeof(msg)));
	/* file:line:function: message */
	ASSERT_NONNULL(strstr(msg, "test_harness.c:"));
	ASSERT_NONNULL(strstr(msg, fn_name));
	ASSERT_NONNULL(strstr(msg, "assert failed"));
	ASSERT_NONNULL(strstr(msg, needle));
	return true;
}

/* --- the tests --- */

static bool test_asserts_pass(void)
{
	int x = 1;
	uint64_t big = UINT64_MAX;

	ASSERT_TRUE(x == 1);
	ASSERT_FALSE(x == 2);
	ASSERT_EQ(big, 0xffffffffffffffffULL);
	ASSERT_EQ(-1, UINT64_MAX);	/* compared as unsigned long long */
	ASSERT_NE(big, 0);
	ASSERT_NULL(NULL);
	ASSERT_NONNULL(&x);
	return true;
}

static bool test_asserts_fail(void)
{
	ASSERT_TRUE(check_fails(fail_true, "fail_true", "1 + 1 == 3"));
	ASSERT_TRUE(check_fails(fail_false, "fail_false", "2 > 1"));
	ASSERT_TRUE(check_fails(fail_eq, "fail_eq", "(0x10 != 0x20)"));
	ASSERT_TRUE(check_fails(fail_ne, "fail_ne", "(both 0x7)"));
	ASSERT_TRUE(check_fails(fail_null, "fail_null", "&x is NULL"));
	ASSERT_TRUE(check_fails(fail_nonnull, "fail_nonnull", "p is not NULL"));
	return true;
}

static int side_effects;
static int bump(void) { return ++side_effects; }

static bool test_args_evaluated_once(void)
{
	side_effects = 0;
	ASSERT_EQ(bump(), 1);
	ASSERT_NE(bump(), 0);
	ASSERT_NONNULL(bump() ? &side_effects : NULL);
	ASSERT_EQ(side_effects, 3);
	return true;
}

int main(void)
{
	RUN(test_asserts_pass);
	RUN(test_asserts_fail);
	RUN(test_args_evaluated_once);
	return harness_done();
}
