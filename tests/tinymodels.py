"""Random-weight tiny models of every supported architecture, built from a config (no download)."""
import torch
import transformers

ARCHS = {
    "llama": ("LlamaConfig", dict(num_key_value_heads=2)),
    "mistral": ("MistralConfig", dict(num_key_value_heads=2, sliding_window=5)),
    "qwen2": ("Qwen2Config", dict(num_key_value_heads=2)),
    "gemma2": ("Gemma2Config", dict(num_key_value_heads=2, head_dim=8, sliding_window=5,
                                    layer_types=["sliding_attention", "full_attention"],
                                    attn_logit_softcapping=2.0, query_pre_attn_scalar=16)),
    "gemma3_text": ("Gemma3TextConfig", dict(num_key_value_heads=2, head_dim=8, sliding_window=5,
                                             layer_types=["sliding_attention", "full_attention"],
                                             query_pre_attn_scalar=16)),
    "qwen3": ("Qwen3Config", dict(num_key_value_heads=2, head_dim=8)),
    "bloom": ("BloomConfig", dict(n_layer=2, n_head=4)),
    "gpt_neox": ("GPTNeoXConfig", dict(rotary_pct=0.5)),
}


def make_model(arch: str, seed: int = 0, **overrides):
    cls, extra = ARCHS[arch]
    common = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=64)
    cfg = getattr(transformers, cls)(**{**common, **extra, **overrides})
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    if arch == "qwen2":  # make the q/k/v biases matter
        for layer in model.model.layers:
            for p in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                torch.nn.init.normal_(p.bias, std=0.5)
    # q/k norm weights away from their initial value, so the per-head rescaling matters (Gemma-3, Qwen3)
    for name, p in model.named_parameters():
        if name.endswith(("q_norm.weight", "k_norm.weight")):
            with torch.no_grad():
                p.add_(torch.randn_like(p) * 0.5)
    # larger weights than the initializer's, so attention is far from uniform and every neuron matters
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed" not in name and "wte" not in name and "word_embeddings" not in name:
                p.mul_(8.0)
    return model.eval()


def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"<{i}>": i for i in range(64)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<0>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<1>")


def random_batch(seed: int = 1, lengths=(11, 7, 9)):
    """Random token ids (vocabulary 64) with a left-padding mask: (len(lengths), max(lengths)) each."""
    g = torch.Generator().manual_seed(seed)
    length = max(lengths)
    ids = torch.randint(2, 64, (len(lengths), length), generator=g)
    mask = torch.zeros_like(ids)
    for b, n in enumerate(lengths):
        mask[b, length - n:] = 1  # left padding, as for generation
    return ids, mask
