"""From PLND's per-language statistics to each language's neuron set (``plnd.selection.method``).

PLND (rule ``plnd``, ``mwork.neurons.Selector``) streams a language's documents and keeps, per neuron,
three statistics: ``count`` (documents whose per-layer top-k holds it), ``mean`` (mean importance, Eq. 1)
and ``floor`` (the importance it reaches in at least ``min_doc_fraction`` of the documents: with 1.0,
its minimum over them). Rule ``neurons`` turns them into a set with one of four rules; changing the rule
reruns no PLND.

* ``topk_intersection`` (the released code): ``count >= ceil(min_doc_fraction * n)``.
* ``threshold`` (Eq. 2): ``floor >= epsilon`` — importance at least ε in (``min_doc_fraction`` of) every
  document; ε one number or one per module kind.
* ``threshold_share``: Eq. 2 with ε chosen per module kind so that the set is ``share`` of the kind's
  neurons (the paper's sets are about 0.13% of a model's neurons): the ``ceil(share * N_kind)`` neurons of
  the kind (over all layers) with the largest floor; the ε this gives is recorded.
* ``selective``: a neuron is X's when X's documents need it *more than the other languages' do*. With
  m_Y(j) the mean importance of neuron j on language Y's documents and med_Y(l, k) the median of m_Y over
  its layer l and module kind k (each language's level removed: tokenizations differ in length and Eq. 1
  is a norm over tokens), r_Y(j) = m_Y(j) / med_Y(l, k) and

      selectivity_X(j) = log r_X(j) - log( mean_{Y in against, Y != X} r_Y(j) ).

  Candidates are the neurons in the top ``candidates`` fraction of their layer and kind by m_X (important
  for X at all); X's set is the ``ceil(share * N_kind)`` candidates of each kind with the largest positive
  selectivity. A neuron that every language needs alike has selectivity near 0 and is never chosen; two
  related languages can share a neuron. ``against``: the languages compared (null: the evaluation
  languages); their PLND statistics are this rule's inputs.

The rule module is pure (tensors in, masks out); rule ``neurons`` and the set-size diagnostic use it alike.
torch is imported where tensors are made, so the DAG and the config check read the rule names and check
a spec without it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .errors import MworkError
from .keys import KINDS, parse_key

METHODS = ("topk_intersection", "threshold", "threshold_share", "selective")
CROSS_LANGUAGE = ("selective",)
DEFAULT_SHARE = 0.0013

if TYPE_CHECKING:
    import torch


def needs_all_languages(spec: dict) -> bool:
    return spec.get("method", "topk_intersection") in CROSS_LANGUAGE


def check_spec(spec: dict) -> None:
    """Errors name the ``plnd.selection`` field; run at config check and by every user of a spec."""
    method = spec.get("method", "topk_intersection")
    if method not in METHODS:
        raise MworkError(f"plnd.selection.method: {method!r} is not one of {', '.join(METHODS)}")
    if method == "threshold" and spec.get("epsilon") is None:
        raise MworkError("plnd.selection.epsilon: the threshold method needs epsilon (Eq. 2); or use "
                         "method: threshold_share, which picks epsilon for a target share of neurons")
    for field in ("epsilon", "share"):
        value = spec.get(field)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(KINDS))
            missing = sorted(set(KINDS) - set(value))
            if unknown or missing:
                raise MworkError(f"plnd.selection.{field}: {', '.join(unknown) + ' not a module kind' if unknown else ''}"
                                 f"{'; ' if unknown and missing else ''}"
                                 f"{'no value for ' + ', '.join(missing) if missing else ''}; give one number or "
                                 f"one per kind ({', '.join(KINDS)})")
    share = spec.get("share")
    for v in (share.values() if isinstance(share, dict) else [share]):
        if v is not None and not 0 < float(v) < 1:
            raise MworkError(f"plnd.selection.share: {v} is not a fraction in (0, 1) (0.0013 = the paper's 0.13%)")
    cand = spec.get("candidates", 0.1)
    if not 0 < float(cand) <= 1:
        raise MworkError(f"plnd.selection.candidates: {cand} is not a fraction in (0, 1]")


def _per_kind(value, kind: str, default=None):
    if isinstance(value, dict):
        return float(value[kind])
    return float(value if value is not None else default)


def need(n_docs: int, min_doc_fraction: float) -> int:
    """Documents a neuron must be selected in (or reach ``floor`` in): ceil(f * n)."""
    return max(1, math.ceil(min_doc_fraction * n_docs - 1e-9))


def _keys(tensors: dict) -> list[str]:
    return sorted({k.rsplit(".", 1)[0] for k in tensors if k.endswith(".count")}, key=lambda k: parse_key(k))


def _top_share(values: dict[str, torch.Tensor], share: float, eligible: dict[str, torch.Tensor] | None = None):
    """The ceil(share * N) largest ``values`` over all the keys given (one module kind, every layer), among
    ``eligible`` ones; returns (masks, the smallest value chosen)."""
    import torch

    keys = list(values)
    flat = torch.cat([values[k].double() for k in keys])
    ok = torch.cat([eligible[k] for k in keys]) if eligible is not None else torch.ones_like(flat, dtype=torch.bool)
    k = min(int(ok.sum()), math.ceil(share * flat.numel() - 1e-9))
    chosen = torch.zeros_like(flat, dtype=torch.bool)
    cut = float("nan")
    if k > 0:
        masked = torch.where(ok, flat, torch.tensor(-math.inf, dtype=flat.dtype))
        top = masked.topk(k)
        chosen[top.indices] = True
        cut = float(top.values[-1])
    out, start = {}, 0
    for key in keys:
        n = values[key].numel()
        out[key] = chosen[start:start + n].clone()
        start += n
    return out, cut


def select_language(stats: dict[str, dict[str, torch.Tensor]], language: str, spec: dict, n_docs: dict[str, int],
                    against: list[str] | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """(X's masks ``{layers.i.kind: bool}``, what the rule chose: ε per kind, selectivity cut-offs).

    ``stats``: language -> PLND statistics (``key.count``, ``key.mean``, ``key.floor``); only ``language``'s
    are needed unless the method compares languages. ``n_docs``: language -> documents PLND read."""
    import torch

    check_spec(spec)
    method = spec.get("method", "topk_intersection")
    if language not in stats:
        raise MworkError(f"no PLND statistics for language {language!r}")
    own = stats[language]
    keys = _keys(own)
    if method == "topk_intersection":
        cut = need(n_docs[language], spec.get("min_doc_fraction", 1.0))
        return {k: own[f"{k}.count"] >= cut for k in keys}, {"min_documents": cut}
    if method == "threshold":
        return {k: own[f"{k}.floor"] >= _per_kind(spec["epsilon"], parse_key(k)[1]) for k in keys}, {}
    share = spec.get("share", DEFAULT_SHARE)
    masks, info = {}, {"epsilon": {}, "selectivity_min": {}}
    by_kind = {kind: [k for k in keys if parse_key(k)[1] == kind] for kind in KINDS}
    if method == "threshold_share":
        for kind, ks in by_kind.items():
            if ks:
                chosen, eps = _top_share({k: own[f"{k}.floor"] for k in ks}, _per_kind(share, kind, DEFAULT_SHARE))
                masks.update(chosen)
                info["epsilon"][kind] = eps
        return masks, {"epsilon": info["epsilon"]}
    # selective
    others = [y for y in (against or list(stats)) if y != language]
    missing = [y for y in others if y not in stats]
    if missing or not others:
        raise MworkError(f"plnd.selection.method selective: compares {language!r} with other languages' PLND "
                         f"statistics, but {'none is given' if not others else 'those of ' + ', '.join(missing) + ' are missing'}")
    cand = float(spec.get("candidates", 0.1))
    for kind, ks in by_kind.items():
        if not ks:
            continue
        score, eligible = {}, {}
        for k in ks:
            r_own = relative_importance(own[f"{k}.mean"])
            r_other = torch.stack([relative_importance(stats[y][f"{k}.mean"]) for y in others]).mean(0)
            score[k] = r_own.log() - r_other.log()
            m = own[f"{k}.mean"].double()
            q = torch.quantile(m, 1 - cand) if cand < 1 else m.min()
            eligible[k] = (m >= q) & (score[k] > 0)
        chosen, cut = _top_share(score, _per_kind(share, kind, DEFAULT_SHARE), eligible)
        masks.update(chosen)
        info["selectivity_min"][kind] = cut
    return masks, {"selectivity_min": info["selectivity_min"], "against": others}


def relative_importance(mean: torch.Tensor) -> torch.Tensor:
    """A language's mean importance over one layer and kind divided by its median there (a tiny floor keeps
    logs finite): each language's overall level — longer tokenizations, larger norms — removed."""

    m = mean.double()
    tiny = 1e-12
    return (m + tiny) / (m.median() + tiny)


def shared_by_all(sets: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The neurons in every language's set."""
    import torch

    langs = list(sets)
    return {k: torch.stack([sets[x][k] for x in langs]).all(0) for k in sets[langs[0]]}


def set_report(sets: dict[str, dict[str, torch.Tensor]]) -> list[dict]:
    """Per language: set size, share of the model's neurons, per module kind counts, and the share of the
    set that every language's set holds (the paper: about 0.02% of neurons are shared by all)."""
    common = shared_by_all(sets)
    rows = []
    for x, masks in sets.items():
        size = sum(int(m.sum()) for m in masks.values())
        total = sum(m.numel() for m in masks.values())
        shared = sum(int((masks[k] & common[k]).sum()) for k in masks)
        row = {"language": x, "size": size, "share": size / total, "shared_by_all": shared,
               "shared_by_all_share": shared / size if size else float("nan")}
        for kind in KINDS:
            row[kind] = sum(int(m.sum()) for k, m in masks.items() if parse_key(k)[1] == kind)
        rows.append(row)
    return rows
