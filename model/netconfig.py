"""The network's plan (``NetConfig``, the named ``CONFIGS``) and the scales
parser: plain data, no torch, so the option dataclasses that name a plan or
take scales (``TrainOptions``) and the command line's ``--help`` load
without it. ``model.network`` builds the network from these and re-exports
them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

# What the hole holds when the network sees it (NetConfig.prefill): nothing,
# OpenCV's Telea fill (CPU only), or the harmonic fill of model/prefill.py
# (torch, so the training pipeline can make it on the device).
PREFILLS = ("zero", "telea", "harmonic")
DEVICE_PREFILLS = ("zero", "harmonic")  # the ones torch makes wherever the batch is


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
        """The config a checkpoint describes, checked (``ConfigError`` names
        the first bad value) before anything is built from it."""
        if not isinstance(data, dict):
            raise ConfigError("the network description is not a table of values")
        known = {f.name for f in fields(cls)}
        if "train_size" in data and "run_size" not in data:  # checkpoints written before the rename
            data = {**data, "run_size": data["train_size"]}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("dilations", "run_scales"):
            if name in values:
                if not isinstance(values[name], (list, tuple)):
                    raise ConfigError(f"{name} must be a list, got {values[name]!r}")
                values[name] = tuple(values[name])
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ConfigError unless every field has its type and a sane range,
        and the network fits in memory (a damaged or hostile checkpoint must
        be refused in a line, not build a 30 GB network or run for minutes)."""
        def integer(name: str, low: int, high: int, value=None) -> None:
            value = getattr(self, name) if value is None else value
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")

        if not isinstance(self.name, str):
            raise ConfigError(f"name must be text, got {self.name!r}")
        for name, high in (("width", LIMITS["width"]), ("depth", 16), ("decoder_depth", 16),
                           ("half_res_width", LIMITS["decoder_width"]), ("full_res_width", LIMITS["decoder_width"])):
            integer(name, 0 if name.endswith("depth") else 1, high)
        if not 1 <= len(self.dilations) <= 16:
            raise ConfigError(f"dilations must list 1 to 16 values, got {len(self.dilations)}")
        for d in self.dilations:
            integer("each of dilations", 1, LIMITS["dilation"], d)
        if self.prefill not in PREFILLS:
            raise ConfigError(f"prefill must be one of {', '.join(PREFILLS)}, got {self.prefill!r}")
        if not isinstance(self.residual, bool):
            raise ConfigError(f"residual must be true or false, got {self.residual!r}")
        integer("run_size", 16, LIMITS["run_size"])
        if not 1 <= len(self.run_scales) <= 8 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 for v in self.run_scales):
            raise ConfigError(f"run_scales must be 1 to 8 fractions in (0, 1], got {list(self.run_scales)!r}")
        gib = self.memory_estimate() / 2 ** 30
        if gib > LIMITS["memory_gib"]:
            raise ConfigError(f"this network would need about {gib:.0f} GiB to run a {self.run_size} px crop "
                              f"(limit {LIMITS['memory_gib']} GiB)")

    def memory_estimate(self) -> int:
        """Bytes to run one crop at ``run_size``, roughly: the weights (3x3
        convolutions, two sets in a region-wise layer) and the largest
        activations alive at once, float32. Good to a small factor, which is
        what refusing a absurd plan needs."""
        c, q = self.width, (self.run_size / self.stride) ** 2
        weights = 9 * (2 * (3 * c + c * 2 * c + 2 * c * 4 * c + 16 * c * c * (self.depth + len(self.dilations)))
                       + 2 * 4 * c * self.half_res_width + 2 * self.half_res_width * self.full_res_width)
        activations = 8 * max(4 * c * q, self.half_res_width * 4 * q, self.full_res_width * 16 * q)
        return int(4 * (weights + activations))

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


class ConfigError(ValueError):
    """A network description that cannot or must not be built."""


# Beyond these a plan is damaged or absurd, not a larger model: the paper's
# width is 32 and its widest dilation 16 (a dilation over 64 sees past a 512
# px crop at 1/4 resolution).
LIMITS = {"width": 256, "decoder_width": 1024, "dilation": 64, "run_size": 4096, "memory_gib": 16}

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
