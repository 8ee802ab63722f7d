"""Errors raised by the crypto package."""


class DecryptionFailed(Exception):
    """Any failure to open a sealed value, unwrap a key or verify a stream.

    The message never says which check failed, so it cannot act as an oracle.
    """

    def __init__(self) -> None:
        super().__init__("decryption failed")


class KeyringError(Exception):
    """The keyring cannot be loaded, parsed or used; the message says what to do."""
