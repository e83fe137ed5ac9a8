"""Stage benchmark: viewers per core of the stage relay (`collab.media`) against aiortc's own fan-out."""
