"""The evaluation's named settings: the test size, the hole-area bins and the
classical fills compared with. Plain values, no numpy, so ``eval --help``
shows them without loading the engine; ``cases`` and ``baselines`` use them."""

EVAL_SIZE = 512
DEFAULT_BINS = "10-20,20-30,30-40,40-50"
BASELINES = ("telea", "ns", "patchmatch", "biharmonic")
HIRES_BASELINES = ("telea", "patchmatch")  # the high-resolution check (biharmonic is too slow at full size)
# how the tables and sheets name each fill
LABELS = {"refined": "ours refined", "coarse": "ours coarse", "telea": "Telea (cv2)",
          "ns": "NS (cv2)", "patchmatch": "PatchMatch", "biharmonic": "biharmonic"}
