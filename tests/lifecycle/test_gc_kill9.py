"""Crash safety of the GC (issue 14): `soute gc` is killed with SIGKILL after its k-th removal,
for several k across its phases, on both backends. After each kill every image still pulls back
whole; the next run finishes the work; in the end nothing collectable is left, on disk, in S3
or in the records, and nothing in use went."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess

import pytest

from tests.support.lambda_server import storage_arguments
from tests.support.server import default_soute

from .conftest import World, layer

pytestmark = [pytest.mark.timeout(300)]

IDLE = 150  # blobs pushed and never used: idle links, then blobs to remove
UNLINKED = 150  # blobs whose link was deleted through the API
KILL_AFTER = (1, 1, 5, 1, 12, 1, 29, 1)  # removals printed before the kill


def _gc_killed_after(world: World, removals: int) -> bool:
    """Run `soute gc --grace 0` and SIGKILL it once it printed `removals` removals; whether
    it was killed (False: it finished first)."""
    command = [default_soute(), "gc", "--grace", "0", *storage_arguments(world.options)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        # A pipe of one page: the process cannot run more than ~40 lines ahead of the reader.
        fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
        seen = 0
        for line in process.stdout:
            if line.startswith(("dropped", "removed", "cancelled")):
                seen += 1
            if seen >= removals:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return True
        return process.wait() != 0


def test_sigkill_at_any_point_of_a_gc_loses_nothing_and_the_next_run_finishes(
    world: World,
) -> None:
    images = [world.push_image(f"team/live{n}", "v1", [layer(), layer()]) for n in range(3)]
    idle = [world.push_blob("team/idle", layer(200)) for _ in range(IDLE)]
    unlinked = []
    for _ in range(UNLINKED):
        record = world.push_blob("team/gone", layer(200))
        world.registry.blobs.delete("team/gone", record.digest)
        unlinked.append(record)
    kills = 0
    for removals in KILL_AFTER:  # the process runs ahead of the pipe: "at least k" removals
        kills += _gc_killed_after(world, removals)
        for n, (digest, blobs) in enumerate(images):
            assert world.registry.manifests.get(f"team/live{n}", digest).digest == digest
            assert all(world.read_blob(f"team/live{n}", blob) for blob in blobs)
    assert kills >= 3  # killed in the middle of runs, not after them
    world.collect()  # the next run
    for record in idle + unlinked:
        assert world.registry.blobs.meta.any_blob(record.digest) is None
        assert not world.bytes_exist(record)
    assert world.lifecycle.unlinked_blobs(None, 1000)[0] == []
    assert world.collect().blobs == 0
