"""The attention-window schedules of records #13 on, as plain data evaluated on the host.

Each record computes its window per step in Python floats, with its own expression; the
expressions agree on paper but not always in floating point (at N = 12, step 4:
`4/12*1728` is 575.99... while `1728*4/12` is 576.0, one window apart). So each form is kept
as written upstream and evaluated the same way. The model receives the value as a traced int
(`model(idx, window=...)`): tokens for #13-#15, 128-token blocks from #16 on.
"""

from __future__ import annotations

from dataclasses import dataclass


def next_multiple_of_n(v: float, n: int) -> int:
    """The smallest positive multiple of n that is >= v (upstream's `next_multiple_of_n`)."""
    k = max(int(-(-v // n)), 1)
    return k * n


@dataclass(frozen=True)
class WindowSchedule:
    """`form` names the record's expression (s = step, N = num_iterations):

    | form | records | value |
    |---|---|---|
    | "blocksize_13" | #13, #14 | `64 * ((s/N * (1792 - 64) + 64) // 64)` tokens |
    | "sw_15" | #15 | `64 * int((64 + (1792 - 64) * s/N) // 64)` tokens |
    | "blocks_16" | #16, #17 | `int(((1 - f) * 64 + f * 1792 + 64) // 128)` blocks, f = s/N |
    | "blocks_18" | #18 | `int(((1 - x) * 128 + x * 1856) // 128)` blocks, x = s/N |
    | "blocks_19" | #19-#28 | `next_multiple_of_n(1728 * s/N, 128) // 128` blocks |
    | "thirds_29" | #29-#41 | `sizes[int(len(sizes) * (s / (1 + N)))]` blocks: one size per third |
    | "thirds_42" | #42-#64 | `sizes[int(len(sizes) * s / N)]`, then `validate` from step N on |
    | "stages_65" | #65 on | the long window of the `TrainingStage` the step is in (`hparams.stage_at`) |

    `validate` (#31 on): the window at step N, the final validation (`args.ws_validate`).
    `final_layer_validate` (#33 on): the last layer's long window there (`ws_validate_final_layer`,
    no YaRN for it); at every other step the last layer has the long window.

    `extension` steps (#35 on, the lr schedule's) run after step N at the last size: s / (1 + N)
    is clamped to 0.9999, and the final validation moves to step N + extension.
    """

    form: str
    unit: str  # "tokens" or "blocks"
    sizes: tuple[int, ...] = ()  # "thirds_29": upstream's `args.ws_schedule`
    validate: int | None = None
    final_layer_validate: int | None = None

    def value(self, step: int, num_iterations: int, extension: int = 0) -> int:
        s, n = step, num_iterations
        if self.validate is not None and s == n + extension:
            return self.validate
        if self.form == "blocksize_13":
            return int(64 * ((s / n * (1792 - 64) + 64) // 64))
        if self.form == "sw_15":
            return 64 * int((64 + (1792 - 64) * s / n) // 64)
        if self.form == "blocks_16":
            f = s / n
            return int(((1 - f) * 64 + f * 1792 + 64) // 128)
        if self.form == "blocks_18":
            x = s / n
            blocks = ((1 - x) * 128 + x * 1856) // 128
            return int(blocks)
        if self.form == "blocks_19":
            return next_multiple_of_n(1728 * s / n, 128) // 128
        if self.form == "thirds_29":
            x = min(s / (1 + n), 0.9999) if extension else s / (1 + n)
            return self.sizes[int(len(self.sizes) * x)]
        if self.form == "thirds_42":  # the extension steps already run at the final window
            return self.validate if s >= n else self.sizes[int(len(self.sizes) * (s / n))]
        if self.form == "stages_65":  # the extension stage's window is `sizes[-1]`
            from jnano.hparams import stage_at

            return self.sizes[stage_at(s, n, extension)[0]]
        raise ValueError(f"unknown window schedule form {self.form!r}")

    def args(self, step: int, num_iterations: int, extension: int = 0) -> dict[str, int]:
        """The model's window arguments at `step`: `window`, and `final_window` where the last
        layer's window is scheduled apart (#33 on)."""
        out = {"window": self.value(step, num_iterations, extension)}
        if self.final_layer_validate is not None:
            final = step == num_iterations + extension
            out["final_window"] = self.final_layer_validate if final else out["window"]
        return out


TOKENS_13 = WindowSchedule("blocksize_13", "tokens")
TOKENS_15 = WindowSchedule("sw_15", "tokens")
BLOCKS_16 = WindowSchedule("blocks_16", "blocks")
BLOCKS_18 = WindowSchedule("blocks_18", "blocks")
BLOCKS_19 = WindowSchedule("blocks_19", "blocks")
THIRDS_29 = WindowSchedule("thirds_29", "blocks", (3, 7, 11))
THIRDS_31 = WindowSchedule("thirds_29", "blocks", (3, 7, 11), validate=13)
THIRDS_33 = WindowSchedule("thirds_29", "blocks", (3, 7, 11), validate=13, final_layer_validate=20)
THIRDS_42 = WindowSchedule("thirds_42", "blocks", (3, 7, 11), validate=13, final_layer_validate=20)
# #65's TRAINING_STAGES: long windows 3, 7, 11 and 13 in the extension (the short ones half of them)
STAGES_65 = WindowSchedule("stages_65", "blocks", (3, 7, 11, 13), validate=13, final_layer_validate=20)
