"""The local stack: the template's resources on an emulated AWS, for tests and ``kanal dev``. Not shipped in Lambda."""
