"""The filler interface (model/fill): the registry's names, the classical
fills behind it, and the commands that choose a filler by name."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_photo
from model.boxes import Box
from model.cli import main
from model.fill import FILLERS, METHODS, filler_class, load_filler
from model.fill.base import FillResult, context_box
from model.fill.classical import classical_fill
from model.evaluation.report import evaluate_cases, format_paired, format_table
from model.evaluation.cases import make_cases
from model.evaluation.sheets import SHEET_COLUMNS, sheet_columns


def _photo_and_hole(h: int = 300, w: int = 400):
    image = smooth_photo(h, w, seed=3)
    hole = np.zeros((h, w), bool)
    hole[120:150, 200:260] = True
    return image, hole


def test_the_names_load_no_numpy_or_torch():
    """The command line's --method choices and the app's list come from here."""
    code = "import sys, model.fill; print(sorted(m for m in ('numpy', 'torch', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert METHODS[0] == "network" and {"telea", "ns", "patchmatch", "biharmonic"} <= set(METHODS)


@pytest.mark.parametrize("name", [m for m in METHODS if m != "network"])
def test_a_classical_filler_fills_only_the_hole_and_has_no_coarse_stage(name):
    cls = filler_class(name)
    if cls.missing():
        pytest.skip(cls.missing())
    image, hole = _photo_and_hole()
    filler = load_filler(name)
    assert filler.name == name and filler.outputs == (name,) and filler.stages == ()
    result = filler(image, hole.astype(np.uint8) * 255)  # the public convention: non-zero = remove
    assert list(result.images) == [name] and result.stage("coarse") is None
    assert np.array_equal(result.image[~hole], image[~hole])
    assert not np.array_equal(result.image[hole], image[hole])


def test_a_crop_filler_fills_the_context_crop_and_pastes_its_hole_back(monkeypatch):
    image, hole = _photo_and_hole()
    telea = load_filler("telea")
    seen = []
    fill_crop = type(telea).fill_crop
    monkeypatch.setattr(type(telea), "fill_crop", lambda self, crop, crop_hole: seen.append(crop.shape[:2])
                        or fill_crop(self, crop, crop_hole))
    out = telea(image, hole).image
    box = context_box(hole)
    assert seen == [(box.height, box.width)] and box != Box(0, 0, 400, 300)
    assert np.array_equal(out, classical_fill(image, hole, "telea"))  # Telea reads only a few pixels around
    load_filler("telea", whole_image=True)(image, hole)
    assert seen[-1] == (300, 400)


def test_checks_are_shared_by_every_filler():
    image, hole = _photo_and_hole()
    telea = load_filler("telea")
    with pytest.raises(ValueError, match="does not match"):
        telea(image, hole[:-1])
    with pytest.raises(ValueError, match="RGB uint8"):
        telea(image.astype(np.float32), hole)
    untouched = telea(image, np.zeros_like(hole))
    assert np.array_equal(untouched.image, image)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown fill method 'magic'"):
        load_filler("magic")


def test_remove_with_a_classical_method(tmp_path, capsys):
    image, hole = _photo_and_hole(160, 200)
    hole[:] = False
    hole[50:90, 60:120] = True
    Image.fromarray(image).save(tmp_path / "in.png")
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "m.png")
    assert main(["remove", str(tmp_path / "in.png"), "--mask", str(tmp_path / "m.png"), "--method", "telea",
                 "-o", str(tmp_path / "out.png")]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out, classical_fill(image, hole, "telea"))
    capsys.readouterr()
    # a one-stage fill has no coarse result to write: refused before anything runs
    assert main(["remove", str(tmp_path / "in.png"), "--mask", str(tmp_path / "m.png"), "--method", "ns",
                 "--coarse", str(tmp_path / "c.png"), "-o", str(tmp_path / "ns.png")]) == 2
    assert "the ns method has no coarse stage" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists() and not (tmp_path / "ns.png").exists()
    with pytest.raises(SystemExit):
        main(["remove", str(tmp_path / "in.png"), "--mask", str(tmp_path / "m.png"), "--method", "magic"])


def test_eval_scores_a_filler_without_a_coarse_stage(tmp_path, capsys):
    cases = make_cases([(f"p{i}", smooth_photo(64, 64, seed=i)) for i in range(2)], "10-20", seed=0, per_bin=2)
    res = evaluate_cases(load_filler("telea", whole_image=True), cases, ("telea", "ns"), deep=None)
    assert res["methods"] == ["telea", "ns"]  # ours first; a baseline that is ours is not run twice
    assert set(res["paired"]["all"]) == {"ns"}
    assert "Telea (cv2) minus each method" in format_paired(res) and "NS (cv2)" in format_table(res)

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(smooth_photo(90, 120, seed=20 + i)).save(folder / f"p{i}.png")
    rc = main(["eval", str(folder), "--method", "telea", "--baselines", "ns", "--size", "64", "--per-bin", "1",
               "--bins", "10-20", "--no-deep", "--json", str(tmp_path / "e.json"), "--sheet", str(tmp_path / "s.png")])
    assert rc == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "e.json").read_text())
    assert data["methods"] == ["telea", "ns"] and data["run_size"] is None and data["weights"] is None
    assert data["method"] == "telea" and data["options"] == {}  # the network's settings do not apply to it
    sheet = np.asarray(Image.open(tmp_path / "s.png"))
    assert sheet.shape[1] == 4 * 256  # input, mask, telea (ours), truth: no coarse or refined column
    assert sheet_columns(SHEET_COLUMNS, ["lama", "telea"], ("lama",)) == ["input", "mask", "telea", "lama", "truth"]


def test_every_registered_filler_names_a_filler_class():
    from model.fill.base import Filler

    for name in FILLERS:
        cls = filler_class(name)
        assert issubclass(cls, Filler) and cls.name == name
    assert isinstance(FillResult({"x": np.zeros((1, 1, 3), np.uint8)}).image, np.ndarray)


def test_batch_with_a_classical_method(tmp_path, capsys):
    """``batch --method telea``: every photo gets Telea's fill, scored without a coarse stage."""
    src = tmp_path / "in"
    src.mkdir()
    photos = [smooth_photo(90, 120, seed=40 + i) for i in range(2)]
    for i, photo in enumerate(photos):
        Image.fromarray(photo).save(src / f"p{i}.png")
    hole = np.zeros((90, 120), bool)
    hole[30:60, 40:80] = True
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "m.png")
    rc = main(["batch", str(src), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "out"), "--method", "telea",
               "--report", str(tmp_path / "r.json")])
    assert rc == 0, capsys.readouterr().err
    for i, photo in enumerate(photos):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / f"p{i}.png")), classical_fill(photo, hole))
    records = json.loads((tmp_path / "r.json").read_text())["files"]
    assert [r["status"] for r in records] == ["done", "done"] and all(0 < r["confidence"] <= 1 for r in records)


