"""The inputs the CLI fuzz test draws: command lines and the files they read.

Every network address an input can name is 127.0.0.1 on a closed port (``{closed}``,
filled in when the example runs), and every path is relative to the example's folder,
so no input reaches outside it: no scheme or absolute path in free text, no ``..``,
no %-escape.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

CLOSED = "{closed}"  # a port on 127.0.0.1 where nothing listens
RUN = "{run}"  # the last 12 characters of the template workspace's run id
GROUPS = {"data", "artifacts", "runs", "models", "schedule", "export", "deployments"}
# Exit 1 means "found a problem" only for these; anywhere else it is a bug.
EXIT_1 = {("verify",), ("data", "validate"), ("status",), ("run",), ("schedule", "run-due")}
# The commands that record something in the store.
RECORDS = {
    ("init",),
    ("data", "add"),
    ("data", "validate"),
    ("artifacts", "put"),
    ("models", "promote"),
    ("models", "rollback"),
    ("schedule", "add"),
    ("schedule", "remove"),
    ("deploy",),
    ("deployments", "delete"),
}


@dataclass
class Command:
    """A command line, the destinations it is told to write, and its environment."""

    args: list[str]
    told: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def filled(self, port: int, run_id: str) -> Command:
        def fill(text: str) -> str:
            return text.replace(CLOSED, str(port)).replace(RUN, run_id[-12:])

        return Command(
            [fill(a) for a in self.args],
            [fill(t) for t in self.told],
            {k: fill(v) for k, v in self.env.items()},
        )

    @property
    def name(self) -> tuple[str, ...]:
        words = [a for a in self.args[:2] if not a.startswith("-")]
        return tuple(words[:2]) if len(words) > 1 and words[0] in GROUPS else tuple(words[:1])

    @property
    def records(self) -> bool:
        return self.name in RECORDS or (self.name == ("data", "schema") and "--set" in self.args)


def safe_text(max_size: int = 30) -> st.SearchStrategy[str]:
    """Any text that cannot name a place outside the example's folder (no scheme, no
    absolute or home path, no '..', no %-escapes)."""
    return st.text(max_size=max_size).filter(
        lambda s: ":" not in s and ".." not in s and "%" not in s and not s.startswith(("/", "~"))
    )


names = st.one_of(
    st.sampled_from(["d", "f", "m", "n", "team/d", "D", "d ", "-d", "é", "a" * 256, ""]),
    safe_text(20),
)
selectors = st.one_of(
    st.sampled_from(["v1", "v2", "v0", "v-1", "latest", "champion", "previous", "", "blake3:"]),
    st.integers(-(10**30), 10**30).map(lambda i: f"v{i}"),
    st.text(alphabet="0123456789abcdefABCDEF", max_size=70).map(lambda h: f"blake3:{h}"),
    safe_text(12),
)
known_refs = st.sampled_from(
    ["d", "d@v1", "d@v2", "d@latest", "f", "n", "n@v1", "m", "m@v1", "m@champion"]
)
refs = st.one_of(
    known_refs,
    known_refs,
    known_refs,
    names,
    st.builds(lambda n, s: f"{n}@{s}", st.sampled_from(["d", "f", "m", "n", "nope"]), selectors),
    st.builds(lambda n, s: f"{n}@{s}", names, selectors),
)
run_refs = st.one_of(
    st.just(RUN),
    st.just(RUN).map(lambda r: r[-6:]),
    st.text(alphabet=string.hexdigits, max_size=40),
    safe_text(20),
)
kinds = st.one_of(st.sampled_from(["file", "dataset", "model", "schema", "report"]), safe_text(10))
destinations = st.sampled_from(
    [
        "new.csv",
        "out",
        "out/",
        "out/existing.csv",
        "sub/new/deep.csv",
        "keep.txt",
        "d.csv",
        "link.csv",
        "pipe",
        "loopml.toml",
        "files",
        ".loopml/loopml.db",
        ".",
    ]
)
numbers = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.sampled_from(["0", "-1", "1e3", "nan", "inf", "", " 5", "0x10", "9" * 40]),
    safe_text(8),
)


def where_expressions() -> st.SearchStrategy[str]:
    fields_ = st.sampled_from(
        ["metrics.auc", "params.C", "tags.t", 'metrics["val-loss"]', "id", "name", "status", "x"]
    )
    literals = st.one_of(
        st.integers(-(10**30), 10**30).map(str),
        st.floats(allow_nan=True).map(repr),
        st.text(max_size=8).map(repr),
        st.sampled_from(["true", "false", "null", "(1, 2)", "[]", "__import__('os')", "1e999"]),
    )
    comparison = st.builds(
        lambda a, op, b: f"{a} {op} {b}",
        st.one_of(fields_, literals),
        st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "+", "and"]),
        st.one_of(fields_, literals),
    )
    nested = st.recursive(
        comparison,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"{a} and {b}", inner, inner),
            st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
            inner.map(lambda a: f"not {a}"),
            inner.map(lambda a: f"({a})"),
        ),
        max_leaves=12,
    )
    deep = st.tuples(st.integers(1, 4000), st.sampled_from(["(", "not ", "-", "[", "not ("]))
    return st.one_of(
        nested,
        deep.map(lambda d: d[1] * d[0] + "params.C > 1" + ")" * d[0] * ("(" in d[1])),
        st.text(max_size=40),
    )


# Never an empty port: a default port could be a real server (PostgreSQL on 5432).
ports = st.sampled_from([CLOSED, "notaport", "99999", "0"])
hosts = st.sampled_from(["127.0.0.1", "[::1]", "u:secret@127.0.0.1", "[::1", "127.0.0.1:" + CLOSED])


def remote_urls(schemes: list[str]) -> st.SearchStrategy[str]:
    """URLs on 127.0.0.1 (closed port, or a malformed one), never anywhere else."""
    return st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{':' + port if port else ''}/{path}",
        st.sampled_from(schemes),
        hosts,
        ports,
        safe_text(15),
    )


store_urls = st.one_of(
    st.sampled_from(
        [
            "sqlite:///.loopml/loopml.db",
            "sqlite:///.loopml/other.db",
            "sqlite://",
            "sqlite:///:memory:",
            "sqlite:///",
            "sqlite:///d.csv",
            "sqlite:///files",
            "sqlite:///pipe.db",
            "sqlite:///x.db?timeout=abc",
            "postgresql://",
            "mysql://u@127.0.0.1/x",
            "",
            " ",
        ]
    ),
    st.builds(lambda p: f"sqlite:///{p}", safe_text(20)),
    remote_urls(["postgresql", "postgres", "postgresql+psycopg", "postgresql+asyncpg", "mysql"]),
    safe_text(20),
)
artifact_urls = st.one_of(
    st.sampled_from(
        [".loopml/artifacts", "blobs", "d.csv", "", "s3://", "s3://bucket", "memory://x"]
    ),
    st.builds(
        lambda s, p: f"{s}://bucket/{p}", st.sampled_from(["s3", "gs", "memory"]), safe_text(10)
    ),
    remote_urls(["ftp", "hdfs", "http", "https", "sftp", "webhdfs", "smb", "nosuch"]),
    st.builds(lambda p: f"file:{p}", safe_text(15)),
    safe_text(20),
)
option_pairs = st.builds(
    lambda k, v: f"{k}={v}",
    st.sampled_from(["endpoint_url", "key", "secret", "anon", "use_ssl", "client_kwargs", "x", ""]),
    st.one_of(
        st.sampled_from([f"http://127.0.0.1:{CLOSED}", "abc", "", "true", "1.5", "http://[::1"]),
        safe_text(10),
    ),
) | safe_text(10)


def toml_value() -> st.SearchStrategy[str]:
    return st.one_of(
        store_urls.map(json.dumps),
        artifact_urls.map(json.dumps),
        st.integers(-(10**20), 10**20).map(str),
        st.sampled_from(["nan", "inf", "true", "[1, 2]", "{a = 1}", "1979-05-27", '""', "'x'"]),
    )


toml_texts = st.one_of(
    st.builds(
        lambda sections: "".join(
            f"[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in pairs)
            for section, pairs in sections
        ),
        st.lists(
            st.tuples(
                st.sampled_from(["store", "artifacts", "artifacts.options", "stor", "store.x"]),
                st.lists(
                    st.tuples(st.sampled_from(["url", "ulr", "uri", "options", "x"]), toml_value()),
                    max_size=3,
                ),
            ),
            max_size=3,
        ),
    ),
    st.text(max_size=60),
)
yaml_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**30), 10**30),
        st.floats(allow_nan=True),
        st.text(max_size=8),
        st.sampled_from([".nan", ".inf", "-.inf", "2024-01-01", "~", "[", "{", "*a", "&a x"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "min_rows",
                        "columns",
                        "label",
                        "severity",
                        "type",
                        "range",
                        "domain",
                        "drift",
                        "min",
                        "max",
                        "a",
                        "b",
                        "y",
                        "max_missing",
                        "method",
                        "threshold",
                        "max_duplicate_fraction",
                        "label_tolerance",
                        "required",
                    ]
                ),
                st.text(max_size=5),
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=15,
)


def yaml_texts() -> st.SearchStrategy[bytes]:
    import yaml

    def dump(value: Any) -> bytes:
        try:
            return yaml.safe_dump(value).encode()
        except Exception:  # a value YAML cannot write: its repr, as text
            return repr(value).encode()

    schema_like = st.fixed_dictionaries(
        {},
        optional={
            "min_rows": yaml_values,
            "label": yaml_values,
            "columns": st.dictionaries(
                st.sampled_from(["a", "b", "c", "y", "z"]),
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["integer", "float", "string", "boolean", "x"])},
                    optional={
                        "range": yaml_values,
                        "domain": yaml_values,
                        "drift": yaml_values,
                        "max_missing": yaml_values,
                        "required": yaml_values,
                    },
                ),
                max_size=3,
            ),
        },
    )
    return st.one_of(schema_like.map(dump), yaml_values.map(dump), st.binary(max_size=80))


csv_texts = st.one_of(
    st.lists(
        st.lists(
            st.one_of(st.text(max_size=6), st.integers().map(str), st.floats().map(repr)),
            min_size=1,
            max_size=4,
        ),
        max_size=6,
    ).map(lambda rows: "\n".join(",".join(row) for row in rows).encode()),
    st.binary(max_size=120),
    st.sampled_from([b"", b"a\n", b"a,a\n1,2\n", b'"a\n', b"a,b\n1\n", b"\xff\xfe\x00a\n"]),
)


# -- command lines ----------------------------------------------------------------


def reference_commands() -> st.SearchStrategy[Command]:
    return st.one_of(
        st.builds(lambda r: Command(["data", "show", r]), refs),
        st.builds(lambda r: Command(["data", "show", r, "--json"]), refs),
        st.builds(lambda n: Command(["data", "log", n]), names),
        st.builds(lambda n: Command(["data", "schema", n]), names),
        st.builds(lambda r, d: Command(["data", "checkout", r, d], told=[d]), refs, destinations),
        st.builds(
            lambda r, d, k: Command(["artifacts", "get", r, d, "--kind", k], told=[d]),
            refs,
            destinations,
            kinds,
        ),
        st.builds(lambda a, b: Command(["data", "diff", a, b]), refs, refs),
        st.builds(lambda a, b: Command(["data", "validate", a, "--against", b]), refs, refs),
        st.builds(
            lambda r, d: Command(["data", "validate", r, "--report", d], told=[d]),
            refs,
            destinations,
        ),
        st.builds(lambda r: Command(["models", "show", r]), refs),
        st.builds(lambda a, b: Command(["models", "diff", a, b]), refs, refs),
        st.builds(lambda n: Command(["models", "history", n]), names),
        st.builds(lambda r, t: Command(["models", "promote", r, "--reason", t]), refs, st.text()),
        st.builds(lambda n: Command(["models", "rollback", n]), names),
        st.builds(
            lambda k, n: Command(["artifacts", "list", "--kind", k, "--name", n]), kinds, names
        ),
        st.builds(lambda r: Command(["runs", "show", r]), run_refs),
        st.builds(lambda a, b: Command(["runs", "compare", a, b]), run_refs, run_refs),
    )


def option_commands() -> st.SearchStrategy[Command]:
    return st.one_of(
        st.builds(lambda n: Command(["runs", "list", "--limit", n]), numbers),
        st.builds(lambda n: Command(["alerts", "--limit", n]), numbers),
        st.builds(lambda w: Command(["runs", "list", "--where", w, "--json"]), where_expressions()),
        st.builds(
            lambda s: Command(["schedule", "add", "nightly", "flow.py", "--every", s]),
            st.one_of(numbers, numbers.map(lambda n: n + "d"), safe_text(8)),
        ),
        st.builds(
            lambda c, z: Command(["schedule", "add", "s", "flow.py", "--cron", c, "--timezone", z]),
            st.one_of(
                st.lists(
                    st.sampled_from(["*", "0", "59", "60", "*/0", "1-2", "x"]), max_size=7
                ).map(" ".join),
                safe_text(12),
            ),
            st.one_of(st.sampled_from(["UTC", "Europe/Berlin", "", "Nowhere"]), safe_text(12)),
        ),
        st.builds(
            lambda k, v: Command(["status", "flow.py", "--param", f"{k}={v}"]),
            st.sampled_from(["n", "rate", "label", "x", ""]),
            st.one_of(numbers, st.text(max_size=10)),
        ),
        st.builds(
            lambda k, v, d: Command(
                ["export", "airflow", "flow.py", "--param", f"{k}={v}", "--output", d], told=[d]
            ),
            st.sampled_from(["n", "rate", "label"]),
            numbers,
            destinations,
        ),
    )


def deployment_commands() -> st.SearchStrategy[Command]:
    """`loopml deploy` with any refs, weights, routings and numbers; the deployments
    commands with any names."""
    weights = st.one_of(numbers, st.sampled_from(["0.5", "0.9", "1"]))
    ref_lists = st.lists(refs, max_size=3).map(",".join)
    return st.one_of(
        st.builds(lambda n, r: Command(["deploy", n, "--model", r]), names, refs),
        st.builds(
            lambda a, w, b, v: Command(["deploy", "api", "--split", f"{a}={w},{b}={v}"]),
            refs,
            weights,
            refs,
            weights,
        ),
        st.builds(lambda s: Command(["deploy", "api", "--split", s]), safe_text(20)),
        st.builds(
            lambda r, c, w: Command(["deploy", "api", "--model", r, "--canary", f"{c}={w}"]),
            refs,
            refs,
            weights,
        ),
        st.builds(
            lambda b, a: Command(["deploy", "api", "--bandit", b, "--arms", a]),
            st.one_of(st.sampled_from(["thompson", "ucb1", "epsilon-greedy"]), safe_text(10)),
            ref_lists,
        ),
        st.builds(
            lambda o, n: Command(["deploy", "api", "--model", "m@champion", o, n]),
            st.sampled_from(
                ["--timeout-ms", "--max-batch-rows", "--max-wait-us", "--epsilon", "--copy"]
            ),
            numbers,
        ),
        st.builds(
            lambda o, t: Command(["deploy", "api", "--model", "m", o, t]),
            st.sampled_from(["--shadow", "--fallback", "--key-header", "--key-field", "--reason"]),
            st.one_of(refs, st.text(max_size=20)),
        ),
        st.builds(lambda n: Command(["deployments", "show", n]), names),
        st.builds(lambda n: Command(["deployments", "history", n, "--json"]), names),
        st.builds(
            lambda n, t: Command(["deployments", "delete", n, "--reason", t]), names, st.text()
        ),
    )
