"""Random-weight tiny models of every architecture the paper touches, loaded through mwork.models."""
import pytest
import torch
from tinymodels import ARCHS, make_model, tokenizer

from mwork.errors import MworkError
from mwork.fingerprint import model_fingerprint
from mwork.models import load_model, resolve_dtype


def tiny_model_dir(tmp_path, arch):
    model = make_model(arch)
    out = tmp_path / arch
    model.save_pretrained(out)
    tokenizer().save_pretrained(out)
    return out, model


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_load_every_architecture(tmp_path, arch):
    path, ref = tiny_model_dir(tmp_path, arch)
    model, tok = load_model(str(path))
    assert model.config.model_type == arch and not model.training
    assert next(model.parameters()).dtype == torch.float32  # fp32 on CPU
    assert tok.padding_side == "left" and tok.pad_token is not None
    ids = torch.tensor([[3, 5, 7, 9]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, ref.eval()(ids).logits)
    assert model_fingerprint(model) == model_fingerprint(ref)


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(MworkError, match="does not exist; build it first"):
        load_model(str(tmp_path / "nope"))


def test_uncached_hub_id_offline_says_how_to_fetch(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MworkError, match="huggingface-cli download"):
        load_model("mwork-tests/definitely-not-cached")


def test_dtype_choice():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    with pytest.raises(MworkError, match="dtype"):
        resolve_dtype("int3", "cpu")
