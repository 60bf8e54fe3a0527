"""``python -m sk_mnist``: the same program as the ``sk-mnist`` command."""

import sys

from sk_mnist.cli import main

if __name__ == "__main__":
    sys.exit(main())
