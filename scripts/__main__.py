"""`python -m scripts` runs the `lambdarig` command line."""

import sys

from .cli import main

sys.exit(main())
