"""A copy of the repository's tracked files, as a fresh clone has them, for tests that build,
scaffold or lint a tree of their own without touching the checkout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hub.settings import ROOT


def copy_tracked(target: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target
