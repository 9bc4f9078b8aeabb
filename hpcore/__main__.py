"""``python -m hpcore`` is the ``hpcore`` command."""

import sys

from .cli import main

sys.exit(main())
