"""Reading a stored study back, without running anything: :func:`load`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import load_model
from ..objectives import BestOfTrials, Objectives
from ..space import SearchSpace
from ..trial import FrozenTrial, to_records
from .database import Storage
from .folders import Tracker

__all__ = ["StudyResults", "load"]


@dataclass
class StudyResults(BestOfTrials):
    """A study as stored under an experiment root.

    Attributes
    ----------
    root : pathlib.Path
    name, strategy, metric, mode, seed
        As recorded when the study was created (``metric`` and ``mode`` of
        the first objective).
    objectives : Objectives
        Every objective and constraint (:mod:`hpcore.objectives`).
    settings : dict
        The search's settings (acquisition, n_initial_points, ...).
    base_config : object
        The base config, as JSON (dataclasses become dicts).
    space : dict
        Each key's dimension, as JSON (:attr:`search_space` rebuilds it).
    trials : list of FrozenTrial
        Every trial, by id, with its reports. A trial a dead driver left
        running shows as ``interrupted``.
    """

    root: Path
    name: str
    strategy: str
    settings: dict[str, Any]
    seed: int | None
    metric: str | None
    mode: str
    base_config: Any
    space: dict[str, Any]
    trials: list[FrozenTrial]
    objectives: Objectives = Objectives()

    @property
    def best_value(self) -> float | None:
        best = self.best_trial
        return None if best is None else best.value

    @property
    def search_space(self) -> SearchSpace:
        """The stored space as a :class:`~hpcore.space.SearchSpace` (to sample, encode, resume)."""
        return SearchSpace.from_json(self.space)

    @property
    def best_dir(self) -> Path | None:
        """``<root>/best`` (the best trial's folder), when trials were tracked."""
        path = self.root / "best"
        return path if path.exists() else None

    def trial_dir(self, trial_id: int) -> Path:
        """The folder of a trial (config, metrics, result, log, model)."""
        return Tracker(self.root).trial_dir(trial_id)

    def load_best_model(self, model: Any = None) -> Any:
        """The best trial's saved model (see :func:`hpcore.storage.load_model`).

        A pickled model (``model.pkl``) runs the pickle's code as it loads: load
        only from roots you trust. Torch models load with ``weights_only=True``.
        """
        if self.best_dir is None:
            raise FileNotFoundError(f"{self.root} has no best/ folder (no completed, tracked trial)")
        return load_model(self.best_dir, model)

    def counts(self) -> dict[str, int]:
        """How many trials are in each state."""
        out: dict[str, int] = {}
        for t in self.trials:
            out[str(t.state)] = out.get(str(t.state), 0) + 1
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-able dict per trial (see :func:`hpcore.trial.to_records`)."""
        return to_records(self.trials)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per trial: id, state, value, ``params.*``, ``metrics.*``."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "to_dataframe() needs pandas: pip install pandas (or use to_records())"
            ) from exc
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "trial_id": t.trial_id,
                "state": str(t.state),
                "value": t.value,
                "start": t.start,
                "end": t.end,
                "duration": t.duration,
                "attempts": t.attempts,
                "error": t.error,
            }
            row.update({f"params.{k}": v for k, v in t.params.items()})
            row.update({f"metrics.{k}": v for k, v in t.metrics.items()})
            rows.append(row)
        return pd.DataFrame(rows).set_index("trial_id") if rows else pd.DataFrame()


def load(experiment_root: str | os.PathLike, *, reports: bool = True) -> StudyResults:
    """Read the study stored under ``experiment_root`` (nothing is run or changed).

    Safe while a search is running there: the database is opened read-only.
    ``reports=False`` leaves the trials' learning curves (``FrozenTrial.reports``)
    empty: a study of 100,000 trials with long curves loads several times faster.

    Raises
    ------
    FileNotFoundError
        No study there.
    """
    root = Path(experiment_root)
    with Storage(root, lock=False, readonly=True) as store:
        info = store.load_study()
        if info is None:
            raise FileNotFoundError(f"no hpcore study in {root}")
        trials = store.trials(with_reports=reports)
    return StudyResults(
        root=root,
        name=info.name,
        strategy=info.strategy,
        settings=info.settings,
        seed=info.seed,
        metric=info.metric,
        mode=info.mode,
        base_config=info.base_config,
        space=info.space,
        trials=trials,
        objectives=Objectives.from_json(info.objectives, info.metric, info.mode),
    )
