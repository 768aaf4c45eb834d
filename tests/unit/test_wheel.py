"""The product wheel holds the product: the sandboxes and the developer tooling stay in the
repository, and their dependencies are an extra (``dev``), not the product's."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.checkout import copy_tracked

DEV_ONLY = ("aiosmtpd", "radicale", "fastapi", "caldav")


def test_the_wheel_holds_the_product_and_not_the_sandboxes_or_dev_tooling(tmp_path: Path) -> None:
    source = copy_tracked(tmp_path / "source")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
                            "--no-deps", "-w", str(tmp_path), str(source)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("oslomet_hub-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()

    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {
        "hub", "connectors", "mappings", "flows", "deployments"}
    assert "hub/ledger/migrations/env.py" in names and "hub/logging.yml" in names

    requires = [line.removeprefix("Requires-Dist: ") for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]
    for name in DEV_ONLY:
        (line,) = [r for r in requires if r.lower().startswith(name)]
        assert line.endswith('extra == "dev"'), line
    assert any(r.startswith("prefect==") and "extra" not in r for r in requires)
