"""`soute du`'s figures (chalicelib/lifecycle/usage.py) on both backends: logical bytes count a
layer once per manifest, stored bytes once per repository or namespace; the space comes back
after a delete and a GC."""

from __future__ import annotations

import time

from chalicelib.lifecycle.usage import UsageReader

from .conftest import World, layer


def _reader(world: World) -> UsageReader:
    return UsageReader(world.registry.manifests.meta, world.lifecycle)


def _manifest_size(world: World, repository: str, reference: str) -> int:
    return world.registry.manifests.head(repository, reference).size


def test_logical_counts_each_manifest_stored_each_blob_once(world: World) -> None:
    base, top = layer(1000), layer(300)
    one, blobs1 = world.push_image("acme/app", "v1", [base])
    two, blobs2 = world.push_image("acme/app", "v2", [base, top])
    configs = [world.registry.blobs.stat("acme/app", d[0]).size for d in (blobs1, blobs2)]
    manifests = _manifest_size(world, "acme/app", one) + _manifest_size(world, "acme/app", two)
    usage = _reader(world).repository("acme/app")
    assert (usage.manifests, usage.blobs) == (2, 4)
    assert usage.logical == manifests + sum(configs) + 1000 + 1000 + 300
    assert usage.stored == manifests + sum(configs) + 1000 + 300


def test_a_namespace_counts_a_blob_its_repositories_share_once(world: World) -> None:
    base = layer(2000)
    world.push_image("acme/a", "v1", [base])
    world.push_image("acme/b", "v1", [base])
    world.push_image("other/c", "v1", [base])
    *repositories, total = _reader(world).namespace("acme")
    assert [usage.name for usage in repositories] == ["acme/a", "acme/b"]
    assert total.repositories == 2 and total.blobs == 3  # two configs, one base
    assert total.stored == sum(u.stored for u in repositories) - 2000
    assert total.logical == sum(u.logical for u in repositories)
    *namespaces, registry = _reader(world).registry()
    assert [usage.name for usage in namespaces] == ["acme", "other"]
    assert registry.stored == sum(u.stored for u in namespaces) - 2000


def test_the_space_of_a_deleted_image_comes_back_after_gc(world: World) -> None:
    kept, gone = layer(1000), layer(7000)
    world.push_image("acme/app", "v1", [kept])
    digest, _ = world.push_image("acme/app", "v2", [kept, gone])
    before = _reader(world).repository("acme/app")
    world.registry.manifests.delete("acme/app", digest)
    deleted = _reader(world).repository("acme/app")
    assert deleted.logical < before.logical and deleted.stored > deleted.logical  # idle links
    time.sleep(0.01)
    world.collect()
    after = _reader(world).repository("acme/app")
    assert after.stored == after.logical  # one image: nothing shared, nothing idle
    assert before.stored - after.stored > 7000
