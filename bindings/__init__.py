"""Adapters that embed hpcore in other HPO tools (Optuna, Ray Tune, MLflow).

Each adapter uses only hpcore's public API and imports its heavy
dependency lazily.
"""
