"""rule suites: generate the offline task suites in every language (train and test splits)."""
from pathlib import Path

from mwork.io import write_json, write_jsonl
from mwork.tasks.suites import suites_from_spec
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    spec = snakemake.params.spec
    suites = suites_from_spec(snakemake.params.languages, spec)
    # the rule's outputs, by (task, file name): no path is spelt here
    paths = {(Path(f).parent.name, Path(f).name): f for f in snakemake.output if f.endswith(".jsonl")}
    for task in snakemake.params.tasks:
        for lang, splits in suites[task].items():
            for split, recs in splits.items():
                write_jsonl(paths[(task, f"{lang}.{split}.jsonl")], recs)
                log.info("%s/%s.%s: %d items", task, lang, split, len(recs))
    write_json(snakemake.output.world, suites["world"])
