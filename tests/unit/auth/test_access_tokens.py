from dataclasses import replace

import pytest

from chalicelib.auth.access_tokens import (
    TokenRequestInvalid,
    create_access_token,
    secret_matches,
    token_id_of,
)
from chalicelib.auth.names import NameInvalid, check_account_name


def test_a_token_is_stored_without_its_secret() -> None:
    token, secret = create_access_token("robot", "acme", ["acme"], ["pull", "push"], now=1000.0)
    assert secret not in repr(token)
    assert token_id_of(secret) == token.id
    assert secret_matches(token, secret)
    assert not secret_matches(token, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert token.usable(now=1000.0)


def test_expiry_and_revocation_end_a_token() -> None:
    token, _ = create_access_token("pat", "alice", ["alice"], ["pull"], expires_in=60, now=1000.0)
    assert token.usable(now=1059.0)
    assert not token.usable(now=1060.0)
    assert not replace(token, revoked=True).usable(now=1000.0)


@pytest.mark.parametrize("secret", ["hunter2", "soute__x", "other_abc_def", ""])
def test_passwords_are_not_mistaken_for_token_secrets(secret: str) -> None:
    assert token_id_of(secret) is None


@pytest.mark.parametrize(
    ("kind", "namespaces", "actions"),
    [("admin", ["acme"], ["pull"]), ("robot", [], ["pull"]), ("robot", ["acme"], ["sudo"])],
)
def test_malformed_requests_are_refused(kind: str, namespaces: list, actions: list) -> None:
    with pytest.raises(TokenRequestInvalid):
        create_access_token(kind, "acme", namespaces, actions)


@pytest.mark.parametrize("name", ["alice", "acme-corp", "a.b", "x1"])
def test_valid_account_names(name: str) -> None:
    assert check_account_name(name) == name


@pytest.mark.parametrize("name", ["", "Alice", "acme/app", "acme+ci", "-x", "a" * 65, "a b"])
def test_invalid_account_names(name: str) -> None:
    with pytest.raises(NameInvalid):
        check_account_name(name)


@pytest.mark.parametrize("namespaces", [["other"], ["acme", "other"]])
def test_a_robot_acts_in_its_own_namespace_only(namespaces: list) -> None:
    with pytest.raises(TokenRequestInvalid, match="acts in acme only, not in other"):
        create_access_token("robot", "acme", namespaces, ["pull"], description="ci")
    # A personal token acts as its user, whose rights bound it: it may name several.
    create_access_token("pat", "alice", ["alice", "acme"], ["pull"])


@pytest.mark.parametrize("name", ["CI", "ci+x", "ci/x", "ci\n", "-ci", "a" * 65, "c i"])
def test_robot_names_follow_the_account_name_grammar(name: str) -> None:
    with pytest.raises(TokenRequestInvalid, match="invalid robot name"):
        create_access_token("robot", "acme", ["acme"], ["pull"], description=name)


def test_account_names_with_a_final_newline_are_refused() -> None:
    with pytest.raises(NameInvalid):
        check_account_name("bob\n")
