"""Small shared helpers: atomic file writes, rank-0 printing, progress bars."""
