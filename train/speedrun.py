"""python -m train.speedrun: train the latest record in the zoo on every device found.

Same options as `python -m train`; `--record` defaults to the latest record.
"""

from __future__ import annotations

from train.__main__ import main

if __name__ == "__main__":
    from jnano import records

    raise SystemExit(main(default_record=records.LATEST))
