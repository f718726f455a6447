"""`main.py merge`: put the model's faces back into the dst frames (DFL's Merger), interactively or in batch,
then point the user at `video video-from-sequence` for the result video."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from core import config, interact
from core.commands import main_command
from core.errors import UserError
from core.fsio import list_images
from core.workspace import Workspace, workspace_above
from merger import sources
from merger.bw_color import BW_OUTPUTS
from merger.config import FIELDS, MergerConfig, MergeSession
from merger.frames import FaceAlignment, MergeState, RunOptions, build_frames, select_frames
from merger.loop import Merger
from merger.interactive import InteractiveState, run_window
from merger.masks import MASK_BUILDERS, XSEG_MASK_MODES
from models.files import ModelFiles
from models.registry import merge_options, mergeable_models

HELP = {
    "interactive": ("Tune settings per frame in an OpenCV window (needs a display). Without either flag it "
                    "is asked (default yes) when there is a display and a keyboard."),
    "bw_output": "One-channel (SAEHDBW) faces in colour frames: luma keeps the frame's colours and replaces the "
                 "face's brightness (default); gray makes the whole output gray (the fork's behaviour); "
                 "precomputed writes predicted faces to data_dst/predicted first (pass 1) so they can be edited "
                 "or colorized, then merges those files (pass 2, run the same command again); colorize gives the "
                 "face the src person's colour with the Colorizer trained in --model-dir (`train --model "
                 "Colorizer`).",
}


# ------------------------------------------------------------------------------------------- alignments ---

def load_alignments(aligned_dir: Path) -> dict[str, list[FaceAlignment]]:
    """Frame stem -> faces, from the dst aligned faces (folder or faceset.pak)."""
    from facelib.meta import FaceFileError, read_meta
    from samplelib import pak

    metas = []
    if pak.has_pak(aligned_dir):
        packed = pak.PackedFaceset(pak.pak_path(aligned_dir))
        readers = [(name, lambda n=name: packed.read_meta(n)) for name in packed.names()]
    else:
        readers = [(path.name, lambda p=path: read_meta(p)) for path in list_images(aligned_dir)]
    for name, read in readers:  # a damaged face, packed or not, is skipped with one line
        try:
            metas.append((name, read()))
        except (FaceFileError, pak.PakError) as err:
            interact.log_warn(f"{err} - skipped")
    out: dict[str, list[FaceAlignment]] = {}
    skipped = 0
    for name, meta in metas:
        if meta is None or meta.source_filename is None or meta.source_landmarks is None:
            skipped += 1
            continue
        out.setdefault(Path(meta.source_filename).stem, []).append(
            FaceAlignment(meta.source_landmarks.astype("float64"), meta.eyebrows_expand_mod))
    if skipped:
        interact.log_warn(f"{skipped} files in {aligned_dir} have no face metadata or source frame; skipped")
    return out


# ---------------------------------------------------------------------------------------------- prompts ---

def _choose(spec, default: str) -> str:
    listing = " ".join(f"({i}) {c}" for i, c in enumerate(spec.choices))
    answer = interact.input_str(f"{spec.prompt} {listing}", default,
                                list(spec.choices) + [str(i) for i in range(len(spec.choices))],
                                help_message=spec.help)
    return spec.choices[int(answer)] if answer.isdigit() else answer


def ask_config(fixed: dict, resolution: int | None = None) -> MergerConfig:
    """DFL's one-time merge questions (skipping those fixed by flags); non-interactive runs take the defaults (the
    mask erode/blur ones scaled to the model's `resolution`, see `merger.config.edge_defaults`)."""
    specs = {s.name: s for s in FIELDS}
    base = MergerConfig.batch_defaults(resolution)
    values = dict(fixed)

    def ask(name: str) -> None:
        if name in values:
            return
        spec, default = specs[name], getattr(base, name)
        if spec.choices is not None:
            values[name] = _choose(spec, default)
        elif spec.low is None:
            values[name] = interact.input_bool(spec.prompt, default, help_message=spec.help)
        else:
            values[name] = interact.input_int(spec.prompt, default, (spec.low, spec.high), help_message=spec.help)

    for spec in FIELDS:  # in DFL's order; each mode says which questions apply to it
        if MergerConfig.from_dict(values, base).asks(spec.name):
            ask(spec.name)
    return MergerConfig.from_dict(values, base)


