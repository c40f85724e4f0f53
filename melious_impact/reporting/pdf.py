"""PDF of a rendered page through headless Chromium, fully offline.

Charts in the page handed here are already inline SVG (``render="static"``), so Chromium
only lays out HTML: no JavaScript needs to finish before printing. Networking is shut
off by flags (a dead proxy and a resolver that resolves nothing), so a page that tried
to fetch anything would show it as a broken element rather than leak a request.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: Looked up in this order when no path is given (Debian's package installs ``chromium``).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ENV_VAR = "MELIOUS_IMPACT_CHROMIUM"
TIMEOUT_S = 120


def find_chromium(path: str | None = None) -> str:
    """The Chromium executable: ``path``, else $MELIOUS_IMPACT_CHROMIUM, else on PATH."""
    for candidate in (path, os.environ.get(ENV_VAR)):
        if candidate:
            found = shutil.which(candidate)
            if found:
                return found
            raise FileNotFoundError(f"Chromium not found at {candidate!r}")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        "PDF output needs headless Chromium: install it (Debian/Ubuntu: apt-get install chromium) "
        f"or set {ENV_VAR} to its path"
    )


def offline_flags(user_data_dir: str) -> list[str]:
    """Flags for a headless, sandbox-free, network-free Chromium run."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={user_data_dir}",
    ]


def _run(args: list[str], chromium: str | None) -> None:
    exe = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="mi-chromium-") as profile:
        proc = subprocess.run(
            [exe, *offline_flags(profile), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    if proc.returncode != 0:
        raise OSError(f"Chromium failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")


def html_to_pdf(html: Path, pdf: Path, *, chromium: str | None = None) -> Path:
    """Print ``html`` (a local file) to ``pdf`` with Chromium's ``--print-to-pdf``."""
    pdf = Path(pdf).resolve()
    pdf.unlink(missing_ok=True)
    _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", Path(html).resolve().as_uri()], chromium)
    if not pdf.exists() or pdf.stat().st_size == 0:
        raise OSError(f"Chromium wrote no PDF to {pdf}")
    return pdf
