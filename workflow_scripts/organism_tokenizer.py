"""rule organism_tokenizer: byte-level BPE on the training split of all languages and the suites."""
from mwork.io import atomic_dir
from mwork.organism import mix_for_rule, suites_root, train_tokenizer
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    p = snakemake.params
    # every training text once (no repeats): the tokenizer sees each language in its natural share
    _, texts = mix_for_rule(snakemake.input.corpus, suites_root(snakemake.input.suites),
                            {**p.mix, "corpus_repeats": {}, "world_repeats": 1}, p.seed)
    with atomic_dir(snakemake.output[0]) as tmp:
        tok = train_tokenizer([t for _, _, t in texts], p.tokenizer["vocab_size"], tmp)
    log.info("tokenizer: %d tokens trained on %d texts", len(tok), len(texts))
