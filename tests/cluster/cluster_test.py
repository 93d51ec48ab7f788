#!/usr/bin/env python3
"""The docker-compose cluster, tested from outside: through the 127.0.0.1 ports it publishes.

Sets Docker up (scripts/docker.sh), builds the images, brings docker-compose.yml up and checks:
requests spread over every replica; a cookie issued by lb1 is honoured by lb2; stopping a replica
loses no request beyond those in flight on it and moves its sticky clients; `--scale app=6` is
discovered within resolve_interval + health rise; Prometheus scrapes both nodes and sees
corral_server_up for every replica; session state in Redis survives round robin. Every wait is
bounded, the cluster is always taken down (`down -v`), and the script exits 77 (skipped) when
Docker cannot run on this machine at all.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

SKIP = 77
PROJECT = "corral-cluster-test"
LB1, LB2 = 8080, 8081
PUBLISHED_PORTS = [8080, 8081, 8090, 8091, 8190, 8191, 9090, 9100, 9101, 9900, 9901]
RESOLVE_INTERVAL, HEALTH_RISE = 2.0, 2 * 1.0  # examples/compose/corral.yaml: 2s, rise 2 x 1s
# A cold build of the images (compile in Docker included) takes about 4 minutes on an idle 2-core
# machine and measured 12 minutes on one loaded 4 times over; ctest's TIMEOUT bounds the whole run.
BUILD_TIMEOUT = 1000
REPLY = re.compile(r"^(\S+) pid \d+ request \d+")


class Cluster:
    """docker-compose on the repository's file, with Docker's environment from scripts/docker.sh."""

    def __init__(self, repo):
        self.repo = repo
        self.env = dict(os.environ, PATH="/usr/bin:/usr/sbin:/bin:/sbin:" + os.environ.get("PATH", ""),
                        DOCKER_BUILDKIT="0", COMPOSE_DOCKER_CLI_BUILD="0", COMPOSE_PROJECT_NAME=PROJECT)

    def run(self, *args, timeout=120, check=True):
        result = subprocess.run(list(args), cwd=self.repo, env=self.env, timeout=timeout, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}")
        return result.stdout

    def compose(self, *args, timeout=120, check=True):
        return self.run("docker-compose", *args, timeout=timeout, check=check)

    def replicas(self, service="app"):
        """Running containers of a service, by host name: the demo app replies with it."""
        ids = self.compose("ps", "-q", service).split()
        running = self.run("docker", "ps", "-q", "--no-trunc").split() if ids else []
        return {container[:12] for container in ids if container in running}


def get(port, path="/", cookie=None, timeout=10):
    """One request on a new connection (a new corral session): (status, body, Set-Cookie)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Connection": "close"}
        if cookie:
            headers["Cookie"] = cookie
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace"), response.getheader("Set-Cookie")
    finally:
        connection.close()


def replica_of(body):
    match = REPLY.match(body)
    return match.group(1) if match else None


