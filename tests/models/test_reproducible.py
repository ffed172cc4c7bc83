"""Same seed -> same trained network -> same quantised network, whatever the CPU's float kernels.

Another CPU is stood in for by what can be varied on this one: ATen's vector level
(``ATEN_CPU_CAPABILITY``: an AVX-512 machine runs other kernels than an AVX2 one), the thread
count, and oneDNN on or off (the convolution kernels are chosen per CPU)."""

import json
import os
import subprocess
import sys

import torch

from axforge.models.layers import QuantConfig, approx_layers, approximate
from axforge.models.train import load_trained, train_model

TRAIN = """
import json, sys, torch
torch.set_num_threads(int(sys.argv[2]))
from axforge.models.train import train_model
meta = train_model("resnet8", "digits", sys.argv[1], epochs=1, progress=False, resume=False)
print(json.dumps(meta))
"""


def _train_in(env_extra, threads, out):
    env = {**os.environ, **env_extra}
    env.pop("AXFORGE_TRAIN_CHILD", None)
    proc = subprocess.run([sys.executable, "-c", TRAIN, str(out), str(threads)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_training_does_not_depend_on_the_callers_kernels_or_threads(tmp_path):
    a = _train_in({"ATEN_CPU_CAPABILITY": "default"}, 2, tmp_path / "a")
    b = _train_in({"ATEN_CPU_CAPABILITY": "avx2"}, 1, tmp_path / "b")
    assert a["weights_sha256"] == b["weights_sha256"]
    assert a["kernels"] == b["kernels"] and a["kernels"]["mkl_cbwr"] == "COMPATIBLE"
    assert a["threads"] == b["threads"] == 1


def test_calibration_does_not_depend_on_the_convolution_kernels(tmp_path):
    """The activation ranges are observed in float64, so that another CPU's float32 convolution
    (here: oneDNN's against ATen's own) gives the same scales and zero points, bit for bit."""
    train_model("resnet8", "digits", tmp_path / "m", epochs=1, progress=False)
    trained = load_trained(tmp_path / "m")
    params = []
    for onednn in (True, False):
        with torch.backends.mkldnn.flags(enabled=onednn):
            q, _ = approximate(trained.model, {}, trained.calib_batches(4), QuantConfig())
        params.append([(float(m.act_qp.scale), int(m.act_qp.zero_point)) for _, m in approx_layers(q)])
    assert params[0] == params[1]
