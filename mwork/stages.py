"""The MWork stages and the deactivation settings over them, as data (torch-free: the DAG is built from
them). A setting's name in paths has its grammar in ``mwork.names.Setting``.

A model's layers are split into stages: understanding U (the first ``under`` layers), generation G (the
last ``gen`` layers) and task-solving S (the rest), whose self-attention (S-ATTN) and feed-forward
(S-FFN) parts are separable. A *setting* names which of ``under``, ``s_attn``, ``s_ffn``, ``gen`` are
deactivated, whether the neurons are language X's (``lang``) or a random control (``random``), and an
optional ``exclude`` (``en``: English's neurons, ``all``: the neurons every language holds).
"""

from __future__ import annotations

from .errors import MworkError
from .keys import KINDS, key
from .names import Setting, StageTuning, Table

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


def parse_setting(text: str, settings: dict, languages: list[str], draws: int | None = None) -> Setting:
    """An evaluation setting's name (``mwork.names.Setting``), checked against the config: its name is one
    of ``settings`` or a stage tuning, X one of ``languages``, a random control's draw one of its ``draws``
    (``deactivation.random_draws``); otherwise an error that says what is expected."""
    setting = Setting.parse(text)
    if setting.original:
        return setting
    name, lang, draw = setting.name, setting.lang, setting.draw
    if draw and settings.get(name, {}).get("neurons") != "random":
        raise MworkError(f"evaluation setting {text!r}: only a random control has further draws (~<r>); "
                         f"{name!r} is not one")
    if draw and draws is not None and draw >= draws:
        names = ", ".join(str(s).partition("@")[0] for s in Setting.draws(name, lang, settings[name], draws))
        raise MworkError(f"evaluation setting {text!r}: draw {draw} is outside the config: "
                         f"config.deactivation.random_draws is {draws} ({names}); raise random_draws or ask for one "
                         f"of those")
    if (name not in settings and not setting.tuning) or lang not in languages:
        hint = " (stage tuning: tuneU<n> or tuneG<n> with n >= 1)" if name.startswith("tune") else ""
        raise MworkError(f"evaluation setting {text!r}: expected original or <setting>@<language> with a setting "
                         f"of config.deactivation.settings{hint} and a language of config.eval_languages")
    return setting


def setting_spec(name: str, settings: dict) -> dict:
    """What a setting deactivates: its config entry, or a stage-tuning name's one stage of X's neurons."""
    t = StageTuning.of(name)
    if t:
        return {t.part: True, "neurons": "lang"}
    return settings[name]


def setting_stages(name: str, n_layers: int | None, stages):
    """The stage layers a setting uses: a stage-tuning name's own (its first / last n layers), otherwise
    the model's ``stages`` (layers, or ``auto`` / ``lens`` for boundaries read from a file)."""
    t = StageTuning.of(name)
    if not t:
        return stages
    if n_layers is None:
        raise MworkError(f"stage tuning ({name}) needs the model's number of layers (config.models.<name>.layers)")
    return stage_layers(n_layers, t.layers, 0) if t.part == "under" else stage_layers(n_layers, 0, t.layers)


def stage_table_rows(tables: dict) -> list[str]:
    """The settings the stage tables (2-5, 8, 9) evaluate, in first-use order; Table 1 is not one of them."""
    return list(dict.fromkeys(n for num, t in tables.items() if Table.parse(num).number in Table.KINDS["stage"]
                              for n in t["rows"]))


def setting_budget(name: str, deactivation: dict):
    """The cap on the neurons a setting deactivates (what the evaluation rule gets through ``params:``).

    ``budget: equal`` (the paper: "for a fair comparison, we ensure the numbers of deactivated neurons in
    all settings are the same"): every row of the stage tables deactivates, per structure (attention q/k/v,
    FFN), as many of X's most consistent neurons as the row with the fewest has -- the minimum is taken at
    run time over the rows without an ``exclude`` (which are ablations of a row and may fall short), from
    X's neuron file. ``{attn: n, ffn: m}``: fixed counts. ``null``: X's whole set. Table 1 and the stage
    tuning always deactivate X's whole set in their stages.
    """
    budget = deactivation.get("budget")
    rows = stage_table_rows(deactivation.get("tables", {}))
    if budget is None or name not in rows:
        return None
    if budget == "equal":
        settings = deactivation["settings"]
        return {"equal": {n: settings[n] for n in rows if not settings[n].get("exclude")}}
    return budget

