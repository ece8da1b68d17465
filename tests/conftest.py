"""Suite-wide setup: keep Hypothesis's storage (example database, constants cache) out of the source tree.

Hypothesis writes ``.hypothesis/`` under the working directory, and its pytest plugin
already does so while collecting (it caches constants found in the project's modules),
before any fixture runs; so the home directory is moved when this conftest is imported.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

_HOME = Path(tempfile.mkdtemp(prefix="tritium-hypothesis-"))
set_hypothesis_home_dir(_HOME)
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
