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
    sheet = np.asarray(Image.open(tmp_path / "s.png"))
    assert sheet.shape[1] == 4 * 256  # input, mask, telea (ours), truth: no coarse or refined column
    assert sheet_columns(SHEET_COLUMNS, ["lama", "telea"], ("lama",)) == ["input", "mask", "telea", "lama", "truth"]


def test_every_registered_filler_names_a_filler_class():
    from model.fill.base import Filler

    for name in FILLERS:
        cls = filler_class(name)
        assert issubclass(cls, Filler) and cls.name == name
    assert isinstance(FillResult({"x": np.zeros((1, 1, 3), np.uint8)}).image, np.ndarray)
