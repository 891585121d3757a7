"""Deterministic synthetic CCTV clips (numpy, seeded) for tests, the benchmark and demos.

A `Clip` renders frame `i` on demand (random access, same pixels every time for the same
seed), so a source can skip frames without rendering them. Every clip is a textured static
scene with sensor noise; the scenarios add one thing each:

==================  ==========================================================  ========
scenario            what happens                                                expect
==================  ==========================================================  ========
static              nothing (mild sensor noise)                                 quiet
noise               heavy sensor noise only (night gain)                        quiet
crossing            a person-sized object walks across the scene                motion
brightness_jump     the whole picture brightens at once (lights / IR switch)    quiet
drift               the whole picture brightens slowly                          quiet
small_object        a bird-sized object (below min_area) flits across           quiet
masked_motion       a person-sized object moves only inside the clip's mask     quiet
covered             the lens is covered: uniform dark picture                   tamper
frozen              the picture stops changing (same frame repeated)            tamper
==================  ==========================================================  ========
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

Polygon = tuple[tuple[int, int], ...]

_NOISE_MARGIN = 97


@dataclass(frozen=True)
class Clip:
    """A synthetic clip: `frame(i)` renders frame i (BGR uint8) for 0 <= i < length."""

    name: str
    width: int
    height: int
    fps: float
    length: int
    render: Callable[[int], np.ndarray] = field(repr=False)
    expect_motion: bool = False
    expect_tamper: str | None = None
    """'covered' or 'frozen' when the clip should raise that tamper."""
    masks: tuple[Polygon, ...] = ()
    """Mask polygons (source pixels) the clip is meant to be watched with."""
    event_frames: tuple[int, int] | None = None
    """[first, last) frames during which the scripted event happens (object in view, cover on...)."""

    def frame(self, index: int) -> np.ndarray:
        if not 0 <= index < self.length:
            raise IndexError(f"frame {index} outside clip of {self.length}")
        return self.render(index)

    def frames(self) -> Iterator[np.ndarray]:
        for index in range(self.length):
            yield self.render(index)

    def __len__(self) -> int:
        return self.length


class _Scene:
    """A textured background plus a tall noise field from which each frame takes a window."""

    def __init__(self, width: int, height: int, seed: int, noise_sigma: float) -> None:
        rng = np.random.default_rng(seed)
        coarse = rng.uniform(60, 190, size=(max(4, height // 40), max(4, width // 40))).astype(np.float32)
        background = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        for _ in range(12):  # buildings, walls, poles: hard edges like a real scene
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            w, h = int(rng.integers(width // 20, width // 4)), int(rng.integers(height // 20, height // 3))
            cv2.rectangle(background, (x0, y0), (x0 + w, y0 + h), float(rng.uniform(50, 200)), -1)
        fine = rng.normal(0, 6, size=(height, width)).astype(np.float32)
        background = np.clip(background + cv2.GaussianBlur(fine, (3, 3), 0), 30, 225)
        tint = np.array([0.95, 1.0, 1.05], np.float32)
        self.background = np.clip(background[:, :, None] * tint, 0, 255).astype(np.uint8)
        self.width = width
        self.height = height
        self.sigma = noise_sigma
        self._noise = (
            rng.normal(0, noise_sigma, size=(height + _NOISE_MARGIN, width + _NOISE_MARGIN)).astype(np.int16)
            if noise_sigma > 0
            else None
        )
        self._seed = seed

    def compose(self, base: np.ndarray, index: int, offset: float = 0.0) -> np.ndarray:
        """base (uint8 BGR) + brightness offset + this frame's sensor noise, clipped to uint8."""
        out = base.astype(np.int16)
        if offset:
            out += np.int16(round(offset))
        if self._noise is not None:
            rng = np.random.default_rng((self._seed, index))
            dy, dx = (int(v) for v in rng.integers(0, _NOISE_MARGIN, size=2))
            out += self._noise[dy : dy + self.height, dx : dx + self.width, None]
        return np.clip(out, 0, 255).astype(np.uint8)


