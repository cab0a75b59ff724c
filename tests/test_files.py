"""Regular files only: what cfkb reads and writes on an analyst's word (``cfkb/store/files.py``).

Real FIFOs, device nodes, symlinks and /proc files; no stand-ins.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cfkb.errors import InputError, ParseError
from cfkb.store.files import check_output, read_regular, write_regular
from conftest import invoke

SECRET = "SECRETTOKEN-7f3a9c hunter2"
CSV_HEAD = "subject,predicate,object,source,negated,date,quote\n"


def _char_device(path: Path) -> bool:
    """A real character device node (/dev/null's numbers) at ``path``, if this user may make one."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        return False
    return True


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "private" / "token.txt"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\nsecond line {SECRET}\n", encoding="utf-8")
    return path


# -- reading -------------------------------------------------------------------------

@pytest.mark.parametrize("ext", ["csv", "ttl", "trig", "yaml", "jsonld", "nt"])
def test_a_symlink_to_a_secret_is_refused_and_never_quoted(runner, store_path, tmp_path, secret, ext):
    """Before: 'in.csv:1:1: unknown column SECRET...' or 'SECRET is not a valid subject'."""
    link = tmp_path / f"claims.{ext}"
    link.symlink_to(secret)
    for args in (("import", str(link)), ("validate", str(link))):
        result = invoke(runner, store_path, *args)
        assert result.exit_code != 0
        assert "symbolic link" in result.output
        assert "SECRET" not in result.output and "hunter2" not in result.output


def test_a_query_file_through_a_symlink_is_refused(runner, store_path, tmp_path, secret):
    link = tmp_path / "q.rq"
    link.symlink_to(secret)
    result = invoke(runner, store_path, "query", str(link))
    assert result.exit_code != 0 and "symbolic link" in result.output and "SECRET" not in result.output


def test_a_symlink_to_dev_zero_is_refused_before_reading(runner, store_path, tmp_path):
    """Before: stat said 0 bytes, so the 512 MiB bound was skipped and the read grew without end."""
    link = tmp_path / "zero.ttl"
    link.symlink_to("/dev/zero")
    result = invoke(runner, store_path, "import", str(link))
    assert result.exit_code == 1 and "symbolic link" in result.output
    result = invoke(runner, store_path, "import", "--format", "turtle", "/dev/zero")
    assert result.exit_code == 1 and "a device, not a regular file" in result.output
    with pytest.raises(InputError, match="a device"):
        read_regular(link, 1024, follow=True)


def test_reads_are_bounded_by_the_bytes_read_not_by_stat():
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0 and stat.S_ISREG(status.stat().st_mode)  # stat says empty
    with pytest.raises(ParseError, match="more than the limit"):
        read_regular(status, 100, follow=True)
    assert len(read_regular(status, 1 << 20, follow=True)) > 100


def test_a_file_over_the_limit_is_refused_by_import(runner, store_path, tmp_path):
    big = tmp_path / "big.csv"
    big.write_text(CSV_HEAD + "x,y,z,s,false,2023-01-01,q\n" * 60_000, encoding="utf-8")
    result = invoke(runner, store_path, "import", "--max-file-mb", "1", str(big))
    assert result.exit_code == 1 and "more than the limit of 1 MiB" in result.output


def test_a_fifo_is_refused_without_waiting_for_a_writer(runner, store_path, tmp_path):
    """Before: opening a FIFO with no writer blocked the import for ever."""
    fifo = tmp_path / "claims.csv"
    os.mkfifo(fifo)
    for args in (("import", str(fifo)), ("validate", str(fifo)), ("query", str(tmp_path / "q.rq"))):
        if args[0] == "query":
            os.mkfifo(tmp_path / "q.rq")
        result = invoke(runner, store_path, *args)
        assert result.exit_code != 0
        assert "FIFO" in result.output, result.output
    link = tmp_path / "via-link.csv"
    link.symlink_to(fifo)
    with pytest.raises(InputError, match="FIFO"):
        read_regular(link, 1024, follow=True)


def test_directories_and_missing_files_are_one_line_errors(runner, store_path, tmp_path):
    (tmp_path / "d.csv").mkdir()
    result = invoke(runner, store_path, "import", str(tmp_path / "d.csv"))
    assert result.exit_code != 0 and "is a directory" in result.output
    result = invoke(runner, store_path, "import", str(tmp_path / "none.csv"))
    assert result.exit_code != 0 and "cannot read" in result.output


def test_the_config_file_may_be_a_link_but_not_a_fifo(tmp_path):
    from cfkb.store.remotesettings import settings_for

    real = tmp_path / "remote.toml"
    real.write_text('timeout = 5\n', encoding="utf-8")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    assert settings_for("http://127.0.0.1:1", {"CFKB_REMOTE_CONFIG": str(link)}).timeout == 5
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        settings_for("http://127.0.0.1:1", {"CFKB_REMOTE_CONFIG": str(fifo)})


# -- writing ---------------------------------------------------------------------------

def test_export_o_never_replaces_a_device_node(runner, store_path, tmp_path):
    """Before: ``export -o /dev/null`` as root renamed a regular file over the device node."""
    node = tmp_path / "null"
    if not _char_device(node):
        pytest.skip("this user may not make device nodes")
    result = invoke(runner, store_path, "export", "-o", str(node))
    assert result.exit_code != 0 and "a device" in result.output
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".null")]


