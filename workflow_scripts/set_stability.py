"""rule set_stability: each language's neuron-set size and stability against the number of PLND documents."""
import pandas as pd
import torch

from mwork.corpus import read_corpus
from mwork.figures import stability_figure
from mwork.io import write_table
from mwork.models import check_window, load_model_params
from mwork.neurons import Scoring, Selector
from mwork.set_stability import document_hits, size_curve
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, spec = smk.params, smk.params.spec
    model, tok = load_model_params(p.model)
    check_window(model, p.max_length, "config.plnd.max_length")
    torch.manual_seed(0)
    selector, scoring = Selector(**p.selection), Scoring(**p.scoring)
    fractions = sorted(set(spec["min_doc_fraction"]) | {selector.min_doc_fraction})
    rows = []
    for lang, path in zip(p.languages, smk.input.corpus):
        docs = [d["text"] for d in read_corpus(path) if p.split == "all" or d["split"] == p.split][:spec["max_docs"]]
        hits = document_hits(model, tok, docs, selector, scoring, p.batch_size, p.max_length)
        for row in size_curve(hits, spec["n_docs"], fractions, spec["seeds"], seed=p.seed):
            rows.append({"model": smk.wildcards.model, "language": lang, **row})
        log.info("%s: %d documents scored, %d neurons", lang, hits.shape[0], hits.shape[1])
    df = pd.DataFrame(rows)
    write_table(df, smk.output.csv)
    stability_figure(df, [smk.output.png, smk.output.pdf],
                     f"{smk.wildcards.model}: neuron-set size and stability vs documents")
