"""Script of the rules that later issues implement: fail loudly with what is missing, never write a fake output."""
from mwork.workflow import not_implemented

not_implemented(snakemake, snakemake.params.issue)  # noqa: F821
