"""AMP, DeepFaceLab's amplifier model: its layer plan, the channel morph of its two inters, what learns (the encoder
and the decoder; the inters keep their initial weights, as in DFL's final AMP), options, previews, the merge's
morph factor, the `.dfm` with its morph input, and the import of DFL's own AMP models."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import main as cli
from core.errors import UserError
from core.leras.archis.amp import morph_code, random_channel_mask
from models import options as opt
from models.amp_engine import AMPConfig, AMPEngine
from models.registry import load_model, model_class

pytestmark = pytest.mark.usefixtures("cpu_float32_for_the_module")

# inter_dims == ae_dims, as in DFL's AMP before it had inter_dims (the import test leaves the option out)
TINY_AMP = {"resolution": 64, "face_type": "f", "ae_dims": 32, "inter_dims": 32, "e_dims": 16, "d_dims": 16,
            "d_mask_dims": 16, "batch_size": 4, "random_warp": False, "random_dst_flip": False}


def _conv(k: int, i: int, o: int) -> int:
    return k * k * i * o + o


def amp_param_counts(res: int, ch: int, e: int, ae: int, inter: int, d: int, dm: int) -> dict[str, int]:
    """DFL's AMP layer plan: encoder 5 stride-2 5x5 convs (e, 2e, 4e, 8e, 8e) with residual blocks after the first
    and the last, dense to ae; each inter a dense to L·L·inter (L = res/32); decoder four 3x3 upscales (8d, 8d, 4d,
    2d) each with a residual block, a 1x1 and three 3x3 output convs, and a mask head of five upscales
    (8dm, 8dm, 4dm, 2dm, dm) with a 1x1 conv."""
    low = res // 32
    encoder = (_conv(5, ch, e) + 2 * _conv(3, e, e) + _conv(5, e, 2 * e) + _conv(5, 2 * e, 4 * e)
               + _conv(5, 4 * e, 8 * e) + _conv(5, 8 * e, 8 * e) + 2 * _conv(3, 8 * e, 8 * e)
               + low * low * 8 * e * ae + ae)
    image = 0
    for i, o in ((inter, 8 * d), (8 * d, 8 * d), (8 * d, 4 * d), (4 * d, 2 * d)):
        image += _conv(3, i, 4 * o) + 2 * _conv(3, o, o)
    image += _conv(1, 2 * d, ch) + 3 * _conv(3, 2 * d, ch)
    mask = sum(_conv(3, i, 4 * o) for i, o in ((inter, 8 * dm), (8 * dm, 8 * dm), (8 * dm, 4 * dm), (4 * dm, 2 * dm),
                                               (2 * dm, dm))) + _conv(1, dm, 1)
    inter_count = ae * low * low * inter + low * low * inter
    return {"encoder": encoder, "inter_src": inter_count, "inter_dst": inter_count, "decoder": image + mask}


@pytest.mark.parametrize("res, ch, e, ae, inter, d, dm", [(64, 3, 16, 32, 48, 16, 16), (96, 1, 8, 16, 24, 8, 16)])
def test_parameter_counts_follow_amps_layer_plan(res, ch, e, ae, inter, d, dm):
    engine = AMPEngine(AMPConfig(resolution=res, channels=ch, e_dims=e, ae_dims=ae, inter_dims=inter, d_dims=d,
                                 d_mask_dims=dm))
    counts = engine.param_counts()
    want = amp_param_counts(res, ch, e, ae, inter, d, dm)
    assert {k: counts[k] for k in want} == want
    assert engine.trainable_nets == ["encoder", "decoder"]
    assert AMPEngine(AMPConfig(resolution=64, e_dims=8, ae_dims=16, inter_dims=16, d_dims=8, d_mask_dims=8,
                               lr_dropout="y")).config.lr_cos == 0   # DFL's AMP: LR dropout without the cosine cycle
    assert {k.split("/")[1] for k in engine.optimizer.variables() if "/" in k} == {"encoder", "decoder"}


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_the_morph_takes_the_first_channels_from_inter_src(data_format):
    shape = (2, 3, 3, 10) if data_format == "NHWC" else (2, 10, 3, 3)
    axis = -1 if data_format == "NHWC" else 1
    src, dst = tf.ones(shape), tf.zeros(shape)
    for morph, taken in ((0.0, 0), (0.35, 3), (0.5, 5), (1.0, 10)):
        mixed = morph_code(src, dst, morph, data_format).numpy()
        per_channel = np.moveaxis(mixed, axis, -1).reshape(-1, 10).mean(0)
        assert per_channel.tolist() == [1.0] * taken + [0.0] * (10 - taken)


def test_training_masks_hold_exactly_the_morph_share_of_channels_at_random():
    mask = random_channel_mask(tf.constant(6), 40, 20, "NHWC").numpy()
    assert mask.shape == (6, 1, 1, 40)
    rows = mask.reshape(6, 40)
    assert (rows.sum(1) == 20).all() and set(np.unique(rows)) == {0.0, 1.0}
    assert len({r.tobytes() for r in rows}) > 1


def test_only_encoder_decoder_and_gan_learn_and_morph_zero_is_the_dst_reconstruction():
    engine = AMPEngine(AMPConfig(resolution=64, e_dims=8, ae_dims=16, inter_dims=24, d_dims=8, d_mask_dims=16,
                                 gan_power=0.1, gan_dims=4, seed=3))
    rng = np.random.default_rng(0)

    def side():
        mask = np.zeros((2, 64, 64, 1), np.float32)
        mask[:, 12:52, 12:52] = 1
        return [rng.random((2, 64, 64, 3), dtype=np.float32), rng.random((2, 64, 64, 3), dtype=np.float32), mask,
                mask * 0.5]

    before = {k: v.numpy().copy() for k, v in engine._named_variables().items()}
    gan_before = [v.numpy().copy() for v in engine.optional_nets["GAN"].variables().values()]
    src, dst = side(), side()
    for _ in range(2):
        assert engine.train_step(src, dst).finite
    after = engine._named_variables()
    for net in engine.nets:
        changed = any(not np.array_equal(before[k], v.numpy()) for k, v in after.items() if k.startswith(net + "/"))
        assert changed == (net in ("encoder", "decoder")), net
    gan_after = engine.optional_nets["GAN"].variables().values()
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(gan_before, gan_after))

    faces = dst[1]
    swap0, _, dst_mask = engine.predict(faces, 0.0)
    view = engine.view(src[1], faces, 0.0)
    # (batches of other sizes may take other oneDNN kernels: equal to float32 rounding)
    np.testing.assert_allclose(swap0, view["dst_dst"], atol=1e-4)
    np.testing.assert_allclose(view["src_dst"], view["dst_dst"], atol=1e-4)
    np.testing.assert_allclose(dst_mask, view["dst_dstm"], atol=1e-4)
    assert np.abs(engine.predict(faces, 1.0)[0] - swap0).max() > 1e-4


def test_options_are_dfls_final_amp(log_messages):
    defaults = {s.name: s.default for s in opt.amp_options() if not callable(s.default)}
    assert {k: defaults[k] for k in ("resolution", "face_type", "ae_dims", "inter_dims", "e_dims", "d_dims",
                                     "morph_factor", "ct_mode", "random_warp")} == {
        "resolution": 224, "face_type": "wf", "ae_dims": 256, "inter_dims": 1024, "e_dims": 64, "d_dims": 64,
        "morph_factor": 0.5, "ct_mode": "none", "random_warp": True}
    names = [s.name for s in opt.amp_options()]
    assert "archi" not in names and "pretrain" not in names and "masked_training" not in names
    with pytest.raises(UserError, match="unknown option 'archi'"):
        opt.validate_config(opt.amp_options(), {"archi": "df"}, "amp.json")
    with pytest.raises(UserError, match="0.6 is outside 0.1..0.5"):
        opt.validate_config(opt.amp_options(), {"morph_factor": 0.6}, "amp.json")
    assert cli.main(["--non-interactive", "train", "--model", "AMP", "--preset", "DF"]) == 1
    assert any("AMP does not take it" in m for m in log_messages)


@pytest.fixture(scope="module")
def trained(faces, tmp_path_factory):
    """A tiny AMP trained 3 iterations on the real faces and saved."""
    model = load_model("AMP", tmp_path_factory.mktemp("amp"), training=True, src_dir=faces[0], dst_dir=faces[1],
                       force_model_name="amp", cpu_only=True, config_options=TINY_AMP)
    for _ in range(3):
        model.train_one_iter()
    model.save()
    yield model
    model.close()


def test_amp_saves_loads_and_previews_its_morph_list(trained, faces):
    batch = trained.last_sample
    want = trained.engine.evaluate(*batch).dst_loss  # (src's training code is a random mix of the two inters)
    assert trained.options["morph_factor"] == 0.5 and trained.options["inter_dims"] == 32
    previews = dict(trained.get_previews(batch))
    assert list(previews) == ["AMP morph 1.0", "AMP morph list", "AMP morph list masked"]
    assert previews["AMP morph 1.0"].shape[1] == 5 * 64 and previews["AMP morph list"].shape[1] == 6 * 64
    again = load_model("AMP", trained.folder, training=False, force_model_name="amp", cpu_only=True)
    try:
        assert again.iter == 3 and again.merge_spec().face_type == "full_face"
        assert again.engine.evaluate(*batch).dst_loss == pytest.approx(want, rel=1e-5)
        again.set_merge_options({"morph_factor": 0.0})
        np.testing.assert_allclose(again.predict(batch[1][1])[0], again.engine.predict(batch[1][1], 0.0)[0])
    finally:
        again.close()


def test_merge_asks_the_morph_factor_and_merges_anew_when_it_changes(trained, tiny_workspace, tmp_path,
                                                                     log_messages):
    out = tmp_path / "merged"
    argv = ["--non-interactive", "merge", "--model", "AMP", "--model-dir", str(trained.folder), "--input-dir",
            str(tiny_workspace.data_dst), "--aligned-dir", str(tiny_workspace.dst_aligned), "--output-dir", str(out),
            "--mode", "raw-rgb", "--workers", "1"]
    assert cli.main(argv) == 0
    assert any("Morph factor" in m and "1.0" in m for m in log_messages)
    full = {p.name: p.read_bytes() for p in out.glob("*.png")}
    log_messages.clear()
    assert cli.main(argv + ["--morph-factor", "1"]) == 0
    assert any("already merged" in m for m in log_messages)
    assert cli.main(argv + ["--morph-factor", "0.2"]) == 0
    assert {p.name: p.read_bytes() for p in out.glob("*.png")}.keys() == full.keys()
    assert any(p.read_bytes() != full[p.name] for p in out.glob("*.png"))
    assert cli.main(argv + ["--morph-factor", "1.5"]) == 1


def test_the_dfm_takes_deepfacelives_morph_value(trained, faces):
    import onnxruntime
    assert cli.main(["--non-interactive", "exportdfm", "--model-dir", str(trained.folder), "--model", "AMP"]) == 0
    session = onnxruntime.InferenceSession(str(trained.folder / "amp_AMP_model.dfm"),
                                           providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape[1:]) for i in session.get_inputs()] == [("in_face:0", [64, 64, 3]), ("morph_value:0", [])]
    face = trained.last_sample[1][1][:2]
    for morph in (0.0, 0.6, 1.0):
        dst_mask, swap, src_mask = session.run(None, {"in_face:0": face, "morph_value:0": np.float32([morph])})
        for got, want in zip((swap, src_mask, dst_mask), trained.engine.predict(face, morph)):
            np.testing.assert_allclose(got, want, atol=1e-4)


def test_a_dfl_amp_model_without_inter_dims_is_imported(trained, tmp_path):
    from tests.test_dfl_import import write_dfl_model
    options = {k: v for k, v in trained.options.items() if k != "inter_dims"}  # DFL's AMP before inter_dims
    write_dfl_model(trained, tmp_path, name="older", options=options)
    model = load_model("AMP", tmp_path, training=False, cpu_only=True)
    try:
        assert model.name == "older" and model.iter == trained.iter and model.options["inter_dims"] == 32
        face = trained.last_sample[1][1][:2]
        for ours, theirs in zip(model.predict(face), trained.predict(face)):
            np.testing.assert_allclose(ours, theirs, atol=1e-6)
        assert model.engine.optimizer.variables()["iters"].numpy() == trained.iter
    finally:
        model.close()


def test_ampbw_learns_in_gray_and_merges_and_exports_in_colour(faces, tiny_workspace, tmp_path):
    import cv2
    import onnxruntime
    from models.colorizer import folder_face_type
    with pytest.raises(UserError, match="expected one of none/lct/sot"):
        opt.validate_config(model_class("AMPBW").option_specs(), {"ct_mode": "rct"}, "amp.json")
    folder = tmp_path / "model"
    model = load_model("AMPBW", folder, training=True, src_dir=faces[0], dst_dir=faces[1], force_model_name="bw",
                       cpu_only=True, config_options={**TINY_AMP, "ct_mode": "sot"})
    try:
        for _ in range(2):
            model.train_one_iter()
        model.save()
        src_batch, dst_batch = model.last_sample
        assert src_batch[0].shape[-1] == dst_batch[1].shape[-1] == 1
        assert [p.shape[-1] for p in model.engine.predict(dst_batch[1][:2], 0.5)] == [1, 1, 1]
        assert [name for name, _ in model.get_previews()][0] == "AMPBW morph 1.0"
    finally:
        model.close()
    assert folder_face_type(folder) == "f"   # the Colorizer follows a gray AMP's face type too

    out = tmp_path / "merged"
    assert cli.main(["--non-interactive", "merge", "--model", "AMPBW", "--model-dir", str(folder), "--input-dir",
                     str(tiny_workspace.data_dst), "--aligned-dir", str(tiny_workspace.dst_aligned), "--output-dir",
                     str(out), "--bw-output", "luma", "--morph-factor", "0.5", "--workers", "1"]) == 0
    frame = cv2.imread(str(sorted(out.glob("*.png"))[0]))
    assert np.abs(frame[..., 0].astype(int) - frame[..., 2]).max() > 20   # colour frames, not gray ones

    assert cli.main(["--non-interactive", "exportdfm", "--model-dir", str(folder), "--model", "AMPBW"]) == 0
    session = onnxruntime.InferenceSession(str(folder / "bw_AMPBW_model.dfm"), providers=["CPUExecutionProvider"])
    bgr = np.random.default_rng(1).random((1, 64, 64, 3), dtype=np.float32)
    _, swap, _ = session.run(None, {"in_face:0": bgr, "morph_value:0": np.float32([0.5])})
    assert swap.shape == (1, 64, 64, 3)


def test_big_amp_previews_show_one_face_in_dfls_two_by_three_layout(faces, tmp_path):
    options = dict(TINY_AMP, resolution=288, e_dims=8, ae_dims=16, inter_dims=16, d_dims=8, batch_size=2)
    model = load_model("AMP", tmp_path, training=True, src_dir=faces[0], dst_dir=faces[1], cpu_only=True,
                       config_options=options)
    try:
        model.train_one_iter()
        previews = dict(model.get_previews())
        assert {name: image.shape[:2] for name, image in previews.items()} == {
            "AMP morph 1.0": (576, 864), "AMP morph list": (576, 864), "AMP morph list masked": (576, 864)}
    finally:
        model.close()
