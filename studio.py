"""Sora Studio: the Gradio UI. It lays out the page and wires events to the engine in sora_core/.

    python studio.py                      # http://127.0.0.1:7860 with the built-in model
    python studio.py --share              # plus a public Gradio link
    python studio.py --host 0.0.0.0 --port 8080 --model ltx-video

Also the app file of the Hugging Face Space (see the README's front matter).
"""

import argparse
import os
import socket
from pathlib import Path

import gradio as gr

from sora_core import preview, video
from sora_core.engine import DEFAULT_LIBRARY, CancelledEvent, Done, Engine, Failed, Progress, Started, Waiting
from sora_core.library import ClipNotFound
from sora_core.registry import DEFAULT_MODEL, PROJECT_ROOT
from sora_core.request import RequestError, parse_request
from sora_core.world.vocab import EXAMPLE_PROMPTS

try:  # on a ZeroGPU Space the GPU is lent per call through this decorator
    import spaces

    gpu = spaces.GPU(duration=120)
except ImportError:
    def gpu(fn):
        return fn

SAMPLES = PROJECT_ROOT / "assets" / "samples"
CSS = ".preview img { image-rendering: pixelated; } video { image-rendering: pixelated; }"


def stream(engine: Engine, fields: dict):
    """Runs one job and yields (preview strip, status, notices, video path) as it goes. Closing the
    generator (Cancel, a closed tab) cancels the job."""
    try:
        job = engine.start(parse_request(**fields))
    except RequestError as err:
        raise gr.Error(str(err)) from None
    notices, last_preview = "", None
    try:
        for event in job:
            if isinstance(event, Started):
                notices = "\n".join(event.notices)
                yield None, "Starting...", notices, None
            elif isinstance(event, Waiting):
                yield None, f"Waiting for {event.model}, busy with another job...", notices, None
            elif isinstance(event, Progress):
                last_preview = preview.strip(event.preview)
                yield last_preview, event.summary(), notices, None
            elif isinstance(event, Done):
                yield last_preview, f"Done: {len(event.frames)} frames in {event.settings['elapsed_s']} s " \
                                 f"(seed {event.settings['seed']})", notices, str(event.path)
            elif isinstance(event, Failed):
                raise gr.Error(event.message)
            elif isinstance(event, CancelledEvent):
                yield last_preview, "Cancelled.", notices, None
    finally:
        job.cancel()


