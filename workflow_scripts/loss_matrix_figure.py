"""rule loss_matrix_figure: every model's loss matrix in one CSV, a summary (diagonal vs off-diagonal, with
bootstrap intervals over documents and the random draws' spread) and heatmaps."""
import pandas as pd

from mwork.figures import loss_matrix_figure
from mwork.io import write_table
from mwork.loss_matrix import summary
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    df = pd.concat([pd.read_csv(path) for path in smk.input.csv], ignore_index=True)
    write_table(df, smk.output.csv)
    # intervals resample each language's documents (the per-document losses), paired as in the cells
    docs = pd.concat([pd.read_csv(path) for path in smk.input.docs], ignore_index=True)
    s = summary(df, docs, smk.params.n_boot, smk.params.seed)
    write_table(s, smk.output.summary)
    loss_matrix_figure(df, [smk.output.png, smk.output.pdf], method=smk.params.method,
                       texts="XQuAD paragraphs:" if smk.params.domain == "xquad" else "held-out")
    log.info("\n%s", s.to_string(index=False))
