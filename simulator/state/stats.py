"""Counters, the request log and the jobs-running figures of GET /_sim/stats."""

import collections
import time


class Stats:
    """Sim's counters (a mixin of state.Sim)."""

    def reset_stats(self, clear_state=False):
        with self.lock:
            self.total = 0
            self.routes = collections.Counter()
            self.cancels = 0
            self.faults_applied = 0
            self.in_flight = getattr(self, "in_flight", 0)
            self.max_in_flight = self.in_flight
            self.requests = collections.deque(maxlen=1000)
            self.queues = []
            self.connections = 0
            self.api_connections = 0
            self.epoch += 1
            self.stats_since = time.time()
            if clear_state:
                self.jobs.clear()
                self.assets.clear()
                self.uploads.clear()
                self.models.clear()
                self.collections.clear()
                self.workflows.clear()
                self.seeded.clear()
        if clear_state:
            self.seed_models()

    def on_connect(self):
        """A TCP connection was accepted: its id."""
        with self.lock:
            self.conn_seq += 1
            self.connections += 1
            return self.conn_seq

    def begin(self, entry, handler=None):
        with self.lock:
            if handler is not None and handler.conn_epoch != self.epoch:
                handler.conn_epoch = self.epoch  # first counted request on it
                self.api_connections += 1
            self.total += 1
            self.routes[entry["route"]] += 1
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight
            if entry["fault"]:
                self.faults_applied += 1
            self.requests.append(entry)

    def end(self):
        with self.lock:
            self.in_flight -= 1

    def stats(self):
        running, peak = self.job_concurrency()
        with self.lock:
            return {
                "jobs_running": running,
                "max_jobs_running": peak,
                "total": self.total,
                "routes": dict(self.routes),
                "cancels": self.cancels,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "faults_applied": self.faults_applied,
                "faults_pending": sum(len(q.faults) for q in self.queues),
                "jobs": len(self.jobs),
                "assets": len(self.assets),
                "models": len(self.models),
                "collections": len(self.collections),
                "workflows": len(self.workflows),
                "uploads": len(self.uploads),
                "connections": self.connections,
                "api_connections": self.api_connections,
                "uptime": round(time.time() - self.started, 3),
                "requests": [dict(e) for e in self.requests],
            }

    def job_concurrency(self):
        """(jobs running now, most jobs running at once since the last reset).
        A job runs from its creation to its terminal status."""
        now = time.time()
        with self.lock:
            jobs = list(self.jobs.values())
            since = self.stats_since
        running, events = 0, []
        for j in jobs:
            end = self.job_end(j, now)
            if end is None or end > now:
                running += 1
            if j["created"] >= since:
                events.append((j["created"], 1))
                if end is not None and end <= now:
                    events.append((end, -1))
        events.sort()  # an end at the same instant as a start comes first
        cur = peak = 0
        for _, d in events:
            cur += d
            peak = max(peak, cur)
        return running, peak
