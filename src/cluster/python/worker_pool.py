"""Beam's Python SDK worker pool for the sluice cluster, bound to one address.

Beam's own entry point (python -m apache_beam.runners.worker.worker_pool_main) binds every
interface ([::]); this serves the same BeamFnExternalWorkerPool service, with Beam's servicer in
process mode (one `python` child per worker, so run it with the managed venv's bin/ first on PATH),
on --host (127.0.0.1 unless the cluster is exposed). SIGTERM stops the server and its workers.
"""

import argparse
import logging
import signal
import sys
import threading

import grpc
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer
from apache_beam.runners.worker.worker_pool_main import kill_process_gracefully
from apache_beam.utils import thread_pool_executor


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
  pool = BeamFnExternalWorkerPoolServicer(use_process=True)
  beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
  server.start()
  print(f"python worker pool: listening on {args.host}:{port}", flush=True)

  stop = threading.Event()
  signal.signal(signal.SIGTERM, lambda *_: stop.set())
  signal.signal(signal.SIGINT, lambda *_: stop.set())
  stop.wait()
  server.stop(2).wait()
  for worker in list(pool._worker_processes.values()):  # pylint: disable=protected-access
    kill_process_gracefully(worker)
  print("python worker pool: stopped", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
