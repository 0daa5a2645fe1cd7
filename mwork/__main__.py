"""Command line: ``python -m mwork`` (or ``mwork``).

  mwork config check FILE...   validate a workflow config (schema + cross-references; later files layered)
  mwork corpus show FILE       documents, splits and characters of a corpus file
  mwork neurons show FILE      per-layer counts and metadata of a neuron-set file
  mwork neurons compare A B    how two neuron-set files of one model differ, per module kind
  mwork summary [--readme F]   the real models' findings from results/ (into F's results block, or printed)
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


CORPUS_FILE = ("corpus show reads a corpus's .jsonl documents file (results/corpus/<corpus>/<lang>.jsonl: one JSON "
               "object with id and text per line)")
JSON_TYPES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false",
              type(None): "null"}


def _corpus_documents(path: str) -> list[dict]:
    """The documents of a corpus file, or one sentence saying what the file is instead (the statistics
    beside it, a predictions file, a binary, ...) -- never advice to delete a good file."""
    import json
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise MworkError(f"{path}: a folder, not a file; {CORPUS_FILE}")
    if not p.exists():
        raise MworkError(f"{path}: no such file; {CORPUS_FILE}")
    if p.name.endswith(".stats.json"):  # rule corpus writes <lang>.stats.json beside <lang>.jsonl
        docs = p.with_name(p.name[:-len(".stats.json")] + ".jsonl")
        raise MworkError(f"{path}: the statistics of a corpus file (a JSON object), not its documents; corpus show "
                         f"reads the .jsonl documents file: {docs}")
    out = []
    with open(p, "rb") as f:
        for i, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = "\0"
            if "\0" in line:
                raise MworkError(f"{path}: not a text file (line {i} is binary); {CORPUS_FILE}")
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                try:  # pretty-printed JSON (a scores or statistics file): say so
                    whole = json.loads(p.read_text(encoding="utf-8"))
                except (json.JSONDecodeError, UnicodeDecodeError):
                    pass
                else:
                    raise MworkError(f"{path}: {JSON_TYPES.get(type(whole), 'a JSON object')} over several lines, "
                                     f"not a corpus documents file; {CORPUS_FILE}") from None
                if out:  # documents, then a broken line: a corpus file cut or damaged after rule corpus wrote it
                    raise MworkError(f"{path}, line {i}: not JSON ({e.msg}) after {len(out)} documents: a damaged "
                                     f"corpus file; delete it and rerun rule corpus, which writes it") from None
                raise MworkError(f"{path}, line {i}: not JSON ({e.msg}), so not a corpus documents file; "
                                 f"{CORPUS_FILE}") from None
            if not isinstance(doc, dict):
                raise MworkError(f"{path}, line {i}: {JSON_TYPES.get(type(doc), 'a value')}, not a corpus document; "
                                 f"{CORPUS_FILE}")
            if not isinstance(doc.get("text"), str):
                has = f"a record without 'text' (keys: {', '.join(doc)})" if "text" not in doc else \
                    f"its text is {JSON_TYPES.get(type(doc['text']), 'a value')}"
                raise MworkError(f"{path}, line {i}: {has}, not a corpus document; {CORPUS_FILE}")
            out.append(doc)
    return out


def _corpus_show(args) -> None:
    from collections import Counter

    docs = _corpus_documents(args.file)
    splits = Counter(str(d.get("split", "?")) for d in docs)
    chars = sum(len(d["text"]) for d in docs)
    print(f"{args.file}: {len(docs)} documents ({', '.join(f'{k} {v}' for k, v in sorted(splits.items()))}), "
          f"{chars} characters")
    for i, d in enumerate(docs[: args.head]):
        print(f"--- {d.get('id', f'document {i + 1}')} [{d.get('source', '')}]\n{d['text']}")


def _count(text: str) -> int:
    """A count of documents to print: a whole number, 0 or more (-1 printed every document but the last)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give how many documents to print "
                                         f"(0 or more)") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative; give how many documents to print (0 or more)")
    return n


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


def _summary(args) -> None:
    from .results_summary import BEGIN, END, summary_markdown, update_readme

    block = summary_markdown(args.results, args.models)
    if args.readme:
        changed = update_readme(args.readme, block)
        print(f"{args.readme}: the block between {BEGIN} and {END} {'rewritten' if changed else 'unchanged'} from "
              f"{args.results}/", file=sys.stderr)
    else:
        sys.stdout.write(block)


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
    p.add_argument("--head", type=_count, default=2, help="documents to print (0 or more)")
    p.set_defaults(func=_corpus_show)
    neurons = sub.add_parser("neurons").add_subparsers(dest="cmd", required=True)
    p = neurons.add_parser("show", help="per-layer counts of a neuron-set file")
    p.add_argument("file")
    p.set_defaults(func=_neurons_show)
    p = neurons.add_parser("compare", help="neurons only in A, only in B and in both, per module kind")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(func=_neurons_compare)
    p = sub.add_parser("summary", help="the real models' findings from results/, each with its file")
    p.add_argument("--results", default="results", help="the results folder (default: results)")
    p.add_argument("--readme", help="rewrite the block between <!-- results:begin --> and <!-- results:end --> of "
                                    "this file instead of printing")
    p.add_argument("--models", nargs="+", help="these models (default: every results/<model>/ with neurons/ or "
                                               "plnd/, the organism left out)")
    p.set_defaults(func=_summary)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except MworkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file the checks above did not foresee (permissions, a vanished file): one line
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
