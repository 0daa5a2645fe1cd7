"""PLND's statistics per neuron, and neuron files (which neurons form a language's set is
``mwork.selection``; what is done with the sets — counts, overlap, Figure 3 — ``mwork.neuron_sets``).

The corpus is streamed in batches of documents of similar length; per neuron only its top-k count, its
summed importance and the few extreme values its ``floor`` needs are kept, never all scores
(``Selector``). Rule ``plnd`` writes them to ``results/<model>/plnd/<corpus>/<language>.safetensors``
(keys ``layers.{i}.{kind}.count|mean|floor``); rule ``neurons`` adds, per key ``layers.{i}.{kind}``, the
bool mask of the language's set and writes the neuron file, whose header metadata names the model,
language, corpus and settings.

k of the top-k is a fraction of the layer's neurons (< 1) or an absolute count (>= 1), per structure
(``attn`` for q/k/v, ``ffn``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from .arch import get_adapter
from .batching import Documents
from .errors import MworkError
from .fingerprint import model_fingerprint
from .hooks import Hooks
from .io import METADATA_KEY, atomic_path, unpack_metadata
from .keys import KINDS, parse_key
from .keys import key as neuron_key
from .plnd import CHUNK_ELEMS, neuron_importance, qk_path
from .plnd.kernel import CHOICES
from .selection import check_spec, need, needs_all_languages, select_language

STRUCTURE = {"attn.q": "attn", "attn.k": "attn", "attn.v": "attn", "ffn": "ffn"}


def k_for(top_k: dict, kind: str, n: int, n_ref: int | None = None) -> int:
    """k of a layer's module kind: a fraction of its n neurons, or an absolute count. An absolute attention
    count is given for the query projection (n_ref features); keys and values, smaller under grouped-query
    attention, get the same share of theirs."""
    k = top_k[STRUCTURE[kind]]
    limit, what = (n_ref, "attn.q") if n_ref and STRUCTURE[kind] == "attn" else (n, kind)
    if k >= 1 and int(round(k)) > limit:
        raise MworkError(f"plnd.selection.top_k.{STRUCTURE[kind]}: {k} neurons per layer, but this model's {what} "
                         f"has {limit} per layer; give a smaller count or a fraction (< 1)")
    if k < 1:  # a fraction of this kind's neurons
        return max(1, min(n, int(round(k * n))))
    if n_ref and STRUCTURE[kind] == "attn":  # a count, scaled to the kind's share (still a count when below 1)
        k = k * n / n_ref
    return max(1, min(n, int(round(k))))


def topk_hits(importance: dict[str, torch.Tensor], top_k: dict) -> dict[str, torch.Tensor]:
    """``{key: (b, n) bool}``: each document's per-layer top-k of every module kind (PLND's count)."""
    n_q = next((imp.shape[1] for key, imp in importance.items() if key.endswith("attn.q")), None)
    out = {}
    for key, imp in importance.items():
        b, n = imp.shape
        idx = imp.topk(k_for(top_k, parse_key(key)[1], n, n_q), dim=-1).indices
        out[key] = torch.zeros(b, n, dtype=torch.bool).scatter_(1, idx, True)
    return out


@dataclass
class Selector:
    """Streams importance batches and keeps PLND's statistics per neuron (``mwork.selection`` turns them into
    a set): how often it was in a document's top-k (``count``), its summed importance (``mean``) and the
    importance it reaches in at least ``min_doc_fraction`` of the documents (``floor``).

    ``floor`` is exact and streamed: with ``n_expected`` documents (``detect`` sets it) only the
    min(need, n - need + 1) extreme values per neuron are kept (one, the running minimum, at fraction
    1.0); without it every value is kept until ``stats()``. The other fields are the ``plnd.selection``
    spec, used by ``result()`` for the rules that need one language only."""

    method: str = "topk_intersection"
    top_k: dict = field(default_factory=lambda: {"attn": 0.05, "ffn": 0.05})
    min_doc_fraction: float = 1.0
    epsilon: float | dict | None = None
    share: float | dict | None = None
    candidates: float = 0.1
    against: list | None = None
    n_expected: int | None = None
    counts: dict = field(default_factory=dict)
    sums: dict = field(default_factory=dict)
    kept: dict = field(default_factory=dict)
    n_docs: int = 0

    def __post_init__(self):
        check_spec(self.spec())
        if not 0 < self.min_doc_fraction <= 1:
            raise MworkError("plnd.selection.min_doc_fraction: must be in (0, 1]")

    def spec(self) -> dict:
        return {"method": self.method, "top_k": self.top_k, "min_doc_fraction": self.min_doc_fraction,
                "epsilon": self.epsilon, "share": self.share, "candidates": self.candidates, "against": self.against}

    def hits(self, importance: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{key: (b, n) bool}``: the neurons each document of a batch selects (its top-k, or >= epsilon
        with the threshold rule)."""
        if self.method != "threshold":
            return topk_hits(importance, self.top_k)
        return {key: imp >= self._epsilon(parse_key(key)[1]) for key, imp in importance.items()}

    def _side(self) -> tuple[int, bool] | None:
        """(values kept per neuron, keep the largest?) once the document count is known."""
        if self.n_expected is None:
            return None

        k = need(self.n_expected, self.min_doc_fraction)
        low = self.n_expected - k + 1
        return (k, True) if k <= low else (low, False)

    def update(self, importance: dict[str, torch.Tensor]) -> None:
        """importance: ``{key: (b, n)}`` for one batch of documents."""
        b = None
        side = self._side()
        for key, hit in topk_hits(importance, self.top_k).items():
            b = hit.shape[0]
            imp = importance[key].float()
            self.counts[key] = self.counts.get(key, 0) + hit.sum(0, dtype=torch.int32)
            self.sums[key] = self.sums.get(key, 0) + imp.double().sum(0)
            both = imp if key not in self.kept else torch.cat([self.kept[key], imp])
            if side is not None and both.shape[0] > side[0]:
                both = both.topk(side[0], dim=0, largest=side[1]).values
            self.kept[key] = both
        self.n_docs += b or 0

    def _epsilon(self, kind: str) -> float:
        if not isinstance(self.epsilon, dict):
            return float(self.epsilon)
        return float(self.epsilon[kind])

    def stats(self) -> dict[str, torch.Tensor]:
        """``{key.count: int32, key.mean: float32, key.floor: float32}``: PLND's statistics per neuron."""
        if self.n_docs == 0:
            raise MworkError("PLND saw no documents (all empty?)")
        if self.n_expected is not None and self.n_expected != self.n_docs:
            raise MworkError(f"PLND expected {self.n_expected} documents but saw {self.n_docs}")
        k = need(self.n_docs, self.min_doc_fraction)
        side = self._side()
        out = {}
        for key in self.counts:
            kept = self.kept[key]
            # the k-th largest value per neuron: from the k largest kept, or from the n - k + 1 smallest
            if side is None:
                floor = kept.topk(k, dim=0).values[-1]
            else:
                floor = kept.min(0).values if side[1] else kept.max(0).values
            out[f"{key}.count"] = self.counts[key].to(torch.int32)
            out[f"{key}.mean"] = (self.sums[key] / self.n_docs).float()
            out[f"{key}.floor"] = floor.float()
        return out

    def result(self) -> dict[str, torch.Tensor]:
        """The statistics and, per key, the bool mask of this one language's set (a rule that compares
        languages needs ``mwork.selection.select_language`` with every language's statistics)."""
        stats = self.stats()
        if needs_all_languages(self.spec()):
            raise MworkError(f"plnd.selection.method {self.method}: compares languages; select with "
                             f"mwork.selection.select_language over every language's PLND statistics")
        masks, _ = select_language({"x": stats}, "x", self.spec(), {"x": self.n_docs})
        return {**masks, **stats}

    def settings(self) -> dict:
        """What the statistics depend on (recorded in the PLND file)."""
        return {"top_k": self.top_k, "min_doc_fraction": self.min_doc_fraction}


