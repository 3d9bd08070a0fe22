"""One exception hierarchy, so the CLI and HTTP layers can print one clear line."""


class TongbanError(Exception):
    """Base class for every error Tongban raises on purpose."""


class ConfigError(TongbanError):
    """A setting is missing or has a value we cannot use."""


class IngestError(TongbanError):
    """A knowledge document could not be read or parsed."""


class RetrievalError(TongbanError):
    """The index is missing or unusable."""


class EmbedderError(TongbanError):
    """An embedding model could not be loaded or used."""


class StorageError(TongbanError):
    """The database could not be reached or migrated."""


class ChannelError(TongbanError):
    """A channel (WeChat, web chat) sent something we cannot accept."""
