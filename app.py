"""The web app: `python app.py` starts the chat page on the bundled corpus (see assistant/serve.py)."""

from assistant.serve import main

if __name__ == "__main__":
    main()