def fixed_fields(args: argparse.Namespace) -> dict:
    """Merge settings given as flags."""
    return {s.name: getattr(args, s.name) for s in FIELDS if getattr(args, s.name, None) is not None}


def _workers(args: argparse.Namespace) -> int:
    cpus = os.cpu_count() or 1
    if args.workers:
        return max(1, args.workers)
    if config.settings().merge_workers > 0:
        return config.settings().merge_workers
    return interact.input_int("Number of workers?", cpus, (1, cpus),
                              help_message="Processes merging frames in parallel; the model runs in the main one.")


# --------------------------------------------------------------------------------------------------- run ---

def _workspace(args: argparse.Namespace) -> Workspace:
    """The workspace of the merge: --workspace, else the one holding a given folder, else for --input-dir frames
    outside every workspace the frames laid out as one (`Workspace.around_frames`), else the configured one. A
    workspace the merge was not given is never written to."""
    if args.workspace:
        return Workspace(Path(args.workspace))
    found = workspace_above(args.input_dir, args.aligned_dir, args.output_dir)
    if found:
        return found
    if args.input_dir:
        return Workspace.around_frames(args.input_dir)
    return Workspace(config.settings().workspace)


def _paths(args: argparse.Namespace) -> dict[str, Path | None]:
    ws = _workspace(args)
    input_dir = Path(args.input_dir) if args.input_dir else ws.data_dst
    output = Path(args.output_dir) if args.output_dir else ws.merged
    return {
        "input": input_dir,
        "output": output,
        # beside the merged frames: data_dst/merged_mask in a workspace, <output>_mask elsewhere
        "mask": Path(args.output_mask_dir) if args.output_mask_dir else output.with_name(output.name + "_mask"),
        "aligned": Path(args.aligned_dir) if args.aligned_dir else ws.dst_aligned,
        "model": Path(args.model_dir) if args.model_dir else ws.model,
        "predicted": input_dir / "predicted",
        "result": ws.result,
        "result_mask": ws.result_mask,
        "reference": ws.dst_video(),
    }


def model_merge_options(args: argparse.Namespace, ask: bool) -> dict:
    """The model class's own merge questions (AMP: its morph factor): the flag's value, else asked (when `ask`;
    a run without a keyboard takes the default)."""
    from models.registry import model_class

    values = {}
    for spec in model_class(args.model).merge_option_specs():
        given = getattr(args, spec.name, None)
        if given is None:
            values[spec.name] = spec.prompt_value(spec.default) if ask else spec.default
            continue
        try:
            values[spec.name] = spec.coerce(given)
        except ValueError as err:
            raise UserError(f"--{spec.name.replace('_', '-')}: {err}") from None
    return values


def _load_source(args: argparse.Namespace, model_dir: Path) -> sources.ModelSource:
    from models.registry import load_model

    model = load_model(args.model, model_dir, training=False, force_model_name=args.force_model_name,
                       cpu_only=args.cpu_only, force_gpu_idxs=args.force_gpu_idxs)
    model.set_merge_options(model_merge_options(args, ask=True))
    for option in merge_options():
        if getattr(args, option.spec.name, None) is not None and option.spec.name not in model.merge_values:
            interact.log_warn(f"{option.flag} is for {', '.join(option.models)} models; {args.model} does not use it")
    source = sources.ModelSource(model, batch_size=args.batch_size, name=args.model)
    if args.bw_output == "colorize":
        if source.spec.channels != 1:
            interact.log_warn(f"--bw-output colorize colours one-channel faces; {args.model} predicts colour, so it "
                              "is merged as usual")
        else:
            from models.colorizer import load_colorizer
            source.colorizer = load_colorizer(model_dir, source.spec.face_type, cpu_only=args.cpu_only,
                                              force_gpu_idxs=args.force_gpu_idxs)
    return source


