"""rule suites: generate the offline task suites in every language (train and test splits)."""
from mwork.io import write_json, write_jsonl
from mwork.tasks.suites import suites_from_spec
from mwork.workflow import rule_script

with rule_script(snakemake) as log:  # noqa: F821
    spec = snakemake.params.spec  # noqa: F821
    suites = suites_from_spec(snakemake.params.languages, spec)  # noqa: F821
    for task in snakemake.params.tasks:  # noqa: F821
        for lang, splits in suites[task].items():
            for split, recs in splits.items():
                write_jsonl(f"results/suites/{task}/{lang}.{split}.jsonl", recs)
                log.info("%s/%s.%s: %d items", task, lang, split, len(recs))
    write_json(snakemake.output.world, suites["world"])  # noqa: F821
