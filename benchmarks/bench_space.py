"""Search spaces: decoding unit-cube points, encoding parameters, lazy grids.

Every strategy works in the unit cube and calls ``SearchSpace.decode_many``
for each suggestion, so its per-point cost is the floor of every search.
"""

import numpy as np

from hpcore.space import Categorical, Integer, Real, SearchSpace


def mixed_space(d):
    """A space of ``d`` dimensions cycling through every kind of dimension."""
    kinds = (
        lambda i: Real(0.0, 1.0),
        lambda i: Real(1e-5, 1e-1, log=True),
        lambda i: Integer(0, 100),
        lambda i: Integer(1, 1024, log=True),
        lambda i: Categorical(["relu", "gelu", "tanh", "silu"]),
    )
    return SearchSpace({f"group{i % 3}.p{i}": kinds[i % len(kinds)](i) for i in range(d)})


class DecodeMany:
    """``SearchSpace.decode_many`` on ``n`` points of a ``d``-dimensional mixed space."""

    params = ([1, 100, 10_000], [2, 10, 50])
    param_names = ["n", "d"]

    def setup(self, n, d):
        self.space = mixed_space(d)
        self.u = np.random.default_rng(0).random((n, d))

    def time_decode_many(self, n, d):
        self.space.decode_many(self.u)


class Encode:
    """``SearchSpace.encode`` of one parameter dict (includes ``check_params``)."""

    params = [2, 10, 50]
    param_names = ["d"]

    def setup(self, d):
        self.space = mixed_space(d)
        self.point = self.space.sample(np.random.default_rng(0))

    def time_encode(self, d):
        self.space.encode(self.point)


class Grid:
    """A lazily indexed grid of 10^6 points (6 axes of 10 values)."""

    def setup(self):
        self.space = SearchSpace(
            {
                "a": Integer(0, 9),
                "b": Integer(1, 10, log=True),
                "c": Real(1e-4, 1e-1, log=True, grid_points=10),
                "d": Real(0.0, 1.0, grid_points=10),
                "e": Categorical(list("abcdefghij")),
                "f": [2**k for k in range(10)],
            }
        )
        self.grid = self.space.grid()
        assert len(self.grid) == 10**6
        self.indices = [int(i) for i in np.random.default_rng(0).integers(0, 10**6, 1000)]

    def time_build(self):
        """``space.grid()``: axes only, independent of the grid's size."""
        self.space.grid()

    def time_getitem(self):
        """``grid[i]`` for one index (mixed-radix decode of a single point)."""
        self.grid[765_432]

    def time_getitem_1000_random(self):
        """``grid[i]`` for 1000 seeded random indices."""
        grid = self.grid
        for i in self.indices:
            grid[i]
