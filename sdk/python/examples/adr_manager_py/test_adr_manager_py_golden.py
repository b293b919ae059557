"""`adr_manager_py` against the Rust `adr_manager`'s golden outputs: for every
`tests/guests/adr_manager/cases/<case>/` (made by its `make_cases.sh` with the
Rust tool), the port's JSON (as `taylordash invoke` prints it: then a newline)
and its `docs/adr/index.md` must be the same bytes as `expected.json` and
`expected_index.md`."""

from pathlib import Path

import os

import pytest
from adr_manager_py import AdrManagerPy

from taylordash_sdk.testing import Harness

CASES = Path(os.environ.get("ADR_GOLDEN_CASES")
             or Path(__file__).resolve().parents[4] / "tests" / "guests" / "adr_manager" / "cases")
"""The cases; `ADR_GOLDEN_CASES=DIR` runs another set (e.g. sdk/js/examples/adr_manager_js/cases)."""


def cases():
    if not CASES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"NO GOLDEN CASES: {CASES} is missing; run tests/guests/adr_manager/make_cases.sh with the Rust tool"))]
    return [pytest.param(c, id=c.name) for c in sorted(CASES.iterdir()) if c.is_dir()]


@pytest.mark.parametrize("case", cases())
def test_the_port_writes_what_the_rust_tool_wrote(case):
    expected_json, expected_index = case / "expected.json", case / "expected_index.md"
    if not (expected_json.is_file() and expected_index.is_file()):
        pytest.skip(f"NO GOLDEN OUTPUT for case `{case.name}`: expected.json/expected_index.md not generated yet "
                    "(tests/guests/adr_manager/make_cases.sh)")
    h = Harness(AdrManagerPy())
    if (case / "workspace").is_dir():
        h.copy_into_workspace(case / "workspace")
    out = h.invoke_json("{}")
    assert (out + "\n").encode("utf-8") == expected_json.read_bytes()
    assert (h.out / "docs/adr/index.md").read_bytes() == expected_index.read_bytes()
