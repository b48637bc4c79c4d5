"""The one box convention of the engine's image code: ``Box(x0, y0, x1, y1)``
in image pixels, x1 and y1 exclusive; ``image[box.slices]`` is what it covers."""
from __future__ import annotations

from typing import NamedTuple


class Box(NamedTuple):
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns): index an image with ``image[box.slices]``."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return self.width * self.height

    def within(self, outer: "Box") -> tuple[slice, slice]:
        """(rows, columns) of this box inside ``outer``'s own pixels: ``image[outer.slices][box.within(outer)]``."""
        return slice(self.y0 - outer.y0, self.y1 - outer.y0), slice(self.x0 - outer.x0, self.x1 - outer.x0)

    def shifted(self, x: int, y: int) -> "Box":
        """The box moved by (x, y): from a crop's coordinates to the image's."""
        return Box(self.x0 + x, self.y0 + y, self.x1 + x, self.y1 + y)

    def grown(self, margin: int, limit: "Box") -> "Box":
        """``margin`` pixels added on every side, clipped to ``limit``."""
        return Box(max(limit.x0, self.x0 - margin), max(limit.y0, self.y0 - margin),
                   min(limit.x1, self.x1 + margin), min(limit.y1, self.y1 + margin))
