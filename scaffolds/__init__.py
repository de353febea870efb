"""pitfalls.scaffolds: the scaffold library, shipped as package data (one folder per scaffold)."""
