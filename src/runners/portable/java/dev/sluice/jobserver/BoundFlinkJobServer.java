package dev.sluice.jobserver;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.beam.model.pipeline.v1.Endpoints.ApiServiceDescriptor;
import org.apache.beam.runners.flink.FlinkJobInvoker;
import org.apache.beam.runners.flink.FlinkJobServerDriver;
import org.apache.beam.runners.jobsubmission.JobServerDriver;
import org.apache.beam.sdk.fn.server.GrpcContextHeaderAccessorProvider;
import org.apache.beam.sdk.fn.server.ServerFactory;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.BindableService;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Server;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ServerInterceptors;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.netty.NettyServerBuilder;

/**
 * Beam's Flink job server, with its gRPC services bound to --job-host.
 *
 * <p>Beam's FlinkJobServerDriver takes the same flags, but its server factory binds the Job API and
 * artifact staging ports on every interface whatever --job-host says, so a job server meant for
 * this machine only would accept jobs from the network. This driver is Beam's JobServerDriver with
 * Beam's Flink job invoker and a server factory that binds the given host. Sluice compiles it at
 * install time against the pinned job server's classpath.
 */
public final class BoundFlinkJobServer extends JobServerDriver {
  private BoundFlinkJobServer(FlinkJobServerDriver.FlinkServerConfiguration configuration, ServerFactory factory) {
    super(configuration, factory, factory, () -> FlinkJobInvoker.create(configuration));
  }

  public static void main(String[] args) throws Exception {
    // Register the standard file systems (local files) for artifact staging, as Beam's driver does.
    FileSystems.setDefaultPipelineOptions(PipelineOptionsFactory.create());
    FlinkJobServerDriver.FlinkServerConfiguration configuration = FlinkJobServerDriver.parseArgs(args);
    new BoundFlinkJobServer(configuration, new BoundServerFactory(configuration.getHost())).run();
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