def build_ui(engine: Engine, default_model: str = DEFAULT_MODEL) -> gr.Blocks:
    models = list(engine.models)
    presets = [("(none)", "")] + [(p.name, key) for key, p in engine.presets.items()]
    spec = engine.models[default_model]

    with gr.Blocks(title="Sora Studio") as demo:
        gr.Markdown("# Sora Studio\nDescribe a scene, pick a style, watch it take shape; extend any clip.")
        for problem in engine.preset_problems:
            gr.Markdown(f"⚠️ {problem}")
        with gr.Tabs() as tabs:
            # ---- Create -------------------------------------------------------------------------
            with gr.Tab("Create", id="create"):
                with gr.Row():
                    with gr.Column(scale=2):
                        prompt = gr.Textbox(label="Prompt", lines=2, max_length=2000, elem_id="prompt",
                                            placeholder="a red ball rolls to the right, cinematic")
                        negative = gr.Textbox("", label="Negative prompt", max_length=2000)
                        with gr.Row():
                            preset = gr.Dropdown(presets, value="", label="Style preset")
                            model = gr.Dropdown([(engine.models[m].label, m) for m in models],
                                                value=default_model, label="Model")
                        final_prompt = gr.Textbox(label="Final prompt (after the style's template)",
                                                  interactive=False)
                        with gr.Accordion("Settings", open=False):
                            with gr.Row():
                                duration = gr.Slider(0.5, 30, value=spec.frames / spec.fps, step=0.5,
                                                     label="Duration (s)")
                                fps = gr.Slider(1, 60, value=spec.fps, step=1, label="Frames per second")
                            with gr.Row():
                                width = gr.Number(spec.width, label="Width", precision=0)
                                height = gr.Number(spec.height, label="Height", precision=0)
                            with gr.Row():
                                seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                                random_seed = gr.Checkbox(True, label="Random seed")
                            with gr.Row():
                                steps = gr.Slider(1, 100, value=spec.steps, step=1, label="Steps")
                                guidance = gr.Slider(0, 15, value=spec.guidance, step=0.5, label="Guidance")
                            image = gr.Image(label="Start image (optional: image to video)", type="filepath")
                        with gr.Row():
                            generate_btn = gr.Button("Generate", variant="primary")
                            cancel_btn = gr.Button("Cancel", variant="stop")
                        gr.Examples(EXAMPLE_PROMPTS, inputs=[prompt], label="Prompts sora-tiny knows")
                    with gr.Column(scale=3):
                        live = gr.Image(label="Live preview", interactive=False, elem_classes="preview",
                                        elem_id="live-preview", show_label=True)
                        status = gr.Textbox(label="Progress", interactive=False, elem_id="status")
                        notices = gr.Textbox(label="Notes", interactive=False, elem_id="notices")
                        result = gr.Video(label="Clip", interactive=False, elem_id="result", autoplay=True,
                                          loop=True)
                        gif_btn = gr.Button("Make a GIF")
                        gif_file = gr.File(label="GIF", interactive=False)

            # ---- Styles -------------------------------------------------------------------------
            with gr.Tab("Styles", id="styles"):
                gr.Markdown("Every style preset, with a clip sora-tiny made in it. Click one to use it.")
                style_buttons = []
                for row_start in range(0, len(engine.presets), 5):
                    with gr.Row():
                        for key in list(engine.presets)[row_start: row_start + 5]:
                            p = engine.presets[key]
                            with gr.Column(min_width=160):
                                sample = SAMPLES / f"{key}.gif"
                                gr.Image(str(sample) if sample.exists() else None, label=p.name,
                                         interactive=False, elem_classes="preview")
                                gr.Markdown(p.description)
                                style_buttons.append((gr.Button(f"Use {p.name}"), key))

            # ---- Extend -------------------------------------------------------------------------
            with gr.Tab("Extend", id="extend"):
                with gr.Row():
                    with gr.Column(scale=2):
                        source = gr.Video(label="Clip to continue (upload, or pick from the Library)",
                                          sources=["upload"], elem_id="extend-source")
                        story = gr.Textbox("", label="What happens next: one line per extension (a story)",
                                           lines=3, elem_id="story",
                                           placeholder="the ball jumps\nthen it spins")
                        add_seconds = gr.Slider(0, 30, value=0, step=0.5,
                                                label="Seconds to add (0: one extension per line)")
                        with gr.Row():
                            extend_model = gr.Dropdown([(engine.models[m].label, m) for m in models
                                                        if "extend" in engine.models[m].can],
                                                       value=default_model, label="Model")
                            extend_seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                            extend_steps = gr.Slider(1, 100, value=spec.steps, step=1, label="Steps")
                        with gr.Row():
                            extend_btn = gr.Button("Extend", variant="primary")
                            extend_cancel = gr.Button("Cancel", variant="stop")
                    with gr.Column(scale=3):
                        extend_live = gr.Image(label="Live preview", interactive=False, elem_classes="preview",
                                               elem_id="extend-preview")
                        extend_status = gr.Textbox(label="Progress", interactive=False, elem_id="extend-status")
                        extend_notices = gr.Textbox(label="Notes", interactive=False)
                        extended = gr.Video(label="Original + continuation", interactive=False,
                                            elem_id="extend-result", loop=True)

            # ---- Library ------------------------------------------------------------------------
            with gr.Tab("Library", id="library") as library_tab:
                with gr.Row():
                    refresh_btn = gr.Button("Refresh")
                clips = gr.Dataframe(headers=["created", "prompt", "preset", "model", "seed", "frames", "id"],
                                     datatype=["str"] * 7, interactive=False, elem_id="library-table",
                                     wrap=True, column_widths=["13%", "29%", "9%", "9%", "9%", "7%", "24%"])
                with gr.Row():
                    with gr.Column(scale=3):
                        picked_video = gr.Video(label="Clip", interactive=False, elem_id="library-video")
                    with gr.Column(scale=2):
                        picked_id = gr.Textbox(label="Clip id", interactive=False, elem_id="library-id")
                        picked_settings = gr.JSON(label="Settings")
                        with gr.Row():
                            reuse_btn = gr.Button("Reuse settings")
                            to_extend_btn = gr.Button("Extend this clip")
                            delete_btn = gr.Button("Delete", variant="stop")

            with gr.Tab("Help", id="help"):
                gr.Markdown(help_text(engine))

        # ---- events ---------------------------------------------------------------------------------

        def show_final_prompt(text: str, preset_key: str, model_name: str) -> str:
            chosen = engine.presets.get(preset_key)
            return chosen.apply(text.strip(), model_name) if chosen and text.strip() else text.strip()

        for trigger in (prompt.change, preset.change, model.change):
            trigger(show_final_prompt, [prompt, preset, model], final_prompt, api_name=False,
                    show_progress="hidden")

        def model_defaults(model_name: str):
            s = engine.models[model_name]
            return s.frames / s.fps, s.fps, s.width, s.height, s.steps, s.guidance

        model.change(model_defaults, model, [duration, fps, width, height, steps, guidance], api_name=False)

        @gpu
        def generate(prompt: str, negative_prompt: str = "", preset: str = "", model: str = default_model,
                     duration: float | None = None, fps: int | None = None, width: int | None = None,
                     height: int | None = None, seed: int = 0, random_seed: bool = True, steps: int | None = None,
                     guidance: float | None = None, image: str | None = None):
            """Makes a clip from a prompt; streams (preview, progress, notes, video)."""
            fields = dict(prompt=prompt or "", negative_prompt=negative_prompt or "", preset=preset or None,
                          model=model, duration=duration, fps=fps, width=width, height=height,
                          seed=None if random_seed else seed, steps=steps, guidance=guidance,
                          image=Path(image) if image else None)
            yield from stream(engine, fields)

        gen_event = generate_btn.click(
            generate, [prompt, negative, preset, model, duration, fps, width, height, seed, random_seed, steps,
                       guidance, image], [live, status, notices, result], api_name="generate",
            concurrency_id="generation", concurrency_limit=1)
        cancel_btn.click(None, cancels=[gen_event], api_name=False)

        def make_gif(clip_path: str | None):
            if not clip_path:
                raise gr.Error("Make a clip first.")
            clip_id = Path(clip_path).stem
            try:
                mp4, settings = engine.library.path(clip_id), engine.library.settings(clip_id)
            except ClipNotFound as err:
                raise gr.Error(str(err)) from None
            frames = video.read_video(mp4, settings["fps"], (settings["width"], settings["height"]))
            scale = engine.models[settings["model"]].output_scale if settings["model"] in engine.models else 1
            return str(video.write_gif(mp4.with_suffix(".gif"), frames, settings["fps"], scale))

        gif_btn.click(make_gif, result, gif_file, api_name=False)

        for button, key in style_buttons:
            button.click(lambda key=key: (key, gr.Tabs(selected="create")), None, [preset, tabs], api_name=False)

        @gpu
        def extend(video: str | None, prompts: str = "", add_seconds: float = 0, model: str = default_model,
                   seed: int = 0, steps: int | None = None):
            """Continues a clip: one extension per prompt line (or enough for `add_seconds`)."""
            lines = [line for line in (prompts or "").splitlines() if line.strip()]
            fields = dict(mode="extend", video=Path(video) if video else None, prompts=lines, model=model,
                          seed=seed, steps=steps, add_seconds=add_seconds or None)
            yield from stream(engine, fields)

        ext_event = extend_btn.click(
            extend, [source, story, add_seconds, extend_model, extend_seed, extend_steps],
            [extend_live, extend_status, extend_notices, extended], api_name="extend",
            concurrency_id="generation", concurrency_limit=1)
        extend_cancel.click(None, cancels=[ext_event], api_name=False)

        def list_clips():
            rows = []
            for c in engine.library.clips():
                prompt = c.get("prompt") or " / ".join(c.get("prompts", []))
                rows.append([c.get("created", ""), prompt, c.get("preset") or "", c.get("model", ""),
                             str(c.get("seed", "")), str(c.get("frames_total", "")), c["id"]])
            return rows

        def pick(evt: gr.SelectData, table):
            row = evt.index[0]
            clip_id = table.iloc[row, -1] if hasattr(table, "iloc") else table[row][-1]
            try:
                return str(engine.library.path(clip_id)), clip_id, engine.library.settings(clip_id)
            except ClipNotFound as err:
                raise gr.Error(str(err)) from None

        def reuse(clip_id: str):
            try:
                s = engine.library.settings(clip_id)
            except ClipNotFound as err:
                raise gr.Error(str(err)) from None
            return (s.get("prompt", ""), s.get("negative_prompt", ""), s.get("preset") or "",
                    s.get("model", default_model), s["frames"] / s["fps"], s["fps"], s["width"], s["height"],
                    s["seed"], False, s["steps"], s["guidance"], gr.Tabs(selected="create"))

        def to_extend(clip_id: str):
            try:
                return str(engine.library.path(clip_id)), gr.Tabs(selected="extend")
            except ClipNotFound as err:
                raise gr.Error(str(err)) from None

        def delete(clip_id: str):
            try:
                engine.library.delete(clip_id)
            except ClipNotFound as err:
                raise gr.Error(str(err)) from None
            return list_clips(), None, "", None

        for trigger in (refresh_btn.click, library_tab.select, demo.load):
            trigger(list_clips, None, clips, api_name=False)
        clips.select(pick, clips, [picked_video, picked_id, picked_settings], api_name=False)
        reuse_btn.click(reuse, picked_id, [prompt, negative, preset, model, duration, fps, width, height, seed,
                                           random_seed, steps, guidance, tabs], api_name=False)
        to_extend_btn.click(to_extend, picked_id, [source, tabs], api_name=False)
        delete_btn.click(delete, picked_id, [clips, picked_video, picked_id, picked_settings], api_name=False)
    return demo


