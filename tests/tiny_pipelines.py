"""Tiny random-weight versions of real diffusers video pipelines, built in code with no network
(configs from diffusers' own tests; tokenizers built in code). Used by the tests and `bench/`.

`save_tiny(name, folder)` writes one with `save_pretrained`, so the engine loads it through the same
`from_pretrained` path as a real hub model.
"""

import tomllib
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLCogVideoX,
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    CogVideoXDDIMScheduler,
    CogVideoXImageToVideoPipeline,
    CogVideoXPipeline,
    CogVideoXTransformer3DModel,
    FlowMatchEulerDiscreteScheduler,
    LTXConditionPipeline,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    UniPCMultistepScheduler,
    WanPipeline,
    WanTransformer3DModel,
    WanVACEPipeline,
    WanVACETransformer3DModel,
)
from transformers import ByT5Tokenizer, T5Config, T5EncoderModel

from sora_core.registry import DEFAULT_REGISTRY, PROJECT_ROOT


def _text_encoder() -> T5EncoderModel:
    return T5EncoderModel(T5Config(vocab_size=384, d_model=32, d_ff=37, d_kv=8, num_heads=4, num_layers=2,
                                   dropout_rate=0.0))


def _ltx_components() -> dict:
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False)
    vae.use_framewise_encoding = vae.use_framewise_decoding = False
    return {"transformer": transformer, "vae": vae, "scheduler": FlowMatchEulerDiscreteScheduler(),
            "text_encoder": _text_encoder(), "tokenizer": ByT5Tokenizer()}


def _wan_components(vace: bool) -> dict:
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    common = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
                  out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, cross_attn_norm=True,
                  qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    transformer = (WanVACETransformer3DModel(num_layers=3, vace_layers=[0, 2], vace_in_channels=96, **common)
                   if vace else WanTransformer3DModel(num_layers=2, **common))
    return {"transformer": transformer, "vae": vae, "scheduler": UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
        "text_encoder": _text_encoder(), "tokenizer": ByT5Tokenizer()}


def _cogvideox_components() -> dict:
    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=1, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16)
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4)
    return {"transformer": transformer, "vae": vae, "scheduler": CogVideoXDDIMScheduler(),
            "text_encoder": _text_encoder(), "tokenizer": ByT5Tokenizer()}


def _cogvideox_i2v_components() -> dict:
    parts = _cogvideox_components()
    torch.manual_seed(0)  # image-to-video takes the image latents as extra input channels
    parts["transformer"] = CogVideoXTransformer3DModel(  # rotary embeddings need head_dim 16
        num_attention_heads=2, attention_head_dim=16, in_channels=8, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=1, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16, use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=False)
    return parts


BUILDERS = {
    "ltx": (LTXPipeline, _ltx_components),
    "ltx-condition": (LTXConditionPipeline, _ltx_components),
    "wan": (WanPipeline, lambda: _wan_components(vace=False)),
    "wan-vace": (WanVACEPipeline, lambda: _wan_components(vace=True)),
    "cogvideox": (CogVideoXPipeline, _cogvideox_components),
    "cogvideox-i2v": (CogVideoXImageToVideoPipeline, _cogvideox_i2v_components),
}


def build_tiny(name: str):
    cls, components = BUILDERS[name]
    return cls(**components())


def save_tiny(name: str, folder: Path) -> Path:
    folder = Path(folder) / name
    if not (folder / "model_index.json").exists():
        build_tiny(name).save_pretrained(folder)
    return folder


TINY_DIFFUSERS = {
    "tiny-ltx": dict(family="ltx", source="ltx", pipeline="LTXPipeline", extend_source="ltx-condition",
                     extend_pipeline="LTXConditionPipeline", width=32, height=32, frames=17, window_frames=17,
                     frame_multiple=8, size_multiple=32, extend_frames=9),
    "tiny-wan": dict(family="wan", source="wan", pipeline="WanPipeline", extend_source="wan-vace",
                     extend_pipeline="WanVACEPipeline", width=16, height=16, frames=9, window_frames=9,
                     frame_multiple=4, size_multiple=16, extend_frames=5),
    "tiny-cogvideox": dict(family="cogvideox", source="cogvideox", pipeline="CogVideoXPipeline",
                           extend_source="cogvideox-i2v", extend_pipeline="CogVideoXImageToVideoPipeline",
                           width=16, height=16, frames=9, window_frames=9, frame_multiple=4, size_multiple=16,
                           extend_frames=1),
}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def write_registry(path: Path, entries: dict[str, dict]) -> Path:
    lines = []
    for name, entry in entries.items():
        lines.append(f'["{name}"]')
        lines += [f"{key} = {_toml_value(value)}" for key, value in entry.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_registry(folder: Path, **overrides) -> Path:
    """A registry file with the built-in model and the tiny pipelines (saved into `folder`)."""
    real = tomllib.loads(DEFAULT_REGISTRY.read_text())
    entries = {"sora-tiny": real["sora-tiny"] | {"source": str(PROJECT_ROOT / "assets" / "sora-tiny")}}
    for name, entry in TINY_DIFFUSERS.items():
        entry = dict(entry)
        entry["source"] = str(save_tiny(entry["source"], folder))
        entry["extend_source"] = str(save_tiny(entry["extend_source"], folder))
        entries[name] = dict(label=name, fps=8, steps=3, guidance=3.0, output_scale=1, needs_gpu=False,
                             can=["text-to-video", "image-to-video", "extend"]) | entry | overrides
    return write_registry(folder / "models.toml", entries)
