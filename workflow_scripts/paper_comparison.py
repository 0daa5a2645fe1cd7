"""rule paper_comparison: every number of the paper's reproduced tables beside this run's value."""
import pandas as pd

from mwork.io import write_table, write_text
from mwork.paper import compare, comparison_markdown, read_paper_numbers
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    paper = read_paper_numbers(smk.input.paper)
    ours = {t: pd.read_csv(path) for t, path in zip(p.tables, smk.input.tables)}
    rows = compare(paper, ours, p.settings, p.paper_models)
    write_table(pd.DataFrame(rows), smk.output.csv)
    write_text(smk.output.md, comparison_markdown(rows))
    log.info("%d of the paper's numbers compared", len(rows))
