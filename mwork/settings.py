"""The MWork stages and deactivation settings as data (torch-free: the DAG is built from them).

A model's layers are split into stages: understanding U (the first ``under`` layers), generation G (the
last ``gen`` layers) and task-solving S (the rest), whose self-attention (S-ATTN) and feed-forward
(S-FFN) parts are separable. A *setting* names which of ``under``, ``s_attn``, ``s_ffn``, ``gen`` are
deactivated, whether the neurons are language X's (``lang``) or a random control (``random``), and an
optional ``exclude`` (``en``: English's neurons, ``all``: the neurons every language holds).
"""

from __future__ import annotations

from .errors import MworkError
from .keys import KINDS, key

STAGES = ("under", "s_attn", "s_ffn", "gen")
ATTN = ("attn.q", "attn.k", "attn.v")


def stage_layers(n_layers: int, under: int, gen: int, where: str = "stages") -> dict[str, list[int]]:
    """{"under": [...], "task": [...], "gen": [...]}; an error names ``where`` when the split is impossible."""
    if under < 0 or gen < 0:
        raise MworkError(f"{where}: under and gen must be >= 0")
    if under + gen >= n_layers:
        raise MworkError(f"{where}: under ({under}) + gen ({gen}) layers leave no task-solving layer in a "
                         f"{n_layers}-layer model")
    return {"under": list(range(under)), "task": list(range(under, n_layers - gen)),
            "gen": list(range(n_layers - gen, n_layers))}


def setting_groups(setting: dict, layers: dict[str, list[int]]) -> dict[str, list[str]]:
    """Stage name -> the neuron keys it deactivates (``layers.{i}.{kind}``)."""
    out = {}
    for stage in STAGES:
        if not setting.get(stage):
            continue
        if stage in ("under", "gen"):
            out[stage] = [key(i, k) for i in layers[stage] for k in KINDS]
        elif stage == "s_attn":
            out[stage] = [key(i, k) for i in layers["task"] for k in ATTN]
        else:
            out[stage] = [key(i, "ffn") for i in layers["task"]]
    return out


def check_setting(name: str, setting: dict, where: str = "deactivation.settings") -> None:
    unknown = set(setting) - set(STAGES) - {"neurons", "exclude"}
    if unknown:
        raise MworkError(f"{where}.{name}: unknown key(s) {sorted(unknown)} (stages: {', '.join(STAGES)}; "
                         f"also neurons, exclude)")
    if setting.get("neurons") not in ("lang", "random"):
        raise MworkError(f"{where}.{name}.neurons: must be lang or random")
    if not any(setting.get(s) for s in STAGES):
        raise MworkError(f"{where}.{name}: deactivates no stage; set one of {', '.join(STAGES)} to true")
    if setting.get("exclude") not in (None, "en", "all"):
        raise MworkError(f"{where}.{name}.exclude: must be en or all")
