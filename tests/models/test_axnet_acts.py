"""Per-layer activations of the approximator through the run config, training and the CLI."""

import json

import pytest

from axforge.cli import main
from axforge.errors import AxforgeError
from axforge.models.axnet.methods import RunConfig, build_net
from axforge.models.axnet.run import resolve_config


def test_the_config_carries_acts_only_when_given():
    cfg, _ = resolve_config("inversek2j", "onepass", topology="2-8-8-2", acts=["sigmoid", "tanh"])
    assert cfg.acts == ("sigmoid", "tanh") and cfg.to_dict()["acts"] == ["sigmoid", "tanh"]
    assert build_net(cfg).approx.acts == ("sigmoid", "tanh")
    plain, _ = resolve_config("inversek2j", "onepass")
    assert "acts" not in plain.to_dict() and build_net(plain).approx.acts == ("relu",) * (len(plain.topology.split("-")) - 2)
    # a config read back from JSON (lists) equals the one it came from
    assert RunConfig(**{**cfg.to_dict(), "predictor_hidden": tuple(cfg.predictor_hidden)}) == cfg
    with pytest.raises(AxforgeError, match="Approximator activations must be"):
        resolve_config("inversek2j", "onepass", topology="2-8-8-2", acts=["sigmoid"])
    with pytest.raises(AxforgeError, match="Training option 'acts' must be empty for the weight-sharing method"):
        resolve_config("inversek2j", "sharing", topology="2-8-8-2", acts=["relu", "relu"])


def test_cli_trains_with_acts_and_rejects_them_where_they_do_not_apply(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["axnet", "train", "inversek2j", "--method", "onepass", "--topology", "2-8-8-2", "--acts",
                 "tanh,sigmoid", "--epochs", "1",
                 "--n-train", "400", "-q", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "acts tanh,sigmoid" in printed
    meta = json.loads((out / "meta.json").read_text())
    assert meta["config"]["acts"] == ["tanh", "sigmoid"]
    assert main(["axnet", "eval", str(out), "--npu", "npu-paper"]) == 0       # compiled with PLAN units
    assert main(["axnet", "train", "inversek2j", "--method", "sharing", "--acts", "relu,relu", "-o",
                 str(tmp_path / "s")]) == 2
    assert "--acts" in capsys.readouterr().err and not (tmp_path / "s").exists()
