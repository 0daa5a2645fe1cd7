"""rule table6: Original, Random, LoRA and Lang-Spec at the control size in the low-resource languages,
averaged over the tasks, with English averaged over the tuned languages' models."""
from pathlib import Path

from mwork.config import enhance_grid
from mwork.corpus import read_corpus
from mwork.enhance_tables import read_tunings, table6
from mwork.io import write_table, write_text
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    scores = read_tunings(list(smk.input.original) + list(smk.input.scores))
    grids = {lang: enhance_grid(p.enhance, lang) for lang in p.tuned}
    train_docs = {Path(f).stem: sum(d["split"] == "train" for d in read_corpus(f)) for f in smk.input.corpus}
    df, md = table6(scores, p.models, p.languages, p.tuned, p.tasks, grids, p.enhance["control_size"], train_docs,
                    seed=p.seed)
    write_table(df, smk.output.csv)
    write_text(smk.output.md, md)
    log.info("\n%s", md)
