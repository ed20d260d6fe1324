"""Knowledge-base search: query side and shared core."""
