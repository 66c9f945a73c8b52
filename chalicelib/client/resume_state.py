"""Upload ids of unfinished direct uploads, so that running the same push again resumes them.

One small JSON file, `$XDG_CACHE_HOME/soute/uploads.json` (default `~/.cache/soute/`), maps
`HOST/REPOSITORY@DIGEST` to an upload id. Written atomically (temporary file and rename) under
a lock, since parallel uploads update it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


def default_state_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "soute" / "uploads.json"


class ResumeState:
    """The upload ids this machine started and has not finished."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_state_path()
        self._lock = threading.Lock()

    @staticmethod
    def key(host: str, repository: str, digest: str) -> str:
        return f"{host}/{repository}@{digest}"

    def _load(self) -> dict[str, str]:
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._load().get(key)

    def put(self, key: str, upload_id: str) -> None:
        self._update(key, upload_id)

    def drop(self, key: str) -> None:
        self._update(key, None)

    def _update(self, key: str, upload_id: str | None) -> None:
        with self._lock:
            entries = self._load()
            if upload_id is None:
                if entries.pop(key, None) is None:
                    return
            else:
                entries[key] = upload_id
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temporary.write_text(json.dumps(entries, indent=1, sort_keys=True))
            os.replace(temporary, self.path)
