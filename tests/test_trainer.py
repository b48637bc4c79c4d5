import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from model.checkpoint import load_network, read_checkpoint
from model.losses import loss_values
from model.training.data import CropDataset
from model.training.options import TrainOptions
from model.texture import available as texture_available
from model.training.trainer import TrainError, Trainer
from model.cli.options import in_flags

from conftest import smooth_photo

SMALL = dict(width=8, half_res_width=16, full_res_width=8)


@pytest.fixture
def photo_dir(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        target = folder / ("sub" if i % 2 else "") / f"p{i}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(smooth_photo(90 + 10 * i, 120, seed=i)).save(target)
    return folder


def options(photo_dir, tmp_path, **kw):
    base = dict(data_dir=photo_dir, out_dir=tmp_path / "run", steps=10, batch_size=2, size=64,
                device="cpu", scratch=True, config="default", val_every=5, checkpoint_every=5,
                log_every=1, workers=0, lambda_corr=0.0, lambda_style=0.0)
    base.update(kw)
    return TrainOptions(**base)


def small_trainer(opts):
    import model.training.trainer as tr
    from model.network import get_config, InpaintNet
    orig = tr._build_network
    def build(o, device):
        return InpaintNet(get_config(o.config, run_size=o.size, **SMALL)).to(device), "scratch"
    tr._build_network = build
    try:
        return Trainer(opts)
    finally:
        tr._build_network = orig


def test_training_steps_reduce_loss_on_a_fixed_batch(photo_dir, tmp_path):
    trainer = small_trainer(options(photo_dir, tmp_path, lr=1e-3, config="paper"))
    batch = [torch.stack(t) for t in zip(*(trainer.dataset[i] for i in range(4)))]

    def loss_now():
        with torch.no_grad():
            return trainer.loss(trainer.net(*batch), batch[0])[1]["total"]

    before = loss_now()
    for _ in range(10):
        trainer.train_step(batch)
    assert loss_now() < before


def test_paper_losses_run_and_produce_all_terms(photo_dir, tmp_path):
    trainer = small_trainer(options(photo_dir, tmp_path, lambda_corr=1e-5, lambda_style=1e-3))
    batch = [torch.stack(t) for t in zip(*(trainer.dataset[i] for i in range(2)))]
    parts = trainer.train_step(batch)
    assert {"l1", "correlation", "style", "total"} <= set(parts)


def test_a_step_does_not_read_the_losses_but_the_log_does(photo_dir, tmp_path, monkeypatch):
    """Reading a loss as a number waits for the device: a step keeps them as
    device tensors and the loop reads them (in one transfer) only when it logs."""
    trainer = small_trainer(options(photo_dir, tmp_path, steps=4, log_every=2, val_every=1000,
                                    checkpoint_every=1000, adversarial=True))
    batch = [torch.stack(t) for t in zip(*(trainer.dataset[i] for i in range(2)))]
    parts = trainer.train_step(batch)
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in parts.values())
    seen = []
    trainer.run(progress=seen.append)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    logged = [row for row in rows if "l1" in row]
    assert [row["step"] for row in logged] == [2, 4]
    assert all(type(row["l1"]) is float and type(row["critic"]) is float for row in logged)
    assert all(type(v) is float for info in seen for v in info.losses.values())


@pytest.mark.parametrize("extra", [{}, {"lr_schedule": "cosine", "l1_region": "hole", "lr": 1e-3},
                                   {"adversarial": True, "lr": 1e-3, "lambda_corr": 0.0, "lambda_style": 0.0}],
                         ids=["constant-image", "cosine-hole", "adversarial"])
