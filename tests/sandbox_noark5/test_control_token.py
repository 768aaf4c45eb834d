"""The Noark 5 sandbox's control routes need the control token: without it nobody can wipe
the archive (``DELETE /_sandbox/objects``) or read every stored object."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.common import TOKEN_HEADER
from sandbox.noark5.process import start_noark5_sandbox
from sandbox.procs import Proc
from tests.sandbox_noark5.generic_client import RelationClient


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """A sandbox of its own: the last test wipes it."""
    proc = start_noark5_sandbox(tmp_path_factory.mktemp("noark5-data"), tmp_path_factory.mktemp("logs"))
    yield proc
    proc.stop()


def objects(proc: Proc) -> int:
    response = httpx.get(f"{proc.url}/_sandbox/objects", headers={TOKEN_HEADER: proc.extra["control_token"]},
                         timeout=5)
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


def test_a_wipe_without_the_right_token_leaves_the_archive(archive: Proc) -> None:
    with RelationClient(archive.extra["api_url"], (archive.extra["username"], archive.extra["password"])) as rc:
        struktur = rc.follow(rc.root(), "arkivstruktur/")
        arkiv = rc.list(struktur, "arkivstruktur/arkiv/")[0]
        assert rc.create(arkiv, "arkivstruktur/ny-arkivdel/", {"tittel": "Må overleve"}).status_code == 201
    stored = objects(archive)
    assert stored == 4  # the seed (arkiv, two arkivdeler) and ours

    for headers in ({}, {TOKEN_HEADER: "wrong"}, {"Authorization": "Bearer wrong"}):
        wiped = httpx.delete(f"{archive.url}/_sandbox/objects", headers=headers, timeout=5)
        assert wiped.status_code == 401, headers
        assert httpx.get(f"{archive.url}/_sandbox/objects", headers=headers, timeout=5).status_code == 401
    assert objects(archive) == stored

    wiped = httpx.delete(f"{archive.url}/_sandbox/objects", headers={TOKEN_HEADER: archive.extra["control_token"]},
                         timeout=5)
    assert wiped.status_code == 204
    assert objects(archive) == 3  # back to the seed
