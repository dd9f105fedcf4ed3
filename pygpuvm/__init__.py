"""pygpuvm: a userspace port of the Linux kernel's DRM GPU VA manager (drm_gpuvm).

The raw cffi bindings live in :mod:`pygpuvm.raw` (``from pygpuvm.raw import ffi, lib``).
"""
