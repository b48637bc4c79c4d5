import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import smooth_photo

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_remove_end_to_end(tmp_path):
    image = smooth_photo(160, 200, seed=4)
    Image.fromarray(image).save(tmp_path / "in.png")
    mask = np.zeros((160, 200), np.uint8)
    mask[50:90, 60:120] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    res = run("remove", tmp_path / "in.png", "--mask", tmp_path / "mask.png",
              "--coarse", tmp_path / "coarse.png", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    out = np.asarray(Image.open(tmp_path / "in_cleaned.png"))
    assert out.shape == image.shape
    far = np.ones(mask.shape, bool)
    far[40:100, 50:130] = False
    assert np.array_equal(out[far], image[far])
    assert not np.array_equal(out[55:85, 65:115], image[55:85, 65:115])
    coarse = np.asarray(Image.open(tmp_path / "coarse.png"))
    assert coarse.shape == image.shape and np.array_equal(coarse[far], image[far])
    assert not np.array_equal(coarse[55:85, 65:115], image[55:85, 65:115])


def test_remove_reports_bad_input(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "m.png")
    res = run("remove", tmp_path / "bad.jpg", "--mask", tmp_path / "m.png")
    assert res.returncode == 1
    assert "bad.jpg" in res.stderr and "Traceback" not in res.stderr


def test_remove_size_mismatch(tmp_path):
    Image.fromarray(smooth_photo(50, 60)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((40, 60), np.uint8)).save(tmp_path / "m.png")
    res = run("remove", tmp_path / "a.png", "--mask", tmp_path / "m.png")
    assert res.returncode == 1 and "60x40" in res.stderr


def test_usage_error_exit_code():
    assert run("remove").returncode == 2
    assert run("no-such-command").returncode == 2


def test_every_command_and_argument_says_what_it_is():
    import argparse

    from model.cli import build_parser

    def walk(parser, name):
        assert parser.description, f"{name} has no description"
        for action in parser._actions:
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help != argparse.SUPPRESS, f"{label} has no help text"
            if isinstance(action, argparse._SubParsersAction):
                for command, sub in action.choices.items():
                    yield command
                    yield from walk(sub, f"{name} {command}")

    commands = list(walk(build_parser(), "main.py"))
    assert {"remove", "batch", "watermark-mask", "train", "eval", "fetch-data"} <= set(commands)


# What one command line loads: a real process, since this test process has long imported torch.
LOADED = """import json, sys
sys.argv = ["main.py", *sys.argv[1:]]
import main
try:
    code = main.main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": [m for m in ("torch", "numpy", "cv2") if m in sys.modules]}),
      file=sys.stderr)
"""


def loaded_by(*args):
    import json

    res = subprocess.run([sys.executable, "-c", LOADED, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    return res.stdout, json.loads(res.stderr.strip().splitlines()[-1])


def test_help_answers_without_loading_torch():
    # torch (seconds to import) and numpy/OpenCV are loaded by a command's run, never to print its help
    for args in (["--help"], ["remove", "--help"], ["batch", "--help"], ["train", "--help"], ["eval", "--help"],
                 ["watermark-mask", "--help"]):
        out, state = loaded_by(*args)
        assert state == {"code": 0, "loaded": []}, (args, state)
        assert out.startswith("usage: python main.py"), out
    out, _ = loaded_by("--help")
    assert all(command in out for command in ("remove", "batch", "watermark-mask", "train", "eval", "fetch-data"))


def test_usage_errors_answer_without_loading_torch(tmp_path):
    for args in (["remove"], ["remove", "a.png"], ["train", str(tmp_path), "--lr", "fast"], ["batch", str(tmp_path)],
                 ["eval"], ["eval", "--builtin", "--bins", "ten"], ["no-such-command"]):
        _, state = loaded_by(*args)
        assert state["code"] == 2 and "torch" not in state["loaded"], (args, state)



def main_in_process(capsys, monkeypatch, *args, argv0="/somewhere/main.py"):
    """``python main.py ARGS`` in this process (no torch start-up per call): (exit code, stderr)."""
    from model.cli import main
    monkeypatch.setattr(sys, "argv", [argv0, *map(str, args)])
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_usage_line_names_the_invoked_program(capsys, monkeypatch):
    code, err = main_in_process(capsys, monkeypatch, "remove")
    assert code == 2
    assert err.startswith("usage: python main.py remove"), err
    code, err = main_in_process(capsys, monkeypatch, "remove", argv0="/usr/local/bin/inpaint")
    assert err.startswith("usage: inpaint remove"), err


def test_unknown_or_absent_device_lists_the_valid_ones(tmp_path, capsys, monkeypatch):
    Image.fromarray(smooth_photo(40, 40)).save(tmp_path / "a.png")
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(tmp_path / "m.png")
    code, err = main_in_process(capsys, monkeypatch, "remove", tmp_path / "a.png", "--mask", tmp_path / "m.png",
                                "--device", "banana")
    assert code == 2
    assert "--device banana: not a device name; valid devices here: auto, cpu" in err
    assert "Expected one of" not in err and "Traceback" not in err
    import torch
    if not torch.cuda.is_available():
        code, err = main_in_process(capsys, monkeypatch, "train", tmp_path, "--device", "cuda:1")
        assert code == 2 and "CUDA is not available here; valid devices here: auto, cpu" in err


def test_all_black_mask_says_there_is_nothing_to_remove(tmp_path, capsys, monkeypatch):
    Image.fromarray(smooth_photo(40, 50)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(tmp_path / "m.png")
    code, err = main_in_process(capsys, monkeypatch, "remove", tmp_path / "a.png", "--mask", tmp_path / "m.png",
                                "--device", "cpu")
    assert code == 0
    assert f"nothing to remove in {tmp_path / 'a.png'}" in err
    assert not (tmp_path / "a_cleaned.png").exists()
