"""rule loss_matrix: Δ held-out loss of every language with each language's neurons (and a random control) deactivated."""
from mwork.io import write_table
from mwork.loss_matrix import heldout_texts, loss_matrix
from mwork.models import check_window, load_model_params
from mwork.neurons import corpus_of, load_neurons
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    # fewer held-out documents than loss_matrix.n_docs: an error, before the model loads
    texts = heldout_texts({lang: next(f for f in smk.input.corpus if f.endswith(f"/{lang}.jsonl"))
                           for lang in p.languages}, p.spec["n_docs"])
    for lang, docs in texts.items():
        log.info("%s: %d held-out documents", lang, len(docs))
    model, tok = load_model_params(p.model)
    check_window(model, p.spec["max_length"], "config.loss_matrix.max_length")
    masks = {}
    for lang in p.languages:
        path = next(f for f in smk.input.neurons if f.endswith(f"/{lang}.safetensors"))
        masks[lang], _ = load_neurons(path, model, language=lang, corpus=corpus_of(path))
    df = loss_matrix(model, tok, texts, masks, seed=p.seed, batch_size=p.spec["batch_size"],
                     max_length=p.spec["max_length"],
                     progress=lambda r: log.info("%s neurons of %s (%d): %s loss %.4f (%+.4f)", r["neurons"],
                                                 r["deactivated"], r["n_neurons"], r["evaluated"], r["loss"],
                                                 r["delta"]))
    df.insert(0, "model", smk.wildcards.model)
    write_table(df, smk.output.csv)
