"""Report orchestration: read the data, run the pure analyses, draw, save and display."""
