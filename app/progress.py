"""A terminal progress bar for `kb ingest`, fed by the pipeline's stage callbacks."""

from __future__ import annotations

import sys


class TerminalProgress:
    """One tqdm bar per group of files; its description shows the stage, its count the chunks embedded."""

    def __init__(self):
        self._bar = None

    def for_group(self, label: str):
        from tqdm import tqdm

        self.close()
        self._bar = tqdm(total=1, desc=f"{label} [parse]", unit="chunk", file=sys.stderr, leave=False)

        def update(stage: str, done: int, total: int) -> None:
            bar = self._bar
            bar.set_description_str(f"{label} [{stage}]", refresh=False)
            if stage == "embed":  # the one long stage: count its chunks; the others just name themselves
                if bar.total != total:
                    bar.reset(total=total)
                bar.n = done
            bar.refresh()

        return update

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
