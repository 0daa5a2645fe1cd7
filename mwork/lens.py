"""Figures 1 and 7: the language of each layer's hidden states, read with the logit lens and CLD3.

For every query, every layer's output at every query token is decoded to its most likely token with
the model's own final norm and output embedding (the logit lens: at the last layer this *is* the
model's next-token prediction). Each decoded token is classified with CLD3 as in the paper's Appendix
A: the detected language when CLD3 calls it reliable, otherwise a non-word. A token without a letter
(digits, punctuation, partial UTF-8 bytes) is a non-word without asking CLD3 — it cannot be a word of
any language. The result counts, per query language and layer, the decoded tokens of each detected
language.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import pandas as pd
import torch

from .batching import left_padded, pad_id
from .languages import LANGUAGES
from .output_head import VOCAB_CHUNK, decode_layers, vocab_slices

NON_WORD = "non-word"


def _top1(norm, head, h: torch.Tensor, chunk_elems: int) -> torch.Tensor:
    """argmax of head(norm(h)) over the vocabulary, (b, n) for h (b, n, d): a running maximum over the
    vocabulary slices (``mwork.output_head``; ties keep the first index, as ``argmax`` does)."""
    b, n, d = h.shape
    x = norm(h.reshape(b * n, d))
    best = torch.full((b * n,), -torch.inf, device=h.device)
    arg = torch.zeros(b * n, dtype=torch.long, device=h.device)
    for j, z in vocab_slices(head, x, chunk_elems):
        val, idx = z.max(-1)
        better = val > best
        best = torch.where(better, val, best)
        arg = torch.where(better, idx + j, arg)
    return arg.view(b, n)


def _topk(norm, head, h: torch.Tensor, k: int, chunk_elems: int) -> torch.Tensor:
    """The k most likely tokens of head(norm(h)), best first, (b, n, k): a running top-k over the
    vocabulary slices (no (tokens x vocabulary) tensor)."""
    b, n, d = h.shape
    x = norm(h.reshape(b * n, d))
    best = torch.full((b * n, k), -torch.inf, device=h.device)
    arg = torch.zeros(b * n, k, dtype=torch.long, device=h.device)
    for j, z in vocab_slices(head, x, chunk_elems):
        val, idx = z.topk(min(k, z.shape[-1]), dim=-1)
        best, pos = torch.cat([best, val], -1).topk(k, dim=-1)
        arg = torch.cat([arg, idx + j], -1).gather(-1, pos)
    return arg.view(b, n, k)


@torch.no_grad()
def lens_top_tokens(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, last: int | None = None,
                    chunk_elems: int = VOCAB_CHUNK, top_k: int = 1) -> torch.Tensor:
    """Top-1 token of every layer's output at every position (or the ``last`` positions):
    (n_layers, batch, length or last), via forward hooks on the unmodified model (removed on exit). Layer
    i's output goes through the final norm and the output embedding, exactly as the last layer's output
    does in the model's own forward (a final logit soft-cap is monotone and cannot change the argmax).
    ``top_k`` > 1: the k most likely tokens, best first, (n_layers, batch, positions, k)."""
    def decode(h, norm, head):
        h = h if last is None else h[:, -last:]
        return _top1(norm, head, h, chunk_elems) if top_k == 1 else _topk(norm, head, h, top_k, chunk_elems)

    return decode_layers(model, input_ids, attention_mask, decode)


class TokenLanguage:
    """The language of one vocabulary token (cached per id): CLD3's answer if reliable, else a non-word."""

    def __init__(self, tokenizer):
        import gcld3  # the cld3-py distribution

        self.tokenizer = tokenizer
        self.special = set(getattr(tokenizer, "all_special_ids", None) or [])
        self.detector = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)
        self.cache: dict[int, str] = {}

    def classify(self, text: str) -> str:
        text = text.strip()
        if "\ufffd" in text or not any(unicodedata.category(c).startswith("L") for c in text):
            return NON_WORD
        r = self.detector.FindLanguage(text=text)
        return r.language if r.is_reliable else NON_WORD

    def __call__(self, token_id: int) -> str:
        if token_id not in self.cache:
            self.cache[token_id] = NON_WORD if token_id in self.special else \
                self.classify(self.tokenizer.decode([token_id]))
        return self.cache[token_id]


def layer_languages(model, tokenizer, texts: list[str], batch_size: int = 8, max_length: int = 256,
                    last: int | None = None, top_k: int = 1):
    """Per layer (1-based) and detected language, the number of query tokens whose lens-decoded token
    is in that language: a DataFrame (layer, detected, tokens). Positions holding a special token (BOS)
    are not query tokens and are not counted. ``last``: decode only each query's last ``last`` positions
    (the released code decoded only the positions it generated); None = every position. ``top_k``: count
    each position's k most likely tokens (k decoded tokens per position)."""
    classify = TokenLanguage(tokenizer)
    counts: Counter = Counter()
    # a query longer than max_length keeps its beginning, or its end when only the last positions are decoded
    enc = [ids[:max_length] if last is None else ids[-max_length:]
           for ids in tokenizer(texts, add_special_tokens=True)["input_ids"] if ids]
    enc.sort(key=len)
    pad = pad_id(tokenizer)
    device = next(model.parameters()).device
    for start in range(0, len(enc), batch_size):
        ids_full, att_full = left_padded(enc[start:start + batch_size], pad)  # positions from the mask, as in PLND
        ids, att = ids_full, att_full
        if last is not None:  # left padding: a query's last positions are the batch's last columns
            ids, att = ids[:, -last:], att[:, -last:]
        tops = lens_top_tokens(model, ids_full.to(device), att_full.to(device), last=last, top_k=top_k).cpu()
        keep = att.bool() & ~torch.isin(ids, torch.tensor(sorted(classify.special), dtype=torch.long))
        for layer in range(tops.shape[0]):
            for tid, n in Counter(tops[layer][keep].flatten().tolist()).items():
                counts[(layer + 1, classify(tid))] += n
    return pd.DataFrame([{"layer": layer, "detected": lang, "tokens": n}
                         for (layer, lang), n in sorted(counts.items())])


