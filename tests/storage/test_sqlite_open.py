"""Processes that open one new SQLite file at the same instant (the server and an admin verb,
or the workers of `soute serve`) all get a working database: the switch to WAL mode raced
("database is locked") and made `make test` fail about 1 time in 5."""

from __future__ import annotations

import multiprocessing
import os
import traceback
from pathlib import Path

from chalicelib.storage.embedded.sqlite import SCHEMA
from chalicelib.storage.embedded.sqlite_database import SqliteDatabase

PROCESSES = 12
ROUNDS = 60


def _open_and_write(path: str, barrier: multiprocessing.synchronize.Barrier, n: int) -> None:
    """Child: wait for the others, then open the file, check WAL mode and write a row."""
    try:
        barrier.wait(timeout=60)
        database = SqliteDatabase(path, SCHEMA)
        mode = database.connection().execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal", mode
        with database.write() as db:
            db.execute(
                "INSERT INTO blobs (digest, size, key, created) VALUES (?, 0, '', 0)", (str(n),)
            )
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    failures = []
    for round_ in range(ROUNDS):
        path = str(tmp_path / f"round-{round_}" / "metadata.sqlite")
        barrier = context.Barrier(PROCESSES)
        children = [
            context.Process(target=_open_and_write, args=(path, barrier, n))
            for n in range(PROCESSES)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=120)
        failures += [(round_, child.exitcode) for child in children if child.exitcode != 0]
        if not failures:
            rows = SqliteDatabase(path, SCHEMA).connection().execute("SELECT COUNT(*) FROM blobs")
            assert rows.fetchone()[0] == PROCESSES
    assert failures == [], f"{len(failures)} of {ROUNDS * PROCESSES} opens failed: {failures}"
