"""Stage what the default SBOM covers: the service's source and the installed Python environment.

Syft over a whole site-packages tree reads every file and takes half a minute; the installed
distributions are fully described by their `*.dist-info` folders, so only those are staged
(seconds). The staging folder is a plain copy: syft sees exactly what is installed.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path


def stage_environment(source_dir: Path, dest: Path) -> Path:
    """Copy `source_dir` and the running interpreter's dist-info folders under `dest`."""
    shutil.copytree(source_dir, dest / "source", ignore=shutil.ignore_patterns("__pycache__"))
    site = Path(sysconfig.get_paths()["purelib"])
    target = dest / "site-packages"
    target.mkdir(parents=True)
    for dist_info in sorted(site.glob("*.dist-info")):
        shutil.copytree(dist_info, target / dist_info.name)
    return dest
