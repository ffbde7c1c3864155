"""Keep freed memory in the process (glibc): the parity runs allocate and free gigabytes of
short-lived arrays (float64 state dicts, 50304-row tables, XLA buffers).

By default glibc serves each allocation over 128 KiB-32 MiB from a fresh `mmap` and unmaps it
on free, so every such array is page-faulted in again from zeroed pages: a clean CI run spent a
fifth of its time in the kernel (490 s of system time, 120 million minor faults). Served from the
heap and never trimmed, the pages are reused. Measured on #47's golden check: 50.8 s -> 45.4 s,
peak RSS 6.1 -> 6.4 GB. (Transparent huge pages for the heap, `glibc.malloc.hugetlb`, cut the
faults further but cost more in the kernel than they saved.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to stop returning memory to the OS. Returns False (and changes
    nothing) where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all([
        mallopt(_M_MMAP_MAX, 0),  # large blocks from the heap, reusable after free
        mallopt(_M_TRIM_THRESHOLD, 2**31 - 1),  # never give the heap's top back
        mallopt(_M_TOP_PAD, 1 << 30),  # grow the heap in 1 GiB steps: fewer brk calls
    ])
