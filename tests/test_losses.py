import pytest
import torch

from model.losses import (BUNDLED_VGG, InpaintLoss, LossWeights, loss_values, VGGFeatures, correlation_loss,
                          correlation_loss_naive, perceptual_loss, reconstruction_loss, style_loss)
from model.network import StageOutputs


def test_correlation_chunked_equals_naive():
    torch.manual_seed(0)
    a = torch.randn(2, 8, 9, 7, dtype=torch.float64)
    b = torch.randn(2, 8, 9, 7, dtype=torch.float64)
    naive = correlation_loss_naive(a, b)
    for chunk in (1, 5, 16, 1000):
        assert torch.allclose(correlation_loss(a, b, chunk=chunk).double(), naive, rtol=1e-5)


def test_correlation_chunked_gradient_equals_naive():
    torch.manual_seed(1)
    a1 = torch.randn(1, 4, 6, 6, requires_grad=True)
    a2 = a1.detach().clone().requires_grad_(True)
    b = torch.randn(1, 4, 6, 6)
    correlation_loss(a1, b, chunk=7).backward()
    correlation_loss_naive(a2, b).backward()
    assert torch.allclose(a1.grad, a2.grad, rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def vgg():
    return VGGFeatures()


def test_bundled_vgg_is_real_and_frozen(vgg):
    assert BUNDLED_VGG.is_file()
    assert vgg.preprocess == "caffe"
    assert all(not p.requires_grad for p in vgg.parameters())
    # pretrained filters are not the random init: conv1_1 responds to colour edges
    x = torch.zeros(1, 3, 32, 32)
    x[..., 16:] = 1
    pools = vgg(x)
    assert [p.shape[1] for p in pools] == [64, 128, 256]
    assert [p.shape[-1] for p in pools] == [16, 8, 4]


def test_vgg_rejects_a_non_vgg_file(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"foo": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not a VGG16"):
        VGGFeatures(path)


def test_vgg_accepts_torchvision_state_dict(tmp_path):
    import torchvision
    full = torchvision.models.vgg16().state_dict()
    path = tmp_path / "vgg16.pth"
    torch.save(full, path)
    vgg = VGGFeatures(path)
    assert vgg.preprocess == "imagenet"
    assert torch.equal(vgg.features[0].weight, full["features.0.weight"])


def test_style_and_correlation_zero_for_identical_positive_otherwise(vgg):
    torch.manual_seed(0)
    a = torch.rand(1, 3, 32, 32) * 2 - 1
    b = a.clone()
    b[..., 8:20, 8:20] = torch.rand(1, 3, 12, 12) * 2 - 1
    fa, fb = vgg(a), vgg(b)
    assert style_loss(fa, vgg(a.clone())).item() == 0
    assert correlation_loss(fa[1], vgg(a.clone())[1]).item() == 0
    assert style_loss(fa, fb).item() > 0
    assert correlation_loss(fa[1], fb[1]).item() > 0


def test_total_loss_combines_terms(vgg):
    torch.manual_seed(0)
    truth = torch.rand(1, 3, 32, 32) * 2 - 1
    pred = truth + 0.1 * torch.randn_like(truth)
    out = StageOutputs(pred, pred, pred, pred)
    total, parts = InpaintLoss(vgg)(out, truth)
    parts = loss_values(parts)
    expected = parts["l1"] + 1e-5 * parts["correlation"] + 1e-3 * parts["style"]
    assert abs(total.item() - expected) < 1e-5 * max(1.0, expected)
    l1_total, l1_parts = InpaintLoss(None)(out, truth)
    assert set(l1_parts) == {"l1", "l1_refined", "total"}


def test_hole_l1_ignores_existing_pixels_and_weighs_photos_equally():
    truth = torch.zeros(2, 3, 8, 8)
    known = torch.ones(2, 1, 8, 8)
    known[0, :, :4] = 0  # photo 0: half the image missing
    known[1, :, :1, :2] = 0  # photo 1: two missing pixels
    pred = truth.clone()
    pred[0] += 0.5 * (1 - known[0])  # error 0.5 in photo 0's hole
    pred[1] += 0.1 * (1 - known[1])  # error 0.1 in photo 1's hole
    pred += 7.0 * known  # big errors on existing pixels must not count
    assert reconstruction_loss(pred, truth, known, "hole").item() == pytest.approx((0.5 + 0.1) / 2)
    # the paper's form averages over every pixel, existing ones included
    assert reconstruction_loss(pred, truth, known, "image").item() > 5
    # no hole at all: zero, not NaN
    full = torch.ones(1, 1, 8, 8)
    assert reconstruction_loss(truth[:1] + 1, truth[:1], full, "hole").item() == 0
    with pytest.raises(ValueError):
        reconstruction_loss(pred, truth, None, "hole")


def test_inpaint_loss_uses_the_l1_region():
    truth = torch.zeros(1, 3, 8, 8)
    known = torch.ones(1, 1, 8, 8)
    known[..., 2:6, 2:6] = 0
    pred = truth + 0.2 * (1 - known) + 1.0 * known
    out = StageOutputs(pred, pred, pred, pred)
    hole_total, _ = InpaintLoss(None, LossWeights(0, 0, "hole"))(out, truth, known)
    assert hole_total.item() == pytest.approx(2 * 0.2)


def test_perceptual_zero_for_identical_positive_otherwise_and_differentiable(vgg):
    torch.manual_seed(0)
    a = torch.rand(1, 3, 32, 32) * 2 - 1
    b = a.clone()
    b[..., 8:20, 8:20] = torch.rand(1, 3, 12, 12) * 2 - 1
    assert perceptual_loss(vgg(a), vgg(a.clone())).item() == 0
    assert perceptual_loss(vgg(b), vgg(a)).item() > 0
    # one mean per layer, summed
    fa, fb = vgg(a), vgg(b)
    manual = sum((x - y).abs().mean() for x, y in zip(fb, fa))
    assert perceptual_loss(fb, fa).item() == pytest.approx(manual.item(), rel=1e-6)
    c = b.clone().requires_grad_(True)
    perceptual_loss(vgg(c), fa).backward()
    assert c.grad.abs().sum() > 0


def test_refine_l1_weight_scales_only_stage_two_and_perceptual_is_added(vgg):
    torch.manual_seed(0)
    truth = torch.rand(1, 3, 32, 32) * 2 - 1
    known = torch.ones(1, 1, 32, 32)
    known[..., 8:24, 8:24] = 0
    coarse = truth + 0.3 * (1 - known)
    refined = truth + 0.1 * (1 - known) * torch.randn_like(truth)
    out = StageOutputs(coarse, refined, coarse, refined)
    full = loss_values(InpaintLoss(None, LossWeights(0, 0, "hole"))(out, truth, known)[1])
    low = loss_values(InpaintLoss(None, LossWeights(0, 0, "hole", refine_l1=0.25))(out, truth, known)[1])
    coarse_l1 = reconstruction_loss(coarse, truth, known, "hole").item()
    refined_l1 = reconstruction_loss(refined, truth, known, "hole").item()
    assert full["l1"] == pytest.approx(coarse_l1 + refined_l1, rel=1e-5)
    assert low["l1"] == pytest.approx(coarse_l1 + 0.25 * refined_l1, rel=1e-5)
    assert low["l1_refined"] == pytest.approx(refined_l1, rel=1e-5)
    total, parts = InpaintLoss(vgg, LossWeights(0, 0, "hole", refine_l1=0.5, perceptual=0.1))(out, truth, known)
    parts = loss_values(parts)
    assert "style" not in parts and "correlation" not in parts
    assert parts["perceptual"] > 0
    expected = coarse_l1 + 0.5 * refined_l1 + 0.1 * parts["perceptual"]
    assert total.item() == pytest.approx(expected, rel=1e-5)
