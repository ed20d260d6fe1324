"""Ingest side: load files into pages (`loaders`), clean their text (`normalize`), cut pages into
token-sized chunks (`chunking`); `pipeline` embeds and stores the chunks."""
