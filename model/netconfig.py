"""The network's plan (``NetConfig``, the named ``CONFIGS``) and the scales
parser: plain data, no torch, so the option dataclasses that name a plan or
take scales (``TrainOptions``) and the command line's ``--help`` load
without it. ``model.network`` builds the network from these and re-exports
them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild a network; stored in every checkpoint.

    The field defaults are the paper's plan (``NetConfig() == NetConfig.paper()``);
    ``NetConfig.bundled()`` is the lighter plan the bundled weights use (named
    "default", as in ``--config default``)."""

    name: str = "paper"
    width: int = 32  # base channels c: the encoders use c, 2c, 4c
    depth: int = 2  # plain 3x3 convs at 1/4 resolution before the dilated ones
    dilations: tuple[int, ...] = (2, 4, 8, 16)
    decoder_depth: int = 2  # convs at 1/4 resolution at the start of each decoder
    half_res_width: int = 128  # decoder channels at 1/2 resolution
    full_res_width: int = 64  # decoder channels at full resolution
    # What the hole holds on input: "zero" (the paper) or "telea" (a classical fill).
    prefill: str = "zero"
    # True: each stage outputs prefill + a zero-initialised correction, so an
    # untrained network reproduces the prefill and training can only improve it.
    residual: bool = False
    # The resolution inference runs each crop at (the longest side); the trainer
    # records its crop size here, the bundled file says 512 (trained at 256).
    run_size: int = 256
    # Inference: fill each crop at these fractions of the run resolution and
    # average the fills (a multi-scale ensemble; the coarser passes see more
    # context per pixel). (1.0,) is a single pass.
    run_scales: tuple[float, ...] = (1.0,)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NetConfig":
        known = {f.name for f in fields(cls)}
        if "train_size" in data and "run_size" not in data:  # checkpoints written before the rename
            data = {**data, "run_size": data["train_size"]}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("dilations", "run_scales"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    @classmethod
    def paper(cls) -> "NetConfig":
        """The paper's plan: base width 32, zero-filled hole."""
        return CONFIGS["paper"]

    @classmethod
    def bundled(cls) -> "NetConfig":
        """The plan of the bundled weights ("default"): width 24, Telea prefill, residual outputs."""
        return CONFIGS["default"]

    @property
    def stride(self) -> int:
        return 4

    @property
    def min_size(self) -> int:
        # Reflect padding at 1/4 resolution needs more pixels than the widest dilation.
        return self.stride * (max(self.dilations) + 1)


CONFIGS: dict[str, NetConfig] = {
    # The paper's plan (CA coarse network without attention, base width 32).
    "paper": NetConfig(),
    # Same architecture, lighter where the cost is (the full- and half-resolution
    # decoder layers), and a Telea prefill with residual outputs.
    "default": NetConfig(
        name="default", width=24, depth=1, decoder_depth=1, half_res_width=32,
        full_res_width=16, prefill="telea", residual=True,
    ),
}


def parse_scales(text: str) -> tuple[float, ...]:
    """'1,0.5,0.25' -> (1.0, 0.5, 0.25); each a fraction in (0, 1]."""
    try:
        scales = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"not a list of numbers: {text!r}") from None
    if not all(0 < v <= 1 for v in scales):
        raise ValueError(f"scales must be fractions in (0, 1]: {text!r}")
    return scales


def get_config(name: str, **overrides) -> NetConfig:
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; choose from {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)
