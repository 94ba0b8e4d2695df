"""The autograder's cost: sandboxed grading against plain papermill, and --workers 2 against 1.

Usage: python benchmarks/autograde.py [--copies 6] [--lab lab04] [--pairs 1]

All in one invocation, on the same machine state, with copies of the lab's solution:
  A. plain papermill executes the copies one after another, each into its own store, with the
     self-checks off as the autograder has them (each would start a grader of its own), in the
     course's kernel (course/kernel.py) as the autograder runs them; and once in ipykernel's
     own launcher, which differs only in the teardown at exit;
  B. `grading grade --workers 1` grades the same copies (sandbox, store, checks, reports);
  C. `grading grade --workers 2` grades them again;
  D. plain papermill executes them two at a time: what two cores give the notebooks alone, the
     ceiling to read C's speed-up against.
A to D run twice, mirrored (A D B C, then C B D A), and each figure is the sum of its runs: a
machine whose speed drifts during the benchmark (a virtual machine's often does) then shifts
neither side of a ratio more than the other. --pairs repeats the mirrored pair, for a machine
whose speed swings more than one pair cancels. Each round's own figures are printed too.
Peak memory is read in two more, untimed passes (one worker and one copy, two workers and two
copies): sampling every process's PSS takes CPU, which would slow the saturated two-worker side.
A last untimed pass reads the CPU the batch's warm process spends on its imports: a cost per
batch, which one worker hides on the idle core and two workers pay. Each side's busy and idle
core-seconds are read from /proc/stat around its runs: with two workers on two cores the wall
time is their sum over two, so CPU the grader adds is what its speed-up loses.
Prints the per-submission overhead of B over A (target <= 10% of execution and <= 4 s), where
each second of it goes (from the phases each student's grading.json records, and papermill's
cell times in both executed notebooks), the speed-up of C over B (target >= 1.8x on 2 cores),
and the peak memory of the grader's own processes and of the notebooks' kernels in B and C.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course import kernel, paths  # noqa: E402
from grading.autograde.phases import Phases  # noqa: E402

EXECUTION = ("until the first cell", "cells", "after the last cell")
KERNELS = ("ipykernel_launcher", "course.kernel")


def plain_papermill(copies: list[Path], work: Path, course_kernel: bool, workers: int = 1) -> tuple[float, Phases]:
    phases = Phases()
    work.mkdir()
    # JUPYTER_PATH as grading.execution sets it (the course's "python3"), or as it was.
    jupyter_path = {"JUPYTER_PATH": kernel.jupyter_path()} if course_kernel else {}
    lock = threading.Lock()

    def execute(copy: Path) -> None:
        store = work / copy.stem
        store.mkdir()
        launched = time.time()
        subprocess.run(
            [sys.executable, "-m", "papermill", str(copy), str(store / "out.ipynb"), "--no-progress-bar",
             "--cwd", str(store)],
            # Self-checks off, as the autograder runs them: both sides do the notebook's own work only.
            env={**os.environ, "MLFLOW_TRACKING_URI": paths.sqlite_uri(store), "COURSE_AUTOGRADING": "1",
                 **jupyter_path},
            check=True, capture_output=True,
        )
        with lock:
            phases.split_execution(launched, time.time(), (store / "out.ipynb").read_bytes())

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(execute, copies))
    return time.perf_counter() - started, phases


class PeakMemory:
    """Samples a process tree every 0.3 s: the peak of the summed PSS of the notebooks' kernels,
    and of everything else in the tree (the grader's own processes: the batch, its sandboxes'
    executors, the grading children, the model loader)."""

    def __init__(self, pid: int):
        self.pid, self.kernels, self.grader = pid, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.3):
            try:
                tree = [psutil.Process(self.pid), *psutil.Process(self.pid).children(recursive=True)]
            except psutil.Error:
                continue
            kernels = grader = 0
            for process in tree:
                try:
                    size = process.memory_full_info().pss
                    if any(name in part for part in process.cmdline() for name in KERNELS):
                        kernels += size
                    else:
                        grader += size
                except psutil.Error:
                    pass
            self.kernels, self.grader = max(self.kernels, kernels), max(self.grader, grader)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def autograde(lab: str, folder: Path, out: Path, workers: int, sample: bool = False) -> tuple[float, PeakMemory | None]:
    """Seconds to grade the folder; with sample, its peak memory too (and then the seconds are not
    comparable: reading every process's PSS three times a second takes CPU the batch would use)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "grading", "grade", "--lab", lab, "--out", str(out), "--workers", str(workers),
         "--no-progress", str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    memory = PeakMemory(process.pid) if sample else None
    output = process.communicate()[0]
    if memory is not None:
        memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"grade failed:\n{output.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - started, memory


def recorded_phases(out: Path) -> tuple[Phases, list[float]]:
    """Every student's phases added up, and each student's score."""
    phases, scores = Phases(), []
    for record in sorted(out.glob("*/grading.json")):
        row = json.loads(record.read_text())
        scores.append(row["score"])
        for name, seconds in row["phases"].items():
            phases.add(name, seconds)
    return phases, scores


def machine_cpu() -> tuple[float, float]:
    """(busy, idle) core-seconds of the whole machine since boot: a side's CPU, whichever process
    spent it (the zygote's children are reaped by the kernel, so no rusage counts them)."""
    import psutil

    t = psutil.cpu_times()  # guest time is counted in user already
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal, t.idle + t.iowait


def warm_process_cpu(lab: str) -> float | None:
    """CPU seconds of the batch's warm process (grading.zygote) from its start to its first
    answer, the batch's first call (the lab's filters): its imports, paid once per batch. None
    where it does not run (outside the isolated mode)."""
    import psutil

    from grading import prewarmed, sandbox, zygote

    path = zygote.start(preload=prewarmed.PRELOAD)
    if path is None:
        return None
    try:
        zygote.call(path, "grading.autograde.grade_store:prepare", [lab], sandbox.Limits(timeout=300), prewarmed.PRELOAD)
        spent = psutil.Process(zygote._process.pid).cpu_times()
        return spent.user + spent.system
    finally:
        zygote.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--lab", default="lab04", help="a lab or exercise set with a solution in solutions/")
    parser.add_argument("--pairs", type=int, default=1, help="mirrored pairs of rounds (each about 10 minutes)")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error("--pairs must be 1 or more")
    n = args.copies
    seconds = {"plain": [], "plain2": [], "w1": [], "w2": []}
    cpu = {side: [0.0, 0.0] for side in seconds}  # busy and idle core-seconds, summed over rounds
    plain, graded, scores, memory = Phases(), Phases(), [], {}
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "submissions"
        folder.mkdir()
        copies = []
        for i in range(n):
            copies.append(folder / f"student{i:02d}.ipynb")
            shutil.copyfile(paths.SOLUTIONS / f"{args.lab}.ipynb", copies[-1])
        t_ipykernel, ipykernel_phases = plain_papermill(copies, tmp / "ipykernel", course_kernel=False)
        for run, side in enumerate(["plain", "plain2", "w1", "w2", "w2", "w1", "plain2", "plain"] * args.pairs):
            before = machine_cpu()
            if side == "plain":
                elapsed, phases = plain_papermill(copies, tmp / f"plain{run}", course_kernel=True)
                plain.merge(phases)
            elif side == "plain2":
                elapsed, _ = plain_papermill(copies, tmp / f"plain{run}", course_kernel=True, workers=2)
            else:
                elapsed, _ = autograde(args.lab, folder, tmp / f"{side}-{run}", int(side[1]))
                if side == "w1":
                    phases, marks = recorded_phases(tmp / f"{side}-{run}")
                    graded.merge(phases)
                    scores += marks
            seconds[side].append(elapsed)
            cpu[side] = [total + now - then for total, now, then in zip(cpu[side], machine_cpu(), before)]
        for workers in (1, 2):  # memory apart from the timed rounds: as many copies as workers
            few = tmp / f"memory-w{workers}"
            few.mkdir()
            for copy in copies[:workers]:
                shutil.copyfile(copy, few / copy.name)
            _, peak = autograde(args.lab, few, tmp / f"memory-w{workers}-out", workers, sample=True)
            memory[f"w{workers}"] = (peak.grader, peak.kernels)
        warm = warm_process_cpu(args.lab)

    t_plain, t_one, t_two = (sum(seconds[side]) for side in ("plain", "w1", "w2"))
    rounds = 2 * args.pairs
    runs = rounds * n  # submissions executed on each side, over all rounds
    overhead = (t_one - t_plain) / t_plain
    print(f"{args.lab}, {n} copies of the solution, {rounds} mirrored rounds "
          f"(scores with 1 worker: {sorted(set(scores))})")
    print(f"{'':<36}" + "".join(f"{f'round {i + 1} s':>11}" for i in range(rounds))
          + f"{'per submission s':>18}{'busy core-s':>13}{'idle core-s':>13}")
    print(f"{'plain papermill, ipykernel launcher':<36}{t_ipykernel:>11.1f}{'':>{11 * (rounds - 1)}}"
          f"{t_ipykernel / n:>18.2f}")
    for label, side in (("plain papermill, one at a time", "plain"), ("plain papermill, two at a time", "plain2"),
                        ("grade --workers 1", "w1"), ("grade --workers 2", "w2")):
        # In the order they ran: odd rounds are A D B C, even ones C B D A. Core-s: the whole machine's.
        busy, idle = (total / runs for total in cpu[side])
        print(f"{label:<36}" + "".join(f"{t:>11.1f}" for t in seconds[side])
              + f"{sum(seconds[side]) / runs:>18.2f}{busy:>13.2f}{idle:>13.2f}")
    print(f"overhead of grading beyond execution: {(t_one - t_plain) / runs:.2f} s per submission, "
          f"{overhead:.0%} (target <= 10% and <= 4 s); by round: "
          + ", ".join(f"{(one - p) / p:.0%}" for p, one in zip(seconds["plain"], seconds["w1"])))
    print(f"speed-up of --workers 2 over --workers 1: {t_one / t_two:.2f}x (target >= 1.8x on 2 cores); by round: "
          + ", ".join(f"{one / two:.2f}x" for one, two in zip(seconds["w1"], seconds["w2"])))
    print(f"the same for plain papermill, two at a time over one (what the cores give the notebooks alone): "
          f"{t_plain / sum(seconds['plain2']):.2f}x; by round: "
          + ", ".join(f"{one / two:.2f}x" for one, two in zip(seconds["plain"], seconds["plain2"])))
    if warm is not None:
        # One worker leaves a core idle, where the warm-up runs for free; two pay it from the notebooks' cores.
        print(f"the warm process's imports, once per batch (untimed pass): {warm:.2f} CPU-s, "
              f"{warm / (2 * t_two / rounds):.0%} of the two cores over a two-worker batch of {n} "
              f"(the mean of its rounds)")
    after = "after the last cell"
    print(f"the course's kernel against ipykernel's launcher, after the last cell: "
          f"{plain.seconds.get(after, 0) / runs:.2f} s against {ipykernel_phases.seconds.get(after, 0) / n:.2f} s")

    print(f"\nwhere the time goes, seconds per submission{'':<10}{'plain':>8}{'grade':>8}{'extra':>8}")
    rows = [(name, plain.seconds.get(name, 0.0), graded.seconds.get(name, 0.0)) for name in EXECUTION]
    rows += [(name, 0.0, seconds) for name, seconds in graded.seconds.items() if name not in EXECUTION]
    per_submission = sum(graded.seconds.values())
    rows.append(("the batch: start, warm-up, summary", 0.0, max(0.0, t_one - per_submission)))
    for name, a, b in rows:
        print(f"  {name:<52}{a / runs:>8.2f}{b / runs:>8.2f}{(b - a) / runs:>+8.2f}")
    print(f"  {'total':<52}{t_plain / runs:>8.2f}{t_one / runs:>8.2f}{(t_one - t_plain) / runs:>+8.2f}")

    print("\npeak memory (PSS, MB), untimed passes       grader's own processes   notebooks' kernels")
    for label, side in (("grade --workers 1, 1 copy", "w1"), ("grade --workers 2, 2 copies", "w2")):
        grader, kernels = memory[side]
        print(f"  {label:<38}{grader / 2**20:>16.0f}{kernels / 2**20:>21.0f}")
    print("  (target: two workers' grader processes fit in 2048 MB besides the kernels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
