"""rule loss_matrix: Δ held-out loss of every language with each language's neurons (and a random control) deactivated."""
from mwork.corpus import read_corpus
from mwork.errors import MworkError
from mwork.io import write_table
from mwork.loss_matrix import loss_matrix
from mwork.models import load_model_params
from mwork.neurons import load_neurons
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    model, tok = load_model_params(p.model)
    masks = {}
    for lang in p.languages:
        path = next(f for f in smk.input.neurons if f.endswith(f"/{lang}.safetensors"))
        masks[lang], _ = load_neurons(path, model)
    texts = {}
    for lang in p.languages:
        path = next(f for f in smk.input.corpus if f.endswith(f"/{lang}.jsonl"))
        docs = [d["text"] for d in read_corpus(path) if d["split"] == "heldout"][:p.spec["n_docs"]]
        if not docs:
            raise MworkError(f"{path}: no held-out documents for {lang!r}; the loss matrix measures held-out "
                             f"loss (raise corpora.<name>.n_docs or heldout_fraction)")
        texts[lang] = docs
        log.info("%s: %d held-out documents", lang, len(docs))
    df = loss_matrix(model, tok, texts, masks, seed=p.seed, batch_size=p.spec["batch_size"],
                     max_length=p.spec["max_length"],
                     progress=lambda r: log.info("%s neurons of %s (%d): %s loss %.4f (%+.4f)", r["neurons"],
                                                 r["deactivated"], r["n_neurons"], r["evaluated"], r["loss"],
                                                 r["delta"]))
    df.insert(0, "model", smk.wildcards.model)
    write_table(df, smk.output.csv)
