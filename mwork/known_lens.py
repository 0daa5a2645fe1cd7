"""Figure 1 from known answer tokens (Wendler et al., 2024): in which language does each layer hold the answer?

For XQuAD questions aligned across languages, the model reads the evaluation prompt (context, question,
the localized answer cue) and every layer's output at the last prompt position -- the position that
predicts the answer's first token -- goes through the final norm and the output embedding (the logit
lens). Its probability of the first token of the answer in the query's language (``p_lang``) and of the
first token of the English answer to the same question (``p_en``) are read per layer. A layer where the
English answer is more likely than the query language's "thinks in English" for that query -- a
measurement that needs no language identifier.

An item is left out (and counted) where the two answers cannot be told apart: their first tokens
coincide, the answers are spelled alike (names, numbers), or the answer starts with a digit. English
queries are the control: there both probabilities are the English answer's.
"""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from .batching import left_padded, pad_id
from .evaluate import build_prompt
from .output_head import VOCAB_CHUNK, decode_layers, vocab_slices


def first_tokens(tokenizer, answer: str) -> list[int]:
    """The token ids an answer can begin with: the first token of the answer as written and with a
    leading space (a tokenizer may fold the space into the token), sorted."""
    ids = set()
    for text in (answer.strip(), " " + answer.strip()):
        enc = tokenizer(text, add_special_tokens=False)["input_ids"]
        if enc:
            ids.add(enc[0])
    return sorted(ids)


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def exclusion(tokenizer, answer: str, english: str) -> str | None:
    """Why an item cannot tell the query language's answer from the English one, or None."""
    if answer.strip()[:1].isdigit() or english.strip()[:1].isdigit():
        return "number"
    if _plain(answer) == _plain(english):
        return "spelled alike"
    if set(first_tokens(tokenizer, answer)) & set(first_tokens(tokenizer, english)):
        return "same first token"
    return None


def aligned_items(items: dict[str, list[dict]], tokenizer, n_items: int | None = None,
                  seed: int = 0) -> tuple[dict[str, list[dict]], dict[str, dict[str, int]]]:
    """Per language, the XQuAD records whose question id has an English record, with ``english`` (the
    English answer) added, the items that cannot tell the answers apart left out. ``n_items``: a sample of
    the ids every language keeps, drawn with the seed (the same questions in every language where they
    survive). Returns (items, {language: {reason: count}})."""
    en = {r["id"]: r for r in items["en"]}
    out, left_out = {}, {}
    for lang, records in items.items():
        kept, why = [], {}
        for r in records:
            if r["id"] not in en:
                why["no English item"] = why.get("no English item", 0) + 1
                continue
            english = en[r["id"]]["answers"]["text"][0]
            reason = None if lang == "en" else exclusion(tokenizer, r["answers"]["text"][0], english)
            if reason:
                why[reason] = why.get(reason, 0) + 1
            else:
                kept.append({**r, "english": english})
        out[lang], left_out[lang] = kept, why
    if n_items is not None:
        common = sorted(set.intersection(*(set(r["id"] for r in v) for v in out.values())))
        keep = set(random.Random(f"{seed}-known-lens").sample(common, min(n_items, len(common))))
        out = {lang: [r for r in v if r["id"] in keep] for lang, v in out.items()}
    return out, left_out


@torch.no_grad()
def lens_probabilities(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                       token_sets: list[list[list[int]]], chunk_elems: int = VOCAB_CHUNK) -> torch.Tensor:
    """Per layer, prompt and token set: the logit lens's probability of the set's tokens (summed) at the
    last position of each left-padded prompt, (n_layers, batch, n_sets). ``token_sets[b][s]``: the ids
    of set s for prompt b. The softmax is over the whole vocabulary, taken a slice at a time (no
    positions x vocabulary tensor); a final logit soft-cap (Gemma-2) is applied as the model does. At
    the last layer this is the model's own next-token probability."""
    softcap = getattr(model.config, "final_logit_softcapping", None)
    b, n_sets = len(token_sets), len(token_sets[0])
    # (row, id) pairs of every set, and which (prompt, set) each belongs to
    rows, ids, owner = [], [], []
    for i, sets in enumerate(token_sets):
        for s, tokens in enumerate(sets):
            for t in tokens:
                rows.append(i)
                ids.append(t)
                owner.append(i * n_sets + s)
    dev = model.get_output_embeddings().weight.device
    rows_t, ids_t, owner_t = (torch.tensor(x, dtype=torch.long, device=dev) for x in (rows, ids, owner))

    def decode(h, norm, head):
        x = norm(h[:, -1])
        lse = torch.full((b,), -torch.inf, dtype=torch.float64, device=x.device)
        picked = torch.zeros(len(ids), dtype=torch.float64, device=x.device)
        for j, z in vocab_slices(head, x, chunk_elems):
            z = z.double()
            if softcap:
                z = torch.tanh(z / softcap) * softcap
            lse = torch.logaddexp(lse, torch.logsumexp(z, -1))
            inside = (ids_t >= j) & (ids_t < j + z.shape[-1])
            if inside.any():
                picked[inside] = z[rows_t[inside], ids_t[inside] - j]
        prob = torch.exp(picked - lse[rows_t])
        return torch.zeros(b * n_sets, dtype=torch.float64, device=dev).index_add_(0, owner_t, prob).view(b, n_sets)

    return decode_layers(model, input_ids, attention_mask, decode)


