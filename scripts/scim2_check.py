"""Runs scim2-tester's checks against a live groupd's SCIM door.

Usage: python scripts/scim2_check.py BASE_URL API_KEY
(BASE_URL ends in /scim/v2). Prints every check with its status, lists what was
skipped and why, and exits 1 when any check ends in ERROR or CRITICAL, or when
no check ran against the User and Group resources (scim2-tester skips every
resource check silently when discovery fails).
"""

import sys
from collections import Counter

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

BAD = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    url, key = sys.argv[1], sys.argv[2]
    client = SyncSCIMClient(
        Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    )
    results = check_server(client)
    for r in results:
        where = f"[{r.resource_type}] " if r.resource_type else ""
        reason = f": {r.reason}" if r.reason else ""
        print(f"{r.status.name:<10} {where}{r.title}{reason}")
    counts = Counter(r.status.name for r in results)
    print("scim2-tester:", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    checked = {r.resource_type for r in results if r.resource_type}
    failed = [r for r in results if r.status in BAD]
    missing = {"User", "Group"} - checked
    if missing:
        print(f"scim2-tester: no check ran on {sorted(missing)}: discovery failed")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
