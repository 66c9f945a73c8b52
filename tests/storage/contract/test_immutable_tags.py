"""The MetadataStore's part of tag immutability (storage/ports.py TagImmutable), on SQLite,
DynamoDB and DynamoDB seen from another region: the refusal is made inside the write that
moves or deletes the tag, so it holds against concurrent pushes, and a refused write changes
nothing."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.storage.ports import ManifestWrite, MetadataStore, TagImmutable

from .test_metadata_store import _blob, _image, _run_together, _write


def _immutable(write: ManifestWrite, *tags: str) -> ManifestWrite:
    return dataclasses.replace(write, immutable_tags=tags or write.tags)


def _new_image(meta: MetadataStore, repository: str, *tags: str) -> ManifestWrite:
    return _write(blobs=(_blob(meta, repository),), tags=tags)


def test_an_immutable_tag_is_set_where_it_is_new(meta: MetadataStore) -> None:
    write = _immutable(_new_image(meta, "i/new", "v1"))
    meta.put_manifest("i/new", write)
    assert meta.tagged_manifest("i/new", "v1") == write.record


def test_an_immutable_tag_does_not_move_and_the_write_changes_nothing(
    meta: MetadataStore,
) -> None:
    first = _image(meta, "i/move", "v1")
    second = _immutable(_new_image(meta, "i/move", "v1", "v2"), "v1")
    with pytest.raises(TagImmutable) as refused:
        meta.put_manifest("i/move", second)
    assert (refused.value.tag, refused.value.digest) == ("v1", first.record.digest)
    assert meta.tagged_manifest("i/move", "v1") == first.record
    # All or nothing: neither the manifest nor its other tag was stored.
    assert meta.manifest("i/move", second.record.digest) is None
    assert meta.tags("i/move", None, 10) == ["v1"]


def test_an_immutable_tag_does_not_move_to_a_manifest_already_stored(
    meta: MetadataStore,
) -> None:
    first = _image(meta, "i/stored", "v1")
    second = _image(meta, "i/stored")  # stored by digest, no tag
    with pytest.raises(TagImmutable):
        meta.put_manifest("i/stored", _immutable(dataclasses.replace(second, tags=("v2", "v1"))))
    assert meta.tagged_manifest("i/stored", "v1") == first.record
    assert meta.tags("i/stored", None, 10) == ["v1"]  # v2, before v1, was not set either


def test_pushing_the_same_manifest_under_an_immutable_tag_is_accepted(
    meta: MetadataStore,
) -> None:
    first = _image(meta, "i/same", "v1")
    meta.put_manifest("i/same", _immutable(first))
    meta.put_manifest("i/same", _immutable(dataclasses.replace(first, tags=("v1", "v2")), "v1"))
    assert meta.tagged_manifest("i/same", "v1") == first.record
    assert meta.tags("i/same", None, 10) == ["v1", "v2"]


def test_a_tag_not_listed_immutable_still_moves(meta: MetadataStore) -> None:
    _image(meta, "i/excluded", "dev-1", "v1")
    second = _immutable(_new_image(meta, "i/excluded", "dev-1", "v2"), "v2")  # v2 is new
    meta.put_manifest("i/excluded", second)
    assert meta.tagged_manifest("i/excluded", "dev-1") == second.record
    assert meta.tagged_manifest("i/excluded", "v2") == second.record


def test_deleting_an_immutable_tag_is_refused(meta: MetadataStore) -> None:
    first = _image(meta, "i/deltag", "v1", "dev-1")
    with pytest.raises(TagImmutable) as refused:
        meta.delete_tag("i/deltag", "v1", immutable=True)
    assert (refused.value.tag, refused.value.digest) == ("v1", first.record.digest)
    assert meta.tagged_manifest("i/deltag", "v1") == first.record
    assert not meta.delete_tag("i/deltag", "absent", immutable=True)
    assert meta.delete_tag("i/deltag", "dev-1")
    assert meta.tags("i/deltag", None, 10) == ["v1"]


def test_deleting_a_manifest_with_a_protected_tag_is_refused(meta: MetadataStore) -> None:
    image = _image(meta, "i/delman", "dev-1", "v1")
    with pytest.raises(TagImmutable) as refused:
        meta.delete_manifest("i/delman", image.record.digest, lambda tag: tag.startswith("v"))
    assert (refused.value.tag, refused.value.digest) == ("v1", image.record.digest)
    assert meta.manifest("i/delman", image.record.digest) == image.record
    assert meta.tags("i/delman", None, 10) == ["dev-1", "v1"]
    # Its tags are judged as they are at the delete: once v1 is elsewhere, it may go.
    other = _image(meta, "i/delman", "v1")
    assert meta.tagged_manifest("i/delman", "v1") == other.record
    assert meta.delete_manifest("i/delman", image.record.digest, lambda tag: tag == "v1")
    assert meta.tags("i/delman", None, 10) == ["v1"]


@pytest.mark.parametrize("clients", [8])
def test_concurrent_pushes_to_one_new_immutable_tag_have_one_winner(
    meta: MetadataStore, clients: int
) -> None:
    """Each client pushes its own manifest under the same new immutable tag at once: exactly
    one is stored under it, every other gets TagImmutable naming the winner."""
    writes = [_immutable(_new_image(meta, "i/race", "release")) for _ in range(clients)]
    refusals: list[TagImmutable] = []

    def push(n: int) -> None:
        try:
            meta.put_manifest("i/race", writes[n])
        except TagImmutable as refused:
            refusals.append(refused)

    assert _run_together(clients, push) == []
    tagged = meta.tagged_manifest("i/race", "release")
    winners = [write for write in writes if write.record == tagged]
    assert len(winners) == 1
    assert len(refusals) == clients - 1
    assert {(r.tag, r.digest) for r in refusals} == {("release", tagged.digest)}
    for write in writes:  # the losers' manifests were not stored (all or nothing)
        stored = meta.manifest("i/race", write.record.digest)
        assert stored == (write.record if write in winners else None)
