"""The deactivation loss matrix: what deactivating language X's neurons does to the loss on language Y.

For every language X, X's language-specific neurons (every layer) are deactivated, and so — as the
control — are as many random neurons in each layer and module kind (drawn with a seed, ``random_draws``
times); each time the next-token loss of every held-out document of every language Y is measured. A
language-specific set should raise X's loss (the diagonal) far more than the other languages' and far
more than its random control. Cheaper and more direct than the task tables, and it needs no task data.

Each cell's Δ (token-weighted mean loss minus the unmodified model's, on the same documents) carries a
95% paired bootstrap interval over Y's documents: one resample of Y's documents per replicate, applied
to the deactivated and the unmodified model alike (``mwork.stats.Bootstrap``). The per-document losses
(``document_losses``) are kept, so the summary resamples documents within each language the same way.

PLND's sets also hold neurons that every language selects (important for any text: on a real LLM a
few of them carry most of the model), so each X is measured twice: with its whole set (``lang``) and
with its set minus the neurons in every language's set (``specific``, as the paper's Table 9 removes
them), each beside its own size-matched random control (``lang_random``, ``specific_random``). Further
named families of sets (``families``: name -> X -> masks, e.g. a second selection's sets) are measured
the same way, each as ``<name>`` and ``<name>_random``.
"""

from __future__ import annotations

import random
import zlib

import numpy as np
import pandas as pd
import torch

from .arch import get_adapter
from .batching import encode_prefixes, left_padded, pad_id
from .corpus import read_corpus
from .deactivation import select, stage_layers
from .errors import MworkError
from .hooks import Hooks
from .masking import deactivate
from .output_head import VOCAB_CHUNK, vocab_slices
from .stats import LEVEL, N_BOOT, Bootstrap, ci

EVERY_LAYER = {"s_attn": True, "s_ffn": True}  # with no U/G stages, the task stage is every layer


VARIANTS = ("lang", "lang_random", "specific", "specific_random")
CELL = ["deactivated", "neurons", "evaluated"]  # one cell of the matrix: whose set, which variant, whose documents


def heldout_texts(files: dict, n_docs: int, field: str = "config.loss_matrix.n_docs") -> dict[str, list[str]]:
    """{language: its first ``n_docs`` held-out documents} of ``files`` ({language: corpus file}), for
    ``loss_matrix.n_docs``; a language with fewer is an error (naming each short language), as corpus and
    PLND refuse a count they cannot give, not a matrix over fewer documents."""
    docs = {lang: [d["text"] for d in read_corpus(path) if d["split"] == "heldout"] for lang, path in files.items()}
    short = {lang: len(texts) for lang, texts in docs.items() if len(texts) < n_docs}
    if short:
        have = ", ".join(f"{files[lang]} has {n} in {lang!r}" for lang, n in short.items())
        raise MworkError(f"{field}: {n_docs} held-out documents per language asked for, but {have}; "
                         f"set {field.removeprefix('config.')} to at most {min(short.values())} (or give the corpus more "
                         f"documents: corpora.<name>.n_docs or heldout_fraction)")
    return {lang: texts[:n_docs] for lang, texts in docs.items()}


def xquad_texts(files: dict, n_docs: int, seed, field: str = "config.loss_matrix.n_docs") -> dict[str, list[str]]:
    """{language: ``n_docs`` XQuAD paragraphs} of ``files`` ({language: xquad.<lang>.json}): a second domain
    (Wikipedia, unseen by PLND) for the loss matrix. XQuAD is parallel: a paragraph is named by its first
    question's id, the same in every language, so every language gets the same paragraphs (drawn with the
    seed over the names all files share, in that order)."""
    from .tasks.data import read_xquad_json  # here: the task code is no dependency of the corpus matrix

    paragraphs = {}
    for lang, path in files.items():
        by_name: dict[str, str] = {}
        context, name = None, None
        for r in read_xquad_json(path):
            if r["context"] != context:
                context, name = r["context"], r["id"]
                by_name[name] = context
        paragraphs[lang] = by_name
    shared = sorted(set.intersection(*(set(p) for p in paragraphs.values()))) if paragraphs else []
    if len(shared) < n_docs:
        raise MworkError(f"{field}: {n_docs} XQuAD paragraphs per language asked for, but the "
                         f"files ({', '.join(str(f) for f in files.values())}) share {len(shared)}; ask for at most "
                         f"{len(shared)}")
    chosen = random.Random(f"{seed}-loss_matrix-xquad").sample(shared, n_docs)
    return {lang: [by_name[k] for k in chosen] for lang, by_name in paragraphs.items()}


