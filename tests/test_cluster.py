"""Batch cleaning on a Ray cluster (model/jobs/cluster.py), on a local Ray
cluster this module starts (2 CPUs, no dashboard): the outputs, manifest and
report are those of a local run; a worker killed mid-photo costs a retry, not
an output; a photo that kills every worker it meets is listed as failed; a
stopped run finishes with --resume; an unreachable address is one line.
Skipped only where Ray is not installed (CI installs the cluster extra)."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from conftest import smooth_photo  # noqa: E402
from model.fill.base import Filler  # noqa: E402
from model.inference import Inpainter  # noqa: E402
from model.jobs.batch import run_batch  # noqa: E402
from model.jobs.manifest import MANIFEST_NAME  # noqa: E402
from model.jobs.options import BatchOptions  # noqa: E402
from model.jobs.cluster import LOCAL_NODE_IP, MAX_TRIES, run_cluster_batch  # noqa: E402
from model.photos.atomic import TEMP_SUFFIX  # noqa: E402
from test_batch import corner_mask, interrupt_batch, photo_hashes, photos_in, save, tree_hashes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs for the module (the workers find the
    project through PYTHONPATH, as on a machine where it is installed)."""
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             _node_ip_address=LOCAL_NODE_IP)  # loopback only
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """12 small photos of several formats (one in a subfolder, one broken)
    with one corner mask, and a local run's output (texture off: fast)."""
    base = tmp_path_factory.mktemp("shop")
    src = base / "in"
    for i in range(10):
        kind = ("png", "jpg", "webp")[i % 3]
        save(src / f"p{i:02d}.{kind}", smooth_photo(72, 96, seed=i), quality=88,
             **({"lossless": True} if kind == "webp" else {}))
    save(src / "sub" / "grey.png", smooth_photo(72, 96, seed=20)[..., 0])
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    save(base / "m.png", corner_mask(72, 96))
    before = tree_hashes(src)
    options = BatchOptions(src, output_dir=base / "local", mask=base / "m.png", report=base / "local.json")
    summary = run_batch(options, Inpainter(device="cpu", texture=False))
    assert summary.done == 11 and len(summary.failed) == 1
    return base, src, before


def options_for(shop, name: str, **kw) -> BatchOptions:
    base, src, _ = shop
    return BatchOptions(src, output_dir=base / name, mask=base / "m.png", report=base / f"{name}.json",
                        cluster="auto", **kw)


def report(path: Path) -> list[dict]:
    """The report's per-file entries without the timings and the output folder."""
    return [{k: f[k] for k in ("path", "relpath", "status", "reason", "confidence")} | {"output": bool(f["output"])}
            for f in json.loads(path.read_text())["files"]]


def manifest(folder: Path) -> tuple[str, dict]:
    """(the job line, the entries by photo): lines arrive in the order photos finish."""
    head, *lines = (folder / MANIFEST_NAME).read_text().splitlines()
    return head, {e["rel"]: e for e in map(json.loads, lines)}


def same_as_local(shop, name: str) -> None:
    base, src, before = shop
    assert photos_in(base / name) == photos_in(base / "local")
    assert photo_hashes(base / name) == photo_hashes(base / "local")  # byte-identical outputs
    assert manifest(base / name) == manifest(base / "local")
    assert not [p for p in (base / name).rglob("*") if p.name.endswith(TEMP_SUFFIX)]
    assert tree_hashes(src) == before  # the input is untouched


def test_cluster_run_matches_a_local_run(cluster, shop):
    base = shop[0]
    reports, notes = [], []
    summary = run_cluster_batch(options_for(shop, "plain"), device="cpu", texture=False,
                                progress=reports.append, note=notes.append)
    assert (summary.done, summary.copied, len(summary.failed), summary.stopped) == (11, 0, 1, False)
    same_as_local(shop, "plain")
    assert report(base / "plain.json") == report(base / "local.json")
    assert summary.failed[0][1].startswith("damaged or truncated image")
    assert any(n.startswith("cluster: 2 CPU worker(s), 1 thread(s) each") for n in notes), notes
    assert len(reports) == 12 and reports[-1].workers == 2 and reports[-1].done == 12