def test_kill_and_resume_matches_uninterrupted(photo_dir, tmp_path, extra):
    full = small_trainer(options(photo_dir, tmp_path / "a", **extra))
    full.run()
    stopped = small_trainer(options(photo_dir, tmp_path / "b", **extra))
    calls = []
    result = stopped.run(should_stop=lambda: calls.append(1) or len(calls) >= 4)
    assert result.stopped and result.steps_done == 4
    resumed = small_trainer(options(photo_dir, tmp_path / "b", resume=True, **extra))
    result = resumed.run()
    assert result.steps_done == 10 and not result.stopped
    a = read_checkpoint(tmp_path / "a" / "run" / "last.pt")
    b = read_checkpoint(tmp_path / "b" / "run" / "last.pt")
    assert a["step"] == b["step"] == 10
    for k in a["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], atol=1e-5), k
    assert ("critic" in a) == ("critic" in b) == bool(extra.get("adversarial"))
    for k in a.get("critic", {}):  # the critic and its optimiser were resumed too
        assert torch.allclose(a["critic"][k], b["critic"][k], atol=1e-5), k


def test_cosine_schedule_decays_from_lr_to_lr_min(photo_dir, tmp_path):
    trainer = small_trainer(options(photo_dir, tmp_path, steps=11, lr=1e-3, lr_min=1e-5,
                                    lr_schedule="cosine"))
    rates = [trainer.learning_rate(s) for s in range(11)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-5)
    assert rates[5] == pytest.approx((1e-3 + 1e-5) / 2)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    batch = [torch.stack(t) for t in zip(*(trainer.dataset[i] for i in range(2)))]
    for _ in range(3):
        trainer.train_step(batch)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(rates[2])
    constant = small_trainer(options(photo_dir, tmp_path / "c", steps=11, lr=1e-3, lr_schedule="constant"))
    assert {constant.learning_rate(s) for s in range(11)} == {1e-3}


def test_refine_stage_training_leaves_stage_one_unchanged(photo_dir, tmp_path):
    trainer = small_trainer(options(photo_dir, tmp_path, stages="refine", lr=1e-3, lambda_style=1e-3))
    before = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    batch = [torch.stack(t) for t in zip(*(trainer.dataset[i] for i in range(2)))]
    for _ in range(2):
        trainer.train_step(batch)
    after = trainer.net.state_dict()
    stage1 = [k for k in after if k.startswith(("e1.", "g."))]
    stage2 = [k for k in after if k.startswith(("e2.", "d."))]
    assert stage1 and stage2
    assert all(torch.equal(before[k], after[k]) for k in stage1)
    assert any(not torch.equal(before[k], after[k]) for k in stage2)


def in_train_flags(exc: BaseException) -> str:
    """The message as ``main.py train`` prints it (the engine names the fields)."""
    assert "--" not in str(exc), str(exc)
    return in_flags(exc, TrainOptions)


def test_bad_schedule_or_l1_region_is_a_clear_error(photo_dir, tmp_path):
    for field, value, message in (("lr_schedule", "linear", "--lr-schedule must be constant or cosine, not 'linear'"),
                                  ("l1_region", "known", "--l1 must be image or hole, not 'known'"),
                                  ("stages", "first", "--stages must be both or refine, not 'first'")):
        with pytest.raises(TrainError) as info:
            small_trainer(options(photo_dir, tmp_path, **{field: value}))
        assert in_train_flags(info.value) == message


def test_should_stop_within_one_step_leaves_loadable_checkpoint(photo_dir, tmp_path):
    result = small_trainer(options(photo_dir, tmp_path, steps=50)).run(should_stop=lambda: True)
    assert result.stopped and result.steps_done == 1
    net, ckpt = load_network(result.last_path)
    assert ckpt["step"] == 1
    assert result.best_path is not None and load_network(result.best_path)[0] is not None


def test_corrupt_file_is_skipped_and_counted(photo_dir, tmp_path):
    (photo_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (photo_dir / "empty.png").write_bytes(b"")
    trainer = small_trainer(options(photo_dir, tmp_path))
    names = sorted(p.split("/")[-1] for p, _ in trainer.skipped)
    assert names == ["broken.jpg", "empty.png"]
    assert len(trainer.train_photos) + len(trainer.val_photos) == 5


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainError, match="no usable photos"):
        Trainer(options(tmp_path / "empty", tmp_path))


def test_progress_reports_and_previews(photo_dir, tmp_path):
    seen = []
    result = small_trainer(options(photo_dir, tmp_path)).run(progress=seen.append)
    assert [p.step for p in seen if p.val_psnr is None] == [1, 2, 3, 4, 6, 7, 8, 9]
    vals = [p for p in seen if p.val_psnr is not None]
    assert [p.step for p in vals] == [0, 5, 10]
    assert all(p.preview_path.is_file() for p in vals)
    assert all(np.isfinite(p.val_psnr) and p.val_psnr < 100 for p in vals)
    assert result.best_psnr == max(p.val_psnr for p in vals)


def test_dataset_samples_are_a_function_of_the_index(photo_dir):
    photos = sorted(photo_dir.rglob("*.*"))
    a = CropDataset(photos, 48, "telea", (0.1, 0.3), seed=3)
    b = CropDataset(photos, 48, "telea", (0.1, 0.3), seed=3)
    for i in (0, 7, 123):
        for x, y in zip(a[i], b[i]):
            assert torch.equal(x, y)
    img, known, fill = a[5]
    assert img.shape == (3, 48, 48) and known.shape == (1, 48, 48)
    assert 0.1 <= 1 - known.mean().item() <= 0.3


def test_adversarial_flag_trains_a_critic_and_resumes_it(photo_dir, tmp_path):
    trainer = small_trainer(options(photo_dir, tmp_path, adversarial=True, steps=2, val_every=100))
    before = [p.detach().clone() for p in trainer.critic.parameters()]
    result = trainer.run()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.critic.parameters()))
    ckpt = read_checkpoint(result.last_path)
    assert "critic" in ckpt and "critic_optimizer" in ckpt
    log = (tmp_path / "run" / "log.jsonl").read_text()
    assert '"adversarial"' in log

    resumed = small_trainer(options(photo_dir, tmp_path, adversarial=True, steps=3, val_every=100, resume=True))
    fresh = [p.detach().clone() for p in resumed.critic.parameters()]
    resumed.load_last()
    saved = ckpt["critic"]
    assert all(torch.equal(v, saved[k]) for k, v in resumed.critic.state_dict().items())
    assert any(not torch.equal(a, b) for a, b in zip(fresh, resumed.critic.parameters()))  # not a new critic
    state = resumed.critic_opt.state_dict()["state"]
    assert state and all(int(s["step"]) == 2 for s in state.values())  # Adam's moments came back after 2 steps
    assert resumed.step == 2
    result = small_trainer(options(photo_dir, tmp_path, adversarial=True, steps=3, val_every=100,
                                   resume=True)).run()
    assert result.steps_done == 3 and read_checkpoint(result.last_path)["step"] == 3


