"""rule organism_train: train the tiny Llama and save it with its tokenizer (save_pretrained)."""
import pandas as pd
from transformers import AutoTokenizer

from mwork.io import atomic_dir, atomic_path
from mwork.organism import mix_for_rule, train_organism
from mwork.workflow import rule_script

with rule_script(snakemake) as log:  # noqa: F821
    p = snakemake.params  # noqa: F821
    corpus, texts = mix_for_rule(snakemake.input.corpus, "results/suites", p.mix, p.seed)  # noqa: F821
    tok = AutoTokenizer.from_pretrained(snakemake.input.tokenizer[0])  # noqa: F821
    heldout = {lang: [d["text"] for d in docs if d["split"] == "heldout"] for lang, docs in corpus.items()}
    model, curve = train_organism(texts, tok, p.arch, p.train, p.seed, heldout=heldout, log=log.info)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    with atomic_dir(snakemake.output.model) as tmp:  # noqa: F821
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    with atomic_path(snakemake.output.curve) as tmp:  # noqa: F821
        pd.DataFrame(curve).to_csv(tmp, index=False)
