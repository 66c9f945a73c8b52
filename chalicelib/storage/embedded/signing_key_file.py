"""The embedded backend's token signing key: one PEM file in the data directory, created on
first use readable by its owner only (0600), so that every worker and restart signs with the
same key. The key itself is auth's (`auth/keys.py`); where it is kept is this backend's."""

from __future__ import annotations

import os

from ...auth.keys import SigningKey, from_pem, generate_key
from .secret_files import read_or_create

KEY_FILE = "token-signing-key.pem"


def load_or_create_key(data_dir: str) -> SigningKey:
    """The key in `data_dir`, created there if missing; processes starting at once agree on
    one key."""
    path = os.path.join(data_dir, KEY_FILE)
    return from_pem(read_or_create(path, lambda: generate_key().private_pem))
