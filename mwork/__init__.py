"""mwork: reproduce 'How do Large Language Models Handle Multilingualism?' (Zhao et al., NeurIPS 2024).

The library holds all logic; the Snakemake rules under rules/ call thin scripts that call into it.
"""

__version__ = "0.1.0"
