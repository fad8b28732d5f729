"""Screenshot an HTML file with Debian's headless Chromium (to look at what a user sees).

Usage: python scripts/screenshot.py PAGE.html OUT.png [WIDTHxHEIGHT]
The flags keep Chromium off the network (this machine has none) and out of the user's profile.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    page, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    size = sys.argv[3] if len(sys.argv) > 3 else "1100,2600"
    chromium = shutil.which("chromium") or sys.exit("chromium not found: apt-get install chromium (or make screenshot)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={size.replace('x', ',')}", "--hide-scrollbars",
             f"--screenshot={out}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
