"""The deactivation loss matrix: what deactivating language X's neurons does to the loss on language Y.

For every language X, X's language-specific neurons (every layer) are deactivated, and so — as the
control — are as many random neurons of the same module kinds (drawn with a seed); each time the mean
next-token loss on held-out documents of every language Y is measured. A language-specific set should
raise X's loss (the diagonal) far more than the other languages' and far more than its random control.
Cheaper and more direct than the task tables, and it needs no task data at all.

PLND's sets also hold neurons that every language selects (important for any text: on a real LLM a
few of them carry most of the model), so each X is measured twice: with its whole set (``lang``) and
with its set minus the neurons in every language's set (``specific``, as the paper's Table 9 removes
them), each beside its own size-matched random control (``lang_random``, ``specific_random``).
"""

from __future__ import annotations

import torch

from .arch import get_adapter
from .batching import encode_prefixes, left_padded, pad_id
from .deactivation import select, stage_layers
from .hooks import Hooks
from .masking import deactivate
from .output_head import vocab_slices

EVERY_LAYER = {"s_attn": True, "s_ffn": True}  # with no U/G stages, the task stage is every layer


VARIANTS = ("lang", "lang_random", "specific", "specific_random")


def heldout_texts(files: dict, n_docs: int) -> dict[str, list[str]]:
    """{language: its first ``n_docs`` held-out documents} of ``files`` ({language: corpus file}), for
    ``loss_matrix.n_docs``; a language with fewer is an error (naming each short language), as corpus and
    PLND refuse a count they cannot give, not a matrix over fewer documents."""
    from .corpus import read_corpus
    from .errors import MworkError

    docs = {lang: [d["text"] for d in read_corpus(path) if d["split"] == "heldout"] for lang, path in files.items()}
    short = {lang: len(texts) for lang, texts in docs.items() if len(texts) < n_docs}
    if short:
        have = ", ".join(f"{files[lang]} has {n} in {lang!r}" for lang, n in short.items())
        raise MworkError(f"config.loss_matrix.n_docs: {n_docs} held-out documents per language asked for, but {have}; "
                         f"set loss_matrix.n_docs to at most {min(short.values())} (or give the corpus more "
                         f"documents: corpora.<name>.n_docs or heldout_fraction)")
    return {lang: texts[:n_docs] for lang, texts in docs.items()}


def matched_masks(lang_masks: dict[str, torch.Tensor], n_layers: int, sizes: dict[str, int], neurons: str,
                  seed: str, all_masks: list[dict] | None = None) -> dict[str, torch.Tensor]:
    """X's masks over every layer (``neurons="lang"``), or a random control of as many neurons of each
    module kind, uniform over the layers (``"random"``). With ``all_masks`` (every language's masks, X's
    included), X's set loses the neurons that all of them hold first (and the control matches that)."""
    setting = {**EVERY_LAYER, "neurons": neurons}
    if all_masks is not None:
        setting["exclude"] = "all"
    return select(setting, lang_masks, stage_layers(n_layers, 0, 0), sizes, seed=seed, exclude_all=all_masks)


def _nll(head, h: torch.Tensor, target: torch.Tensor, softcap: float | None, chunk_elems: int) -> torch.Tensor:
    """Next-token negative log-likelihoods from final hidden states ``h`` (n, d) and ``target`` (n,):
    logsumexp of the logits minus the target's logit, for the rows asked only (no padding, no last token).

    A running (max, sum) for the logsumexp over the vocabulary slices (``mwork.output_head``)."""
    run_max = torch.full((len(h),), -torch.inf, device=h.device)
    run_sum = torch.zeros(len(h), device=h.device)
    picked = torch.zeros(len(h), device=h.device)
    for j, z in vocab_slices(head, h, chunk_elems):
        z = z.float()
        if softcap:  # the model's own final logit soft-cap (Gemma-2), before the softmax
            z = torch.tanh(z / softcap) * softcap
        new_max = torch.maximum(run_max, z.amax(-1))
        run_sum = run_sum * torch.exp(run_max - new_max) + torch.exp(z - new_max[:, None]).sum(-1)
        run_max = new_max
        here = (target >= j) & (target < j + z.shape[1])
        picked[here] = z[here, target[here] - j]
    return run_max + torch.log(run_sum) - picked


