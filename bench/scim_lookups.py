"""What a SCIM request costs as a workspace grows (issue 18's closing figures).

Usage: python3 bench/scim_lookups.py BASE_URL API_KEY USERS MEMBERS
Makes USERS users over SCIM and one group of MEMBERS of them, then times (median
of 7, milliseconds) the look-ups the identity providers send: by userName (looked
up directly), by externalId and by displayName (read through every user, a page at
a time), a group read with and without its members, and a PATCH adding one member
to the big group (which reads its member list). Prints one line per request.
"""

import json
import statistics
import sys
import time
import urllib.parse
import urllib.request

base, key, n_users, n_members = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key,
                                          "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


ids = []
for i in range(n_users):
    u = call("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                "userName": f"user{i}@example.org", "externalId": f"ext-{i}",
                                "displayName": f"User {i}", "active": True})
    ids.append(u["id"])
group = call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                 "displayName": "Big", "members": []})
gid = group["id"]
for start in range(0, n_members, 1000):
    call("PATCH", f"/Groups/{gid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations": [{"op": "add", "path": "members",
                         "value": [{"value": x} for x in ids[start:min(start + 1000, n_members)]]}]})


def timed(label, method, path, body=None):
    runs = []
    for _ in range(7):
        t = time.perf_counter()
        call(method, path, body)
        runs.append((time.perf_counter() - t) * 1000)
    print(f"{label:<48} {statistics.median(runs):8.1f} ms")


q = lambda f: "/Users?filter=" + urllib.parse.quote(f)
last = n_users - 1
print(f"{n_users} users, a group of {n_members} members")
timed("GET /Users?filter=userName eq (direct)", "GET", q(f'userName eq "user{last}@example.org"'))
timed("GET /Users?filter=externalId eq (scan)", "GET", q(f'externalId eq "ext-{last}"'))
timed("GET /Users?filter=displayName co (scan)", "GET", q(f'displayName co "User {last}"'))
timed("GET /Groups/{id} (with its members)", "GET", f"/Groups/{gid}")
timed("GET /Groups/{id}?excludedAttributes=members", "GET", f"/Groups/{gid}?excludedAttributes=members")
timed("PATCH /Groups/{id} add 1 member to the big group", "PATCH", f"/Groups/{gid}",
      {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
       "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[-1]}]}]})