def test_export_o_refuses_fifos_links_and_directories(runner, store_path, tmp_path, secret):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "out.ttl"
    link.symlink_to(secret)
    folder = tmp_path / "folder"
    folder.mkdir()
    for target, kind in ((fifo, "FIFO"), (link, "symbolic link"), (folder, "")):
        result = invoke(runner, store_path, "export", "-o", str(target))
        assert result.exit_code != 0, target
        assert kind in result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(link)
    assert secret.read_text(encoding="utf-8").startswith(SECRET)  # the link's target is untouched
    result = invoke(runner, store_path, "report", "-o", str(fifo))
    assert result.exit_code != 0 and "FIFO" in result.output


def test_export_o_writes_a_new_path_and_replaces_a_regular_file(runner, store_path, tmp_path):
    new = tmp_path / "new.ttl"
    assert invoke(runner, store_path, "export", "-o", str(new)).exit_code == 0
    assert new.read_text(encoding="utf-8").startswith("@prefix")
    new.write_text("old", encoding="utf-8")
    assert invoke(runner, store_path, "export", "-o", str(new)).exit_code == 0
    assert new.read_text(encoding="utf-8") != "old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_failed_export_leaves_no_partial_file(runner, store_path, tmp_path, monkeypatch):
    """The export is written to its file as it is made: when it fails, what was there stays and
    nothing else is left beside it."""
    from cfkb.io import exportstream

    out = tmp_path / "out"
    out.mkdir()
    target = out / "out.ttl"
    result = invoke(runner, store_path, "export", "--entity", "no such entity anywhere", "-o", str(target))
    assert result.exit_code != 0 and not target.exists()
    target.write_text("old", encoding="utf-8")

    def broken(pieces, write):  # the disk fills after the first piece
        write(next(iter(pieces)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exportstream, "write_chunked", broken)
    result = invoke(runner, store_path, "export", "-o", str(target))
    assert result.exit_code != 0 and "No space left" in result.output
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in out.iterdir()) == ["out.ttl"]


def test_writing_regular_removes_its_file_when_the_block_fails(tmp_path):
    from cfkb.store.files import writing_regular

    with pytest.raises(RuntimeError), writing_regular(tmp_path / "a.txt") as out:
        out.write(b"half")
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_write_regular_and_check_output(tmp_path):
    with pytest.raises(InputError, match="directory does not exist"):
        check_output(tmp_path / "no" / "such.ttl")
    write_regular(tmp_path / "a.txt", b"one")
    write_regular(tmp_path / "a.txt", b"two")
    assert (tmp_path / "a.txt").read_bytes() == b"two"
