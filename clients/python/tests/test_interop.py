"""The Python client against real Node brokers, owners, SourceApp and CLI: the seed scenario in
both directions, a SIGKILLed Node owner leaving a Python watcher's view, streams, chunks,
timeouts, errors and values, and a broker restart that a Python owner survives."""

import json
import os
import shutil
import shlex
import signal
import subprocess
import tempfile
import threading
import unittest

from support import CLI, NODE_TS, PYTHON, ROOT, START_BROKER, TableTest, broker_pids, runtable, wait_until

EXAMPLES = os.path.join(ROOT, "clients", "python", "examples")
BROKER_ENV = {"RUNTABLE_BROKER_COMMAND": shlex.join(START_BROKER)}


class SeedScenario(TableTest):
    def test_python_source_app_sends_to_node_target_apps(self):
        alpha = self.node("examples/target-app.ts", "alpha")
        alpha.wait_for_line("registered SampleServer/alpha")
        beta = self.node("examples/target-app.ts", "beta")
        beta.wait_for_line("registered SampleServer/beta")
        source = self.spawn([PYTHON, os.path.join(EXAMPLES, "source_app.py"), "--all", "hello from python"])
        self.assertEqual(source.popen.wait(60), 0, source.stderr)
        source.wait_for_line("2 live server(s):")
        source.wait_for_line("SampleServer/alpha answered: alpha got 17 characters")
        source.wait_for_line("SampleServer/beta answered: beta got 17 characters")
        alpha.wait_for_line("[alpha] received: hello from python")
        beta.wait_for_line("[beta] received: hello from python")

    def test_node_source_app_and_the_cli_call_a_python_target_app(self):
        target = self.spawn([PYTHON, os.path.join(EXAMPLES, "target_app.py"), "gamma"], BROKER_ENV)
        target.wait_for_line("registered SampleServer/gamma")
        source = self.node("examples/source-app.ts", "--all", "hello from node")
        self.assertEqual(source.popen.wait(60), 0, source.stderr)
        source.wait_for_line("SampleServer/gamma answered: gamma got 15 characters")
        target.wait_for_line("[gamma] received: hello from node")
        env = dict(os.environ, RUNTABLE_DIR=self.dir)
        call = subprocess.run([*CLI, "call", "SampleServer/gamma", "sendData", '"from the cli"'], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(call.returncode, 0, call.stderr)
        self.assertIn("gamma got 12 characters", call.stdout)
        received = subprocess.run([*CLI, "call", "SampleServer/gamma", "received", "--json"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=60)
        self.assertEqual(received.returncode, 0, received.stderr)
        self.assertIn("from the cli", received.stdout)
        missing = subprocess.run([*CLI, "call", "SampleServer/gamma", "nope"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=60)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("nope", missing.stderr)  # the method named, whatever the CLI's wording

    def test_a_sigkilled_node_owner_leaves_a_python_watchers_view(self):
        table = self.connect()
        watch = table.watch("Killed/")
        owner = self.node("clients/python/tests/node_owner.ts", "Killed/one")
        owner.wait_for_line("ready")
        event = watch.next(30)
        self.assertEqual((event.type, event.entry.moniker, event.entry.pid), ("registered", "Killed/one", owner.pid))
        os.kill(owner.pid, signal.SIGKILL)
        event = watch.next(30)
        self.assertEqual((event.type, event.entry.moniker), ("revoked", "Killed/one"))
        self.assertEqual(table.list("Killed/"), [])
        watch.close()

    def test_list_names_gives_the_monikers_list_gives_in_its_order(self):
        table = self.connect()
        self.assertEqual(table.list_names("Names/"), [])
        owner = self.node("clients/python/tests/node_owner.ts", "Names/b", "Names/a", "Names/日本", "Names/é", "Names/ab")
        owner.wait_for_line("ready")
        for prefix in ("", "Names/", "Names/a", "Names/é", "Nothing/"):
            self.assertEqual(table.list_names(prefix), [entry.moniker for entry in table.list(prefix)], prefix)
        self.assertEqual(table.list_names("Names/a"), ["Names/a", "Names/ab"])
        self.assertEqual(table.list_names("Names/"), ["Names/a", "Names/ab", "Names/b", "Names/é", "Names/日本"])
        owner.kill()
        wait_until(lambda: table.list_names("Names/") == [], what="the owner's names to leave")

    def test_list_names_from_a_broker_before_list_names_gives_list_monikers(self):
        # A real broker behind a relay that refuses ListNames as a broker before kind 22 does.
        older = self.node("clients/python/tests/node_older_broker.ts", os.path.join(self.dir, "upstream"))
        older.wait_for_line("ready")
        table = self.connect()
        for moniker in ("Old/b", "Old/a", "Old/é", "Old/ab", "Other/x"):
            table.register(moniker, type("S", (), {"ping": lambda self: "pong"})())
        self.assertEqual(table.list_names("Old/"), ["Old/a", "Old/ab", "Old/b", "Old/é"])
        older.wait_for_line("refused 1")
        self.assertEqual(table.list_names("Old/a"), ["Old/a", "Old/ab"])
        self.assertEqual(table.list_names(""), [entry.moniker for entry in table.list("")])
        older.wait_for_line("refused 3")
        with self.assertRaises(runtable.RuntableError) as raised:
            table.list_names("bad\u0001")
        self.assertEqual(raised.exception.code, "BAD_MONIKER")


class CallsIntoNode(TableTest):
    def setUp(self):
        super().setUp()
        self.table = self.connect()
        self.owner = self.node("clients/python/tests/node_owner.ts", "Node/owner")
        self.owner.wait_for_line("ready")
        self.proxy = self.table.get("Node/owner")

    def test_streams_flow_with_credit_and_can_stop_early(self):
        self.assertEqual(list(self.proxy.ticks(1000)), list(range(1000)))
        with self.proxy.ticks(100000) as stream:
            first = [next(stream) for _ in range(10)]
        self.assertEqual(first, list(range(10)))
        stream = self.proxy.failing(3)
        self.assertEqual([next(stream) for _ in range(3)], [0, 1, 2])
        with self.assertRaises(runtable.RuntableError) as caught:
            next(stream)
        self.assertEqual((caught.exception.code, caught.exception.remote["code"]), ("REMOTE", "ECONNRESET"))
        self.assertEqual(self.proxy.echo("still serving"), "still serving")

    def test_large_arguments_and_results_travel_as_chunks(self):
        self.assertEqual(self.proxy.length(b"x" * 300_000), 300_000)
        self.assertEqual(self.proxy.length("y" * 3_000_000), 3_000_000)
        result = self.proxy.bytes(2_500_000)
        self.assertEqual((len(result), result[:3]), (2_500_000, b"aaa"))

    def test_timeouts_and_errors_are_exceptions_with_codes(self):
        with self.assertRaises(runtable.RuntableError) as caught:
            runtable.with_options(self.proxy, timeout=0.2).slow(10_000)
        self.assertEqual(caught.exception.code, "TIMEOUT")
        with self.assertRaises(runtable.RuntableError) as caught:
            self.proxy.fail()
        error = caught.exception
        self.assertEqual((error.code, error.remote["name"], error.remote["code"]), ("REMOTE", "TypeError", "E_PARSE"))
        self.assertIsInstance(error.__cause__, runtable.JSError)
        self.assertEqual((error.__cause__.name, error.__cause__.code), ("RangeError", "E_LINE"))
        with self.assertRaises(runtable.RuntableError) as caught:
            self.proxy._secret()
        self.assertEqual(caught.exception.code, "NO_SUCH_METHOD")
        with self.assertRaises(runtable.RuntableError) as caught:
            self.table.get("Node/nobody")
        self.assertEqual(caught.exception.code, "NOT_REGISTERED")

    def test_every_value_type_arrives_and_goes_back(self):
        values = self.proxy.values()
        self.assertEqual(values["date"].isoformat(), "2026-11-23T20:00:00.250000+00:00")
        self.assertEqual(values["map"], {1: "one"})
        self.assertIsInstance(values["map"], runtable.Map)
        self.assertEqual(values["set"], {"a"})
        self.assertEqual((values["big"], type(values["big"])), (5, runtable.BigInt))
        self.assertEqual(values["huge"], 2**70)
        self.assertEqual(values["floats"].tolist(), [1.5])
        self.assertEqual(values["u8"], runtable.TypedArray("Uint8Array", b"\x01\x02"))
        self.assertIs(values["missing"], runtable.cbor2.undefined)
        self.assertEqual((values["error"].message, values["error"].code), ("inside", "E_IN"))
        echoed = self.proxy.echo(values)
        self.assertEqual(echoed["big"], 5)
        self.assertIsInstance(echoed["big"], runtable.BigInt)
        self.assertEqual(echoed["map"], {1: "one"})
        self.assertEqual(echoed["date"], values["date"])

    def test_a_call_in_flight_to_a_killed_owner_fails_at_once(self):
        errors = []

        def call():
            try:
                self.proxy.slow(60_000)
            except runtable.RuntableError as error:
                errors.append(error.code)

        caller = threading.Thread(target=call)
        caller.start()
        self.owner.wait_for_line("slow 60000")
        os.kill(self.owner.pid, signal.SIGKILL)
        caller.join(20)
        self.assertEqual(errors, ["OBJECT_GONE"])
        wait_until(lambda: self.table.lookup("Node/owner") is None, 10, "the entry to leave")
        with self.assertRaises(runtable.RuntableError) as caught:
            self.proxy.echo(1)
        self.assertEqual(caught.exception.code, "NOT_REGISTERED", caught.exception.message)


class PythonOwner(TableTest):
    def test_streams_events_and_errors_served_from_python(self):
        table = self.connect()

        class Service:
            def ticks(self, count):
                yield from range(count)

            def fail(self):
                try:
                    raise KeyError("inner")
                except KeyError as inner:
                    raise ValueError("outer") from inner

        table.register("Py/service", Service())
        client = self.connect()
        proxy = client.get("Py/service")
        self.assertEqual(sum(proxy.ticks(2000)), sum(range(2000)))
        with self.assertRaises(runtable.RuntableError) as caught:
            proxy.fail()
        self.assertEqual((caught.exception.code, caught.exception.remote["name"]), ("REMOTE", "ValueError"))
        self.assertEqual(caught.exception.__cause__.name, "KeyError")
        script = (
            "import { connect } from 'runtable';"
            "const t = await connect(); const s = await t.get('Py/service'); let n = 0;"
            "for await (const i of await s.ticks(700)) n += i;"
            "console.log('sum', n);"
            "try { await s.fail(); } catch (e) { console.log('failed', e.code, e.remote.name, e.cause?.name); }"
            "await t.close();"
        )
        node = self.spawn([*NODE_TS, "--input-type=module", "-e", script])
        self.assertEqual(node.popen.wait(60), 0, node.stderr)
        node.wait_for_line(f"sum {sum(range(700))}")
        node.wait_for_line("failed REMOTE ValueError KeyError")

    def test_events_emitted_in_python_reach_a_node_subscriber(self):
        table = self.connect()
        registration = table.register("Py/emitter", type("E", (), {"ping": lambda self: "pong"})())
        script = (
            "import { connect, on } from 'runtable';"
            "const t = await connect(); const s = await t.get('Py/emitter');"
            "await new Promise((resolve) => on(s, 'data', (...args) => { console.log('event', JSON.stringify(args)); resolve(); }));"
            "await t.close();"
        )
        node = self.spawn([*NODE_TS, "--input-type=module", "-e", script])
        endpoint = table._endpoint
        wait_until(lambda: any(session.subscribed(registration.entry.object, "data") for session in list(endpoint.sessions)),
                   30, "the Node process to subscribe")
        registration.emit("data", 42, {"from": "python"})
        node.wait_for_line('event [42,{"from":"python"}]')
        self.assertEqual(node.popen.wait(60), 0, node.stderr)

    def test_an_owner_registers_again_after_a_broker_restart(self):
        owner = self.connect()
        registration = owner.register("Py/survivor", type("S", (), {"ping": lambda self: "pong"})())
        before = registration.entry.registered_at
        watcher = self.connect()
        watch = watcher.watch("Py/")
        self.assertEqual(watch.next(10).type, "registered")
        for pid in broker_pids(self.dir):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not broker_pids(self.dir), 10, "the broker to die")
        # Another process brings a new broker up; the owner comes back to it by itself.
        other = self.connect()
        entry = wait_until(lambda: other.lookup("Py/survivor"), 20, "the entry to come back")
        self.assertEqual(entry.registered_at, before)
        self.assertEqual(other.call("Py/survivor", "ping"), "pong")
        # The watcher came back too, and the entry that came back unchanged is no news to it.
        other.register("Py/newcomer", type("N", (), {"ping": lambda self: "hi"})())
        event = watch.next(20)
        self.assertEqual((event.type, event.entry.moniker), ("registered", "Py/newcomer"))

    def test_get_starts_a_service_a_service_file_names(self):
        services = tempfile.mkdtemp(prefix="rt-services-", dir="/tmp")
        self.addCleanup(shutil.rmtree, services, True)
        path = os.path.join(services, "owner.json")
        with open(path, "w") as file:
            json.dump({
                "monikers": ["Py/activated"],
                "command": [*NODE_TS, os.path.join(ROOT, "clients/python/tests/node_owner.ts"), "Py/activated"],
                "cwd": ROOT,
            }, file)
        os.chmod(path, 0o600)
        # The broker reads RUNTABLE_SERVICES from the environment of whoever starts it: this process.
        previous = os.environ.get("RUNTABLE_SERVICES")
        os.environ["RUNTABLE_SERVICES"] = services
        self.addCleanup(lambda: os.environ.pop("RUNTABLE_SERVICES") if previous is None
                        else os.environ.__setitem__("RUNTABLE_SERVICES", previous))
        table = self.connect()
        self.assertIsNone(table.lookup("Py/activated"), "lookup never starts anything")
        proxy = table.get("Py/activated")
        started = table.lookup("Py/activated").pid
        self.addCleanup(lambda: os.kill(started, signal.SIGKILL) if os.path.exists(f"/proc/{started}") else None)
        self.assertEqual(proxy.echo("started for Python"), "started for Python")
        [info] = table.services()
        self.assertEqual((info["file"], info["monikers"]), (path, ["Py/activated"]))
        self.assertEqual(info["pid"], table.lookup("Py/activated").pid)
        os.kill(info["pid"], signal.SIGKILL)
        wait_until(lambda: table.lookup("Py/activated") is None, 10, "the killed service to leave the table")
        self.assertIsNone(table.activate("Py/nobody"), "no file names it")

    def test_without_a_broker_or_a_way_to_start_one(self):
        with self.assertRaises(runtable.RuntableError) as caught:
            runtable.connect(self.dir, auto_start=False)
        self.assertEqual(caught.exception.code, "TABLE_UNAVAILABLE")
        self.assertIn("runtable broker start", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
