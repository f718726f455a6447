"""models.saehd_engine: SAEHD (3 channels) and SAEHDBW (1 channel) networks, step, save/load, guards.

Real faces: crops of the public-domain photos in core.sample_media, res 64, tiny dims.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf

from core.errors import UserError
from core.sample_media import astronaut, grace_hopper
from models.saehd_engine import EngineConfig, SAEHDEngine, StepLosses, blur_out_mask

RES = 64
TINY = dict(resolution=RES, ae_dims=32, e_dims=16, d_dims=16, d_mask_dims=8, precision="float32")
# face boxes (x, y, size) in the photos
BOXES = {"src": (astronaut, (165, 45, 150)), "dst": (grace_hopper, (130, 70, 250))}


def face_batch(side: str, channels: int, n: int = 4, res: int = RES) -> list[np.ndarray]:
    """[warped, target, mask, em_mask] from real face crops, each sample shifted a little."""
    photo_fn, (x, y, s) = BOXES[side]
    photo = photo_fn()
    faces = []
    for i in range(n):
        dx, dy = (i % 2) * s // 20, (i // 2) * s // 20
        crop = cv2.resize(photo[y + dy:y + dy + s, x + dx:x + dx + s], (res, res), interpolation=cv2.INTER_AREA)
        if channels == 1:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)[..., None]
        faces.append(crop.astype(np.float32) / 255.0)
    target = np.stack(faces)
    mask = np.zeros((res, res), np.float32)
    cv2.ellipse(mask, (res // 2, res // 2), (res * 3 // 8, res * 15 // 32), 0, 0, 360, 1.0, -1)
    em = np.zeros((res, res), np.float32)
    for cx, cy in ((res * 3 // 8, res * 7 // 16), (res * 5 // 8, res * 7 // 16), (res // 2, res * 3 // 4)):
        cv2.circle(em, (cx, cy), res // 12, 1.0, -1)
    masks = np.repeat(mask[None, ..., None], n, 0)
    ems = np.repeat(em[None, ..., None], n, 0)
    warped = np.clip(target + np.random.default_rng(1).normal(0, 0.02, target.shape), 0, 1).astype(np.float32)
    return [warped, target, masks, ems]


def networks_pulled(engine: SAEHDEngine, plain: SAEHDEngine, src, dst) -> set[str]:
    """The networks whose generator gradient (everything the step differentiates) differs between `engine` and
    `plain`, two engines with the same weights (same seed) but other options."""
    tensors = [tf.constant(a) for a in (*src, *dst)]

    def grads(eng: SAEHDEngine) -> dict[str, np.ndarray]:
        with tf.GradientTape() as tape:
            s, d, extra = eng._losses(tensors[:4], tensors[4:])
            total = tf.reduce_sum(s) + tf.reduce_sum(d) + tf.reduce_sum(extra)
        return {n: g.numpy() for n, g in zip(eng._named_variables(), tape.gradient(total, eng._train_vars))}

    a, b = grads(engine), grads(plain)
    return {name.split("/")[0] for name in a if not np.allclose(a[name], b[name], atol=1e-7)}


@pytest.fixture(scope="module")
def batches():
    return {ch: (face_batch("src", ch), face_batch("dst", ch)) for ch in (1, 3)}


@pytest.mark.parametrize("channels,archi", [(3, "df-ud"), (1, "liae-udt")])
def test_loss_decreases_on_real_faces(channels, archi, batches):
    eng = SAEHDEngine(EngineConfig(channels=channels, archi=archi, seed=0, learning_rate=2e-4, **TINY))
    src, dst = batches[channels]
    losses = [eng.train_step(src, dst) for _ in range(30)]
    assert all(isinstance(l, StepLosses) and l.finite for l in losses)
    first, last = losses[0], eng.evaluate(src, dst)
    assert last.src_loss < 0.8 * first.src_loss and last.dst_loss < 0.8 * first.dst_loss
    assert eng.iteration == 30


@pytest.mark.parametrize("channels", [1, 3])
def test_predict_and_view_shapes(channels, batches):
    eng = SAEHDEngine(EngineConfig(channels=channels, archi="df-ud", seed=1, **TINY))
    src, dst = batches[channels]
    face, src_mask, dst_mask = eng.predict(dst[1])
    assert face.shape == (4, RES, RES, channels) and src_mask.shape == dst_mask.shape == (4, RES, RES, 1)
    assert face.dtype == np.float32 and 0 <= face.min() and face.max() <= 1
    view = eng.view(src[1], dst[1])
    assert set(view) == {"src_src", "src_srcm", "dst_dst", "dst_dstm", "src_dst", "src_dstm"}
    assert view["src_dst"].shape == (4, RES, RES, channels) and view["dst_dstm"].shape == (4, RES, RES, 1)
    np.testing.assert_allclose(view["src_dst"], face, atol=1e-5)  # predict = the swap path of the preview
    np.testing.assert_allclose(view["dst_dstm"], dst_mask, atol=1e-5)
    assert eng.predict(dst[1][0]).__len__() == 3  # a single face is accepted too
    with pytest.raises(ValueError, match="expects"):
        eng.predict(np.zeros((1, RES, RES, 2), np.float32))


def test_param_counts_per_network():
    eng = SAEHDEngine(EngineConfig(channels=1, archi="liae-ud", seed=0, **TINY))
    counts = eng.param_counts()
    assert list(counts) == ["encoder", "inter_AB", "inter_B", "decoder", "total"]
    assert counts["inter_AB"] == counts["inter_B"]
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert counts["total"] == sum(int(np.prod(v.shape)) for v in eng._named_variables().values())


def test_save_load_continue_reproduces_losses(tmp_path, batches):
    cfg = EngineConfig(channels=1, archi="df-ud", seed=3, **TINY)
    src, dst = batches[1]
    a = SAEHDEngine(cfg)
    for _ in range(3):
        a.train_step(src, dst)
    a.save(tmp_path, "new_SAEHDBW")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(a.file_names("new_SAEHDBW"))
    expected = [a.train_step(src, dst) for _ in range(2)]

    b = SAEHDEngine(EngineConfig(channels=1, archi="df-ud", seed=99, **TINY))
    assert not np.isclose(b.evaluate(src, dst).src_loss, expected[0].src_loss)
    b.load(tmp_path, "new_SAEHDBW")
    assert b.iteration == 3
    got = [b.train_step(src, dst) for _ in range(2)]
    np.testing.assert_allclose(np.array(got), np.array(expected), rtol=1e-5)


def test_load_errors_name_the_file(tmp_path, batches):
    a = SAEHDEngine(EngineConfig(channels=3, archi="df-ud", seed=0, **TINY))
    a.save(tmp_path, "m")
    other = SAEHDEngine(EngineConfig(channels=3, archi="df-ud", seed=0, **dict(TINY, ae_dims=48)))
    with pytest.raises(UserError, match="m_inter.h5"):
        other.load(tmp_path, "m")
    enc = tmp_path / "m_encoder.h5"
    enc.write_bytes(enc.read_bytes()[: enc.stat().st_size // 2])
    with pytest.raises(UserError, match="m_encoder.h5"):
        a.load(tmp_path, "m")
    # skipping a network keeps its fresh weights; a missing optimizer file only warns
    (tmp_path / "m_src_dst_opt.h5").unlink()
    a.load(tmp_path, "m", skip=("encoder",))


def test_nan_batch_skips_the_update(batches):
    eng = SAEHDEngine(EngineConfig(channels=1, archi="df-ud", seed=0, **TINY))
    src, dst = batches[1]
    before = {k: v.numpy().copy() for k, v in eng._named_variables().items()}
    bad = [src[0].copy(), *src[1:]]
    bad[0][0, 0, 0, 0] = np.nan
    losses = eng.train_step(bad, dst)
    assert not losses.finite
    assert eng.iteration == 0
    for k, v in eng._named_variables().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert eng.train_step(src, dst).finite and eng.iteration == 1


def test_liae_without_random_warp_freezes_inter_ab(batches):
    eng = SAEHDEngine(EngineConfig(channels=1, archi="liae-ud", seed=0, random_warp=False, **TINY))
    assert eng.trainable_nets == ["encoder", "inter_B", "decoder"]
    before = {n: [v.numpy().copy() for v in eng.nets[n].variables().values()] for n in eng.nets}
    eng.train_step(*batches[1])
    for name, net in eng.nets.items():
        changed = any(not np.array_equal(a, v.numpy()) for a, v in zip(before[name], net.variables().values()))
        assert changed == (name != "inter_AB")


def test_bfloat16_losses_close_to_float32(batches):
    src, dst = batches[3]
    f32 = SAEHDEngine(EngineConfig(channels=3, archi="df-ud", seed=5, **TINY))
    bf16 = SAEHDEngine(EngineConfig(channels=3, archi="df-ud", seed=5, **dict(TINY, precision="bfloat16")))
    assert bf16.compute_dtype == tf.bfloat16
    a, b = f32.evaluate(src, dst), bf16.evaluate(src, dst)
    np.testing.assert_allclose(np.array(b), np.array(a), rtol=0.02)
    assert bf16.predict(dst[1])[0].dtype == np.float32


def test_loss_options_change_the_loss(batches):
    src, dst = batches[1]
    base = dict(channels=1, archi="df", seed=2, **TINY)
    plain = SAEHDEngine(EngineConfig(**base)).evaluate(src, dst)
    prio = SAEHDEngine(EngineConfig(eyes_mouth_prio=True, **base)).evaluate(src, dst)
    unmasked = SAEHDEngine(EngineConfig(masked_training=False, **base)).evaluate(src, dst)
    assert prio.src_loss > plain.src_loss + 1.0  # 300·L1 on the eyes/mouth region
    assert unmasked.src_loss > plain.src_loss  # the background counts too


def test_blur_out_mask_keeps_face_and_fills_background():
    rng = np.random.default_rng(0)
    img = rng.random((1, 32, 32, 1)).astype(np.float32)
    mask = np.zeros((1, 32, 32, 1), np.float32)
    mask[:, 8:24, 8:24] = 1
    out = blur_out_mask(tf.constant(img), tf.constant(mask), 1.0).numpy()
    np.testing.assert_allclose(out[mask > 0], img[mask > 0], atol=1e-6)
    assert not np.allclose(out[mask == 0], img[mask == 0])
    assert np.isfinite(out).all()


def test_config_validation_and_auto_choices():
    with pytest.raises(UserError, match="use 96"):
        EngineConfig(resolution=100, archi="df-ud").resolved()
    with pytest.raises(UserError, match="channels"):
        EngineConfig(channels=2).resolved()
    with pytest.raises(ValueError, match="archi"):
        EngineConfig(archi="dfx").resolved()
    cpu = EngineConfig(archi="LIAE-UD", lr_dropout="y").resolved(on_gpu=False)
    assert (cpu.data_format, cpu.jit, cpu.archi, cpu.lr_cos) == ("NHWC", False, "liae-ud", 500)
    assert cpu.lr_dropout_keep == 0.3 and cpu.precision in ("float32", "bfloat16")
    gpu = EngineConfig(lr_dropout="n", lr_cos=0).resolved(on_gpu=True)
    assert (gpu.data_format, gpu.precision, gpu.lr_cos, gpu.lr_dropout_keep) == ("NCHW", "float32", 0, 1.0)
    assert EngineConfig(channels=1, input_channels=3).resolved().input_channels == 3


@pytest.mark.parametrize("cap, bf16_possible", [("AVX2", False), ("avx512_core", False), ("AVX512_CORE_BF16", True),
                                                ("AVX512_CORE_AMX", True), ("ALL", True), ("", True)])
def test_auto_precision_is_float32_when_onednn_is_capped_below_bfloat16(monkeypatch, cap, bf16_possible):
    """On a bf16 CPU with oneDNN capped at AVX2, a bfloat16 graph cannot run at all (no convolution primitive):
    the automatic choice must be float32 there."""
    from models.saehd_engine import cpu_has_bf16
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    native = cpu_has_bf16()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert cpu_has_bf16() == (native and bf16_possible)
    if not bf16_possible:
        assert EngineConfig().resolved(on_gpu=False).precision == "float32"


def test_nchw_engine_matches_nhwc(batches, nchw_conv):
    src, dst = batches[3]
    outs = [SAEHDEngine(EngineConfig(channels=3, archi="liae-udt", seed=7, data_format=f, **TINY)).predict(dst[1])
            for f in ("NHWC", "NCHW")]
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, atol=1e-5)


_SAVE_LOOP = """
import sys, numpy as np
from models.saehd_engine import EngineConfig, SAEHDEngine
eng = SAEHDEngine(EngineConfig(channels=1, archi="df-ud", seed=0, resolution=64, ae_dims=32, e_dims=16,
                               d_dims=16, d_mask_dims=8, precision="float32"))
