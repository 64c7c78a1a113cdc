"""The seed's TargetApp in Python: registers an ICommHelper under SampleServer/<name> and prints
what it is sent. Run: python3 examples/target_app.py alpha (with a broker running)."""

import os
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import runtable  # noqa: E402


class CommHelper:
    """Method names are the wire's: the Node SourceApp calls sendData."""

    def __init__(self, name: str):
        self.name = name
        self._received: list[str] = []

    def sendData(self, data: str) -> str:  # noqa: N802
        self._received.append(data)
        print(f"[{self.name}] received: {data}", flush=True)
        return f"{self.name} got {len(data)} characters"

    def received(self) -> list[str]:
        return self._received


name = sys.argv[1] if len(sys.argv) > 1 else f"app-{os.getpid()}"
table = runtable.connect()
registration = table.register(f"SampleServer/{name}", CommHelper(name), metadata={"name": name, "startedBy": "target_app.py"})
print(f"[{name}] registered {registration.moniker} (pid {os.getpid()})", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
table.close()
