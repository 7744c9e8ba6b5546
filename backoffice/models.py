"""No models: the back office shows the other apps' rows. This module is
here because Django sends post_migrate only to apps that have one, and the
staff roles are set up on it (apps.py)."""
