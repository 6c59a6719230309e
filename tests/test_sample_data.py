"""The committed sample snapshot is exactly what its deterministic script writes, and is labelled."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_sample_snapshot_is_reproducible(tmp_path):
    out = tmp_path / "sample"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_sample_data.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    committed = sorted(p.name for p in (REPO / "data" / "sample").iterdir())
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        assert (out / name).read_bytes() == (REPO / "data" / "sample" / name).read_bytes(), \
            f"data/sample/{name} differs from what scripts/make_sample_data.py writes"


def test_sample_readme_says_what_is_real_and_what_is_not():
    text = (REPO / "data" / "sample" / "README.md").read_text(encoding="utf-8")
    assert "REAL" in text and "ILLUSTRATIVE" in text
    label = (REPO / "data" / "sample" / "snapshot.toml").read_text(encoding="utf-8")
    assert "sample = true" in label and "SAMPLE DATA" in label
