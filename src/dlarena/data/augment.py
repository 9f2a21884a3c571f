"""The random draws of an input pipeline, shared by every framework's pipeline.

Each pipeline shuffles, crops and flips in its own framework's idiom, but takes the random
numbers from here: the order of an epoch and each sample's crop box and flip are functions
of (seed, epoch, file index) alone. So every pipeline visits the same files in the same
order and cuts the same boxes; without augmentation, the pixels they deliver are identical.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

# ImageNet's per-channel mean and standard deviation (of pixels scaled to [0, 1]).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# Random resized crop as torchvision draws it: area fraction and aspect-ratio ranges.
SCALE = (0.08, 1.0)
RATIO = (3 / 4, 4 / 3)
_TRIES = 10


@dataclass(frozen=True)
class Draw:
    """One sample's augmentation: crop box (top, left, height, width) and a horizontal flip."""

    top: int
    left: int
    height: int
    width: int
    flip: bool


def order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The file indices of one epoch, shuffled by (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def draw(seed: int, epoch: int, index: int, height: int, width: int) -> Draw:
    """The random resized crop and flip of file `index` in `epoch` (torchvision's rule:
    ten tries at a box of random area and aspect ratio, else the central crop)."""
    rng = np.random.default_rng([seed, epoch, index, 1])
    area = height * width
    flip = bool(rng.random() < 0.5)
    log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
    for _ in range(_TRIES):
        target = area * rng.uniform(*SCALE)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return Draw(int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)),
                        h, w, flip)
    side = min(height, width)
    return Draw((height - side) // 2, (width - side) // 2, side, side, flip)


def whole(height: int, width: int) -> Draw:
    """No augmentation: the whole image, unflipped."""
    return Draw(0, 0, height, width, False)


def sample_draw(seed: int, epoch: int, index: int, side: int, *, augmented: bool) -> Draw:
    """The draw of file `index` (a `side` x `side` image) in `epoch`: random, or the whole."""
    return draw(seed, epoch, index, side, side) if augmented else whole(side, side)


def normalise(pixels: np.ndarray) -> np.ndarray:
    """uint8 (..., H, W, 3) -> float32 scaled to [0, 1], less the mean, over the std."""
    mean = np.asarray(MEAN, np.float32)
    std = np.asarray(STD, np.float32)
    return (pixels.astype(np.float32) / np.float32(255) - mean) / std


def decode_with_pillow(path: Path | BinaryIO, draw: Draw, side: int, *, delay_seconds: float = 0.0,
                       ) -> np.ndarray:
    """One sample as the pipelines that decode with Pillow make it (torchvision's default
    loader does too): (side, side, 3) float32, cropped, resized, flipped, normalised.

    Pillow's bilinear resize filters over the whole source footprint when it shrinks (it
    antialiases); a resize is skipped when the box is already `side` x `side`.
    """
    from PIL import Image

    if delay_seconds:
        time.sleep(delay_seconds)  # planted slowness, for tests of the input-bound verdict
    with Image.open(path) as opened:
        picture = opened.convert("RGB")
    box = (draw.left, draw.top, draw.left + draw.width, draw.top + draw.height)
    if (draw.height, draw.width) != (side, side) or box != (0, 0, *picture.size):
        picture = picture.resize((side, side), Image.Resampling.BILINEAR, box=box)
    pixels = np.asarray(picture)
    if draw.flip:
        pixels = pixels[:, ::-1]
    return normalise(pixels)
