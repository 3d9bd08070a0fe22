"""Metric files live in the data directory, never in the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.config import PROJECT_ROOT


def test_empty_multiprocess_variable_writes_no_files_in_the_working_directory(tmp_path: Path) -> None:
    """An empty PROMETHEUS_MULTIPROC_DIR once made prometheus-client write counter_<pid>.db into the cwd."""
    code = "from bot.metrics import MESSAGES; MESSAGES.labels('cli', 'green').inc()"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": "", "PYTHONPATH": str(PROJECT_ROOT)}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []
