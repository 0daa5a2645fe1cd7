"""rule lens_stages: MWork stage boundaries read off the logit lens (Figure 1) of one model."""
import pandas as pd

from mwork.io import write_json
from mwork.known_lens import known_stages, summarize_known
from mwork.lens import lens_stages
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    counts = pd.read_csv(smk.input.counts)
    if smk.params.known:  # the known-token lens's item probabilities
        out = known_stages(summarize_known(counts, seed=smk.params.seed), smk.params.min_prob)
    else:  # the CLD3 lens's counts
        out = lens_stages(counts, list(smk.params.languages))
    write_json(smk.output.stages, {"model": smk.wildcards.model, **out})
    log.info("%s: under %s, gen %s of %s layers (%s) %s", smk.wildcards.model, out["under"], out["gen"],
             out["layers"], out["rule"], out["note"])
