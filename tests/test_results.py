"""docs/RESULTS.md follows its data: every generated block equals what docs/generate.py makes of the
committed JSON, and every line of code the pathological fidelity table cites holds the code it quotes."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "RESULTS.md"


def _generate():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_block_equals_its_data():
    generate = _generate()
    text = RESULTS.read_text()
    assert all(f"<!-- generated: {name} -->" in text for name in generate.BLOCKS)
    _, changed = generate.regenerate(text)
    assert changed == [], f"RESULTS.md differs from its data in {changed}: run python docs/generate.py"


def _fidelity_citations() -> list[tuple[str, int, str]]:
    text = RESULTS.read_text()
    table = text[text.index("### Fidelity: every setting") : text.index("### Cheap experiments")]
    return [
        (path, int(line), code) for path, line, code in re.findall(r"`([\w/.]+\.py):(\d+)` `([^`]+)`", table)
    ]


def test_the_fidelity_table_cites_many_lines():
    assert len(_fidelity_citations()) >= 30


@pytest.mark.parametrize("path, line, code", _fidelity_citations(), ids=lambda v: str(v))
def test_each_cited_line_holds_the_quoted_code(path, line, code):
    lines = (ROOT / path).read_text().splitlines()
    assert line <= len(lines) and code in lines[line - 1], f"{path}:{line} no longer holds {code!r}"


def test_a_claims_verdict_follows_its_declared_rule():
    """docs/claims.toml's rule: the bootstrap interval of the median over seeds against the claim's
    threshold or band; three seeds give the interval [min, max], all on one side is needed."""
    generate = _generate()
    assert generate.median_interval([1.2, 1.3, 1.4]) == (1.2, 1.4)
    low, high = generate.median_interval([0.9, 1.01, 1.02, 1.03, 1.04])
    assert low <= 1.01 and high >= 1.03  # one seed of five on the other side keeps 1 near the interval
    above = {"above": 1.0}
    assert generate.verdict(above, 1.1, 1.3) == "reproduced"
    assert generate.verdict(above, 0.7, 0.9) == "contradicted"
    assert generate.verdict(above, 0.9, 1.1) == "not reproduced"
    assert generate.verdict({"below": 1.001}, 1.0005, 1.0009) == "reproduced"
    band = {"within": [0.8, 1.25]}
    assert generate.verdict(band, 0.9, 1.2) == "reproduced"
    assert generate.verdict(band, 2.0, 2.5) == "contradicted"
    assert generate.verdict(band, 1.1, 1.5) == "not reproduced"
    assert generate.claim_row({"claim": "untested"})["verdict"] == "not tested"


def test_a_failure_rate_claim_is_a_one_sided_fisher_test():
    generate = _generate()
    # 0 of 10 against 5 of 10 failing: C(15, 10) / C(20, 10), the hypergeometric tail
    assert generate.fisher_one_sided(0, 10, 5, 10) == pytest.approx(3003 / 184756)
    assert generate.fisher_one_sided(3, 10, 3, 10) > 0.5
    claim = {"failures": {"fewer": "ahf", "more": "hf", "calls": 20000, "limit": 1.05}}
    seeds = [str(s) for s in range(10)]

    def data(ahf_ratios, hf_ratios, diverged=None):
        table = {
            name: {"per_seed": dict(zip(seeds, r, strict=True))}
            for name, r in (("ahf", ahf_ratios), ("hf", hf_ratios))
        }
        return {"ilqr_loss": 2.0, "table": {"20000": table}, "diverged": diverged or {}}

    fine, poor = [2.02] * 10, [2.02] * 4 + [2.2] * 5 + [None]  # None: no loss at 20k calls, a failure
    row = generate.failure_row(claim, data(fine, poor))
    assert row["counts"] == {"ahf": (0, 10), "hf": (6, 10)} and row["verdict"] == "reproduced"
    assert generate.failure_row(claim, data(poor, fine))["verdict"] == "contradicted"
    # a diverged run fails whatever loss it reported
    row = generate.failure_row(claim, data(fine, fine, {"ahf": ["0", "1"]}))
    assert row["counts"]["ahf"] == (2, 10) and row["verdict"] == "not reproduced"


def test_every_declared_claim_has_its_data():
    """Each claim of docs/claims.toml with a data file finds at least three seeds there (a failure
    claim: its two optimizers' seeds), and the claims block shows one row per claim. Only a failure
    claim may name a file not written yet: it was declared before its runs."""
    import tomllib

    generate = _generate()
    claims = tomllib.loads((ROOT / "docs" / "claims.toml").read_text())["claims"]
    for claim in claims:
        row = generate.claim_row(claim)
        if "failures" in claim and row["verdict"] != "not tested":
            assert all(n >= 3 for _, n in row["counts"].values()), claim["claim"]
        elif "file" in claim:
            assert "failures" in claim or len(row["values"]) >= 3, claim["claim"]
        assert row["verdict"] in ("reproduced", "not reproduced", "contradicted", "not tested")
    assert generate._claims().count("\n| ") == len(claims)  # a row per claim below the header
