"""Beam's Python SDK worker pool for the sluice cluster, bound to one address.

Serves Beam's BeamFnExternalWorkerPool service (what `python -m
apache_beam.runners.worker.worker_pool_main` serves) with three differences that matter on a
cluster: it binds --host (127.0.0.1 unless the cluster is exposed) where Beam's entry point binds
every interface; it keys workers by worker id *and* runner control endpoint, because each
TaskManager numbers its workers from "1-1" (two TaskManagers, or a restarted one, send the same
id); and workers inherit this process's stdout/stderr (the pool's log) instead of a pipe nobody
reads. Each worker is Beam's SdkHarness in a child process of this interpreter.
SIGTERM stops the server and its workers.
"""

import argparse
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


class WorkerPool(beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolServicer):
  def __init__(self):
    self._lock = threading.Lock()
    self._workers = {}  # (worker id, control endpoint) -> Popen

  def StartWorker(self, request, context):
    key = (request.worker_id, request.control_endpoint.url)
    with self._lock:
      running = self._workers.get(key)
      if running is not None and running.poll() is None:
        return beam_fn_api_pb2.StartWorkerResponse()  # a repeated request
      program = (
          "from apache_beam.runners.worker.sdk_worker import SdkHarness; "
          f"SdkHarness({request.control_endpoint.url!r}, worker_id={request.worker_id!r}, "
          "state_cache_size=0, data_buffer_time_limit_ms=-1).run()")
      try:
        worker = subprocess.Popen([sys.executable, "-c", program], close_fds=True)
      except OSError as e:
        return beam_fn_api_pb2.StartWorkerResponse(error=f"cannot start a Python SDK worker: {e}")
      self._workers[key] = worker
    _LOG.info("worker %s started (pid %d) for the runner at %s", request.worker_id, worker.pid, request.control_endpoint.url)
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
      workers = list(self._workers.values())
      self._workers.clear()
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
