"""The join of new frames to given ones: what the autoencoder lost comes back where nothing moved,
and nothing else changes."""

import numpy as np

from sora_core import seam
from sora_core.world.score import seam_ratio


def square_moving_right(frames: int, start: int) -> np.ndarray:
    """A white square moving 2 pixels a frame over a textured green background, uint8 (T, 64, 64, 3)."""
    rng = np.random.default_rng(0)
    background = np.clip(rng.normal(120, 20, (64, 64, 3)), 0, 255)
    clip = np.repeat(background[None], frames, axis=0)
    for t in range(frames):
        x = start + 2 * t
        clip[t, 24:36, x: x + 12] = 255
    return clip.round().astype(np.uint8)


def test_lost_detail_comes_back_where_nothing_moved_and_only_there():
    truth = square_moving_right(16, start=4)
    # the model's copy: the same scene, blurred by its autoencoder (a flat 6-level loss here) plus its
    # own small flicker, and the square drawn where the model put it
    rng = np.random.default_rng(1)
    made = truth.astype(np.float32)
    made[..., 1] += 6  # the autoencoder's colour shift
    made += rng.normal(0, 1, made.shape)
    made = np.clip(made, 0, 255).round().astype(np.uint8)
    given = 8
    raw = np.concatenate([truth[:given], made[given:]])
    joined = np.concatenate([truth[:given], seam.join(truth[given - 1], made[given - 1], made[given:])])

    background = np.ones((64, 64), bool)
    background[20:40] = False  # away from the square's path

    def error(clip: np.ndarray) -> float:  # largest channel's error, on the background, after the seam
        return np.abs(clip[given:, background].astype(int) - truth[given:, background]).max(-1).mean()

    assert error(raw) > 5
    assert error(joined) < 2.5
    square = (slice(26, 34), slice(4 + 2 * given + 14, 4 + 2 * given + 16))  # entered after the seam
    assert np.array_equal(joined[given + 7][square], made[given + 7][square])  # the model's new pixels stay
    assert seam_ratio(joined, given) < 1.5 < seam_ratio(raw, given)


def test_a_join_with_nothing_lost_changes_nothing():
    clip = square_moving_right(12, start=2)
    assert np.array_equal(seam.join(clip[3], clip[3], clip[4:]), clip[4:])


def test_the_models_own_jump_at_the_seam_fades_out_where_nothing_moved():
    truth = square_moving_right(16, start=4)
    given = 8
    # the model copies the given frames exactly but draws its new frames 6 levels brighter: a pop the
    # size of sora-tiny's own (2-7 levels on average)
    made = truth.astype(np.float32)
    background = made[given:].max(axis=-1) < 200
    made[given:][background] += 6
    made = made.round().astype(np.uint8)
    raw = np.concatenate([truth[:given], made[given:]])
    joined = np.concatenate([truth[:given], seam.join(truth[given - 1], made[given - 1], made[given:])])

    assert seam_ratio(raw, given) > 3
    assert seam_ratio(joined, given) < 1.5
    first = background[0] & (truth[given - 1].max(axis=-1) < 200)  # background on both sides of the seam
    assert np.abs(joined[given][first].astype(int) - truth[given][first]).max() <= 1  # no jump at the seam
    after = given + seam.FADE
    assert np.array_equal(joined[after:], made[after:])  # then the model's own frames, untouched
    entered = (slice(26, 34), slice(4 + 2 * given + 12, 4 + 2 * given + 14))  # the square's new pixels
    assert np.array_equal(joined[given + 1][entered], made[given + 1][entered])
