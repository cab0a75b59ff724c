"""A progress bar for long imports, drawn only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any

import click


class _NoBar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


#: Inputs smaller than this many lines import too fast to need a progress bar.
PROGRESS_MIN_LINES = 20_000


def _every(seconds: float, update: Any) -> Any:
    """``update`` called with the lines counted, at most once per ``seconds`` (a terminal redraw each)."""
    pending, last = 0, time.monotonic()

    def progress(lines: int) -> None:
        nonlocal pending, last
        pending += lines
        now = time.monotonic()
        if now - last >= seconds:
            update(pending)
            pending, last = 0, now

    return progress


def _progress_bar(total_lines: int) -> Any:
    """A progress bar on stderr, counting input lines, when stderr is a terminal."""
    if total_lines >= PROGRESS_MIN_LINES and sys.stderr.isatty():
        start = time.monotonic()

        def rate(_item: object) -> str:
            elapsed = time.monotonic() - start
            return f"{bar.pos / elapsed:,.0f} rows/s" if elapsed > 0.5 and bar.pos else ""

        bar = click.progressbar(length=total_lines, label="importing", file=sys.stderr, show_pos=True,
                                show_eta=True, item_show_func=rate)
        return bar
    return _NoBar()


# -- claims ----------------------------------------------------------------
