"""rule neuron_summary: per-language neuron counts and shares, and the overlap matrices of Figure 5."""
from mwork.io import write_table
from mwork.neuron_sets import neuron_summary
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    counts, overlaps = neuron_summary(dict(zip(smk.params.languages, smk.input.neurons)))
    write_table(counts, smk.output.counts)
    log.info("language-specific neurons:\n%s", counts.to_string(index=False))
    for structure in ("attn", "ffn"):
        df = overlaps[structure].reset_index(names="x")
        write_table(df, smk.output[f"overlap_{structure}"])
        log.info("overlap(x, y) = |N_x & N_y| / |N_y|, %s:\n%s", structure, overlaps[structure].round(3).to_string())
