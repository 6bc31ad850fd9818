"""`python -m coiassist` runs the CLI."""

import sys

from coiassist.cli import main

sys.exit(main())
