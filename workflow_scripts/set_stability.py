"""rule set_stability: each language's neuron-set size, stability and sharing against the number of PLND
documents, for each selection method compared."""
import pandas as pd
import torch

from mwork.corpus import read_corpus
from mwork.figures import stability_figure
from mwork.io import write_table
from mwork.models import check_window, load_model_params
from mwork.neurons import Scoring
from mwork.set_stability import document_importance, size_curve
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, spec = smk.params, smk.params.spec
    model, tok = load_model_params(p.model)
    check_window(model, p.max_length, "config.plnd.max_length")
    torch.manual_seed(0)
    scoring = Scoring(**p.scoring)
    selection = dict(p.selection)
    methods = {m: {**selection, "method": m} for m in (spec.get("methods") or [selection["method"]])}
    fractions = sorted(set(spec["min_doc_fraction"]) | {selection["min_doc_fraction"]})
    importance = {}
    for lang, path in zip(p.languages, smk.input.corpus):
        docs = [d["text"] for d in read_corpus(path) if p.split == "all" or d["split"] == p.split][:spec["max_docs"]]
        importance[lang] = document_importance(model, tok, docs, scoring, p.batch_size, p.max_length)
        log.info("%s: %d documents scored", lang, next(iter(importance[lang].values())).shape[0])
    rows = size_curve(importance, methods, spec["n_docs"], fractions, spec["seeds"], seed=p.seed)
    df = pd.DataFrame([{"model": smk.wildcards.model, **r} for r in rows])
    write_table(df, smk.output.csv)
    stability_figure(df, [smk.output.png, smk.output.pdf],
                     f"{smk.wildcards.model}: neuron-set size, sharing and stability vs documents")
