import pytest
import torch

from model.checkpoint import load_network, save_weights
from model.network import CONFIGS, InpaintNet, NetConfig, RegionConv2d, count_flops, get_config


def test_region_conv_uses_separate_filters_per_region():
    torch.manual_seed(0)
    conv = RegionConv2d(4, 5, act=False)
    x = torch.randn(1, 4, 16, 16)
    mask = torch.ones(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 0  # a missing square
    before = conv(x, mask)
    with torch.no_grad():
        conv.known.weight.add_(1.0)
        conv.known.bias.add_(1.0)
    after_known = conv(x, mask)
    missing = mask[0, 0] == 0
    assert torch.equal(after_known[..., missing], before[..., missing])
    assert not torch.allclose(after_known[..., ~missing], before[..., ~missing])
    with torch.no_grad():
        conv.missing.weight.mul_(-2.0)
    after_missing = conv(x, mask)
    assert torch.equal(after_missing[..., ~missing], after_known[..., ~missing])
    assert not torch.allclose(after_missing[..., missing], after_known[..., missing])


def test_region_conv_resizes_mask_to_feature_map():
    """A 32 x 32 mask drives an 8 x 8 feature map: where the resized mask says
    missing (the left half), the output is the missing-pixel filters'; where
    it says known, the known-pixel filters'."""
    torch.manual_seed(0)
    conv = RegionConv2d(2, 3)
    x = torch.randn(1, 2, 8, 8)
    mask = torch.ones(1, 1, 32, 32)
    mask[..., :16] = 0  # the left half of the image is missing
    with torch.no_grad():
        out = conv(x, mask)
        all_known = conv(x, torch.ones(1, 1, 32, 32))
        all_missing = conv(x, torch.zeros(1, 1, 32, 32))
    assert out.shape == (1, 3, 8, 8)
    assert torch.equal(out[..., :4], all_missing[..., :4])
    assert torch.equal(out[..., 4:], all_known[..., 4:])
    assert not torch.allclose(all_missing, all_known)  # two filter banks, not one


@pytest.mark.parametrize("name", ["default", "paper"])
@pytest.mark.parametrize("size", [(256, 256), (97, 131)])
def test_shapes_and_range(name, size):
    torch.manual_seed(0)
    net = InpaintNet(get_config(name)).eval()
    if net.cfg.residual:  # give the zero-initialised outputs something to do
        for p in net.parameters():
            p.data.normal_(0, 0.05)
    h, w = size
    image = torch.rand(1, 3, h, w) * 2 - 1
    mask = (torch.rand(1, 1, h, w) > 0.3).float()
    with torch.no_grad():
        out = net(image, mask, prefill=torch.zeros_like(image))
    for t in out:
        assert t.shape == (1, 3, h, w)
        assert t.min() >= -1 and t.max() <= 1
    # composites keep the existing pixels exactly
    keep = mask.expand_as(image).bool()
    assert torch.equal(out.refined_composite[keep], image[keep])
    assert torch.equal(out.coarse_composite[keep], image[keep])


def test_residual_network_starts_at_its_prefill():
    net = InpaintNet(get_config("default")).eval()
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    mask = torch.ones(1, 1, 64, 64)
    mask[..., 10:40, 20:50] = 0
    prefill = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        out = net(image, mask, prefill)
    expected = image * mask + prefill * (1 - mask)
    assert torch.allclose(out.refined_composite, expected, atol=1e-6)


def test_default_config_flop_budget():
    flops = count_flops(CONFIGS["default"], 256)
    assert flops <= 40e9
    assert count_flops(CONFIGS["paper"], 256) > 2 * flops  # the savings are real


def test_checkpoint_round_trip_rebuilds_the_same_network(tmp_path):
    torch.manual_seed(3)
    cfg = get_config("default", width=8, half_res_width=16, full_res_width=8)
    net = InpaintNet(cfg)
    for p in net.parameters():
        p.data.normal_(0, 0.1)
    path = tmp_path / "w.pt"
    save_weights(net, path, note="test")
    loaded, ckpt = load_network(path)
    assert loaded.cfg == cfg
    assert ckpt["meta"]["note"] == "test"
    torch.load(path, weights_only=True)  # the app's loading rule
    x = torch.rand(1, 3, 80, 80) * 2 - 1
    m = (torch.rand(1, 1, 80, 80) > 0.5).float()
    with torch.no_grad():
        assert torch.equal(net.eval()(x, m, x).refined, loaded(x, m, x).refined)


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_network(bad)


def test_fast_elu_matches_torch_elu_and_its_gradient():
    from model.network import FastELU
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64).requires_grad_(True)
    y = x.detach().clone().requires_grad_(True)
    FastELU()(x).sum().backward()
    torch.nn.functional.elu(y).sum().backward()
    assert torch.allclose(FastELU()(x), torch.nn.functional.elu(y), atol=1e-12)
    assert torch.allclose(x.grad, y.grad, atol=1e-12)


def test_parse_scales_reads_fractions_and_rejects_the_rest():
    from model.network import parse_scales

    assert parse_scales("1,0.5,0.25") == (1.0, 0.5, 0.25)
    for bad in ("1,two", "0", "1,1.5", ""):
        with pytest.raises(ValueError):
            parse_scales(bad)


def test_a_checkpoint_written_with_train_size_loads_as_run_size(tmp_path):
    """Files written before the rename (the bundled default.pt among them)
    say ``train_size``; it is the run size and is read as such."""
    from model.checkpoint import FORMAT
    from model.inference import Inpainter
    from model.paths import BUNDLED_WEIGHTS

    net = InpaintNet(get_config("default", width=8, half_res_width=8, full_res_width=8))
    old = {k: v for k, v in net.cfg.to_dict().items() if k != "run_size"} | {"train_size": 320}
    torch.save({"format": FORMAT, "config": old, "model": net.state_dict(), "meta": {}}, tmp_path / "old.pt")
    loaded, _ = load_network(tmp_path / "old.pt")
    assert loaded.cfg.run_size == 320 and "train_size" not in loaded.cfg.to_dict()
    assert Inpainter(tmp_path / "old.pt", "cpu").run_size == 320
    # a file that has both (never written by this app) keeps run_size
    both = dict(old, run_size=128)
    assert NetConfig.from_dict(both).run_size == 128
    bundled = torch.load(BUNDLED_WEIGHTS, weights_only=True)["config"]
    assert load_network(BUNDLED_WEIGHTS)[0].cfg.run_size == bundled.get("run_size", bundled.get("train_size")) == 512


def test_named_configs():
    """NetConfig()'s defaults are the paper's plan; the bundled plan is "default"."""
    assert NetConfig() == NetConfig.paper() == CONFIGS["paper"]
    assert NetConfig.bundled() == CONFIGS["default"] and NetConfig.bundled().prefill == "telea"
    assert NetConfig.paper().width == 32 and NetConfig.bundled().width == 24