def test_refine_texture_losses_leave_stage_one_bit_identical(photo_dir, tmp_path):
    """Stage-2 texture training (perceptual + style + critic, low stage-2 L1)
    moves E2 + D only; E1 + G and so the coarse result stay bit-identical."""
    trainer = small_trainer(options(photo_dir, tmp_path, stages="refine", lr=1e-3, l1_region="hole",
                                    lambda_style=0.05, lambda_perceptual=0.05, lambda_refine_l1=0.25,
                                    adversarial=True, lambda_adv=0.1, lr_critic=4e-4))
    assert trainer.loss.weights.perceptual == 0.05 and trainer.loss.weights.refine_l1 == 0.25
    assert trainer.critic_opt.param_groups[0]["lr"] == 4e-4
    before = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    batch = [torch.stack(t) for t in zip(*(trainer.dataset[i] for i in range(2)))]
    with torch.no_grad():
        coarse_before = trainer.net(*batch).coarse.clone()
    for _ in range(2):
        parts = trainer.train_step(batch)
    assert {"l1", "l1_refined", "style", "perceptual", "adversarial", "critic"} <= set(parts)
    after = trainer.net.state_dict()
    stage1 = [k for k in after if k.startswith(("e1.", "g."))]
    stage2 = [k for k in after if k.startswith(("e2.", "d."))]
    assert all(torch.equal(before[k], after[k]) for k in stage1)
    assert any(not torch.equal(before[k], after[k]) for k in stage2)
    with torch.no_grad():
        assert torch.equal(trainer.net(*batch).coarse, coarse_before)


def test_select_last_keeps_the_newest_validated_weights(photo_dir, tmp_path, monkeypatch):
    trainer = small_trainer(options(photo_dir, tmp_path, steps=4, val_every=2, select="last", run_scales=(1.0,)))
    psnrs = iter([30.0, 20.0, 10.0])  # validation gets worse: "psnr" would keep step 0
    real = trainer.validate

    def worse():
        _, ssim, preview = real()
        return next(psnrs), ssim, preview

    monkeypatch.setattr(trainer, "validate", worse)
    result = trainer.run()
    net, ckpt = load_network(result.best_path)
    assert ckpt["meta"]["step"] == 4 and ckpt["meta"]["val_psnr"] == 10.0
    assert net.cfg.run_scales == (1.0,)
    assert 0 <= ckpt["meta"]["val_sharpness"] < 10
    log = [l for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines() if "val_psnr" in l]
    assert len(log) == 3 and all('"val_sharpness"' in l and '"val_sharpness_coarse"' in l for l in log)
    with pytest.raises(TrainError) as info:
        small_trainer(options(photo_dir, tmp_path, select="best"))
    assert in_train_flags(info.value).startswith("--select must be psnr or last")


