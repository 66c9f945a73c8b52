"""The team on AWS, end to end, as issue 11 tells it: through `soute serve --lambda --auth` on
moto (the deployed shape), with the real Docker engine and one real `docker login`.

After the login (which keeps an identity token in docker's config), `soute push` sends an image
with a 30 MiB layer from the engine (direct upload: the bytes never cross Lambda), `docker push`
sends small images through the v2 API, and the image verbs list, inspect and delete what was
pushed, with the credentials docker stored. The refusals of `docker push` over Lambda's limits
are tests/auth/test_lambda_refusals.py, on the same server and engine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.images.runner import Soute
from tests.support.clients import Skopeo
from tests.support.engines import DockerEngine
from tests.support.images import MiB, build_image
from tests.support.procs import run
from tests.support.server import RegistryServer

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(600)]

USER = ("dev", "pw")  # the user of lambda_auth_server (tests/auth/conftest.py)


@pytest.fixture(scope="module")
def team(
    docker_engine: DockerEngine,
    lambda_auth_server: RegistryServer,
    skopeo: Skopeo,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Soute, dict[str, str], dict[str, str]]]:
    """The engine holding a 30 MiB-layer image and a small one, a docker config written by a
    real `docker login`, and `soute` using that config; the names of the images."""
    base = tmp_path_factory.mktemp("journey")
    images = {"big": [30 * MiB, 4096], "small": [2048]}
    local = {}
    for label, sizes in images.items():
        image = build_image(base / label, sizes, tag="v1")
        archive = base / f"{label}.tar"
        local[label] = f"soute-journey/{label}:v1"
        skopeo.copy(image.ref, f"docker-archive:{archive}:{local[label]}")
        docker_engine.docker("load", "--input", str(archive))
    soute = Soute(base / "home")
    env = {**docker_engine.env, "DOCKER_CONFIG": str(soute.docker_config)}
    login = run(
        [docker_engine.cli, "login", "-u", USER[0], "-p", USER[1], lambda_auth_server.address],
        env=env,
    )
    assert "Login Succeeded" in login.stdout, login.stdout + login.stderr
    soute.env.update(env)
    yield soute, env, local
    docker_engine.docker("rmi", *local.values(), check=False)


def test_docker_login_then_push_list_inspect_and_delete(
    team: tuple[Soute, dict[str, str], dict[str, str]],
    docker_engine: DockerEngine,
    lambda_auth_server: RegistryServer,
) -> None:
    soute, env, local = team
    host = lambda_auth_server.address
    stored = json.loads((soute.docker_config / "config.json").read_text())["auths"][host]
    assert stored.get("identitytoken"), f"docker login kept no identity token: {stored}"
    repo = f"dev/journey-{uuid.uuid4().hex[:8]}"

    big = soute.ok("push", "--quiet", local["big"], f"{host}/{repo}/big:v1").out.strip()
    for tag in ("v1", "v2"):
        target = f"{host}/{repo}/small:{tag}"
        run([docker_engine.cli, "tag", local["small"], target], env=env)
        run([docker_engine.cli, "push", target], env=env)
        run([docker_engine.cli, "rmi", target], env=env, check=False)

    listed = soute.ok("ls", f"{host}/{repo}", "--json").json()["repositories"]
    assert listed == [f"{repo}/big", f"{repo}/small"], listed
    assert soute.ok("tags", f"{host}/{repo}/small", "--json").json()["tags"] == ["v1", "v2"]
    inspected = soute.ok("inspect", f"{host}/{repo}/big:v1", "--json").json()
    assert inspected["digest"] == big
    sizes = [layer["size"] for layer in inspected["images"][0]["layers"]]
    assert max(sizes) > 30 * MiB, sizes  # gzip (the default) of random bytes

    assert soute.ok("rm", f"{host}/{repo}/small:v2").out.startswith(f"deleted tag {host}/")
    assert soute.ok("tags", f"{host}/{repo}/small", "--json").json()["tags"] == ["v1"]
    soute.ok("rm", f"{host}/{repo}/big@{big}")
    assert "not found" in soute.fails(5, "inspect", f"{host}/{repo}/big@{big}")
    pulled = run([docker_engine.cli, "pull", f"{host}/{repo}/small:v1"], env=env, check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    run([docker_engine.cli, "rmi", f"{host}/{repo}/small:v1"], env=env, check=False)
