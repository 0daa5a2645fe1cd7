"""rule figure3_main: Figure 3 of the first model (the paper shows Mistral), and every model's numbers in one CSV."""
import shutil

import pandas as pd

from mwork.io import atomic_path, write_table
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    frames = [pd.read_csv(p) for p in smk.input.csv]
    write_table(pd.concat(frames, ignore_index=True), smk.output.csv)
    for src, dst in ((smk.input.png[0], smk.output.png), (smk.input.pdf[0], smk.output.pdf)):
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    log.info("figure 3 from %s", smk.input.png[0])
