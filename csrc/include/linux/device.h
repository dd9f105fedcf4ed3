/* SPDX-License-Identifier: MIT */
/*
 * A userspace struct device: a name, a parent and the driver-data pointer,
 * which is all GPU VA code reaches through it; dev_*() log lines go to stderr
 * (dev_dbg() compiles to nothing).
 */
#ifndef PYGPUVM_LINUX_DEVICE_H
#define PYGPUVM_LINUX_DEVICE_H

#include "linux/printk.h"

struct device {
	struct device *parent;
	/* The name dev_name() reports (the kernel's init_name/kobject name). */
	const char *init_name;
	void *driver_data;
};

static inline const char *dev_name(const struct device *dev)
{
	return dev && dev->init_name ? dev->init_name : "(no device)";
}

static inline void *dev_get_drvdata(const struct device *dev)
{
	return dev->driver_data;
}

static inline void dev_set_drvdata(struct device *dev, void *data)
{
	dev->driver_data = data;
}

#define dev_printk__(lvl, dev, fmt, ...) \
	fprintf(stderr, lvl "%s: " fmt, dev_name(dev) __VA_OPT__(,) __VA_ARGS__)
#define dev_emerg(dev, fmt, ...) dev_printk__("emerg: ", dev, fmt __VA_OPT__(,) __VA_ARGS__)
#define dev_crit(dev, fmt, ...) dev_printk__("crit: ", dev, fmt __VA_OPT__(,) __VA_ARGS__)
#define dev_alert(dev, fmt, ...) dev_printk__("alert: ", dev, fmt __VA_OPT__(,) __VA_ARGS__)
#define dev_err(dev, fmt, ...) dev_printk__("err: ", dev, fmt __VA_OPT__(,) __VA_ARGS__)
#define dev_warn(dev, fmt, ...) dev_printk__("warn: ", dev, fmt __VA_OPT__(,) __VA_ARGS__)
#define dev_notice(dev, fmt, ...) dev_printk__("notice: ", dev, fmt __VA_OPT__(,) __VA_ARGS__)
#define dev_info(dev, fmt, ...) dev_printk__("info: ", dev, fmt __VA_OPT__(,) __VA_ARGS__)
#define dev_dbg(dev, fmt, ...)                                                  \
	do {                                                                    \
		if (0)                                                          \
			dev_printk__("", dev, fmt __VA_OPT__(,) __VA_ARGS__);   \
	} while (0)

#endif
