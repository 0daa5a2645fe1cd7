"""Per-architecture adapters: where the neurons of a transformers model live, without touching its code.

A neuron, in the paper's sense, is
* ``ffn``: an intermediate unit of the MLP — output k of gate/up (input k of down) for gated MLPs, the
  k-th activation for GELU MLPs;
* ``attn.q`` / ``attn.k`` / ``attn.v``: an output feature of the query / key / value projection (weight row
  and bias), before the rotary embedding. Fused projections (BLOOM, GPT-NeoX) are split into their
  q, k and v parts, each indexed ``head * head_dim + i``.

An adapter names the modules (for forward hooks) and knows how the attention scores are formed
(rotary or ALiBi, scaling, soft-capping, sliding window), so PLND can recompute them exactly.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .errors import MworkError


@dataclass
class LayerModules:
    attn: torch.nn.Module  # the attention module (its output is the attention block's output)
    mlp: torch.nn.Module  # the MLP module (its output is the FFN block's output)
    down: torch.nn.Module  # its input is the intermediate activation h_ffn (b, l, d_ff)
    out_proj: torch.nn.Module  # o_proj / dense: its input is the concatenated head outputs (b, l, H*hd)
    q: torch.nn.Module | None  # separate projections (Llama family) ...
    k: torch.nn.Module | None
    v: torch.nn.Module | None
    qkv: torch.nn.Module | None  # ... or one fused projection (BLOOM, GPT-NeoX)
    up: torch.nn.Module  # up_proj / dense_h_to_4h: the projection into the intermediate layer (gated or not)

    def projection(self, kind: str) -> torch.nn.Module:
        """The separate projection whose output features are the neurons of ``kind`` (attn.q, attn.k, attn.v);
        a fused layout has none (use ``qkv`` with ``Adapter.fused_index``)."""
        mod = {"attn.q": self.q, "attn.k": self.k, "attn.v": self.v}[kind]
        if mod is None:
            raise TypeError(f"{kind}: this layer has one fused q/k/v projection (LayerModules.qkv)")
        return mod


class Adapter:
    """Llama-family layout: ``model.model.layers[i].self_attn.{q,k,v,o}_proj``, ``mlp.{gate,up,down}_proj``."""

    model_types = ("llama", "mistral", "qwen2", "gemma2", "gemma3_text", "qwen3")

    def __init__(self, model):
        self.model = model
        self.config = model.config
        cfg = self.config
        self.n_heads = cfg.num_attention_heads
        self.n_kv_heads = getattr(cfg, "num_key_value_heads", None) or self.n_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads

    # -- modules ---------------------------------------------------------------------------------
    def decoder_layers(self):
        return list(self.model.model.layers)

    def layer(self, i: int) -> LayerModules:
        block = self.decoder_layers()[i]
        a, m = block.self_attn, block.mlp
        return LayerModules(attn=a, mlp=m, down=m.down_proj, out_proj=a.o_proj, q=a.q_proj, k=a.k_proj,
                            v=a.v_proj, qkv=None, up=m.up_proj)

    def final_norm(self) -> torch.nn.Module:
        """The norm between the last decoder layer and the output embedding."""
        return self.model.model.norm

    @property
    def n_layers(self) -> int:
        return len(self.decoder_layers())

    def sizes(self) -> dict[str, int]:
        """Neurons per module kind in every layer."""
        lm = self.layer(0)
        return {"ffn": lm.down.in_features, "attn.q": self.n_heads * self.head_dim,
                "attn.k": self.n_kv_heads * self.head_dim, "attn.v": self.n_kv_heads * self.head_dim}

    # -- splitting a fused projection's output ------------------------------------------------------
    def split_qkv(self, out: torch.Tensor):
        """(q, k, v), each (b, l, heads*hd), from the fused projection's output (b, l, 3*H*hd).

        BLOOM and GPT-NeoX both lay the fused output out per head as [q | k | v] (view (b, l, H, 3, hd))."""
        b, l, _ = out.shape
        x = out.view(b, l, self.n_heads, 3, self.head_dim)
        return tuple(x[:, :, :, i].reshape(b, l, -1) for i in range(3))

    def fused_index(self, kind: str, idx: torch.Tensor) -> torch.Tensor:
        """Feature ``head*hd + i`` of q/k/v -> its row of the fused projection."""
        part = {"attn.q": 0, "attn.k": 1, "attn.v": 2}[kind]
        head, i = idx // self.head_dim, idx % self.head_dim
        return head * 3 * self.head_dim + part * self.head_dim + i

    # -- how scores are formed -----------------------------------------------------------------------
    def attn_call_args(self, attn: torch.nn.Module, args: tuple, kwargs: dict) -> dict:
        """The attention module's call arguments by name (captured by a forward pre-hook)."""
        sig = inspect.signature(attn.forward)
        bound = sig.bind_partial(*args, **kwargs)
        return dict(bound.arguments) | bound.arguments.get("kwargs", {})

    def rotary(self, attn, call: dict) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """x (b, n, l, hd) -> x with the rotary embedding of each position applied (None: no rotary)."""
        cos, sin = call["position_embeddings"]
        rope = sys.modules[type(attn).__module__].apply_rotary_pos_emb
        return lambda x: rope(x, x[:, :0], cos, sin)[0]  # the key slot gets no heads: only q is rotated

    def rotary_key(self, attn, call: dict):
        """Identifies ``rotary(attn, call)`` within one forward pass: layers with equal keys rotate alike
        (Gemma-3's local and global layers differ), so what is derived from the rotation can be shared."""
        cos, sin = call["position_embeddings"]
        return type(attn).__module__, cos.data_ptr(), sin.data_ptr(), tuple(cos.shape), tuple(sin.shape)

    def qk_norms(self, attn) -> tuple[torch.nn.Module, torch.nn.Module] | None:
        """Per-head RMS norms applied to q and k after the projections, before the rotary embedding
        (Gemma-3, Qwen3), or None. A q/k neuron is the projection's output feature, before the norm."""
        qn, kn = getattr(attn, "q_norm", None), getattr(attn, "k_norm", None)
        if qn is None or kn is None:
            return None
        for norm in (qn, kn):  # PLND's closed form assumes one RMS norm per head (not over all heads, as OLMo-2)
            width = norm.weight.numel() if getattr(norm, "weight", None) is not None else None
            if width != self.head_dim:
                raise MworkError(f"{type(attn).__name__}: a q/k norm of width {width} is not per head (head_dim "
                                 f"{self.head_dim}); PLND does not support it yet")
        return qn, kn

    def scaling(self, attn) -> float:
        return float(attn.scaling)

    def softcap(self, attn) -> float | None:
        return getattr(attn, "attn_logit_softcapping", None)

    def sliding_window(self, attn) -> int | None:
        if hasattr(attn, "sliding_window"):
            return attn.sliding_window
        if self.config.model_type == "mistral":
            return getattr(self.config, "sliding_window", None)
        return None

    def score_bias(self, attn, call: dict, batch: int, length: int) -> torch.Tensor | None:
        """An additive bias on the scaled scores (b, H, l_q, l_k), e.g. ALiBi; None if there is none."""
        return None

    def forward_kwargs(self, input_ids, attention_mask) -> dict:
        """Arguments of the model's forward: explicit positions so a left-padded document gets the same
        positions as when it is alone."""
        pos = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": pos, "use_cache": False}


