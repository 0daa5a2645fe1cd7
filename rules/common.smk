# Config validation and input functions shared by all rules.
import sys

from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)

from mwork.config import check_config, model_spec  # noqa: E402

validate(config, workflow.source_path("../schemas/config.schema.yaml"))
check_config(config)

LANGS = config["languages"]
EVAL_LANGS = config["eval_languages"]
CORPUS = config["corpus"]
MODELS = config["run_models"]
TASKS = config["tasks"]


# The library is not tracked as code by Snakemake: rules list the modules they use as inputs,
# so an edit of the library reruns exactly the rules that depend on it.
def lib(*modules):
    return [workflow.source_path(f"../mwork/{m}.py") for m in modules]


def corpus_files(corpus):
    return expand("results/corpus/{corpus}/{lang}.jsonl", corpus=corpus, lang=LANGS)


def model_inputs(model):
    """Files a rule needs to load ``model``: the organism's directory, or nothing for a hub id."""
    spec = model_spec(config, model)
    return [spec["path"]] if spec["source"] == "organism" else []


def model_location(model):
    spec = model_spec(config, model)
    return spec["path"] if spec["source"] in ("organism", "local") else spec["id"]


def foundation_targets():
    out = ["results/table7.csv"]
    if any(model_spec(config, m)["source"] == "organism" for m in MODELS):
        out += ["results/organism/perplexity.csv", "results/organism/training_curve.png"]
    return out
