"""config/cluster_mapping.csv: optional, typed, and every bad rule named by file, line, value.

The rules themselves are applied by dbt (int_billing_charges_converted); their precedence is
proven end to end in tests/e2e/test_gcp_and_cluster_mapping.py.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from llmledger import config
from llmledger.paths import Home

CLUSTERS = [
    {"cluster": "a3", "ownership": "cloud", "gpu_type": "h100", "gpus": 8},
    {"cluster": "own", "ownership": "owned", "gpu_type": "h100", "gpus": 8},
]
GOOD = [
    {
        "priority": 10,
        "match": "resource_id",
        "pattern": "//compute.*/lab-*",
        "syntax": "glob",
        "cluster": "a3",
    },
    {"priority": 20, "match": "tag", "tag_key": "pool", "pattern": "blu(e|ish)", "cluster": "own"},
]


def _write(home: Home, rules: list[dict]) -> None:
    config.write_config(home, {"clusters": CLUSTERS, "cluster_mapping": rules})


def test_rules_load_typed_with_regex_as_default_syntax(tmp_path):
    home = Home(tmp_path)
    _write(home, GOOD)
    rules = config.load_config(home).cluster_mapping
    assert [(r.priority, r.match, r.tag_key, r.syntax, r.cluster) for r in rules] == [
        (10, "resource_id", None, "glob", "a3"),
        (20, "tag", "pool", "regex", "own"),
    ]
    config.stage(home)
    staged = pq.read_table(home.staged_config / "cluster_mapping.parquet").to_pylist()
    assert [r["pattern"] for r in staged] == ["//compute.*/lab-*", "blu(e|ish)"]


def test_the_file_is_optional_for_homes_made_before_it(tmp_path):
    home = Home(tmp_path)
    _write(home, [])
    (home.config / "cluster_mapping.csv").unlink()
    assert config.load_config(home).cluster_mapping == []


# (what, rule, column, value, words of "expected")
BAD = [
    ("python regex", {"pattern": "blu(e"}, "pattern", "blu(e", "regular expression"),
    # Python accepts a lookahead; DuckDB's RE2, which applies the rule, does not.
    ("re2 regex", {"pattern": "(?=b)blue"}, "pattern", "(?=b)blue", "regular expression"),
    ("cluster", {"cluster": "nowhere"}, "cluster", "nowhere", "clusters.csv"),
    ("tag key", {"tag_key": ""}, "tag_key", "", "tag key"),
    ("match", {"match": "name"}, "match", "name", "tag, resource_id"),
    ("syntax", {"syntax": "sql"}, "syntax", "sql", "regex, glob"),
]


@pytest.mark.parametrize(
    ("change", "column", "value", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_rule_names_file_line_column_and_value(tmp_path, change, column, value, expected):
    home = Home(tmp_path)
    _write(home, [GOOD[0], {**GOOD[1], **change}])
    with pytest.raises(config.ConfigError) as caught:
        config.load_config(home)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.column, issue.value) == (
        "cluster_mapping.csv",
        3,
        column,
        value,
    )
    assert expected in issue.expected
    assert "config/cluster_mapping.csv line 3" in str(issue)


def test_tag_key_on_a_resource_id_rule_is_an_error(tmp_path):
    home = Home(tmp_path)
    _write(home, [{**GOOD[0], "tag_key": "pool"}])
    with pytest.raises(config.ConfigError) as caught:
        config.load_config(home)
    (issue,) = caught.value.issues
    assert (issue.line, issue.column, issue.value) == (2, "tag_key", "pool")
