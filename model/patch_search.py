"""PatchMatch inpainting in torch: the texture step's patch search on the
model's device (CUDA, MPS or CPU), batched over holes.

The same method as pypatchmatch (Barnes et al. 2009, with Wexler et al.
2007's multi-scale search and voting): at each level of an image pyramid, a
nearest-neighbour field maps every position whose patch touches the hole to
a source patch centred on an existing (and allowed) pixel, inside the image
(a disallowed pixel in it adds ``NOSOURCE_COST`` to its distance and is
never voted, so no hole or excluded pixel ever reaches the result); it is
improved by propagation from neighbours (at jumps of 8, 4, 2, 1 px, so a
good offset spreads across the hole in a few parallel steps) and by random
search at shrinking radii; each hole pixel is then the weighted mean of the
pixels that the overlapping patches' matches put there (voting), and the
field and image go up to the next finer level. A coarse pixel counts as
known where any of the four below it is, so the hole shrinks up the pyramid
and its structure is settled from the surroundings; the finer level starts
from the coarse matches voted at its own resolution.

Everything is vectorised over all target positions of all images of a batch
(images padded to one size; positions outside an image are neither source
nor target), so there is no Python loop over pixels and no host sync inside
an iteration. Patch distances are measured on the patches' projection onto
their first ``FEATURES`` principal components (computed per level from the
sources), a convolution, which makes a candidate cost a gather of
``FEATURES`` floats instead of (2r+1)² x 3.

``should_stop`` is checked between iterations (a few tens of milliseconds
apart on a CPU); it raises ``Cancelled``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

FEATURES = 24
# What a disallowed pixel (hole, excluded) inside a source patch adds to
# its distance: a 32-level error in each channel. On six eval cases (patch
# fill alone, deep / sharpness): patches wholly allowed 2.003 / 0.71;
# cost 3*64² 1.960 / 0.74, 3*32² 1.939 / 0.77, 0 1.933 / 0.80 (pypatchmatch
# 1.636 / 0.81).
NOSOURCE_COST = 3 * 32 ** 2  # principal components a patch is compared on
MIN_LEVEL_SIDE = 16  # the pyramid stops before an image's shorter side would go below this
BATCH_PIXELS = {"cuda": 24_000_000, "mps": 8_000_000, "cpu": 8_000_000}  # padded pixels per call (features: 96 bytes each)


CHANNELS = 3  # a patch is compared on its colour (adding its x and y gradients, as pypatchmatch does,
# measured worse here: deep 2.09 vs 2.00 on six eval cases)


class Cancelled(Exception):
    """Raised when a caller's cancel check says stop."""


def patch_fill_batch(images: Sequence[np.ndarray], holes: Sequence[np.ndarray],
                     excluded: Sequence[np.ndarray | None] | None = None, patch_radius: int = 3,
                     seed: int = 0, device: str | torch.device = "cpu",
                     should_stop: Callable[[], bool] | None = None) -> list[np.ndarray]:
    """PatchMatch inpainting of each ``holes[i]`` (bool, True = missing) of
    ``images[i]`` (RGB uint8); ``excluded[i]`` (bool or None) marks existing
    pixels that may not be a source. Existing pixels stay as they are.
    Images of similar size go through the search together."""
    device = torch.device(device)
    excluded = list(excluded) if excluded is not None else [None] * len(images)
    out: list[np.ndarray | None] = [np.ascontiguousarray(im).copy() for im in images]
    todo = [i for i, h in enumerate(holes) if np.asarray(h).any()]
    for group in _groups([images[i].shape[:2] for i in todo], BATCH_PIXELS.get(device.type, BATCH_PIXELS["cpu"])):
        members = [todo[k] for k in group]
        filled = _fill_group([images[i] for i in members], [np.asarray(holes[i], bool) for i in members],
                             [excluded[i] for i in members], patch_radius, seed, device, should_stop)
        for i, result in zip(members, filled):
            out[i] = result
    return out


