"""PLND in one forward pass: hooks on an unmodified model hand each layer's projections to the Q/K, V and
FFN importance (``qk``, ``value``, ``ffn``) as the forward pass reaches them; which Q/K backend runs
(``qk_path``) is decided here."""

from __future__ import annotations

import torch

from ..arch import Adapter, get_adapter
from ..hooks import Hooks
from ..keys import KINDS, key, parse_key
from . import qk_fused, qk_torch
from .ffn import ffn_importance
from .kernel import resolve as resolve_kernel
from .qk import LayerQK
from .value import v_importance

# entries of the largest block PLND builds (config.plnd.chunk_elems; the schema's default is this value)
CHUNK_ELEMS = 1 << 20


def qk_path(model, qk_kernel: str = "auto") -> str:
    """``fused`` or ``torch``: what ``neuron_importance(model, ..., qk_kernel=qk_kernel)`` computes the Q/K part
    with (recorded in the neuron file)."""
    adapter, device = get_adapter(model), next(model.parameters()).device
    if not resolve_kernel(qk_kernel, device):
        return "torch"
    return "fused" if all(qk_fused.fusable(adapter, adapter.layer(i).attn, device) for i in range(adapter.n_layers)) \
        else "torch"


@torch.no_grad()
def neuron_importance(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      kinds=KINDS, chunk_elems: int = CHUNK_ELEMS,
                      score_mask: torch.Tensor | None = None, qk_kernel: str = "auto") -> dict[str, torch.Tensor]:
    """Importance of every neuron for every document of a batch, in one forward pass.

    input_ids, attention_mask: (b, l); padding (left or right) is excluded, so a padded batch gives the
    same numbers as each document alone. ``score_mask`` (b, l), within the attention mask: the positions
    whose changes are counted (default all; PLND leaves out special tokens such as BOS) — the model still
    sees every position, and a neuron is still deactivated everywhere. Returns
    ``{"layers.{i}.{kind}": float32 (b, n_neurons)}`` for kind in ``kinds`` (``ffn``, ``attn.q``,
    ``attn.k``, ``attn.v``), on the CPU. ``qk_kernel``: ``auto`` (the fused CPU kernel of
    ``mwork.plnd.kernel`` where it builds, else PyTorch), ``fused`` (required) or ``torch``; same numbers.
    """
    adapter = get_adapter(model)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    valid = attention_mask.bool()
    rows = valid if score_mask is None else valid & score_mask.bool().to(valid.device)
    out: dict[str, torch.Tensor] = {}
    want_qk = "attn.q" in kinds or "attn.k" in kinds
    fused = want_qk and resolve_kernel(qk_kernel, input_ids.device)
    with Hooks() as hooks:
        _register(adapter, kinds, want_qk, valid, rows, out, hooks, chunk_elems, fused)
        # no importance depends on the logits: the output head runs for one position only
        model(**adapter.forward_kwargs(input_ids, attention_mask), logits_to_keep=1)
    return {k: out[k] for k in sorted(out, key=lambda s: (parse_key(s)[0], KINDS.index(parse_key(s)[1])))}


def _register(adapter: Adapter, kinds, want_qk: bool, valid, rows, out: dict, hooks: Hooks, chunk_elems: int,
              fused: bool) -> None:
    """Attach neuron_importance's hooks to ``hooks`` (which removes them all, also after a failure here)."""
    shared: dict = {}  # shared by the layers' Q/K computations within this forward pass
    for i in range(adapter.n_layers):
        lm = adapter.layer(i)
        st: dict = {}

        def on_attn(mod, args, kwargs, st=st):
            if want_qk:
                st["call"] = adapter.attn_call_args(mod, args, kwargs)

        def on_proj(name):
            def hook(mod, args, output, st=st):
                st[name] = output

            return hook

        def on_qkv(mod, args, output, st=st):
            st["q"], st["k"], _ = adapter.split_qkv(output)

        def on_out_proj(mod, args, i=i, lm=lm, st=st):
            x = args[0]
            if "attn.v" in kinds:
                out[key(i, "attn.v")] = v_importance(adapter, x, mod.weight, rows.to(x.device), chunk_elems).cpu()
            if want_qk:
                # handed over, not kept: the projections' raw outputs go with the layer's Q/K computation
                qk = LayerQK(adapter, lm.attn, st.pop("call"), st.pop("q"), st.pop("k"), valid.to(x.device),
                              chunk_elems, rows.to(x.device), shared)
                imp_q, imp_k = (qk_fused if fused and qk_fused.fusable(adapter, lm.attn, x.device) else qk_torch).importance(qk)
                if "attn.q" in kinds:
                    out[key(i, "attn.q")] = imp_q.cpu()
                if "attn.k" in kinds:
                    out[key(i, "attn.k")] = imp_k.cpu()
            st.clear()

        def on_down(mod, args, i=i):
            out[key(i, "ffn")] = ffn_importance(args[0], mod.weight, rows.to(args[0].device), chunk_elems).cpu()

        if want_qk:
            hooks.before(lm.attn, on_attn, with_kwargs=True)
            if lm.qkv is not None:
                hooks.after(lm.qkv, on_qkv)
            else:
                hooks.after(lm.q, on_proj("q"))
                hooks.after(lm.k, on_proj("k"))
        if want_qk or "attn.v" in kinds:
            hooks.before(lm.out_proj, on_out_proj)
        if "ffn" in kinds:
            hooks.before(lm.down, on_down)
