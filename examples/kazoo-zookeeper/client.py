"""A ZooKeeper client of a user's own, run by chaosbed as a `container` workload.

chaosbed tells it where the ensemble is (CHAOSBED_ZOOKEEPER), which phase it is in
(CHAOSBED_PHASE: "workload" or "final-read") and for how long (CHAOSBED_DURATION_SECONDS).
It prints every operation on stdout as one JSON line in Jepsen's shape; everything else goes to
stderr. In the workload phase each client writes znodes of its own under /kazoo and reads back
ones it wrote; in the final-read phase it reads every znode under /kazoo, which chaosbed's
no-lost-writes check compares with the acknowledged writes.
"""

import json
import os
import random
import signal
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    NodeExistsError,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

ROOT = "/kazoo"
PRINT = threading.Lock()
STOP = threading.Event()


def emit(process, kind, f, value=None, error=None):
    line = {"process": process, "type": kind, "f": f, "value": value}
    if error is not None:
        line["error"] = error
    with PRINT:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def log(message):
    print(message, file=sys.stderr, flush=True)


def connect(hosts):
    zk = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": -1, "delay": 0.2})
    zk.start(timeout=30)
    return zk


# Whether an error leaves the operation's outcome unknown (it may have been applied).
UNKNOWN = (ConnectionLoss, OperationTimeoutError, SessionExpiredError, KazooTimeoutError)


def client(process, hosts, rate, seed):
    rng = random.Random(seed * 1000 + process)
    try:
        zk = connect(hosts)
    except Exception as e:  # the cluster may be unreachable at first; that is the test
        log(f"client {process}: could not connect: {e!r}")
        return
    written = []
    n = 0
    while not STOP.is_set():
        if written and rng.random() < 0.5:
            key = rng.choice(written)
            emit(process, "invoke", "read", {"key": key})
            try:
                data, _ = zk.get(key)
                emit(process, "ok", "read", {"key": key, "value": data.decode()})
            except NoNodeError:
                emit(process, "ok", "read", {"key": key, "value": None})
            except UNKNOWN as e:
                emit(process, "fail", "read", {"key": key}, type(e).__name__)
            except KazooException as e:
                emit(process, "fail", "read", {"key": key}, repr(e))
        else:
            n += 1
            name = f"c{process}-{n}"
            key = f"{ROOT}/{name}"
            value = {"key": name, "value": name}
            emit(process, "invoke", "write", value)
            try:
                zk.create(key, name.encode())
                emit(process, "ok", "write", value)
                written.append(key)
            except NodeExistsError:
                # Only this client writes this key: an earlier try of it was applied.
                emit(process, "ok", "write", value)
                written.append(key)
            except UNKNOWN as e:
                emit(process, "info", "write", value, type(e).__name__)
            except KazooException as e:
                emit(process, "fail", "write", value, repr(e))
        STOP.wait(rng.expovariate(rate))
    try:
        zk.stop()
        zk.close()
    except Exception:
        pass


def workload(hosts, duration):
    clients = int(os.environ.get("CHAOSBED_CLIENTS", "3"))
    rate = float(os.environ.get("CHAOSBED_RATE", "20")) / clients
    seed = int(os.environ.get("CHAOSBED_SEED", "0"))
    zk = connect(hosts)
    zk.ensure_path(ROOT)
    zk.stop()
    threads = [
        threading.Thread(target=client, args=(p, hosts, rate, seed), daemon=True)
        for p in range(clients)
    ]
    for t in threads:
        t.start()
    STOP.wait(duration)
    STOP.set()
    for t in threads:
        t.join(timeout=15)
    log("workload done")


def final_read(hosts):
    emit("kazoo-final-read", "invoke", "final-read", None)
    try:
        zk = connect(hosts)
        keys = {}
        for name in zk.get_children(ROOT):
            data, _ = zk.get(f"{ROOT}/{name}")
            keys[name] = data.decode()
        zk.stop()
        emit("kazoo-final-read", "ok", "final-read", {"keys": keys})
    except Exception as e:
        emit("kazoo-final-read", "fail", "final-read", None, repr(e))
        sys.exit(1)


def main():
    hosts = os.environ["CHAOSBED_ZOOKEEPER"]
    phase = os.environ.get("CHAOSBED_PHASE", "workload")
    duration = float(os.environ.get("CHAOSBED_DURATION_SECONDS", "30"))
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    log(f"kazoo client: phase {phase} against {hosts} for {duration:.0f}s")
    if phase == "final-read":
        final_read(hosts)
    else:
        workload(hosts, duration)


if __name__ == "__main__":
    main()