def test_per_photo_masks_travel_with_their_photos(cluster, tmp_path):
    """--masks: each mask's bytes go to the worker; a bad mask fails its photo
    naming the mask's own path (not a worker's temp file); a photo without a
    mask is copied by the driver."""
    src, masks = tmp_path / "in", tmp_path / "masks"
    for i in range(4):
        save(src / f"a{i}.png", smooth_photo(48, 64, seed=i))
        mask = np.zeros((48, 64), np.uint8)
        mask[5 + 8 * i:15 + 8 * i, 10:30] = 255
        save(masks / f"a{i}.png", mask)
    save(src / "nomask.jpg", smooth_photo(48, 64, seed=9), quality=90)
    (masks / "a3.png").write_bytes(b"not a png")
    runs = {}
    for name, cluster_address in (("local", None), ("cluster", "auto")):
        options = BatchOptions(src, output_dir=tmp_path / name, masks_dir=masks, report=tmp_path / f"{name}.json",
                               cluster=cluster_address)
        runs[name] = run_batch(options, Inpainter(device="cpu", texture=False)) if cluster_address is None else \
            run_cluster_batch(options, device="cpu", texture=False)
    assert (runs["cluster"].done, runs["cluster"].copied) == (3, 1)
    assert photo_hashes(tmp_path / "cluster") == photo_hashes(tmp_path / "local")
    assert report(tmp_path / "cluster.json") == report(tmp_path / "local.json")
    assert runs["cluster"].failed == [(str(src / "a3.png"), f"{masks / 'a3.png'}: not an image or unsupported format")]


def busy_workers() -> list[tuple[int, bool]]:
    """(pid, working on a photo) of this machine's PhotoWorker actor processes (Ray names them in argv)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if title.startswith("ray::PhotoWorker"):
                found.append((int(entry.name), title.startswith("ray::PhotoWorker.clean")))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker processes in /proc")
def test_a_worker_killed_mid_photo_costs_a_retry_not_an_output(cluster, shop):
    killed, notes = [], []

    def kill_one_busy_worker(p) -> None:  # on the first result: SIGKILL a worker while it cleans a photo
        deadline = time.monotonic() + 10
        while not killed and time.monotonic() < deadline:
            busy = [pid for pid, working in busy_workers() if working]
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.002)

    summary = run_cluster_batch(options_for(shop, "killed"), device="cpu", texture=False,
                                progress=kill_one_busy_worker, note=notes.append)
    assert killed, "no worker was caught working"
    assert any("a worker was lost" in n for n in notes), notes
    assert (summary.done, len(summary.failed)) == (11, 1)
    same_as_local(shop, "killed")
    assert report(shop[0] / "killed.json") == report(shop[0] / "local.json")


class ExitOnWidth(Filler):
    """Stands in for the watermark restorer: kills the worker process on a
    photo 81 px wide, else runs the worker's model."""

    def bind(self, inpainter):
        self.inpainter = inpainter
        return self

    def __call__(self, image, hole, should_stop=None):
        if image.shape[1] == 81:
            os._exit(3)
        return self.inpainter(image, hole)


def test_a_photo_that_kills_every_worker_is_listed_as_failed(cluster, tmp_path):
    import ray.cloudpickle
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers do not import the tests
    src = tmp_path / "in"
    for i in range(4):
        save(src / f"ok{i}.png", smooth_photo(48, 64, seed=i))
    save(src / "poison.png", smooth_photo(48, 81, seed=7))
    save(tmp_path / "m.png", corner_mask(48, 64))
    options = BatchOptions(src, output_dir=tmp_path / "out", mask=tmp_path / "m.png", mask_fit="stretch",
                           cluster="auto")
    summary = run_cluster_batch(options, device="cpu", texture=False, restorer=ExitOnWidth())
    assert summary.done == 4
    [(path, reason)] = summary.failed
    assert path == str(src / "poison.png")
    assert reason.startswith(f"failed on {MAX_TRIES} tries: worker lost"), reason
    assert photos_in(tmp_path / "out") == [f"ok{i}.png" for i in range(4)]


def test_stop_then_resume_completes_the_run(cluster, shop):
    base = shop[0]
    reports = []
    first = run_cluster_batch(options_for(shop, "stopped"), device="cpu", texture=False,
                              progress=reports.append, should_stop=lambda: len(reports) >= 2)
    assert first.stopped and 2 <= len(first.records) < 12
    for name in photos_in(base / "stopped"):  # what was written is complete
        assert (base / "stopped" / name).read_bytes() == (base / "local" / name).read_bytes()
    second = run_cluster_batch(options_for(shop, "stopped", resume=True), device="cpu", texture=False)
    assert not second.stopped and second.done == 11 - first.done
    assert second.skipped == first.done  # finished by the first run
    same_as_local(shop, "stopped")


def cli(*args, **kw):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, **kw)


def test_cli_ctrl_c_then_resume_on_the_cluster(cluster, shop):
    """main.py batch --cluster ADDRESS (another driver on the module's cluster):
    Ctrl+C stops cleanly (exit 130), --resume finishes with the local run's bytes."""
    base, src, _ = shop
    out = base / "cli"
    args = ["batch", src, "--mask", base / "m.png", "-o", out, "--texture", "off", "--cluster", cluster]
    stderr = interrupt_batch(args, out)
    assert re.search(r"photo/s, [12] workers?, ", stderr), stderr  # the progress bar counts them
    res = cli(*args, "--resume")
    assert res.returncode == 1, res.stderr  # the broken file is still listed as failed
    assert "FAILED" in res.stderr and "broken.jpg" in res.stderr and "Traceback" not in res.stderr
    same_as_local(shop, "cli")


