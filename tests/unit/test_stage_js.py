"""The stage's lineup (webclient/static/stage/lineup.js: who is on stage and in which order, no DOM),
tested in Node by tests/js/stage/lineup.test.mjs: one test here per case there."""

from __future__ import annotations

import pytest

import nodetests

LINEUP = nodetests.JS / "stage" / "lineup.test.mjs"
NAMES = nodetests.cases(LINEUP)


@pytest.fixture(scope="module")
def report():
    return nodetests.run(LINEUP)


def test_the_cases_are_found():
    assert len(NAMES) >= 4, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_lineup(report, name):
    nodetests.check(report, LINEUP, name)
