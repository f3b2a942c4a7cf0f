"""The benchmark's trivial 10-step linear pipeline in Metaflow: each step adds 1 to an int.

Run by ``bench/pipeline/run.py`` in ``.venv-bench-metaflow`` as
``python flow_metaflow.py run --x0 N`` (and ``resume``). ``start`` and ``end`` are
steps too, so the flow has 10 steps, as loopml's ``ten`` in ``flow_loopml.py`` has.
"""

from metaflow import FlowSpec, Parameter, step


class TenFlow(FlowSpec):
    x0 = Parameter("x0", type=int, default=0, help="The number the first step adds 1 to.")

    @step
    def start(self):
        self.x = self.x0 + 1
        self.next(self.s2)

    @step
    def s2(self):
        self.x += 1
        self.next(self.s3)

    @step
    def s3(self):
        self.x += 1
        self.next(self.s4)

    @step
    def s4(self):
        self.x += 1
        self.next(self.s5)

    @step
    def s5(self):
        self.x += 1
        self.next(self.s6)

    @step
    def s6(self):
        self.x += 1
        self.next(self.s7)

    @step
    def s7(self):
        self.x += 1
        self.next(self.s8)

    @step
    def s8(self):
        self.x += 1
        self.next(self.s9)

    @step
    def s9(self):
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        self.x += 1
        print(f"x = {self.x}")


if __name__ == "__main__":
    TenFlow()