def known_token_lens(model, tokenizer, items: dict[str, list[dict]], chat_template: bool = False,
                     max_context_tokens: int | None = None, batch_size: int = 4, chunk_elems: int = VOCAB_CHUNK):
    """Per language, item and layer (1-based): ``p_lang`` and ``p_en`` (see the module docstring), a
    DataFrame (language, id, layer, p_lang, p_en). ``items``: aligned_items' output."""
    pad = pad_id(tokenizer)
    add_special = not chat_template  # a chat template writes its own special tokens
    rows = []
    for lang, records in items.items():
        for start in tqdm(range(0, len(records), batch_size), desc=f"known-token lens {lang}", leave=False):
            batch = records[start:start + batch_size]
            prompts = [build_prompt(tokenizer, "understanding", r, lang, chat_template, max_context_tokens)[0]
                       for r in batch]
            seqs = tokenizer(prompts, add_special_tokens=add_special)["input_ids"]
            ids, mask = left_padded(seqs, pad)
            sets = [[first_tokens(tokenizer, r["answers"]["text"][0]), first_tokens(tokenizer, r["english"])]
                    for r in batch]
            probs = lens_probabilities(model, ids, mask, sets, chunk_elems)  # (layers, b, 2)
            for j, r in enumerate(batch):
                for layer in range(probs.shape[0]):
                    rows.append({"language": lang, "id": r["id"], "layer": layer + 1,
                                 "p_lang": float(probs[layer, j, 0]), "p_en": float(probs[layer, j, 1])})
    return pd.DataFrame(rows, columns=["language", "id", "layer", "p_lang", "p_en"])


def summarize_known(df, n_boot: int = 1000, seed: int = 0, min_prob: float = 0.0):
    """Per (model, language, layer): mean p_lang, p_en and p_en - p_lang with 95% bootstrap intervals over
    items (one resample of a language's items for every layer and both measures, so the difference is
    paired), and ``english_dominant``: the interval of p_en - p_lang lies above 0 and p_en is at least
    ``min_prob`` (a layer where neither answer is decodable is not called English)."""
    out = []
    for (model, lang), g in df.groupby(["model", "language"], sort=False):
        wide = {m: g.pivot(index="id", columns="layer", values=m) for m in ("p_lang", "p_en")}
        ids = wide["p_lang"].index
        rng = np.random.default_rng([seed, len(out)])
        idx = rng.integers(0, len(ids), size=(n_boot, len(ids)))
        for layer in wide["p_lang"].columns:
            row = {"model": model, "language": lang, "layer": int(layer), "n_items": len(ids)}
            vals = {m: wide[m][layer].to_numpy() for m in wide}
            vals["diff"] = vals["p_en"] - vals["p_lang"]
            for m, v in vals.items():
                boots = v[idx].mean(1)
                row[m] = float(v.mean())
                row[f"{m}_lo"], row[f"{m}_hi"] = (float(x) for x in np.quantile(boots, [0.025, 0.975]))
            row["english_dominant"] = lang != "en" and row["diff_lo"] > 0 and row["p_en"] >= min_prob
            out.append(row)
    return pd.DataFrame(out)


KNOWN_STAGE_RULE = ("known-token lens: a layer is English-dominant when, for at least half of the non-English "
                    "query languages, the English answer's lens probability is at least min_prob and the 95% "
                    "interval of its excess over the query-language answer's lies above 0; under = the layers "
                    "before the first English-dominant layer; gen = the contiguous final layers that are not "
                    "English-dominant and where, for at least half of the non-English languages, the "
                    "query-language answer is the more likely")


def known_stages(summary, min_prob: float = 0.01) -> dict:
    """MWork stage boundaries read off the known-token lens of one model (``summarize_known`` rows),
    with the per-layer votes they were read from; ``under``/``gen`` None and a ``note`` where the lens
    shows no English-dominant layer."""
    other = summary[summary["language"] != "en"]
    out = {"under": None, "gen": None, "layers": None, "rule": KNOWN_STAGE_RULE, "min_prob": min_prob,
           "note": "", "per_layer": []}
    if other.empty:
        return {**out, "note": "the known-token lens holds no non-English query language"}
    n_langs = other["language"].nunique()
    votes = []
    for layer, g in other.groupby("layer", sort=True):
        english = int(((g["diff_lo"] > 0) & (g["p_en"] >= min_prob)).sum())
        own = int((g["p_lang"] > g["p_en"]).sum())
        votes.append((int(layer), english, own))
        out["per_layer"].append({"layer": int(layer), "english_dominant_languages": english,
                                 "query_language_ahead_languages": own, "p_en": float(g["p_en"].mean()),
                                 "p_lang": float(g["p_lang"].mean())})
    out["layers"] = len(votes)
    english = [e * 2 >= n_langs for _, e, _ in votes]
    if not any(english):
        return {**out, "note": "no layer is English-dominant for half of the non-English languages: the known-token "
                               "lens shows no English-centred task-solving stage"}
    under = english.index(True)
    gen = 0
    for (_, _, own), is_en in zip(reversed(votes), reversed(english)):
        if is_en or own * 2 < n_langs:
            break
        gen += 1
    return {**out, "under": under, "gen": gen}