def _options_from_cli(monkeypatch, *args):
    """The TrainOptions ``python main.py train ARGS`` builds (the trainer itself is not run)."""
    import model.training.trainer as tr
    from model.cli import main
    seen = {}

    class Stop(Exception):
        pass

    def fake_trainer(opts):
        seen["opts"] = opts
        raise Stop

    monkeypatch.setattr(tr, "Trainer", fake_trainer)
    with pytest.raises(Stop):
        main(["train", *map(str, args)])
    return seen["opts"]


def test_cli_passes_the_texture_options(photo_dir, monkeypatch):
    o = _options_from_cli(monkeypatch, photo_dir, "--stages", "refine", "--lambda-refine-l1", "0.5",
                          "--lambda-perceptual", "0.05", "--adversarial", "--lambda-adv", "0.2",
                          "--lr-critic", "4e-4", "--select", "last", "--run-scales", "1", "--log-every", "5",
                          "--val-fraction", "0.25", "--betas", "0.9,0.99", "--hole-area", "10-30", "--out", "r")
    assert (o.lambda_refine_l1, o.lambda_perceptual, o.lambda_adv, o.lr_critic) == (0.5, 0.05, 0.2, 4e-4)
    assert (o.stages, o.adversarial, o.select, o.run_scales, o.log_every) == ("refine", True, "last", (1.0,), 5)
    assert (o.val_fraction, o.betas, o.hole_area, o.out_dir) == (0.25, (0.9, 0.99), (0.1, 0.3), Path("r"))


def test_cli_defaults_are_the_dataclass_defaults(photo_dir, monkeypatch):
    """The flags are generated from TrainOptions: with no flags the CLI builds
    exactly TrainOptions(data_dir), and every field has a flag."""
    import argparse
    from dataclasses import fields

    from model.cli import build_parser
    assert _options_from_cli(monkeypatch, photo_dir) == TrainOptions(data_dir=photo_dir)
    train = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    dests = {a.dest for a in train._actions}
    assert {f.name for f in fields(TrainOptions)} <= dests


@pytest.mark.skipif(not texture_available(), reason="the texture step needs pypatchmatch")
def test_validation_preview_shows_the_apps_textured_fill(tmp_path):
    """Selection scores the network alone, but the preview (and its
    val_preview_* figures) is the app's result, rows from different bins:
    on grass-like texture the app's refined fill carries detail that the
    network's own fill does not."""
    from model.evaluation.cases import make_cases
    from model.paths import BUNDLED_WEIGHTS
    from model.training.validation import PREVIEW_ROWS, validate_network

    rng = np.random.default_rng(0)
    grass = rng.normal(0, 40, (192, 192)).astype(np.float32)
    grass = np.clip(cv2.GaussianBlur(grass, (0, 0), 1.0)[..., None] * [0.6, 1.0, 0.4] + [70, 120, 50], 0, 255)
    photos = [(f"grass{i}", np.roll(grass, 40 * i, axis=1).astype(np.uint8)) for i in range(2)]
    cases = make_cases(photos, seed=3, size=192)  # 2 photos x 4 bins: more cases than preview rows
    assert len(cases) > PREVIEW_ROWS
    net, _ = load_network(BUNDLED_WEIGHTS)
    result = validate_network(net.eval(), cases, tmp_path / "preview.png", 96)
    sheet = np.asarray(Image.open(result.preview))
    assert sheet.shape[1] == 5 * 96 and sheet.shape[0] >= PREVIEW_ROWS * 96  # 4 rows of 5 tiles
    assert result.extra["val_preview_sharpness"] > 2 * result.extra["val_sharpness"]
    assert np.isfinite(result.extra["val_preview_psnr"]) and result.extra["val_preview_deep"] > 0
