"""Retention policies run by the GC (lifecycle/retention_run.py), on both backends through the
service: the preview lists exactly what the run then expires; immutable tags, an index's
manifests and a live subject's referrers are never expired; a re-tag between plan and delete
keeps the image; the repository's policy wins over its namespace's; pulls are recorded at most
once an hour (read back from the store)."""

from __future__ import annotations

import json
import time

from chalicelib.lifecycle import immutability, retention
from chalicelib.lifecycle.gc import Removal
from chalicelib.lifecycle.retention_run import Retention
from chalicelib.server.backends import open_storage
from tests.support.manifests import OCI_INDEX, OCI_MANIFEST, sha256

from .conftest import World, layer

DAY = 86400


def _count_rule(priority: int, n: int, status: str = "tagged", **lists: object) -> dict:
    selection = {"tagStatus": status, "countType": "imageCountMoreThan", "countNumber": n}
    return {
        "rulePriority": priority,
        "selection": {**selection, **lists},
        "action": {"type": "expire"},
    }


def _set(world: World, scope: str, *rules: dict) -> None:
    text = json.dumps({"rules": list(rules)})
    retention.parse(text)
    open_storage(world.options).policies().put(scope, retention.KIND, text)


def _retention(world: World, clock: float | None = None) -> Retention:
    storage = open_storage(world.options)
    now = (lambda: clock) if clock is not None else time.time
    return Retention(world.lifecycle, storage.metadata(), storage.policies(), clock=now)


def _run(world: World, at: float | None = None, dry_run: bool = False) -> list[Removal]:
    heard: list[Removal] = []
    world.collect(at, dry_run=dry_run, report=heard.append)
    return [removal for removal in heard if removal.decision is not None]


def _expired(removals: list[Removal]) -> set[str]:
    return {r.subject for r in removals if r.kind == "image"}


def _exists(world: World, repository: str, digest: str) -> bool:
    return world.registry.manifests.meta.manifest(repository, digest) is not None


def _push_untagged(world: World, repository: str) -> str:
    digest, _ = world.push_image(repository, "tmp", [layer()])
    world.registry.manifests.meta.delete_tag(repository, "tmp")
    return digest


def test_preview_lists_exactly_what_the_run_expires(world: World) -> None:
    repo = "acme/app"
    pushed = [world.push_image(repo, f"v{i}", [layer()])[0] for i in range(5)]
    dev = world.push_image(repo, "dev-1", [layer()])[0]
    untagged = _push_untagged(world, repo)
    _set(
        world,
        repo,
        _count_rule(1, 2, tagPrefixList=["v"]),
        {
            "rulePriority": 2,
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                          "countUnit": "days", "countNumber": 1},
            "action": {"type": "expire"},
        },
    )  # fmt: skip
    later = time.time() + 2 * DAY
    preview = {f"{d.repository}@{d.image.digest}" for d in _retention(world, later).preview()}
    dry = _expired(_run(world, later, dry_run=True))
    real = _expired(_run(world, later))
    expected = {f"{repo}@{digest}" for digest in (*pushed[:3], untagged)}
    assert preview == dry == real == expected
    assert all(not _exists(world, repo, digest) for digest in (*pushed[:3], untagged))
    assert all(_exists(world, repo, digest) for digest in (*pushed[3:], dev))
    assert _run(world, later) == []  # nothing more to expire


def test_immutable_tags_index_children_and_referrers_are_never_expired(world: World) -> None:
    repo = "keep/app"
    locked = world.push_image(repo, "release-1", [layer()])[0]
    child_a = world.push_image(repo, "tmp-a", [layer()])[0]
    child_b = world.push_image(repo, "tmp-b", [layer()])[0]
    meta = world.registry.manifests.meta
    meta.delete_tag(repo, "tmp-a")
    meta.delete_tag(repo, "tmp-b")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": d, "size": len(meta.manifest(repo, d).body)}
                for d in (child_a, child_b)
            ],
        }
    ).encode()
    world.registry.manifests.put(repo, "multi", index, OCI_INDEX)
    newest = world.push_image(repo, "latest", [layer()])[0]
    open_storage(world.options).policies().put(
        repo, immutability.KIND, immutability.rule(True, ["latest", "multi"]).document()
    )
    _set(world, repo, _count_rule(1, 1, "any"))
    removals = _run(world)
    kept = {r.decision.image.digest: r.decision.kept for r in removals if r.kind == "kept"}
    assert kept[locked] == "immutable tag release-1"
    assert kept[child_a] == kept[child_b] == "listed by an index"
    assert _expired(removals) == {f"{repo}@{sha256(index)}"}  # `any` keeps only the newest
    assert all(_exists(world, repo, d) for d in (locked, child_a, child_b, newest))
    # the index gone, its manifests are untagged images of their own: the next run takes them
    assert _expired(_run(world)) == {f"{repo}@{child_a}", f"{repo}@{child_b}"}


