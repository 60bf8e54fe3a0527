"""Regenerate the command line page's example session (docs/user_guide/cli_session.txt).

Runs, in a temporary folder, the commands that the page shows, through the installed
``sk-mnist`` program, and writes each command after ``$ `` with what it printed on
standard output. The pictures it reads are drawn here as the page describes them.
It trains on full MNIST (the fit takes the time given on the Measurements page)::

    SK_MNIST_DATA=/path/to/mnist python docs/cli_session.py
"""

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sk_mnist import load_mnist

OUT = Path(__file__).resolve().parent / "user_guide" / "cli_session.txt"
COMMANDS = [
    "sk-mnist train --random-state 0",
    "sk-mnist evaluate mnist_model.skmnist",
    "sk-mnist predict mnist_model.skmnist seven.png four.jpg digits.npy",
]


def draw(strokes, path):
    """A digit drawn dark on light at 112x112, 9 px wide lines."""
    picture = Image.new("L", (112, 112), 255)
    pen = ImageDraw.Draw(picture)
    for stroke in strokes:
        pen.line(stroke, fill=0, width=9)
    picture.save(path)


def main():
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        draw([[(30, 20), (80, 20), (50, 95)]], folder / "seven.png")
        draw(
            [[(65, 15), (25, 70), (85, 70)], [(65, 15), (65, 100)]],
            folder / "four.jpg",
        )
        np.save(folder / "digits.npy", load_mnist()[1][0][:3])
        lines = []
        for command in COMMANDS:
            result = subprocess.run(
                shlex.split(command), cwd=folder, capture_output=True, text=True
            )
            if result.returncode != 0:
                sys.exit(f"{command} failed:\n{result.stderr}")
            lines += [f"$ {command}", *result.stdout.rstrip("\n").splitlines()]
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
