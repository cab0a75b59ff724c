"""A scoped audit hook: inside :func:`sealed`, any file opened outside the allowed
directories, any socket, name lookup or subprocess is an error.

The suite-wide hook in ``conftest.py`` only watches the network. This one also
watches files, and only around the parse or query under test, since the rest of
a test may well read fixtures. It sees what Python opens (rdflib, pySHACL, the
standard library); what pyoxigraph opens from Rust is checked with strace in
``test_reach.py``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path

import cfkb

_state = threading.local()
_installed = False

#: Where a parse or query may legitimately read: the interpreter and its
#: libraries, the venv, the cfkb package and the project's shipped data.
BASE_ALLOWED = tuple(
    str(Path(p).resolve())
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"],
              sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
              str(Path(cfkb.__file__).resolve().parent.parent)}
)
#: Devices and kernel files the interpreter itself may touch.
SYSTEM_ALLOWED = ("/dev/null", "/dev/urandom", "/proc/self/", "/etc/localtime")


class ReachError(PermissionError):
    pass


def _path_of(arg: object) -> str | None:
    if isinstance(arg, int):
        return None  # an already open descriptor
    if isinstance(arg, bytes):
        arg = arg.decode("utf-8", "replace")
    if isinstance(arg, os.PathLike):
        arg = os.fspath(arg)
    return str(arg) if isinstance(arg, str) else None


def _hook(event: str, args: tuple) -> None:
    allowed = getattr(_state, "allowed", None)
    if allowed is None:
        return
    if event == "open":
        path = _path_of(args[0])
        if path is None:
            return
        full = os.path.realpath(path)
        if full.startswith(SYSTEM_ALLOWED) or any(full == a or full.startswith(a + os.sep) for a in allowed):
            return
        _state.violations.append(f"open {full}")
        raise ReachError(f"file outside the base opened during a sealed call: {full}")
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "subprocess.Popen",
                 "os.system", "os.exec", "os.posix_spawn", "urllib.Request"):
        _state.violations.append(f"{event} {args[:2]!r}")
        raise ReachError(f"{event} during a sealed call: {args[:2]!r}")


@contextlib.contextmanager
def sealed(*allowed: str | Path) -> Iterator[list[str]]:
    """Fail any reach beyond ``allowed`` (plus the interpreter, venv and cfkb) in this block.

    Yields the list of violations seen (also raised where they happen, but a
    library may catch the error, so tests assert the list is empty too).
    """
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    previous = getattr(_state, "allowed", None)
    _state.allowed = BASE_ALLOWED + tuple(str(Path(a).resolve()) for a in allowed)
    _state.violations = []
    try:
        yield _state.violations
    finally:
        _state.allowed = previous
