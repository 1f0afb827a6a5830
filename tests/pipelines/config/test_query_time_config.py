"""The query_time block and its thresholds: defaults, overrides, and errors that name the key and the fix."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from prodlike.pipelines.config import model as cfgmod

MINIMAL = "source: {dsn: '${SRC}'}\ntarget: {dsn: '${DST}'}\n"

CASES = [
    # a typo in the block is refused, not ignored
    ("query_time: {topp: 5}", "query_time.topp: unknown key; check its spelling"),
    # at least one measured run
    ("query_time: {runs: 0}", "query_time.runs: Input should be greater than or equal to 1 (got 0)"),
    # the budget is a share of the run's time
    ("query_time: {budget: 2}", "query_time.budget: Input should be less than or equal to 1 (got 2)"),
    # durations as everywhere
    ("query_time: {statement_timeout: long}", "query_time.statement_timeout: expected a duration such as 5s"),
    # thresholds in the warn/error vocabulary
    ("thresholds: {query_time: {warn: 3, eror: 5}}", "thresholds.query_time.eror: unknown key"),
]


@pytest.mark.parametrize("text, message", CASES, ids=["typo", "runs-zero", "budget-share", "bad-duration",
                                                       "threshold-typo"])
def test_bad_query_time_config_names_the_key(text, message):
    with pytest.raises(cfgmod.ConfigError, match=re.escape(message)):
        cfgmod.load_text(MINIMAL + text, "prodlike.yaml")


def test_query_time_defaults_and_overrides():
    cfg = cfgmod.load_text(MINIMAL, "prodlike.yaml")
    assert cfg.query_time.enabled and cfg.query_time.top == 20 and cfg.query_time.budget == 0.05
    t = cfg.thresholds
    assert (t.query_time.warn, t.query_time.error) == (3.0, None)
    assert (t.query_rows.warn, t.query_cache.warn) == (10.0, 0.2)
    cfg = cfgmod.load_text(MINIMAL + "query_time: {enabled: false, statement_timeout: 500ms}\n"
                                     "thresholds: {query_time: {warn: 2, error: 10}}", "prodlike.yaml")
    assert not cfg.query_time.enabled and cfg.query_time.statement_timeout == timedelta(milliseconds=500)
    assert (cfg.thresholds.query_time.warn, cfg.thresholds.query_time.error) == (2.0, 10.0)