def released_code_ffn_score(model, input_ids, attention_mask, score_mask=None) -> dict[str, torch.Tensor]:
    """The released code's FFN score: sum over tokens of |up_proj(x)| (no activation, no W_down).

    Offered as ``plnd.score: released_code`` to reproduce the released code; it is *not* the paper's
    Eq. 4-5 (the default). Only the FFN differs; attention scores stay exact. ``score_mask``: the
    positions counted (default: the attention mask's).
    """
    adapter = get_adapter(model)
    valid = attention_mask.bool() if score_mask is None else attention_mask.bool() & score_mask.bool()
    out = {}
    with Hooks() as hooks:
        for i in range(adapter.n_layers):
            lm = adapter.layer(i)

            def hook(mod, args, output, i=i):
                out[neuron_key(i, "ffn")] = (output.float().abs() * valid.to(output.device)[..., None]).sum(1).cpu()

            hooks.after(lm.up, hook)
        with torch.no_grad():
            model(**adapter.forward_kwargs(input_ids, attention_mask), logits_to_keep=1)
    return out


@dataclass(frozen=True)
class Scoring:
    """How PLND scores one batch of documents (``plnd.score``, ``plnd.special_tokens``, ``plnd.normalize``);
    the selection and Figure 3 use it alike.

    * ``score``: ``paper`` (Eq. 1-10, exact) or ``released_code`` (its FFN score, see above).
    * ``special_tokens``: ``exclude`` (default) leaves the positions of the tokenizer's special tokens
      (BOS, EOS) out of the sum over a document's tokens — they carry no language; the model still sees
      them and a neuron is still deactivated there. ``include`` counts them, as the released code does.
    * ``normalize``: ``none`` (Eq. 1: a norm over the document's tokens, so long documents weigh more)
      or ``per_token`` (divided by the square root of the number of counted tokens, a root mean square;
      the released code's FFN sum is divided by the number). Within one document every neuron is scaled
      alike, so only ``threshold`` selection and the mean importance change.
    * ``chunk_elems``, ``qk_kernel``: how the Q/K part is computed (block size; the fused CPU kernel of
      ``mwork.plnd.kernel`` or PyTorch) — the same numbers up to float rounding.
    """

    score: str = "paper"
    special_tokens: str = "exclude"
    normalize: str = "none"
    chunk_elems: int = CHUNK_ELEMS
    qk_kernel: str = "auto"

    def __post_init__(self):
        for name, allowed in (("score", ("paper", "released_code")), ("special_tokens", ("exclude", "include")),
                              ("normalize", ("none", "per_token")), ("qk_kernel", CHOICES)):
            if getattr(self, name) not in allowed:
                raise MworkError(f"plnd.{name}: {getattr(self, name)!r} is not one of {', '.join(allowed)}")

    def settings(self) -> dict:
        return {"score": self.score, "special_tokens": self.special_tokens, "normalize": self.normalize}

    def qk_path(self, model) -> str:
        """``fused`` or ``torch``: what computes the Q/K part for ``model`` (recorded in the neuron file)."""
        return qk_path(model, self.qk_kernel)

    def counted(self, tokenizer, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(b, l) bool: the positions whose changes count."""
        mask = attention_mask.bool()
        if self.special_tokens == "exclude":
            special = sorted(set(getattr(tokenizer, "all_special_ids", None) or []))
            if special:
                mask = mask & ~torch.isin(input_ids, torch.tensor(special, device=input_ids.device))
        return mask

    def __call__(self, model, tokenizer, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict:
        """``{key: (b, n)}`` importance of every neuron for each document of the batch."""
        rows = self.counted(tokenizer, input_ids, attention_mask)
        kinds = KINDS if self.score == "paper" else ("attn.q", "attn.k", "attn.v")
        imp = neuron_importance(model, input_ids, attention_mask, kinds=kinds, chunk_elems=self.chunk_elems,
                                score_mask=rows, qk_kernel=self.qk_kernel)
        if self.score == "released_code":
            imp.update(released_code_ffn_score(model, input_ids, attention_mask, score_mask=rows))
        if self.normalize == "per_token":
            n = rows.sum(1).clamp(min=1).double().cpu()[:, None]
            for key in imp:
                div = n if (self.score == "released_code" and key.endswith("ffn")) else n.sqrt()
                imp[key] = (imp[key].double() / div).float()
        return imp


def detect(model, tokenizer, texts: list[str], selector: Selector, batch_size: int = 8, max_length: int = 256,
           scoring: Scoring | None = None, progress: bool = True) -> dict:
    """Stream ``texts`` through PLND and the selector; returns stats (documents, truncated, empty, and the
    special-token positions left out).

    Documents are tokenized with the tokenizer's own special tokens, truncated to ``max_length`` tokens
    (keeping the beginning), sorted by length and batched, so padding is small.
    """
    scoring = scoring or Scoring()
    docs = Documents(tokenizer, texts, max_length)
    bar = tqdm(total=len(docs), desc="PLND", disable=not progress, mininterval=5)
    tokens = counted = 0
    if selector.n_docs == 0 and selector.n_expected is None:
        selector.n_expected = len(docs)
    for idx, ids, mask in docs.batches(batch_size, next(model.parameters()).device):
        tokens += int(mask.sum())
        counted += int(scoring.counted(tokenizer, ids, mask).sum())
        selector.update(scoring(model, tokenizer, ids, mask))
        bar.update(len(idx))
    bar.close()
    return {"documents": len(docs), "truncated": docs.truncated, "empty_skipped": docs.empty, "tokens": tokens,
            "special_positions_left_out": tokens - counted}


# --------------------------------------------------------------------------------------------------
# files


def save_neurons(path, tensors: dict[str, torch.Tensor], metadata: dict) -> None:
    """Write ``tensors`` with ``metadata`` (values that are not strings JSON-encoded) as one sorted JSON
    string under the header's ``mwork`` entry: safetensors writes its metadata map in an order that changes
    from process to process, so several entries would make the same content a different file (and
    ``neuron_file_sha256``, which enhancement records, irreproducible)."""
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp),
                  metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})


def load_neurons(path, model=None, masks_only: bool = True, language: str | None = None,
                 corpus: str | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, metadata). With ``model``, refuses a file made for another model (fingerprint); with
    ``language`` (and ``corpus``), a file whose metadata names another language (corpus) than the one the
    rule asked for -- a neuron file copied or renamed from another language's. Every consumer reads neuron
    files through here."""
    if not Path(path).exists():
        raise MworkError(f"neuron file {path} does not exist; build it with the plnd rule")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = unpack_metadata(f.metadata())
            tensors = {k: f.get_tensor(k) for k in f.keys() if not masks_only or is_mask_key(k)}
    except Exception as e:  # safetensors raises its own error types for a damaged or foreign file
        raise MworkError(f"{path}: not a readable safetensors file ({e}); rebuild it with the plnd rule") from None
    masks = [k for k in tensors if is_mask_key(k)]
    if not masks:
        raise MworkError(f"{path}: holds no neuron masks (layers.<i>.<kind>); is it a neuron file of the plnd rule?")
    for k in masks:
        try:
            parse_key(k)
        except MworkError as e:
            raise MworkError(f"{path}: {e}") from None
    _check_origin(path, meta, language, corpus)
    if model is not None:
        fp = model_fingerprint(model)
        if meta.get("model_fingerprint") != fp:
            raise MworkError(f"{path}: made for model {meta.get('model')!r} (fingerprint "
                             f"{meta.get('model_fingerprint')}), not for this model (fingerprint {fp}); "
                             f"rerun PLND for this model")
        _check_shapes(path, tensors, model, masks_only)
    return tensors, meta


def corpus_of(path) -> str | None:
    """The corpus a neuron (or PLND statistics) file's path names (the rules read and write
    ``results/<model>/{neurons,plnd}/<corpus>/<language>.safetensors``), or None for a file elsewhere."""
    path = Path(path)
    return path.parent.name if path.parent.parent.name in ("neurons", "plnd") else None


def load_stats(path, language: str | None = None, corpus: str | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """(PLND statistics ``{layers.i.kind.count|mean|floor}``, metadata) of a file of rule plnd; refuses a
    file of another language or corpus, or one that lacks a statistic."""
    if not Path(path).exists():
        raise MworkError(f"PLND statistics {path} do not exist; build them with the plnd rule")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = unpack_metadata(f.metadata())
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for a damaged or foreign file
        raise MworkError(f"{path}: not a readable safetensors file ({e}); rebuild it with the plnd rule") from None
    _check_origin(path, meta, language, corpus)
    bases = {k.rsplit(".", 1)[0] for k in tensors}
    lacking = sorted(f"{b}{suffix}" for b in bases for suffix in STAT_SUFFIXES if f"{b}{suffix}" not in tensors)
    if not bases or lacking:
        raise MworkError(f"{path}: not a PLND statistics file ({'lacks ' + ', '.join(lacking[:3]) if lacking else 'empty'}); "
                         f"rebuild it with the plnd rule")
    for b in bases:
        try:
            parse_key(b)
        except MworkError as e:
            raise MworkError(f"{path}: {e}") from None
    return tensors, meta


def load_languages_stats(files: dict[str, str], corpus: str | None, min_doc_fraction: float):
    """(statistics, documents, metadata), each ``{language: ...}``, of several languages' PLND files
    (``files``: language -> path) for choosing sets from them: all of one model, and made for the
    ``min_doc_fraction`` the selection asks for (the ``floor`` depends on it)."""
    stats, n_docs, metas = {}, {}, {}
    first = next(iter(files.values()))
    for lang, path in files.items():
        stats[lang], metas[lang] = load_stats(path, language=lang, corpus=corpus)
        if metas[lang].get("model_fingerprint") != metas[next(iter(files))].get("model_fingerprint"):
            raise MworkError(f"{path}: PLND statistics of another model than {first}'s; rerun rule plnd for both")
        made = json.loads(metas[lang].get("statistics", "{}")).get("min_doc_fraction")
        if made is not None and float(made) != float(min_doc_fraction):
            raise MworkError(f"{path}: statistics made for min_doc_fraction {made}, but "
                             f"config.plnd.selection.min_doc_fraction is {min_doc_fraction}; rerun rule plnd")
        n_docs[lang] = int(metas[lang]["n_docs"])
    return stats, n_docs, metas


def _check_origin(path, meta: dict, language: str | None, corpus: str | None) -> None:
    """The language and corpus a neuron file's metadata names are the ones the rule asked for."""
    wrong = [(field, want, meta.get(field)) for field, want in (("language", language), ("corpus", corpus))
             if want is not None and meta.get(field) != want]
    if not wrong:
        return
    holds = ", ".join(f"{field} {found!r}" if found is not None else f"no {field}" for field, _, found in wrong)
    wanted = ", ".join(f"{field} {want!r}" for field, want, _ in wrong)
    raise MworkError(f"{path}: holds the neurons of {holds} (its metadata), but this job expected {wanted}; a file "
                     f"copied or renamed from another one? Delete it and rerun rule plnd (it writes {path})")


def _check_shapes(path, tensors: dict[str, torch.Tensor], model, masks_only: bool) -> None:
    """Every mask (and count/mean) of every layer and module kind of ``model``, one boolean (number) per
    neuron: a fingerprint alone cannot tell a damaged or hand-made file."""
    adapter = get_adapter(model)
    sizes = adapter.sizes()
    want = {neuron_key(i, kind): n for i in range(adapter.n_layers) for kind, n in sizes.items()}
    masks = {k: v for k, v in tensors.items() if is_mask_key(k)}
    problems = [f"missing {k}" for k in want if k not in masks]
    problems += [f"unexpected {k}" for k in masks if k not in want]
    for k, n in want.items():
        for name, dtype in ((k, torch.bool), *(() if masks_only else ((f"{k}.count", None), (f"{k}.mean", None)))):
            t = tensors.get(name)
            if t is None:
                if name != k:
                    problems.append(f"missing {name}")
                continue
            if tuple(t.shape) != (n,) or (dtype is not None and t.dtype != dtype):
                problems.append(f"{name} is {t.dtype} of shape {tuple(t.shape)}, expected {dtype or 'numbers'} of ({n},)")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise MworkError(f"{path}: not a neuron file of this model ({shown}); rebuild it with the plnd rule")


STAT_SUFFIXES = (".count", ".mean", ".floor")


def is_mask_key(key: str) -> bool:
    return not key.endswith(STAT_SUFFIXES)


def mask_keys(tensors: dict) -> list[str]:
    return [k for k in tensors if is_mask_key(k)]