def _next_steps(paths: dict[str, Path | None], with_mask: bool) -> None:
    ref = ["--reference-file", paths["reference"]] if paths["reference"] else []
    cmd = main_command("video", "video-from-sequence", "--input-dir", paths["output"], "--output-file",
                       paths["result"], *ref, *(["--include-audio"] if ref else []))
    interact.log_info(f"Next, make the result video:\n  {cmd}")
    if with_mask:
        mask = main_command("video", "video-from-sequence", "--input-dir", paths["mask"], "--output-file",
                            paths["result_mask"], *ref, "--no-include-audio")
        interact.log_info(f"and the mask video:\n  {mask}")


def _with_flags(session: MergeSession, args: argparse.Namespace) -> MergeSession:
    """Settings given as flags override the file's, in the base config and in every per-frame config."""
    fixed = fixed_fields(args)
    if not fixed:
        return session
    return MergeSession(session.base.copy(**fixed), {k: v.copy(**fixed) for k, v in session.frames.items()})


def _check_mask_modes(configs: list[MergerConfig], model_dir: Path, precomputed: bool) -> bool:
    """Whether the XSeg mask modes are asked for; an error when they cannot be served (no trained XSeg model in
    the model folder, or predicted faces from files)."""
    from models.xseg import has_xseg_model
    xseg = sorted({c.mask_mode for c in configs if c.mask_mode in XSEG_MASK_MODES})
    if xseg and precomputed:
        raise UserError(f"mask mode {xseg[0]} needs the XSeg model on the predicted faces, which the precomputed "
                        "pass 2 does not run; merge without --precomputed or choose dst or a learned-* mask mode")
    if xseg and not has_xseg_model(model_dir):
        raise UserError(f"mask mode {xseg[0]} needs a trained XSeg model in {model_dir}; train one there with "
                        "`main.py train --model XSeg` ('5.XSeg) train') or choose dst or a learned-* mask mode")
    return bool(xseg)


def _session(args: argparse.Namespace, path: Path, interactive: bool, resolution: int | None) -> MergeSession:
    """The merge settings when no --config-file was loaded: interactively the saved session (if the user wants it)
    or a new one from the flags; otherwise the one-time questions (flags skip theirs)."""
    fixed = fixed_fields(args)
    if interactive:
        if args.config_file:
            interact.log_info(f"{path} does not exist yet; the interactive merger starts fresh and saves it there")
        elif path.exists() and interact.input_bool(f"Use saved session {path}?", True):
            return _with_flags(MergeSession.load(path, MergerConfig.batch_defaults(resolution)), args)
        return MergeSession(MergerConfig.from_dict(fixed, MergerConfig.start(resolution)))
    return MergeSession(ask_config(fixed, resolution))


def _model_name(args: argparse.Namespace, model_dir: Path) -> str | None:
    """The model a merge without questions uses: --force-model-name, else the most recently saved one."""
    from models.files import list_models
    if args.force_model_name or not model_dir.is_dir():
        return args.force_model_name
    names = list_models(model_dir, args.model)
    return names[0] if names else None


def _require_saved_model(args: argparse.Namespace, model_dir: Path) -> None:
    """A model folder without a model of the class is an error before any merge question is asked."""
    from models.dfl_import import list_dfl_models
    from models.files import list_models, others_hint
    if args.force_model_name or list_models(model_dir, args.model) or list_dfl_models(model_dir, args.model):
        return
    raise UserError(f"{model_dir}: no saved {args.model} model{others_hint(model_dir, args.model)}; train one "
                    f"there first (the 6) train {args.model} step)")


def _saved_resolution(args: argparse.Namespace, model_dir: Path) -> int | None:
    """The saved model's resolution, read from its data file (no model is loaded), or None (not saved yet: a
    DeepFaceLab model merge imports first)."""
    name = _model_name(args, model_dir)
    value = _saved_data(ModelFiles(model_dir, str(name), args.model).data).get("options", {}).get("resolution")
    return value if isinstance(value, int) and value > 0 else None


