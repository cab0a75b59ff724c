from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cfkb.io.importer import init_store
from cfkb.store.core import KnowledgeBase

FIXTURES = Path(__file__).parent / "fixtures"


def _is_loopback(host: object) -> bool:
    import ipaddress

    text = host.decode() if isinstance(host, bytes) else str(host)
    if text.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _no_network(event: str, args: tuple) -> None:
    """Fail any attempt, anywhere in the suite, to reach beyond this machine.

    cfkb must never touch the network on its own (remote JSON-LD contexts,
    SERVICE, LOAD): this audit hook turns such a connection into an error.
    Loopback stays allowed for the tests' own servers.
    """
    if event == "socket.connect":
        address = args[1]
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and not _is_loopback(host) and not host.startswith("/"):
            raise PermissionError(f"network access to {address!r} during tests")
    elif event == "socket.getaddrinfo":
        host = args[0]
        if isinstance(host, (str, bytes)) and host and not _is_loopback(host):
            raise PermissionError(f"name lookup of {host!r} during tests")


sys.addaudithook(_no_network)

# cfkb's user cache (remote bases' claim tables, derived facts) goes to a directory of the
# session's own, for the tests and the cfkb processes they start, never to ~/.cache
_CACHE = tempfile.mkdtemp(prefix="cfkb-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run the long fault-injection loops")
    parser.addoption("--screenshots", action="store_true",
                     help="browser tests: save screenshots of the main pages under docs/screenshots/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="long loop; run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def seed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded on-disk store, made once; tests get copies."""
    path = tmp_path_factory.mktemp("template") / "seed.store"
    kb, _ = init_store(str(path), analyst="fixture")
    kb.close()
    return path


def seeded_copy(seed_template: Path, path: Path, name: str, table: str) -> Path:
    """A copy of the seeded store at ``path`` with one more YAML claim table imported."""
    from cfkb.io.importer import InputFile, import_files

    shutil.copytree(seed_template, path)
    with KnowledgeBase.open(path, write=True) as kb:
        import_files(kb, [InputFile(name, table.encode("utf-8"), "yaml")], analyst="tester", create_entities=True)
    return path


@pytest.fixture
def store_path(seed_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the seeded store, on disk."""
    path = tmp_path / "kb.store"
    shutil.copytree(seed_template, path)
    return path


@pytest.fixture
def kb(store_path: Path):
    kb = KnowledgeBase.open(store_path, write=True)
    yield kb
    kb.close()


@pytest.fixture
def empty_store(tmp_path: Path) -> Path:
    path = tmp_path / "empty.store"
    KnowledgeBase.create(path).close()
    return path


def invoke(runner: CliRunner, store: Path, *args: str, input: str | bytes | None = None):
    from cfkb.cli import cli

    return runner.invoke(cli, ["--store", str(store), "--analyst", "tester", *args], input=input,
                         catch_exceptions=False)


#: Debian's Chromium, which the browser tests drive through Playwright (never a downloaded browser).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module (skipped, saying why, where it or Playwright is missing)."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`cfkb serve` running as its own process on 127.0.0.1, for tests that need a socket."""

    def __init__(self, store: Path, *args: str, host: str | None = None) -> None:
        import subprocess
        import sys

        self.port = free_port()
        self.url = f"http://{'[' + host + ']' if host and ':' in host else host or '127.0.0.1'}:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cfkb", "--store", str(store), "--analyst", "tester", "serve",
             "--port", str(self.port), *(("--host", host) if host else ()), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"cfkb serve exited with {self.process.returncode}: {out}")
            try:
                if httpx.get(self.url + "/sparql", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("cfkb serve did not answer in time")

    def stop(self) -> int:
        import signal
        import subprocess

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
