"""Smart selection (model/selection.py) on generated photos with a known object."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from model.selection import default_grow, select_object


def scene(h: int, w: int, kind: str, seed: int = 0):
    """A textured, shaded background and one object of known outline."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = np.stack([110 + 60 * y / h, 150 + 40 * np.sin(x / w * 6), 90 + 80 * x / w], axis=2)
    bg += cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)).astype(np.float32), (0, 0), 3)
    bg += rng.normal(0, 5, bg.shape)
    obj = np.zeros((h, w), np.uint8)
    cx, cy = w // 2, h // 2
    if kind == "person":  # head, body, legs
        cv2.circle(obj, (cx, cy - h // 4), h // 12, 1, -1)
        cv2.ellipse(obj, (cx, cy), (w // 12, h // 6), 0, 0, 360, 1, -1)
        cv2.rectangle(obj, (cx - w // 16, cy + h // 8), (cx - w // 50, cy + h // 3), 1, -1)
        cv2.rectangle(obj, (cx + w // 50, cy + h // 8), (cx + w // 16, cy + h // 3), 1, -1)
        colour = np.array([200, 60, 50], np.float32)
    else:  # a bike: two rings and a frame (background shows through)
        r = h // 7
        cv2.circle(obj, (cx - 2 * r, cy + r), r, 1, max(3, r // 5))
        cv2.circle(obj, (cx + 2 * r, cy + r), r, 1, max(3, r // 5))
        cv2.polylines(obj, [np.array([[cx - 2 * r, cy + r], [cx, cy - r // 2], [cx + 2 * r, cy + r],
                                      [cx, cy + r], [cx - 2 * r, cy + r]], np.int32)], False, 1, max(3, r // 6))
        colour = np.array([30, 30, 40], np.float32)
    shade = 1 + 0.15 * np.sin(y / 7)[..., None]
    img = np.where(obj[..., None].astype(bool), colour * shade + rng.normal(0, 6, bg.shape), bg)
    return np.clip(img, 0, 255).astype(np.uint8), obj.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / max(1, (a | b).sum())


def box_of(mask: np.ndarray, margin: float = 0.08):
    ys, xs = np.nonzero(mask)
    mx, my = margin * (xs.max() - xs.min()), margin * (ys.max() - ys.min())
    return xs.min() - mx, ys.min() - my, xs.max() + 1 + mx, ys.max() + 1 + my


@pytest.mark.parametrize("kind, size", [("person", (480, 640)), ("bike", (600, 800)), ("person", (1500, 2000))])
def test_box_selects_the_object(kind, size):
    image, truth = scene(*size, kind)
    t = time.perf_counter()
    mask = select_object(image, box=box_of(truth), grow=0)
    seconds = time.perf_counter() - t
    assert iou(mask, truth) >= 0.90, f"{kind} {size}: IoU {iou(mask, truth):.3f}"
    assert seconds < 20


def test_selection_is_grown_by_a_few_pixels():
    image, truth = scene(480, 640, "person")
    tight = select_object(image, box=box_of(truth), grow=0)
    grown = select_object(image, box=box_of(truth))
    g = default_grow(480, 640)
    assert g >= 3
    assert (grown & truth).sum() >= 0.99 * truth.sum(), "the grown mask covers the object"
    ring = grown & ~tight
    assert ring.any()
    dist = cv2.distanceTransform((~tight).astype(np.uint8), cv2.DIST_L2, 5)
    assert dist[ring].max() <= g + 1.5, "grown by at most the grow distance"


def test_scribble_over_the_object_selects_it():
    image, truth = scene(480, 640, "person")
    ys, xs = np.nonzero(truth)
    cx, cy = xs.mean(), ys.mean()
    # a rough zigzag down the body, legs and head
    pts = np.array([[cx, cy - 120], [cx - 20, cy - 60], [cx + 20, cy - 20], [cx - 20, cy + 30],
                    [cx - 25, cy + 110], [cx + 25, cy + 110]])
    mask = select_object(image, scribble=pts, scribble_radius=6, grow=0)
    assert iou(mask, truth) >= 0.85, iou(mask, truth)


def test_empty_or_bad_seeds():
    image, truth = scene(120, 160, "person")
    assert not select_object(image, box=(-50, -50, -10, -10)).any()
    with pytest.raises(ValueError):
        select_object(image)


def half_lit_rock(h: int = 480, w: int = 640, seed: int = 0):
    """Grass with dark hollows and a rock whose left half is in sunlight and
    right half in shade, the shade about the colour of the dark grass: the
    strongest edge inside the box is the light/shade line across the rock."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 6)
    noise /= noise.std()
    grass = np.stack([70 + 25 * noise, 95 + 30 * noise, 45 + 15 * noise], axis=2) + rng.normal(0, 8, (h, w, 3))
    rock = np.zeros((h, w), np.uint8)
    cv2.ellipse(rock, (w // 2, h // 2), (w // 5, h // 6), 10, 0, 360, 1, -1)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sunlit = (x < w // 2 + 0.2 * (y - h // 2))[..., None]
    grain = 1 + 0.08 * cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 2)[..., None]
    surface = np.where(sunlit, np.array([205, 190, 160], np.float32), np.array([62, 72, 58], np.float32)) * grain
    image = np.where(rock[..., None].astype(bool), surface, grass)
    return np.clip(image, 0, 255).astype(np.uint8), rock.astype(bool)


@pytest.mark.parametrize("seed", [0, 1])
def test_box_takes_both_halves_of_a_half_lit_object(seed):
    # A box means the main object inside: not only its sunlit half (issue 21, item 4).
    image, truth = half_lit_rock(seed=seed)
    mask = select_object(image, box=box_of(truth), grow=0)
    shade = truth & (np.mgrid[0:480, 0:640][1] > 340)
    assert (mask & shade).sum() >= 0.9 * shade.sum(), "the shaded half is selected"
    assert iou(mask, truth) >= 0.9, iou(mask, truth)


def test_a_loose_box_around_a_thin_object_does_not_take_the_background():
    # The first cut does not reach across a loose box here, so the wider cuts
    # are tried; they take the background seen through the bike, along no
    # edge of its own, and must be refused.
    image, truth = scene(600, 800, "bike")
    mask = select_object(image, box=box_of(truth, margin=0.4), grow=0)
    assert iou(mask, truth) >= 0.9, iou(mask, truth)