def _source_identity(args: argparse.Namespace, paths: dict[str, Path], source) -> str:
    """The state of the face source that merged frames depend on: the model's name, iteration and save generation
    (read from its data file, so no model has to load), or the newest edit in the predicted folder. Empty when
    unknown (no saved model yet)."""
    if isinstance(source, sources.PrecomputedSource):
        newest = max((p.stat().st_mtime_ns for p in paths["predicted"].rglob("*") if p.is_file()), default=0)
        return f"precomputed {paths['predicted'].resolve()} {newest}"
    model_dir = paths["model"]
    name = getattr(getattr(source, "model", None), "name", None) or _model_name(args, model_dir)
    state = _data_file_state(ModelFiles(model_dir, str(name), args.model).data)
    if not state:
        return ""
    identity = f"{args.model} {model_dir.resolve()} {name} {state}"
    model = getattr(source, "model", None)
    for key, value in sorted((model.merge_values if model else model_merge_options(args, ask=False)).items()):
        identity += f" {key} {value}"   # (AMP: another morph factor merges the frames anew)
    if args.bw_output == "colorize":  # more Colorizer training colours the frames anew
        from models.colorizer import ColorizerModel
        identity += f" colorizer {_data_file_state(ColorizerModel.files_in(model_dir).data)}"
    return identity


def _saved_data(path: Path) -> dict:
    """A model's data file (`<name>_<MODEL>_data.json`), or {} when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _data_file_state(path: Path) -> str:
    """'iter N generation G' of a model's data file, or '' when it cannot be read."""
    data = _saved_data(path)
    return f"iter {data.get('iter')} generation {data.get('generation')}" if data else ""


def _precomputed_pass_one(args: argparse.Namespace, paths: dict[str, Path], frames, todo) -> int:
    """Write the model's predicted faces of `todo` to data_dst/predicted for editing (no merging yet)."""
    source = _load_source(args, paths["model"])
    merger = Merger(frames, [MergerConfig()] * len(frames), source, RunOptions(paths["output"],
                                                                                batch_size=args.batch_size))
    count = merger.export_predictions(todo, paths["predicted"])
    interact.log_info(f"Precomputed pass 1: wrote {count} predicted faces to {paths['predicted']}.\n"
                      "Edit or colorize them (keep the file names), then run the same command again to merge them.")
    return 0


