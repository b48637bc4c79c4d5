import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def smooth_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB uint8 image: smooth gradients plus texture and edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 3, 3)
        img[..., c] = 127 + 80 * np.sin(fx * x / width * 6.28 + ph) * np.cos(fy * y / height * 6.28)
    img += rng.normal(0, 6, img.shape)
    img[height // 3: height // 3 + max(1, height // 20)] += 40  # an edge
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def photo():
    return smooth_photo


@pytest.fixture
def settings(tmp_path):
    """App settings in a temporary ini file, on the CPU (the GUI tests)."""
    from PySide6.QtCore import QSettings

    from inpaint_gui.settings import Settings

    s = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    s.device = "cpu"
    return s


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """A network whose outputs differ from its prefill, so tests can see them."""
    from model.checkpoint import save_weights
    from model.network import InpaintNet, get_config

    torch.manual_seed(0)
    net = InpaintNet(get_config("default"))
    for p in net.parameters():
        p.data.normal_(0, 0.05)
    path = tmp_path_factory.mktemp("w") / "random.pt"
    save_weights(net, path)
    return path
