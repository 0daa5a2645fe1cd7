"""rule organism_train: train the tiny Llama and save it with its tokenizer (save_pretrained)."""
import pandas as pd
from transformers import AutoTokenizer

from mwork.io import atomic_dir, atomic_path
from mwork.organism import mix_for_rule, suites_root, train_organism
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    p = snakemake.params
    corpus, texts = mix_for_rule(snakemake.input.corpus, suites_root(snakemake.input.suites), p.mix, p.seed)
    tok = AutoTokenizer.from_pretrained(snakemake.input.tokenizer[0])
    heldout = {lang: [d["text"] for d in docs if d["split"] == "heldout"] for lang, docs in corpus.items()}
    model, curve = train_organism(texts, tok, p.arch, p.train, p.seed, heldout=heldout, log=log.info)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    with atomic_dir(snakemake.output.model) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    with atomic_path(snakemake.output.curve) as tmp:
        pd.DataFrame(curve).to_csv(tmp, index=False)
