package dev.sluice.jobserver;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.beam.model.jobmanagement.v1.JobApi;
import org.apache.beam.model.jobmanagement.v1.JobServiceGrpc;
import org.apache.beam.model.pipeline.v1.Endpoints.ApiServiceDescriptor;
import org.apache.beam.model.pipeline.v1.RunnerApi;
import org.apache.beam.runners.flink.FlinkJobInvoker;
import org.apache.beam.runners.flink.FlinkJobServerDriver;
import org.apache.beam.runners.flink.FlinkPipelineOptions;
import org.apache.beam.runners.flink.FlinkPipelineRunner;
import org.apache.beam.runners.jobsubmission.JobInvocation;
import org.apache.beam.runners.jobsubmission.JobServerDriver;
import org.apache.beam.runners.jobsubmission.PortablePipelineJarCreator;
import org.apache.beam.runners.jobsubmission.PortablePipelineRunner;
import org.apache.beam.sdk.fn.server.GrpcContextHeaderAccessorProvider;
import org.apache.beam.sdk.fn.server.ServerFactory;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.options.PortablePipelineOptions;
import org.apache.beam.sdk.util.construction.PipelineOptionsTranslation;
import org.apache.beam.sdk.util.construction.resources.PipelineResources;
import org.apache.beam.vendor.grpc.v1p60p1.com.google.protobuf.Struct;
import org.apache.beam.vendor.guava.v32_1_2_jre.com.google.common.util.concurrent.ListeningExecutorService;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.BindableService;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Metadata;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Server;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ServerCall;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ServerCallHandler;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ServerInterceptor;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ServerInterceptors;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Status;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.netty.NettyServerBuilder;

/**
 * Beam's Flink job server, with its gRPC services bound to --job-host, and jobs that ship only the
 * jars the Flink cluster lacks.
 *
 * <p>Beam's FlinkJobServerDriver takes the same flags, but its server factory binds the Job API and
 * artifact staging ports on every interface whatever --job-host says, so a job server meant for
 * this machine only would accept jobs from the network. This driver is Beam's JobServerDriver with
 * a server factory that binds the given host and a Flink job invoker that decides what each job
 * uploads to Flink (see {@link Invoker}). Sluice compiles it at install time against the pinned
 * job server's classpath.
 *
 * <p>One flag of its own, removed before Beam parses the rest: {@code --files-to-stage=classpath}
 * (the default: what Beam does) or {@code --files-to-stage=none}, for a Flink cluster whose
 * JobManager and TaskManagers already have this job server's Beam jars on their classpath (a
 * {@code sluice cluster}).
 *
 * <p>It also ends a job's state streams before its message streams report the job's end (see
 * {@link TerminalOrder}).
 */
public final class BoundFlinkJobServer extends JobServerDriver {
  private BoundFlinkJobServer(FlinkJobServerDriver.FlinkServerConfiguration configuration, ServerFactory factory, Invoker invoker) {
    super(configuration, factory, factory, () -> invoker);
  }

  public static void main(String[] args) throws Exception {
    // Register the standard file systems (local files) for artifact staging, as Beam's driver does.
    FileSystems.setDefaultPipelineOptions(PipelineOptionsFactory.create());
    boolean clusterHasBeam = false;
    List<String> beamArgs = new ArrayList<>();
    for (String arg : args) {
      if (arg.equals("--files-to-stage=none")) clusterHasBeam = true;
      else if (arg.equals("--files-to-stage=classpath")) clusterHasBeam = false;
      else if (arg.startsWith("--files-to-stage")) throw new IllegalArgumentException("--files-to-stage takes classpath or none, not " + arg);
      else beamArgs.add(arg);
    }
    String[] rest = beamArgs.toArray(new String[0]);
    FlinkJobServerDriver.FlinkServerConfiguration configuration = FlinkJobServerDriver.parseArgs(rest);
    Invoker invoker = new Invoker(configuration, flag(rest, "--flink-master", FlinkPipelineOptions.AUTO), flag(rest, "--flink-conf-dir", null), clusterHasBeam);
    new BoundFlinkJobServer(configuration, new BoundServerFactory(configuration.getHost()), invoker).run();
  }

