"""An index generation: its on-disk format (layout.py, schema.sql), writing one (build.py), reading one
(read.py), what a build takes over from the previous one (carryover.py), and its files' checksums
(integrity.py)."""
