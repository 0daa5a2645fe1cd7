# Config validation and input functions shared by all rules.
import os
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)

from mwork.codedeps import module_closure  # noqa: E402
from mwork.corpus import n_docs_for  # noqa: E402
from mwork.config import check_config, enhance_grid, enhance_languages, model_dir, model_layers, model_spec, model_stages, stage_tuning_grid, uses_organism  # noqa: E402
from mwork import names, stages  # noqa: E402
from mwork.names import FineTuning, LossDomain, Setting, StageTuning, Table, TunedModel, Variant  # noqa: E402
from mwork.selection import METHODS as SELECTION_METHODS  # noqa: E402
from mwork.errors import MworkError  # noqa: E402
from mwork.workflow import check_results_tree  # noqa: E402
from mwork.languages import per_key  # noqa: E402
from mwork.tasks.data import task_file, task_languages, task_source as data_task_source  # noqa: E402
from mwork.tasks.registry import TASK_ORDER  # noqa: E402

validate(config, schema="../schemas/config.schema.yaml")
check_config(config)
check_results_tree("results")  # before Snakemake removes or touches an old output there

LANGS = config["languages"]
EVAL_LANGS = config["eval_languages"]
CORPUS = config["corpus"]
MODELS = config["run_models"]
EVAL_MODELS = config.get("eval_models") or MODELS  # the task experiments (Tables 1-5, 8, 9, 11-17)
TASKS = config["tasks"]
NON_EN_LANGS = [lang for lang in EVAL_LANGS if lang != "en"]
# how PLND scores a document (mwork.neurons.Scoring): the plnd rule and Figure 3 alike
PLND_SCORING = {k: config["plnd"][k] for k in ("score", "special_tokens", "normalize", "chunk_elems", "qk_kernel")}
# what PLND's per-neuron statistics depend on besides the scoring (the rest of plnd.selection only picks
# the set from them, in rule neurons)
PLND_STATISTICS = {k: config["plnd"]["selection"][k] for k in ("top_k", "min_doc_fraction")}


def selection_spec(method=None):
    """plnd.selection, with another rule's `method` for the settings that name one
    (deactivation.settings.<name>.selection: the paper's own rule for the overlap ablations, Tables 8 and 9)."""
    spec = dict(config["plnd"]["selection"])
    if method:
        spec["method"] = method
    return spec


def selection_languages(lang, method=None):
    """The languages whose PLND statistics language ``lang``'s set is chosen from: its own, and for a rule
    that compares languages (plnd.selection.method: selective) those of plnd.selection.against (null: the
    evaluation languages)."""
    from mwork.selection import needs_all_languages

    spec = selection_spec(method)
    if not needs_all_languages(spec):
        return [lang]
    return list(dict.fromkeys([lang, *(spec.get("against") or EVAL_LANGS)]))


def neuron_file(model, lang, method=None):
    """Language ``lang``'s neuron file: results/<model>/neurons/ holds the sets of plnd.selection's rule (what
    every analysis reads), results/<model>/neurons_<method>/ those of another rule a setting names."""
    if method in (None, config["plnd"]["selection"].get("method", "topk_intersection")):
        return f"results/{model}/neurons/{CORPUS}/{lang}.safetensors"
    return f"results/{model}/neurons_{method}/{CORPUS}/{lang}.safetensors"


# Snakemake tracks a rule's script, not the library modules it imports: every rule lists as inputs the
# modules its script can run (the closure of its imports, read from the source by mwork.codedeps), so an
# edit of the library reruns exactly the rules that depend on it.
def code_of(script):
    """The mwork modules that workflow_scripts/<script>.py imports, directly or through other modules, as
    paths relative to the working directory: Snakemake records its inputs' paths, so a checkout moved with
    its results/ and .snakemake/ (a renamed folder, a cluster mounting it elsewhere) reruns nothing."""
    root = Path(workflow.basedir)
    path = root / "workflow_scripts" / f"{script}.py"
    return [os.path.relpath(root / m, os.getcwd()) for m in module_closure(path, root)]


def repo_file(path):
    """A file of the repository (not of the working directory), as a path relative to the working directory."""
    return os.path.relpath(Path(workflow.basedir) / path, os.getcwd())


