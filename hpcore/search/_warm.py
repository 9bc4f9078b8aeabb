"""Earlier studies as a Bayesian search's warm start: checked, then turned into observations.

``BayesianSearch(..., warm_start=...)`` takes studies (``hpcore.load(root)``),
experiment roots, or a list of them. Before any trial runs, each is read
and checked against the new search, and its finished trials become
``(params, value to minimise)`` pairs for
:class:`~hpcore.strategies.bayesian.BayesianStrategy` (which keeps them
apart from its own trials: they are not recorded in the new study).

How an earlier trial becomes an observation of the new search:

- Its value is the new search's metric: the trial's recorded metric of
  that name (its objective or an extra metric it returned), negated when
  the new search maximises. A study that never recorded the metric is
  refused.
- Completed trials and trials stopped early (with their last value, as the
  strategy models its own) are used; failed ones carry no value.
- A key the new space searches and the earlier study did not: every
  earlier trial ran with its base config's value there, so that value is
  used; if that base config has none, or the value lies outside the new
  range, the study is refused (its trials cannot be placed).
- A key the earlier study searched and the new one does not is ignored:
  the earlier values there act as noise the model absorbs.
- Values outside the new space (a narrowed range, a dropped choice) leave
  their trial out. A key whose type changed (a number that became a
  choice), or a range or choice list with nothing in common with the new
  one, is refused with the key named.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import get_path
from ..errors import ArgumentError
from ..objectives import Objectives
from ..space import Categorical, SearchSpace
from ..space.dimensions import Dimension
from ..storage.study import StudyResults, load
from ..trial import TrialState

__all__ = ["WarmStart"]

#: What one earlier study gives: (params, value to minimise) per usable trial.
Observations = list[tuple[dict[str, Any], float]]


class WarmStart:
    """Earlier studies checked against a search, and their observations.

    Parameters
    ----------
    source : StudyResults, path, or a sequence of them
        What ``warm_start`` was given.
    space : SearchSpace
        The new search's space.
    objectives : Objectives
        The new search's objective(s).

    Raises
    ------
    ArgumentError
        For anything that cannot be used, with the study and the reason.
    """

    def __init__(self, source: Any, space: SearchSpace, objectives: Objectives) -> None:
        if objectives.multi or objectives.constraints:
            raise ArgumentError(
                f"warm_start is for one objective without constraints; this search has "
                f"{objectives.describe()}. Leave warm_start out."
            )
        self.metric = objectives.metrics[0]
        self.sign = 1.0 if objectives.modes[0] == "min" else -1.0
        self.studies = [_study(s) for s in _sources(source)]
        self.groups = [self._observations(s, space) for s in self.studies]

    @property
    def roots(self) -> list[Path]:
        return [s.root.resolve() for s in self.studies]

    def summary(self) -> list[dict[str, Any]]:
        """What was used, as stored in the new study's settings."""
        return [{"root": str(s.root), "observations": len(g)}
                for s, g in zip(self.studies, self.groups, strict=True)]

    def _observations(self, study: StudyResults, space: SearchSpace) -> Observations:
        fill = _fill_values(study, space)
        out: Observations = []
        for t in study.trials:
            if t.state not in (TrialState.COMPLETED, TrialState.STOPPED):
                continue
            value = self._value(study, t.metrics, t.value)
            if value is None:
                continue
            params = space.prune({**fill, **{k: v for k, v in t.params.items() if k in space}})
            if space.contains(params):
                out.append((params, self.sign * value))
        if not out:
            raise ArgumentError(
                f"warm_start: none of the finished trials of {study.root} lies in this search "
                f"space with a value of {self.metric!r}; there is nothing to start from."
            )
        return out

    def _value(self, study: StudyResults, metrics: Mapping[str, float],
               value: float | None) -> float | None:
        if self.metric in metrics:
            return float(metrics[self.metric])
        if study.objectives.metrics and study.objectives.metrics[0] == self.metric:
            return value
        return None


def _sources(source: Any) -> list[Any]:
    if isinstance(source, (StudyResults, str, os.PathLike)):
        return [source]
    if isinstance(source, Sequence) and source:
        for s in source:
            if not isinstance(s, (StudyResults, str, os.PathLike)):
                raise ArgumentError(_what(s))
        return list(source)
    raise ArgumentError(_what(source))


def _what(got: Any) -> str:
    return (f"warm_start must be a study (hpcore.load(root)), an experiment root, or a "
            f"non-empty list of them; got {got!r}.")


def _study(source: Any) -> StudyResults:
    if isinstance(source, StudyResults):
        return source
    try:
        return load(source, reports=False)
    except FileNotFoundError as exc:
        raise ArgumentError(f"warm_start: {exc}") from exc


def _fill_values(study: StudyResults, space: SearchSpace) -> dict[str, Any]:
    """The value every trial of ``study`` had at each key it did not search (and the new
    space does), from its base config; refuses a key that cannot be placed."""
    try:
        old = study.search_space
    except Exception as exc:  # noqa: BLE001 -- a stored space this version cannot rebuild
        raise ArgumentError(f"warm_start: the search space stored in {study.root} cannot "
                            f"be read ({exc}).") from exc
    fill: dict[str, Any] = {}
    for key, dim in space.items():
        if key in old:
            clash = _clash(dim, old[key])
            if clash:
                raise ArgumentError(f"warm_start: {study.root} cannot inform this search: "
                                    f"'{key}' {clash}.")
            continue
        try:
            value = get_path(study.base_config, key)
        except (KeyError, AttributeError, TypeError, IndexError):
            raise ArgumentError(
                f"warm_start: {study.root} did not search '{key}' and its base config has no "
                f"value there, so where its trials lie on '{key}' is unknown. Warm-start "
                "from studies that searched it or set it in their base config."
            ) from None
        if not (dim.match(value) is not None if isinstance(dim, Categorical)
                else dim.contains(value)):
            raise ArgumentError(
                f"warm_start: every trial of {study.root} ran with '{key}' = {value!r} (its "
                f"base config), outside this search's {dim!r}."
            )
        fill[key] = value
    return fill


def _clash(new: Dimension, old: Dimension) -> str | None:
    """Why values of ``old`` cannot be read as values of ``new``, or None."""
    new_cat, old_cat = isinstance(new, Categorical), isinstance(old, Categorical)
    if new_cat != old_cat:
        return f"is {type(new).__name__} here and was {type(old).__name__} there"
    if new_cat:
        if not any(new.match(c) is not None for c in old.choices):  # type: ignore[attr-defined]
            return f"has no choice in common ({new!r} here, {old!r} there)"
        return None
    if old.high < new.low or new.high < old.low:  # type: ignore[attr-defined]
        return f"has disjoint ranges ({new!r} here, {old!r} there)"
    return None
