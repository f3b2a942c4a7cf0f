"""The benchmark's 10-step table pipeline in Metaflow: each step passes a 1,000-row table.

``start`` makes a 1,000-row pandas table from ``x0``; each of the other 9 steps adds 1
to its column ``x``, as ``ten_tables`` in ``flow_loopml.py`` does. Metaflow pickles
the table as an artifact of each step. Run by ``bench/pipeline/run.py`` in
``.venv-bench-metaflow``.
"""

import pandas as pd
from metaflow import FlowSpec, Parameter, step

ROWS = 1_000


def add_one(table):
    return table.assign(x=table["x"] + 1)


class TenTablesFlow(FlowSpec):
    x0 = Parameter("x0", type=int, default=0, help="The number the first step adds 1 to.")

    @step
    def start(self):
        ids = range(ROWS)
        self.table = pd.DataFrame(
            {
                "id": list(ids),
                "x": [self.x0 + 1 + i for i in ids],
                "label": [f"row-{i}" for i in ids],
            }
        )
        self.next(self.s2)

    @step
    def s2(self):
        self.table = add_one(self.table)
        self.next(self.s3)

    @step
    def s3(self):
        self.table = add_one(self.table)
        self.next(self.s4)

    @step
    def s4(self):
        self.table = add_one(self.table)
        self.next(self.s5)

    @step
    def s5(self):
        self.table = add_one(self.table)
        self.next(self.s6)

    @step
    def s6(self):
        self.table = add_one(self.table)
        self.next(self.s7)

    @step
    def s7(self):
        self.table = add_one(self.table)
        self.next(self.s8)

    @step
    def s8(self):
        self.table = add_one(self.table)
        self.next(self.s9)

    @step
    def s9(self):
        self.table = add_one(self.table)
        self.next(self.end)

    @step
    def end(self):
        self.table = add_one(self.table)
        print(f"x[0] = {self.table['x'][0]}, rows = {len(self.table)}")


if __name__ == "__main__":
    TenTablesFlow()
