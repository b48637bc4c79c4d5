"""The device training pipeline (model/training/device_data.py), the harmonic
prefill (model/prefill.py) and the widened network (model/training/widen.py),
all on the CPU: the same torch code runs on a GPU."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from model.checkpoint import read_checkpoint
from model.network import InpaintNet, get_config
from model.prefill import harmonic_fill, network_inputs
from model.training.device_data import DeviceBatches, random_holes
from model.training.options import TrainOptions
from model.training.trainer import TrainError, Trainer
from model.training.widen import widen_network

from conftest import smooth_photo
from test_trainer import SMALL, in_train_flags, options, small_trainer


@pytest.fixture
def photo_dir(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(smooth_photo(90 + 10 * i, 120, seed=i)).save(folder / f"p{i}.png")
    return folder


def _photos(photo_dir):
    return sorted(photo_dir.glob("*.png"))


# ------------------------------------------------------------ the prefill

def _ramp(size=96):
    y, x = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return torch.stack([0.01 * x - 0.004 * y - 0.3, -0.006 * x + 0.3, 0.005 * y - 0.2])[None]


def test_harmonic_fill_reproduces_a_linear_ramp_and_a_constant_inside_the_hole():
    image = _ramp()
    known = torch.ones(1, 1, 96, 96)
    known[..., 20:70, 30:80] = 0  # a 50 px square hole, away from the border
    known[..., 10:14, 5:60] = 0  # and a thin stroke
    filled = harmonic_fill(image, known)
    assert filled.shape == image.shape and filled.dtype == image.dtype
    assert torch.equal(filled * known, image * known)  # known pixels untouched
    assert (filled - image).abs().max() * 127.5 < 1.0  # within a grey level (0-255 scale)
    constant = torch.full((2, 3, 96, 96), 0.37)
    assert torch.allclose(harmonic_fill(constant, known.expand(2, 1, 96, 96)), constant, atol=1e-6)
    # it is the fill of the surroundings, not of what was in the hole
    scrambled = image.clone()
    scrambled[..., 20:70, 30:80] = 1.0
    assert torch.equal(harmonic_fill(scrambled, known), filled)


def test_harmonic_fill_takes_the_colour_of_each_side_of_an_edge():
    image = torch.full((1, 3, 64, 64), -0.5)
    image[..., :, 32:] = 0.5  # left dark, right light
    known = torch.ones(1, 1, 64, 64)
    known[..., 24:40, 8:56] = 0  # the hole crosses the edge
    filled = harmonic_fill(image, known)
    assert filled[..., 32, 10].mean() < -0.4 and filled[..., 32, 53].mean() > 0.4
    assert abs(float(filled[..., 32, 31:33].mean())) < 0.15  # the middle between them


def test_network_inputs_with_the_harmonic_prefill():
    image = np.full((48, 64, 3), 200, np.uint8)
    hole = np.zeros((48, 64), bool)
    hole[10:30, 20:40] = True
    truth, known, filled = network_inputs(image, hole, "harmonic")
    assert filled.shape == (3, 48, 64) and known.shape == (1, 48, 64)
    assert torch.allclose(filled, truth, atol=1e-5)


# ---------------------------------------------------------------- the holes

def test_random_holes_have_the_drawn_area_and_follow_the_seed():
    holes = random_holes(16, 64, (0.1, 0.4), np.random.default_rng(3))
    assert holes.shape == (16, 64, 64) and holes.dtype == torch.bool
    area = holes.float().mean(dim=(1, 2))
    assert ((area >= 0.1 - 1 / 4096) & (area <= 0.4 + 1 / 4096)).all()
    assert area.std() > 0.03  # drawn across the range, not one size
    assert torch.equal(holes, random_holes(16, 64, (0.1, 0.4), np.random.default_rng(3)))
    assert not torch.equal(holes, random_holes(16, 64, (0.1, 0.4), np.random.default_rng(4)))
    # shapes, not noise: most hole pixels have hole neighbours on all four sides
    h = holes.float()
    inner = h[:, 1:-1, 1:-1] * h[:, :-2, 1:-1] * h[:, 2:, 1:-1] * h[:, 1:-1, :-2] * h[:, 1:-1, 2:]
    assert inner.sum() > 0.6 * h.sum()
    with pytest.raises(ValueError, match="area range"):
        random_holes(2, 64, (0.5, 0.2), np.random.default_rng(0))


# --------------------------------------------------------------- the batches

def test_device_batches_shapes_ranges_and_seed(photo_dir):
    make = lambda seed: DeviceBatches(_photos(photo_dir), 64, "harmonic", (0.1, 0.3), 4, torch.device("cpu"), seed)
    batches = make(0)
    assert all(p.dtype == torch.uint8 and p.shape[0] == 3 for p in batches.photos)  # the cache
    truth, known, filled = batches.batch(5)
    assert truth.shape == filled.shape == (4, 3, 64, 64) and known.shape == (4, 1, 64, 64)
    assert truth.dtype == known.dtype == filled.dtype == torch.float32
    assert truth.min() >= -1 and truth.max() <= 1
    assert set(known.unique().tolist()) <= {0.0, 1.0}
    area = 1 - known.mean(dim=(1, 2, 3))
    assert ((area >= 0.1 - 1 / 4096) & (area <= 0.3 + 1 / 4096)).all()
    assert torch.equal(filled * known, truth * known)  # the prefill keeps the known pixels
    again = make(0).batch(5)
    assert all(torch.equal(a, b) for a, b in zip((truth, known, filled), again))
    assert not torch.equal(truth, make(1).batch(5)[0])
    assert not torch.equal(truth, batches.batch(6)[0])
    # the zero prefill is zeros; the Telea prefill cannot be made on the device
    assert DeviceBatches(_photos(photo_dir), 64, "zero", (0.1, 0.3), 2, torch.device("cpu")).batch(0)[2].abs().max() == 0
    with pytest.raises(ValueError, match="telea"):
        DeviceBatches(_photos(photo_dir), 64, "telea", (0.1, 0.3), 2, torch.device("cpu"))


def test_device_batches_crop_the_photos(photo_dir):
    """A crop is a piece of a photo: a photo of one colour gives crops of that colour."""
    folder = photo_dir.parent / "flat"
    folder.mkdir()
    Image.fromarray(np.full((100, 140, 3), (200, 40, 90), np.uint8)).save(folder / "flat.png")
    truth, _, _ = DeviceBatches([folder / "flat.png"], 64, "zero", (0.1, 0.2), 3, torch.device("cpu")).batch(0)
    expected = torch.tensor([200, 40, 90]).float().view(1, 3, 1, 1) / 127.5 - 1
    assert torch.allclose(truth, expected.expand_as(truth), atol=1e-4)


# --------------------------------------------------------------- the trainer

def test_training_with_the_device_pipeline_lowers_the_loss(photo_dir, tmp_path):
    trainer = small_trainer(options(photo_dir, tmp_path, config="paper", prefill="harmonic", pipeline="device",
                                    lr=2e-3, steps=30, val_every=1000, checkpoint_every=1000, batch_size=4))
    assert trainer.pipeline == "device" and trainer.cfg.prefill == "harmonic"
    held = trainer.device_batches.batch(10**6)  # a batch the run never trains on

    def loss_now():
        with torch.no_grad():
            return trainer.l1_loss(trainer.net(*held), held[0], held[1])[1]["l1"]

    before = loss_now()
    result = trainer.run()
    assert result.steps_done == 30
    assert loss_now() < 0.7 * before
    saved = read_checkpoint(tmp_path / "run" / "best.pt")
    assert saved["config"]["prefill"] == "harmonic"  # inference will make the same prefill


def test_pipeline_choice_and_clear_errors(photo_dir, tmp_path):
    assert small_trainer(options(photo_dir, tmp_path)).pipeline == "loader"  # auto on the CPU
    assert small_trainer(options(photo_dir, tmp_path, prefill="zero", pipeline="device")).pipeline == "device"
    for settings, message in ((dict(pipeline="device"), "--pipeline device.*telea.*--prefill harmonic"),  # Telea plan
                              (dict(prefill="blur"), "--prefill must be"),
                              (dict(fused_adam="yes"), "--fused-adam must be auto, on or off"),
                              (dict(widen=0.5), "--widen must be at least 1")):
        with pytest.raises(TrainError) as info:
            small_trainer(options(photo_dir, tmp_path, **settings))
        assert re.match(message, in_train_flags(info.value)), info.value


def test_fused_adam_and_contiguous_layout_train(photo_dir, tmp_path):
    trainer = small_trainer(options(photo_dir, tmp_path, fused_adam="on", memory_format="contiguous", steps=2))
    assert trainer.optimizer.defaults["fused"]
    assert trainer.run().steps_done == 2


# ---------------------------------------------------------------- widening

def test_widened_network_computes_what_the_trained_one_did():
    torch.manual_seed(0)
    net = InpaintNet(get_config("default", **SMALL)).eval()
    for p in net.parameters():  # a "trained" network: no zero output layers
        p.data.normal_(0, 0.1)
    wide = widen_network(net, 1.5).eval()
    assert (wide.cfg.width, wide.cfg.half_res_width, wide.cfg.full_res_width) == (12, 24, 12)
    assert sum(p.numel() for p in wide.parameters()) > 2 * sum(p.numel() for p in net.parameters())
    image = torch.rand(2, 3, 64, 64) * 2 - 1
    known = (torch.rand(2, 1, 64, 64) > 0.3).float()
    prefill = harmonic_fill(image, known)
    with torch.no_grad():
        a, b = net(image, known, prefill), wide(image, known, prefill)
    assert torch.allclose(a.coarse, b.coarse, atol=1e-5) and torch.allclose(a.refined, b.refined, atol=1e-5)


def test_widen_and_device_pipeline_resume_like_an_unbroken_run(photo_dir, tmp_path):
    """--init weights --widen, the device pipeline: killed at step 4 and resumed,
    the run ends where an unbroken one does."""
    from model.checkpoint import save_weights
    init = tmp_path / "init.pt"
    torch.manual_seed(1)
    save_weights(InpaintNet(get_config("default", **SMALL)), init)
    extra = dict(scratch=False, init=init, widen=1.5, prefill="harmonic", pipeline="device", lr=1e-3)
    full = Trainer(options(photo_dir, tmp_path / "a", **extra))
    full.run()
    stopped = Trainer(options(photo_dir, tmp_path / "b", **extra))
    calls = []
    assert stopped.run(should_stop=lambda: calls.append(1) or len(calls) >= 4).steps_done == 4
    resumed = Trainer(options(photo_dir, tmp_path / "b", resume=True, **extra))
    assert resumed.run().steps_done == 10
    a = read_checkpoint(tmp_path / "a" / "run" / "last.pt")
    b = read_checkpoint(tmp_path / "b" / "run" / "last.pt")
    assert a["config"]["width"] == b["config"]["width"] == 12
    for k in a["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], atol=1e-5), k


def test_cli_has_the_throughput_options(photo_dir, monkeypatch):
    from test_trainer import _options_from_cli
    o = _options_from_cli(monkeypatch, photo_dir, "--pipeline", "device", "--prefill", "harmonic", "--widen",
                          "1.5", "--memory-format", "contiguous", "--fused-adam", "on", "--compile")
    assert (o.pipeline, o.prefill, o.widen, o.memory_format, o.fused_adam, o.compile) == (
        "device", "harmonic", 1.5, "contiguous", "on", True)
    assert TrainOptions(data_dir=photo_dir).prefill is None  # the plan's own unless asked


def test_time_limit_stops_validated_and_resumable(photo_dir, tmp_path):
    trainer = small_trainer(options(photo_dir, tmp_path, time_limit=0.0, steps=50))
    result = trainer.run()
    assert result.stopped and result.steps_done == 1
    assert read_checkpoint(tmp_path / "run" / "last.pt")["step"] == 1
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert sum('"val_psnr"' in line for line in log) == 2  # step 0 and where it stopped
