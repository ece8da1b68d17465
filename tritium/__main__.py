"""``python -m tritium`` runs the CLI."""

import sys

from tritium.cli import main

sys.exit(main())
