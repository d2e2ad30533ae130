"""Draw ReelTwin's app icons and write the web manifest that names them (agent/web/static/).

    .venv/bin/python scripts/make_app_icons.py

Our own artwork, drawn here with Pillow: the brand's gradient (the dot before "ReelTwin" in style.css) behind two
reels, a twin behind the one that plays. Writes icon-192.png, icon-512.png (rounded, for "any"), icon-maskable-192.png,
icon-maskable-512.png (full bleed, the reels inside the maskable safe circle), apple-touch-icon.png (180 px, full
bleed: iOS rounds it) and manifest.webmanifest, whose icon addresses carry each file's content hash like the pages'
``static_url`` does, so a changed icon is a new address. Run it again after changing the drawing or the colours;
tests/test_reel_extras.py checks that the committed files agree.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

STATIC = Path(__file__).resolve().parent.parent / "agent" / "web" / "static"
#: The brand dot's gradient in style.css (.brand::before): orange, magenta at 55 %, purple.
GRADIENT = ((0.0, (0xF5, 0x85, 0x29)), (0.55, (0xDD, 0x2A, 0x7B)), (1.0, (0x81, 0x34, 0xAF)))
SUPERSAMPLE = 4


def css_colour(name: str) -> str:
    """A colour variable of style.css's light theme (the first ``:root`` block), e.g. ``--bg``."""
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    match = re.search(rf"{re.escape(name)}:\s*(#[0-9a-fA-F]{{6}})", css)
    if match is None:
        raise SystemExit(f"style.css has no {name} colour; the manifest takes its colours from there")
    return match.group(1).lower()


def gradient(size: int) -> Image.Image:
    """The brand gradient from the top-left corner to the bottom-right one."""
    ramp = Image.new("RGB", (256, 1))
    for x in range(256):
        t = x / 255
        for (t0, c0), (t1, c1) in zip(GRADIENT, GRADIENT[1:]):
            if t0 <= t <= t1:
                f = (t - t0) / (t1 - t0)
                ramp.putpixel((x, 0), tuple(round(a + (b - a) * f) for a, b in zip(c0, c1)))
                break
    # Diagonal: the ramp stretched over the square's diagonal, turned 45°, cut to the square.
    diagonal = round(size * 1.4143) + 2
    band = ramp.resize((diagonal, diagonal), Image.Resampling.BILINEAR).rotate(-45, resample=Image.Resampling.BICUBIC, expand=False)
    offset = (diagonal - size) // 2
    return band.crop((offset, offset, offset + size, offset + size))


def reels_glyph(size: int, scale: float) -> Image.Image:
    """The white glyph (RGBA, ``size`` square): a twin reel outlined behind, the front reel with a play triangle cut out.
    ``scale`` is the glyph's height as a share of ``size``."""
    big = size * SUPERSAMPLE
    glyph = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(glyph)
    height = big * scale
    width = height * 9 / 16
    radius = width * 0.16
    shift = width * 0.30           # the twin sits up and to the left of the front reel
    cx, cy = big / 2 + shift / 2, big / 2 + shift / 2
    front = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
    back = (front[0] - shift, front[1] - shift, front[2] - shift, front[3] - shift)
    line = max(2, round(width * 0.085))
    draw.rounded_rectangle(back, radius=radius, outline=(255, 255, 255, 190), width=line)
    draw.rounded_rectangle(front, radius=radius, fill=(255, 255, 255, 255))
    # The play triangle is cut out of the front reel: the gradient shows through it.
    side = width * 0.46
    tx, ty = cx - side * 0.36, cy
    triangle = [(tx, ty - side / 2), (tx, ty + side / 2), (tx + side * 0.87, ty)]
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).polygon(triangle, fill=255)
    glyph.putalpha(ImageChops.subtract(glyph.getchannel("A"), mask))
    return glyph.resize((size, size), Image.Resampling.LANCZOS)


def icon(size: int, *, full_bleed: bool, scale: float) -> Image.Image:
    """One icon: the gradient (a rounded square, or the whole square when ``full_bleed``) with the glyph on it."""
    base = gradient(size).convert("RGBA")
    base.alpha_composite(reels_glyph(size, scale))
    if full_bleed:
        return base.convert("RGB")
    big = size * SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=255)
    base.putalpha(mask.resize((size, size), Image.Resampling.LANCZOS))
    return base


def version(path: Path) -> str:
    """The hash the pages' ``static_url`` puts in a static file's address (agent/web/app.py)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def main() -> int:
    files = {
        "icon-192.png": icon(192, full_bleed=False, scale=0.56),
        "icon-512.png": icon(512, full_bleed=False, scale=0.56),
        # Maskable: a launcher may cut it to a circle of 80 % of the side; the glyph (with its twin) stays inside.
        "icon-maskable-192.png": icon(192, full_bleed=True, scale=0.44),
        "icon-maskable-512.png": icon(512, full_bleed=True, scale=0.44),
        "apple-touch-icon.png": icon(180, full_bleed=True, scale=0.52),
    }
    for name, image in files.items():
        image.save(STATIC / name, "PNG", optimize=True)

    def entry(name: str, size: int, purpose: str) -> dict[str, str]:
        return {"src": f"/static/{name}?v={version(STATIC / name)}", "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}

    manifest = {
        "id": "/",
        "name": "ReelTwin",
        "short_name": "ReelTwin",
        "description": "Approve, preview and schedule your reels.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": css_colour("--card"),        # the page's top bar
        "background_color": css_colour("--bg"),     # the page behind the cards, shown while it opens
        "icons": [
            entry("icon-192.png", 192, "any"), entry("icon-512.png", 512, "any"),
            entry("icon-maskable-192.png", 192, "maskable"), entry("icon-maskable-512.png", 512, "maskable"),
        ],
    }
    (STATIC / "manifest.webmanifest").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {', '.join(files)} and manifest.webmanifest to {STATIC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