eng.save(sys.argv[1], "m")
print("ready", flush=True)
while True:
    for v in eng.nets["encoder"].variables().values():
        v.assign_add(np.ones(v.shape, np.float32))
    eng.save(sys.argv[1], "m")
"""


def test_kill_during_save_leaves_a_loadable_model(tmp_path):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", _SAVE_LOOP, str(tmp_path)], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, PYTHONPATH=str(root)))
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # several saves in flight
    finally:
        proc.kill()
        proc.wait()
    eng = SAEHDEngine(EngineConfig(channels=1, archi="df-ud", seed=1, **TINY))
    eng.load(tmp_path, "m")  # every file is a complete old or new version
    assert eng.iteration == 0


def test_generator_term_seam_adds_to_the_loss(batches):
    src, dst = batches[1]
    eng = SAEHDEngine(EngineConfig(channels=1, archi="df-ud", seed=4, **TINY))
    base = eng.evaluate(src, dst)
    seen = {}

    def term(ctx):
        seen.update(ctx)
        swap_mean = tf.reduce_mean(ctx["src_dst"], axis=[1, 2, 3])
        return tf.ones_like(swap_mean), 2.0 * tf.ones_like(swap_mean)

    eng.add_generator_term(term, needs_swap=True)
    with_term = eng.evaluate(src, dst)
    np.testing.assert_allclose([with_term.src_loss - base.src_loss, with_term.dst_loss - base.dst_loss], [1, 2],
                               rtol=1e-4)
    assert {"src_dst", "src_dstm", "target_srcm_em", "warped_dst"} <= set(seen)


_PLACEMENT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]    # two logical CPUs: CPU:1 plays the GPU
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from models.saehd_engine import EngineConfig, SAEHDEngine
from tests.test_saehd_engine import TINY, face_batch
src, dst = face_batch("src", 3), face_batch("dst", 3)
report = {}
for name, on_gpu, lr_dropout in (("on", True, "n"), ("off", False, "n"), ("cpu_dropout", True, "cpu")):
    eng = SAEHDEngine(EngineConfig(channels=3, archi="df", seed=3, device="/CPU:1", models_opt_on_gpu=on_gpu,
                                   lr_dropout=lr_dropout, **TINY))
    first = eng.train_step(src, dst)
    second = eng.train_step(src, dst)
    devices = {v.device.rsplit("/", 1)[-1] for v in [*eng._named_variables().values(),
                                                     *eng.optimizer.variables().values()]}
    report[name] = dict(devices=sorted(devices), losses=[first.src_loss, second.src_loss], xla=eng.optimizer.xla,
                        iteration=eng.iteration)
print(json.dumps(report))
"""


