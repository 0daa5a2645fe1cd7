"""Random-weight tiny models of every architecture the paper touches, loaded through mwork.models."""
import pytest
import torch

from mwork.errors import MworkError
from mwork.models import load_model, model_fingerprint, resolve_dtype

ARCHS = {
    "llama": ("LlamaConfig", dict(num_key_value_heads=2)),
    "mistral": ("MistralConfig", dict(num_key_value_heads=2, sliding_window=8)),
    "qwen2": ("Qwen2Config", dict(num_key_value_heads=2)),
    "gemma2": ("Gemma2Config", dict(num_key_value_heads=2, head_dim=8, sliding_window=8)),
    "bloom": ("BloomConfig", dict(n_layer=2, n_head=4)),
    "gpt_neox": ("GPTNeoXConfig", dict(rotary_pct=0.5)),
}


def tiny_model_dir(tmp_path, arch):
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    cls, extra = ARCHS[arch]
    common = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=64)
    cfg = getattr(transformers, cls)(**{**common, **extra})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg)
    vocab = {f"<{i}>": i for i in range(64)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<0>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<1>")
    out = tmp_path / arch
    model.save_pretrained(out)
    fast.save_pretrained(out)
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