def test_a_retag_between_plan_and_delete_keeps_the_image(world: World) -> None:
    repo = "race/app"
    old = world.push_image(repo, "v1", [layer()])[0]
    world.push_image(repo, "v2", [layer()])
    _set(world, repo, _count_rule(1, 1, tagPrefixList=["v"]))
    run = _retention(world)
    [decision] = run.plan(repo)
    assert decision.image.digest == old and not decision.kept
    record = world.registry.manifests.meta.manifest(repo, old)
    world.registry.manifests.put(repo, "stable", record.body, record.media_type)
    assert run.expire(decision).kept == "tagged or untagged during the run"
    assert _exists(world, repo, old)
    assert world.registry.manifests.get(repo, "stable").digest == old


def test_the_repository_policy_wins_over_the_namespace_policy(world: World) -> None:
    own = [world.push_image("ns/own", f"v{i}", [layer()])[0] for i in range(3)]
    other = [world.push_image("ns/other", f"v{i}", [layer()])[0] for i in range(3)]
    outside = [world.push_image("nsx/app", f"v{i}", [layer()])[0] for i in range(3)]
    _set(world, "ns", _count_rule(1, 1, "any"))
    _set(world, "ns/own", _count_rule(1, 2, "any"))
    assert _expired(_run(world)) == {
        f"ns/own@{own[0]}",
        f"ns/other@{other[0]}",
        f"ns/other@{other[1]}",
    }
    assert all(_exists(world, "nsx/app", digest) for digest in outside)


def test_since_pulled_keeps_what_was_pulled(world: World) -> None:
    repo = "pulls/app"
    pulled = world.push_image(repo, "pulled", [layer()])[0]
    idle = world.push_image(repo, "idle", [layer()])[0]
    world.registry.manifests.get(repo, "pulled")
    rule = {
        "rulePriority": 1,
        "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days",
                      "countNumber": 30},
        "action": {"type": "expire"},
    }  # fmt: skip
    _set(world, repo, rule)
    assert _expired(_run(world, time.time() + 10 * DAY)) == set()  # pushed 10 days before
    meta = world.registry.manifests.meta
    later = time.time() + 20 * DAY  # a pull 20 days on, recorded as the registry would
    assert meta.record_pull(repo, pulled, "pulled", later, later - 3600)
    assert _expired(_run(world, time.time() + 40 * DAY)) == {f"{repo}@{idle}"}
    assert _exists(world, repo, pulled)


def test_a_second_pull_within_the_hour_writes_nothing(world: World) -> None:
    repo = "pulls/hour"
    digest = world.push_image(repo, "v1", [layer()])[0]
    meta = world.registry.manifests.meta
    assert meta.tagged_manifest(repo, "v1").pulled_at is None  # a push records no pull
    before = time.time()
    world.registry.manifests.head(repo, "v1")  # docker and containerd resolve with HEAD
    first = meta.tagged_manifest(repo, "v1").pulled_at
    assert first is not None and before <= first <= time.time()
    world.registry.manifests.get(repo, "v1")
    world.registry.manifests.head(repo, "v1")
    assert meta.tagged_manifest(repo, "v1").pulled_at == first  # not written again
    assert meta.manifest(repo, digest).pulled_at is None  # HEAD by digest: pushers ask
    world.registry.manifests.head(repo, digest)
    assert meta.manifest(repo, digest).pulled_at is None
    world.registry.manifests.get(repo, digest)
    by_digest = meta.manifest(repo, digest).pulled_at
    assert by_digest is not None
    world.registry.manifests.get(repo, digest)
    assert meta.manifest(repo, digest).pulled_at == by_digest
