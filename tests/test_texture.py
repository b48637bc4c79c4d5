"""The texture step of stage 2 (model/texture.py): copies the photo's own
texture into the hole, follows the network's structure, never touches
existing pixels."""
import cv2
import numpy as np
import pytest

from model.boxes import Box
from model.texture import TextureOptions, synthesize


def _tiled(h: int, w: int, tile: int = 12, seed: int = 0) -> np.ndarray:
    """A periodic, busy texture: a random colour tile repeated."""
    rng = np.random.default_rng(seed)
    cell = rng.integers(0, 256, (tile, tile, 3), dtype=np.uint8)
    reps = (-(-h // tile), -(-w // tile), 1)
    return np.ascontiguousarray(np.tile(cell, reps)[:h, :w])


def _gradient_energy(image: np.ndarray, where: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))[where].mean())


def _blurred_guide(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """What a smooth network fill looks like: the local mean colour."""
    return cv2.GaussianBlur(image, (0, 0), 6)


def test_existing_pixels_are_untouched_and_the_result_is_deterministic():
    image = np.random.default_rng(2).integers(0, 256, (96, 120, 3), dtype=np.uint8)
    hole = np.zeros((96, 120), bool)
    hole[30:60, 40:90] = True
    guide = _blurred_guide(image, hole)
    out = synthesize(image, hole, guide)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.array_equal(out[~hole], image[~hole])
    assert np.array_equal(out, synthesize(image, hole, guide))
    assert not np.array_equal(out, synthesize(image, hole, guide, TextureOptions(seed=1)))
    # keep_low 0: the photo's patches alone; larger: more of the guide's colour
    pure = synthesize(image, hole, guide, TextureOptions(keep_low=0))
    smooth_err = lambda a: np.abs(cv2.GaussianBlur(a, (0, 0), 4).astype(float) - cv2.GaussianBlur(guide, (0, 0), 4))[hole].mean()
    assert smooth_err(out) < smooth_err(pure)


def test_a_periodic_texture_is_rebuilt_from_the_photo_not_smoothed():
    image = _tiled(128, 128)
    hole = np.zeros((128, 128), bool)
    hole[40:88, 36:92] = True
    guide = _blurred_guide(image, hole)
    out = synthesize(image, hole, guide)
    truth_energy = _gradient_energy(image, hole)
    assert _gradient_energy(guide, hole) < 0.3 * truth_energy  # the guide is a smudge
    assert 0.8 * truth_energy < _gradient_energy(out, hole) < 1.2 * truth_energy
    # A periodic texture can be copied exactly: far closer to the truth than the smudge.
    err_out = np.abs(out[hole].astype(int) - image[hole]).mean()
    err_guide = np.abs(guide[hole].astype(int) - image[hole]).mean()
    assert err_out < 0.5 * err_guide


def test_the_fill_follows_the_guides_structure():
    # Left half a red texture, right half a blue one; the hole spans the border.
    noise = _tiled(96, 128, tile=9, seed=3).astype(np.int16) // 4
    image = np.zeros((96, 128, 3), np.int16)
    image[:, :64] = (190, 40, 40)
    image[:, 64:] = (40, 40, 190)
    image = np.clip(image + noise - 32, 0, 255).astype(np.uint8)
    hole = np.zeros((96, 128), bool)
    hole[30:66, 40:88] = True
    guide = _blurred_guide(image, hole)  # red on the left, blue on the right
    out = synthesize(image, hole, guide).astype(int)
    left, right = hole.copy(), hole.copy()
    left[:, 60:], right[:, :68] = False, False
    assert (out[left][:, 0] > out[left][:, 2]).mean() > 0.9
    assert (out[right][:, 2] > out[right][:, 0]).mean() > 0.9


def test_busy_surroundings_give_a_busy_fill_next_to_a_flat_region():
    # Top: flat sky; bottom: busy texture of a similar mean colour. A hole in
    # the texture must not be filled with sky-like flat patches.
    texture = _tiled(128, 128, tile=10, seed=5)
    image = texture.copy()
    image[:48] = texture.reshape(-1, 3).mean(0).astype(np.uint8)
    hole = np.zeros((128, 128), bool)
    hole[70:110, 40:90] = True
    out = synthesize(image, hole, _blurred_guide(image, hole))
    assert _gradient_energy(out, hole) > 0.7 * _gradient_energy(texture, hole)


def test_without_the_patchmatch_library_the_torch_search_fills(monkeypatch):
    import model.texture as texture

    monkeypatch.setattr(texture, "_patchmatch", lambda: None)
    image = _tiled(64, 64)
    hole = np.zeros((64, 64), bool)
    hole[20:44, 20:44] = True
    guide = np.full((64, 64, 3), 77, np.uint8)
    assert texture.search_for(TextureOptions(), "cpu") == "torch"
    with pytest.raises(ValueError, match="texture search"):
        texture.search_for(TextureOptions(search="gpu"), "cpu")
    with pytest.raises(RuntimeError, match="pypatchmatch"):
        texture.search_for(TextureOptions(search="pypatchmatch"), "cpu")
    out = texture.synthesize(image, hole, guide, TextureOptions(keep_low=0))
    assert np.array_equal(out[~hole], image[~hole])
    assert np.abs(out[hole].astype(int) - image[hole]).mean() < 5  # the periodic texture, rebuilt


@pytest.mark.parametrize("texture", [True, False])
def test_inpainter_texture_switch(texture, random_weights):
    from model.inference import Inpainter

    image = _tiled(160, 200, seed=7)
    mask = np.zeros((160, 200), np.uint8)
    mask[50:110, 60:140] = 255
    hole = mask > 0
    inp = Inpainter(random_weights, device="cpu", texture=texture)
    result = inp(image, mask)
    far = np.ones(hole.shape, bool)
    far[40:120, 50:150] = False
    assert np.array_equal(result.refined[far], image[far])
    assert np.array_equal(result.coarse[far], image[far])
    plain = Inpainter(random_weights, device="cpu", texture=False)(image, mask)
    assert np.array_equal(result.coarse, plain.coarse)  # the texture step is stage 2's only
    if texture:
        assert _gradient_energy(result.refined, hole) > 2 * _gradient_energy(plain.refined, hole)
    else:
        assert np.array_equal(result.refined, plain.refined)


def _bokeh_and_grain(h: int = 160, w: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """Left two thirds out of focus (smooth blobs), right third sharp grain;
    the hole lies in the blurred part, next to nothing sharp."""
    rng = np.random.default_rng(5)
    blobs = cv2.GaussianBlur(rng.integers(60, 200, (h, w, 3)).astype(np.float32), (0, 0), 8)
    grain = np.clip(128 + 60 * rng.standard_normal((h, w, 3)), 0, 255)
    image = np.where(np.arange(w)[None, :, None] < 160, blobs, grain).astype(np.uint8)
    hole = np.zeros((h, w), bool)
    hole[50:110, 40:100] = True
    return np.ascontiguousarray(image), hole


def test_sources_unlike_the_holes_focus_are_left_out():
    """Sharp texture is not copied into bokeh (a defocused leaf photo got a
    sharp vein pattern), and without the option every pixel is a source."""
    from model.texture import patch_fill, unlike_focus

    image, hole = _bokeh_and_grain()
    unlike = unlike_focus(image, hole, 3.0)
    assert unlike is not None and not unlike[hole].any()
    assert unlike[:, 170:].mean() > 0.95 and unlike[:, :120].mean() < 0.05
    plain = patch_fill(image, hole, seed=0)
    focused = patch_fill(image, hole, seed=0, source_focus=3.0)
    assert np.array_equal(focused[~hole], image[~hole])
    # the blurred surroundings' own detail is tiny; grain copied in is not
    surround = _gradient_energy(image, cv2.dilate(hole.astype(np.uint8), np.ones((31, 31))).astype(bool) & ~hole)
    assert _gradient_energy(focused, hole) < 2 * surround
    assert np.array_equal(plain[~hole], image[~hole])
    # a flat sky next to grain: the sky is not "blurrier than" anything
    sky = image.copy()
    sky[:, :160] = 150
    flat = unlike_focus(sky, hole, 3.0)
    assert flat is not None and not flat[:, :120].any() and flat[:, 170:].mean() > 0.95
    # a hole in the grain keeps the grain as its source
    grain_hole = np.zeros_like(hole)
    grain_hole[50:110, 180:220] = True
    assert unlike_focus(image, grain_hole, 3.0)[:, 180:].mean() < 0.05


def test_local_detail_is_finite_on_a_real_photo():
    """cv2.blur's running sums dip a hair below zero in the flat black
    background of scikit-image's astronaut (3,386 pixels), which gave NaN
    from the square root and silently switched the source choice off."""
    from skimage import data

    from model.texture import local_detail

    grey = data.astronaut().astype(np.float32).mean(-1)
    detail = local_detail(grey)
    assert np.isfinite(detail).all() and (detail >= 0).all()


def test_low_pass_is_a_gaussian_blur_also_when_computed_small():
    """Wide blurs are computed at a reduced size; they must still be the
    Gaussian blur to within a grey level, and narrow ones exactly it."""
    from model.texture import low_pass

    image = np.zeros((600, 800, 3), np.float32)
    cv2.line(image, (0, 100), (799, 500), (60, -40, 90), 15)  # a sharp line: the hardest case
    image += np.random.default_rng(0).normal(0, 20, image.shape).astype(np.float32) * (image != 0)
    assert np.array_equal(low_pass(image, 6.0), cv2.GaussianBlur(image, (0, 0), 6.0))
    edge = np.zeros((600, 800, 3), np.float32)
    edge[:40] = 255  # a bright band along the border (a corner watermark's surroundings)
    for sigma in (12.0, 23.0, 40.0):
        error = np.abs(low_pass(image, sigma) - cv2.GaussianBlur(image, (0, 0), sigma))
        assert error.max() < 1.0 and error[50:-50, 50:-50].max() < 0.5, sigma
        assert np.abs(low_pass(edge, sigma) - cv2.GaussianBlur(edge, (0, 0), sigma)).max() < 2.5, sigma


@pytest.mark.parametrize("sigma", [3.0, 20.0])
def test_merge_detail_swaps_the_low_band_for_the_guides(sigma):
    """Inside the hole: the detail's fine band plus the guide's low band."""
    from model.texture import merge_detail

    image = _tiled(240, 320, seed=3)
    hole = np.zeros((240, 320), bool)
    hole[80:160, 100:220] = True
    detail = image.copy()
    detail[hole] = _tiled(240, 320, seed=4)[hole]
    guide = np.full_like(image, 90)
    out = merge_detail(image, hole, detail, guide, sigma)
    low = lambda a: cv2.GaussianBlur(a.astype(np.float32), (0, 0), sigma)
    expected = np.clip(detail.astype(np.float32) - low(detail) + low(np.where(hole[..., None], guide, image)), 0, 255)
    assert np.abs(out[hole].astype(np.float32) - expected[hole]).max() <= 1.5
    assert np.array_equal(out[~hole], image[~hole])


def _check_tiles(tiles, hole, shape):
    """Every hole pixel owned by exactly one tile, keep inside search inside the photo."""
    owned = np.zeros(shape, np.uint8)
    for tile in tiles:
        for s, k, full in zip(tile.search.slices, tile.keep.slices, shape):
            assert 0 <= s.start <= k.start < k.stop <= s.stop <= full
        assert tile.own.shape == (tile.keep.height, tile.keep.width)
        assert hole[tile.keep.slices][tile.own].all()
        owned[tile.keep.slices] += tile.own
    assert np.array_equal(owned, hole.astype(np.uint8))


def test_a_long_thin_hole_is_searched_in_tiles_along_it():
    from model.texture import MAX_BOX_PER_HOLE_PIXEL, texture_tiles

    h, w = 1500, 2000
    everything = Box(0, 0, w, h)
    disc = np.zeros((h, w), np.uint8)
    cv2.circle(disc, (1000, 700), 300, 1, -1)
    box = Box(600, 300, 1400, 1100)
    [one] = texture_tiles(disc.astype(bool), box)  # an object keeps its one search
    assert one.search == one.keep == box and np.array_equal(one.own, disc[box.slices] > 0)

    line = np.zeros((h, w), np.uint8)
    cv2.line(line, (0, 200), (w - 1, 1300), 1, 12)
    line = line.astype(bool)
    assert h * w > MAX_BOX_PER_HOLE_PIXEL * line.sum()
    tiles = texture_tiles(line, everything)
    assert len(tiles) > 4
    _check_tiles(tiles, line, (h, w))
    searched = sum(t.search.area for t in tiles)
    assert searched < h * w / 5


def test_pieces_far_apart_are_searched_whole_each_in_its_own_box():
    """Two objects in one region: each gets its own search, neither is cut."""
    from model.texture import texture_tiles

    h, w = 1500, 2000
    hole = np.zeros((h, w), np.uint8)
    cv2.circle(hole, (300, 300), 100, 1, -1)
    cv2.circle(hole, (1700, 1200), 120, 1, -1)
    hole = hole.astype(bool)
    tiles = texture_tiles(hole, Box(0, 0, w, h))
    _check_tiles(tiles, hole, (h, w))
    assert sorted(t.keep for t in tiles) == [(200, 200, 401, 401), (1580, 1080, 1821, 1321)]


def test_tiles_are_used_only_where_they_pay():
    """A small diagonal pole, or a sprinkle of specks, keeps its one search:
    tiles would cut the object or cost more calls than they save."""
    from model.texture import MAX_BOX_PER_HOLE_PIXEL, texture_tiles

    pole = np.zeros((3000, 4000), np.uint8)
    cv2.ellipse(pole, (2000, 1500), (300, 30), 45, 0, 360, 1, -1)
    box = Box(1555, 1055, 2445, 1945)  # its texture box: its own box and half its size around
    assert 890 * 890 > MAX_BOX_PER_HOLE_PIXEL * pole[box.slices].sum()
    assert len(texture_tiles(pole.astype(bool), box)) == 1
    specks = np.zeros((1500, 2000), bool)
    specks[20::60, 20::60] = True
    specks = cv2.dilate(specks.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert len(texture_tiles(specks, Box(0, 0, 2000, 1500))) == 1


def test_a_tiled_fill_leaves_no_trace_of_the_object(random_weights):
    """Each tile's search marks every hole pixel in its box as missing, so
    none of the removed line can be copied back in."""
    from model.inference import Inpainter
    from model.texture import available

    if not available():
        pytest.skip("pypatchmatch is not installed")
    h, w = 900, 1200
    image = _tiled(h, w, seed=5)
    image[..., 0] //= 3  # no strong red in the photo itself
    mask = np.zeros((h, w), np.uint8)
    cv2.line(mask, (0, 100), (w - 1, 800), 255, 9)
    hole = mask > 0
    image[hole] = (255, 0, 0)  # the object: a red cable
    # keep_low 0: the refined fill is the patch search's own, nothing blurred away
    result = Inpainter(random_weights, device="cpu", texture_options=TextureOptions(keep_low=0.0))(image, mask)
    red = result.refined[..., 0].astype(int) - result.refined[..., 1:].max(-1)
    assert red[hole].max() < 120, red[hole].max()
    assert (np.abs(result.refined.astype(int) - image)[hole].mean()) > 50


def test_cancel_does_not_wait_for_a_running_patch_search(monkeypatch, random_weights):
    """A patch search cannot be interrupted; Cancel must not sit out its end."""
    import threading

    import model.inference as inference
    import model.texture as texture

    release = threading.Event()
    started = threading.Event()

    def slow_patch_fill(image, hole, *args):
        started.set()
        release.wait(120)  # a search that would take two minutes
        return image.copy()

    monkeypatch.setattr(texture, "available", lambda: True)
    monkeypatch.setattr(texture, "patch_fill", slow_patch_fill)
    inp = inference.Inpainter(random_weights, device="cpu")
    image = _tiled(120, 160)
    mask = np.zeros((120, 160), np.uint8)
    mask[40:80, 50:110] = 255
    outcome = []

    def remove():
        try:
            inp(image, mask, should_stop=lambda: started.wait(30))  # cancel once the search runs
            outcome.append("finished")
        except inference.Cancelled:
            outcome.append("cancelled")

    worker = threading.Thread(target=remove)
    try:
        worker.start()
        worker.join(60)
        assert outcome == ["cancelled"]
    finally:
        release.set()
        worker.join()


def _record_searches(monkeypatch) -> list[tuple[int, int]]:
    """Every patch search's box size (height, width), whichever search runs."""
    import model.patch_search as patch_search
    import model.texture as texture

    sizes = []
    real_pm, real_batch = texture.patch_fill, patch_search.patch_fill_batch

    def pm(image, *args, **kwargs):
        sizes.append(image.shape[:2])
        return real_pm(image, *args, **kwargs)

    def batch(images, *args, **kwargs):
        sizes.extend(im.shape[:2] for im in images)
        return real_batch(images, *args, **kwargs)

    monkeypatch.setattr(texture, "patch_fill", pm)
    monkeypatch.setattr(patch_search, "patch_fill_batch", batch)
    return sizes


@pytest.mark.parametrize("search", ["auto", "torch"])
def test_specks_get_no_patch_search_over_the_photo(monkeypatch, random_weights, search):
    """Issue 25 #11: a speck every 8 px made one patch search over the whole
    photo (118 s on 3000 x 2000). Specks are filled from their rim; an
    object among them is searched in its own box only."""
    from model.inference import Inpainter

    h, w = 480, 640
    truth = cv2.GaussianBlur(_tiled(h, w, tile=16, seed=2), (0, 0), 2)
    specks = np.zeros((h, w), bool)
    for dy in range(3):
        for dx in range(3):
            specks[2 + dy::8, 2 + dx::8] = True
    image = truth.copy()
    image[specks] = (255, 0, 255)  # dust
    sizes = _record_searches(monkeypatch)
    inp = Inpainter(random_weights, device="cpu", texture_options=TextureOptions(search=search))
    result = inp(image, specks.astype(np.uint8) * 255)
    assert sizes == []
    err = np.abs(result.refined.astype(int) - truth)[specks].mean()
    assert err < 12, err  # the specks are gone, not smeared magenta
    # an object among the specks: one search, around the object only
    hole = specks.copy()
    hole[200:260, 300:380] = True
    image[200:260, 300:380] = (255, 0, 255)
    result = inp(image, hole.astype(np.uint8) * 255)
    assert len(sizes) == 1 and sizes[0][0] * sizes[0][1] < 0.25 * h * w, sizes
    assert np.abs(result.refined.astype(int) - truth)[specks].mean() < 12
    magenta = np.minimum(result.refined[..., 0], result.refined[..., 2]).astype(int) - result.refined[..., 1]
    assert magenta[hole].max() < 150  # neither the specks nor the object were copied back


def test_auto_keeps_the_better_search_on_every_device():
    """pypatchmatch wherever it is installed (the torch search is behind on
    quality, README "Speed"); asking for torch gets torch."""
    from model.texture import available, search_for

    if not available():
        pytest.skip("pypatchmatch is not installed")
    for device in ("cpu", "cuda", "cuda:1", "mps"):
        assert search_for(TextureOptions(), device) == "pypatchmatch"
    assert search_for(TextureOptions(search="torch"), "cuda") == "torch"


def test_speck_mask_keeps_pieces_smaller_than_the_side():
    from model.texture import speck_mask

    hole = np.zeros((40, 40), bool)
    hole[2:5, 2:5] = True  # 3 x 3: a speck
    hole[10:16, 10:12] = True  # 6 px tall: not one
    hole[30, 5:35] = True  # a thin line: not one
    mask = speck_mask(hole, 5)
    assert mask[2:5, 2:5].all() and mask.sum() == 9
    assert not speck_mask(hole, 0).any()


# ------------------------------------------------------------ the torch search

def test_torch_search_rebuilds_a_periodic_texture():
    from model.patch_search import patch_fill

    image = _tiled(128, 128)
    hole = np.zeros((128, 128), bool)
    hole[40:88, 36:92] = True
    out = patch_fill(image, hole, seed=0)
    assert np.array_equal(out[~hole], image[~hole])
    assert np.abs(out[hole].astype(int) - image[hole]).mean() < 8  # from 70 for a flat fill
    assert np.array_equal(out, patch_fill(image, hole, seed=0))  # seeded: it repeats


def test_torch_search_never_copies_hole_or_excluded_pixels():
    """Hole pixels (the object) and excluded pixels are no source, at any level."""
    from model.patch_search import patch_fill_batch

    rng = np.random.default_rng(3)
    image = rng.integers(0, 120, (96, 128, 3), dtype=np.uint8)  # dark grain
    hole = np.zeros((96, 128), bool)
    hole[30:70, 40:90] = True
    image[hole] = (255, 0, 0)  # the object: red
    excluded = np.zeros((96, 128), bool)
    excluded[:, 110:] = True
    image[excluded] = (0, 255, 0)  # a part that may not be copied: green
    other = np.full((70, 90, 3), (0, 0, 250), np.uint8)  # a second photo, blue, in the same batch
    other_hole = np.zeros((70, 90), bool)
    other_hole[20:40, 30:60] = True
    out, out_other = patch_fill_batch([image, other], [hole, other_hole], [excluded, None], seed=1)
    assert out[hole][:, 0].max() < 130 and out[hole][:, 1].max() < 130 and out[hole][:, 2].max() < 130
    assert (out_other[other_hole] == (0, 0, 250)).all()  # nothing from the first photo
    assert np.array_equal(out[~hole], image[~hole])


def test_torch_search_stops_when_asked():
    import time

    from model.patch_search import Cancelled, patch_fill

    image = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    hole = np.zeros((512, 512), bool)
    hole[100:400, 150:350] = True
    asked = []

    def should_stop():
        if len(asked) == 3:  # a few iterations in
            asked.append(time.perf_counter())
        elif len(asked) < 3:
            asked.append(None)
        return len(asked) > 3

    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        patch_fill(image, hole, should_stop=should_stop)
    assert time.perf_counter() - asked[3] < 0.5


def test_cancel_stops_a_running_torch_search(random_weights):
    """Cancel ends the removal and the search itself (no thread left
    searching after the call returns)."""
    import threading
    import time

    import model.inference as inference

    inp = inference.Inpainter(random_weights, device="cpu", texture_options=TextureOptions(search="torch"))
    image = _tiled(600, 800)
    mask = np.zeros((600, 800), np.uint8)
    mask[100:500, 150:650] = 255
    before = threading.active_count()
    t0 = time.perf_counter()
    with pytest.raises(inference.Cancelled):
        inp(image, mask, should_stop=lambda: time.perf_counter() - t0 > 1.0)
    deadline = time.perf_counter() + 1.0
    while threading.active_count() > before and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