@torch.no_grad()
def token_losses(model, tokenizer, texts: list[str], batch_size: int = 8, max_length: int = 128,
                 chunk_elems: int = 1 << 22) -> tuple[float, int]:
    """(sum of next-token negative log-likelihoods, number of predicted tokens) over ``texts``, each
    truncated to ``max_length`` tokens, in left-padded batches (padding predicts and is predicted by nothing).

    The model runs unmodified with ``logits_to_keep=1``; a forward hook on its final norm keeps the hidden
    states, and the output head is applied to the predicting positions only, in chunks: no (batch x length
    x vocabulary) logits tensor exists (Gemma-3's has 262,144 columns), and padding costs no head product."""
    adapter = get_adapter(model)
    head = model.get_output_embeddings()
    softcap = getattr(model.config, "final_logit_softcapping", None)
    enc = [ids for ids, _ in encode_prefixes(tokenizer, texts, max_length) if len(ids) > 1]
    enc.sort(key=len)
    device = next(model.parameters()).device
    total, n = 0.0, 0
    final: list[torch.Tensor] = []
    with Hooks() as hooks:
        hooks.after(adapter.final_norm(), lambda module, args, out: final.append(out))
        for start in range(0, len(enc), batch_size):
            ids, mask = left_padded(enc[start:start + batch_size], pad_id(tokenizer))
            ids, mask = ids.to(device), mask.to(device)
            final.clear()
            model(**adapter.forward_kwargs(ids, mask), logits_to_keep=1)
            valid = (mask[:, 1:] * mask[:, :-1]).bool()
            nll = _nll(head, final[-1][:, :-1][valid], ids[:, 1:][valid], softcap, chunk_elems)
            total += float(nll.double().sum())
            n += int(valid.sum())
    return total, n


def loss_matrix(model, tokenizer, texts: dict[str, list[str]], masks: dict[str, dict[str, torch.Tensor]], *,
                seed: str, batch_size: int = 8, max_length: int = 128, progress=None):
    """Rows (deactivated X, neurons: one of ``VARIANTS``, evaluated Y): mean loss, the unmodified model's
    loss and their difference, with the number of neurons deactivated. ``texts``: Y -> held-out
    documents; ``masks``: X -> X's neuron masks (``layers.{i}.{kind}`` -> bool)."""
    import pandas as pd

    adapter = get_adapter(model)
    kind_sizes = adapter.sizes()
    base = {y: token_losses(model, tokenizer, t, batch_size, max_length) for y, t in texts.items()}
    rows = []
    every = list(masks.values())
    for x, lang_masks in masks.items():
        for neurons in VARIANTS:
            chosen = matched_masks(lang_masks, adapter.n_layers, kind_sizes, "random" if "random" in neurons else "lang",
                                   f"{seed}-{x}-{neurons}", every if neurons.startswith("specific") else None)
            n_neurons = sum(int(m.sum()) for m in chosen.values())
            with deactivate(model, chosen):
                for y, t in texts.items():
                    total, n = token_losses(model, tokenizer, t, batch_size, max_length)
                    b_total, b_n = base[y]
                    rows.append({"deactivated": x, "neurons": neurons, "evaluated": y, "n_neurons": n_neurons,
                                 "tokens": n, "loss": total / n, "base_loss": b_total / b_n,
                                 "delta": total / n - b_total / b_n})
                    if progress:
                        progress(rows[-1])
    return pd.DataFrame(rows)


def summary(df):
    """Per model and neurons (a ``VARIANTS`` entry): mean Δloss on the diagonal (Y = X) and off it (Y ≠ X),
    and the mean number of neurons deactivated."""
    import pandas as pd

    diag = df["deactivated"] == df["evaluated"]
    keys = [c for c in ("model", "neurons") if c in df.columns]
    out = []
    for key, g in df.groupby(keys, sort=False):
        d = diag[g.index]
        out.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,))),
                    "diagonal": float(g.loc[d, "delta"].mean()), "off_diagonal": float(g.loc[~d, "delta"].mean()),
                    "n_neurons": float(g["n_neurons"].mean())})
    return pd.DataFrame(out)