def test_models_opt_on_gpu_places_weights_and_optimizer_state():
    """The step computes on `device`; models_opt_on_gpu off keeps every weight and optimizer slot on the CPU."""
    report = _run_tf_script(_PLACEMENT)
    assert report["on"]["devices"] == ["device:CPU:1"]
    assert report["off"]["devices"] == ["device:CPU:0"]
    for name in report:   # every placement trains (the loss falls) and counts its updates
        first, second = report[name]["losses"]
        assert second < first and report[name]["iteration"] == 2
    assert report["on"]["losses"] == pytest.approx(report["off"]["losses"], rel=1e-5)
    assert report["cpu_dropout"]["xla"] is False and report["on"]["xla"] is True


_MULTI_DEVICE = """
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]    # two logical CPUs stand in for two GPUs
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from models.saehd_engine import EngineConfig, SAEHDEngine
from tests.test_saehd_engine import TINY, face_batch
src, dst = face_batch("src", 1, n=3), face_batch("dst", 1, n=4)   # 3 src samples: shares of 2 and 1
report = {}
for name, devices in (("one", ("/CPU:0",)), ("two", ("/CPU:0", "/CPU:1"))):
    eng = SAEHDEngine(EngineConfig(channels=1, archi="liae-ud", seed=5, train_devices=devices, **TINY))
    with tf.GradientTape() as tape:
        vecs = eng._sharded_losses([*eng._tensors(src, "src"), *eng._tensors(dst, "dst")])
        total = tf.reduce_sum(vecs[0]) + tf.reduce_sum(vecs[1])
    grad_norm = float(tf.linalg.global_norm(tape.gradient(total, eng._train_vars)))
    losses = [list(eng.train_step(src, dst)) for _ in range(2)]
    graph = eng._train_fn.get_concrete_function(*eng._tensors(src, "src"), *eng._tensors(dst, "dst")).graph
    weights = np.concatenate([v.numpy().ravel() for v in eng._named_variables().values()])
    report[name] = dict(losses=losses, weights=weights[::97].tolist(), iteration=eng.iteration, grad_norm=grad_norm,
                        devices=sorted({op.device.rsplit("/", 1)[-1] for op in graph.get_operations() if op.device}))
try:
    eng.train_step(face_batch("src", 1, n=1), dst)
except Exception as err:
    report["two"]["one_face"] = str(err)
print(json.dumps(report))
"""


