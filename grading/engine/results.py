"""One results model. Every renderer reads it; none recomputes a score."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class CheckResult:
    id: str
    description: str
    points: float
    earned: float
    passed: bool
    message: str = ""  # what was expected and what was found; empty when passed
    hint: str = ""
    note: str = ""  # context worth showing even on a pass, e.g. which of several attempts counted

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"


@dataclass
class GradingResult:
    target: str
    title: str
    tracking_uri: str
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(c.earned for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def counts(self) -> tuple[int, int]:
        return sum(c.passed for c in self.checks), len(self.checks)

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "title": self.title,
            "tracking_uri": self.tracking_uri,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "notes": list(self.notes),
            "checks": [asdict(c) | {"status": c.status} for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "GradingResult":
        fields = CheckResult.__dataclass_fields__
        checks = [CheckResult(**{k: v for k, v in c.items() if k in fields}) for c in data["checks"]]
        return cls(data["target"], data["title"], data["tracking_uri"], checks, list(data.get("notes", [])))
