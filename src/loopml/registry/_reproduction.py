"""What ``reproduce`` found, as records: each step as recorded and as rebuilt, and the
outcome with every difference named, in plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from loopml._ids import short_id
from loopml.registry._compare import PredictionChange

IDENTICAL, DIFFERENT, NOT_REPRODUCED = "identical", "different", "not reproduced"


@dataclass(frozen=True)
class StepCheck:
    """One step of the pipeline, as recorded and as rebuilt."""

    step: str
    same_code: bool
    same_params: bool
    same_inputs: bool
    recorded_output: str | None  # digests
    rebuilt_output: str | None

    @property
    def same_output(self) -> bool:
        return self.recorded_output == self.rebuilt_output


@dataclass(frozen=True)
class Reproduction:
    """What rebuilding model ``ref`` found. ``outcome`` is ``identical`` (the same
    predictions on the evaluation rows, or the same bytes when there are no rows),
    ``different``, or ``not reproduced`` (it could not be rebuilt: see
    ``differences``)."""

    ref: str
    outcome: str
    pipeline: str  # FILE:NAME, as recorded
    source: str  # where the code came from
    data: dict[str, str]  # dataset name -> the version read
    differences: list[str]
    predictions: PredictionChange | None = None
    recorded_digest: str | None = None
    rebuilt_digest: str | None = None
    run_id: str | None = None  # the rebuilding pipeline run
    rebuilt_id: str | None = None  # the rebuilt model's artifact
    steps: list[StepCheck] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.outcome == IDENTICAL

    @property
    def same_digest(self) -> bool | None:
        if self.rebuilt_digest is None:
            return None
        return self.recorded_digest == self.rebuilt_digest

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["steps"] = [{**asdict(s), "same_output": s.same_output} for s in self.steps]
        return found

    def render(self) -> str:
        lines = [f"reproduce {self.ref}: {self.outcome.upper()}"]
        lines.append(f"  pipeline {self.pipeline}, code from {self.source}")
        if self.data:
            lines.append("  data: " + ", ".join(self.data.values()))
        if self.run_id:
            lines.append(f"  rebuilt in run {short_id(self.run_id)}, every step run again")
        if self.predictions is not None:
            lines.append(f"  predictions on the evaluation rows: {self.predictions.describe()}")
            if self.predictions.first_rows:
                shown = ", ".join(map(str, self.predictions.first_rows))
                lines.append(f"    first differing rows: {shown}")
        if self.same_digest is not None:
            same = "the same bytes" if self.same_digest else "different bytes"
            lines.append(
                f"  model: {same} (recorded blake3:{(self.recorded_digest or '')[:12]}, "
                f"rebuilt blake3:{(self.rebuilt_digest or '')[:12]})"
            )
        for step in self.steps:
            lines.append(f"  step {step.step}: {_step_words(step)}")
        if self.differences:
            lines.append("  what differs:")
            lines += [f"    - {line}" for line in self.differences]
        return "\n".join(lines)


def _step_words(step: StepCheck) -> str:
    words = ["same output" if step.same_output else "OUTPUT DIFFERS"]
    if not step.same_code:
        words.append("code changed")
    if not step.same_params:
        words.append("params changed")
    if not step.same_inputs:
        words.append("inputs changed")
    return ", ".join(words)
