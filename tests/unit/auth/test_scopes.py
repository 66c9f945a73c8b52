import pytest

from chalicelib.auth.scopes import (
    CATALOG_SCOPE,
    Scope,
    ScopeInvalid,
    parse_scope,
    parse_scopes,
    repository_scope,
)


def test_a_repository_scope_parses_into_its_actions() -> None:
    assert parse_scope("repository:team/app:pull,push") == repository_scope(
        "team/app", "pull", "push"
    )


def test_the_catalog_scope_parses() -> None:
    assert parse_scope("registry:catalog:*") == CATALOG_SCOPE


def test_a_name_with_a_port_keeps_its_colon() -> None:
    scope = parse_scope("repository:localhost:5000/app:pull")
    assert scope.name == "localhost:5000/app"
    assert scope.actions == {"pull"}


@pytest.mark.parametrize("text", ["", "repository", "repository:app", ":app:pull", "x::pull"])
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(ScopeInvalid):
        parse_scope(text)


def test_several_scope_parameters_merge_per_resource() -> None:
    scopes = parse_scopes(["repository:a:pull repository:b:push", "repository:a:push"])
    assert set(scopes) == {
        repository_scope("a", "pull", "push"),
        repository_scope("b", "push"),
    }


def test_a_scope_prints_as_clients_send_it() -> None:
    assert str(repository_scope("a/b", "push", "pull")) == "repository:a/b:pull,push"
    assert Scope("registry", "catalog", frozenset({"*"})).claim() == {
        "type": "registry",
        "name": "catalog",
        "actions": ["*"],
    }
