#!/usr/bin/env python3
"""test_trace.py [--goroutines GOROUTINES] LIFE_OF_M MRT_TRACE [CHROMIUM] —
the picture of the Ms over time, end to end (#16 item 4).

1. examples/life-of-m runs with MRTDEBUG=trace=<file>. The file must be one
   JSON array of trace events in which every M has its life: M1, M2 and M3
   are created, started, exit and are reaped; M4, a pthread mrt did not
   make, is attached, dropped at its thread's end and reaped; m0 starts;
   M2 runs a user g;
   M3 starts on g0, parks, is woken and runs g0 again; each M's slices
   follow each other without a gap; the refused creation is on m0's lane.
2. tools/mrt-trace turns it into a page that is self-contained: no script,
   style, font or image from anywhere else.
3. Headless Chromium (Debian's) renders the page, driven through the
   DevTools protocol on a pipe (--remote-debugging-pipe: no network, no
   library): one lane per M (M0 to M4, named), M3's lane showing its park
   (a parked slice) and its wake (the woken mark) in that order, the
   counts drawn; hovering M3's parked slice shows its details; the wheel
   zooms. With MRT_TRACE_SCREENSHOT=<png>, a screenshot is saved there
   (docs/trace.png is one).

4. With GOROUTINES (examples/goroutines -s 2: two gs block in read(2)),
   the blocking sections are in the file: "syscall" slices on the lanes
   of the Ms that blocked, at least one of them marked lost (its P
   retaken), and the monitor's "retaken" and "handedoff" marks.

Without Chromium the test does 1, 2 and 4 and exits 77 (skipped), saying so,
unless MRT_TRACE_NEED_CHROMIUM is set (ci/ecosystem), when that fails.
"""
import base64
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(cond, what, detail=None):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)
        if detail is not None:
            print("----- detail -----\n%s\n------------------" % detail)


def lanes_of(events):
    lanes = {}
    for e in events:
        if e.get("ph") in ("X", "i"):
            lanes.setdefault(e["tid"], []).append(e)
    return lanes


def check_trace(events):
    lanes = lanes_of(events)
    check(sorted(lanes) == [0, 1, 2, 3, 4], "a lane for each of M0..M4: %s" % sorted(lanes))
    names = lambda tid, ph: [e["name"] for e in sorted(lanes.get(tid, []), key=lambda e: e["ts"])
                             if e["ph"] == ph]
    for tid in (1, 2, 3):
        ev = names(tid, "i")
        for want in ("created", "started", "exiting", "reaped"):
            check(ev.count(want) == 1, "M%d %s once: %s" % (tid, want, ev))
    check(names(0, "i")[:1] == ["started"] and "newm failed" in names(0, "i"),
          "m0 starts, and the refused creation is on its lane: %s" % names(0, "i"))
    m3 = names(3, "X")
    check(m3 == ["starting", "g0", "parked", "g0"],
          "M3: starting, g0, parked, g0 (woken): %s" % m3)
    check(names(3, "i") == ["created", "started", "parked", "woken", "exiting", "reaped"],
          "M3's events in order: %s" % names(3, "i"))
    # The attached M: on g0 from its attach to its drop, nothing before.
    check(names(4, "i") == ["attached", "dropped", "reaped"],
          "M4 (attached): attached, dropped, reaped: %s" % names(4, "i"))
    check(names(4, "X")[:1] == ["g0"], "M4 starts on g0, its thread's stack: %s" % names(4, "X"))
    check(any(re.fullmatch(r"g[1-9]\d*", n) for n in names(2, "X")),
          "M2 runs a user g: %s" % names(2, "X"))
    # Each M's slices tile its life: one ends where the next begins (the
    # file has nanoseconds as microseconds with three decimals).
    for tid, evs in lanes.items():
        xs = sorted((round(e["ts"] * 1000), round(e["dur"] * 1000)) for e in evs
                    if e["ph"] == "X" and e.get("cat") != "syscall")
        for (a, da), (b, _) in zip(xs, xs[1:]):
            check(a + da == b, "M%d's slices follow each other: %d + %d != %d" % (tid, a, da, b))


