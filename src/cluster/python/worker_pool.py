"""Beam's Python SDK worker pool for the sluice cluster, bound to one address.

Serves Beam's BeamFnExternalWorkerPool service (what `python -m
apache_beam.runners.worker.worker_pool_main` serves) with three differences that matter on a
cluster: it binds --host (127.0.0.1 unless the cluster is exposed) where Beam's entry point binds
every interface; it keys workers by worker id *and* runner control endpoint, because each
TaskManager numbers its workers from "1-1" (two TaskManagers, or a restarted one, send the same
id); and workers inherit this process's stdout/stderr (the pool's log) instead of a pipe nobody
reads. Each worker is Beam's SdkHarness in a child process of this interpreter; one such process
is kept started ahead of the next StartWorker, with Beam's harness already imported (most of a
worker's start), waiting on its stdin for the worker id and control endpoint.
SIGTERM stops the server and its workers.
"""

import argparse
import json
import logging
import signal
import subprocess
import sys
import threading

import grpc
from apache_beam.portability.api import beam_fn_api_pb2
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.utils import thread_pool_executor

_LOG = logging.getLogger("sluice.python_pool")


# A worker: Beam's harness imported first, then its id and control endpoint read from stdin (one
# JSON line; end of input, e.g. the pool gone, and it leaves).
_WORKER = """
import json, sys
from apache_beam.runners.worker.sdk_worker import SdkHarness
line = sys.stdin.readline()
if not line:
  sys.exit(0)
args = json.loads(line)
SdkHarness(args["control"], worker_id=args["id"], state_cache_size=0, data_buffer_time_limit_ms=-1).run()
"""


class WorkerPool(beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolServicer):
  def __init__(self):
    self._lock = threading.Lock()
    self._workers = {}  # (worker id, control endpoint) -> Popen
    self._spare = None  # the worker process started ahead, waiting for its arguments
    self._closed = False

  def _start_process(self):
    return subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, close_fds=True)

  def start_spare(self):
    with self._lock:
      if self._closed or (self._spare is not None and self._spare.poll() is None):
        return
      try:
        self._spare = self._start_process()
      except OSError as e:
        self._spare = None
        _LOG.warning("cannot start a standby Python SDK worker: %s", e)

  def StartWorker(self, request, context):
    key = (request.worker_id, request.control_endpoint.url)
    with self._lock:
      running = self._workers.get(key)
      if running is not None and running.poll() is None:
        return beam_fn_api_pb2.StartWorkerResponse()  # a repeated request
      worker, self._spare = self._spare, None
      if worker is None or worker.poll() is not None:
        try:
          worker = self._start_process()
        except OSError as e:
          return beam_fn_api_pb2.StartWorkerResponse(error=f"cannot start a Python SDK worker: {e}")
      try:
        worker.stdin.write((json.dumps({"id": request.worker_id, "control": request.control_endpoint.url}) + "\n").encode())
        worker.stdin.close()
      except OSError as e:
        _stop(worker)
        return beam_fn_api_pb2.StartWorkerResponse(error=f"cannot start a Python SDK worker: {e}")
      self._workers[key] = worker
    _LOG.info("worker %s started (pid %d) for the runner at %s", request.worker_id, worker.pid, request.control_endpoint.url)
    self.start_spare()
    return beam_fn_api_pb2.StartWorkerResponse()

  def StopWorker(self, request, context):
    # Only the id is given: stop the worker when it is the only one with that id; otherwise each
    # ends by itself when its runner closes the control stream.
    with self._lock:
      matching = [k for k in self._workers if k[0] == request.worker_id]
      workers = [self._workers.pop(matching[0])] if len(matching) == 1 else []
    for worker in workers:
      _stop(worker)
    return beam_fn_api_pb2.StopWorkerResponse()

  def stop_all(self):
    with self._lock:
      self._closed = True
      workers = list(self._workers.values()) + ([self._spare] if self._spare is not None else [])
      self._workers.clear()
      self._spare = None
    for worker in workers:
      _stop(worker)


def _stop(worker, timeout=5):
  if worker.poll() is not None:
    return
  worker.terminate()
  try:
    worker.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    worker.kill()
    worker.wait()


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--host", default="127.0.0.1")
  parser.add_argument("--port", type=int, required=True)
  args = parser.parse_args()
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")

  # Like Beam's pool: never reject a runner's keepalive pings.
  server = grpc.server(
      thread_pool_executor.shared_unbounded_instance(),
      options=[("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)])
  address = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
  try:
    port = server.add_insecure_port(address)
  except RuntimeError as e:
    print(f"python worker pool: cannot listen on {address}: {e}", file=sys.stderr, flush=True)
    return 1
  pool = WorkerPool()
  beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
  server.start()
  pool.start_spare()
  print(f"python worker pool: listening on {args.host}:{port}", flush=True)

  stop = threading.Event()
  signal.signal(signal.SIGTERM, lambda *_: stop.set())
  signal.signal(signal.SIGINT, lambda *_: stop.set())
  stop.wait()
  server.stop(2).wait()
  pool.stop_all()
  print("python worker pool: stopped", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
