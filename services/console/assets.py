"""Fetch the console's third-party assets at set-up: `python -m services.console.assets`.

Each asset of `assets.json` is an npm registry tarball at a pinned version. It is
downloaded, checked against its pinned `integrity` (the registry's sha512, Subresource
Integrity form) before anything is unpacked, and the files it names are written under
`static/vendor/<name>/` (git-ignored), served at `/static/vendor/<name>/…`. Nothing is
fetched at run time, and an asset already in place at its version is left alone.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
PINS = HERE / "assets.json"
VENDOR = HERE / "static" / "vendor"
STAMP = ".version"


class IntegrityError(Exception):
    pass


def pins() -> dict[str, dict[str, Any]]:
    assets: dict[str, dict[str, Any]] = json.loads(PINS.read_text())["assets"]
    return assets


def check_integrity(data: bytes, integrity: str) -> None:
    """`integrity` is `sha512-<base64>`; anything else, or a mismatch, is refused."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise IntegrityError(f"unsupported integrity algorithm {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise IntegrityError(f"integrity mismatch: expected {integrity}, got sha512-{actual}")


def unpack(data: bytes, keep: list[str], into: Path) -> None:
    """Write the named members (without their leading `package/`) under `into`."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in keep:
            member = tar.getmember(name)
            if not member.isfile():
                raise IntegrityError(f"{name} is not a file in the tarball")
            source = tar.extractfile(member)
            assert source is not None
            target = into / name.removeprefix("package/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())


def installed(name: str, pin: dict[str, Any], vendor: Path = VENDOR) -> bool:
    stamp = vendor / name / STAMP
    return stamp.is_file() and stamp.read_text().strip() == f"{pin['version']} {pin['integrity']}"


def fetch(name: str, pin: dict[str, Any], vendor: Path = VENDOR) -> None:
    r = httpx.get(pin["tarball"], timeout=60, follow_redirects=True)
    r.raise_for_status()
    check_integrity(r.content, pin["integrity"])
    target = vendor / name
    staging = vendor / f".{name}.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    unpack(r.content, pin["keep"], staging)
    (staging / STAMP).write_text(f"{pin['version']} {pin['integrity']}\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def ensure(vendor: Path = VENDOR) -> list[str]:
    """Fetch every asset not yet in place at its pinned version; the names fetched."""
    fetched = []
    for name, pin in pins().items():
        if not installed(name, pin, vendor):
            fetch(name, pin, vendor)
            fetched.append(name)
    return fetched


def missing(vendor: Path = VENDOR) -> list[str]:
    return [name for name, pin in pins().items() if not installed(name, pin, vendor)]


def main() -> None:
    try:
        fetched = ensure()
    except (httpx.HTTPError, IntegrityError, KeyError) as e:
        sys.exit(f"console assets: {e}")
    if fetched:
        print(f"console assets: fetched {', '.join(fetched)}")


if __name__ == "__main__":
    main()
