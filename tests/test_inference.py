import cv2
import numpy as np
import pytest
import torch

from model.checkpoint import save_weights
from model.inference import Inpainter
from model.network import InpaintNet, get_config
from model.paths import BUNDLED_WEIGHTS, WEIGHTS_ENV, resolve_weights


@pytest.fixture(scope="module")
def inpainter():
    return Inpainter(device="cpu")


def test_bundled_weights_exist_and_load_weights_only():
    assert BUNDLED_WEIGHTS.is_file()
    assert BUNDLED_WEIGHTS.stat().st_size < 30e6
    ckpt = torch.load(BUNDLED_WEIGHTS, weights_only=True)
    assert {"config", "model"} <= set(ckpt)


def test_large_image_two_small_masks_leave_the_rest_bit_identical(photo, random_weights):
    inp = Inpainter(random_weights, device="cpu")
    image = photo(2000, 3000, seed=5)
    mask = np.zeros((2000, 3000), np.uint8)
    mask[100:160, 200:260] = 255
    mask[1500:1580, 2600:2750] = 255
    result = inp(image, mask)
    import cv2
    k = 2 * inp.dilate + 1
    changeable = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    for out in (result.coarse, result.refined):
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.array_equal(out[~changeable], image[~changeable])
        assert (out[mask > 0] != image[mask > 0]).any()
    assert len(result.crops) == 2  # one crop per region, far apart
    for crop in result.crops:
        assert max(crop.image.shape[:2]) <= inp.cfg.run_size


def test_near_regions_are_merged_and_big_regions_downscaled(photo, random_weights):
    inp = Inpainter(random_weights, device="cpu")
    image = photo(900, 1200, seed=2)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[300:600, 300:700] = 1
    mask[300:600, 720:760] = 1  # 20 px away: same crop
    result = inp(image, mask)
    assert len(result.crops) == 1
    crop = result.crops[0]
    assert max(crop.image.shape[:2]) == inp.cfg.run_size  # seen at the run size
    assert crop.hole.mean() > 0.1


def test_empty_mask_returns_input_unchanged(inpainter, photo):
    image = photo(120, 160)
    result = inpainter(image, np.zeros((120, 160), np.uint8))
    assert np.array_equal(result.refined, image) and np.array_equal(result.coarse, image)
    assert result.refined is not image


def test_size_mismatch_is_a_clear_error(inpainter, photo):
    with pytest.raises(ValueError, match="does not match"):
        inpainter(photo(100, 100), np.ones((100, 90), np.uint8))


def test_small_odd_image_is_padded(inpainter, photo):
    image = photo(37, 53)
    mask = np.zeros((37, 53), np.uint8)
    mask[10:20, 10:30] = 255
    result = inpainter(image, mask)
    assert result.refined.shape == image.shape and result.coarse.shape == image.shape
    k = 2 * inpainter.dilate + 1  # the paste reaches the hole dilated by a few pixels
    changeable = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    assert np.array_equal(result.refined[~changeable], image[~changeable])  # the padding never leaks in
    assert (result.refined[mask > 0] != image[mask > 0]).any()


def test_untrained_residual_model_equals_telea(photo, tmp_path):
    from model.prefill import classical_fill
    net = InpaintNet(get_config("default"))
    path = tmp_path / "zero.pt"
    save_weights(net, path)
    inp = Inpainter(path, device="cpu", dilate=0, texture=False)  # the network alone
    image = photo(128, 128)
    hole = np.zeros((128, 128), bool)
    hole[40:80, 50:90] = True
    result = inp(image, hole)
    telea = classical_fill(image, hole, "telea")
    assert np.abs(result.refined.astype(int) - telea.astype(int)).max() <= 1


def test_weights_resolution_order(tmp_path, monkeypatch, random_weights):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    assert resolve_weights() == BUNDLED_WEIGHTS
    monkeypatch.setenv(WEIGHTS_ENV, str(random_weights))
    assert resolve_weights() == random_weights
    explicit = tmp_path / "x.pt"
    explicit.write_bytes(b"")
    assert resolve_weights(explicit) == explicit
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        resolve_weights(tmp_path / "nope.pt")


def test_multi_scale_fills_are_averaged_inside_the_hole_only(photo, random_weights, monkeypatch):
    image = photo(200, 300, seed=3)
    mask = np.zeros((200, 300), np.uint8)
    mask[60:120, 100:180] = 255
    inp = Inpainter(random_weights, device="cpu", scales=(1.0, 0.5), dilate=0, feather=False,
                    texture=False)
    seen = []

    def fake_network(crops, holes):
        # a flat fill that tells the passes apart by their size
        seen.append(crops[0].shape[:2])
        value = 60.0 if len(seen) == 1 else 180.0
        fill = np.full(crops[0].shape, value, np.float32)
        return [(fill, fill + 10)]

    monkeypatch.setattr(inp, "_run_network", fake_network)
    result = inp(image, mask)
    hole = mask > 0
    assert len(seen) == 2 and seen[1] == (round(seen[0][0] / 2), round(seen[0][1] / 2))
    assert (result.coarse[hole] == 120).all() and (result.refined[hole] == 130).all()
    assert np.array_equal(result.refined[~hole], image[~hole])


def test_run_scales_come_from_the_weights_and_can_be_overridden(photo, random_weights, tmp_path):
    from dataclasses import replace
    from model.checkpoint import load_network

    net, _ = load_network(random_weights)
    net.cfg = replace(net.cfg, run_scales=(1.0, 0.5, 0.25))
    path = tmp_path / "multi.pt"
    save_weights(net, path)
    multi = Inpainter(path, device="cpu")
    assert multi.scales == (1.0, 0.5, 0.25)
    assert Inpainter(path, device="cpu", scales=(1.0,)).scales == (1.0,)
    with pytest.raises(ValueError, match="scales"):
        Inpainter(path, device="cpu", scales=(2.0,))
    # the ensemble changes the fill but never the existing pixels
    image = photo(180, 240, seed=4)
    mask = np.zeros((180, 240), np.uint8)
    mask[50:110, 60:150] = 255
    single = Inpainter(path, device="cpu", scales=(1.0,))(image, mask).refined
    averaged = multi(image, mask).refined
    far = np.ones(mask.shape, bool)
    far[40:120, 50:160] = False  # the hole, its dilated paste band and a margin
    assert np.array_equal(averaged[far], image[far])
    assert not np.array_equal(single[mask > 0], averaged[mask > 0])


def test_a_missing_device_is_its_own_error_type():
    """The GUI tells "this device is not here" from other errors by type, not by message."""
    from model.devices import DeviceUnavailable, available_devices, resolve_device

    names = [name for name, _ in available_devices()]
    assert names[:2] == ["auto", "cpu"]
    for missing in ("cuda", "mps"):
        if missing not in names:
            with pytest.raises(DeviceUnavailable):
                resolve_device(missing)
