"""Errors about options name them by field in the engine (model/option.py's
OptionError, the batch's PhotoRefused); the command line words them as its
flags, with the messages it has always printed (the app: test_gui_dialogs.py)."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_photo
from model.cli import main
from model.cli.options import flag_of, in_flags
from model.fill.base import Filler, FillResult
from model.jobs.errors import BatchError, BatchOptionError, PhotoRefused
from model.jobs.mask_fit import fit_mask
from model.jobs.options import BatchOptions
from model.jobs.validation import validate_options
from model.option import OptionError
from model.training.options import TrainError, TrainOptions


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(smooth_photo(24, 32, seed=1)).save(tmp_path / "in" / "a.png")
    mask = np.zeros((24, 32), np.uint8)
    mask[4:10, 4:12] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    return tmp_path


def _batch_error(options: BatchOptions) -> BatchError:
    with pytest.raises(BatchError) as info:
        validate_options(options)
    return info.value


@pytest.mark.parametrize("extra, fields, cli", [
    (dict(), ("mask", "masks_dir"), "give exactly one of a mask (--mask) or a mask folder (--masks)"),
    (dict(mask="m.png", workers=2), ("workers", "cluster"),
     "--workers is for a cluster run: give --cluster ADDRESS (or auto) too"),
    (dict(mask="m.png", cluster="auto", workers=0), ("workers",), "--workers must be 1 or more, got 0"),
    (dict(mask="m.png", missing="keep"), ("missing",), "unknown --missing 'keep'; choose copy or skip"),
    (dict(mask="m.png", quality=101), ("quality",), "--quality must be 1-100, got 101"),
])
def test_batch_option_errors_name_fields_and_the_cli_words_them_as_flags(folder, extra, fields, cli):
    extra = {k: folder / v if k == "mask" else v for k, v in extra.items()}
    exc = _batch_error(BatchOptions(folder / "in", **extra))
    assert isinstance(exc, BatchOptionError) and exc.options == fields
    assert "--" not in str(exc)  # the engine speaks no command line
    assert in_flags(exc, BatchOptions) == cli


def test_watermark_option_errors(folder):
    from model.jobs.watermark_options import MIN_PHOTOS
    from model.jobs.watermark_restore import prepare_batch

    with pytest.raises(BatchError) as info:
        prepare_batch(BatchOptions(folder / "in", mask=folder / "m.png"), "auto")
    assert "--" not in str(info.value)
    assert in_flags(info.value, BatchOptions) == "--watermark replaces --mask and --masks: give only one of them"
    with pytest.raises(BatchError) as info:
        prepare_batch(BatchOptions(folder / "in", output_dir=folder / "out"), "auto", sample=MIN_PHOTOS - 1)
    assert "--" not in str(info.value)
    assert in_flags(info.value, BatchOptions) == f"--sample must be at least {MIN_PHOTOS}"


def test_a_mask_of_another_size_is_refused_by_the_mask_fit_option():
    with pytest.raises(PhotoRefused) as info:
        fit_mask(np.ones((5, 6), bool), 8, 9, "error")
    assert str(info.value) == "mask is 6x5 but the photo is 9x8" and info.value.option == "mask_fit"


def test_training_option_errors(tmp_path):
    from model.training.build import total_steps
    from model.training.options import check_choices
    from model.training.run_folder import read_last

    with pytest.raises(TrainError) as info:
        read_last(tmp_path)
    assert "--" not in str(info.value)
    assert in_flags(info.value, TrainOptions) == \
        f"--resume: {tmp_path / 'last.pt'} does not exist (nothing to resume; start without --resume)"
    with pytest.raises(TrainError) as info:
        check_choices(TrainOptions(data_dir=tmp_path, l1_region="known"), "lr_schedule", "l1_region")
    assert in_flags(info.value, TrainOptions) == "--l1 must be image or hole, not 'known'"
    with pytest.raises(TrainError) as info:
        total_steps(TrainOptions(data_dir=tmp_path, steps=0), 10)
    assert "--" not in str(info.value) and in_flags(info.value, TrainOptions) == "give --steps N (N >= 1) or --epochs N"


def test_flags_come_from_the_fields():
    assert flag_of("masks_dir", BatchOptions) == "--masks"  # the field's own flag
    assert flag_of("output_dir", BatchOptions) == "--output"  # ("-o", "--output"): the long one
    assert flag_of("mask_fit", BatchOptions) == "--mask-fit"
    assert flag_of("watermark", BatchOptions) == "--watermark"  # not a field: the command's own flag
    assert flag_of("l1_region", TrainOptions) == "--l1"


def test_values_keep_their_braces_and_the_error_survives_pickling():
    exc = BatchOptionError("{mask} {path} is odd, got {got!r}", path="a{b}/c", got=2)
    assert str(exc) == "mask a{b}/c is odd, got 2"
    again = pickle.loads(pickle.dumps(exc))  # a cluster worker's error
    assert type(again) is BatchOptionError and again.options == ("mask",) and str(again) == str(exc)
    assert isinstance(again, OptionError) and isinstance(again, BatchError)
    refused = pickle.loads(pickle.dumps(PhotoRefused("too big", "mask_fit")))
    assert str(refused) == "too big" and refused.option == "mask_fit"


class Inverter(Filler):
    def fill(self, image, mask, should_stop=None, progress=None):
        out = image.copy()
        out[mask] = 255 - out[mask]
        return FillResult({"inverted": out})


def test_cli_lists_a_refused_photo_with_the_flag_that_maps_it(folder, monkeypatch, capsys):
    """The engine records which option refused the photo (``option`` in the
    report); the command line adds its hint, as it always has."""
    monkeypatch.setattr("model.cli.batch.open_inpainter", lambda args: Inverter())
    Image.fromarray(smooth_photo(40, 50, seed=2)).save(folder / "in" / "big.png")
    report = folder / "report.json"
    code = main(["batch", str(folder / "in"), "--mask", str(folder / "m.png"), "-o", str(folder / "out"),
                 "--report", str(report)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"FAILED {folder / 'in' / 'big.png'}: mask is 32x24 but the photo is 50x40 (use --mask-fit to map it)" \
        in err, err
    files = {f["relpath"]: f for f in json.loads(report.read_text())["files"]}
    assert files["big.png"]["status"] == "failed" and files["big.png"]["option"] == "mask_fit"
    assert files["big.png"]["reason"] == "mask is 32x24 but the photo is 50x40"
    assert files["a.png"]["status"] == "done" and files["a.png"]["option"] == ""


def test_missing_weights_are_worded_by_each_command(tmp_path, monkeypatch, capsys):
    import model.paths as paths
    from model.cli.common import weights_message

    monkeypatch.setattr(paths, "BUNDLED_WEIGHTS", tmp_path / "none.pt")
    monkeypatch.setattr(paths, "user_weights", lambda: tmp_path / "nor.pt")
    monkeypatch.delenv(paths.WEIGHTS_ENV, raising=False)
    with pytest.raises(paths.MissingWeights) as info:
        paths.resolve_weights()
    assert "--" not in str(info.value) and isinstance(info.value, FileNotFoundError)
    assert weights_message(info.value).endswith(f"; pass --weights FILE or set ${paths.WEIGHTS_ENV}")
    assert weights_message(info.value, "--init").endswith(f"; pass --init FILE or set ${paths.WEIGHTS_ENV}")


def flag_words_raised(root) -> list[str]:
    """'file:line: text' for each string in a ``raise`` of the engine (model/
    outside model/cli/) that names a command-line flag (``--word``)."""
    import ast
    import re

    found = []
    for path in sorted(root.rglob("*.py")):
        if "cli" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for part in ast.walk(node.exc):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str) and \
                            re.search(r"(^|[\s(])--[a-z]", part.value):
                        found.append(f"{path.relative_to(root.parent)}:{part.lineno}: {part.value}")
    return found


def test_the_engine_raises_no_flag_names():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "model"
    assert flag_words_raised(root) == []