def configured(**fields):
    """An input function for the rules a target enters the DAG by: a wildcard value that the config does
    not name (a language, model, corpus or task) is an error saying where to add it, not a corpus built
    for an unplanned language or a missing-input message. ``fields``: wildcard -> (allowed values or a
    predicate, field)."""
    def check(wc):
        for name, (allowed, field) in fields.items():
            value = getattr(wc, name, None)
            if value is not None and not (allowed(value) if callable(allowed) else value in allowed):
                listing = "" if callable(allowed) else f" ({', '.join(allowed)})"
                raise MworkError(f"{name} {value!r} (from the requested path) is not in {field}{listing}; add it "
                                 f"there or ask for a configured one")
        return []
    return check


def corpus_files(corpus):
    return expand("results/corpus/{corpus}/{lang}.jsonl", corpus=corpus, lang=LANGS)


def model_inputs(model):
    """Files needed to load ``model``: the organism's or the converted gguf model's directory (built by
    the DAG; nothing for a hub id or a local directory), and a tuned model's delta file."""
    spec = model_spec(config, model)
    out = [model_dir(config, model)] if spec["source"] in ("organism", "gguf") else []
    return out + ([spec["delta"]] if spec.get("delta") else [])


def known_model(name):
    """A models entry or a tuning of the enhancement grid (`<base>+<language>-<variant>`)."""
    try:
        model_spec(config, name)
    except MworkError:
        return False
    return True


def model_location(model):
    return model_dir(config, model) or model_spec(config, model)["id"]


MEMORY_MB = {"organism": 2000, "gguf": 8000, "local": 32000, "hub": 32000}  # when models.<name>.mem_mb is unset


def model_mem_mb(model):
    """Memory a job that loads ``model`` asks a cluster for: models.<name>.mem_mb, else by source."""
    spec = model_spec(config, model)
    return spec.get("mem_mb") or MEMORY_MB[spec["source"]]


def model_params(model):
    """How to load ``model``; passed through params, so editing the model entry reruns its jobs."""
    spec = model_spec(config, model)
    out = {"location": model_location(model), "revision": spec.get("revision"), "dtype": spec.get("dtype", "auto"),
           "device_map": spec.get("device_map", "auto")}
    return {**out, "delta": spec["delta"]} if spec.get("delta") else out


def model_engine(model):
    """How the model's evaluations generate: eval.engine with models.<name>.engine's keys over it
    (mwork.evaluate.engine_of fills the defaults)."""
    return {**config["eval"].get("engine", {}), **(model_spec(config, model).get("engine") or {})}


def eval_inputs(folder):
    """The evaluation's inputs but its code; its draft (eval.engine.draft) comes from the same folder's
    `original`."""
    return dict(
        model=lambda wc: model_inputs(wc.model),
        data=lambda wc: task_inputs(wc.model, wc.task, wc.lang),
        neurons=lambda wc: setting_inputs(wc.model, wc.setting),
        draft=lambda wc: draft_inputs(folder, wc),
        configured=configured(model=(known_model, "config.models (nor a tuning <base>+<language>-<variant>)"), task=(TASKS, "config.tasks"),
                              lang=(EVAL_LANGS, "config.eval_languages")),
    )


def eval_engine(model, setting):
    """The engine of one evaluation: the model's, without `draft` for `original` (nothing to check its answers
    against; turning drafts on or off reruns only the deactivated evaluations)."""
    engine = model_engine(model)
    return {k: v for k, v in engine.items() if k != "draft"} if parse_setting(setting).original else engine


def draft_inputs(folder, wc):
    """With eval.engine.draft: original, a deactivated evaluation reads the model's own answers to the same
    items (setting `original`, its predictions) and checks each before generating (mwork.drafted)."""
    if parse_setting(wc.setting).original or model_engine(wc.model).get("draft", "none") != "original":
        return []
    return [f"{folder}/{wc.model}/{wc.task}/{wc.lang}/{Setting()}.predictions.jsonl"]


