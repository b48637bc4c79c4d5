import json
import socket
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import smooth_photo
from model.cli import main
from model import texture
from model.evaluation import report, sheets
from model.evaluation import cases as eval_cases
from model.evaluation.baselines import available_baselines
from model.fill import classical, load_filler
from model.evaluation.cases import Case, builtin_eval_images, cases_from_masks, make_cases, square_crop
from model.evaluation.report import evaluate_cases, format_paired, format_table, paired_differences
from model.fill.base import FillResult
from model.inference import Inpainter
from model.metrics import psnr, ssim
from model.prefill import classical_fill

BINS = "10-20,20-30,30-40,40-50"


@pytest.fixture(scope="module")
def bundled():
    return Inpainter(device="cpu")


class Unchanged:
    """A filler with the network's outputs that leaves the photo as it is."""
    outputs = ("refined", "coarse")

    def __call__(self, image, hole):
        return FillResult({"refined": image, "coarse": image})


def _images(size: int = 96, count: int = 2) -> list[tuple[str, np.ndarray]]:
    return [(f"p{i}", smooth_photo(size, size, seed=10 + i)) for i in range(count)]


def test_cases_are_reproducible_and_each_area_lies_in_its_bin():
    images = _images(96, 3)
    a = make_cases(images, BINS, seed=7, per_bin=3)
    b = make_cases(images, BINS, seed=7, per_bin=3)
    c = make_cases(images, BINS, seed=8, per_bin=3)
    assert len(a) == 12
    assert [x.bin for x in a] == [lbl for lbl in ["10-20", "20-30", "30-40", "40-50"] for _ in range(3)]
    for x, y in zip(a, b):
        assert x.name == y.name and np.array_equal(x.hole, y.hole) and np.array_equal(x.image, y.image)
    assert any(not np.array_equal(x.hole, z.hole) for x, z in zip(a, c))
    for case in a:
        lo, hi = (int(v) / 100 for v in case.bin.split("-"))
        assert lo <= case.hole.mean() <= hi, (case.name, case.bin, case.hole.mean())
    # Case k of every bin uses image k, so the bins differ only in hole size.
    assert [x.name for x in a[:3]] == [x.name for x in a[3:6]] == ["p0#0", "p1#1", "p2#2"]


def test_make_cases_defaults_to_one_case_per_photo_and_crops_to_size():
    cases = make_cases([("wide", smooth_photo(90, 150, seed=1))], "10-20,30-40", seed=0, size=64)
    assert [c.bin for c in cases] == ["10-20", "30-40"]
    assert all(c.image.shape == (64, 64, 3) and c.hole.shape == (64, 64) for c in cases)


def test_square_crop_takes_the_centre():
    img = np.zeros((40, 100, 3), np.uint8)
    img[:, 30:70] = 200  # the centre 40 columns
    crop = square_crop(img, 40)
    assert crop.shape == (40, 40, 3) and (crop == 200).all()
    assert square_crop(img, 20).shape == (20, 20, 3)


