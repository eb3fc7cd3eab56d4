"""`python -m docex.cli`, as the bench and tests run it."""

import sys

from docex.cli import main

sys.exit(main())
