"""A search in MLflow: ``MLflowTracker``.

::

    from hpcore.bindings.mlflow import MLflowTracker

    search.run(train_fn, experiment_root="runs/search")
    MLflowTracker(tracking_uri="sqlite:///mlflow.db").log_search(search, "runs/search")
    # or a stored study:  tracker.log_search(hpcore.load("runs/search"))

What is logged
--------------
One *parent* run per search, and one *child* run per trial, nested under
it (the child's ``mlflow.parentRunId`` tag, which the MLflow UI shows as a
tree):

parent run
    params ``strategy``, ``metric``, ``mode``, ``seed``, ``n_trials`` and
    the search's settings (``acquisition``, ``n_initial_points``, ...),
    one ``space.<key>`` param per dimension (its ``repr``) and the whole
    space as the artifact ``search_space.json``; metrics ``best_<metric>``
    (at step *k*: the best value after *k* finished trials, a
    best-so-far curve), ``n_trials`` and ``n_<state>`` per trial state;
    tags ``hpcore.best_trial_id``, ``hpcore.experiment_root``; the best
    trial's saved model (``model.pt`` or ``model.pkl`` of its trial folder)
    under the artifact folder ``best_model/``, when trial folders exist.
child run (``trial-00007``)
    params: the trial's searched values, by dotted key; metrics: every
    ``trial.report(step, value, **metrics)`` as a history (``value`` under
    the search's metric name, at ``step``, stamped with the report's
    time), then the final value and every returned metric at the last
    reported step (so MLflow's latest value is the final one) and
    ``duration_s``; tags ``hpcore.state``, ``hpcore.trial_id``,
    ``hpcore.attempts``, ``hpcore.error`` (failed trials); start and end
    time from the trial; status ``FINISHED`` (completed, stopped early),
    ``FAILED`` (failed, timed out) or ``KILLED`` (interrupted).

Two ways in
-----------
:meth:`MLflowTracker.log_search` logs a finished search
(:class:`hpcore.BaseSearch`) or a stored study (:func:`hpcore.load`) in one
go. The callback methods (:meth:`~MLflowTracker.on_search_start`,
:meth:`~MLflowTracker.on_trial_end`, :meth:`~MLflowTracker.on_search_end`)
log while a search runs, a trial as soon as it ends; ``log_search`` is
built on them.

MLflow is driven through an explicit :class:`mlflow.MlflowClient`, never
the fluent ``mlflow.start_run`` stack, so the tracker neither needs nor
disturbs a run the user has active.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param

from hpcore.search.callbacks import SearchCallback
from hpcore.trial import FrozenTrial, TrialState

__all__ = ["MLflowTracker", "SearchCallback"]

#: MLflow rejects longer param values in some versions (500 characters before 2.x).
_MAX_PARAM = 500
_MAX_TAG = 5000
#: Items per ``log_batch`` call (MLflow's limit is 1000 metrics, 100 params).
_BATCH_METRICS = 900
_BATCH_PARAMS = 90

_STATUS = {
    TrialState.COMPLETED: "FINISHED",
    TrialState.STOPPED: "FINISHED",
    TrialState.FAILED: "FAILED",
    TrialState.TIMED_OUT: "FAILED",
    TrialState.INTERRUPTED: "KILLED",
}


class _Source:
    """What the tracker needs of a search or a stored study, read the same way."""

    def __init__(self, obj: Any) -> None:
        if hasattr(obj, "space") and hasattr(obj, "mode") and hasattr(obj, "trials"):
            self.trials: list[FrozenTrial] = list(obj.trials)
        else:
            raise TypeError(
                "MLflowTracker logs an hpcore search (BayesianSearch, ...) or a stored study "
                f"(hpcore.load(root)), got {type(obj).__name__}."
            )
        self.metric: str | None = obj.metric
        self.mode: str = obj.mode
        self.root: Path | None = getattr(obj, "root", None)
        space = obj.space
        if isinstance(obj, _stored_study_type()):
            self.strategy = obj.strategy
            self.seed = obj.seed
            self.settings = dict(obj.settings)
            self.space_json = dict(space)
            self.space_repr = {k: json.dumps(v, sort_keys=True) for k, v in space.items()}
            self.n_trials = self.settings.pop("n_trials", None)
        else:
            self.strategy = type(obj).__name__
            self.seed = obj.random_state
            self.n_trials = obj.n_trials
            self.space_json = space.to_json()
            self.space_repr = {k: repr(d) for k, d in space.items()}
            self.settings = {
                k: v
                for k, v in vars(obj).items()
                if not k.startswith("_")
                and k not in ("base_config", "space", "metric", "mode", "random_state", "trials",
                              "n_trials", "stop_reason")
                and isinstance(v, (int, float, str, bool, type(None)))
            }

    @property
    def metric_name(self) -> str:
        return self.metric or "value"

    def better(self, a: FrozenTrial, b: FrozenTrial | None) -> bool:
        """Whether ``a`` beats ``b`` (ties go to the earlier trial, as ``best_trial``)."""
        if not a.state.can_be_best or a.value is None or not math.isfinite(a.value):
            return False
        if b is None:
            return True
        sign = 1.0 if self.mode == "min" else -1.0
        x, y = sign * a.value, sign * b.value  # type: ignore[operator]
        return x < y or (x == y and a.trial_id < b.trial_id)


def _stored_study_type() -> type:
    from hpcore.storage import StudyResults

    return StudyResults


def _text(value: Any, limit: int) -> str:
    s = value if isinstance(value, str) else repr(value) if not isinstance(value, (int, float)) \
        else str(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _ms(t: float | None) -> int | None:
    return None if t is None else int(round(t * 1000))


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


class MLflowTracker(SearchCallback):
    """Logs an hpcore search to MLflow: a parent run, a nested run per trial.

    Parameters
    ----------
    tracking_uri : str, optional
        Where to log (``"sqlite:///mlflow.db"``, ``"http://host:5000"``,
        ``"databricks"``); default: MLflow's own (``MLFLOW_TRACKING_URI``).
        MLflow 3 refuses a ``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE=true``.
    experiment_name : str
        The MLflow experiment; created when missing.
    run_name : str, optional
        Name of the parent run; default ``"<Strategy>-<metric>"``.
    log_models : bool
        Log the best trial's saved model as an artifact of the parent run
        (needs trial folders: ``run(..., experiment_root=...)``).
    artifact_location : str, optional
        Artifact root of the experiment when this tracker creates it
        (ignored for an existing experiment).

    Attributes
    ----------
    parent_run_id : str or None
        The parent run of the search being (or last) logged.
    trial_run_ids : dict of int to str
        The child run of each trial logged, by trial id.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = "hpcore",
        run_name: str | None = None,
        log_models: bool = True,
        *,
        artifact_location: str | None = None,
    ) -> None:
        if not isinstance(experiment_name, str) or not experiment_name:
            raise ValueError(
                f"MLflowTracker: `experiment_name` must be a non-empty string, got {experiment_name!r}."
            )
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.log_models = bool(log_models)
        self.artifact_location = artifact_location
        self.parent_run_id: str | None = None
        self.trial_run_ids: dict[int, str] = {}
        self._client: Any = None
        self._source: _Source | None = None
        self._root: Path | None = None
        self._best: FrozenTrial | None = None
        self._n_finished = 0
        self._defer_models = False
        self._experiment = ""

    # -- MLflow ---------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The :class:`mlflow.MlflowClient` this tracker logs through."""
        if self._client is None:
            self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def _experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(self.experiment_name)
        if exp is not None:
            return exp.experiment_id
        try:
            return self.client.create_experiment(
                self.experiment_name, artifact_location=self.artifact_location
            )
        except mlflow.exceptions.MlflowException:  # created meanwhile by another process
            exp = self.client.get_experiment_by_name(self.experiment_name)
            if exp is None:
                raise
            return exp.experiment_id

    def _log_batch(
        self,
        run_id: str,
        metrics: list[Any] = (),  # type: ignore[assignment]
        params: list[Any] = (),  # type: ignore[assignment]
        tags: list[Any] = (),  # type: ignore[assignment]
    ) -> None:
        for chunk in _chunks(list(params), _BATCH_PARAMS):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks(list(metrics), _BATCH_METRICS):
            self.client.log_batch(run_id, metrics=chunk)
        if tags:
            self.client.log_batch(run_id, tags=list(tags))

    # -- the callbacks ----------------------------------------------------------------
    def on_search_start(
        self, search: Any, experiment_root: str | os.PathLike | None = None
    ) -> None:
        """Create the parent run and log the search's settings and space."""
        src = _Source(search)
        self._source = src
        self._root = Path(experiment_root) if experiment_root is not None else src.root
        self._best = None
        self._n_finished = 0
        self.trial_run_ids = {}
        name = self.run_name or f"{src.strategy}-{src.metric_name}"
        tags = {"hpcore.strategy": src.strategy}
        if self._root is not None:
            tags["hpcore.experiment_root"] = str(Path(self._root).resolve())
        self._experiment = self._experiment_id()
        run = self.client.create_run(
            self._experiment, start_time=_ms(time.time()), tags=tags, run_name=name
        )
        self.parent_run_id = run.info.run_id
        params = {
            "strategy": src.strategy,
            "metric": src.metric,
            "mode": src.mode,
            "seed": src.seed,
            "n_trials": src.n_trials,
        }
        for k, v in src.settings.items():
            params.setdefault(k, v)
        for k, r in src.space_repr.items():
            params[f"space.{k}"] = r
        self._log_batch(
            self.parent_run_id,
            params=[Param(k, _text(v, _MAX_PARAM)) for k, v in params.items()],
        )
        self.client.log_dict(self.parent_run_id, src.space_json, "search_space.json")

    def on_trial_end(self, search: Any, record: FrozenTrial) -> None:
        """Log ``record`` as a child run; update the parent's best value (and model)."""
        if self.parent_run_id is None or self._source is None:
            self.on_search_start(search, None)
        src = self._source
        assert src is not None and self.parent_run_id is not None
        run_id = self._log_trial(src, record)
        self.trial_run_ids[record.trial_id] = run_id
        self._n_finished += 1
        if src.better(record, self._best):
            self._best = record
            self.client.set_tag(self.parent_run_id, "hpcore.best_trial_id", str(record.trial_id))
            if not self._defer_models:
                self._log_model(record.trial_id)
        if self._best is not None:
            self.client.log_metric(
                self.parent_run_id, f"best_{src.metric_name}", float(self._best.value),  # type: ignore[arg-type]
                timestamp=_ms(record.end or time.time()), step=self._n_finished,
            )

    def on_search_end(self, search: Any, error: BaseException | None = None) -> None:
        """Log the trial counts, the best model (if deferred) and end the parent run."""
        if self.parent_run_id is None or self._source is None:
            return
        trials = list(search.trials)
        counts: dict[str, int] = {}
        for t in trials:
            counts[str(t.state)] = counts.get(str(t.state), 0) + 1
        now = _ms(time.time())
        metrics = [Metric("n_trials", float(len(trials)), now, 0)]
        metrics += [Metric(f"n_{state}", float(n), now, 0) for state, n in sorted(counts.items())]
        self._log_batch(self.parent_run_id, metrics=metrics)
        if self._defer_models and self._best is not None:
            self._log_model(self._best.trial_id)
        if error is None:
            status = "FINISHED"
        elif isinstance(error, (KeyboardInterrupt, SystemExit)):
            status = "KILLED"
        else:
            status = "FAILED"
            self.client.set_tag(self.parent_run_id, "hpcore.error", _text(
                f"{type(error).__name__}: {error}", _MAX_TAG))
        self.client.set_terminated(self.parent_run_id, status, end_time=now)

    # -- in one go ---------------------------------------------------------------------
    def log_search(
        self, search: Any, experiment_root: str | os.PathLike | None = None
    ) -> str:
        """Log a finished search or a stored study; returns the parent run's id.

        Parameters
        ----------
        search : BaseSearch or hpcore.storage.StudyResults
            A search after ``run`` (its ``trials``), or ``hpcore.load(root)``.
        experiment_root : path, optional
            Where the search kept its trial folders (for the best model); a
            stored study knows its own root.

        Trials are logged in the order they ended; trials still running
        (``interrupted`` in a stored study) are logged with status ``KILLED``.
        """
        self._defer_models = True
        try:
            self.on_search_start(search, experiment_root)
            trials = sorted(
                search.trials,
                key=lambda t: (t.end if t.end is not None else math.inf, t.trial_id),
            )
            for record in trials:
                self.on_trial_end(search, record)
            self.on_search_end(search)
        finally:
            self._defer_models = False
        assert self.parent_run_id is not None
        return self.parent_run_id

    # -- pieces ------------------------------------------------------------------------
    def _log_trial(self, src: _Source, t: FrozenTrial) -> str:
        tags = {
            "mlflow.parentRunId": self.parent_run_id,
            "hpcore.trial_id": str(t.trial_id),
            "hpcore.state": str(t.state),
            "hpcore.attempts": str(t.attempts),
        }
        if t.error:
            tags["hpcore.error"] = _text(t.error, _MAX_TAG)
        run = self.client.create_run(
            self._experiment,
            start_time=_ms(t.start) or _ms(time.time()),
            tags=tags,
            run_name=f"trial-{t.trial_id:05d}",
        )
        run_id = run.info.run_id
        end = t.end if t.end is not None else time.time()
        params = [Param(k, _text(v, _MAX_PARAM)) for k, v in t.params.items()]
        metrics = []
        last_step = 0
        for entry in t.reports:
            step = int(entry.get("step", 0))
            last_step = max(last_step, step)
            stamp = _ms(entry.get("time")) or _ms(end)
            for key, value in entry.items():
                if key in ("step", "time"):
                    continue
                name = src.metric_name if key == "value" else str(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    metrics.append(Metric(name, float(value), stamp, step))
        final = dict(t.metrics)
        if t.value is not None:
            final[src.metric_name] = t.value
        for key, value in final.items():
            if value is not None and math.isfinite(value):
                metrics.append(Metric(str(key), float(value), _ms(end), last_step))
        if t.duration is not None:
            metrics.append(Metric("duration_s", float(t.duration), _ms(end), 0))
        self._log_batch(run_id, metrics=metrics, params=params)
        status = _STATUS.get(t.state, "KILLED")
        self.client.set_terminated(run_id, status, end_time=_ms(end))
        return run_id

    def _log_model(self, trial_id: int) -> None:
        if not self.log_models or self._root is None:
            return
        from hpcore.storage import MODEL_PICKLE, MODEL_TORCH, Tracker

        folder = Tracker(self._root).trial_dir(trial_id)
        for name in (MODEL_TORCH, MODEL_PICKLE):
            path = folder / name
            if path.is_file():
                self.client.log_artifact(self.parent_run_id, str(path), artifact_path="best_model")
                self.client.set_tag(self.parent_run_id, "hpcore.best_model", f"best_model/{name}")
                return
