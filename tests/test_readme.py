"""The README keeps what a newcomer needs; measurements live in bench/RESULTS.md (#17)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A measured figure: a percentile with a value, or a time in ms/µs/us, as the bench scripts print them.
FIGURE = re.compile(r"\bp(50|95|99) [0-9]|\b[0-9]+(\.[0-9]+)? ?(ms|µs|us)\b")


def test_the_readme_quotes_no_measurements_and_points_to_the_results() -> None:
    readme = (ROOT / "README.md").read_text()
    figures = [line for line in readme.splitlines() if FIGURE.search(line)]
    assert not figures, f"move these to bench/RESULTS.md: {figures}"
    assert "bench/RESULTS.md" in readme and (ROOT / "bench" / "RESULTS.md").exists()
