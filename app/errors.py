"""Domain errors. They carry a message meant for the user; the CLI and pages print it as is."""


class KBError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(KBError):
    """A setting has an invalid value; the message names the variable and the fix."""


class KnowledgeBaseNotFound(KBError):
    pass


class KnowledgeBaseExists(KBError):
    pass


class DocumentNotFound(KBError):
    pass


class EmbeddingModelMismatch(KBError):
    """The knowledge base was indexed with another embedding model than the one configured."""


class IngestError(KBError):
    """A file cannot be ingested; the message says why (corrupt PDF, unknown type, ...)."""


class RerankerUnavailable(KBError):
    """The reranker cannot be used; search falls back to recall order and shows this message."""


class InvalidInput(KBError, ValueError):
    """A name or value given by the user is not acceptable; the message says what is."""


class LexicalIndexOutdated(KBError):
    """The BM25 index on disk is in a format this version no longer reads; the message names the rebuild."""


class AccessDenied(KBError):
    """The signed-in user (or token) lacks the role an action needs; the message names the role and who grants it."""


class NotSignedIn(KBError):
    """Sign-in is on and the request carries no valid identity (an unknown or revoked token)."""


class BatchTooLarge(KBError):
    """An upload or `kb ingest` over KB_MAX_BATCH_FILES or KB_MAX_BATCH_MB, refused whole; the message says which."""


class NothingToIngest(KBError):
    """`kb ingest PATH...` found no file of a supported type."""
