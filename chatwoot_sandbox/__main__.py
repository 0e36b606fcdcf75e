"""`python -m chatwoot_sandbox`: serve the sandbox until interrupted."""

from .cli import main

main()
