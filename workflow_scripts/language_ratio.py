"""rule language_ratio: the language of each layer's hidden states (logit lens + CLD3) for queries in each language."""
import pandas as pd

from mwork.io import read_jsonl, write_table
from mwork.lens import layer_languages
from mwork.models import load_model_params
from mwork.tasks.prompts import format_prompt
from mwork.workflow import rule_script

with rule_script(snakemake) as log:  # noqa: F821
    smk = snakemake  # noqa: F821
    p = smk.params
    model, tok = load_model_params(p.model)
    frames = []
    for lang in p.languages:
        if p.queries == "suites":
            texts = []
            for path in [q for q in smk.input.queries if f"/{lang}.test.jsonl" in q]:
                task = path.split("/")[-2]
                texts += [format_prompt(task, rec, lang) for rec in read_jsonl(path)[: p.per_task]]
        else:
            texts = [d["text"] for d in read_jsonl(next(q for q in smk.input.queries if q.endswith(f"/{lang}.jsonl")))
                     if d["split"] == "heldout"][: p.per_task]
        df = layer_languages(model, tok, texts, p.batch_size, p.max_length)
        df.insert(0, "language", lang)
        df.insert(0, "queries", f"{p.queries} ({len(texts)})")
        frames.append(df)
        log.info("%s: %d queries, %d decoded tokens per layer", lang, len(texts),
                 int(df[df["layer"] == 1]["tokens"].sum()))
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "model", smk.wildcards.model)
    write_table(df, smk.output.csv)