def test_a_watermark_batch_takes_no_mask_and_resumes_on_its_estimate(tmp_path):
    """The restorer places its own hole: the run has no mask (no generated
    mask file keys the job); --resume keeps the photos of the same estimate
    and redoes them for another."""
    from model.jobs.batch import run_batch
    from model.jobs.options import BatchOptions
    from model.jobs.watermark_restore import Watermark, prepare_batch
    from test_watermark_restore import FakeInpainter, synthetic

    _, marked, _, _ = synthetic(12, h=100, w=160, opacity=0.5, seed=3)
    src = tmp_path / "in"
    src.mkdir()
    for i, m in enumerate(marked):
        Image.fromarray(m).save(src / f"p{i:02d}.png")
    options, restorer = prepare_batch(BatchOptions(src, output_dir=tmp_path / "out"), "auto", 12)
    assert options.mask is None and options.masks_dir is None and restorer.finds_hole
    first = run_batch(options, restorer.bind(FakeInpainter()))
    assert first.done == 12 and all(r.confidence is not None for r in first.records)
    again = run_batch(BatchOptions(src, output_dir=tmp_path / "out", resume=True), restorer)
    assert again.skipped == 12 and again.done == 0  # the same estimate: nothing to redo
    other = Watermark(restorer.mark.alpha * 0.9, restorer.mark.colour)
    _, changed = prepare_batch(BatchOptions(src, output_dir=tmp_path / "out", resume=True), other)
    assert run_batch(BatchOptions(src, output_dir=tmp_path / "out", resume=True),
                     changed.bind(FakeInpainter())).done == 12  # another estimate: every photo again


