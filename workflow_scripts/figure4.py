"""rule figure4: the mean change of the tuned languages' task scores per number of tuning documents (and
Random, LoRA at the control size), with paired bootstrap CIs; English scored under the same tunings."""
from mwork.config import enhance_grid
from mwork.enhance_tables import figure4_table, read_tunings
from mwork.figures import figure4_plot
from mwork.io import write_table
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    scores = read_tunings(list(smk.input.original) + list(smk.input.scores))
    grids = {lang: enhance_grid(p.enhance, lang) for lang in p.languages if lang in p.enhance["languages"]}
    df = figure4_table(scores, p.models, p.languages, p.tasks, grids, seed=p.seed)
    write_table(df, smk.output.csv)
    figure4_plot(df, [smk.output.png, smk.output.pdf])
    avg = df[df["language"] == "avg"]
    log.info("mean change over %s (points; task all = the mean over the tasks):\n%s", ", ".join(p.languages),
             avg.pivot_table(index="tuning", columns="task", values="change").to_string())
    log.info("English and the other evaluation languages under the same tunings, all tasks:\n%s",
             avg[avg["task"] == "all"].set_index("tuning")[[c for c in ("en_change", "others_change") if c in avg]]
             .to_string())
