"""Tasks: records, localized prompts, the offline suites that stand in for MGSM/XQuAD/X-CSQA/XL-Sum."""
