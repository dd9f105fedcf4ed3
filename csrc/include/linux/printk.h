/* SPDX-License-Identifier: MIT */
/*
 * Kernel log output: pr_*() print to stderr with the level as prefix;
 * pr_debug() and pr_devel() compile to nothing (their format is still checked).
 */
#ifndef PYGPUVM_LINUX_PRINTK_H
#define PYGPUVM_LINUX_PRINTK_H

#include <stdio.h>

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

#define KERN_EMERG "<0>"
#define KERN_ALERT "<1>"
#define KERN_CRIT "<2>"
#define KERN_ERR "<3>"
#define KERN_WARNING "<4>"
#define KERN_NOTICE "<5>"
#define KERN_INFO "<6>"
#define KERN_DEBUG "<7>"

/* printk(KERN_ERR "fmt", ...): the level is part of the format string. */
#define printk(fmt, ...) fprintf(stderr, fmt __VA_OPT__(,) __VA_ARGS__)

#define pr_emerg(fmt, ...) fprintf(stderr, "emerg: " pr_fmt(fmt) __VA_OPT__(,) __VA_ARGS__)
#define pr_alert(fmt, ...) fprintf(stderr, "alert: " pr_fmt(fmt) __VA_OPT__(,) __VA_ARGS__)
#define pr_crit(fmt, ...) fprintf(stderr, "crit: " pr_fmt(fmt) __VA_OPT__(,) __VA_ARGS__)
#define pr_err(fmt, ...) fprintf(stderr, "err: " pr_fmt(fmt) __VA_OPT__(,) __VA_ARGS__)
#define pr_warn(fmt, ...) fprintf(stderr, "warn: " pr_fmt(fmt) __VA_OPT__(,) __VA_ARGS__)
#define pr_notice(fmt, ...) fprintf(stderr, "notice: " pr_fmt(fmt) __VA_OPT__(,) __VA_ARGS__)
#define pr_info(fmt, ...) fprintf(stderr, "info: " pr_fmt(fmt) __VA_OPT__(,) __VA_ARGS__)
#define pr_cont(fmt, ...) fprintf(stderr, fmt __VA_OPT__(,) __VA_ARGS__)
#define pr_debug(fmt, ...)                                                  \
	do {                                                                \
		if (0)                                                      \
			fprintf(stderr, pr_fmt(fmt) __VA_OPT__(,) __VA_ARGS__); \
	} while (0)
#define pr_devel(fmt, ...) pr_debug(fmt __VA_OPT__(,) __VA_ARGS__)

#endif
