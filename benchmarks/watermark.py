"""Watermark removal on real photos: restoration (``batch --watermark auto``)
against repainting (``watermark-mask``'s mask + inpainting).

    python -m benchmarks.watermark [--set same|mixed|all] [--count 24] [--device cpu] [--keep DIR] [--json OUT.json]

Two sets. ``mixed``: 30 photos in 5 sizes (640x480, 480x720, 1200x800,
1500x2000 and two of 4000x3000: 0.3-12 MP, both orientations) under one mark
scaled to 22 % of each photo's width at the bottom-right corner with a 3 %
margin (``scaled_mark``), JPEG quality 90-95; restored through ``run_batch``
and scored per size (PSNR in the mark's box, the estimated alpha's error
once mapped to each size). ``same`` (below): photos of one size.

The evaluation photos that ship inside scikit-image, scikit-learn and
matplotlib (never trained on) are cropped, flipped and resized to 512 x 384
to make ``count`` different photos. A semi-transparent mark (anti-aliased
white text, a black ring and a coloured disc with a black underline;
opacity 0.3-0.6) is blended onto each at the same place and saved as JPEG
quality 95. Both paths run through ``model.jobs.batch.run_batch`` (what
``main.py batch`` runs): the restoration and the inpainting with the same
estimate's mask; both are scored against the clean photos: PSNR inside
the mark's bounding box, and outside the box (dilated by 8 px) against the
watermarked input, i.e. what the run changed away from the mark (JPEG
re-encoding only). Mask tightness: coverage of the mark's pixels and area
relative to them.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = (512, 384)  # w, h
TEXT_ALPHA, RING_ALPHA, DISC_ALPHA = 0.5, 0.6, (0.3, 0.45)
DISC_COLOUR = (30, 144, 255)


def real_photos(count: int = 24, size: tuple[int, int] = SIZE) -> list[tuple[str, np.ndarray]]:
    """``count`` photos of ``size`` (w, h) from the built-in evaluation photos:
    per photo a full 4:3 crop, a mirrored 80 % crop of one corner, a 65 %
    crop of the opposite corner, and so on."""
    from model.evaluation.cases import builtin_eval_images

    base = builtin_eval_images()
    if not base:
        raise SystemExit("no built-in photos found (install scikit-image, scikit-learn or matplotlib)")
    variants = [(1.0, 0.5, 0.5, False), (0.8, 0.0, 0.0, True), (0.65, 1.0, 1.0, False),
                (0.75, 1.0, 0.0, True), (0.7, 0.0, 1.0, False)]
    out = []
    w, h = size
    for v in range(len(variants)):
        for name, img in base:
            if len(out) == count:
                return out
            zoom, fx, fy, flip = variants[v]
            ih, iw = img.shape[:2]
            cw = min(iw, ih * w / h) * zoom
            ch = cw * h / w
            x0, y0 = int(round((iw - cw) * fx)), int(round((ih - ch) * fy))
            crop = img[y0:y0 + int(round(ch)), x0:x0 + int(round(cw))]
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            out.append((f"{name.replace('/', '_')}_v{v}", crop[:, ::-1].copy() if flip else crop))
    return out


def make_mark(size: tuple[int, int] = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """alpha (H x W float32, 0..0.6) and colour W (H x W x 3 float32, 0..255)
    of a mark near the bottom-right corner: white anti-aliased text
    "SAMPLE (c) 2026" (alpha 0.5), a black ring (0.6) around a coloured disc
    (0.3-0.45, radial) and a black underline (0.4)."""
    w, h = size
    s = h / 384
    text = Image.new("L", size, 0)
    font = ImageFont.load_default(size=int(34 * s))
    ImageDraw.Draw(text).text((w - int(330 * s), h - int(78 * s)), "SAMPLE \u00a9 2026", fill=255, font=font)
    cx, cy, r = w - int(375 * s), h - int(58 * s), int(26 * s)
    big = 4  # draw the logo at 4x and shrink: anti-aliased edges
    ring = Image.new("L", (w * big, h * big), 0)
    disc = Image.new("L", (w * big, h * big), 0)
    line = Image.new("L", (w * big, h * big), 0)
    ImageDraw.Draw(ring).ellipse([(cx - r) * big, (cy - r) * big, (cx + r) * big, (cy + r) * big], outline=255,
                                 width=int(5 * s * big))
    ImageDraw.Draw(disc).ellipse([(cx - r + 5 * s) * big, (cy - r + 5 * s) * big, (cx + r - 5 * s) * big,
                                  (cy + r - 5 * s) * big], fill=255)
    ImageDraw.Draw(line).rectangle([(w - 330 * s) * big, (h - 36 * s) * big, (w - 40 * s) * big,
                                    (h - 32 * s) * big], fill=255)
    shrink = lambda im: np.asarray(im.resize(size, Image.BOX), np.float32) / 255  # noqa: E731
    t, rg, dc, ln = np.asarray(text, np.float32) / 255, shrink(ring), shrink(disc), shrink(line)
    yy, xx = np.mgrid[0:h, 0:w]
    radial = DISC_ALPHA[0] + (DISC_ALPHA[1] - DISC_ALPHA[0]) * np.clip(np.hypot(xx - cx, yy - cy) / r, 0, 1)
    layers = [(t * TEXT_ALPHA, (255, 255, 255)), (dc * radial, DISC_COLOUR), (rg * RING_ALPHA, (0, 0, 0)),
              (ln * 0.4, (0, 0, 0))]
    alpha = np.zeros((h, w), np.float32)
    colour = np.zeros((h, w, 3), np.float32)
    for a, col in layers:  # "over" compositing of the layers into one alpha and colour
        new = a + alpha * (1 - a)
        mixed = a[..., None] * np.array(col, np.float32) + (alpha * (1 - a))[..., None] * colour
        colour = np.where(new[..., None] > 0, mixed / np.maximum(new, 1e-6)[..., None], 0)
        alpha = new
    return alpha.astype(np.float32), colour.astype(np.float32)


_MASTER: list = []


def _mark_master() -> tuple[np.ndarray, np.ndarray]:
    """The logo file an export tool stamps (3600 x 1000, alpha and colour):
    white text "SAMPLE (c) 2026" (alpha 0.5) beside a black ring (0.6)
    around a blue disc (0.35) over a black underline (0.4)."""
    if _MASTER:
        return _MASTER[0]
    W, H = 3600, 1000
    u = H / 100  # drawing unit: a hundredth of the mark's height
    text, ring, disc, line = (Image.new("L", (W, H), 0) for _ in range(4))
    label = "SAMPLE \u00a9 2026"
    font = ImageFont.load_default(size=int(46 * u))
    font = ImageFont.load_default(size=int(46 * u * min(1.0, 252 * u / font.getlength(label))))
    ImageDraw.Draw(text).text((int(100 * u), int(18 * u)), label, fill=255, font=font)
    cx, cy, r = 48 * u, 48 * u, 40 * u
    ImageDraw.Draw(ring).ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=int(9 * u))
    ImageDraw.Draw(disc).ellipse([cx - r + 9 * u, cy - r + 9 * u, cx + r - 9 * u, cy + r - 9 * u], fill=255)
    ImageDraw.Draw(line).rectangle([100 * u, 86 * u, W - 4 * u, 93 * u], fill=255)
    layers = [(text, 0.5, (255, 255, 255)), (disc, 0.35, DISC_COLOUR), (ring, 0.6, (0, 0, 0)), (line, 0.4, (0, 0, 0))]
    a_box = np.zeros((H, W), np.float32)
    c_box = np.zeros((H, W, 3), np.float32)
    for layer, opacity, col in layers:  # "over" compositing
        a = np.asarray(layer, np.float32) / 255 * opacity
        new = a + a_box * (1 - a)
        mixed = a[..., None] * np.array(col, np.float32) + (a_box * (1 - a))[..., None] * c_box
        c_box = np.where(new[..., None] > 0, mixed / np.maximum(new, 1e-6)[..., None], 0)
        a_box = new
    _MASTER.append((a_box, c_box.astype(np.float32)))
    return _MASTER[0]


def scaled_mark(size: tuple[int, int], fraction: float = 0.22, margin: float = 0.03, anchor: str = "bottom-right",
                reference: str = "width") -> tuple[np.ndarray, np.ndarray]:
    """alpha and colour of a mark stamped as an export tool does:
    ``fraction`` of the ``reference``
    length wide (the width, the height or the short side), ``margin`` of it
    from the ``anchor`` corner (or centred): ``_mark_master`` (3.6 : 1)
    scaled to that box. Parts past the border are cut off."""
    from model.jobs.watermark_placement import anchor_point, reference_length

    w, h = size
    ref = reference_length(reference, w, h)
    mw = max(8, int(round(fraction * ref)))
    mh = max(3, int(round(mw / 3.6)))
    m = int(round(margin * ref))
    ax, ay = anchor_point(anchor, w, h)
    x0 = int(round(ax - m - mw)) if "right" in anchor else (m if "left" in anchor else int(round(ax - mw / 2)))
    y0 = int(round(ay - m - mh)) if "bottom" in anchor else (m if "top" in anchor else int(round(ay - mh / 2)))
    a_box, c_box = _mark_master()
    # scaled like an export tool scales its logo: area-averaged, alpha premultiplied
    aw_box = cv2.resize(a_box[..., None] * c_box, (mw, mh), interpolation=cv2.INTER_AREA)
    a_box = cv2.resize(a_box, (mw, mh), interpolation=cv2.INTER_AREA)
    c_box = np.where(a_box[..., None] > 1e-4, aw_box / np.maximum(a_box, 1e-4)[..., None], 0)
    alpha = np.zeros((h, w), np.float32)
    colour = np.zeros((h, w, 3), np.float32)
    X0, Y0, X1, Y1 = max(0, x0), max(0, y0), min(w, x0 + mw), min(h, y0 + mh)
    if X1 > X0 and Y1 > Y0:
        alpha[Y0:Y1, X0:X1] = a_box[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0]
        colour[Y0:Y1, X0:X1] = c_box[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0]
    return alpha, colour


def blend(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    out = alpha[..., None] * colour + (1 - alpha[..., None]) * image.astype(np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def make_folder(folder: Path, count: int, quality: int = 95) -> tuple[Path, list[tuple[str, np.ndarray]], np.ndarray,
                                                                       np.ndarray]:
    """Write ``count`` watermarked JPEGs to ``folder/photos``; return the
    folder, the clean photos, alpha and colour."""
    photos = real_photos(count)
    alpha, colour = make_mark()
    src = folder / "photos"
    src.mkdir(parents=True)
    for name, img in photos:
        Image.fromarray(blend(img, alpha, colour)).save(src / f"{name}.jpg", quality=quality)
    return src, photos, alpha, colour


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def score_outputs(src: Path, out: Path, photos, box, away: np.ndarray) -> list[dict]:
    x0, y0, x1, y1 = box
    rows = []
    for name, clean in photos:
        marked, result = _read(src / f"{name}.jpg"), _read(out / f"{name}.jpg")
        rows.append({"photo": name, "box_psnr": psnr(result[y0:y1, x0:x1], clean[y0:y1, x0:x1]),
                     "marked_box_psnr": psnr(marked[y0:y1, x0:x1], clean[y0:y1, x0:x1]),
                     "away_psnr": psnr(result[away], marked[away]),
                     "away_max": int(np.abs(result[away].astype(int) - marked[away].astype(int)).max())})
    return rows


def tightness(mask: np.ndarray, alpha: np.ndarray) -> dict:
    out = {}
    for level in (0.0, 0.02):
        truth = alpha > level
        out[f"alpha>{level}"] = {"coverage": float((mask & truth).sum() / truth.sum()),
                                 "area_ratio": float(mask.sum() / truth.sum())}
    return out


MIXED_SIZES = [((640, 480), 8), ((480, 720), 8), ((1200, 800), 7), ((1500, 2000), 5), ((4000, 3000), 2)]


def mixed_set(folder: Path, sizes=MIXED_SIZES) -> tuple[Path, list[tuple[str, tuple[int, int], np.ndarray]]]:
    """The mixed-size set: photos from the evaluation photos at each size
    (different crops per size), under ``scaled_mark``, JPEG quality 90-95.
    Returns the folder and (file name, size, clean photo)."""
    src = folder / "photos"
    src.mkdir(parents=True)
    total = sum(n for _, n in sizes)
    made, start = [], 0
    for size, n in sizes:
        alpha, colour = scaled_mark(size)
        for name, img in real_photos(total, size)[start:start + n]:
            file = f"{size[0]}x{size[1]}_{name}.jpg"
            Image.fromarray(blend(img, alpha, colour)).save(src / file, quality=90 + len(made) % 6)
            made.append((file, size, img))
        start += n
    return src, made


def run_mixed(args, inp) -> dict:
    from model.jobs.batch import run_batch
    from model.jobs.options import BatchOptions
    from model.jobs.watermark_model import describe
    from model.jobs.watermark_placement import place_by_rule
    from model.jobs.watermark_restore import prepare_batch

    with tempfile.TemporaryDirectory(prefix="inpaint-wm-mixed-") as tmp:
        folder = (args.keep / "mixed") if args.keep else Path(tmp)
        src, made = mixed_set(folder)
        t0 = time.perf_counter()
        options, restorer = prepare_batch(BatchOptions(src, output_dir=folder / "restored"), "auto", 100)
        t_est = time.perf_counter() - t0
        summary = run_batch(options, restorer.bind(inp))
        t_all = time.perf_counter() - t0
        mark = restorer.mark
        print(f"\nmixed set: {len(made)} photos in {len(MIXED_SIZES)} sizes; estimated: {describe(mark)} "
              f"({t_est:.1f} s; restoration of all {t_all:.0f} s); {summary.done} restored, {summary.copied} copied, "
              f"{len(summary.failed)} failed")
        rows = []
        for file, size, clean in made:
            alpha, colour = scaled_mark(size)
            ys, xs = np.nonzero(alpha > 0)
            box = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            marked, result = _read(src / file), _read(folder / "restored" / file)
            rows.append({"photo": file, "size": list(size), "marked_box_psnr": psnr(marked[box], clean[box]),
                         "box_psnr": psnr(result[box], clean[box])})
        print(f"{'size':>10s} {'photos':>6s} {'marked':>7s} {'restored mean':>13s} {'min':>6s} {'alpha error':>11s}")
        per_size = {}
        for size, _ in MIXED_SIZES:
            got = [r for r in rows if tuple(r["size"]) == size]
            truth, _ = scaled_mark(size)
            placed, _ = place_by_rule(mark, *size)
            err = float(np.abs(placed - truth)[truth > 0].mean())
            per_size[f"{size[0]}x{size[1]}"] = {
                "photos": len(got), "marked": float(np.mean([r["marked_box_psnr"] for r in got])),
                "mean": float(np.mean([r["box_psnr"] for r in got])), "min": float(np.min([r["box_psnr"] for r in got])),
                "alpha_mae": err}
            v = per_size[f"{size[0]}x{size[1]}"]
            print(f"{size[0]:>5d}x{size[1]:<4d} {len(got):6d} {v['marked']:7.2f} {v['mean']:13.2f} {v['min']:6.2f} "
                  f"{err:11.4f}")
        worse = [r["photo"] for r in rows if r["box_psnr"] < r["marked_box_psnr"]]
        print(f"worse than the watermarked input: {len(worse)} of {len(rows)} {worse if worse else ''}")
        return {"rows": rows, "per_size": per_size, "worse": worse, "seconds": {"estimation": t_est, "all": t_all},
                "rule": mark.placement.describe() if mark.placement else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("same", "mixed", "all"), default="all",
                        help="photos of one size (with the inpainting paths), of mixed sizes, or both")
    parser.add_argument("--count", type=int, default=24, help="photos of the same-size set (at least 20)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument("--json", type=Path, help="write the per-photo figures here")
    args = parser.parse_args()

    from model.jobs.batch import run_batch
    from model.jobs.options import BatchOptions
    from model.inference import Inpainter
    from model.jobs.watermark_model import describe
    from model.jobs.watermark_restore import prepare_batch

    inp = Inpainter(args.weights, args.device)
    mixed = run_mixed(args, inp) if args.set in ("mixed", "all") else None
    if args.set == "mixed":
        if args.json:
            args.json.write_text(json.dumps({"mixed": mixed}, indent=1))
        return
    with tempfile.TemporaryDirectory(prefix="inpaint-wm-bench-") as tmp:
        folder = args.keep or Path(tmp)
        src, photos, alpha, colour = make_folder(folder, args.count)
        ys, xs = np.nonzero(alpha > 0)
        box = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        away = np.ones(alpha.shape, bool)
        away[max(0, box[1] - 8):box[3] + 8, max(0, box[0] - 8):box[2] + 8] = False
        print(f"{len(photos)} photos of {SIZE[0]}x{SIZE[1]} (JPEG q95), mark box {box[2] - box[0]}x{box[3] - box[1]}, "
              f"{int((alpha > 0).sum())} mark pixels")

        # restoration: batch --watermark auto
        t0 = time.perf_counter()
        options, restorer = prepare_batch(BatchOptions(src, output_dir=folder / "restored"), "auto", 100)
        t_est = time.perf_counter() - t0
        s_new = run_batch(options, restorer.bind(inp))
        t_new = time.perf_counter() - t0
        assert s_new.done == len(photos), s_new.failed
        mark = restorer.mark
        print(f"estimated: {describe(mark)} ({t_est:.1f} s)")

        # the repainting path: the same estimate's mask (what watermark-mask writes) + inpainting
        t0 = time.perf_counter()
        Image.fromarray(mark.mask.astype(np.uint8) * 255).save(folder / "mask.png")
        s_mask = run_batch(BatchOptions(src, output_dir=folder / "inpainted", mask=folder / "mask.png"), inp)
        t_mask = time.perf_counter() - t0
        assert s_mask.done == len(photos), s_mask.failed
        truth = alpha > 0
        mae = float(np.abs(mark.alpha - alpha)[truth].mean())

        rows_mask = score_outputs(src, folder / "inpainted", photos, box, away)
        rows_new = score_outputs(src, folder / "restored", photos, box, away)
        print(f"\n{'photo':34s} {'marked':>7s} {'inpaint':>8s} {'restore':>8s} {'gain':>6s} {'away':>6s}")
        for a, b in zip(rows_mask, rows_new):
            print(f"{a['photo']:34s} {a['marked_box_psnr']:7.2f} {a['box_psnr']:8.2f} {b['box_psnr']:8.2f} "
                  f"{b['box_psnr'] - a['box_psnr']:+6.2f} {b['away_psnr']:6.1f}")

        def stats(rows, k):
            return float(np.mean([r[k] for r in rows])), float(np.min([r[k] for r in rows]))

        m_marked, n_marked = stats(rows_new, "marked_box_psnr")
        m_mask, n_mask = stats(rows_mask, "box_psnr")
        m_new, n_new = stats(rows_new, "box_psnr")
        worse = sum(b["box_psnr"] < a["box_psnr"] for a, b in zip(rows_mask, rows_new))
        away_new = min(r["away_psnr"] for r in rows_new)
        tight = tightness(mark.mask, alpha)
        print(f"\nPSNR in the mark's box (dB), mean / min over {len(photos)} photos:")
        print(f"  watermarked                    {m_marked:6.2f} / {n_marked:6.2f}")
        print(f"  watermark-mask + inpainting    {m_mask:6.2f} / {n_mask:6.2f}   ({t_mask:.0f} s)")
        print(f"  restoration                    {m_new:6.2f} / {n_new:6.2f}   ({t_new:.0f} s incl. {t_est:.1f} s "
              "estimation)")
        print(f"  restoration worse than the inpainting on {worse} of {len(photos)} photos")
        print(f"away from the mark (box + 8 px): output vs input PSNR min {away_new:.1f} dB, "
              f"max abs difference {max(r['away_max'] for r in rows_new)} (JPEG re-encoding)")
        print(f"alpha mean abs error on the mark's pixels: {mae:.4f}; colour mean abs error where alpha > 0.1: "
              f"{float(np.abs(mark.colour - colour)[alpha > 0.1].mean()):.2f}")
        print("mask: " + ", ".join(f"{k}: coverage {v['coverage']:.1%} at {v['area_ratio']:.2f}x the area"
                                   for k, v in tight.items()))
        if args.json:
            args.json.write_text(json.dumps({
                "count": len(photos), "box": box, "alpha_mae": mae, "inpainting": rows_mask, "restoration": rows_new,
                "mean": {"marked": m_marked, "inpainting": m_mask, "restoration": m_new},
                "min": {"marked": n_marked, "inpainting": n_mask, "restoration": n_new},
                "worse_than_inpainting": int(worse), "tightness": tight,
                "seconds": {"inpainting": t_mask, "restoration": t_new, "estimation": t_est}, "mixed": mixed}, indent=1))


if __name__ == "__main__":
    main()