def check_page(text):
    # Nothing fetched from elsewhere: the page names no URL at all (SVG's
    # namespace comes from the parsed element, not from a literal).
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"'<>)]*", text))
    check(not urls, "the page names no URL: %s" % urls)
    check(re.search(r"<script[^>]*\ssrc=|<link\b|@import|<img\b|<iframe\b", text) is None,
          "no external script, style sheet, image or frame")


class Chromium:
    """Headless Chromium, driven by the DevTools protocol over a pipe:
    messages are JSON, each ended by a NUL, on fds 3 (in) and 4 (out)."""

    def __init__(self, exe, url, tmp):
        # Above 4, so that moving them to 3 and 4 in the child cannot
        # overwrite one with the other.
        def high(fd):
            h = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
            os.close(fd)
            return h
        cmd_r, self.cmd_w = map(high, os.pipe())
        self.ev_r, ev_w = map(high, os.pipe())
        # The flags that work here (no sandbox as root, no GPU, no network
        # of its own: the machine has none).
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--user-data-dir=" + os.path.join(tmp, "chromium"),
                "--remote-debugging-pipe", url]

        def fds():
            os.dup2(cmd_r, 3)
            os.dup2(ev_w, 4)
        # pass_fds: the child closes every other fd after fds() has run.
        self.log = open(os.path.join(tmp, "chromium.log"), "w")
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        os.close(cmd_r)
        os.close(ev_w)
        self.buf = b""
        self.next = 0
        self.session = None

    def send(self, method, params=None, session=True):
        self.next += 1
        msg = {"id": self.next, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.ev_r, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed its pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    def attach(self):
        for _ in range(100):
            pages = [t for t in self.send("Target.getTargets", session=False)["targetInfos"]
                     if t["type"] == "page"]
            if pages:
                break
        r = self.send("Target.attachToTarget", {"targetId": pages[0]["targetId"], "flatten": True},
                      session=False)
        self.session = r["sessionId"]

    def eval(self, js):
        r = self.send("Runtime.evaluate", {"expression": js, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("page: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        for fd in (self.cmd_w, self.ev_r):
            os.close(fd)


def check_rendered(chromium, page, tmp):
    url = "file://" + page
    c = Chromium(chromium, "about:blank", tmp)
    try:
        c.attach()
        # A fixed viewport, then the page: it sizes itself to the window.
        c.send("Emulation.setDeviceMetricsOverride",
               {"width": 1200, "height": 440, "deviceScaleFactor": 1, "mobile": False})
        c.send("Page.navigate", {"url": url})
        for _ in range(600):
            if c.eval("location.href === %s && document.readyState === 'complete'" %
                      json.dumps(url)):
                break
        dom = c.eval("""(() => {
          const lanes = [...document.querySelectorAll('g.lane')].map(g => ({
            m: +g.dataset.m, name: g.dataset.name,
            label: g.querySelector('text.lanelabel').textContent,
            slices: [...g.querySelectorAll('rect.slice')].map(r => [+r.dataset.start, r.dataset.state]),
            marks: [...g.querySelectorAll('path.mark')].map(p => [+p.dataset.start, p.dataset.event]),
          }));
          const counts = [...document.querySelectorAll('path.count')].map(p =>
            [p.dataset.count, +p.dataset.max]);
          return { lanes, counts, tick: document.querySelector('g.axis text').textContent };
        })()""")
        lanes = {ln["m"]: ln for ln in dom["lanes"]}
        check(sorted(lanes) == [0, 1, 2, 3, 4], "the page shows one lane per M: %s" % sorted(lanes))
        check(all(ln["label"] == "M%d" % m for m, ln in lanes.items()),
              "each lane is labelled with its M: %s" % [ln["label"] for ln in dom["lanes"]])
        m3 = lanes.get(3, {"slices": [], "marks": []})
        parked = [t for t, s in m3["slices"] if s == "parked"]
        woken = [t for t, e in m3["marks"] if e == "woken"]
        check(len(parked) == 1 and len(woken) == 1 and parked[0] < woken[0],
              "M3's lane shows its park, then its wake: slices %s, marks %s" %
              (m3["slices"], m3["marks"]))
        check(any(s == "g" for _, s in lanes.get(2, {"slices": []})["slices"]),
              "M2's lane shows its user g")
        counts = dict(dom["counts"])
        check(counts.get("live") == 4 and counts.get("idle") == 1,
              "the counts: at most 4 Ms live (m0, M2, M3, the attached M4) and 1 idle "
              "at once: %s" % counts)

        # Hover over M3's parked slice: its details.
        box = c.eval("""(() => { const r = document.querySelector(
          'g.lane[data-m="3"] rect.st-parked').getBoundingClientRect();
          return [r.x + r.width / 2, r.y + r.height / 2]; })()""")
        c.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0], "y": box[1]})
        tip = c.eval("(() => { const t = document.getElementById('tip'); "
                     "return [t.style.display, t.textContent]; })()")
        check(tip[0] == "block" and tip[1].startswith("M3: parked\nfrom "),
              "hovering M3's parked slice shows its details: %s" % tip)
        if os.environ.get("MRT_TRACE_SCREENSHOT"):
            shot = c.send("Page.captureScreenshot", {"format": "png"})
            with open(os.environ["MRT_TRACE_SCREENSHOT"], "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print("screenshot: " + os.environ["MRT_TRACE_SCREENSHOT"])
        # The wheel zooms in around the pointer: the first tick moves.
        c.send("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": box[0], "y": box[1],
                                            "deltaX": 0, "deltaY": -400})
        tick = c.eval("document.querySelector('g.axis text').textContent")
        check(tick != dom["tick"], "the wheel zooms: first tick %r, then %r" % (dom["tick"], tick))
    finally:
        c.close()


def check_sections(goroutines, tmp):
    trace = os.path.join(tmp, "goroutines.json")
    env = dict(os.environ, MRTDEBUG="trace=" + trace)
    r = subprocess.run([goroutines, "-n", "100", "-p", "2", "-s", "2"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    check(r.returncode == 0, "goroutines -s 2 ran", r.stdout)
    with open(trace, encoding="utf-8") as f:
        events = json.load(f)
    sys_ = [e for e in events if e.get("ph") == "X" and e.get("cat") == "syscall"]
    marks = [e["name"] for e in events if e.get("ph") == "i"]
    check(len(sys_) >= 2, "blocking sections as syscall slices: %d" % len(sys_))
    check(any(e.get("args", {}).get("lostp") for e in sys_),
          "a section's slice says its P was lost: %s" % [e.get("args") for e in sys_][:8])
    check("retaken" in marks and "handedoff" in marks,
          "the monitor's retaken and handedoff marks: %s" % sorted(set(marks)))


def main():
    args = sys.argv[1:]
    goroutines = None
    if args[:1] == ["--goroutines"]:
        goroutines, args = args[1], args[2:]
    sys.argv[1:] = args
    exe, tool = sys.argv[1], sys.argv[2]
    chromium = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else shutil.which("chromium")
    with tempfile.TemporaryDirectory(prefix="mrt-trace-") as tmp:
        trace = os.path.join(tmp, "life-of-m.json")
        env = dict(os.environ, MRTDEBUG="trace=" + trace)
        r = subprocess.run([exe], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        check(r.returncode == 0, "life-of-m ran", r.stdout)
        with open(trace, encoding="utf-8") as f:
            events = json.load(f)
        check_trace(events)

        page = os.path.join(tmp, "life-of-m.html")
        r = subprocess.run([sys.executable, tool, trace, "-o", page], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120)
        check(r.returncode == 0 and "5 Ms" in r.stdout, "mrt-trace wrote the page", r.stdout)
        with open(page, encoding="utf-8") as f:
            check_page(f.read())
        if goroutines:
            check_sections(goroutines, tmp)

        if chromium is None:
            why = "no chromium (./ci/setup eco installs Debian's): the page was not rendered"
            if os.environ.get("MRT_TRACE_NEED_CHROMIUM"):
                check(False, why)
            elif not failures:
                print("skipped: " + why)
                return 77
        else:
            check_rendered(chromium, page, tmp)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("trace: every M's life in the file, one lane per M in the page, "
          "M3's park and wake shown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
