"""A model's identity, independent of where it was loaded from: what ties a neuron file or an enhancement
delta to the model it was made on."""

from __future__ import annotations

import hashlib
import json


def model_fingerprint(model) -> str:
    """A short hash of a model's config and its weights' names, shapes and first values.

    Independent of where the model was loaded from; ties neuron files to the model they came from."""
    cfg = model.config.to_dict()
    for key in ("_name_or_path", "transformers_version", "dtype", "torch_dtype"):  # where/how it was loaded
        cfg.pop(key, None)
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode())
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(p.shape)).encode())
        h.update(p.detach().flatten()[:16].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]
