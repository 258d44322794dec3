"""Stored file bytes: small ones in memory, large uploaded parts in anonymous
temporary files (Blob reads across both)."""

import os
import tempfile

# Uploaded parts of at least this size are kept in anonymous temporary files
# rather than in memory; an uploaded file larger than BLOB_INLINE stays there
# and is streamed from them.
PART_SPOOL = 1024 * 1024
BLOB_INLINE = 16 * 1024 * 1024


class Blob:
    """Bytes made of pieces (bytes, or (fd, size) of an anonymous temporary
    file), read with pread so that threads can share it."""

    def __init__(self, pieces):
        self.pieces = pieces
        self.size = sum(piece_len(p) for p in pieces)

    def __len__(self):
        return self.size

    def read(self, start, end):
        """Bytes [start, end)."""
        out = []
        off = 0
        for p in self.pieces:
            n = piece_len(p)
            a, b = max(start, off), min(end, off + n)
            if a < b:
                if isinstance(p, bytes):
                    out.append(p[a - off:b - off])
                else:
                    out.append(os.pread(p[0].fileno(), b - a, a - off))
            off += n
            if off >= end:
                break
        return b"".join(out)


def piece_len(p):
    return len(p) if isinstance(p, bytes) else p[1]


def spool(data):
    """A part's bytes: kept as is when small, else in a temporary file."""
    if len(data) < PART_SPOOL:
        return data
    f = tempfile.TemporaryFile(prefix="scenario-sim-part-")
    f.write(data)
    f.flush()
    return (f, len(data))
