"""Where cells run: `local` (one worker process at a time)."""
