"""Entry point of a query worker process: ``python -m cfkb.server.worker FD STORE``.

Started by :class:`cfkb.server.executor.ProcessRunner`, never by hand.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from cfkb.server.executor import worker_main


def main(argv: list[str]) -> None:
    fd, store_path = int(argv[1]), argv[2]
    worker_main(Connection(fd), store_path)


if __name__ == "__main__":
    main(sys.argv)
