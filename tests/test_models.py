"""Every network shipped in docs/models/ solves its problem on fresh sequences (fewer than 1 % of
10,000 misclassified, all 32 for the 5-bit problem), as ``armctl pathological eval`` reports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from armctl.sequence import model_file

MODELS = sorted((Path(__file__).resolve().parent.parent / "docs" / "models").glob("*.npz"))


@pytest.mark.skipif(not MODELS, reason="no network has been shipped yet (docs/models/ holds none)")
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_a_shipped_network_solves_its_problem_on_fresh_sequences(path):
    meta, _, _ = model_file.load(path)
    result = model_file.evaluate(path, sequences=10_000, seed=12345)
    assert result["solved"] and result["error_rate"] < 0.01, result
    assert meta["source"]["outcome"]["success"] is True
