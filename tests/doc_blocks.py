"""The code blocks of README.md and docs/*.md, and the runner that runs one file's
blocks in order, in one process, as a reader would paste them.

A block's fence names its language:

- ``python``: run in one namespace shared by the file's Python blocks, with the
  folder they run in first on ``sys.path``; with ``title="FILE"`` after the language
  it is a file of the reader's (``pipelines.py``), written to FILE and compiled, not
  run;
- ``console`` (or ``bash``, ``sh``, ``shell``): each ``$ `` line is a command, run
  with bash in the same folder (a line ending in ``\\`` goes on on the next one); the
  lines after it are its output. The command must exit 0, or 2 when its output
  starts with ``error:``, or N when its comment ends with ``exit N``.
  Output is compared loosely: every ``NAME@vN`` it shows must be in what the
  command printed;
- ``yaml``, ``toml``, ``json``: data, which must parse; with ``title="FILE"`` after
  the language it is written to FILE for the blocks after it.

A block that cannot run by nature (an error message, a command that needs a server
or takes minutes) is preceded by ``<!-- not run: WHY -->`` and listed in
test_docs.py. Any other block, a fence without a language among them, is an error.

Run as a script, this module is the runner: ``python doc_blocks.py BLOCKS.json
REPORT.json``, in the folder the blocks run in. Commands find ``loopml`` (and
``python``) in the folder of the Python that runs it, or first in the folder
DOC_BLOCKS_BIN names (test_docs.py puts a ``loopml`` there that runs the installed one
in a process forked from one that has imported loopml: see cli_forks.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RUN_LANGUAGES = {"python": "python", "console": "console", "bash": "console", "sh": "console"}
RUN_LANGUAGES["shell"] = "console"
DATA_LANGUAGES = ("yaml", "toml", "json")
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<why>.+?)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>.*)$")
TITLE = re.compile(r'title="(?P<file>[^"]+)"')
REF = re.compile(r"(?<![\w./@-])[A-Za-z0-9][\w./-]*@(?:v[0-9]+|latest|champion|previous)\b")
EXIT = re.compile(r"#.*\bexit (?P<code>[0-9]+)\s*$")


@dataclass(frozen=True)
class Block:
    doc: str  # the file, relative to the repository
    line: int  # of the opening fence, from 1
    language: str
    text: str
    title: str | None = None
    not_run: str | None = None  # why, from the marker before it

    @property
    def first(self) -> str:
        """The block's first line, to name it by."""
        return next((line.strip() for line in self.text.splitlines() if line.strip()), "")

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line} (the block starting {self.first!r})"


def blocks(path: Path, root: Path) -> list[Block]:
    """Every fenced block of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent = len(opening["indent"])
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith("```"):
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        info = opening["info"].strip()
        title = TITLE.search(info)
        marker = NOT_RUN.search(lines[index - 1]) if index > 0 else None
        found.append(
            Block(
                doc=str(path.relative_to(root)),
                line=index + 1,
                language=info.split()[0] if info else "",
                text="\n".join(body) + "\n",
                title=title["file"] if title else None,
                not_run=marker["why"] if marker else None,
            )
        )
        index = end + 1
    return found


@dataclass(frozen=True)
class Command:
    command: str
    output: list[str]
    exit_code: int


def commands(block: Block) -> list[Command]:
    """The ``$ `` commands of a console block, with the output shown after each."""
    found: list[Command] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("$ "):
            index += 1
            continue
        command = line[2:]
        while command.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            command = command.rstrip()[:-1] + " " + lines[index].strip()
        index += 1
        output = []
        while index < len(lines) and not lines[index].startswith("$ "):
            output.append(lines[index])
            index += 1
        found.append(Command(command, output, _expected_exit(command, output)))
    return found


def _expected_exit(command: str, output: list[str]) -> int:
    said = EXIT.search(command)
    if said is not None:
        return int(said["code"])
    shown = [line for line in output if line.strip()]
    return 2 if shown and shown[0].startswith("error:") else 0


# -- the runner ---------------------------------------------------------------------------


def run(blocks: list[Block], report: Path) -> int:
    sys.path.insert(0, os.getcwd())  # as in an interpreter started here
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    for index, block in enumerate(blocks):
        failure = _run_one(block, namespace)
        if failure is not None:
            report.write_text(json.dumps({"block": index, "what": failure}))
            return 1
    report.write_text(json.dumps({"block": None, "what": None}))
    return 0


def _run_one(block: Block, namespace: dict[str, Any]) -> str | None:
    print(f"--- {block.where} [{_cpu():.2f} s of CPU so far]", flush=True)
    if block.title is not None:
        Path(block.title).parent.mkdir(parents=True, exist_ok=True)
        Path(block.title).write_text(block.text, encoding="utf-8")
        if block.language == "python":  # a file: it must at least compile
            try:
                compile(block.text, block.title, "exec")
            except SyntaxError as error:
                return f"{block.title} does not compile: {error}"
            return None
    if block.language in DATA_LANGUAGES:
        return _parses(block)
    if RUN_LANGUAGES.get(block.language) == "python":
        try:
            exec(compile(block.text, block.where, "exec"), namespace)
        except BaseException:
            return "it raised:\n" + traceback.format_exc(limit=-8)
        return None
    for command in commands(block):
        failure = _run_command(command)
        if failure is not None:
            return failure
    return None


def _cpu() -> float:
    import resource

    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(usage.ru_utime + usage.ru_stime for usage in used)


def _parses(block: Block) -> str | None:
    try:
        if block.language == "yaml":
            import yaml

            yaml.safe_load(block.text)
        elif block.language == "toml":
            import tomllib

            tomllib.loads(block.text)
        else:
            json.loads(block.text)
    except Exception as error:
        return f"its {block.language} does not parse: {error}"
    return None


def _run_command(command: Command) -> str | None:
    environment = dict(os.environ, COLUMNS="200", LOOPML_PROGRESS="0", NO_COLOR="1")
    environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + environment["PATH"]
    if os.environ.get("DOC_BLOCKS_BIN"):  # the tests' `loopml`, which forks it
        environment["PATH"] = os.environ["DOC_BLOCKS_BIN"] + os.pathsep + environment["PATH"]
    done = subprocess.run(
        ["bash", "-c", command.command],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
    )
    printed = done.stdout + done.stderr
    print(f"$ {command.command}\n{printed}[{_cpu():.2f} s of CPU so far]", flush=True)
    said = f"$ {command.command}\nexited {done.returncode}; it printed:\n{printed}"
    if done.returncode != command.exit_code:
        return f"expected exit code {command.exit_code}, got {done.returncode}\n{said}"
    if command.exit_code == 2 and not done.stderr.startswith("error:"):
        return f"expected one line starting 'error:' on stderr\n{said}"
    missing = [ref for line in command.output for ref in REF.findall(line) if ref not in printed]
    if missing:
        return f"the block shows {', '.join(sorted(set(missing)))}, not in the output\n{said}"
    return None


def to_json(found: list[Block]) -> str:
    return json.dumps([asdict(block) for block in found])


if __name__ == "__main__":
    given = [Block(**found) for found in json.loads(Path(sys.argv[1]).read_text())]
    sys.exit(run(given, Path(sys.argv[2])))
