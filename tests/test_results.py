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