def help_text(engine: Engine) -> str:
    from sora_core.tiny.tokenizer import world_words

    lines = ["## What sora-tiny knows",
             "The built-in model learned from a small procedural world, so it knows only its words. "
             "When a prompt uses others, the Notes box names them.",
             "", "What to expect: colours and backgrounds nearly always come out right, and the sketch, "
             "cinematic, animation and realistic styles mostly, and pixel art nearly always. "
             "A single motion comes out right about nine times "
             "in ten, two events in sequence (\"first ..., then ...\") about four times in five, and two "
             "things collide, push or chase as asked about nine times in ten. It places two things where the prompt "
             "says (\"left of\", \"above\") nearly nine times in ten, and draws the wrong object about one "
             "time in four. Scores on prompts it never saw: `docs/quality/quality.md`.",
             "", "**Vocabulary:** " + ", ".join(w for w in world_words() if w.isalpha()), "",
             "## Other models", "They download from the Hugging Face hub once and need a GPU:", ""]
    lines += [f"- `{name}`: {spec.label}" for name, spec in engine.models.items() if spec.needs_gpu]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(engine: Engine, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
           default_model: str = DEFAULT_MODEL, block: bool = True, max_file_size: str = "200mb") -> gr.Blocks:
    """Builds the UI and serves it; with block=False it returns at once (tests, benchmarks)."""
    demo = build_ui(engine, default_model)
    demo.queue(max_size=64, default_concurrency_limit=4)
    demo.launch(server_name=host, server_port=port or free_port(), share=share, css=CSS, quiet=not block,
                prevent_thread_lock=not block, allowed_paths=[str(engine.library.folder), str(SAMPLES)],
                max_file_size=max_file_size)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Start Sora Studio.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="also make a public Gradio link")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the model selected at start")
    parser.add_argument("--outputs", type=Path, default=Path(os.environ.get("SORA_STUDIO_OUTPUTS", DEFAULT_LIBRARY)))
    args = parser.parse_args()
    engine = Engine(library=args.outputs)
    if args.model not in engine.models:
        parser.error(f"unknown model {args.model!r}; choose one of {', '.join(engine.models)}")
    launch(engine, args.host, args.port, args.share, args.model)


if __name__ == "__main__":
    main()
