"""The simulator's state: one Sim holds every store (jobs, assets, uploads,
models, collections, workflows), the counters and the fault queues. Its
methods are grouped by concern in the mixins of this package."""

import collections
import sys
import threading
import time

from ..faults import parse_fault_list
from .assets import Assets
from .catalog import Catalog
from .jobs import Jobs
from .models import Models
from .runs import Runs
from .seeding import Seeding
from .stats import Stats
from .uploads import Uploads


class Sim(Stats, Jobs, Runs, Assets, Models, Catalog, Uploads, Seeding):
    """The state of one simulator (one per process, shared by every
    connection thread; self.lock guards it)."""

    def __init__(self, args):
        self.lock = threading.RLock()
        self.host = args.host
        self.port = 0
        self.api_key = args.api_key
        self.api_secret = args.api_secret
        self.token = args.token
        self.quiet = args.quiet
        self.job_duration = args.job_duration
        self.upload_duration = None  # None: half of job_duration
        self.min_part_size = 5 * 1024 * 1024
        self.part_url_ttl = 3600.0
        self.run_faults = parse_fault_list(args.faults) if args.faults else []
        self.started = time.time()
        self.seq = 0
        self.jobs = collections.OrderedDict()
        self.assets = collections.OrderedDict()
        self.uploads = {}
        self.models = collections.OrderedDict()
        self.collections = collections.OrderedDict()
        self.workflows = collections.OrderedDict()
        self.seeded = collections.Counter()  # kind -> how many seeded so far
        self.conn_seq = 0  # connection ids (never reset)
        self.epoch = 0     # bumped by every stats reset
        self.log_lock = threading.Lock()
        self.reset_stats()
        self.seed_models()

    def log(self, msg):
        if not self.quiet:
            with self.log_lock:
                try:
                    sys.stderr.write("[scenario-sim] %s\n" % msg)
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass

    def config(self):
        return {"job_duration": self.job_duration,
                "upload_duration": self.upload_duration,
                "min_part_size": self.min_part_size,
                "part_url_ttl": self.part_url_ttl,
                "faults": ";".join(f.spec for f in self.run_faults) or None,
                "quiet": self.quiet, "port": self.port, "host": self.host,
                "base_url": self.base_url() + "/v1"}

    def base_url(self):
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = "[%s]" % host
        return "http://%s:%d" % (host, self.port)

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq
