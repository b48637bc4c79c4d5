import numpy as np
import pytest

from model.masks import area_bins, hole_from_user_mask, known_from_user_mask, random_mask


@pytest.mark.parametrize("area", [(0.0, 0.4), (0.1, 0.2), (0.3, 0.4), (0.4, 0.5)])
@pytest.mark.parametrize("kinds", [("strokes", "shapes"), ("blobs",)])
def test_random_mask_hits_area_range(area, kinds):
    for seed in range(8):
        hole = random_mask(96, 128, area, rng=seed, kinds=kinds)
        assert hole.shape == (96, 128) and hole.dtype == bool
        assert area[0] <= hole.mean() <= area[1]


def test_random_mask_reproducible_by_seed():
    a = random_mask(200, 150, (0.1, 0.3), rng=42)
    b = random_mask(200, 150, (0.1, 0.3), rng=42)
    c = random_mask(200, 150, (0.1, 0.3), rng=43)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_mask_conventions():
    user = np.array([[0, 255], [1, 0]], np.uint8)  # non-zero = remove
    assert hole_from_user_mask(user).tolist() == [[False, True], [True, False]]
    assert known_from_user_mask(user).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0, 2] = 9
    assert hole_from_user_mask(rgb).sum() == 1


def test_area_bins_parse_and_reject():
    assert area_bins("10-20,40-50") == [(0.1, 0.2), (0.4, 0.5)]
    with pytest.raises(ValueError):
        area_bins("ten-twenty")
    with pytest.raises(ValueError):
        random_mask(10, 10, (0.5, 0.2))
