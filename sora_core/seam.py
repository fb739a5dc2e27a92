"""Joins a window's new frames to the frames it was given, without a jump at the seam.

Two things differ at a seam, and both are put right only where the picture still shows the same
thing (where something moved, the model's pixels are new and stay as they are):
1. A model gives its given frames back regenerated: encoded and decoded by its autoencoder, which
   loses detail (on sora-tiny's world about 2-6 of 255 per pixel, more than a frame changes from
   the next). The clip keeps the original given frames, so the difference between the last given
   frame and its regenerated copy is added back to every new frame.
2. The model's first new frame also jumps from its own copy of the last given frame: on sora-tiny,
   about twice the change between two frames inside a clip (a shift of colour and texture between
   frames it was given and frames it made). What is left of that jump after step 1 is added to the
   first new frame in full and faded out over the next FADE frames, so it becomes a drift too slow
   to see instead of a pop.
"""

import numpy as np

# A new pixel within STILL of the frame it is compared with (0-255, largest channel) is the same
# place unchanged and gets the whole correction; from MOVED on, none. Flicker between decoded
# frames is about 2; a moving object changes a pixel by 50 and more.
STILL, MOVED = 8.0, 32.0
FADE = 4  # new frames over which the model's own jump fades out (half a second at 8 fps)


def stillness(frames: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """1 where `frames` (float, (..., H, W, 3)) still show what `reference` shows, 0 where something
    moved, shaped (..., H, W, 1)."""
    change = np.abs(frames - reference).max(axis=-1, keepdims=True)
    return np.clip((MOVED - change) / (MOVED - STILL), 0.0, 1.0)


def join(given_last: np.ndarray, regenerated_last: np.ndarray, new: np.ndarray) -> np.ndarray:
    """given_last, regenerated_last (H, W, 3) and new (T, H, W, 3), uint8: the new frames, joined to
    the given ones where nothing moved (the module's docstring says how)."""
    original, copy = given_last.astype(np.float32), regenerated_last.astype(np.float32)
    frames = new.astype(np.float32)
    frames += stillness(frames, copy) * (original - copy)  # 1. the autoencoder's loss
    jump = original - frames[0]  # 2. the model's own jump, faded out
    fade = np.clip(1 - np.arange(len(frames)) / FADE, 0.0, 1.0)[:, None, None, None]
    frames += fade * stillness(frames[0], original) * stillness(frames, frames[0]) * jump
    return np.clip(frames, 0, 255).round().astype(np.uint8)
