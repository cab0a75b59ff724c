"""No network where queries run: a seccomp filter on the threads that evaluate SPARQL.

pyoxigraph 0.5 evaluates ``SERVICE`` with its own HTTP client and offers no
switch to turn that off (Oxigraph's Rust ``QueryOptions::without_service_handler``
is not exposed to Python). :func:`cfkb.store.guard.check_query` refuses such queries
by their algebra before they run; this module is the second wall, enforced by
the kernel rather than by reading the text: once :func:`deny_network` has run
on a thread, that thread (and every thread it starts) can open no socket but a
Unix one, and cannot set up ``io_uring`` (which could open sockets past the
filter). A query that slipped past the parser gets ``EACCES`` on its first
connection, and nothing leaves the machine.

The filter is per thread: the server's query workers install it for their whole
process before opening the store; the command line and the in-memory server run
each query on a thread of their own that installs it first (:func:`run_offline`,
:func:`offline_initializer`), so the rest of the process keeps its network (a
test runner, an HTTP client to a remote store). It cannot be removed, only left
behind with its thread.

Linux on x86-64 and AArch64 only. Elsewhere :func:`deny_network` reports that it
could not act (:func:`available` is False) and the parser's refusal is the only
wall; ``cfkb serve`` says so when it starts.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# <linux/audit.h>, <asm/unistd.h>: the architectures the filter knows, with their
# numbers for socket(2) and io_uring_setup(2)
_ARCHES: dict[str, tuple[int, int, int]] = {
    "x86_64": (0xC000003E, 41, 425),
    "aarch64": (0xC00000B7, 198, 425),
}
_X32_BIT = 0x40000000  # x86-64's x32 ABI: syscall numbers with this bit set
_AF_UNIX = 1

# <linux/filter.h>, <linux/seccomp.h>, <linux/prctl.h>
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
# offsets in struct seccomp_data
_NR, _ARCH, _ARG0 = 0, 4, 16

_state = threading.local()


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _machine() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def available() -> bool:
    """Whether this platform can take the filter (Linux on x86-64 or AArch64)."""
    return sys.platform == "linux" and _machine() in _ARCHES and struct.calcsize("P") == 8


def _program() -> list[tuple[int, int, int, int]]:
    arch, nr_socket, nr_io_uring = _ARCHES[_machine()]
    deny = _RET_ERRNO | errno.EACCES
    # (code, jt, jf, k); jumps count instructions after the current one
    prog = [
        (_BPF_LD_W_ABS, 0, 0, _ARCH),
        (_BPF_JEQ_K, 1, 0, arch),            # our own ABI: go on
        (_BPF_RET_K, 0, 0, deny),            # any other ABI (int 0x80, ...): refused
        (_BPF_LD_W_ABS, 0, 0, _NR),
    ]
    if _machine() == "x86_64":
        prog += [(_BPF_JGE_K, 0, 1, _X32_BIT), (_BPF_RET_K, 0, 0, deny)]
    prog += [
        (_BPF_JEQ_K, 0, 1, nr_io_uring),
        (_BPF_RET_K, 0, 0, deny),
        (_BPF_JEQ_K, 0, 3, nr_socket),
        (_BPF_LD_W_ABS, 0, 0, _ARG0),        # the address family (low word)
        (_BPF_JEQ_K, 1, 0, _AF_UNIX),
        (_BPF_RET_K, 0, 0, deny),
        (_BPF_RET_K, 0, 0, _RET_ALLOW),
    ]
    return prog


def deny_network() -> bool:
    """Take the network away from the calling thread for good; True if it was done.

    Idempotent per thread. Returns False (and changes nothing) where the filter is not
    :func:`available` or the kernel refuses it (a kernel built without seccomp).
    """
    if getattr(_state, "sealed", False):
        return True
    if not available():
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    prog = _program()
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return False
    _state.sealed = True
    return True


def sealed() -> bool:
    """Whether the calling thread has lost its network to :func:`deny_network`."""
    return bool(getattr(_state, "sealed", False))


def offline_initializer() -> None:
    """For a thread pool whose threads run queries: ``ThreadPoolExecutor(initializer=...)``."""
    deny_network()


def run_offline(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a fresh thread with no network; its result or its exception.

    The calling thread keeps its network, and none of its frames are seen by ``fn``'s
    tracebacks. ``fn`` must finish its work there: a lazy
    query answer has to be read to the end inside ``fn``, since reading it later, on
    the caller's thread, would evaluate it where the network is.
    """
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            deny_network()
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=body, name="cfkb-offline", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)  # in slices, so Ctrl-C reaches the main thread
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
