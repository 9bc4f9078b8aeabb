"""The one place trials become model arrays, and the one rule for a stored choice."""

from __future__ import annotations

import numpy as np
import pytest

from hpcore.search.space import Categorical, Integer, Real, SearchSpace


class Adam:
    def __repr__(self) -> str:
        return "Adam"


ADAM = Adam()


def test_a_choice_matches_itself_its_stored_repr_and_its_rebuilt_repr():
    dim = Categorical(["sgd", ADAM, 1])
    assert dim.match("sgd") == 0 and dim.match(ADAM) == 1 and dim.match(1) == 2
    assert dim.match("Adam") == 1  # a study stored the object by its repr
    assert dim.match(1.0) is None and dim.match(True) is None  # 1, 1.0 and True differ
    rebuilt = Categorical(["sgd", "Adam"])  # a space rebuilt from JSON keeps the repr
    assert rebuilt.match(ADAM) == 1 and rebuilt.match("nope") is None


def test_model_features_are_unit_coordinates_and_level_indices():
    space = SearchSpace({"lr": Real(1e-4, 1e-1, log=True), "n": Integer(1, 4),
                         "opt": Categorical(["sgd", ADAM])})
    params = {"lr": 1e-4, "n": 4, "opt": ADAM}
    z = space.model_features(params)
    np.testing.assert_allclose(z, [0.0, 0.875, 1.0])  # n=4 is the centre of the last bin
    assert space.from_model_features(z) == params
    np.testing.assert_array_equal(space.model_cat, [0.0, 0.0, 1.0])
    X = space.model_arrays([params, {"lr": 5.0, "n": 2, "opt": "sgd"}, {"n": 1, "opt": "x"}])
    assert X.shape == (3, 3) and np.isnan(X[1, 0]) and np.isnan(X[2]).sum() == 2
    levels, n_levels = space.model_levels()
    np.testing.assert_array_equal(n_levels, [0, 4, 2])
    np.testing.assert_allclose(levels[1], [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_array_equal(levels[2, :2], [0.0, 1.0])


@pytest.mark.parametrize("max_levels, expected", [(3, 0), (4, 4)])
def test_wide_integers_are_continuous_for_the_model(max_levels, expected):
    space = SearchSpace({"n": Integer(1, 4)})
    assert space.model_levels(max_levels)[1][0] == expected
