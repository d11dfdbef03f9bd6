"""Version of pychrony (3.x: the Cython/pure-Python successor of the 2.x CFFI binding)."""

__version__ = "3.0.0.dev0"
