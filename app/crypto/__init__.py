"""Cryptography recipes: the only package that imports cryptography.hazmat.

Nothing here imports the rest of the application.
"""