def patch_fill(image: np.ndarray, hole: np.ndarray, patch_radius: int = 3, seed: int = 0,
               excluded: np.ndarray | None = None, device: str | torch.device = "cpu",
               should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """``patch_fill_batch`` of one image."""
    return patch_fill_batch([image], [hole], [excluded], patch_radius, seed, device, should_stop)[0]


def _groups(shapes: list[tuple[int, int]], budget: int) -> list[list[int]]:
    """Indices grouped so that padding to the group's largest height and
    width wastes at most half the pixels and a group stays within ``budget``
    padded pixels (a larger image goes alone)."""
    order = sorted(range(len(shapes)), key=lambda i: shapes[i][0] * shapes[i][1], reverse=True)
    groups: list[list[int]] = []
    for i in order:
        h, w = shapes[i]
        if groups:
            g = groups[-1]
            gh = max([h] + [shapes[j][0] for j in g])
            gw = max([w] + [shapes[j][1] for j in g])
            real = h * w + sum(shapes[j][0] * shapes[j][1] for j in g)
            if gh * gw * (len(g) + 1) <= min(budget, 2 * real):
                g.append(i)
                continue
        groups.append([i])
    return groups


def _fill_group(images, holes, excluded, r, seed, device, should_stop):
    b = len(images)
    levels = _level_count(max(min(im.shape[:2]) for im in images))
    step = 2 ** (levels - 1)
    hp = -(-max(im.shape[0] for im in images) // step) * step
    wp = -(-max(im.shape[1] for im in images) // step) * step
    img = torch.zeros(b, hp, wp, 3)
    hole = torch.zeros(b, hp, wp, dtype=torch.bool)
    inside = torch.zeros(b, hp, wp, dtype=torch.bool)
    nosrc = torch.ones(b, hp, wp, dtype=torch.bool)
    for k, (im, h, ex) in enumerate(zip(images, holes, excluded)):
        y, x = im.shape[:2]
        img[k, :y, :x] = torch.from_numpy(np.array(im, np.float32))
        hole[k, :y, :x] = torch.from_numpy(h)
        inside[k, :y, :x] = True
        nosrc[k, :y, :x] = torch.from_numpy(h if ex is None else (h | np.asarray(ex, bool)))
    sizes = torch.tensor([im.shape[:2] for im in images], dtype=torch.int64)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    search = _Search(r, device, generator, should_stop)
    result = search.run(img.to(device), hole.to(device), inside.to(device), nosrc.to(device),
                        sizes.to(device), levels)
    result = result.round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
    out = []
    for k, (im, h) in enumerate(zip(images, holes)):
        y, x = im.shape[:2]
        filled = np.ascontiguousarray(im).copy()
        filled[h] = result[k, :y, :x][h]
        out.append(filled)
    return out


def _level_count(shorter_side: int) -> int:
    levels = 1
    while shorter_side / 2 ** levels >= MIN_LEVEL_SIDE:
        levels += 1
    return levels


def _any_pool(mask: torch.Tensor) -> torch.Tensor:
    """2 x 2 'any' of a (B, H, W) bool mask: (B, H/2, W/2)."""
    return F.max_pool2d(mask[:, None].float(), 2)[:, 0] > 0




def _dilate(mask: torch.Tensor, r: int, outside: float) -> torch.Tensor:
    """Square dilation by ``r`` of a (B, H, W) bool mask; positions beyond
    the border count as ``outside`` (1: set)."""
    padded = F.pad(mask[:, None].float(), (r, r, r, r), value=outside)
    return F.max_pool2d(padded, 2 * r + 1, stride=1)[:, 0] > 0


class _Search:
    """One batch's pyramid of searches and votes (see the module's text)."""

    def __init__(self, r: int, device: torch.device, generator: torch.Generator,
                 should_stop: Callable[[], bool] | None):
        self.r = r
        self.device = device
        self.generator = generator
        self.should_stop = should_stop

    def check(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Cancelled()

    def rand(self, n: int) -> torch.Tensor:
        return torch.rand(n, device=self.device, generator=self.generator)

    def run(self, img, hole, inside, nosrc, sizes, levels):
        pyramid = [(img, hole, inside, nosrc, sizes)]
        for _ in range(levels - 1):
            img, hole, inside, nosrc, sizes = pyramid[-1]
            known = (inside & ~hole).float()[..., None]
            num = F.avg_pool2d((img * known).permute(0, 3, 1, 2), 2)
            den = F.avg_pool2d(known.permute(0, 3, 1, 2), 2)
            coarse = (num / den.clamp_min(1e-6)).permute(0, 2, 3, 1).contiguous()
            # A coarse pixel is known where any of its four is (their mean),
            # as in pypatchmatch: the hole shrinks level by level, so the
            # coarsest levels settle the structure from the surroundings.
            # (The finest level alone puts pixels into the result, and no
            # level votes a disallowed pixel.)
            pyramid.append((coarse, ~_any_pool(~hole), _any_pool(inside), ~_any_pool(~nosrc) | _any_pool(~inside),
                            (sizes + 1) // 2))
        estimate = nnf = targets = None
        for level in range(levels - 1, -1, -1):
            img, hole, inside, nosrc, sizes = pyramid[level]
            # pypatchmatch's schedule: many iterations where the image is small, few at full size
            em, pm = 1 + 2 * level, min(7, 1 + level)
            estimate, nnf, targets = self.level(img, hole, inside, nosrc, sizes, estimate, nnf, targets, em, pm)
        return estimate

    def level(self, img, hole, inside, nosrc, sizes, coarse_img, coarse_nnf, coarse_targets, em_iterations,
              pm_iterations):
        r, dev = self.r, self.device
        radii = max(1, int(np.ceil(np.log2(max(img.shape[1:3])))))  # window halvings down to one pixel
        b, h, w, _ = img.shape
        hw = h * w
        # A source patch lies wholly inside its image with an allowed centre;
        # its other disallowed pixels cost NOSOURCE_COST each and are never
        # voted (as pypatchmatch does: the hole's near surroundings stay sources).
        valid = ~_dilate(~inside, r, 1.0) & ~nosrc
        penalty = (F.avg_pool2d(F.pad(nosrc[:, None].float(), (r, r, r, r), value=1.0), 2 * r + 1, stride=1)
                   * (2 * r + 1) ** 2 * NOSOURCE_COST).flatten()
        nosrc_flat = nosrc.flatten()
        has_source = valid.flatten(1).any(1)  # an image with no source keeps its first guess
        target_mask = _dilate(hole, r, 0.0) & inside & has_source[:, None, None]
        targets = target_mask.flatten().nonzero()[:, 0]
        hole_idx = (hole & inside).flatten().nonzero()[:, 0]
        valid_flat = valid.flatten()
        sources = valid_flat.nonzero()[:, 0]
        counts = torch.bincount(sources // hw, minlength=b)
        starts = torch.cumsum(counts, 0) - counts

        def random_sources(n_idx: torch.Tensor) -> torch.Tensor:
            """A random valid source in the image of each of ``n_idx`` (image indices)."""
            if sources.numel() == 0:
                return torch.zeros_like(n_idx)  # no image here has a source: none of its targets is searched
            pick = (self.rand(n_idx.numel()) * counts[n_idx]).long().clamp_max(counts[n_idx] - 1)
            return sources[(starts[n_idx] + pick).clamp(0, sources.numel() - 1)]

        # the image's first guess in the hole: the coarser level's result upsampled
        img = img.clone()
        if coarse_img is None:
            # random existing pixels: a first guess with texture (a flat one
            # would be matched to the flattest sources and stay flat)
            known = (inside & ~hole).float()[..., None]
            mean = (img * known).sum((1, 2)) / known.sum((1, 2)).clamp_min(1)
            img = torch.where(hole[..., None], mean[:, None, None, :], img)
            hb = hole_idx // hw
            pick = torch.where(counts[hb] > 0, random_sources(hb), hole_idx)
            img = img.reshape(-1, 3).index_put((hole_idx,), img.reshape(-1, 3)[pick]).view(b, h, w, 3)
        else:
            up = F.interpolate(coarse_img.permute(0, 3, 1, 2), scale_factor=2, mode="bilinear",
                               align_corners=False).permute(0, 2, 3, 1)
            img = torch.where(hole[..., None], up, img)
        tb = targets // hw
        ty, tx = (targets % hw) // w, targets % w
        th, tw = sizes[tb, 0], sizes[tb, 1]
        base = tb * hw
        if coarse_nnf is None:
            nnf = random_sources(tb)
        else:
            ch, cw = coarse_nnf.shape[1:]
            cy, cx = (ty // 2).clamp_max(ch - 1), (tx // 2).clamp_max(cw - 1)
            src = coarse_nnf[tb, cy, cx]
            sy, sx = (src % (ch * cw)) // cw, src % cw
            ny = torch.minimum(2 * sy + ty % 2, th - 1)
            nx = torch.minimum(2 * sx + tx % 2, tw - 1)
            nnf = base + ny * w + nx
            # only a coarse target's match is worth keeping: a position that
            # was known at the coarser level starts from its upsampled value
            inherited = coarse_targets[tb, cy, cx] & valid_flat[nnf]
            nnf = torch.where(inherited, nnf, random_sources(tb))

        grid = torch.arange(b * hw, device=dev)  # the field over every position: identity off the targets
        radius0 = torch.maximum(th, tw).float()
        basis = self.basis(img, sources)
        if coarse_nnf is not None:
            # the finer level's first guess: the coarse field's matches voted
            # at this resolution (sharp), rather than the coarse result upsampled
            img = self.vote(img, hole_idx, targets, nnf, torch.where(inherited, 0.0, float("inf")), tb, sizes, b, h, w,
                            nosrc_flat)
        for _ in range(em_iterations):
            self.check()
            feats = self.features(img, basis)  # (B*H*W, D)
            t_feat = feats[targets]

            def distance(cand: torch.Tensor) -> torch.Tensor:
                d = (feats[cand] - t_feat).square_().sum(1) + penalty[cand]
                return torch.where(valid_flat[cand], d, torch.full_like(d, float("inf")))

            best = distance(nnf)
            for it in range(pm_iterations):
                self.check()
                nnf_grid = grid.index_put((targets,), nnf)

                def consider(cy: torch.Tensor, cx: torch.Tensor) -> None:
                    nonlocal nnf, best
                    cand = base + torch.minimum(cy.clamp_min(0), th - 1) * w + torch.minimum(cx.clamp_min(0), tw - 1)
                    d = distance(cand)
                    better = d < best
                    nnf = torch.where(better, cand, nnf)
                    best = torch.where(better, d, best)

                for jump in (8 >> it % 4, 1) if it % 4 < 3 else (1,):
                    for dy, dx in ((0, jump), (0, -jump), (jump, 0), (-jump, 0)):
                        qy = torch.minimum((ty + dy).clamp_min(0), th - 1)
                        qx = torch.minimum((tx + dx).clamp_min(0), tw - 1)
                        q_src = nnf_grid[base + qy * w + qx]
                        consider((q_src % hw) // w - (qy - ty), q_src % w - (qx - tx))
                sy, sx = (nnf % hw) // w, nnf % w
                self.check()  # also between the steps of an iteration: one on a large hole takes a while on a CPU
                for i in range(radii):  # random search around the current match, in a shrinking window
                    radius = radius0 * 0.5 ** i
                    ry = ((self.rand(nnf.numel()) * 2 - 1) * radius).round().long()
                    rx = ((self.rand(nnf.numel()) * 2 - 1) * radius).round().long()
                    consider(sy + ry, sx + rx)
                new = random_sources(tb)
                consider((new % hw) // w, new % w)
            img = self.vote(img, hole_idx, targets, nnf, best, tb, sizes, b, h, w, nosrc_flat)
        return img, grid.index_put((targets,), nnf).view(b, h, w), target_mask

    def basis(self, img: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
        """Conv weights (D, 3, k, k) projecting a patch on the first D
        principal components of (up to 4,096 of) the sources' patches."""
        r, k = self.r, 2 * self.r + 1
        b, h, w, _ = img.shape
        n = min(4096, sources.numel())
        if n < 2:
            return torch.eye(CHANNELS * k * k, device=self.device)[:FEATURES].view(-1, k, k, CHANNELS).permute(0, 3, 1, 2).contiguous()
        pick = sources[(self.rand(n) * sources.numel()).long().clamp_max(sources.numel() - 1)]
        dy, dx = torch.meshgrid(torch.arange(-r, r + 1, device=self.device),
                                torch.arange(-r, r + 1, device=self.device), indexing="ij")
        offsets = (dy * w + dx).flatten()
        c = img.shape[-1]
        patches = img.reshape(-1, c)[pick[:, None] + offsets[None, :]].reshape(n, -1)  # (n, k*k*c)
        patches = patches - patches.mean(0)
        cov = (patches.T @ patches / n).cpu().double()  # tiny; eigh is not on every device
        _, vectors = torch.linalg.eigh(cov)
        top = vectors[:, -FEATURES:].T.float().to(self.device)  # (D, k*k*c), order (y, x, channel)
        return top.view(-1, k, k, c).permute(0, 3, 1, 2).contiguous()

    def features(self, img: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
        feats = F.conv2d(img.permute(0, 3, 1, 2), basis, padding=self.r)  # (B, D, H, W)
        return feats.permute(0, 2, 3, 1).reshape(-1, basis.shape[0]).contiguous()

    def vote(self, img, hole_idx, targets, nnf, best, tb, sizes, b, h, w, nosrc_flat):
        """Each hole pixel: the mean of what the overlapping patches' matches
        put there, each weighted by exp(-d / 2 sigma²), sigma² its image's mean distance."""
        r, hw = self.r, h * w
        finite = torch.isfinite(best)
        d = torch.where(finite, best, torch.zeros_like(best))
        n_t = torch.zeros(b, device=self.device).index_add_(0, tb, finite.float())
        sigma2 = torch.zeros(b, device=self.device).index_add_(0, tb, d) / n_t.clamp_min(1) + 1e-3
        weight = torch.where(finite, torch.exp(-d / (2 * sigma2[tb])), torch.zeros_like(d))
        grid = torch.arange(b * hw, device=self.device).index_put((targets,), nnf)
        w_grid = torch.zeros(b * hw, device=self.device).index_put((targets,), weight)
        flat = img.reshape(-1, 3)
        pb = hole_idx // hw
        py, px = (hole_idx % hw) // w, hole_idx % w
        ph, pw = sizes[pb, 0], sizes[pb, 1]
        acc = torch.zeros(hole_idx.numel(), 3, device=self.device)
        wsum = torch.zeros(hole_idx.numel(), device=self.device)
        for dy in range(-r, r + 1):
            self.check()
            for dx in range(-r, r + 1):
                qy, qx = py - dy, px - dx
                inb = (qy >= 0) & (qy < ph) & (qx >= 0) & (qx < pw)
                q = pb * hw + qy.clamp(0, h - 1) * w + qx.clamp(0, w - 1)
                wq = w_grid[q] * inb
                src = grid[q] + dy * w + dx  # the pixel at offset (dy, dx) of q's match
                src = src.clamp(0, b * hw - 1)
                wq = wq * ~nosrc_flat[src]
                acc += wq[:, None] * flat[src]
                wsum += wq
        voted = acc / wsum.clamp_min(1e-12)[:, None]
        voted = torch.where((wsum > 0)[:, None], voted, flat[hole_idx])
        out = flat.clone()
        out[hole_idx] = voted
        return out.view(b, h, w, 3)

