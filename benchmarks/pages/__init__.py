"""What a teacher waits for when opening the main pages: `python -m benchmarks.pages` (see
benchmarks/README.md, "Pages")."""
