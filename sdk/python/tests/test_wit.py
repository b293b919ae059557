"""The SDK's bundled WIT is the repository's contract, byte for byte."""

from pathlib import Path

import pytest

from taylordash_sdk.build import WIT_DIR

REPO_WIT = Path(__file__).resolve().parents[3] / "wit" / "agent.wit"


@pytest.mark.skipif(not REPO_WIT.exists(), reason="not inside the TaylorDash repository")
def test_bundled_wit_matches_the_repository():
    assert (WIT_DIR / "agent.wit").read_bytes() == REPO_WIT.read_bytes(), \
        "copy wit/agent.wit to sdk/python/src/taylordash_sdk/wit/agent.wit"
