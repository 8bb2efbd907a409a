"""kanal: the dedicated election-content reporting channel ("kanal pelaporan khusus")."""

__version__ = "0.1.0"
