"""Command line: ``python -m mwork`` (or ``mwork``).

  mwork config check FILE...   validate a workflow config (schema + cross-references; later files layered)
  mwork corpus show FILE       documents, splits and characters of a corpus file
  mwork neurons show FILE      per-layer counts and metadata of a neuron-set file
  mwork neurons compare A B    how two neuron-set files of one model differ, per module kind
"""

from __future__ import annotations

import argparse
import sys

from .errors import MworkError


def _config_check(args) -> None:
    from .config import load_config

    cfg = load_config(*args.file)
    print(f"{' + '.join(args.file)}: ok ({len(cfg['languages'])} languages, models {', '.join(cfg['run_models'])}, "
          f"corpus {cfg['corpus']})")


def _corpus_show(args) -> None:
    from collections import Counter

    from .io import read_jsonl

    docs = read_jsonl(args.file, made_by="corpus")
    splits = Counter(d.get("split", "?") for d in docs)
    chars = sum(len(d["text"]) for d in docs)
    print(f"{args.file}: {len(docs)} documents ({', '.join(f'{k} {v}' for k, v in sorted(splits.items()))}), "
          f"{chars} characters")
    for d in docs[: args.head]:
        print(f"--- {d['id']} [{d.get('source', '')}]\n{d['text']}")


def _neurons_show(args) -> None:
    from .neuron_sets import per_layer_counts
    from .neurons import load_neurons

    masks, meta = load_neurons(args.file)
    for k in sorted(meta):
        print(f"{k}: {meta[k]}")
    counts = per_layer_counts(masks)
    print(counts.to_string())
    total = sum(int(m.sum()) for m in masks.values())
    size = sum(m.numel() for m in masks.values())
    print(f"total: {total} of {size} neurons ({100 * total / size:.3f}%)")


def _neurons_compare(args) -> None:
    from .neuron_sets import compare_sets
    from .neurons import load_neurons

    a, meta_a = load_neurons(args.a)
    b, meta_b = load_neurons(args.b)
    if meta_a.get("model_fingerprint") != meta_b.get("model_fingerprint"):
        raise MworkError(f"{args.a} and {args.b} are neuron files of different models "
                         f"({meta_a.get('model')!r}, {meta_b.get('model')!r}); compare files of one model")
    print(compare_sets(a, b).to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mwork", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="group", required=True)
    cfg = sub.add_parser("config").add_subparsers(dest="cmd", required=True)
    p = cfg.add_parser("check", help="validate a workflow config (later files layered over earlier ones)")
    p.add_argument("file", nargs="+")
    p.set_defaults(func=_config_check)
    corpus = sub.add_parser("corpus").add_subparsers(dest="cmd", required=True)
    p = corpus.add_parser("show", help="summarize a corpus file")
    p.add_argument("file")
    p.add_argument("--head", type=int, default=2, help="documents to print")
    p.set_defaults(func=_corpus_show)
    neurons = sub.add_parser("neurons").add_subparsers(dest="cmd", required=True)
    p = neurons.add_parser("show", help="per-layer counts of a neuron-set file")
    p.add_argument("file")
    p.set_defaults(func=_neurons_show)
    p = neurons.add_parser("compare", help="neurons only in A, only in B and in both, per module kind")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(func=_neurons_compare)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except MworkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
