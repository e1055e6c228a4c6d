"""``python -m boiler``: see boiler/cli.py."""

import sys

from .cli import main

sys.exit(main())