def main(args: argparse.Namespace) -> int:
    paths = _paths(args)
    if not paths["input"].is_dir():
        raise UserError(f"{paths['input']}: input frame folder not found")
    if paths["output"].resolve() == paths["input"].resolve():
        raise UserError(f"{paths['output']}: the output folder must differ from the input frames")
    if not paths["aligned"].is_dir():
        raise UserError(f"{paths['aligned']}: aligned dst faces not found (run the dst extraction first)")
    alignments = load_alignments(paths["aligned"])
    if not alignments:
        interact.log_warn(f"{paths['aligned']}: no aligned faces; every frame is copied unchanged")
    frames = build_frames(paths["input"], alignments)
    todo = select_frames(frames, args.frames, args.skip_frames)
    if not todo:
        raise UserError("no frames selected: check --frames / --skip-frames against the frame numbers")

    # The face source: the predicted folder of a precomputed pass 1, or the model.
    precomputed = args.bw_output == "precomputed"
    source = None
    resolution = None   # of the faces merged: the default mask erode/blur scale with it
    if precomputed:
        found = sources.read_spec(paths["predicted"])
        if found and all(f.stem in found[1] for f in todo if f.faces):
            source = sources.PrecomputedSource(paths["predicted"])
            resolution = found[0].resolution
            interact.log_info(f"Merging the predicted faces of {paths['predicted']} (precomputed pass 2)")
        else:
            if not paths["model"].is_dir():
                raise UserError(f"{paths['model']}: model folder not found")
            _require_saved_model(args, paths["model"])
            return _precomputed_pass_one(args, paths, frames, todo)

    # Cheap checks first: a config file that does not load, a missing model folder, or an XSeg mask mode stop the
    # run before any question or the model load; when nothing can be asked, a re-run over frames already merged
    # with the same model state and settings needs no model at all.
    session_path = Path(args.config_file) if args.config_file else paths["input"] / "merge.json"
    can_ask = args.interactive is True or (args.interactive is None and interact.is_interactive())
    session = None
    if source is None:
        resolution = _saved_resolution(args, paths["model"])
    if args.config_file and (session_path.exists() or args.interactive is not True):
        session = _with_flags(MergeSession.load(session_path, MergerConfig.batch_defaults(resolution)), args)
    if source is None and not paths["model"].is_dir():
        raise UserError(f"{paths['model']}: model folder not found")
    if source is None:
        _require_saved_model(args, paths["model"])
    model_merge_options(args, ask=False)  # a bad merge option flag (AMP: --morph-factor) stops here
    if session is None and not can_ask and (resolution or source is not None):
        session = MergeSession(ask_config(fixed_fields(args), resolution))
    if args.bw_output == "colorize" and not precomputed:
        from models.colorizer import require_colorizer
        require_colorizer(paths["model"])
    if session is not None:
        _check_mask_modes(session.resolve([f.name for f in frames]), paths["model"], source is not None)
    run = RunOptions(paths["output"], paths["mask"], bw_output=args.bw_output or "luma",
                     stabilize_gamma=args.stabilize_gamma, gamma_window=args.gamma_window,
                     smooth_mask=args.smooth_mask, export_mask_alpha=args.export_mask_alpha, force=args.force,
                     batch_size=args.batch_size)
    if session is not None and not can_ask and not args.force:
        run.identity = _source_identity(args, paths, source)
        configs = session.resolve([f.name for f in frames])
        state = MergeState.load(paths["output"])
        if run.identity and all(state.is_done(f, run, configs[f.index]) for f in todo):
            interact.log_info(f"All {len(todo)} selected frames are already merged in {paths['output']} with this "
                              "model and these settings (use --force to merge them again)")
            _next_steps(paths, True)
            return 0
    if args.interactive and not config.settings().has_display:
        raise UserError("the interactive merger needs a display; use --no-interactive (and --config-file)")

    # DFL's order: the model (its choice is asked), then interactive or not, the settings, the workers.
    source = source or _load_source(args, paths["model"])
    run.identity = _source_identity(args, paths, source)
    interactive = args.interactive
    if interactive is None:
        interactive = (interact.is_interactive() and config.settings().has_display
                       and interact.input_bool("Use interactive merger?", True, help_message=HELP["interactive"]))
    if session is None:
        session = _session(args, session_path, interactive, source.spec.resolution)
    names = [f.name for f in frames]
    configs = session.resolve(names)
    from models.xseg import has_xseg_model, load_xseg_predictor
    needs_xseg = _check_mask_modes(configs, paths["model"], not isinstance(source, sources.ModelSource))
    if isinstance(source, sources.ModelSource) and (needs_xseg or (interactive and has_xseg_model(paths["model"]))):
        source.xseg = load_xseg_predictor(paths["model"], cpu_only=args.cpu_only, force_gpu_idxs=args.force_gpu_idxs)
        interact.log_info(f"XSeg masks from the XSeg model in {paths['model']}")
    if not interactive:
        interact.log_info(session.base.summary())
    merger = Merger(frames, configs, source, run)
    run.workers = _workers(args)

    if interactive:
        with_xseg = getattr(source, "xseg", None) is not None
        mask_modes = tuple(m for m in MASK_BUILDERS if with_xseg or m not in XSEG_MASK_MODES)
        state = InteractiveState.from_session([f.name for f in todo], session, mask_modes)

        def render(index: int, cfg: MergerConfig):
            res = merger.render(todo[index].index, cfg)
            return res.image, res.mask

        shown = set(state.names)
        others = {k: v for k, v in session.frames.items() if k not in shown}   # frames outside --frames

        def save(st: InteractiveState) -> None:
            edited = st.to_session()
            MergeSession(edited.base, {**others, **edited.frames}).save(session_path)

        action = run_window(state, render, save)
        interact.log_info(f"Merge settings saved to {session_path}")
        if action != "process":
            return 0
        merger.configs = state.to_session().resolve(names)
        run.force = True
    stats = merger.run_all(todo)
    interact.log_info(f"Merged {stats.merged} frames, copied {stats.copied} without faces, "
                      f"{stats.already_done} already done, {stats.failed} failed -> {paths['output']}")
    if stats.failed:
        interact.log_warn(f"{stats.failed} frames could not be merged (see the warnings above): the result video "
                          "would lack them. Fix or replace those frames and run the merge again; it continues "
                          "where it stopped.")
    if stats.merged + stats.copied + stats.already_done:
        _next_steps(paths, True)
    return 1 if stats.failed and not (stats.merged or stats.copied) else 0


