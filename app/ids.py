"""How chunk ids are built and read back: `<doc_id>:<position>`, or `<doc_id>:<generation>:<position>`.

A document id is the SHA-256 of its bytes, so re-ingesting the same file (e.g. after a chunk-size change)
keeps the id. Its new chunks are written beside the old ones under a new *generation*, and one catalog
transaction switches which generation is visible; the old one is removed after. Generation 0 (every
first ingest) keeps the short form `<doc_id>:<position>` that the chunker writes, so existing stores
stay valid. A *version key* names the chunks of one generation: `<doc_id>` or `<doc_id>:<generation>`;
the BM25 index files chunks under it.

Example:
    >>> chunk_id("ab12", 0, 3), chunk_id("ab12", 2, 3)
    ('ab12:3', 'ab12:2:3')
    >>> version_of("ab12:2:3"), neighbour_id("ab12:2:3", 4)
    ('ab12:2', 'ab12:2:4')
"""

from __future__ import annotations


def version_key(doc_id: str, generation: int) -> str:
    return doc_id if generation == 0 else f"{doc_id}:{generation}"


def chunk_id(doc_id: str, generation: int, position: int) -> str:
    return f"{version_key(doc_id, generation)}:{position}"


def version_of(chunk_id: str) -> str:
    """The version key of a chunk id (everything before the last colon)."""
    return chunk_id.rsplit(":", 1)[0]


def neighbour_id(chunk_id: str, position: int) -> str:
    """The id of the chunk at `position` in the same document version as `chunk_id`."""
    return f"{version_of(chunk_id)}:{position}"
