"""Reading and writing the files an analyst names: regular files only.

Every file cfkb reads on an analyst's word (an import, a file to validate, a
``.rq`` query, the remote config) goes through :func:`read_regular`, and
every file it writes with ``-o`` through :func:`write_regular`:

* A symbolic link named as the file is refused, not followed (unless the
  caller asks, as for the config file): a link handed over in an archive
  could point at a secret, and a parse error would then quote the secret's
  first line. A FIFO, a device, a socket or a directory is refused. Reading opens with
  ``O_NONBLOCK`` (so opening a FIFO with no writer returns at once) and asks
  ``fstat`` of the open file, so a symlink to ``/dev/zero`` or to a FIFO is
  refused before a byte is read, and no check-then-open race can swap the file.
* Reads are bounded by the bytes actually read, not by ``stat``: a file
  that grows while it is read, or a device that says it is empty, stops at
  the limit.
* ``-o`` writes a regular file or a new path, never through a symlink and
  never over a device (``export -o /dev/null`` run as root would otherwise
  replace the device node), by writing a temporary file beside it and
  renaming it into place.
* Messages name the file and what is wrong with it, never its content.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cfkb.errors import InputError, ParseError

MIB = 1024 * 1024


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def read_regular(path: str | os.PathLike[str], limit: int, *, what: str = "file",
                 hint: str = "split it, or raise the limit with --max-file-mb", follow: bool = False) -> bytes:
    """The bytes of a regular file, at most ``limit`` of them.

    ``follow``: a symbolic link named as the file is followed (the target must
    still be a regular file); by default it is refused.

    Raises:
        InputError: the path is missing, unreadable, or not a regular file.
        ParseError: the file holds more than ``limit`` bytes.
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(name, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow and os.path.islink(name):
            raise InputError(f"{name}: a symbolic link; cfkb reads {what}s only from regular files, not through"
                             " links: give the path of the file itself") from None
        raise InputError(f"{name}: cannot read: {exc.strerror}; check the path") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{name}: {_kind(mode)}, not a regular file; cfkb reads {what}s only from regular"
                             " files (use '-' for standard input)")
        size = os.fstat(fd).st_size
        if size > limit:  # a sure refusal without reading; a smaller size proves nothing (/proc, growth)
            raise ParseError(name, None, None, f"the {what} is {size / MIB:.1f} MiB, more than the limit of"
                                               f" {limit / MIB:g} MiB; {hint}")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(MIB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if total > limit:
        raise ParseError(name, None, None, f"the {what} holds more than the limit of {limit / MIB:g} MiB; {hint}")
    return b"".join(chunks)


def check_output(path: str | os.PathLike[str]) -> Path:
    """The path, if ``-o`` may write it: a regular file, or a new name in an existing directory.

    Raises:
        InputError: it is a symlink, a device, a FIFO, a directory or a socket, or its
            directory does not exist.
    """
    target = Path(path)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise InputError(f"cannot write {target}: its directory does not exist") from None
        return target
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"refusing to write {target}: it is {_kind(mode)}; -o writes only a regular file or a"
                         " new path")
    return target


def write_regular(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file renamed into place).

    Raises:
        InputError: the path may not be written (:func:`check_output`), or writing failed;
            what was there is unchanged.
    """
    with writing_regular(path) as out:
        out.write(data)


@contextmanager
def writing_regular(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` with, atomically: a temporary file beside it,
    renamed into place when the block ends, removed if it raises.

    Raises:
        InputError: the path may not be written (:func:`check_output`), or writing failed;
            what was there is unchanged.
    """
    target = check_output(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        check_output(target)  # not swapped for a device or a link meanwhile
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise InputError(f"cannot write {target}: {reason}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
