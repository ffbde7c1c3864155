"""python -m ref: where every record's code lives upstream (the manifest)."""

from ref.manifest import entries


def main() -> int:
    for e in entries():
        driver = e.family or "- (data loaders only, not in the zoo yet)"
        print(f"#{e.record:<4} {e.repo}@{e.commit[:8]}:{e.path}\n      sha256 {e.sha256}  driver {driver}"
              + (f"\n      note: {e.note}" if e.note else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