  /** The value of `--name=value` or `--name value` in args (Beam's getters for these are package-private). */
  private static String flag(String[] args, String name, String otherwise) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].startsWith(name + "=")) return args[i].substring(name.length() + 1);
      if (args[i].equals(name) && i + 1 < args.length) return args[i + 1];
    }
    return otherwise;
  }

  /**
   * Beam's Flink job invoker, choosing each job's files to stage. Beam's invoker uploads every jar
   * on this job server's classpath (about 160 MB: a classpath scan per job, a REST upload to the
   * JobManager's blob server, a download and a class loader per job on each TaskManager), whatever
   * the job's options say. This one uploads nothing when Flink runs in this JVM ([local], [auto]:
   * an embedded MiniCluster loads from this classpath, and Beam passes no jars to it anyway) or
   * when the job goes to the cluster at --flink-master and that cluster already has the Beam jars
   * on its classpath (--files-to-stage=none); otherwise the classpath, scanned once per server.
   * For such a cluster it also defaults environment_cache_millis (below). The rest is what Beam's
   * invoker does.
   */
  static final class Invoker extends FlinkJobInvoker {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Invoker.class);
    /**
     * Beam's environment_cache_millis for jobs to a cluster with Beam on its classpath, when the
     * job leaves it at 0 (Beam's default, which Beam's Python SDK sends explicitly; a negative
     * value also means no caching to Beam, and is kept). A TaskManager ends a job's SDK
     * environment (and its worker) as soon as no task of the job uses it, so a batch job whose
     * stages run one after the other starts a worker per stage (~1 s each for Python); with this,
     * a stage starting within the time reuses it. Beam
     * defers the release only when its classes are on Flink's own classpath (otherwise it releases
     * at once whatever the option says), at the cost of one idle thread per job on each
     * TaskManager (Beam's release executor, never shut down). Kept below the cluster's restart
     * delay (2 s): a restarted task must not get back an environment whose worker died.
     */
    private static final int ENVIRONMENT_CACHE_MILLIS = 1000;
    private final String serverFlinkMaster;
    private final String flinkConfDir;
    private final boolean clusterHasBeam;
    private List<String> classpath;

    Invoker(FlinkJobServerDriver.FlinkServerConfiguration configuration, String serverFlinkMaster, String flinkConfDir, boolean clusterHasBeam) {
      super(configuration);
      this.serverFlinkMaster = serverFlinkMaster;
      this.flinkConfDir = flinkConfDir;
      this.clusterHasBeam = clusterHasBeam;
    }

    @Override
    protected JobInvocation invokeWithExecutor(RunnerApi.Pipeline pipeline, Struct options, String retrievalToken, ListeningExecutorService executorService) {
      FlinkPipelineOptions flinkOptions = PipelineOptionsTranslation.fromProto(options).as(FlinkPipelineOptions.class);
      String invocationId = flinkOptions.getJobName() + "_" + UUID.randomUUID();
      if (FlinkPipelineOptions.AUTO.equals(flinkOptions.getFlinkMaster())) flinkOptions.setFlinkMaster(serverFlinkMaster);
      String outputJar = flinkOptions.as(PortablePipelineOptions.class).getOutputExecutablePath();
      PortablePipelineRunner runner;
      if (outputJar == null || outputJar.isEmpty()) {
        List<String> files = filesToStage(flinkOptions.getFlinkMaster());
        PortablePipelineOptions portable = flinkOptions.as(PortablePipelineOptions.class);
        if (onBeamCluster(flinkOptions.getFlinkMaster()) && portable.getEnvironmentCacheMillis() == 0) portable.setEnvironmentCacheMillis(ENVIRONMENT_CACHE_MILLIS);
        LOG.info("Job {} submits to Flink at {} with {} files to stage", invocationId, flinkOptions.getFlinkMaster(), files.size());
        runner = new FlinkPipelineRunner(flinkOptions, flinkConfDir, files);
      } else {
        runner = new PortablePipelineJarCreator(FlinkPipelineRunner.class);
      }
      flinkOptions.setRunner(null);
      return createJobInvocation(invocationId, retrievalToken, executorService, pipeline, flinkOptions, runner);
    }

    private boolean onBeamCluster(String master) {
      return clusterHasBeam && master != null && master.replaceFirst("^https?://", "").equals(serverFlinkMaster.replaceFirst("^https?://", ""));
    }

    private List<String> filesToStage(String master) {
      String m = master == null ? "" : master.replaceFirst("^https?://", "");
      if (m.equals("[local]") || m.equals("[auto]") || m.equals("[collection]")) return Collections.emptyList();
      if (onBeamCluster(master)) return Collections.emptyList();
      synchronized (this) {
        if (classpath == null) classpath = PipelineResources.detectClassPathResourcesToStage(FlinkJobInvoker.class.getClassLoader(), PipelineOptionsFactory.create());
        return classpath;
      }
    }
  }

  /** Creates gRPC servers listening on one host only. */
  static final class BoundServerFactory extends ServerFactory {
    private final String host;
    private final TerminalOrder terminalOrder = new TerminalOrder();

    BoundServerFactory(String host) {
      this.host = host;
    }

    @Override
    public Server allocateAddressAndCreate(List<BindableService> services, ApiServiceDescriptor.Builder builder) throws IOException {
      Server server = start(services, new InetSocketAddress(host, 0));
      builder.setUrl(urlHost() + ":" + server.getPort());
      return server;
    }

    @Override
    public Server create(List<BindableService> services, ApiServiceDescriptor descriptor) throws IOException {
      String url = descriptor.getUrl();
      int colon = url.lastIndexOf(':');
      return start(services, new InetSocketAddress(host, Integer.parseInt(url.substring(colon + 1))));
    }

    /** The host clients should dial: the bound one, or localhost when bound to every interface. */
    private String urlHost() {
      return host.equals("0.0.0.0") || host.equals("::") ? "localhost" : host;
    }

    private Server start(List<BindableService> services, InetSocketAddress address) throws IOException {
      NettyServerBuilder builder =
          NettyServerBuilder.forAddress(address)
              .maxInboundMessageSize(Integer.MAX_VALUE)
              .permitKeepAliveWithoutCalls(true)
              .permitKeepAliveTime(20, TimeUnit.SECONDS);
      for (BindableService service : services) {
        builder.addService(ServerInterceptors.intercept(service, GrpcContextHeaderAccessorProvider.interceptor(), terminalOrder));
      }
      return builder.build().start();
    }
  }

  /**
   * Ends a job's state streams before its message streams report the job's terminal state.
   *
   * <p>Beam's Python SDK watches both streams of a job (PortableRunner.wait_until_finish): it
   * stops reading the state stream at the terminal state, waits for its message stream to end,
   * and the program exits. Beam's job service ends a job's streams in the order they were
   * registered on the server, which two concurrent calls do not fix. When the message stream ends
   * first, the state stream's end (its trailers) can still be in flight as the interpreter shuts
   * down: grpcio's channel thread, handling it, is stopped by the shutdown while it holds the
   * channel's lock, and the final garbage collection, cancelling the still-open call, waits for
   * that lock for ever (grpcio 1.65 with Beam 2.62: the seed's Python pipeline printed DONE and
   * hung, about one run in thirty on a cluster just started). Holding a message stream's terminal
   * state, and what follows it, until the job's open state streams have closed (at most
   * HOLD_MILLIS) makes the state stream's end arrive first, on the same connection, so the client
   * has handled it before its message stream ends. Other calls pass through untouched.
   */
  static final class TerminalOrder implements ServerInterceptor {
    /** The longest a message stream's end waits (state streams end in the same state change). */
    private static final long HOLD_MILLIS = 2000;
    private static final String STATE_STREAM = JobServiceGrpc.getGetStateStreamMethod().getFullMethodName();
    private static final String MESSAGE_STREAM = JobServiceGrpc.getGetMessageStreamMethod().getFullMethodName();
    /** Open state streams per job id, and the held message streams to release when they reach 0. */
    private final Map<String, Integer> openStateStreams = new HashMap<>();
    private final Map<String, List<Runnable>> waiting = new HashMap<>();
    private final ScheduledExecutorService timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "sluice-terminal-order");
              t.setDaemon(true);
              return t;
            });

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      String method = call.getMethodDescriptor().getFullMethodName();
      if (method.equals(STATE_STREAM)) return stateStream(call, headers, next);
      if (method.equals(MESSAGE_STREAM)) return messageStream(call, headers, next);
      return next.startCall(call, headers);
    }

    private <ReqT, RespT> ServerCall.Listener<ReqT> stateStream(ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      String[] job = new String[1];
      boolean[] ended = new boolean[1];
      Runnable end =
          () -> {
            String id;
            synchronized (ended) {
              if (ended[0] || job[0] == null) return;
              ended[0] = true;
              id = job[0];
            }
            stateStreamEnded(id);
          };
      ServerCall<ReqT, RespT> watched =
          new SimpleForwardingServerCall<ReqT, RespT>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
              super.close(status, trailers);
              end.run();
            }
          };
      return new SimpleForwardingServerCallListener<ReqT>(next.startCall(watched, headers)) {
        @Override
        public void onMessage(ReqT message) {
          // The request comes before Beam's handler runs (on half-close): counted before it can end.
          if (message instanceof JobApi.GetJobStateRequest) {
            String id = ((JobApi.GetJobStateRequest) message).getJobId();
            synchronized (ended) {
              job[0] = id;
            }
            stateStreamOpened(id);
          }
          super.onMessage(message);
        }

        @Override
        public void onCancel() {
          end.run();
          super.onCancel();
        }
      };
    }

    private <ReqT, RespT> ServerCall.Listener<ReqT> messageStream(ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      HeldCall<ReqT, RespT> held = new HeldCall<>(call);
      return new SimpleForwardingServerCallListener<ReqT>(next.startCall(held, headers)) {
        @Override
        public void onMessage(ReqT message) {
          if (message instanceof JobApi.JobMessagesRequest) held.jobId = ((JobApi.JobMessagesRequest) message).getJobId();
          super.onMessage(message);
        }
      };
    }

    private synchronized void stateStreamOpened(String jobId) {
      openStateStreams.merge(jobId, 1, Integer::sum);
    }

    private void stateStreamEnded(String jobId) {
      List<Runnable> release = null;
      synchronized (this) {
        Integer left = openStateStreams.merge(jobId, -1, Integer::sum);
        if (left == null || left <= 0) {
          openStateStreams.remove(jobId);
          release = waiting.remove(jobId);
        }
      }
      if (release != null) for (Runnable r : release) r.run();
    }

    /** False when no state stream of the job is open; otherwise `release` runs once they have closed, or after HOLD_MILLIS. */
    private boolean holdUntilStateStreamsEnd(String jobId, Runnable release) {
      synchronized (this) {
        if (openStateStreams.getOrDefault(jobId, 0) <= 0) return false;
        waiting.computeIfAbsent(jobId, k -> new ArrayList<>()).add(release);
      }
      timer.schedule(release, HOLD_MILLIS, TimeUnit.MILLISECONDS);
      return true;
    }

    /** A message stream whose terminal state, and whatever follows it, waits for the job's state streams to end. */
    private final class HeldCall<ReqT, RespT> extends SimpleForwardingServerCall<ReqT, RespT> {
      volatile String jobId;
      /** Calls held back, in order; null when not holding. */
      private List<Runnable> held;
      private boolean released;

      HeldCall(ServerCall<ReqT, RespT> call) {
        super(call);
      }

      @Override
      public synchronized void sendMessage(RespT message) {
        if (held != null) {
          held.add(() -> super.sendMessage(message));
          return;
        }
        if (!released && jobId != null && isTerminalState(message) && holdUntilStateStreamsEnd(jobId, this::release)) {
          held = new ArrayList<>();
          held.add(() -> super.sendMessage(message));
          return;
        }
        super.sendMessage(message);
      }

      @Override
      public synchronized void close(Status status, Metadata trailers) {
        if (held != null) held.add(() -> super.close(status, trailers));
        else super.close(status, trailers);
      }

      private synchronized void release() {
        if (held == null) return;
        List<Runnable> calls = held;
        held = null;
        released = true;
        for (Runnable c : calls) c.run();
      }
    }

    private static boolean isTerminalState(Object message) {
      return message instanceof JobApi.JobMessagesResponse
          && ((JobApi.JobMessagesResponse) message).hasStateResponse()
          && JobInvocation.isTerminated(((JobApi.JobMessagesResponse) message).getStateResponse().getState());
    }
  }
}
