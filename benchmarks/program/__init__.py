"""Program encode benchmark: CPU of the program's renditions (collab/media/cmaf.py) per rung and preset."""
