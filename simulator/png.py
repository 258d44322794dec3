"""PNG outputs, deterministic from (seed, prompt, sample index), their size,
and the MIME type and file extension of stored bytes."""

import hashlib
import struct
import zlib

from .util import is_number

# The longest side of an output image.
IMAGE_SIDE = 128


def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def make_png(seed, prompt, index, width=IMAGE_SIDE, height=IMAGE_SIDE):
    """An RGB PNG whose pixels derive from sha256(seed, prompt, index)."""
    h = hashlib.sha256(("%s\x00%s\x00%d" % (seed, prompt, index)).encode("utf-8")).digest()
    c0, c1, c2 = h[0:3], h[3:6], h[6:9]
    cx, cy = h[9] * width // 256, h[10] * height // 256
    rad2 = (width // 8 + h[11] * width // 1024) ** 2
    stripe = max(2, width // (2 + h[12] % 6))
    wm = max(1, width - 1)
    hm = max(1, height - 1)
    # Horizontal gradient c0 -> c1, precomputed once per channel.
    grad = [[(c0[k] * (wm - x) + c1[k] * x) // wm for x in range(width)] for k in range(3)]
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        vy = y * 256 // hm  # 0..256 blend towards c2 going down
        iy = 256 - vy
        dy2 = (y - cy) * (y - cy)
        row = bytearray(width * 3)
        for x in range(width):
            r = (grad[0][x] * iy + c2[0] * vy) >> 8
            g = (grad[1][x] * iy + c2[1] * vy) >> 8
            b = (grad[2][x] * iy + c2[2] * vy) >> 8
            if (x - cx) * (x - cx) + dy2 < rad2:
                r, g, b = 255 - r, 255 - g, 255 - b
            elif ((x + y) // stripe) & 1:
                r, g, b = r * 3 // 4, g * 3 // 4, b * 3 // 4
            o = x * 3
            row[o] = r
            row[o + 1] = g
            row[o + 2] = b
        raw += row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + _png_chunk(b"IEND", b""))


def output_size(body):
    """PNG dimensions (longest side IMAGE_SIDE) from width/height or aspectRatio."""
    w, h = body.get("width"), body.get("height")
    if is_number(w) and is_number(h) and w > 0 and h > 0:
        rw, rh = float(w), float(h)
    else:
        ar = body.get("aspectRatio")
        try:
            a, b = str(ar).split(":") if ar else ("1", "1")
            rw, rh = float(a), float(b)
        except ValueError:
            rw, rh = 1.0, 1.0
    if rw >= rh:
        return IMAGE_SIDE, max(8, int(round(IMAGE_SIDE * rh / rw)))
    return max(8, int(round(IMAGE_SIDE * rw / rh))), IMAGE_SIDE


def sniff_mime(data):
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


EXT_OF_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif",
               "image/webp": "webp"}
