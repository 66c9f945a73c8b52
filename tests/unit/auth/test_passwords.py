from chalicelib.auth.passwords import hash_password, new_secret, verify_password


def test_a_password_verifies_against_its_hash_only() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsf", stored)
    assert not verify_password("", stored)


def test_the_hash_is_salted_and_never_holds_the_password() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second
    assert "s3cret" not in first
    assert first.startswith("scrypt$")


def test_unknown_accounts_and_malformed_hashes_are_refused() -> None:
    assert not verify_password("anything", None)
    assert not verify_password("anything", "plain")
    assert not verify_password("anything", "md5$1$2$3$abc$def")


def test_new_secrets_are_random_and_prefixed() -> None:
    one, two = new_secret("sr"), new_secret("sr")
    assert one != two
    assert one.startswith("sr_") and len(one) > 40
