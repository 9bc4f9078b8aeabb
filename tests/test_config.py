"""Dotted keys into nested base configs (hpcore.config)."""

from __future__ import annotations

import dataclasses
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpcore.config import apply_params, flatten_config, get_path
from hpcore.errors import ConfigError


@dataclasses.dataclass
class Training:
    lr: float = 0.1
    batch_size: int = 32


@dataclasses.dataclass(frozen=True)
class Model:
    hidden_dim: int = 64
    extra: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Config:
    training: Training = dataclasses.field(default_factory=Training)
    model: Model = dataclasses.field(default_factory=Model)


def test_sets_values_at_dotted_keys_in_a_deep_copy():
    base = {"training": {"lr": 0.1, "epochs": 3}, "model": {"dim": 8}}
    new = apply_params(base, {"training.lr": 0.01, "model.dim": 16})
    assert new == {"training": {"lr": 0.01, "epochs": 3}, "model": {"dim": 16}}
    assert base == {"training": {"lr": 0.1, "epochs": 3}, "model": {"dim": 8}}
    assert new["training"] is not base["training"]


def test_missing_leaves_and_levels_are_created():
    new = apply_params({"training": {}}, {"training.lr": 1e-3, "optim.betas.b1": 0.9})
    assert new == {"training": {"lr": 1e-3}, "optim": {"betas": {"b1": 0.9}}}
    assert apply_params(None, {"a.b": 1}) == {"a": {"b": 1}}


def test_dataclasses_nested_and_frozen():
    base = Config()
    new = apply_params(base, {"training.lr": 0.5, "model.hidden_dim": 128, "model.extra.k": 2})
    assert isinstance(new, Config)
    assert new.training.lr == 0.5 and new.model.hidden_dim == 128 and new.model.extra == {"k": 2}
    assert base.training.lr == 0.1 and base.model.hidden_dim == 64 and base.model.extra == {}


def test_dataclass_unknown_field_names_the_key_and_fields():
    with pytest.raises(ConfigError, match=r"key 'training\.lrr'.*no field 'lrr'.*batch_size"):
        apply_params(Config(), {"training.lrr": 0.1})


def test_key_through_a_non_container_fails_clearly():
    with pytest.raises(ConfigError, match=r"key 'training\.lr\.x': 'training\.lr' is a float"):
        apply_params({"training": {"lr": 0.1}}, {"training.lr.x": 1})
    with pytest.raises(ConfigError, match=r"'layers' is a list"):
        apply_params({"layers": [1, 2]}, {"layers.0": 3})


def test_base_config_of_the_wrong_type():
    with pytest.raises(ConfigError, match="base_config must be a dict"):
        apply_params([1, 2], {"a": 1})
    with pytest.raises(ConfigError, match="base_config must be a dict"):
        apply_params(types.SimpleNamespace(a=1), {"a": 2})


def test_values_are_copied_so_trials_never_share_mutable_values():
    layers = [64, 64]
    new = apply_params({}, {"model.layers": layers})
    new["model"]["layers"].append(1)
    assert layers == [64, 64]


def test_read_only_mappings_become_dicts():
    base = types.MappingProxyType({"a": 1})
    assert apply_params(base, {"b": 2}) == {"a": 1, "b": 2}


def test_get_path_and_flatten():
    cfg = apply_params(Config(), {"model.extra.k": 2})
    assert get_path(cfg, "model.extra.k") == 2
    assert get_path({"a": {"b": 3}}, "a.b") == 3
    flat = dict(flatten_config({"a": {"b": 1, "c": {"d": 2}}, "e": 3}))
    assert flat == {"a.b": 1, "a.c.d": 2, "e": 3}


keys = st.lists(
    st.text(alphabet="abcxyz", min_size=1, max_size=3), min_size=1, max_size=3
).map(".".join)


@given(st.dictionaries(keys, st.integers(), min_size=1, max_size=5))
def test_every_applied_value_reads_back(params):
    """Property: after apply_params, get_path returns each value (when keys do not overlap)."""
    names = sorted(params)
    if any(b.startswith(a + ".") for a, b in zip(names, names[1:])):
        return
    cfg = apply_params({}, params)
    for key, value in params.items():
        assert get_path(cfg, key) == value


# -- keys missing from base_config (issue 15: a typo searched nothing) ----------------


@pytest.mark.parametrize("make", ["GridSearch", "RandomSearch", "BayesianSearch"])
def test_a_searched_key_missing_from_base_config_is_refused_with_did_you_mean(make):
    import hpcore

    base = {"training": {"lr": 0.1, "batch_size": 32}, "model": {"hidden_dim": 64}}
    with pytest.raises(ConfigError) as info:
        getattr(hpcore, make)(base_config=base, search_space={"train.lrr": [0.1, 0.01]},
                              n_trials=2)
    msg = str(info.value)
    assert "'train.lrr'" in msg and "did you mean 'training.lr'?" in msg
    assert "allow_new_keys=True" in msg


def test_hyperband_resource_key_missing_from_base_config_is_refused():
    import hpcore

    with pytest.raises(ConfigError, match="did you mean 'training.epochs'"):
        hpcore.HyperbandSearch(base_config={"training": {"epochs": 1, "lr": 0.1}},
                               search_space={"training.lr": [0.1, 0.01]},
                               resource_key="training.epoch", max_resource=9, n_trials=9)


def test_new_keys_are_an_explicit_choice_and_empty_sections_take_any_key():
    import hpcore

    base = {"training": {"lr": 0.1}, "model": {}}
    space = {"training.momentum": [0.0, 0.9]}
    with pytest.raises(ConfigError, match="'training.momentum'"):
        hpcore.GridSearch(base_config=base, search_space=space)
    search = hpcore.GridSearch(base_config=base, search_space=space, allow_new_keys=True)
    best, _ = search.run(lambda c: c["training"]["momentum"])
    assert best == {"training": {"lr": 0.1, "momentum": 0.0}, "model": {}}
    # An empty section, or an empty/None base_config, is there to be filled.
    hpcore.GridSearch(base_config=base, search_space={"model.width": [1, 2]})
    hpcore.GridSearch(base_config={}, search_space={"a.b": [1, 2]})
    hpcore.GridSearch(base_config=None, search_space={"a.b": [1, 2]})
    with pytest.raises(Exception, match="allow_new_keys must be True or False"):
        hpcore.GridSearch(base_config=base, search_space=space, allow_new_keys="yes")


def test_a_dataclass_config_names_missing_keys_too():
    from hpcore.config import check_config_keys

    with pytest.raises(ConfigError, match="no field 'lrr'"):
        check_config_keys(Config(), {"training.lrr": 0.1}, allow_new_keys=True)
    check_config_keys(Config(), {"training.lr": 0.1, "model.extra.x": 1})  # an empty dict field
