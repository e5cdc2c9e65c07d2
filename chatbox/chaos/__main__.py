"""`python -m chatbox.chaos --url URL [--url URL2 ...]` or `python -m chatbox.chaos --local`.

gevent must patch the standard library before anything imports it, and `-m chatbox.chaos` imports the
`chatbox` package (the whole app) first: so this starts the kit again in a fresh interpreter that
patches before importing anything of ChatBox.
"""

import os
import sys

BOOT = "from gevent import monkey; monkey.patch_all(); import sys; from chatbox.chaos.cli import main; sys.exit(main())"

if __name__ == "__main__":
    os.execv(sys.executable, [sys.executable, "-c", BOOT, *sys.argv[1:]])
