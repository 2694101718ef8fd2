package dev.sluice.jobserver;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
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
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Server;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ServerInterceptors;
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

    private static Server start(List<BindableService> services, InetSocketAddress address) throws IOException {
      NettyServerBuilder builder =
          NettyServerBuilder.forAddress(address)
              .maxInboundMessageSize(Integer.MAX_VALUE)
              .permitKeepAliveWithoutCalls(true)
              .permitKeepAliveTime(20, TimeUnit.SECONDS);
      for (BindableService service : services) {
        builder.addService(ServerInterceptors.intercept(service, GrpcContextHeaderAccessorProvider.interceptor()));
      }
      return builder.build().start();
    }
  }
}
