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