def task_source(model, task):
    """`suites` (offline), `hub` (the real datasets) or `files` (their upstream files, eval.files.<task>):
    models.<name>.task_data (mwork.tasks.data.task_source)."""
    return data_task_source(model_spec(config, model), task)


def task_folder(task):
    """The folder of a task's upstream files (eval.files.<task>), or None."""
    return (config["eval"].get("files") or {}).get(task)


def loss_matrix_spec(model):
    """The loss matrix settings of one model: loss_matrix's (which models: not a job's) with
    models.<name>.loss_matrix over them."""
    own = model_spec(config, model).get("loss_matrix") or {}
    return {**{k: v for k, v in config["loss_matrix"].items() if k != "models"}, **own}


def tuning_holdout(task, part):
    """With stage_tuning.n_items, the stage tuning's items of its task (``part`` "tuning") or every other item
    ("rest", what the task's other evaluations are scored on): mwork.tasks.data.held_out; else None."""
    t = config["stage_tuning"]
    if t.get("n_items") is None or task != t["task"]:
        return None
    return {"n_items": t["n_items"], "part": part}


def tuning_not_held_out():
    raise ValueError("results/eval_tuning/ holds the stage tuning's held-out items: set stage_tuning.n_items "
                     "(and ask for its own task), or use results/eval/")


def task_inputs(model, task, lang):
    """The test items a task is evaluated on: the organism's suite, the upstream file (a missing folder or
    file is an error naming eval.files.<task> before any job runs), or nothing (a hub dataset)."""
    source = task_source(model, task)
    if source == "suites":
        return [f"results/suites/{task}/{lang}.test.jsonl"]
    if source == "files":
        return [str(task_file(task, lang, task_folder(task)))]
    return []


def eval_langs(model, task, extra=False):
    """The languages a task is evaluated in: its `eval.task_languages` (default: every evaluation language)
    that its data has, and with `extra` also its `eval.extra_languages` (baseline only, Table 11)."""
    ev = config.get("eval", {})
    langs = task_languages(task, task_source(model, task), EVAL_LANGS, (ev.get("task_languages") or {}).get(task))
    if extra:
        langs += task_languages(task, task_source(model, task), EVAL_LANGS, (ev.get("extra_languages") or {}).get(task, []))
    return langs


def baseline_scores():
    """`original` scores of every model x task x language it is evaluated in (extra languages included)."""
    return [f"results/eval/{m}/{t}/{lang}/original.json" for m in EVAL_MODELS for t in TASKS
            for lang in eval_langs(m, t, extra=True)]


def parse_setting(setting):
    """An evaluation setting's name (mwork.names.Setting), checked against the config (mwork.stages): a
    random control's draw beyond deactivation.random_draws is refused."""
    return stages.parse_setting(setting, config["deactivation"]["settings"], EVAL_LANGS,
                                draws=config["deactivation"]["random_draws"])


def setting_spec(name):
    return stages.setting_spec(name, config["deactivation"]["settings"])


STAGE_FILES = {"auto": "results/{model}/stages.json", "lens": "results/{model}/lens_stages.json"}


def setting_inputs(model, setting):
    """Neuron sets an evaluation setting needs: none for `original`; X's (and English's or every
    language's, for the overlap ablations) for `<name>@<X>`, chosen by plnd.selection's rule or the one the
    setting names (`selection`); the stage file when they are `auto` or `lens`."""
    s = parse_setting(setting)
    if s.original:
        return []
    exclude = setting_spec(s.name).get("exclude")
    langs = {None: [s.lang], "en": [s.lang, "en"], "all": EVAL_LANGS}[exclude]
    method = setting_spec(s.name).get("selection")
    out = [neuron_file(model, x, method) for x in dict.fromkeys(langs)]
    layers = None if s.tuning else model_stages(config, model)
    if isinstance(layers, str):  # auto | lens: boundaries read from a file
        out.append(STAGE_FILES[layers].format(model=model))
    return out


