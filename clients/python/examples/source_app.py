"""The seed's SourceApp in Python: lists the SampleServer/ prefix and sends data to one server or
to all. Run: python3 examples/source_app.py [name|--all] [message]"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import runtable  # noqa: E402

which = sys.argv[1] if len(sys.argv) > 1 else "--all"
message = sys.argv[2] if len(sys.argv) > 2 else "hello from source_app.py"

with runtable.connect() as table:
    servers = table.list("SampleServer/")
    print(f"{len(servers)} live server(s):")
    for entry in servers:
        print(f"  {entry.moniker}  pid {entry.pid}  methods {', '.join(entry.methods)}")
    targets = [e.moniker for e in servers] if which == "--all" else [f"SampleServer/{which}"]
    for moniker in targets:
        print(f"{moniker} answered: {table.get(moniker).sendData(message)}", flush=True)
