"""Qwen3-Reranker prompt formatting and truncation: pure functions, the official model-card recipe.

The official recipe scores
`PREFIX + "<Instruct>: {instruction}\\n<Query>: {query}\\n<Document>: {doc}" + SUFFIX`
by the last token's "yes" against "no" logits. We build the same prompt as token ids, in three parts:

    query_ids(query)     = ids(PREFIX + "<Instruct>: …\\n<Query>: {query}\\n<Document>:")
    document_ids(doc)    = ids(" " + doc), cut to `max_doc_tokens`
    SUFFIX ids

so each document is tokenized once and truncation never cuts the suffix. Splitting right after the colon
is safe: Qwen's pre-tokenizer always ends a piece at ":" when a space follows (the space starts the next
piece, e.g. " The"), and BPE never merges across pieces, so the parts concatenate to exactly the ids of
the whole string (tests/test_rerank_prompt.py checks this on English, Chinese, digits and punctuation).

Example:
    >>> text = format_pair("what is BM25?", "BM25 is a ranking function.")
    >>> text.endswith("<Query>: what is BM25?\\n<Document>: BM25 is a ranking function." + SUFFIX)
    True
"""

from __future__ import annotations

from typing import Protocol

from app.config import DEFAULT_INSTRUCTION

PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
YES_TOKEN = "yes"
NO_TOKEN = "no"
# The document part starts with "<Document>: "; the id-level split puts the space on the document side.
DOC_TAG = "<Document>:"


class Tokenizer(Protocol):
    """The part of a Hugging Face tokenizer these functions use."""

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


def query_part(query: str, instruction: str | None = None) -> str:
    """The official prompt up to the document: system prefix, instruction and query."""
    return PREFIX + f"<Instruct>: {instruction or DEFAULT_INSTRUCTION}\n<Query>: {query}\n"


def document_part(document: str) -> str:
    """The official prompt from the document on: the document and the assistant suffix."""
    return f"<Document>: {document}" + SUFFIX


def format_pair(query: str, document: str, instruction: str | None = None) -> str:
    """The whole official prompt for one (query, document) pair, as text."""
    return query_part(query, instruction) + document_part(document)


def query_ids(tokenizer: Tokenizer, query: str, instruction: str | None = None) -> list[int]:
    """Token ids of the prompt up to and including "<Document>:" (shared by all documents of a query)."""
    return tokenizer.encode(query_part(query, instruction) + DOC_TAG, add_special_tokens=False)


def document_ids(tokenizer: Tokenizer, document: str, max_doc_tokens: int) -> list[int]:
    """Token ids of " " + document, keeping the first `max_doc_tokens` (the leading space counts)."""
    return tokenizer.encode(" " + document, add_special_tokens=False)[:max_doc_tokens]


def suffix_ids(tokenizer: Tokenizer) -> list[int]:
    return tokenizer.encode(SUFFIX, add_special_tokens=False)


def build_prompts(
    tokenizer: Tokenizer,
    query: str,
    documents: list[str],
    max_doc_tokens: int,
    instruction: str | None = None,
) -> list[list[int]]:
    """Token-id prompts for one query and its documents, in the documents' order.

    Args:
        tokenizer: the reranker's tokenizer.
        query: the user's query (never truncated).
        documents: candidate passages; each is cut to `max_doc_tokens` tokens, the suffix always kept.
        max_doc_tokens: the document budget in reranker tokens.
        instruction: task instruction; None or "" uses `DEFAULT_INSTRUCTION`.

    Returns:
        One list of token ids per document, identical to tokenizing `format_pair(...)` when no document
        is truncated.
    """
    head = query_ids(tokenizer, query, instruction)
    tail = suffix_ids(tokenizer)
    return [head + document_ids(tokenizer, doc, max_doc_tokens) + tail for doc in documents]