def setting_params(model, setting):
    """Everything that defines a deactivation (through params:, so editing a setting reruns its jobs)."""
    s = parse_setting(setting)
    if s.original:
        return None
    if s.tuning:
        layers = stages.setting_stages(s.name, model_layers(config, model), None)
    else:
        layers = model_stages(config, model)
    out = {"name": s.name, "language": s.lang, "spec": setting_spec(s.name), "stages": layers,
           "budget": stages.setting_budget(s.name, config["deactivation"]),
           "seed": f"{config['seed']}-{model}-{s.name}-{s.lang}" + (f"~{s.draw}" if s.draw else "")}
    if out["spec"]["neurons"] == "random":  # only random controls rerun when it changes
        out["random_match"] = config["deactivation"]["random_match"]
    return out


def stage_tuning_inputs(model):
    """Scores of the stage tuning: English and the tuning language, original and under each candidate; with
    stage_tuning.n_items on its held-out items (rule evaluate_tuning), else on the evaluation items."""
    t = config["stage_tuning"]
    grid = stage_tuning_grid(config, model)
    tunings = [StageTuning(part, n) for part in ("under", "gen") for n in grid[part]]
    folder = "eval" if t.get("n_items") is None else "eval_tuning"  # held out: its own items, its own files
    out = [f"results/{folder}/{model}/{t['task']}/{lang}/{Setting()}.json" for lang in ("en", t["language"])]
    out += [f"results/{folder}/{model}/{t['task']}/{lang}/{Setting(str(tune), t['language'])}.json"
            for tune in tunings for lang in ("en", t["language"])]
    return out


def table_langs(model, task):
    """Non-English evaluation languages the task has data for."""
    return [x for x in eval_langs(model, task) if x != "en"]


def table_settings(number):
    """The settings a table's rows name (only these: editing another setting leaves the table alone)."""
    rows = config["deactivation"]["tables"][str(number)]["rows"]
    return {name: config["deactivation"]["settings"][name] for name in rows}


def deactivation_inputs(number):
    """Scores a deactivation table aggregates: originals, and English and X under each setting of X."""
    table = config["deactivation"]["tables"][str(number)]
    task = table["task"]
    rows = table["rows"]
    out = []
    for m in EVAL_MODELS:
        xs = table_langs(m, task)
        langs = (["en"] if "en" in EVAL_LANGS else []) + xs
        out += [f"results/eval/{m}/{task}/{lang}/{Setting()}.json" for lang in langs]
        for row in rows:
            for x in xs:
                for s in Setting.draws(row, x, setting_spec(row), config["deactivation"]["random_draws"]):
                    out += [f"results/eval/{m}/{task}/en/{s}.json", f"results/eval/{m}/{task}/{x}/{s}.json"]
    return out


def query_source(model, choice="auto"):
    """Where a figure's queries come from: `suites` (the task suites' test prompts) or `corpus` (held-out
    documents); `auto` = suites for the organism, corpus for other models."""
    if choice != "auto":
        return choice
    return "suites" if model_spec(config, model)["source"] == "organism" else "corpus"


def query_files(model, choice="auto"):
    """The files a figure's queries are read from (see query_source)."""
    if query_source(model, choice) == "suites":
        return expand("results/suites/{task}/{lang}.test.jsonl", task=TASKS, lang=EVAL_LANGS)
    return corpus_files(CORPUS)


# Figures 1 and 7 (rules/lens.smk)
LENS_MODELS = config["lens"].get("models") or MODELS
# the known-token lens reads XQuAD (upstream files or the hub): models whose understanding data is one of those
_known = config["lens"]["known"]["models"]
KNOWN_LENS_MODELS = [m for m in (LENS_MODELS if _known is None else _known)
                     if task_source(m, "understanding") in ("files", "hub")]
STAGES_FROM_KNOWN = config["lens"]["stages_from"] == "known"
LOSS_MODELS = config["loss_matrix"]["models"] or MODELS  # the loss matrix (rules/plnd.smk)
LOSS_SUFFIXES = [LossDomain.suffix(d) for d in config["loss_matrix"]["domains"]]  # its text domains' file suffixes


def loss_matrix_languages(domain_suffix):
    """The languages Y a loss matrix evaluates: every evaluation language on the corpus; on XQuAD those it
    publishes."""
    if LossDomain.of(domain_suffix) == "xquad":
        return task_languages("understanding", "files", EVAL_LANGS)
    return EVAL_LANGS


