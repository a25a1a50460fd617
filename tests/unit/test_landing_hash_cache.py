"""pending_files hashes a landing file only when its (size, mtime_ns) changed."""

from __future__ import annotations

import os
from pathlib import Path

from llmledger.ingest import pipeline
from llmledger.ingest.pipeline import landing_hashes, pending_files
from llmledger.paths import Home


def _home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    (home.landing / "pipeline").mkdir(parents=True)
    return home


def test_unchanged_files_are_not_read_again(tmp_path: Path, monkeypatch):
    home = _home(tmp_path)
    first = home.landing / "pipeline" / "a.txt"
    first.write_text("one\n")
    assert pending_files(home) == [first]

    reads: list[int] = []
    real = pipeline._sha256
    monkeypatch.setattr(pipeline, "_sha256", lambda data: reads.append(len(data)) or real(data))
    assert pending_files(home) == [first]
    assert reads == []  # served from cache/landing_sha256.json


def test_a_file_rewritten_in_place_is_hashed_again(tmp_path: Path):
    home = _home(tmp_path)
    path = home.landing / "pipeline" / "a.txt"
    path.write_text("one\n")
    before = landing_hashes(home, [path])[path]
    stat = path.stat()
    path.write_text("two\n")  # same size: only the mtime tells
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    after = landing_hashes(home, [path])[path]
    assert before != after
    assert after == pipeline._sha256(b"two\n")


def test_hashing_a_few_files_keeps_the_others_cached(tmp_path: Path, monkeypatch):
    """Parallel ingest and the DAG's listing hash subsets; the next night must still find every
    other file in the cache (not re-read every byte ever delivered)."""
    home = _home(tmp_path)
    paths = []
    for name in ("a.txt", "b.txt", "c.txt"):
        path = home.landing / "pipeline" / name
        path.write_text(name)
        paths.append(path)
    pending_files(home)
    landing_hashes(home, paths[:1])
    reads: list[int] = []
    real = pipeline._sha256
    monkeypatch.setattr(pipeline, "_sha256", lambda data: reads.append(len(data)) or real(data))
    assert pending_files(home) == paths
    assert reads == []
    paths[2].unlink()  # a file that is gone leaves the cache with the next full listing
    assert pending_files(home) == paths[:2]
    assert "landing/pipeline/c.txt" not in (home.root / "cache" / "landing_sha256.json").read_text()