RATIO_COLUMNS = ["layer", "english", "non_english", "query_language", "other", "words", "non_words",
                 "english_eval", "query_language_eval", "eval_words"]


def language_ratios(df, query_lang: str, among: list[str] | None = None):
    """Shares per layer among the decoded *words*: English, non-English, the query's language, and every
    other language together, with the counts of words and non-words. Non-words are left out of the
    shares (our reading: the paper's Figure 1 shows English and non-English tokens, whose shares sum to
    one, and Appendix A sets non-words apart). A layer with no words gets NaN shares.

    ``among`` (language codes, e.g. the evaluation languages): also the English and query-language
    shares among the words detected as one of these languages only (``*_eval``, ``eval_words``) — the
    released code's view, which CLD3's spread of single tokens over unrelated languages does not dilute."""
    code = lambda lang: LANGUAGES[lang].cld3 if lang in LANGUAGES else lang  # noqa: E731
    own_code, en_code = code(query_lang), code("en")
    among_codes = {code(x) for x in (among or [])}
    rows = []
    for layer, g in df.groupby("layer"):
        is_word = g["detected"] != NON_WORD
        total = int(g.loc[is_word, "tokens"].sum())
        share = (lambda mask: float(g.loc[is_word & mask, "tokens"].sum() / total)) if total else (lambda mask: float("nan"))
        en = share(g["detected"] == en_code)
        own = share(g["detected"] == own_code)
        in_eval = g["detected"].isin(among_codes)
        n_eval = int(g.loc[in_eval, "tokens"].sum())
        share_eval = (lambda mask: float(g.loc[in_eval & mask, "tokens"].sum() / n_eval)) if n_eval else \
            (lambda mask: float("nan"))
        rows.append({"layer": int(layer), "english": en, "non_english": 1.0 - en, "query_language": own,
                     "other": 1.0 - en - (0.0 if own_code == en_code else own), "words": total,
                     "non_words": int(g.loc[~is_word, "tokens"].sum()),
                     "english_eval": share_eval(g["detected"] == en_code),
                     "query_language_eval": share_eval(g["detected"] == own_code), "eval_words": n_eval})
    return pd.DataFrame(rows, columns=RATIO_COLUMNS)


STAGE_RULE = ("understanding: the layers before the first layer where English is the majority of the decoded "
              "words of the evaluation languages; generation: the final layers where the query's language "
              "outnumbers English among them (means over the non-English query languages)")


def lens_stages(counts, languages: list[str], among: list[str] | None = None) -> dict:
    """MWork stage boundaries read off the logit lens (Figure 1), as the paper motivates its stages:
    ``under`` = the layers before the first layer where English is more than half of the decoded words of
    the ``among`` languages, ``gen`` = the contiguous final layers where the query's language outnumbers
    English among them; shares are means over the non-English ``languages`` (``counts``: the
    ``language_ratio`` rule's rows). Returns the boundaries with the per-layer shares they were read
    from; where the lens shows no such stages, ``under`` and ``gen`` are None and ``note`` says why."""
    among = among or languages
    frames = [language_ratios(counts[counts["language"] == x], x, among) for x in languages
              if x != "en" and (counts["language"] == x).any()]
    out = {"under": None, "gen": None, "layers": None, "rule": STAGE_RULE, "note": "", "per_layer": []}
    if not frames:
        return {**out, "note": "the lens counts hold no non-English query language"}
    mean = pd.concat(frames).groupby("layer")[["english_eval", "query_language_eval"]].mean().sort_index()
    n = len(mean)
    out["layers"] = n
    out["per_layer"] = [{"layer": int(layer), "english": float(r.english_eval),
                         "query_language": float(r.query_language_eval)} for layer, r in mean.iterrows()]
    english = (mean["english_eval"] > 0.5).tolist()
    if not any(english):
        return {**out, "note": "English is never the majority of the decoded words in any layer: the lens shows "
                               "no English-centred task-solving stage"}
    under = english.index(True)
    gen = 0
    for own, en in zip(reversed(mean["query_language_eval"].tolist()), reversed(mean["english_eval"].tolist())):
        if not own > en:
            break
        gen += 1
    # at least one task-solving layer is left: where English holds the majority, the query's language
    # cannot outnumber it, so layer under + 1 is not a generation layer
    return {**out, "under": under, "gen": gen}