def _person_size(width: int, height: int) -> tuple[int, int]:
    return max(8, width // 12), max(16, height // 3)


def _draw_person(frame: np.ndarray, x: int, y: int, w: int, h: int) -> None:
    """A dark figure: body, legs and a head, with a lighter shirt band."""
    head = max(3, w // 3)
    cv2.circle(frame, (x + w // 2, y + head), head, (40, 45, 50), -1)
    cv2.rectangle(frame, (x, y + 2 * head), (x + w, y + h * 2 // 3), (60, 90, 150), -1)
    cv2.rectangle(frame, (x + w // 8, y + h * 2 // 3), (x + w * 7 // 8, y + h), (35, 35, 40), -1)


def _defaults(fps: float, length: int | None, default_length: int) -> int:
    if fps <= 0:
        raise ValueError("fps must be positive")
    return default_length if length is None else length


def static(width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0) -> Clip:
    length = _defaults(fps, length, 60)
    scene = _Scene(width, height, seed, 3.0)
    return Clip("static", width, height, fps, length, lambda i: scene.compose(scene.background, i))


def noise(width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0) -> Clip:
    length = _defaults(fps, length, 60)
    scene = _Scene(width, height, seed, 12.0)
    return Clip("noise", width, height, fps, length, lambda i: scene.compose(scene.background, i))


def crossing(
    width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0
) -> Clip:
    """A person-sized object enters at 1/4 of the clip and walks across in about 1/2 of it."""
    length = _defaults(fps, length, 90)
    scene = _Scene(width, height, seed, 4.0)
    pw, ph = _person_size(width, height)
    enter, leave = length // 4, length // 4 + max(4, length // 2)
    y = height - ph - height // 12

    def render(index: int) -> np.ndarray:
        if not enter <= index < leave:
            return scene.compose(scene.background, index)
        base = scene.background.copy()
        progress = (index - enter) / max(1, leave - enter - 1)
        x = int(-pw + progress * (width + pw))
        _draw_person(base, x, y, pw, ph)
        return scene.compose(base, index)

    return Clip("crossing", width, height, fps, length, render, expect_motion=True, event_frames=(enter, leave))


def brightness_jump(
    width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0
) -> Clip:
    """Half-way the picture jumps +70 grey levels with a contrast change (IR/lights switch)."""
    length = _defaults(fps, length, 60)
    scene = _Scene(width, height, seed, 3.0)
    at = length // 2
    switched = cv2.convertScaleAbs(
        cv2.cvtColor(cv2.cvtColor(scene.background, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR), alpha=0.8, beta=70
    )

    def render(index: int) -> np.ndarray:
        return scene.compose(switched if index >= at else scene.background, index)

    return Clip("brightness_jump", width, height, fps, length, render, event_frames=(at, length))


def drift(width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0) -> Clip:
    """The picture brightens steadily by 0.25 grey levels per frame (dusk/dawn, clouds)."""
    length = _defaults(fps, length, 160)
    scene = _Scene(width, height, seed, 3.0)

    def render(index: int) -> np.ndarray:
        return scene.compose(scene.background, index, offset=-20 + 0.25 * index)

    return Clip("drift", width, height, fps, length, render, event_frames=(0, length))


def small_object(
    width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0
) -> Clip:
    """A bird-sized dark square (1/100 of the width, ~0.01 % of the frame) flits across."""
    length = _defaults(fps, length, 90)
    scene = _Scene(width, height, seed, 3.0)
    size = max(4, width // 100)
    enter, leave = length // 4, length * 3 // 4

    def render(index: int) -> np.ndarray:
        if not enter <= index < leave:
            return scene.compose(scene.background, index)
        base = scene.background.copy()
        progress = (index - enter) / max(1, leave - enter - 1)
        x = int(progress * (width - size))
        y = int(height * 0.3 + height * 0.1 * np.sin(progress * 12))
        cv2.rectangle(base, (x, y), (x + size, y + size), (20, 20, 20), -1)
        return scene.compose(base, index)

    return Clip("small_object", width, height, fps, length, render, event_frames=(enter, leave))


def masked_motion(
    width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0
) -> Clip:
    """A person-sized object paces inside the right third of the picture, which is masked."""
    length = _defaults(fps, length, 90)
    scene = _Scene(width, height, seed, 4.0)
    pw, ph = _person_size(width, height)
    left, right = width * 2 // 3, width
    margin = max(8, width // 40)
    mask: Polygon = ((left, 0), (right - 1, 0), (right - 1, height - 1), (left, height - 1))
    span = right - left - 2 * margin - pw
    y = height // 3
    enter, leave = length // 4, length * 3 // 4

    def render(index: int) -> np.ndarray:
        if not enter <= index < leave:
            return scene.compose(scene.background, index)
        base = scene.background.copy()
        phase = (index - enter) / 10.0
        x = left + margin + int(span * (0.5 + 0.5 * np.sin(phase * np.pi)))
        _draw_person(base, x, y, pw, ph)
        return scene.compose(base, index)

    return Clip("masked_motion", width, height, fps, length, render, masks=(mask,), event_frames=(enter, leave))


def covered(width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0) -> Clip:
    """After 1/6 of the clip the lens is covered: a uniform near-black picture with faint noise."""
    length = _defaults(fps, length, 120)
    scene = _Scene(width, height, seed, 3.0)
    dark = _Scene(width, height, seed + 1, 1.0)
    black = np.full((height, width, 3), 6, np.uint8)
    at = length // 6

    def render(index: int) -> np.ndarray:
        if index >= at:
            return dark.compose(black, index)
        return scene.compose(scene.background, index)

    return Clip("covered", width, height, fps, length, render, expect_tamper="covered", event_frames=(at, length))


def frozen(width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0) -> Clip:
    """After 1/6 of the clip the same frame repeats (a stuck encoder or a replayed still)."""
    length = _defaults(fps, length, 150)
    scene = _Scene(width, height, seed, 3.0)
    at = length // 6
    still = scene.compose(scene.background, at)

    def render(index: int) -> np.ndarray:
        return still.copy() if index >= at else scene.compose(scene.background, index)

    return Clip("frozen", width, height, fps, length, render, expect_tamper="frozen", event_frames=(at, length))


SCENARIOS: dict[str, Callable[..., Clip]] = {
    "static": static,
    "noise": noise,
    "crossing": crossing,
    "brightness_jump": brightness_jump,
    "drift": drift,
    "small_object": small_object,
    "masked_motion": masked_motion,
    "covered": covered,
    "frozen": frozen,
}


def make_clip(
    scenario: str, width: int = 640, height: int = 480, *, length: int | None = None, fps: float = 5.0, seed: int = 0
) -> Clip:
    """Build a clip by scenario name (see the table in the module docstring)."""
    try:
        factory = SCENARIOS[scenario]
    except KeyError:
        raise ValueError(f"unknown scenario {scenario!r}; one of: {', '.join(SCENARIOS)}") from None
    return factory(width, height, length=length, fps=fps, seed=seed)


def write_clip(clip: Clip, path: Path, *, fps: float | None = None, frames: range | None = None) -> Path:
    """Write the clip to an MJPG .avi (works with the headless OpenCV wheel); returns the path."""
    path = Path(path)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*"MJPG"), float(fps or clip.fps), (clip.width, clip.height)
    )
    if not writer.isOpened():
        raise OSError(f"cannot open a video writer for {path}")
    try:
        for index in frames if frames is not None else range(clip.length):
            writer.write(clip.frame(index))
    finally:
        writer.release()
    return path
