"""The web app: `python app.py [--host H] [--port P] [--workers N]` starts the page on the bundled corpus."""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