def test_builtin_images_are_local_colour_photos(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("builtin_eval_images tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    images = builtin_eval_images()
    names = [name for name, _ in images]
    assert "skimage/astronaut" in names
    assert len(names) == len(set(names)) >= 4
    for name, img in images:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        assert min(img.shape[:2]) >= 256, name
        chroma = np.abs(img.astype(int) - img.mean(axis=2, keepdims=True)).mean()
        assert chroma > 2, f"{name} looks grey"


def test_model_results_come_from_inpainter_and_scores_from_the_metrics(bundled):
    cases = make_cases(_images(96), "20-30,40-50", seed=3, per_bin=1)
    res = evaluate_cases(bundled, cases, baselines=("telea",), keep_outputs=len(cases))
    assert res["methods"] == ["refined", "coarse", "telea"]
    assert res["bins"] == ["20-30", "40-50"] and res["counts"] == {"20-30": 1, "40-50": 1, "all": 2}
    for case, out, row in zip(cases, res["outputs"], res["cases"]):
        direct = bundled(case.image, case.hole)
        assert np.array_equal(out["refined"], direct.refined)
        assert np.array_equal(out["coarse"], direct.coarse)
        assert np.array_equal(out["telea"], classical_fill(case.image, case.hole, "telea", 5))
        assert row["scores"]["refined"]["psnr"] == psnr(direct.refined, case.image)
        assert row["scores"]["telea"]["ssim"] == ssim(out["telea"], case.image)
        assert row["bin"] == case.bin and row["area"] == pytest.approx(case.hole.mean())
    mean = np.mean([r["scores"]["coarse"]["l1"] for r in res["cases"]])
    assert res["table"]["all"]["coarse"]["l1"] == pytest.approx(mean)
    assert res["table"]["40-50"]["refined"] == res["cases"][1]["scores"]["refined"]
    assert res["model_time_s"] > 0 and set(res["time_s"]) == set(res["methods"])
    # A worse fill scores worse: the table is not decoration.
    assert res["table"]["20-30"]["refined"]["psnr"] > psnr(np.zeros_like(cases[0].image), cases[0].image)


@dataclass
class _ValCase:  # the trainer's case type: no bin
    name: str
    image: np.ndarray
    hole: np.ndarray


def test_cases_without_a_bin_are_grouped_by_area():
    calls = []

    class Fake:
        outputs = ("refined", "coarse")

        def __call__(self, image, hole):
            calls.append(hole.sum())
            return FillResult({"refined": image, "coarse": image})

    image = smooth_photo(40, 40, seed=1)
    hole = np.zeros((40, 40), bool)
    hole[:10] = True  # 25 %
    res = evaluate_cases(Fake(), [_ValCase("a", image, hole)])
    assert calls == [hole.sum()]
    assert res["bins"] == ["20-30"]
    assert res["table"]["all"]["refined"]["ssim"] == pytest.approx(1.0)


def test_keep_outputs_by_index(bundled):
    cases = make_cases(_images(64), "10-20,20-30,30-40", seed=0, per_bin=1)
    res = evaluate_cases(bundled, cases, keep_outputs=[2])
    assert len(res["outputs"]) == 1
    assert np.array_equal(res["outputs"][0]["refined"], bundled(cases[2].image, cases[2].hole).refined)


def run_baseline(name, image, hole):
    """A baseline's fill of a whole test image, as the eval runs it."""
    return load_filler(name, whole_image=True)(image, hole).image


def test_missing_patchmatch_is_left_out_with_a_note(monkeypatch):
    monkeypatch.setattr(texture, "_patchmatch", lambda: None)
    usable, notes = available_baselines(["telea", "ns", "patchmatch"])
    assert usable == ["telea", "ns"]
    assert len(notes) == 1 and "pypatchmatch" in notes[0]
    with pytest.raises(ValueError, match="unknown"):
        available_baselines(["telea", "magic"])


def test_patchmatch_fills_only_the_hole_when_installed():
    image = smooth_photo(64, 64, seed=2)
    hole = np.zeros((64, 64), bool)
    hole[20:40, 20:40] = True
    out = run_baseline("patchmatch", image, hole)
    assert np.array_equal(out[~hole], image[~hole])
    assert np.array_equal(out, run_baseline("patchmatch", image, hole))  # seeded


def test_cases_from_masks_bins_by_area():
    images = _images(40, 1)
    masks = []
    for rows in (6, 10, 30):  # 15 %, 25 %, 75 % of 40 rows
        m = np.zeros((40, 40), bool)
        m[:rows] = True
        masks.append((f"m{rows}", m))
    cases, unused = cases_from_masks(images, masks, "10-20,20-30", size=40)
    assert [(c.name, c.bin) for c in cases] == [("p0+m6", "10-20"), ("p0+m10", "20-30")]
    assert unused == ["m30"]


def test_format_table_lists_every_bin_and_method():
    image = smooth_photo(32, 32)
    cases = [Case("x", image, np.eye(32, dtype=bool), "0-10")]
    res = evaluate_cases(Unchanged(), cases, ("ns",))
    text = format_table(res)
    for word in ("0-10", "all", "ours refined", "ours coarse", "NS", "model time"):
        assert word in text


def test_paired_differences_compare_the_same_cases():
    """Means, standard errors and win counts of refined minus each method,
    with "better" meaning lower for the deep distance and higher for PSNR."""
    def case(bin_, refined, patchmatch):
        return {"bin": bin_, "scores": {"refined": {"psnr": refined[0], "deep": refined[1]},
                                        "patchmatch": {"psnr": patchmatch[0], "deep": patchmatch[1]}}}

    per_case = [case("a", (20, 1.0), (19, 1.2)), case("a", (22, 2.0), (23, 1.9)),
                case("a", (21, 1.5), (20, 1.6)), case("b", (18, 3.0), (17, 3.5))]
    paired = paired_differences(per_case, ["a", "b"], ["refined", "patchmatch"])
    deep_a = paired["a"]["patchmatch"]["deep"]
    diffs = np.array([-0.2, 0.1, -0.1])
    assert deep_a["mean"] == pytest.approx(diffs.mean())
    assert deep_a["se"] == pytest.approx(diffs.std(ddof=1) / np.sqrt(3))
    assert (deep_a["better"], deep_a["n"]) == (2, 3)  # lower deep is better
    psnr_a = paired["a"]["patchmatch"]["psnr"]
    assert psnr_a["mean"] == pytest.approx(1 / 3) and psnr_a["better"] == 2  # higher PSNR is better
    assert paired["b"]["patchmatch"]["deep"]["se"] is None  # one case: no spread to estimate
    assert paired["all"]["patchmatch"]["deep"]["n"] == 4
    assert "ssim" not in paired["a"]["patchmatch"]  # a measure the cases lack is left out
    assert "refined" not in paired["a"]
    text = format_paired({"paired": paired})
    assert "PatchMatch" in text and "2/3" in text and f"{diffs.mean():+8.3f} ± {deep_a['se']:.3f}" in text


def test_eval_command_end_to_end(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(smooth_photo(140, 170, seed=20 + i)).save(folder / f"photo{i}.png")
    (folder / "notes.txt").write_text("not a photo")
    out_json, sheet = tmp_path / "eval.json", tmp_path / "sheet.png"
    rc = main(["eval", str(folder), "--size", "128", "--per-bin", "1", "--bins", BINS, "--seed", "1",
               "--device", "cpu", "--baselines", "telea,ns,patchmatch", "--json", str(out_json),
               "--sheet", str(sheet)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    data = json.loads(out_json.read_text())
    expected = ["refined", "coarse", "telea", "ns"]
    if not texture.available():
        assert captured.err.count("PatchMatch baseline left out") == 1
        assert "patchmatch" not in data["methods"]
    else:
        expected.append("patchmatch")
    assert data["methods"] == expected
    assert data["bins"] == BINS.split(",")
    for label in data["bins"] + ["all"]:
        assert set(data["table"][label]) == set(expected)
        for scores in data["table"][label].values():
            assert set(scores) == {"psnr", "ssim", "l1", "deep", "sharpness"}
    assert data["counts"] == {b: 1 for b in data["bins"]} | {"all": 4}
    assert data["model_time_s"] > 0 and data["images"] == ["photo0", "photo1"] and data["size"] == 128
    assert "outputs" not in data
    assert "model time" in captured.out and "40-50" in captured.out
    assert set(data["paired"]["all"]) == set(expected) - {"refined"}
    assert data["paired"]["all"]["telea"]["deep"]["n"] == 4
    assert "case by case" in captured.out
    img = np.asarray(Image.open(sheet))
    assert img.shape == (26 + 4 * 256, 6 * 256, 3)


def test_eval_command_usage_errors(tmp_path, capsys):
    assert main(["eval"]) == 2
    assert main(["eval", str(tmp_path), "--builtin"]) == 2
    assert main(["eval", str(tmp_path), "--bins", "ten-twenty"]) == 2
    assert main(["eval", str(tmp_path), "--baselines", "magic"]) == 2
    assert main(["eval", str(tmp_path)]) == 1  # an empty folder: no photos
    assert main(["eval", "--builtin", "--held-out"]) == 2
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path), "--scales", "1,2"])


def test_eval_held_out_uses_the_trainers_validation_photos_and_run_settings(tmp_path):
    from model.training.data import scan_photos, split_validation

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(12):  # nested, as a trainer folder may be
        target = folder / ("sub" if i % 2 else "") / f"p{i:02d}.png"
        Image.fromarray(smooth_photo(100, 120, seed=40 + i)).save(target)
    _, held_out = split_validation(scan_photos(folder).usable)
    out_json = tmp_path / "eval.json"
    rc = main(["eval", str(folder), "--held-out", "--size", "96", "--bins", "10-20", "--seed", "2",
               "--device", "cpu", "--baselines", "telea", "--run-size", "64", "--scales", "1,0.5",
               "--json", str(out_json)])
    assert rc == 0
    data = json.loads(out_json.read_text())
    assert data["images"] == [p.stem for p in held_out] and 0 < len(held_out) < 12
    assert data["run_size"] == 64 and data["scales"] == [1.0, 0.5]
    assert data["options"] == {"run_size": 64, "scales": [1.0, 0.5], "texture": True}  # build_inpainter's choices, recorded


def test_sheet_rows_show_different_bins_and_photos():
    cases = make_cases(_images(48, 4), BINS, seed=0, per_bin=4)
    rows = sheets.sheet_rows(cases)
    assert len({cases[i].bin for i in rows}) == 4
    assert len({cases[i].name.split("#")[0] for i in rows}) == 4


def test_eval_command_with_mask_files(tmp_path, capsys):
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir(), masks.mkdir()
    Image.fromarray(smooth_photo(80, 80, seed=3)).save(photos / "a.png")
    for name, rows in (("m1", 16), ("m2", 60)):  # 20 % and 75 % of the rows
        m = np.zeros((80, 80), np.uint8)
        m[:rows] = 255
        Image.fromarray(m).save(masks / f"{name}.png")
    out_json = tmp_path / "r.json"
    rc = main(["eval", str(photos), "--masks", str(masks), "--bins", "10-30", "--size", "80",
               "--device", "cpu", "--baselines", "telea", "--json", str(out_json)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "1 mask(s) unused" in captured.err
    data = json.loads(out_json.read_text())
    assert [c["name"] for c in data["cases"]] == ["a+m1"] and data["cases"][0]["area"] == pytest.approx(0.2)


# ------------------------------------------------- deep distance, sharpness, biharmonic

def test_scores_include_deep_distance_and_sharpness(bundled):
    from model.deep_distance import shared
    from model.metrics import sharpness_ratio

    cases = make_cases(_images(64, 1), "20-30", seed=4, per_bin=1)
    res = evaluate_cases(bundled, cases, baselines=("telea",), keep_outputs=1)
    case, out, row = cases[0], res["outputs"][0], res["cases"][0]["scores"]
    for m in ("refined", "coarse", "telea"):
        assert row[m]["sharpness"] == pytest.approx(sharpness_ratio(out[m], case.image, case.hole))
        assert row[m]["deep"] == pytest.approx(shared()(out[m], case.image), abs=1e-5)
        assert row[m]["deep"] > 0
    assert set(res["table"]["all"]["telea"]) == {"psnr", "ssim", "l1", "deep", "sharpness"}
    assert res["notes"] == []


def test_deep_distance_can_be_left_out():
    image = smooth_photo(32, 32)
    cases = [Case("x", image, np.eye(32, dtype=bool), "0-10")]
    res = evaluate_cases(Unchanged(), cases, deep=None)
    assert set(res["table"]["all"]["refined"]) == {"psnr", "ssim", "l1", "sharpness"}
    assert res["table"]["all"]["refined"]["sharpness"] == pytest.approx(1.0)
    text = format_table(res)
    assert "deep" in text and " -" in text  # the column stays, shown as missing


def test_missing_judge_packages_leave_a_note(monkeypatch):
    from model import deep_distance

    monkeypatch.setattr(deep_distance, "available", lambda: deep_distance.PACKAGES_NOTE)
    judge, note = report.resolve_deep("auto")
    assert judge is None and "efficientnet" in note


def test_biharmonic_fills_a_smooth_gradient_nearly_exactly():
    if classical._load_biharmonic() is None:
        pytest.skip("scikit-image not installed")
    y, x = np.mgrid[0:48, 0:48].astype(np.float32)
    image = np.stack([60 + 2 * x, 40 + 3 * y, 100 + x + y], axis=2).astype(np.uint8)
    hole = np.zeros((48, 48), bool)
    hole[14:34, 10:30] = True
    out = run_baseline("biharmonic", image, hole)
    assert np.array_equal(out[~hole], image[~hole])
    assert np.abs(out.astype(int) - image.astype(int))[hole].max() <= 1
    assert "biharmonic" in available_baselines(["biharmonic"])[0]


def test_missing_scikit_image_leaves_biharmonic_out(monkeypatch):
    monkeypatch.setattr(classical, "_load_biharmonic", lambda: None)
    usable, notes = available_baselines(["telea", "biharmonic"])
    assert usable == ["telea"] and "scikit-image" in notes[0]


# ------------------------------------------------------------- high resolution

def test_object_masks_are_seeded_object_sized_and_cheap_at_any_size():
    for h, w in ((300, 450), (1200, 1800)):
        a = eval_cases.object_mask(h, w, rng=5)
        b = eval_cases.object_mask(h, w, rng=5)
        assert a.shape == (h, w) and np.array_equal(a, b)
        assert 0.02 <= a.mean() <= 0.08
        count = cv2.connectedComponents(a.astype(np.uint8))[0] - 1
        assert 1 <= count <= 6  # one or a few objects, not confetti
    assert not np.array_equal(eval_cases.object_mask(300, 450, rng=5), eval_cases.object_mask(300, 450, rng=6))


def test_crop_box_is_centred_and_stays_inside():
    ys, xs = eval_cases.crop_box((1000, 1500, 3), (750, 500), 512)
    assert (ys.start, ys.stop, xs.start, xs.stop) == (244, 756, 494, 1006)
    ys, xs = eval_cases.crop_box((1000, 1500, 3), (10, 990), 512)
    assert (ys.start, ys.stop, xs.start, xs.stop) == (488, 1000, 0, 512)
    ys, xs = eval_cases.crop_box((300, 400, 3), (200, 150), 512)  # smaller photo: all of it
    assert (ys.stop - ys.start, xs.stop - xs.start) == (300, 400)


def test_hires_check_scores_crops_at_full_resolution(bundled):
    image = smooth_photo(200, 300, seed=8)
    case = eval_cases.hires_case("p", image, seed=0, index=0)
    assert 0.02 <= case.hole.mean() <= 0.08 and case.hole[case.centre[1], case.centre[0]]
    res = report.evaluate_hires(bundled, iter([case]), ("telea",), crop=128)
    direct = bundled(image, case.hole)
    c = res["cases"][0]
    x0, y0, x1, y1 = c["crop"]
    assert (x1 - x0, y1 - y0) == (128, 128) and c["size"] == [300, 200]
    assert np.array_equal(res["crops"][0]["refined"], direct.refined[y0:y1, x0:x1])
    assert np.array_equal(res["crops"][0]["truth"], image[y0:y1, x0:x1])
    assert c["scores"]["refined"]["psnr"] == pytest.approx(psnr(direct.refined[y0:y1, x0:x1], image[y0:y1, x0:x1]))
    telea = classical_fill(image, case.hole, "telea", 5)  # the context crop gives Telea's own fill
    assert np.abs(res["crops"][0]["telea"].astype(int) - telea[y0:y1, x0:x1].astype(int)).max() <= 2
    assert set(c["scores"]["telea"]) == {"psnr", "ssim", "l1", "deep", "sharpness"}
    assert res["table"]["refined"] == c["scores"]["refined"]
    sheet = sheets.hires_sheet(res, columns=("input", "telea", "coarse", "refined", "truth"))
    assert sheet.shape == (26 + 128, 5 * 128, 3)
    assert "high-resolution check" in report.format_hires(res)


def test_eval_hires_command(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(smooth_photo(180, 260, seed=30 + i)).save(folder / f"big{i}.png")
    out_json, sheet = tmp_path / "hires.json", tmp_path / "hires.png"
    rc = main(["eval", str(folder), "--hires", "--device", "cpu", "--baselines", "telea", "--json", str(out_json),
               "--sheet", str(sheet)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    data = json.loads(out_json.read_text())
    assert data["methods"] == ["refined", "coarse", "telea"] and data["count"] == 2
    assert data["photos"] == ["big0.png", "big1.png"] and "crops" not in data
    assert all(0.02 <= c["area"] <= 0.08 for c in data["cases"])
    img = np.asarray(Image.open(sheet))
    assert img.shape == (26 + 2 * 512, 5 * 512, 3)  # photos smaller than the crop: padded tiles
    assert main(["eval", "--builtin", "--hires"]) == 2