def _run_tf_script(script: str) -> dict:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(root)), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_step_over_two_devices_makes_the_single_device_update():
    """Several GPUs (`--force-gpu-idxs 0,1`) split each batch; the summed gradients make the same update as one
    device on the whole batch, uneven shares included."""
    report = _run_tf_script(_MULTI_DEVICE)
    assert report["two"]["devices"] == ["device:CPU:0", "device:CPU:1"]
    assert report["one"]["devices"] == ["device:CPU:0"]
    assert report["two"]["grad_norm"] == pytest.approx(report["one"]["grad_norm"], rel=1e-4)
    np.testing.assert_allclose(report["two"]["losses"], report["one"]["losses"], rtol=1e-4)
    two, one = np.array(report["two"]["weights"]), np.array(report["one"]["weights"])
    # AdaBelief's first steps are about 3.5 lr whatever a gradient's size, so the step of a gradient element within
    # float noise of 0 may go either way with the summation order: a handful of weights may differ by one step.
    off = ~np.isclose(two, one, rtol=1e-3, atol=1e-5)
    assert off.mean() < 1e-3 and np.abs(two - one).max() < 1e-3
    assert report["two"]["iteration"] == 2
    assert "batch size 1 cannot be split over 2 devices" in report["two"]["one_face"]