def loss_matrix_texts(domain_suffix):
    """The text files of a loss matrix: the corpus's, or XQuAD's upstream files (eval.files.understanding)."""
    langs = loss_matrix_languages(domain_suffix)
    if LossDomain.of(domain_suffix) == "xquad":
        return [str(task_file("understanding", y, task_folder("understanding"))) for y in langs]
    return expand("results/corpus/{corpus}/{lang}.jsonl", corpus=CORPUS, lang=langs)


def known_lens_languages(model):
    """The evaluation languages XQuAD has (English first: every item is compared with its English answer)."""
    return task_languages("understanding", task_source(model, "understanding"), EVAL_LANGS)



def analyses_targets():
    """PLND neuron sets, Figures 1, 3, 5 and 7, the stage boundaries the lens shows and the loss matrix:
    everything that needs no task data (and Figure 1 from known answer tokens, which reads XQuAD's
    questions, where a lens model has XQuAD: rules/lens.smk)."""
    out = ["results/table7.csv", "results/figure5.png", "results/figure3.png", "results/figure1.png"]
    out += expand("results/loss_matrix{domain}.png", domain=LOSS_SUFFIXES)
    out += ["results/figure1_known.png"] if KNOWN_LENS_MODELS else []
    out += expand("results/{model}/lens_stages.json", model=config["lens"].get("models") or MODELS)
    stability = config["set_stability"]["models"]
    out += expand("results/set_stability_{model}.png", model=MODELS if stability is None else stability)
    out += ["results/models_summary.csv"] if len(MODELS) > 1 else []  # every model side by side
    return out + expand("results/{model}/neurons/summary.csv", model=MODELS)


def configured_tables(numbers):
    """The deactivation tables among ``numbers`` that the config defines and whose task it runs: a table
    of a task left out of config.tasks is no target (its old file would look finished)."""
    tables = config["deactivation"]["tables"]
    return [str(n) for n in numbers if str(n) in tables and tables[str(n)]["task"] in TASKS]


ALL_TABLES = configured_tables([1, 3])  # the deactivation tables `all` builds (where configured)

# Tasks whose answers are free text, so a whole answer's language is measurable (XQuAD's answers are spans
# copied from the context, X-CSQA's a letter): their deactivation tables get an answer-language companion
ANSWER_LANGUAGE_TASKS = ("reasoning", "generation")


def answer_language_targets(numbers):
    """results/table<n>_answer_language.csv of the tables among ``numbers`` whose task answers in free text."""
    tables = config["deactivation"]["tables"]
    return [f"results/table{n}_answer_language.csv" for n in numbers
            if tables[str(n)]["task"] in ANSWER_LANGUAGE_TASKS]


def claims_targets():
    """The tables the paper's claims are decided on (mwork/claims.py: Tables 1-5, 8, 9), each with its
    per-language table (14-17 for 2-5), wherever the config defines the table and runs its task."""
    stage = configured_tables([1, 2, 3, 4, 5, 8, 9])
    per_language = [n for n in Table.KINDS["per_language"] if per_language_of(n) in stage]
    return [f"results/table{n}.csv" for n in stage + [str(n) for n in per_language]] + answer_language_targets(stage)


def intermediate_files():
    """What the targets of `all` are made of, listed as targets too: Snakemake does not rebuild a deleted
    (or, after a killed forced rerun, removed) intermediate file whose consumers are up to date, so
    without this a missing neuron set, evaluation or corpus file would stay missing while `all` reports
    nothing to be done. Listed, a missing one is rebuilt, and what reads it reruns after it."""
    out = corpus_files(CORPUS)
    out += expand("results/{model}/neurons/{corpus}/{lang}.safetensors", model=MODELS, corpus=CORPUS, lang=EVAL_LANGS)
    out += expand("results/{model}/plnd/{corpus}/{lang}.safetensors", model=MODELS, corpus=CORPUS, lang=EVAL_LANGS)
    out += expand("results/lens/{model}.csv", model=LENS_MODELS)
    out += expand("results/lens_known/{model}.csv", model=KNOWN_LENS_MODELS)
    out += expand("results/{model}/loss_matrix{domain}.csv", model=LOSS_MODELS, domain=LOSS_SUFFIXES)
    scores = baseline_scores() + [f for n in ALL_TABLES for f in deactivation_inputs(n)]
    for f in dict.fromkeys(scores):
        out += [f, f.removesuffix(".json") + ".predictions.jsonl"]
    return out


