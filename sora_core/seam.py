"""Joins a window's new frames to the frames it was given, without a jump at the seam.

A model gives its given frames back regenerated: encoded and decoded by its autoencoder, which
loses detail (on sora-tiny's world about 2-6 of 255 per pixel, more than a frame changes from the
next). The clip keeps the original given frames, so without care every place that does not move
would change at once at the first new frame. The difference between the last given frame and its
regenerated copy is that loss; it is added back to the new frames wherever they still show what the
regenerated frame showed, and faded out where something moved (there the model's pixels are new).
"""

import numpy as np

# A new pixel within STILL of the regenerated last given frame (0-255, largest channel) is the same
# place unchanged and gets all of the lost detail back; from MOVED on, none. Flicker between decoded
# frames is about 2; a moving object changes a pixel by 50 and more.
STILL, MOVED = 8.0, 32.0


def join(given_last: np.ndarray, regenerated_last: np.ndarray, new: np.ndarray) -> np.ndarray:
    """given_last, regenerated_last (H, W, 3) and new (T, H, W, 3), uint8: the new frames with the
    detail the autoencoder lost in the last given frame put back where nothing moved."""
    original, copy = given_last.astype(np.float32), regenerated_last.astype(np.float32)
    frames = new.astype(np.float32)
    change = np.abs(frames - copy).max(axis=-1, keepdims=True)  # (T, H, W, 1)
    still = np.clip((MOVED - change) / (MOVED - STILL), 0.0, 1.0)
    return np.clip(frames + still * (original - copy), 0, 255).round().astype(np.uint8)