# --------------------------------------------------------------------------------------------- argparse ---

def _add_field_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("merge settings (skip their prompts; also override a --config-file)")
    for spec in FIELDS:
        if spec.choices is not None:
            group.add_argument(spec.flag, choices=spec.choices, default=None, help=spec.help)
        elif spec.low is None:
            group.add_argument(spec.flag, action=argparse.BooleanOptionalAction, default=None, help=spec.help)
        else:
            group.add_argument(spec.flag, type=int, default=None, metavar=f"{spec.low}..{spec.high}",
                               help=spec.help)


def register(subparsers) -> None:
    p = subparsers.add_parser("merge", help="Merge the trained faces into the dst frames.",
                              description="Put the model's faces into every dst frame (modes, masks, colour "
                                          "transfer, degrade), interactively or in batch; frames already merged "
                                          "with the same model state and settings are skipped unless --force.")
    p.add_argument("--input-dir", help="dst frames (default: workspace/data_dst).")
    p.add_argument("--output-dir", help="Merged frames (default: workspace/data_dst/merged, or INPUT_DIR/merged for "
                   "frames outside a workspace).")
    p.add_argument("--output-mask-dir", help="Merged masks (default: <output-dir>_mask, i.e. "
                   "workspace/data_dst/merged_mask).")
    p.add_argument("--aligned-dir", help="Aligned dst faces (default: workspace/data_dst/aligned; for frames outside a "
                   "workspace, INPUT_DIR/aligned).")
    p.add_argument("--model-dir", help="Model folder (default: workspace/model; for frames outside a workspace, "
                   "model beside INPUT_DIR).")
    p.add_argument("--model", required=True, choices=mergeable_models(), help="Model class to merge with.")
    p.add_argument("--force-model-name", help="Use the saved model with this name without asking.")
    for option in merge_options():   # the models' own merge questions (AMP: --morph-factor)
        p.add_argument(option.flag, default=None, metavar=option.metavar, help=option.help)
    p.add_argument("--workspace", help="Workspace folder for the default paths.")
    p.add_argument("--interactive", action=argparse.BooleanOptionalAction, default=None, help=HELP["interactive"])
    p.add_argument("--config-file", help="Merge settings JSON (base config + per-frame configs, as the "
                                         "interactive merger saves it; default data_dst/merge.json there).")
    p.add_argument("--frames", help="Merge only these frame numbers, e.g. 100-400,500 (numbers from the file "
                                    "names, e.g. 00123.png is 123).")
    p.add_argument("--skip-frames", help="Frame numbers to leave out, same syntax as --frames.")
    p.add_argument("--bw-output", choices=BW_OUTPUTS, default=None, help=HELP["bw_output"])
    p.add_argument("--stabilize-gamma", action="store_true",
                   help="Probe pass measuring each predicted face's brightness, then gamma-correct every face "
                        "toward the running average of its track so faces do not flicker.")
    p.add_argument("--gamma-window", type=int, default=25, help="Frames in that running average (default 25).")
    p.add_argument("--smooth-mask", type=int, default=0, metavar="N",
                   help="Average each face's mask over N neighbouring frames of its track (0 = off).")
    p.add_argument("--export-mask-alpha", action="store_true",
                   help="Write merged frames as BGRA PNGs with the merge mask as alpha.")
    p.add_argument("--force", action="store_true",
                   help="Merge every selected frame again. Without it, frames already merged with the same model "
                        "state, settings and options are skipped (a stopped merge continues where it was).")
    p.add_argument("--workers", type=int, default=None,
                   help="Worker processes (default: default_merge_cpu_count or asked, CPU count).")
    p.add_argument("--batch-size", type=int, default=8, help="Faces per model call (default 8).")
    p.add_argument("--cpu-only", action="store_true", help="Run the model on the CPU.")
    p.add_argument("--force-gpu-idxs", help="Comma-separated GPU indexes to use.")
    _add_field_flags(p)
    p.set_defaults(func=main)