def cookie_pair(set_cookie, name):
    """`CORRAL=v` out of a Set-Cookie header value, or None."""
    for part in (set_cookie or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return f"{key}={value}"
    return None


def wait_for(what, predicate, timeout, interval=0.5):
    """Polls predicate until it returns a truthy value; raises after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, http.client.HTTPException, ValueError) as error:
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last_error})" if last_error else ""))


def seen_replicas(port, requests):
    seen = {}
    for _ in range(requests):
        status, body, _ = get(port)
        if status == 200 and replica_of(body):
            seen[replica_of(body)] = seen.get(replica_of(body), 0) + 1
    return seen


# ---- the checks: each returns a one-line description of what it measured, or raises ----------

def check_spread(cluster):
    expected = cluster.replicas()
    seen = seen_replicas(LB1, 10 * len(expected))
    if set(seen) != expected:
        raise AssertionError(f"{sum(seen.values())} answers came from {sorted(seen.items())}, "
                             f"expected all of {sorted(expected)}")
    return f"{sum(seen.values())} requests over {len(seen)} replicas: {sorted(seen.values())}"


def sticky_client(port=LB1):
    """A client that got a cookie: (cookie, replica)."""
    status, body, set_cookie = get(port)
    cookie = cookie_pair(set_cookie, "CORRAL")
    if status != 200 or not cookie:
        raise AssertionError(f"lb1 answered {status} without a CORRAL cookie (Set-Cookie: {set_cookie!r})")
    return cookie, replica_of(body)


def check_cookie_across_nodes(cluster):
    cookie, replica = sticky_client(LB1)
    through_lb2 = {replica_of(get(LB2, cookie=cookie)[1]) for _ in range(10)}
    through_lb1 = {replica_of(get(LB1, cookie=cookie)[1]) for _ in range(10)}
    if through_lb2 != {replica} or through_lb1 != {replica}:
        raise AssertionError(f"cookie from lb1 names {replica}; lb1 sent it to {through_lb1}, lb2 to {through_lb2}")
    return f"cookie issued by lb1 for {replica}: 10/10 through lb2 and 10/10 through lb1 reached it"


class Load:
    """Sticky clients sending requests in a loop through both nodes, counting what fails."""

    def __init__(self, clients):
        self.clients = clients  # [cookie, replica] lists, updated when corral re-places a client
        self.stop = threading.Event()
        self.failures, self.answered, self.moved = [], 0, set()
        self.lock = threading.Lock()

    def loop(self, index):
        port = (LB1, LB2)[index % 2]
        while not self.stop.is_set():
            cookie, replica = self.clients[index]
            try:
                status, body, set_cookie = get(port, cookie=cookie, timeout=15)
                if status != 200:
                    raise AssertionError(f"HTTP {status}")
            except (OSError, http.client.HTTPException, AssertionError) as error:
                with self.lock:
                    self.failures.append((index, str(error)))
                continue
            with self.lock:
                self.answered += 1
                if replica_of(body) != replica:
                    self.moved.add(index)
                    self.clients[index] = [cookie_pair(set_cookie, "CORRAL") or cookie, replica_of(body)]


def check_stop_replica(cluster):
    clients = [list(sticky_client(LB1)) for _ in range(16)]
    by_replica = {}
    for index, (_, replica) in enumerate(clients):
        by_replica.setdefault(replica, []).append(index)
    victim, victim_clients = max(by_replica.items(), key=lambda item: len(item[1]))
    load = Load(clients)
    with ThreadPoolExecutor(len(clients)) as pool:
        for index in range(len(clients)):
            pool.submit(load.loop, index)
        time.sleep(2)
        cluster.run("docker", "stop", "-t", "10", victim, timeout=30)
        time.sleep(RESOLVE_INTERVAL + 2 * 1.0 + 3)  # fall 2 x 1s, then a few seconds more traffic
        load.stop.set()
    unmoved = [index for index in victim_clients if index not in load.moved]
    # Each client has one request in flight at a time: only a request in flight on the victim when
    # it stopped may fail, so at most one failure per client of the victim and none for the others.
    failed_clients = [index for index, _ in load.failures]
    lost = [failure for failure in load.failures
            if failure[0] not in victim_clients or failed_clients.count(failure[0]) > 1]
    if lost or unmoved:
        raise AssertionError(f"stopped {victim}: {len(load.failures)} of {load.answered + len(load.failures)} "
                             f"requests failed, {len(lost)} of them not in flight on it ({lost[:4]}); "
                             f"clients of {victim}: {victim_clients}, not moved: {unmoved}")
    return (f"stopped {victim} under load: {load.answered} answered, {len(load.failures)} failed, all in flight "
            f"on it{': ' + str(load.failures[:2]) if load.failures else ''}; its {len(victim_clients)} sticky "
            f"clients moved")


def check_scale_up(cluster):
    started = time.monotonic()
    cluster.compose("up", "-d", "--scale", "app=6", timeout=120)
    expected = cluster.replicas()
    if len(expected) != 6:
        raise AssertionError(f"docker-compose runs {len(expected)} app replicas, not 6")
    scaled = time.monotonic()
    budget = RESOLVE_INTERVAL + HEALTH_RISE + 1.0  # + one health interval of phase
    wait_for("all 6 replicas answering through lb1 and lb2",
             lambda: set(seen_replicas(LB1, 36)) == expected and set(seen_replicas(LB2, 36)) == expected,
             timeout=budget + 30)
    took = time.monotonic() - scaled
    if took > budget + 2.0:  # the 72 probing requests themselves take a moment
        raise AssertionError(f"6 replicas discovered after {took:.1f} s, budget {budget:.0f} s")
    return f"6 replicas answering through both nodes {took:.1f} s after `up --scale app=6` returned " \
           f"({scaled - started:.1f} s to start them)"


def prometheus(query_path):
    with urllib.request.urlopen(f"http://127.0.0.1:9090{query_path}", timeout=5) as response:
        return json.load(response)["data"]


def check_prometheus_targets(cluster):
    def targets_up():
        active = prometheus("/api/v1/targets?state=active")["activeTargets"]
        health = {target["labels"]["instance"]: target["health"] for target in active}
        return health if health == {"lb1:9100": "up", "lb2:9100": "up"} else None
    try:
        health = wait_for("both corral targets up in Prometheus", targets_up, timeout=30)
    except TimeoutError as error:
        active = prometheus("/api/v1/targets?state=active")["activeTargets"]
        raise AssertionError(f"{error}: {[(t['labels']['instance'], t['health'], t['lastError']) for t in active]}")
    return f"targets {health}"


def check_prometheus_server_up(cluster):
    expected = len(cluster.replicas())
    query = urllib.parse.quote('corral_server_up{backend="app"} == 1')

    def all_up():
        series = prometheus(f"/api/v1/query?query={query}")["result"]
        per_node = {}
        for one in series:
            per_node.setdefault(one["metric"]["instance"], set()).add(one["metric"]["server"])
        return per_node if all(len(per_node.get(node, ())) == expected for node in ("lb1:9100", "lb2:9100")) else None
    try:
        per_node = wait_for(f"corral_server_up == 1 for {expected} replicas on both nodes", all_up, timeout=30)
    except TimeoutError as error:
        raise AssertionError(str(error))
    return f"corral_server_up == 1 for {expected} servers on each node: {sorted(per_node['lb1:9100'])}"


def check_session_stores(cluster):
    """Redis: one session, round robin over replicas, the count goes on. Memory: sticky keeps it."""
    def visits(port, cookie):
        status, body, set_cookie = get(port, cookie=cookie)
        match = re.match(r"session (\w+) visits (\d+) on (\S+)", body)
        if status != 200 or not match:
            raise AssertionError(f"127.0.0.1:{port} answered {status}: {body.strip()}")
        return int(match.group(2)), match.group(3), set_cookie
    count, host, set_cookie = visits(8091, None)
    cookie = cookie_pair(set_cookie, "sid")
    counts, hosts = [count], {host}
    for _ in range(5):
        count, host, _ = visits(8091, cookie)
        counts.append(count)
        hosts.add(host)
    if counts != list(range(1, 7)) or len(hosts) < 2:
        raise AssertionError(f"redis store: counts {counts} over hosts {hosts}")
    return f"redis store: visits 1..6 over {len(hosts)} replicas with round robin"


CHECKS = [
    ("spread over all 4 replicas", check_spread),
    ("lb1's cookie honoured by lb2", check_cookie_across_nodes),
    ("session state in Redis", check_session_stores),
    ("stop one replica under load", check_stop_replica),
    ("scale app=6 discovered", check_scale_up),
    ("Prometheus: both corral targets up", check_prometheus_targets),
    ("Prometheus: corral_server_up for every replica", check_prometheus_server_up),
]


def docker_usable(cluster):
    """None when Docker is ready, else why it cannot run here (the test is then skipped)."""
    setup = subprocess.run([os.path.join(cluster.repo, "scripts", "docker.sh"), "setup"], cwd=cluster.repo,
                           text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    print(setup.stdout, end="", flush=True)
    if setup.returncode == SKIP:
        return "scripts/docker.sh setup could not install or start Docker"
    if setup.returncode != 0:
        raise RuntimeError(f"scripts/docker.sh setup failed (exit {setup.returncode})")
    return None


def ports_in_use():
    busy = []
    for port in PUBLISHED_PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


def build_images(cluster):
    """Compiles corral once while the images that only install Debian packages build beside it.

    `keys` builds deploy/Dockerfile's corral target; the classic builder builds every stage above
    it, the demo-backend stage too, so the final `build` of all services finds each in the cache.
    """
    def timed(*services):
        started = time.monotonic()
        output = cluster.compose("build", *services, timeout=BUILD_TIMEOUT)
        return time.monotonic() - started, output
    with ThreadPoolExecutor(2) as pool:
        compile_job = pool.submit(timed, "keys")
        packages_job = pool.submit(timed, "--parallel", "redis", "prometheus", "sessions-memory")
        (compiled, _), (packaged, _) = compile_job.result(), packages_job.result()
    started = time.monotonic()
    cluster.compose("build", timeout=BUILD_TIMEOUT)
    print(f"cluster: corral and demo-backend images {compiled:.0f} s; redis, prometheus and session-app "
          f"images alongside {packaged:.0f} s; the rest from the cache {time.monotonic() - started:.0f} s",
          flush=True)


def bring_up(cluster):
    started = time.monotonic()
    build_images(cluster)
    built = time.monotonic()
    cluster.compose("up", "-d", timeout=180)
    wait_for("lb1 and lb2 answering", lambda: get(LB1)[0] == 200 and get(LB2)[0] == 200, timeout=60)
    print(f"cluster: images built in {built - started:.0f} s, up and answering in {time.monotonic() - built:.0f} s",
          flush=True)


def run_checks(cluster):
    failed = 0
    for name, check in CHECKS:
        started = time.monotonic()
        try:
            result = f"PASS {name}: {check(cluster)}"
        except (AssertionError, TimeoutError, OSError, RuntimeError, http.client.HTTPException, KeyError) as error:
            failed += 1
            result = f"FAIL {name}: {type(error).__name__}: {error}"
        print(f"{result} [{time.monotonic() - started:.1f} s]", flush=True)
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    parser.add_argument("--keep", action="store_true", help="leave the cluster up afterwards")
    args = parser.parse_args()
    cluster = Cluster(args.repo)
    # ctest's timeout and Ctrl-C must still reach the `down -v` in the finally clause below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    try:
        reason = docker_usable(cluster)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"FAIL Docker setup: {error}")
        return 1
    if reason:
        print(f"SKIP: Docker cannot run on this machine: {reason}")
        return SKIP
    print(f"cluster: Docker ready and base image present after {time.monotonic() - began:.0f} s", flush=True)
    cluster.compose("down", "-v", "--remove-orphans", timeout=120, check=False)  # a killed earlier run
    busy = ports_in_use()
    if busy:
        print(f"FAIL: 127.0.0.1 ports {busy} are taken; the cluster publishes them")
        return 1
    try:
        bring_up(cluster)
        failed = run_checks(cluster)
        print(f"checks: {len(CHECKS) - failed} of {len(CHECKS)} passed")
        if failed:
            print(cluster.compose("logs", "--tail", "8", "--no-color", "lb1", "lb2", check=False))
    except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as error:
        print(f"FAIL cluster did not come up: {error}")
        print(cluster.compose("logs", "--tail", "20", "--no-color", check=False))
        failed = 1
    finally:
        if not args.keep:
            cluster.compose("down", "-v", "--remove-orphans", timeout=120, check=False)
    print(f"cluster test: {'FAILED' if failed else 'passed'}, {time.monotonic() - began:.0f} s in all "
          f"(down -v included)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