def test_an_unreachable_cluster_is_one_line(tmp_path, shop):
    base, src, _ = shop
    res = cli("batch", src, "--mask", base / "m.png", "-o", tmp_path / "out", "--cluster", "127.0.0.1:9")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: cannot reach the Ray cluster at 127.0.0.1:9: Connection refused"], res.stderr
    assert not (tmp_path / "out").exists() or not photos_in(tmp_path / "out")
    res = cli("batch", src, "--mask", base / "m.png", "-o", tmp_path / "out", "--workers", "2")
    assert res.returncode == 2 and "--workers is for a cluster run" in res.stderr


def test_watermark_restoration_on_the_cluster_matches_a_local_run(cluster, tmp_path):
    """--watermark: estimated once on the driver, sent to the workers; the notes
    a worker's restorer makes (a photo of another size) reach the driver."""
    from model.jobs.watermark_restore import prepare_batch
    from test_watermark_restore import blend, random_photo, synthetic

    _, marked, alpha, col = synthetic(12, h=120, w=300, opacity=0.5, seed=10)
    src = tmp_path / "in"
    for i, m in enumerate(marked):
        save(src / f"p{i:02d}.png", m)
    big_alpha, big_col = np.zeros((160, 360), np.float32), np.zeros((160, 360, 3), np.float32)
    big_alpha[40:, 60:], big_col[40:, 60:] = alpha, col
    save(src / "big.png", blend(random_photo(np.random.default_rng(11), 160, 360), big_alpha, big_col))
    notes = {"local": [], "cluster": []}
    for name, address in (("local", None), ("cluster", "auto")):
        options, restorer = prepare_batch(BatchOptions(src, output_dir=tmp_path / name, mask_fit="anchor-bottomright",
                                                       cluster=address), "auto", 40, note=notes[name].append)
        if address is None:
            summary = run_batch(options, restorer.bind(Inpainter(device="cpu", texture=False)))
        else:
            summary = run_cluster_batch(options, device="cpu", texture=False, restorer=restorer,
                                        note=notes[name].append)
        assert summary.done == 13 and not summary.failed
    assert photo_hashes(tmp_path / "cluster") == photo_hashes(tmp_path / "local")
    assert manifest(tmp_path / "cluster")[0] == manifest(tmp_path / "local")[0]  # one job: --resume works across
    assert notes["local"] == ["360x160 photo: watermark anchor-bottomright"]
    assert "360x160 photo: watermark anchor-bottomright" in notes["cluster"]


def test_a_local_run_refuses_options_meant_for_a_cluster(shop, tmp_path):
    from model.jobs.errors import BatchError
    with pytest.raises(BatchError, match="run_cluster_batch"):
        run_batch(options_for(shop, "never"), Inpainter(device="cpu", texture=False))
    assert not (shop[0] / "never").exists()


def test_a_classical_fill_on_the_cluster_sends_no_weights(cluster, shop, tmp_path, monkeypatch):
    """--method telea: no weights file is read or sent (here there is none to
    find), the outputs and the manifest are a local Telea run's, and --resume
    with the network redoes them; weights given with it are refused."""
    from model.fill import load_filler
    from model.jobs.errors import BatchOptionError

    base, src, _ = shop
    local = run_batch(BatchOptions(src, output_dir=tmp_path / "local", mask=base / "m.png"), load_filler("telea"))
    assert local.done == 11
    monkeypatch.setenv("INPAINT_WEIGHTS", str(tmp_path / "missing.pt"))
    options = BatchOptions(src, output_dir=tmp_path / "cluster", mask=base / "m.png", cluster="auto")
    assert run_cluster_batch(options, device="cpu", method="telea").done == 11
    assert photo_hashes(tmp_path / "cluster") == photo_hashes(tmp_path / "local")
    assert manifest(tmp_path / "cluster") == manifest(tmp_path / "local")
    with pytest.raises(BatchOptionError) as refused:
        run_cluster_batch(options, weights=ROOT / "resources" / "default.pt", method="telea")
    assert refused.value.options == ("weights", "method")
    monkeypatch.delenv("INPAINT_WEIGHTS")
    resumed = BatchOptions(src, output_dir=tmp_path / "local", mask=base / "m.png", cluster="auto", resume=True)
    again = run_cluster_batch(resumed, device="cpu", texture=False)  # the network now: another job
    assert (again.done, again.skipped, again.other_job) == (11, 0, True)
    assert photo_hashes(tmp_path / "local") == photo_hashes(base / "local")
