"""Small flash-file helpers."""

import os


def atomic_write(path: str, data: bytes) -> None:
    """Replace a file so a power cut leaves the old or the new content, never half of one."""
    tmp = path + ".new"
    with open(tmp, "wb") as handle:
        handle.write(data)
    try:
        os.rename(tmp, path)
    except OSError:  # FAT refuses to rename over an existing file
        os.remove(path)
        os.rename(tmp, path)
