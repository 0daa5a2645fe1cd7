"""Local dataset repositories laid out like the hub's: one parquet file per config and split, and a
README whose YAML header lists the configs (what `datasets.load_dataset(path, name)` reads)."""


def hub_fixture(root, configs: dict):
    """configs: {config_name: {split: [records]}} -> a dataset repo at ``root``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = []
    for name, splits in configs.items():
        lines.append(f"- config_name: {name}\n  data_files:")
        for split, rows in splits.items():
            d = root / name
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows), d / f"{split}-00000-of-00001.parquet")
            lines.append(f"  - split: {split}\n    path: {name}/{split}-*")
    (root / "README.md").write_text("---\nconfigs:\n" + "\n".join(lines) + "\n---\n", encoding="utf-8")
    return root


def xquad_files(folder, langs, n_paragraphs: int, questions: int = 2):
    """XQuAD's upstream layout (``xquad.<lang>.json``, SQuAD v1.1) in ``folder``: one article of
    ``n_paragraphs`` paragraphs per language, aligned by question id (``p<k>q<j>``), each paragraph's text
    naming its language and number."""
    import json
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        paragraphs = []
        for k in range(n_paragraphs):
            ctx = f"<{lang}> paragraph {k} of the {lang} article, about the city number {k}."
            paragraphs.append({"context": ctx, "qas": [
                {"id": f"p{k}q{j}", "question": f"<{lang}> question {j} on {k}?",
                 "answers": [{"text": f"number {k}", "answer_start": ctx.find(f"number {k}")}]}
                for j in range(questions)]})
        doc = {"version": "1.1", "data": [{"title": "Article", "paragraphs": paragraphs}]}
        (folder / f"xquad.{lang}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return folder