@pytest.mark.parametrize("flags, named", [
    (["--weights", "w.pt"], "--weights is"),
    (["--texture", "on"], "--texture is"),  # even at its default: given, it would be ignored
    (["--weights", "w.pt", "--texture", "off"], "--weights and --texture are"),
])
def test_the_networks_flags_with_a_classical_method_are_usage_errors(tmp_path, capsys, flags, named):
    """remove, batch and eval: one line naming the flags, exit 2, nothing written."""
    image, hole = _photo_and_hole(60, 80)
    hole[:] = False
    hole[20:40, 30:50] = True
    (tmp_path / "in").mkdir()
    Image.fromarray(image).save(tmp_path / "in" / "p.png")
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "m.png")
    (tmp_path / "w.pt").write_bytes(b"never read")
    commands = {"remove": ["remove", tmp_path / "in" / "p.png", "--mask", tmp_path / "m.png", "-o", tmp_path / "r.png"],
                "batch": ["batch", tmp_path / "in", "--mask", tmp_path / "m.png", "-o", tmp_path / "out"],
                "batch --cluster": ["batch", tmp_path / "in", "--mask", tmp_path / "m.png", "-o", tmp_path / "out",
                                    "--cluster", "127.0.0.1:9"],
                "eval": ["eval", tmp_path / "in", "--json", tmp_path / "e.json"]}
    for name, args in commands.items():
        capsys.readouterr()
        assert main([*map(str, args), "--method", "telea", *flags]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: {named} only for --method network; --method telea does not read "
                       f"{'them' if ' are' in named else 'it'}"], (name, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "m.png", "w.pt"]
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "in"), "--method", "ns", "--run-size", "256", "--scales", "1,0.5"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: --run-size and --scales are only for --method network; --method ns does not read them"


def test_batch_resume_with_another_method_redoes_every_photo_and_says_so(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        Image.fromarray(smooth_photo(60, 80, seed=50 + i)).save(src / f"p{i}.png")
    hole = np.zeros((60, 80), np.uint8)
    hole[20:40, 30:50] = 255
    Image.fromarray(hole).save(tmp_path / "m.png")
    run = ["batch", str(src), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "out"), "--resume"]
    assert main([*run, "--method", "telea"]) == 0
    assert main([*run, "--method", "telea"]) == 0
    err = capsys.readouterr().err
    assert "0 cleaned, 0 copied, 2 skipped" in err and "was written with" not in err
    assert main([*run, "--method", "ns"]) == 0
    err = capsys.readouterr().err
    assert "2 cleaned, 0 copied, 0 skipped" in err
    assert f"--resume: {tmp_path / 'out'} was written with another mask, watermark or settings" in err


def test_the_networks_eval_json_keeps_the_published_keys(tmp_path, capsys):
    """``--method`` adds a "method" key only for another fill: the network's
    results have the keys (and options) of docs/eval_default.json."""
    from pathlib import Path

    reference = json.loads((Path(__file__).resolve().parent.parent / "docs" / "eval_default.json").read_text())
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(smooth_photo(90, 120, seed=30)).save(folder / "p.png")
    rc = main(["eval", str(folder), "--baselines", "telea", "--size", "64", "--per-bin", "1", "--bins", "10-20",
               "--device", "cpu", "--no-deep", "--json", str(tmp_path / "e.json")])
    assert rc == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "e.json").read_text())
    assert list(data) == list(reference) and data["options"] == reference["options"]
