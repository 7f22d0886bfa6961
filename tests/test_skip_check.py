"""The suite's skip check (tests/conftest.py): a skip fails the run unless its reason is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

SUITE = '''
import pytest

def test_runs():
    pass

@pytest.mark.skipif(True, reason="genicam's viky.cti is not installed")
def test_without_the_simulator():
    pass

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_known_bug():
    assert False

def test_needs_missing_data():
    pytest.skip("data not found at ../somewhere")
'''


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("DRAEM_TESTS_NO_SKIPS", raising=False)
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_an_unexpected_skip_fails_the_run_and_is_named(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*unexpected skips fail the run*", "*test_needs_missing_data: data not*"])
    assert "test_without_the_simulator:" not in result.stdout.str()  # the allowed skip is not named


def test_allowed_skips_and_expected_failures_pass(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-k", "not missing_data")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_ci_allows_no_skip_at_all(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAEM_TESTS_NO_SKIPS", "1")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-k", "not missing_data")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*test_without_the_simulator: genicam's viky.cti is not installed*"])
