"""The one seam to the outside world: front-end backends (sim, serial, visa).

Not built yet: see issue 4.
"""
