"""The benchmark reports: the peers' plots and the seed's strategy table on the digits task."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import strategy_table as st  # noqa: E402

matplotlib = pytest.importorskip("matplotlib")

from benchmarks.peers import plot as peers_plot  # noqa: E402


def _regret_results() -> dict:
    rng = np.random.default_rng(0)
    curve = lambda scale: np.minimum.accumulate(scale * rng.random((5, 12)), axis=1).tolist()  # noqa: E731
    return {
        "branin": {"hpcore": {"curves": curve(1.0)}, "random": {"curves": curve(10.0)}},
        "levy10": {"hpcore": {"curves": curve(3.0)}, "optuna-gp": {"curves": curve(4.0)}},
        # An optimum hit exactly (regret 0) must not break the log axis.
        "zero": {"hpcore": {"curves": [[1.0] * 6 + [0.0] * 6] * 3}},
    }


def test_regret_plot_has_a_panel_per_function_and_a_line_per_contestant(tmp_path):
    results = _regret_results()
    fig = peers_plot.plot_regret(results)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["branin", "levy10", "zero"]
    assert [len(ax.lines) for ax in visible] == [2, 2, 1]
    # hpcore is drawn last (on top); its line is the median over seeds.
    line = visible[0].lines[-1]
    assert line.get_label().startswith("hpcore (5 seeds)")
    expected = np.median(np.asarray(results["branin"]["hpcore"]["curves"]), axis=0)
    np.testing.assert_allclose(line.get_ydata(), expected)
    assert np.all(visible[2].lines[0].get_ydata() > 0)
    fig.savefig(tmp_path / "regret.png")
    assert (tmp_path / "regret.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_latency_plot_skips_unmeasured_cells():
    table = {
        "n=50,d=2": {"hpcore": {"steady": 0.005}, "skopt": {"steady": 0.1}},
        "n=500,d=2": {"hpcore": {"steady": 0.03}, "skopt": "skipped"},
        "n=50,d=10": {"hpcore": {"steady": 0.007}},
    }
    fig = peers_plot.plot_latency(table)
    assert [ax.get_title() for ax in fig.axes] == ["d = 2", "d = 10"]
    by_label = {line.get_label(): line for line in fig.axes[0].lines}
    assert list(by_label["hpcore"].get_xdata()) == [50, 500]
    assert list(by_label["skopt"].get_xdata()) == [50]
    with pytest.raises(ValueError, match="no measured step"):
        peers_plot.plot_latency({"n=50,d=2": {"skopt": "skipped"}})


def test_the_stored_peer_results_plot(tmp_path):
    assert peers_plot.main(["--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"regret.png", "latency.png"}
    # Drawn without pyplot: no figure is left open in the process.
    assert "matplotlib.pyplot" not in sys.modules or not _pyplot_figures()


def _pyplot_figures():
    import matplotlib.pyplot as plt

    return plt.get_fignums()


def test_strategy_table_grid_is_the_whole_budget():
    search = st.make_search("grid", trials=20, epochs=1, seed=3)
    assert search._make_strategy().size == 20
    assert search.base_config["seed"] == 3
    bayes = st.make_search("bayesian", trials=20, epochs=1, seed=0)
    assert bayes._make_strategy().n_initial_points == 6
    assert len(bayes.space) == 7
    assert list(bayes.space.keys()) == list(st.make_search("random", 20, 1, 0).space.keys())


def test_strategy_table_counts_wins_and_trials_to_best():
    def rec(best, ttb, wall=1.0):
        values = [1.0] * 9 + [best + 0.5] + [best] * 10  # best + 0.5 after half the budget
        return {"best_val_loss": best, "trials_to_best": ttb, "n_trials": 20, "wall_s": wall,
                "compute_s": 2 * wall, "values": values}

    runs = {"grid": [rec(0.3, 20), rec(0.2, 7)], "random": [rec(0.1, 5), rec(0.25, 9)]}
    table = st.summary_table(runs)
    assert ("| grid | 0.2500 [0.2250, 0.2750] | 0.7500 | 0.2000 | 1/2 | 13.5/20 (7-20) "
            "| 1 s (1-1) | 2 s |") in table
    assert "| random | 0.1750 [0.1375, 0.2125] | 0.6750 | 0.1000 | 1/2 | 7/20 (5-9) |" in table
    assert st.per_seed_table(runs).splitlines()[2] == "| 0 | 0.3000 (20) | 0.1000 (5) |"


def test_strategy_table_runs_end_to_end(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    argv = ["--seeds", "2", "--trials", "3", "--epochs", "1", "--n-jobs", "1",
            "--out", str(tmp_path)]
    assert st.main(argv) == 0
    data = json.loads((tmp_path / "strategy_table.json").read_text())
    assert set(data["runs"]) == {"grid", "random", "bayesian"}
    for runs in data["runs"].values():
        assert len(runs) == 2
        for run in runs:
            assert run["n_trials"] == 3 and len(run["values"]) == 3
            assert run["best_val_loss"] == min(run["values"])
            assert run["values"][run["trials_to_best"] - 1] == run["best_val_loss"]
    # Seeds change the networks' initialisation, so even the grid's runs differ.
    grid = data["runs"]["grid"]
    assert grid[0]["values"] != grid[1]["values"]
    for run in data["runs"]["random"]:
        assert len(run["trial_seconds"]) == 3 and run["compute_s"] == sum(run["trial_seconds"]) > 0
    png = tmp_path / "strategy_table.png"
    assert png.stat().st_size > 0
    # Every run is a stored study, and the plot can be redrawn from them alone.
    studies = st.stored_runs(tmp_path)
    assert {k: len(v) for k, v in studies.items()} == {"grid": 2, "random": 2, "bayesian": 2}
    assert [t.value for t in studies["grid"][1].trials] == data["runs"]["grid"][1]["values"]
    png.unlink()
    assert st.main(["--replot", "--out", str(tmp_path)]) == 0 and png.stat().st_size > 0
