"""rule organism_tokenizer: byte-level BPE on the training split of all languages and the suites."""
from mwork.io import atomic_dir
from mwork.organism import mix_for_rule, train_tokenizer
from mwork.workflow import rule_script

with rule_script(snakemake) as log:  # noqa: F821
    p = snakemake.params  # noqa: F821
    # every training text once (no repeats): the tokenizer sees each language in its natural share
    _, texts = mix_for_rule(snakemake.input.corpus, "results/suites",  # noqa: F821
                            {**p.mix, "corpus_repeats": {}, "world_repeats": 1}, p.seed)
    with atomic_dir(snakemake.output[0]) as tmp:  # noqa: F821
        tok = train_tokenizer([t for _, _, t in texts], p.tokenizer["vocab_size"], tmp)
    log.info("tokenizer: %d tokens trained on %d texts", len(tok), len(texts))
