"""Adapters that embed hpcore in other HPO tools (Optuna, Ray Tune, MLflow).

Each adapter uses only hpcore's public API and imports its heavy
dependency lazily.

The adapters live in :mod:`hpcore.bindings` and are documented under that
name (``from hpcore.bindings.optuna import HpcoreSampler``): a top-level
package called ``bindings`` is shadowed by any ``bindings/`` folder of the
user's own project on ``sys.path``. The modules here re-export them
(``bindings.optuna`` is ``hpcore.bindings.optuna``).
"""
