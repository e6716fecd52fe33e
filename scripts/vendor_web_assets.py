"""Vendor the web map's scripts and styles from the npm registry into siting/exports/static/.

The map works offline by inlining these files instead of linking public CDNs (see
siting/exports/offline.py). Run this by hand when folium's pinned versions change:

    python scripts/vendor_web_assets.py

It needs `npm` on PATH (registry access only; nothing is installed). It rewrites the static folder
and its MANIFEST.json (package, version, licence, files, SHA-256).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "siting" / "exports" / "static"

# npm package, version, licence, {file in the package: name under static/<package>/}
PACKAGES: list[tuple[str, str, str, dict[str, str]]] = [
    (
        "leaflet",
        "1.9.3",
        "BSD-2-Clause",
        {
            "dist/leaflet.js": "leaflet.js",
            "dist/leaflet.css": "leaflet.css",
            "dist/images/layers.png": "images/layers.png",
            "dist/images/layers-2x.png": "images/layers-2x.png",
            "dist/images/marker-icon.png": "images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "images/marker-shadow.png",
            "LICENSE": "LICENSE",
        },
    ),
    ("jquery", "3.7.1", "MIT", {"dist/jquery.min.js": "jquery.min.js", "LICENSE.txt": "LICENSE"}),
    (
        "bootstrap",
        "5.2.2",
        "MIT",
        {
            "dist/js/bootstrap.bundle.min.js": "bootstrap.bundle.min.js",
            "dist/css/bootstrap.min.css": "bootstrap.min.css",
            "LICENSE": "LICENSE",
        },
    ),
    ("d3", "3.5.5", "BSD-3-Clause", {"d3.min.js": "d3.min.js", "LICENSE": "LICENSE"}),
    (
        "leaflet-measure",
        "2.1.7",
        "MIT",
        {
            "dist/leaflet-measure.js": "leaflet-measure.js",
            "dist/leaflet-measure.css": "leaflet-measure.css",
            **{
                f"dist/images/{n}.png": f"images/{n}.png"
                for n in ("cancel", "check", "focus", "rulers", "start", "trash")
            },
            **{
                f"dist/images/{n}_@2X.png": f"images/{n}_@2X.png"
                for n in ("cancel", "check", "focus", "rulers", "start", "trash")
            },
            "LICENSE": "LICENSE",
        },
    ),
    (
        "leaflet.fullscreen",
        "3.0.0",
        "MIT",
        {
            "Control.FullScreen.js": "Control.FullScreen.js",
            "Control.FullScreen.css": "Control.FullScreen.css",
            "icon-fullscreen.svg": "icon-fullscreen.svg",
            "LICENSE": "LICENSE",
        },
    ),
    (
        "leaflet-minimap",
        "3.6.1",
        "BSD-2-Clause",
        {
            "dist/Control.MiniMap.min.js": "Control.MiniMap.min.js",
            "dist/Control.MiniMap.min.css": "Control.MiniMap.min.css",
            "dist/images/toggle.png": "images/toggle.png",
            "dist/images/toggle.svg": "images/toggle.svg",
            "LICENSE.txt": "LICENSE",
        },
    ),
    (
        "leaflet-groupedlayercontrol",
        "0.6.1",
        "MIT",
        {
            "dist/leaflet.groupedlayercontrol.min.js": "leaflet.groupedlayercontrol.min.js",
            "dist/leaflet.groupedlayercontrol.min.css": "leaflet.groupedlayercontrol.min.css",
            "LICENSE.txt": "LICENSE",
        },
    ),
    (
        "leaflet.sync",
        "0.2.4",
        "BSD-2-Clause",
        {"L.Map.Sync.js": "L.Map.Sync.js", "LICENSE": "LICENSE"},
    ),
]


def main() -> None:
    if STATIC.exists():
        shutil.rmtree(STATIC)
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, licence, files in PACKAGES:
            out = subprocess.run(
                ["npm", "pack", "--silent", f"{name}@{version}"],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[-1]
            with tarfile.open(Path(tmp) / out) as tar:
                for src, dst in files.items():
                    data = tar.extractfile(f"package/{src}").read()
                    path = STATIC / name / dst
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
            manifest.append(
                {
                    "package": name,
                    "version": version,
                    "licence": licence,
                    "files": {
                        dst: hashlib.sha256((STATIC / name / dst).read_bytes()).hexdigest()
                        for dst in files.values()
                    },
                }
            )
    (STATIC / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"vendored {len(manifest)} packages into {STATIC}")


if __name__ == "__main__":
    main()