def test_train_devices_resolve_from_the_visible_gpus():
    cfg = EngineConfig(train_devices=("/GPU:0", "/GPU:1"), jit=True).resolved(on_gpu=True)
    assert cfg.device == "/GPU:0" and cfg.train_devices == ("/GPU:0", "/GPU:1") and cfg.jit is False
    one = EngineConfig(jit=True).resolved(on_gpu=True)   # (no GPU here: TensorFlow lists none, one is assumed)
    assert one.train_devices == ("/GPU:0",) and one.jit is True
    assert EngineConfig().resolved(on_gpu=False).train_devices == ("/CPU:0",)
    assert EngineConfig(device="/CPU:1").resolved(on_gpu=True).train_devices == ("/CPU:1",)


def test_models_opt_device_follows_the_option():
    gpu = EngineConfig(models_opt_on_gpu=False).resolved(on_gpu=True)
    assert (gpu.device, gpu.models_opt_device) == ("/GPU:0", "/CPU:0")
    assert EngineConfig().resolved(on_gpu=True).models_opt_device == "/GPU:0"
    cpu = EngineConfig(models_opt_on_gpu=True).resolved(on_gpu=False)
    assert (cpu.device, cpu.models_opt_device) == ("/CPU:0", "/CPU:0")
    assert EngineConfig(lr_dropout="cpu").lr_dropout_on_cpu and not EngineConfig(lr_dropout="y").lr_dropout_on_cpu