def implemented_targets():
    out = analyses_targets()
    if uses_organism(config):
        out += ["results/organism/perplexity.csv", "results/organism/training_curve.png"]
    out += ["results/table10.csv", "results/table11.csv"]
    out += [f"results/table{n}.csv" for n in ALL_TABLES] + answer_language_targets(ALL_TABLES)
    return out + ["results/paper_comparison.csv"]


def per_language_of(number):
    """Tables 14-17 are Tables 2-5 per language (mwork.names.Table)."""
    return str(Table.parse(number).per_language_of)


def stage_table_input(number, ext):
    """Table 12 is the first evaluated model's stage tuning, Table 13 the second's (the paper: Vicuna, Mistral)."""
    i = int(number) - Table.KINDS["stage_tuning"][0]
    if i >= len(EVAL_MODELS):
        raise ValueError(f"Table {number} is the stage tuning of evaluated model #{i + 1}, but config.eval_models "
                         f"(or run_models) has {len(EVAL_MODELS)}; see results/<model>/stage_tuning.{ext}")
    return f"results/{EVAL_MODELS[i]}/stage_tuning.{ext}"


# Enhancement (rules/enhance.smk): the models, the perplexity languages and the grid of tunings
ENHANCE = config["enhance"]
ENHANCE_MODELS = ENHANCE["models"] if ENHANCE["models"] is not None else MODELS
FIGURE4_LANGS, TABLE6_LANGS = enhance_languages(config, "figure4"), enhance_languages(config, "table6")
ENHANCE_GRID = {k: ENHANCE[k] for k in ("languages", "sizes", "control_size", "random_seeds", "lora")}  # the tunings
PPL_LANGS = ENHANCE["perplexity"]["languages"] or list(dict.fromkeys(EVAL_LANGS + ENHANCE["languages"]))


def planned_finetuning(model, lang, variant):
    """No files: a tuning the config's enhancement grid does not plan is an error saying so (model_spec)."""
    model_spec(config, str(TunedModel(model, lang, Variant.parse(variant))))
    return []


def enhance_results(models=None):
    return [f"results/{m}/enhance/{lang}/{v.name}.json" for m in (models or ENHANCE_MODELS)
            for lang in ENHANCE["languages"] for v in enhance_grid(ENHANCE, lang)]


def finetuned_model(model, finetune):
    """The model a fine-tuning's evaluation loads: the base (``original``), or `<base>+<language>-<variant>`."""
    f = FineTuning.parse(finetune)
    return model if f is None else str(TunedModel(model, f.lang, f.variant))


def enhance_eval_pairs(model, finetune):
    """(task, language) pairs a tuning is scored on: every task in its language and in English; the
    original model and the tuning of the language's own neurons at the control size also in every other
    evaluation language (does tuning X harm the others?), the original in the enhancement languages too."""
    f = FineTuning.parse(finetune)
    if f is None:
        langs = list(dict.fromkeys(EVAL_LANGS + ENHANCE["languages"] + FIGURE4_LANGS + TABLE6_LANGS))
    elif f.variant == Variant("lang", ENHANCE["control_size"]):
        langs = list(dict.fromkeys([f.lang, "en"] + EVAL_LANGS))
    else:
        langs = [f.lang, "en"]
    return [[task, x] for task in TASKS for x in task_languages(task, task_source(model, task), langs)]


def enhance_scores(model, langs, variants=None):
    """Scores files of the tunings of ``langs`` (only ``variants``' kinds when given: e.g. the control size)."""
    return [f"results/{model}/enhance/{lang}/{v.name}.scores.json" for lang in langs if lang in ENHANCE["languages"]
            for v in enhance_grid(ENHANCE, lang) if variants is None or variants(v)]
