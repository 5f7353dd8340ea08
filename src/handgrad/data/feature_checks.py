"""The checks a stored table encoding (:class:`~handgrad.data.features.TableEncoder`'s JSON, read
from a model file that anyone may have written) must pass before it is used."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InputError

_KEYS = {"numeric": {"fill": float, "indicator": bool, "mean": float, "scale": float},
         "boolean": {"fill": float, "indicator": bool},
         "categorical": {"categories": list, "other": bool, "missing": bool},
         "date": {"order": str, "fill": float, "indicator": bool, "mean": float, "scale": float,
                  "parts": list},
         "dropped": {"why": str}}
# keys a kind may have besides: a numeric column of numbers written with a decimal comma or a
# unit stores that form (a reader that does not know the key refuses the file)
# (and one scaled by its quantiles stores their map, handgrad.data.quantiles)
_OPTIONAL = {"numeric": {"written": dict, "quantiles": dict, "both": bool}}


def checked_column(c, i: int) -> dict[str, Any]:
    if not isinstance(c, dict) or not isinstance(c.get("name"), str) or c.get("kind") not in _KEYS:
        raise InputError(f"column {i} of the table encoding needs a text 'name' and a 'kind' of "
                         f"{sorted(_KEYS)} (a kind this handgrad does not know was written by a newer one)")
    want = _KEYS[c["kind"]]
    optional = _OPTIONAL.get(c["kind"], {})
    if not {"name", "kind", *want} <= set(c) <= {"name", "kind", *want, *optional}:
        raise InputError(f"column {c['name']!r} of the table encoding has keys {sorted(c)}, "
                         f"expected {sorted({'name', 'kind', *want})} (a key this handgrad does not "
                         "know was written by a newer one)")
    for key, typ in {**want, **{k: t for k, t in optional.items() if k in c}}.items():
        v = c[key]
        ok = (isinstance(v, bool) if typ is bool else
              isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) if typ is float
              else isinstance(v, typ))
        if not ok:
            raise InputError(f"column {c['name']!r} of the table encoding: {key} must be a "
                             f"{typ.__name__}, got {v!r}")
    if c["kind"] == "numeric" and not c["scale"] > 0:
        raise InputError(f"column {c['name']!r} of the table encoding: scale must be > 0")
    if c["kind"] == "numeric" and "written" in c:
        from .numtext import check_form

        check_form(c["written"], c["name"])
    if c["kind"] == "numeric" and c.get("both") is not None and not (c["both"] and "quantiles" in c):
        raise InputError(f"column {c['name']!r} of the table encoding: 'both' (true) goes with a quantile map")
    if c["kind"] == "numeric" and "quantiles" in c:
        from .quantiles import check_map

        check_map(c["quantiles"], c["name"])
    if c["kind"] == "date":
        from .dates import check

        check(c)
    if c["kind"] == "categorical" and (not all(isinstance(x, str) for x in c["categories"])
                                       or len(set(c["categories"])) != len(c["categories"])
                                       or not (c["categories"] or c["other"] or c["missing"])):
        raise InputError(f"column {c['name']!r} of the table encoding: categories must be distinct texts")
    return dict(c)
