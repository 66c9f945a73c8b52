"""On a terminal: progress of a long listing on standard error, rich columns on standard
output; neither when they are pipes (the other tests' stderr is empty and stdout plain)."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.images.artifacts import tag
from tests.images.runner import Soute, copy
from tests.support.clients import Skopeo
from tests.support.images import build_image
from tests.support.server import RegistryServer, default_soute

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def _on_a_terminal(soute: Soute, stream: str, *args: str) -> tuple[str, str]:
    """Run `soute ARGS` with `stream` ("stdout" or "stderr") on a pseudo-terminal and the other
    on a pipe: (what the terminal showed, what the pipe got)."""
    controller, terminal = pty.openpty()
    env = {**soute.env, "TERM": "xterm", "COLUMNS": "200"}
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, stream: terminal}
    proc = subprocess.Popen([default_soute(), *args], env=env, stdin=subprocess.DEVNULL, **streams)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    piped = (proc.stderr if stream == "stdout" else proc.stdout).read()  # type: ignore[union-attr]
    assert proc.wait(timeout=60) == 0, (shown, piped)
    return shown.decode(), piped.decode()


def test_progress_of_a_listing_on_a_terminal_only(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    repo = f"{soute_server.address}/{namespace}/many"
    copy(skopeo, image.ref, f"{repo}:v1")
    tags = [f"t{i:02}" for i in range(12)]
    tag(soute_server.url, f"{namespace}/many", "v1", *tags)
    shown, piped = _on_a_terminal(soute, "stderr", "tags", repo, "-n", "2")
    assert f"tags of {repo}: " in shown
    assert piped.splitlines() == sorted([*tags, "v1"])
    quiet, _ = _on_a_terminal(soute, "stderr", "tags", repo, "-n", "2", "--quiet")
    assert quiet == ""
    piped_only = soute.ok("tags", repo, "-n", "2")
    assert piped_only.err == ""


def test_columns_on_a_terminal(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    image = build_image(tmp_path / "src", [1000, 2000], tag="v1")
    ref = f"{soute_server.address}/{namespace}/shown:v1"
    copy(skopeo, image.ref, ref)
    shown, _ = _on_a_terminal(soute, "stdout", "inspect", ref)
    assert "\x1b[1mLAYER" in shown  # a rich table header, in bold
    for layer in image.layers:
        assert f"{layer.digest}  {layer.media_type}" in shown
