"""rule figure3_main: Figure 3 of the first model (the paper shows Mistral), and every model's numbers in one CSV."""
import shutil

import pandas as pd

from mwork.io import atomic_path, write_table
from mwork.workflow import rule_script

with rule_script(snakemake) as log:  # noqa: F821
    smk = snakemake  # noqa: F821
    pngs = list(smk.input)
    frames = [pd.read_csv(p[: -len(".png")] + ".csv") for p in pngs]
    write_table(pd.concat(frames, ignore_index=True), smk.output.csv)
    for src, dst in ((pngs[0], smk.output.png), (pngs[0][: -len(".png")] + ".pdf", smk.output.pdf)):
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    log.info("figure 3 from %s", pngs[0])
