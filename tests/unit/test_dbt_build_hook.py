"""``warehouse.dbt_build(while_building=...)``: the hook runs while dbt runs, after the config
and the plan are made (so GX's warm-up does not compete with them for the interpreter)."""

import json
import time
from pathlib import Path

import pytest

from fake_dbt import install as install_fake_dbt
from llmledger import warehouse
from llmledger.paths import Home

# Stands in for dbt: says when it started, waits until the hook has run (or 10 s), says when it
# ended. A hook called after dbt exits would find `ended` already written.
FAKE_DBT = """\
import json, os, sys, time
folder = os.environ["FAKE_DBT_DIR"]
started = time.monotonic()
open(os.path.join(folder, "started"), "w").write(repr(started))
deadline = started + 10
while not os.path.exists(os.path.join(folder, "hooked")) and time.monotonic() < deadline:
    time.sleep(0.01)
ended = {"argv": sys.argv[1:], "ended": time.monotonic()}
json.dump(ended, open(os.path.join(folder, "ended"), "w"))
print("Done. PASS=1")
"""


@pytest.fixture
def fake_dbt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_fake_dbt(tmp_path, monkeypatch, FAKE_DBT)
    monkeypatch.setenv("FAKE_DBT_DIR", str(tmp_path))
    return tmp_path


def test_the_hook_runs_while_dbt_runs_after_the_config_is_staged(fake_dbt: Path, tmp_path) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    seen: dict = {}

    def hook() -> None:
        # The config is staged before dbt starts; dbt has not ended.
        seen["staged"] = sorted(p.name for p in home.staged_config.glob("*.parquet"))
        seen["ended_before_hook"] = (fake_dbt / "ended").exists()
        seen["at"] = time.monotonic()
        (fake_dbt / "hooked").write_text("")

    done = warehouse.dbt_build(home, ["--select", "x"], echo=False, while_building=hook)

    assert done == "dbt build --select x"
    assert seen["staged"] and "policies.parquet" in seen["staged"]
    assert seen["ended_before_hook"] is False
    ended = json.loads((fake_dbt / "ended").read_text())
    assert ended["argv"][:1] == ["build"] and ended["argv"][-2:] == ["--select", "x"]
    # dbt waited for the hook: it ended after it, and it never timed out waiting.
    assert seen["at"] <= ended["ended"] < float((fake_dbt / "started").read_text()) + 10


def test_without_a_hook_the_build_runs_as_before(fake_dbt: Path, tmp_path) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    (fake_dbt / "hooked").write_text("")  # nothing to wait for
    assert warehouse.dbt_build(home, ["--select", "y"], echo=False) == "dbt build --select y"
