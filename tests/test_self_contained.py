"""The suite reads nothing from outside the repository: a clone anywhere runs every test."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# the project's data folder beside the repository, however a path to it is spelt
OUTSIDE = re.compile(r"""shared[/\\]data|\.\.[/\\]shared|parent\s*/\s*["']shared["']""")


def test_no_test_file_reads_the_data_beside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OUTSIDE.search(line) and path != Path(__file__).resolve()
    ]
    msg = f"tests must use tests/data or the demo line, not the data beside the repository: {offenders}"
    assert not offenders, msg