def matched_masks(lang_masks: dict[str, torch.Tensor], n_layers: int, sizes: dict[str, int], neurons: str,
                  seed: str, all_masks: list[dict] | None = None, random_match: str = "layer") -> dict[str, torch.Tensor]:
    """X's masks over every layer (``neurons="lang"``), or a random control (``"random"``) of as many neurons in
    each (layer, module kind) (``random_match="layer"``) or of each module kind, uniform over the layers
    (``"stage"``: the one stage is every layer). With ``all_masks`` (every language's masks, X's included),
    X's set loses the neurons that all of them hold first (and the control matches that)."""
    setting = {**EVERY_LAYER, "neurons": neurons}
    if all_masks is not None:
        setting["exclude"] = "all"
    return select(setting, lang_masks, stage_layers(n_layers, 0, 0), sizes, seed=seed, exclude_all=all_masks,
                  random_match=random_match)


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
def doc_losses(model, tokenizer, texts: list[str], batch_size: int = 8, max_length: int = 128,
               chunk_elems: int = VOCAB_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Per document of ``texts``, in order: (sum of its next-token negative log-likelihoods, float64 (n,);
    number of tokens it predicts, int64 (n,)), each truncated to ``max_length`` tokens, in left-padded
    batches of similar length (padding predicts and is predicted by nothing). A document of one token
    predicts none: 0 and 0.

    The model runs unmodified with ``logits_to_keep=1``; a forward hook on its final norm keeps the hidden
    states, and the output head is applied to the predicting positions only, in chunks: no (batch x length
    x vocabulary) logits tensor exists (Gemma-3's has 262,144 columns), and padding costs no head product."""
    adapter = get_adapter(model)
    head = model.get_output_embeddings()
    softcap = getattr(model.config, "final_logit_softcapping", None)
    enc = [(i, ids) for i, (ids, _) in enumerate(encode_prefixes(tokenizer, texts, max_length)) if len(ids) > 1]
    enc.sort(key=lambda e: len(e[1]))
    device = next(model.parameters()).device
    sums, counts = np.zeros(len(texts), dtype=np.float64), np.zeros(len(texts), dtype=np.int64)
    final: list[torch.Tensor] = []
    with Hooks() as hooks:
        hooks.after(adapter.final_norm(), lambda module, args, out: final.append(out))
        for start in range(0, len(enc), batch_size):
            which = [i for i, _ in enc[start:start + batch_size]]
            ids, mask = left_padded([e for _, e in enc[start:start + batch_size]], pad_id(tokenizer))
            ids, mask = ids.to(device), mask.to(device)
            final.clear()
            model(**adapter.forward_kwargs(ids, mask), logits_to_keep=1)
            valid = (mask[:, 1:] * mask[:, :-1]).bool()
            nll = _nll(head, final[-1][:, :-1][valid], ids[:, 1:][valid], softcap, chunk_elems)
            row = valid.nonzero()[:, 0]  # the document of each predicted token (row-major, as the mask selects)
            per_doc = torch.zeros(len(which), dtype=torch.float64, device=nll.device).index_add_(0, row, nll.double())
            sums[which] = per_doc.cpu().numpy()
            counts[which] = valid.sum(1).cpu().numpy()
    return sums, counts


def token_losses(model, tokenizer, texts: list[str], batch_size: int = 8, max_length: int = 128,
                 chunk_elems: int = VOCAB_CHUNK) -> tuple[float, int]:
    """(sum of next-token negative log-likelihoods, number of predicted tokens) over ``texts``: the totals
    of ``doc_losses``."""
    sums, counts = doc_losses(model, tokenizer, texts, batch_size, max_length, chunk_elems)
    return float(sums.sum()), int(counts.sum())


def draw_seed(seed: str, x: str, variant: str, draw: int) -> str:
    """The string seed of a random control's draw: ``<seed>-<X>-<variant>``, then ``~1``, ``~2``, ... (as the
    evaluation settings' ``S_random~1@de``)."""
    return f"{seed}-{x}-{variant}" + (f"~{draw}" if draw else "")


def _shares_any(sets: list[dict]) -> bool:
    """Whether some neuron is in every one of ``sets``."""
    return any(bool(torch.stack([m[k] for m in sets]).all(0).any()) for k in sets[0])


def _variant_masks(masks: dict, families: dict | None, n_layers: int, sizes: dict, *, seed: str, random_draws: int,
                   random_match: str):
    """(X, variant, draw, masks) of every set measured: ``lang`` and ``specific`` (X's set minus every
    language's common neurons) of ``masks``, each family of ``families`` as given and minus its common
    neurons (``<name>_specific``), and each one's random control ``<name>_random`` drawn ``random_draws``
    times. Where a family's sets have no neuron in common, its ``specific`` variant would repeat its sets
    and is left out."""
    families = dict(families or {})
    clash = sorted(set(families) & {v.removesuffix("_random") for v in VARIANTS})
    if clash:
        raise MworkError(f"loss_matrix families: {clash} are built-in variants ({', '.join(VARIANTS)}); name the "
                         f"extra families otherwise")
    measured = []
    for name, fam in (("lang", masks), *families.items()):
        every = list(fam.values())
        measured.append((name, fam, None))
        if _shares_any(every):  # else X's set minus the common neurons is X's set: measured once
            measured.append(("specific" if name == "lang" else f"{name}_specific", fam, every))
    for name, fam, all_masks in measured:
        for x, lang_masks in fam.items():
            yield x, name, 0, matched_masks(lang_masks, n_layers, sizes, "lang", seed, all_masks)
            for r in range(random_draws):
                yield x, f"{name}_random", r, matched_masks(lang_masks, n_layers, sizes, "random",
                                                            draw_seed(seed, x, f"{name}_random", r), all_masks,
                                                            random_match)


def document_losses(model, tokenizer, texts: dict[str, list[str]], masks: dict[str, dict[str, torch.Tensor]], *,
                    seed: str, batch_size: int = 8, max_length: int = 128, random_draws: int = 1,
                    random_match: str = "layer", families: dict | None = None, progress=None):
    """One row per (deactivated X, neurons variant, draw, evaluated Y, document of Y): ``nll`` (the sum of the
    document's token losses with the set deactivated), ``base_nll`` (the unmodified model's), ``tokens`` (the
    tokens it predicts) and ``n_neurons`` deactivated. ``texts``: Y -> held-out documents; ``masks``: X -> X's
    neuron masks (``layers.{i}.{kind}`` -> bool); ``families``: further name -> X -> masks (the variants
    ``<name>`` and ``<name>_random``); a random variant has ``random_draws`` draws (0, 1, ...), a set one
    (draw 0). ``progress``: called with each (X, variant, draw, Y)'s row of means."""
    adapter = get_adapter(model)
    base = {y: doc_losses(model, tokenizer, t, batch_size, max_length) for y, t in texts.items()}
    rows = []
    for x, neurons, draw, chosen in _variant_masks(masks, families, adapter.n_layers, adapter.sizes(), seed=seed,
                                                   random_draws=random_draws, random_match=random_match):
        n_neurons = sum(int(m.sum()) for m in chosen.values())
        with deactivate(model, chosen):
            for y, t in texts.items():
                nll, tokens = doc_losses(model, tokenizer, t, batch_size, max_length)
                b_nll, b_tokens = base[y]
                assert (tokens == b_tokens).all()  # the same documents, the same tokens: deactivation changes no token
                rows += [{"deactivated": x, "neurons": neurons, "draw": draw, "evaluated": y, "doc": i,
                          "tokens": int(tokens[i]), "nll": float(nll[i]), "base_nll": float(b_nll[i]),
                          "n_neurons": n_neurons} for i in range(len(t))]
                if progress:
                    n = max(int(tokens.sum()), 1)
                    progress({"deactivated": x, "neurons": neurons, "draw": draw, "evaluated": y,
                              "n_neurons": n_neurons, "loss": nll.sum() / n, "delta": (nll.sum() - b_nll.sum()) / n})
    return pd.DataFrame(rows, columns=["deactivated", "neurons", "draw", "evaluated", "doc", "tokens", "nll",
                                       "base_nll", "n_neurons"])


def _seed_int(seed) -> int:
    return zlib.crc32(str(seed).encode())


def _cell_stats(docs, n_boot: int, seed) -> list[dict]:
    """Per cell (model if given, deactivated X, neurons, evaluated Y) of ``document_losses`` rows: the point
    values, each draw's Δ and the bootstrap replicates (n_boot,) of the draws' mean Δ. One ``Bootstrap``:
    every cell evaluating the same (model, Y) uses the same resamples of Y's documents."""
    boot = Bootstrap(n_boot, _seed_int(seed))
    keys = [c for c in ("model", *CELL) if c in docs.columns]
    out = []
    for key, g in docs.groupby(keys, sort=False):
        key = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        draws = [d.sort_values("doc") for _, d in g.groupby("draw", sort=True)]
        ids = draws[0]["doc"].tolist()
        where = "/".join(str(v) for v in key.values())
        if any(d["doc"].tolist() != ids for d in draws):
            raise MworkError(f"{where}: the random draws measured different documents (files of two runs mixed?); "
                             f"delete results/<model>/loss_matrix_docs.csv and rerun rule loss_matrix")
        tokens = draws[0]["tokens"].to_numpy(dtype=float)
        base = draws[0]["base_nll"].to_numpy(dtype=float)
        diff = np.stack([d["nll"].to_numpy(dtype=float) - base for d in draws])  # (draws, docs)
        idx = boot.resamples(tuple(key.get(k) for k in ("model", "evaluated") if k in key), ids, where)
        t_rep = tokens[idx].sum(1)  # (n_boot,)
        reps = np.stack([dr[idx].sum(1) for dr in diff]).mean(0) / np.where(t_rep > 0, t_rep, np.nan)
        total = max(tokens.sum(), 1.0)
        draw_loss = [float(d["nll"].sum()) / total for d in draws]
        base_loss = float(base.sum()) / total
        out.append({**key, "n_neurons": float(np.mean([d["n_neurons"].iloc[0] for d in draws])),
                    "tokens": int(tokens.sum()), "n_docs": len(ids), "n_draws": len(draws),
                    "draw_deltas": [float(v) / total for v in diff.sum(1)],
                    "loss": float(np.mean(draw_loss)), "base_loss": base_loss, "reps": reps})
    return out


def cells(docs, n_boot: int = N_BOOT, seed="0", level: float = LEVEL):
    """The matrix from ``document_losses`` rows: per (deactivated X, neurons, evaluated Y) the token-weighted
    mean ``loss`` (a random variant: the mean over its draws), the unmodified model's ``base_loss``, ``delta``
    = loss - base_loss with its paired bootstrap interval over Y's documents (``delta_lo``, ``delta_hi``;
    ``n_boot`` resamples, string ``seed``), the spread over draws (``delta_draw_sd``, NaN for one draw;
    ``delta_draws``: each draw's Δ, space-separated), ``n_neurons`` (mean over draws), ``tokens``,
    ``n_docs``, ``n_draws``."""
    rows = []
    for c in _cell_stats(docs, n_boot, seed):
        d = np.array(c.pop("draw_deltas"))
        lo, hi = ci(_finite(c.pop("reps")), level)
        n_neurons = c["n_neurons"]
        rows.append({**c, "n_neurons": int(n_neurons) if float(n_neurons).is_integer() else n_neurons,
                     "delta": c["loss"] - c["base_loss"], "delta_lo": lo, "delta_hi": hi,
                     "delta_draw_sd": float(d.std(ddof=1)) if len(d) > 1 else float("nan"),
                     "delta_draws": " ".join(f"{v:.6g}" for v in d)})
    cols = [k for k in ("model", *CELL) if k in docs.columns] + [
        "n_neurons", "tokens", "loss", "base_loss", "delta", "delta_lo", "delta_hi", "n_docs", "n_draws",
        "delta_draw_sd", "delta_draws"]
    return pd.DataFrame(rows, columns=cols)


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return x if len(x) else np.array([np.nan])


def loss_matrix(model, tokenizer, texts: dict[str, list[str]], masks: dict[str, dict[str, torch.Tensor]], *,
                seed: str, batch_size: int = 8, max_length: int = 128, progress=None, random_draws: int = 1,
                n_boot: int = N_BOOT, random_match: str = "layer", families: dict | None = None):
    """``cells`` of ``document_losses``: one row per (deactivated X, neurons: one of ``VARIANTS`` or a family's,
    evaluated Y) with the mean loss, the unmodified model's, Δ with its interval, the draws' spread and the
    number of neurons deactivated. ``texts``: Y -> held-out documents; ``masks``: X -> X's neuron masks
    (``layers.{i}.{kind}`` -> bool)."""
    docs = document_losses(model, tokenizer, texts, masks, seed=seed, batch_size=batch_size, max_length=max_length,
                           random_draws=random_draws, random_match=random_match, families=families,
                           progress=progress)
    return cells(docs, n_boot, seed)


def summary(df, docs=None, n_boot: int = N_BOOT, seed="0", level: float = LEVEL):
    """Per model and neurons (a variant): mean Δloss on the diagonal (Y = X) and off it (Y ≠ X), each with a
    95% interval, the mean number of neurons deactivated and, for a variant drawn several times, the spread
    (sd) of the diagonal and off-diagonal means over the draws.

    With ``docs`` (the ``document_losses`` rows of ``df``'s cells) the interval is the paired bootstrap over
    documents within each language: one resample of each Y's documents per replicate, shared by every cell
    that evaluates Y, so the mean over cells combines the languages' independent resamples (``interval``:
    ``documents``). Without, it is a bootstrap over the cells, i.e. the spread over languages (``interval``:
    ``languages``)."""
    keys = [c for c in ("model", "neurons") if c in df.columns]
    stats = None
    if docs is not None:
        stats = pd.DataFrame(_cell_stats(docs, n_boot, seed))
    out = []
    for key, g in df.groupby(keys, sort=False):
        key = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row = {**key}
        diag = g["deactivated"] == g["evaluated"]
        if stats is not None:
            s = stats
            for k, v in key.items():
                s = s[s[k] == v]
            s_diag = s["deactivated"] == s["evaluated"]
        for name, part in (("diagonal", diag), ("off_diagonal", ~diag)):
            row[name] = float(g.loc[part, "delta"].mean())
            if stats is not None:
                part_reps = s.loc[s_diag if name == "diagonal" else ~s_diag, "reps"].tolist()
                reps = np.stack(part_reps).mean(0) if part_reps else np.array([np.nan])
            else:  # the cells (languages) resampled
                vals = g.loc[part, "delta"].to_numpy(dtype=float)
                rng = np.random.default_rng([_seed_int(seed), len(out), int(name == "diagonal")])
                reps = (vals[rng.integers(0, len(vals), size=(n_boot, len(vals)))].mean(1) if len(vals)
                        else np.array([np.nan]))
            row[f"{name}_lo"], row[f"{name}_hi"] = ci(_finite(reps), level)
        if "delta_draws" in g.columns:  # each draw's diagonal and off-diagonal means, their spread
            per = np.array([[float(v) for v in str(d).split()] for d in g["delta_draws"]])  # (cells, draws)
            for name, part in (("diagonal", diag), ("off_diagonal", ~diag)):
                means = per[part.to_numpy()].mean(0) if part.any() else np.array([np.nan])
                row[f"{name}_draw_sd"] = float(means.std(ddof=1)) if len(means) > 1 else float("nan")
            row["n_draws"] = per.shape[1]
        row["n_neurons"] = float(g["n_neurons"].mean())
        row["interval"] = "documents" if stats is not None else "languages"
        out.append(row)
    return pd.DataFrame(out)