class GPTNeoXAdapter(Adapter):
    model_types = ("gpt_neox",)

    def __init__(self, model):
        super().__init__(model)
        self.n_kv_heads = self.n_heads

    def decoder_layers(self):
        return list(self.model.gpt_neox.layers)

    def final_norm(self):
        return self.model.gpt_neox.final_layer_norm

    def layer(self, i):
        block = self.decoder_layers()[i]
        a, m = block.attention, block.mlp
        return LayerModules(attn=a, mlp=m, down=m.dense_4h_to_h, out_proj=a.dense, q=None, k=None, v=None,
                            qkv=a.query_key_value, up=m.dense_h_to_4h)


class BloomAdapter(Adapter):
    model_types = ("bloom",)

    def __init__(self, model):
        super().__init__(model)
        self.n_kv_heads = self.n_heads
        self.head_dim = self.config.hidden_size // self.n_heads

    def decoder_layers(self):
        return list(self.model.transformer.h)

    def final_norm(self):
        return self.model.transformer.ln_f

    def layer(self, i):
        block = self.decoder_layers()[i]
        a, m = block.self_attention, block.mlp
        return LayerModules(attn=a, mlp=m, down=m.dense_4h_to_h, out_proj=a.dense, q=None, k=None, v=None,
                            qkv=a.query_key_value, up=m.dense_h_to_4h)

    def rotary(self, attn, call):
        return None  # ALiBi, no rotary embedding

    def rotary_key(self, attn, call):
        return None

    def scaling(self, attn):
        return float(attn.inv_norm_factor)

    def softcap(self, attn):
        return None

    def sliding_window(self, attn):
        return None

    def score_bias(self, attn, call, batch, length):
        alibi = call["alibi"]  # (b*H, 1, l_k), added with weight beta before the mask
        return attn.beta * alibi.view(batch, self.n_heads, 1, -1)[..., -length:].float()

    def forward_kwargs(self, input_ids, attention_mask):
        # BLOOM derives ALiBi positions from the attention mask itself
        return {"input_ids": input_ids, "attention_mask": attention_mask, "use_cache": False}


ADAPTERS = [Adapter, GPTNeoXAdapter, BloomAdapter]


def get_adapter(model) -> Adapter:
    mt = getattr(model.config, "model_type", type(model).__name__)
    for cls in ADAPTERS:
        if mt in cls.model_types:
            return cls(model)
    supported = ", ".join(t for cls in ADAPTERS for t in cls.model_types)
    raise MworkError(f"architecture {mt!r} ({type(model).__name__}) is not supported by mwork yet "
                     f"(supported: {supported}); add an adapter in mwork/arch.py")
