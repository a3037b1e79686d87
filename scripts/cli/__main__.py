"""`python -m lambdarig.cli` runs the `lambdarig` command line."""

import sys

from lambdarig.cli import main

sys.exit(main())
