"""The local stack: the template's resources on an emulated AWS, for tests and ``kanal dev``.

Shipped in the layer with the rest of the package, but never imported in Lambda.
"""
