"""Rows the trace could not write yet (a full disk, a locked or damaged database): kept in order until they can be.

Each spooled batch is a *chunk*: a JSON-lines file in the spool folder (written atomically; it survives a
crash or a restart and is written back then) while the folder takes files and holds less than ``disk_bytes``;
otherwise the chunk stays in memory, up to ``memory_rows`` rows (lost if the program ends first). Rows beyond
both bounds are not kept: :meth:`TraceSpool.add` returns how many, and the caller counts and reports them.
The spool folder is usually on the database's disk, so a full disk also fills it: that is when the memory
part serves.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

from draem_core.errors import shown
from draem_core.imageio import write_bytes_atomic

SUFFIX = ".jsonl"


@dataclass
class Chunk:
    """One spooled batch: its rows in memory, or the file that holds them."""

    rows: list[tuple] | None  # None: on disk
    path: Path | None  # None: in memory
    count: int
    size: int = 0  # bytes on disk


class TraceSpool:
    """Chunks of rows waiting to be written, oldest first.

    Args:
        folder: Where chunks are kept on disk (created when first needed).
        disk_bytes: Most bytes the chunks on disk may take.
        memory_rows: Most rows held in memory.
    """

    def __init__(self, folder: Path, disk_bytes: int, memory_rows: int) -> None:
        self.folder, self.disk_bytes, self.memory_rows = folder, disk_bytes, memory_rows
        self._chunks: collections.deque[Chunk] = collections.deque()
        self._names = itertools.count()
        self.rows = 0  # rows waiting
        self.in_memory = 0  # of which in memory
        self.on_disk_bytes = 0
        self.damaged = 0  # rows in spool files that could not be read back (a crash while writing one)
        self._load_existing()

    def __len__(self) -> int:
        return self.rows

    def add(self, rows: list[tuple]) -> int:
        """Keep ``rows`` (on disk when possible, else in memory); returns how many could not be kept."""
        if not rows:
            return 0
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        path = self._write(data) if self.on_disk_bytes + len(data) <= self.disk_bytes else None
        if path is not None:
            self._push(Chunk(None, path, len(rows), len(data)))
            return 0
        room = max(0, self.memory_rows - self.in_memory)
        if room:
            self._push(Chunk(list(rows[:room]), None, min(room, len(rows))))
        return len(rows) - room if len(rows) > room else 0

    def oldest(self) -> list[tuple] | None:
        """The rows of the oldest chunk (read from disk if there), or None when the spool is empty. A chunk file
        that cannot be read is given up (its rows counted in :attr:`damaged`) and the next one is tried."""
        while self._chunks:
            chunk = self._chunks[0]
            if chunk.rows is not None:
                return chunk.rows
            rows = self._read(chunk)
            if rows is not None:
                return rows
            self.damaged += chunk.count
            self.remove_oldest()
        return None

    def remove_oldest(self) -> None:
        """The oldest chunk was written: forget it (and remove its file)."""
        chunk = self._chunks.popleft()
        self.rows -= chunk.count
        if chunk.path is None:
            self.in_memory -= chunk.count
        else:
            self.on_disk_bytes -= chunk.size
            try:
                chunk.path.unlink(missing_ok=True)
            except OSError:  # written back again at the next start, where the duplicate rows are skipped
                pass

    def take_memory(self) -> int:
        """Forget the chunks held in memory (the program ends); returns how many rows that was."""
        kept = collections.deque(c for c in self._chunks if c.path is not None)
        lost = self.in_memory
        self._chunks, self.rows, self.in_memory = kept, self.rows - lost, 0
        return lost

    # --- disk ----------------------------------------------------------------------------------------

    def _write(self, data: bytes) -> Path | None:
        path = self.folder / f"{time.time_ns():020d}-{next(self._names):06d}{SUFFIX}"
        try:
            write_bytes_atomic(path, data)
        except OSError:  # full, read-only, not a folder ...: memory serves
            return None
        return path

    def _read(self, chunk: Chunk) -> list[tuple] | None:
        try:
            return [tuple(json.loads(line)) for line in chunk.path.read_text(encoding="utf-8").splitlines()]
        except (OSError, ValueError):
            return None

    def _load_existing(self) -> None:
        """Chunks a previous run left (it ended while the database could not be written)."""
        try:
            names = list(self.folder.iterdir())
        except OSError:
            return
        for tmp in (p for p in names if p.name.startswith(".") and p.name.endswith(".tmp")):
            with contextlib.suppress(OSError):
                tmp.unlink()  # a chunk being written when the program was killed: never complete
        paths = sorted(p for p in names if p.name.endswith(SUFFIX))
        for path in paths:
            try:
                size = path.stat().st_size
                count = path.read_bytes().count(b"\n")
            except OSError:
                continue
            self._push(Chunk(None, path, count, size))

    def _push(self, chunk: Chunk) -> None:
        self._chunks.append(chunk)
        self.rows += chunk.count
        if chunk.path is None:
            self.in_memory += chunk.count
        else:
            self.on_disk_bytes += chunk.size


def spool_folder(database: Path, configured: Path | None) -> Path:
    """The configured spool folder, else ``<database>.spool`` beside the database."""
    return configured if configured is not None else database.with_name(database.name + ".spool")


def describe(spool: TraceSpool) -> str:
    """Where waiting rows are, for messages."""
    return f"in {shown(spool.folder)} (up to {spool.disk_bytes / 2**20:g} MB), else in memory (up to {spool.memory_rows:,} records)"
