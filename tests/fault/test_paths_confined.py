"""Security: a path that names a landing file is confined to landing/.

A symbolic link planted in landing/ (or a path climbing out with ``..``) must not make ingest
read a file from elsewhere, nor copy it into the home. Refused paths raise ``UnsafePath`` (a
user error: the CLI prints one line, the DAG task fails without retrying); the nightly file
listing skips them with a warning, so the files that really are in landing/ still load.
No dbt here: nothing reaches the raw layer, which is the proof.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from golden_org import GOLDEN_FOCUS
from llmledger import ingest, pipeline
from llmledger.cli import main
from llmledger.paths import Home

SECRET = b"not for the ledger: a file outside the home\n"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home.resolve(tmp_path / "home").ensure()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.csv"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def _home_state(home: Home) -> dict[str, bytes]:
    return {
        str(p.relative_to(home.root)): p.read_bytes()
        for p in sorted(home.root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _nothing_read(home: Home, before: dict[str, bytes]) -> None:
    after = _home_state(home)
    assert after == before
    assert not any(SECRET in data for data in after.values())


def test_a_symlink_out_of_landing_is_refused_and_never_read(home, secret, caplog):
    link = home.landing / "billing" / "export.csv"
    link.symlink_to(secret)
    before = _home_state(home)
    expected = (
        f"landing/billing/export.csv: refused: a symbolic link that resolves to {secret}, "
        f"outside {home.landing}; only files inside landing/ are ingested "
        "(copy the file into landing/ instead)"
    )

    # The nightly run's file listing leaves it out, with the reason in its log.
    with caplog.at_level(logging.WARNING, logger="llmledger.ingest.pipeline"):
        assert ingest.pending_files(home) == []
    assert expected in caplog.text

    for attempt in (
        lambda: ingest.ingest_file(home, link),
        lambda: ingest.ingest_paths(home, [link]),
        lambda: ingest.ingest_paths(home, [home.landing]),  # found by walking landing/
        lambda: pipeline.ingest_one(home, str(link)),  # the DAG's task body
    ):
        with pytest.raises(ingest.UnsafePath) as refused:
            attempt()
        assert str(refused.value) == expected
    _nothing_read(home, before)


def test_a_dotdot_path_out_of_landing_is_refused(home, secret):
    climbing = home.landing / "billing" / ".." / ".." / ".." / "outside" / "secret.csv"
    assert Path(os.path.normpath(climbing)) == secret
    before = _home_state(home)
    for attempt in (
        lambda: ingest.ingest_file(home, climbing),
        lambda: ingest.ingest_paths(home, [climbing]),
        lambda: ingest.ingest_paths(home, [home.landing / ".."]),  # the whole home
        lambda: pipeline.ingest_one(home, str(climbing)),
    ):
        with pytest.raises(ingest.UnsafePath, match=r"refused: a path that resolves to "):
            attempt()
    _nothing_read(home, before)


def test_the_dag_ingests_nothing_from_outside_landing(home, secret):
    # The task gets its paths through XCom; one that does not even claim landing/ is refused.
    with pytest.raises(ingest.UnsafePath, match=rf"{secret}: refused: a path that resolves"):
        pipeline.ingest_one(home, str(secret))
    assert not list(home.ingest_log.glob("[!_]*.parquet"))


def test_the_cli_says_so_in_one_line_and_exits_1(home, secret, capsys):
    (home.landing / "billing" / "export.csv").symlink_to(secret)
    before = _home_state(home)
    assert main(["--home", str(home.root), "ingest", str(home.landing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: landing/billing/export.csv: refused: a symbolic link")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    _nothing_read(home, before)


def test_links_that_stay_inside_landing_and_linked_folders(home, tmp_path):
    """A link to another landing file is a landing file (same bytes: already ingested); a
    linked folder is not walked into, wherever it points."""
    original = home.landing / "billing" / "owned" / "focus_2026-01.csv"
    original.parent.mkdir()
    original.write_bytes(GOLDEN_FOCUS.read_bytes())
    (home.landing / "billing" / "same.csv").symlink_to(original)
    outside = tmp_path / "folder"
    outside.mkdir()
    (outside / "more.csv").write_bytes(GOLDEN_FOCUS.read_bytes() + b"\n")
    (home.landing / "billing" / "linked").symlink_to(outside, target_is_directory=True)

    assert ingest.pending_files(home) == [
        home.landing / "billing" / "owned" / "focus_2026-01.csv",
        home.landing / "billing" / "same.csv",
    ]
    results = ingest.ingest_paths(home, [home.landing])
    # Walked folder by folder: the link is met first; the same bytes again are skipped.
    assert [(r.source_file, r.status) for r in results] == [
        ("landing/billing/same.csv", "loaded"),
        ("landing/billing/owned/focus_2026-01.csv", "already_ingested"),
    ]
