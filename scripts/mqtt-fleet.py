#!/usr/bin/env python3
"""A fleet against one broker: N agents, each with its own simulated modem, for a while.

    scripts/mqtt-fleet.py [--agents 50] [--seconds 120] [--bin target/release/simkeep]
                          [--poll 30s] [--interval 60s]

Starts a mosquitto of its own on a free loopback port, N `simkeep sim` modems and N
`simkeep run` agents (device ids fleet-0…fleet-N-1), and one `mosquitto_sub -t '#'` counting
what the broker delivers. Halfway through, every modem is unplugged for 3 s, so every agent
emits modem_lost and modem_back. At the end it checks that every agent was discovered (its
RSRP sensor config), and that every agent's events arrived (agent_started, modem_lost,
modem_back: none lost), then prints broker messages/s and each agent's CPU time and RSS.

Exit status 1 if an agent was not discovered or an event is missing. Only the processes this
script starts are stopped (by pid).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, limit=10.0):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def proc_figures(pid):
    """(cpu seconds, VmRSS kB, VmHWM kB) from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / tick
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cpu, rss, hwm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--bin", default="target/release/simkeep")
    ap.add_argument("--poll", default="30s")
    ap.add_argument("--interval", default="60s")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin} is not built (cargo build --release)")
    work = tempfile.mkdtemp(prefix="simkeep-fleet-")
    started = []  # every process we start, stopped by pid at the end

    def spawn(args, **kw):
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kw)
        started.append(p)
        return p

    try:
        port = free_port()
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\n")
        broker = spawn(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wait_port(port)
        sub = spawn(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "#", "-v",
                     "-q", "1"], stdout=subprocess.PIPE, text=True)
        seen = []
        threading.Thread(target=lambda: [seen.append(l.rstrip("\n")) for l in sub.stdout],
                         daemon=True).start()
        agents = []
        for i in range(a.agents):
            d = os.path.join(work, str(i))
            os.makedirs(d)
            ctl = os.path.join(d, "ctl")
            spawn([a.bin, "sim", "--personality", "quectel-ec25", "--link",
                   os.path.join(d, "modem"), "--control", ctl],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(os.path.join(d, "config.toml"), "w") as f:
                f.write(f"""[modem]
port = "{d}/modem"
poll_interval = "{a.poll}"
lock_dir = "{d}/lock"
[store]
path = "{d}/simkeep.db"
[http]
listen = ""
[mqtt]
url = "mqtt://127.0.0.1:{port}"
device_id = "fleet-{i}"
interval = "{a.interval}"
""")
            agents.append((i, d, ctl))
        time.sleep(1)  # the simulators create their links
        procs = []
        t0 = time.time()
        for i, d, ctl in agents:
            p = spawn([a.bin, "run", "--config", os.path.join(d, "config.toml")],
                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "agent.log"), "w"))
            procs.append(p)
        time.sleep(a.seconds / 2)
        for i, d, ctl in agents:
            try:
                with open(ctl, "w") as f:
                    f.write("unplug 3\n")
            except OSError as e:
                print(f"agent {i}: cannot unplug its modem: {e}", file=sys.stderr)
        time.sleep(a.seconds / 2)
        elapsed = time.time() - t0
        figures = [proc_figures(p.pid) for p in procs]
        lines = list(seen)
        bad = 0
        for i, d, ctl in agents:
            dev = f"fleet-{i}"
            if not any(l.startswith(f"homeassistant/sensor/simkeep_{dev}_rsrp_dbm/config ")
                       for l in lines):
                print(f"{dev}: not discovered", file=sys.stderr)
                bad += 1
            names = [json.loads(l.split(" ", 1)[1])["event"] for l in lines
                     if l.startswith(f"simkeep/{dev}/event/")]
            for want in ("agent_started", "modem_lost", "modem_back"):
                if want not in names:
                    print(f"{dev}: {want} missing (got {names})", file=sys.stderr)
                    bad += 1
        cpu = [c for c, _, _ in figures]
        rss = [r for _, r, _ in figures]
        hwm = [h for _, _, h in figures]
        n = len(figures)
        print(f"agents: {n}, {elapsed:.0f} s, binary {a.bin}, poll {a.poll}, interval {a.interval}")
        print(f"broker delivered {len(lines)} messages to one subscriber: "
              f"{len(lines) / elapsed:.1f} msg/s")
        print(f"agent CPU: mean {sum(cpu) / n / elapsed * 100:.2f} % of a core, "
              f"max {max(cpu) / elapsed * 100:.2f} %")
        print(f"agent RSS: mean {sum(rss) / n / 1024:.1f} MiB, max {max(rss) / 1024:.1f} MiB, "
              f"peak {max(hwm) / 1024:.1f} MiB")
        print("all discovered, no event lost" if bad == 0 else f"{bad} problems")
        return 1 if bad else 0
    finally:
        for p in reversed(started):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(started):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
