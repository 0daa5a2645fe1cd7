"""Which neurons a deactivation setting turns off (Tables 1-5, 8, 9, 14-17).

The stages and settings themselves are data, in ``mwork.stages``. A random control deactivates
exactly as many neurons per layer and module kind as its language-specific counterpart (after the
exclusion and the budget), drawn uniformly from that layer's module with a seed (``random_match:
layer``, the default); ``random_match: stage`` matches only the count per stage and module kind, drawn
uniformly over the stage's layers (a set concentrated in a few layers then gets a control spread over
all of them). ``exclude`` removes English's neurons (``en``, Table 8) or the
neurons shared by all languages (``all``, Table 9) from X's set first.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import torch

from .arch import get_adapter
from .errors import MworkError
from .io import read_json
from .keys import KINDS, parse_key
from .neurons import corpus_of, load_neurons
from .stages import ATTN, STAGES, check_setting, setting_groups, stage_layers  # noqa: F401 (re-exported)

RANDOM_MATCH = ("layer", "stage")  # deactivation.random_match: what a random control matches X's set in


def equal_budget(rows: dict[str, dict], lang_tensors: dict, layers: dict[str, list[int]]) -> dict[str, int]:
    """``budget: equal``: per structure, the fewest of X's neurons any of ``rows`` (the stage tables' settings
    without an exclude) has in its stages -- the count every row then deactivates."""
    out: dict[str, int] = {}
    for spec in rows.values():
        for structure in ("attn", "ffn"):
            ks = [k for ks in setting_groups(spec, layers).values() for k in ks
                  if k.endswith(".ffn") == (structure == "ffn")]
            if ks:
                n = sum(int(lang_tensors[k].sum()) for k in ks)
                out[structure] = min(out.get(structure, n), n)
    return out


def select(setting: dict, lang_tensors: dict, layers: dict[str, list[int]], sizes: dict[str, int], *,
           seed: str, budget: dict | None = None, exclude_masks: list[dict] | None = None,
           exclude_all: list[dict] | None = None, strict: bool = True,
           random_match: str = "layer") -> dict[str, torch.Tensor]:
    """The bool masks a setting deactivates for language X.

    ``lang_tensors``: X's neuron file (masks, counts, means). ``budget``: {"attn": n, "ffn": m} — keep only
    the n / m most consistent language-specific neurons of the setting's stages (``strict``: asking for more
    than there are is an error; else all are kept). ``exclude_masks``:
    English's masks (removed from X's set); ``exclude_all``: every language's masks (their intersection
    is removed). ``seed``: string seed of the random control; ``random_match`` (``deactivation.random_match``):
    ``layer`` draws as many neurons in each (layer, module kind) as X's set has there, ``stage`` as many per
    (stage, module kind), uniform over the stage's layers.
    """
    if random_match not in RANDOM_MATCH:
        raise MworkError(f"config.deactivation.random_match: {random_match!r} is not one of {', '.join(RANDOM_MATCH)}")
    groups = setting_groups(setting, layers)
    keys = [k for ks in groups.values() for k in ks]
    chosen: dict[str, torch.Tensor] = {}
    for key in keys:
        m = lang_tensors[key].clone()
        if setting.get("exclude") == "en" and exclude_masks:
            for other in exclude_masks:
                m &= ~other[key]
        if setting.get("exclude") == "all" and exclude_all:
            common = torch.ones_like(m)
            for other in exclude_all:
                common &= other[key]
            m &= ~common
        chosen[key] = m
    if budget:
        for structure, limit in budget.items():
            ks = [k for k in keys if k.endswith(".ffn") == (structure == "ffn")]
            if not ks:  # the setting deactivates no neuron of this structure
                continue
            cands = []
            for k in ks:
                for i in chosen[k].nonzero().flatten().tolist():
                    c = lang_tensors.get(f"{k}.count")
                    mu = lang_tensors.get(f"{k}.mean")
                    cands.append((-(int(c[i]) if c is not None else 0), -(float(mu[i]) if mu is not None else 0), k, i))
            if limit > len(cands) and strict:
                raise MworkError(f"deactivation.budget.{structure}: {limit} neurons requested but the setting's "
                                 f"stages hold only {len(cands)} language-specific {structure} neurons")
            cands.sort()  # most consistent (document count), then most important first
            for k in ks:
                chosen[k] = torch.zeros_like(chosen[k])
            for _, _, k, i in cands[:int(limit)]:
                chosen[k][i] = True
    if setting["neurons"] == "lang":
        return chosen
    if random_match == "layer":  # as many in each layer's module as the counterpart, uniform within it
        return random_per_layer({k: chosen[k] for k in keys}, seed)
    rng = random.Random(zlib.crc32(seed.encode()))
    out = {k: torch.zeros(sizes[parse_key(k)[1]], dtype=torch.bool) for k in keys}
    # stage: as many per (stage, kind) as the language-specific counterpart, uniform in that group
    for ks in groups.values():
        for kind in KINDS:
            group = [k for k in ks if k.endswith("." + kind)]
            if not group:
                continue
            n = sum(int(chosen[k].sum()) for k in group)
            pool = [(k, i) for k in group for i in range(sizes[kind])]
            for k, i in rng.sample(pool, n):
                out[k][i] = True
    return out


def random_per_layer(masks: dict[str, torch.Tensor], seed: str) -> dict[str, torch.Tensor]:
    """A random control matched to ``masks`` key by key (one layer's module kind each): as many neurons as
    the key's mask holds, drawn uniformly among that module's neurons, from one generator seeded by the
    string ``seed`` (the tables' controls, the loss matrix's and Figure 3's random sets alike)."""
    rng = random.Random(zlib.crc32(seed.encode()))
    out = {}
    for k, m in masks.items():
        out[k] = torch.zeros(m.numel(), dtype=torch.bool)
        for i in rng.sample(range(m.numel()), int(m.sum())):
            out[k][i] = True
    return out


def count(masks: dict[str, torch.Tensor]) -> dict[str, int]:
    attn = sum(int(m.sum()) for k, m in masks.items() if not k.endswith("ffn"))
    ffn = sum(int(m.sum()) for k, m in masks.items() if k.endswith("ffn"))
    return {"attn": attn, "ffn": ffn, "total": attn + ffn}


def _check_stage_file(found, path, made_by: str, n_layers: int) -> None:
    """The boundaries a stage file (``stages.json``, ``lens_stages.json``) holds are whole numbers, for a
    model of ``n_layers`` layers; ``under`` None (with its note) is the lens's "no stages here"."""
    fix = f"; delete it and rerun (rule {made_by} writes it)"
    if not isinstance(found, dict):
        kind = {list: "a list", str: "a string", type(None): "null"}.get(type(found), "a number")
        raise MworkError(f"{path}: {kind}, not a JSON object of stage boundaries{fix}")
    if "under" in found and found["under"] is None:  # the caller says why there are none (its note)
        return
    for field in ("layers", "under", "gen"):
        if field not in found:
            raise MworkError(f"{path}: {field} is missing{fix}")
        value = found[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise MworkError(f"{path}: {field} is {value!r}, not a whole number{fix}")
    if found["layers"] != n_layers:
        raise MworkError(f"{path}: layers is {found['layers']}, but the model has {n_layers} decoder layers (a file "
                         f"of another model?){fix}")


def setting_masks(deactivation: dict, files: list[str], model) -> tuple[dict[str, torch.Tensor], dict]:
    """Everything a setting deactivates, in one call: ``deactivation`` is what the DAG passes for
    ``<name>@<X>`` (name, language X, spec, stages, budget, seed); ``files`` the rule's inputs: X's neuron
    file (and English's or every evaluation language's, for the exclusions) and, for stages ``auto`` or
    ``lens``, the file holding the boundaries. Returns the masks and the record stored with the scores."""
    d = dict(deactivation)
    neurons = {Path(f).stem: f for f in files if str(f).endswith(".safetensors")}
    if d["stages"] in ("auto", "lens"):  # boundaries tuned (rule stage_tuning) or read off the lens (lens_stages)
        path = next(f for f in files if str(f).endswith("stages.json"))
        made_by = "stage_tuning" if d["stages"] == "auto" else "lens_stages"
        found = read_json(path, made_by=made_by)
        _check_stage_file(found, path, made_by, get_adapter(model).n_layers)
        if found["under"] is None:
            raise MworkError(f"{path}: no stage boundaries ({found.get('note')}); give the model's stages: "
                             f"{{under, gen}} in the config instead of {d['stages']}")
        d["stages"] = stage_layers(found["layers"], found["under"], found["gen"], where=str(path))
    x, exclude = d["language"], d["spec"].get("exclude")
    # each file holds the language (and corpus) its path names: a copied file is refused, not deactivated
    lang_tensors, _ = load_neurons(neurons[x], model=model, masks_only=False, language=x, corpus=corpus_of(neurons[x]))
    others = [load_neurons(f, model=model, language=lang, corpus=corpus_of(f))[0] for lang, f in neurons.items()
              if lang != x]
    budget, strict = d.get("budget"), True
    if budget and "equal" in budget:  # the same count per structure in every row of the stage tables
        budget, strict = equal_budget(budget["equal"], lang_tensors, d["stages"]), False
    random_match = d.get("random_match", "layer")
    masks = select(d["spec"], lang_tensors, d["stages"], get_adapter(model).sizes(), seed=d["seed"],
                   budget=budget, strict=strict, exclude_masks=others if exclude == "en" else None,
                   exclude_all=[lang_tensors, *others] if exclude == "all" else None, random_match=random_match)
    record = {"setting": d["name"], "neuron_language": x, **d["spec"], "stages": d["stages"],
              "budget": {"equal": budget} if not strict else budget, "n_deactivated": count(masks)}
    if d["spec"]["neurons"] == "random":  # how the control was drawn, beside its seed
        record.update(random_match=random_match, seed=d["seed"])
    return masks, record
