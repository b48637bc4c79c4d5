"""Evaluation: the cases (``cases``), the classical fills compared with
(``baselines``), scoring and tables (``report``) and comparison sheets
(``sheets``). The command is ``model/cli/eval.py``."""
