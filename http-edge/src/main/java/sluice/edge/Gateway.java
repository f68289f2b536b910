package sluice.edge;

import com.typesafe.config.Config;
import java.time.Clock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.apache.pekko.pattern.Patterns;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.bridge.AgentTransport;
import sluice.bridge.BridgeClusterGateway;
import sluice.bridge.BridgeSettings;
import sluice.bridge.Bridges;
import sluice.core.cluster.ClusterGateways;
import sluice.core.cluster.JobSnapshot;
import sluice.core.cluster.SharedListing;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import sluice.core.config.CoreSettings;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.service.ServiceDirectory;
import sluice.core.tunnel.Tunnels;
import sluice.core.user.KeyIndex;
import sluice.core.user.UserDirectory;
import sluice.core.user.UserSettings;
import sluice.edge.auth.JwtVerifier;
import sluice.edge.auth.OidcSettings;
import sluice.edge.http.ApiKeys;
import sluice.edge.http.ApiServer;
import sluice.edge.http.Authenticator;
import sluice.edge.http.Drain;
import sluice.edge.http.Routes;
import sluice.edge.observe.LogFormat;
import sluice.persistence.DataFolder;
import sluice.persistence.DatabaseSettings;
import sluice.persistence.Migrations;
import sluice.persistence.StorageHealth;
import sluice.persistence.usage.UsageRollUp;
import sluice.persistence.usage.UsageStore;
import sluice.persistence.usage.UsageWriter;
import sluice.persistence.usage.UsageWriterSettings;

/**
 * The whole gateway in one process: actor system (a cluster of one unless seed nodes are configured), journal,
 * cluster gateways, sharded services, the HTTP API and the management endpoints. Used by {@link Main} and by tests.
 */
public final class Gateway implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

  private final ActorSystem<Void> system;
  private final ServerBinding binding;
  private final ServiceDirectory services;
  private final Map<String, BridgeClusterGateway> clusters;
  private final EdgeSettings settings;

  private Gateway(ActorSystem<Void> system, ServerBinding binding, ServiceDirectory services,
                  Map<String, BridgeClusterGateway> clusters, EdgeSettings settings) {
    this.system = system;
    this.binding = binding;
    this.services = services;
    this.clusters = clusters;
    this.settings = settings;
  }

  /** Starts everything; fails (and stops what it started) on any bad setting or unavailable port. */
  public static Gateway start(Config deployment) throws Exception {
    DatabaseSettings database = DatabaseSettings.from(deployment);
    GatewayCluster members = GatewayCluster.from(deployment);
    if (members.multiNode() && database.type() == DatabaseSettings.Type.H2) {
      throw new IllegalArgumentException("sluice.cluster: gateway nodes share one PostgreSQL database "
          + "(sluice.persistence.type = postgres); an H2 database serves a single node only");
    }
    // sluice.persistence → the plugins' database; sluice.cluster → Artery, seed nodes, the resolver, bootstrap
    Config config = members.applyTo(database.configure(deployment));
    CoreSettings core = CoreSettings.from(config);
    EdgeSettings edge = EdgeSettings.from(config);
    ApiKeys keys = ApiKeys.from(config);
    UserSettings userSettings = UserSettings.from(config);
    JwtVerifier jwt = JwtVerifier.create(OidcSettings.from(config));
    UsageWriterSettings usageSettings = UsageWriterSettings.from(config);
    UsageRollUp.Settings retention = UsageRollUp.Settings.from(config);
    Map<String, BridgeSettings> clusterSettings = Bridges.settings(config, core);      // fail before starting anything
    if (members.multiNode()) {
      clusterSettings.forEach((name, b) -> {
        if (b.cancelJobsOnShutdown()) throw new IllegalArgumentException("sluice.clusters." + name + ".cancel-jobs-on-shutdown "
            + "must be off on a node of a gateway cluster: one node stopping would cancel the jobs every node serves");
      });
    }
    LogFormat.json(config);                                           // a bad sluice.log.format fails here
    StorageHealth.Settings storageSettings = StorageHealth.Settings.from(config);
    DataFolder.prepare(config);
    Map<String, AgentTransport> transports = new LinkedHashMap<>();
    Map<String, List<String>> nodes = new LinkedHashMap<>();
    clusterSettings.forEach((name, s) -> {
      AgentTransport t = Bridges.transport(s);
      transports.put(name, t);
      nodes.put(name, t.nodes());
    });
    // A local agent's JVM starts while this one migrates and starts its actor system (docs/operations.md "Fast start").
    transports.values().forEach(AgentTransport::prestart);
    try {
      // The schema before the actor system: no journal plugin may see a database without its tables.
      if (database.migrate()) Migrations.migrate(database); else Migrations.check(database);
      // The listening ports are held from here on: the agent and the services start before the servers bind.
      PortReservation api = PortReservation.hold(edge.interfaceName(), edge.port());
      PortReservation management = PortReservation.hold(config.getString("pekko.management.http.hostname"), edge.managementPort());
      ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), GatewayCluster.SYSTEM_NAME, config);
      try {
        JvmMetrics.builder().register(SluiceMetrics.get(system).registry);      // GC, memory, threads beside ours
        if (members.seedNodes().isEmpty() && !members.bootstrap()) {
          Cluster cluster = Cluster.get(system);
          cluster.manager().tell(Join.create(cluster.selfMember().address()));   // a cluster of one
        }
        Executor blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig(EdgeSettings.BLOCKING_DISPATCHER));
        Tunnels tunnels = Tunnels.start(system, nodes, Clock.systemUTC());
        Map<String, BridgeClusterGateway> bridges = Bridges.create(clusterSettings, transports, core, blocking,
            system.executionContext(), tunnels::observer, SluiceMetrics.get(system));
        bridges.forEach((name, bridge) -> tunnels.attach(name, bridge.sampler()));
        bridges.values().forEach(BridgeClusterGateway::connect);     // the agents start while the rest of the gateway does
        closeClustersOnShutdown(system, clusterSettings, bridges);
        // One job listing per HPC cluster for all gateway nodes (a cluster singleton); the rest goes through this node.
        Map<String, Duration> reuseListing = new LinkedHashMap<>();
        core.clusters().forEach((name, c) -> reuseListing.put(name, c.pollInterval().multipliedBy(9).dividedBy(10)));
        ClusterGateways gateways = new ClusterGateways(SharedListing.start(system, new LinkedHashMap<>(bridges), reuseListing,
            core.askTimeout(), Clock.systemUTC()));
        ServiceDirectory services = ServiceDirectory.start(system, core, gateways, Clock.systemUTC());
        // Every key made through the admin API, replayed from the journal before the first request is accepted.
        KeyIndex index = KeyIndex.load(system, userSettings.readJournal()).toCompletableFuture().get(60, TimeUnit.SECONDS);
        UserDirectory users = UserDirectory.start(system, userSettings, index, Clock.systemUTC(), core.askTimeout(),
            core.failoverWait());
        UsageStore usageStore = UsageStore.open(database);
        // Batched writes; on shutdown it empties its buffer after the HTTP server has drained (phase service-stop).
        UsageWriter usage = UsageWriter.start(system, usageStore, usageSettings, blocking);
        // Records older than sluice.usage.retention become daily totals: shortly after start, then daily.
        UsageRollUp.start(system, new UsageRollUp(database, retention, Clock.systemUTC()), blocking);
        Optional<Path> dataFolder = DataFolder.embedded(config);
        StorageHealth storage = StorageHealth.start(system, () -> {
          if (dataFolder.isPresent()) DataFolder.requireFreeSpace(dataFolder.get(), storageSettings.minFreeSpace());
          usageStore.probe();
        }, storageSettings, blocking);
        usage.reportFailuresTo(e -> storage.failed("a usage insert", e));
        DataFolder.prepare(config);                                     // the database files H2 has just made: owner-only
        Authenticator auth = new Authenticator(keys, users, jwt, blocking);
        Drain drain = new Drain();
        Routes routes = new Routes(new Routes.Parts(edge, auth, users, services, gateways, tunnels, usageStore, usage,
            storage, drain, blocking, Clock.systemUTC(), system));
        api.close();
        ServerBinding binding = ApiServer.bind(system, edge, config, routes.all()).toCompletableFuture().get(30, TimeUnit.SECONDS);
        drainOnShutdown(system, binding, drain, edge.shutdownDeadline());
        management.close();
        PekkoManagement.get(system).start().toCompletableFuture().get(30, TimeUnit.SECONDS);
        if (members.bootstrap()) ClusterBootstrap.get(system.classicSystem()).start();
        // Ready while the database takes writes, once this node is an Up member (management's own membership check)
        // and has reached every HPC cluster once: a node joining in a rolling restart takes no request before that.
        EdgeReadiness.markReady(system.classicSystem(), () -> storage.writable() && bridges.values().stream()
            .allMatch(BridgeClusterGateway::reachedOnce));
        // Load balancers stop sending new requests as soon as a shutdown begins; the node keeps serving for the
        // unready delay, so their health checks see it before the port is unbound.
        CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "not-ready", () -> {
          EdgeReadiness.markNotReady(system.classicSystem());
          CompletionStage<Done> served = Patterns.after(members.unreadyDelay(), system.classicSystem().scheduler(),
              system.executionContext(), () -> CompletableFuture.completedFuture(Done.getInstance()));
          return served;
        });
        LOG.info("Sluice listening on http://{}:{} with {} services, {} API keys; management on port {}; gateway cluster: {}",
            edge.interfaceName(), binding.localAddress().getPort(), core.services().size(), keys.size(), edge.managementPort(),
            members.describe());
        return new Gateway(system, binding, services, bridges, edge);
      } catch (Exception e) {
        api.close();
        management.close();
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        throw e;
      }
    } catch (Exception | Error e) {
      transports.values().forEach(AgentTransport::discardPrestarted);
      throw e;
    }
  }

  /**
   * A graceful stop of the API port: new requests are refused at once, the port stops accepting, the requests in
   * flight run until the deadline (streams then end with an in-band error), and only then are connections closed.
   * The usage writer flushes after this (service-stop), the database closes last.
   */
  private static void drainOnShutdown(ActorSystem<Void> system, ServerBinding binding, Drain drain, Duration deadline) {
    CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
    shutdown.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "http-unbind", () -> {
      drain.stopTaking();
      return binding.unbind().thenApply(u -> Done.getInstance());
    });
    shutdown.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "http-drain", () -> drain.drain(deadline)
        .thenCompose(d -> binding.terminate(Duration.ofMillis(500)))
        .thenApply(t -> Done.getInstance()));
  }

  /**
   * After sharding has stopped the services (so nothing resubmits), cancel the jobs of clusters configured to, then
   * close the agent connections.
   */
  private static void closeClustersOnShutdown(ActorSystem<Void> system, Map<String, BridgeSettings> settings,
                                              Map<String, BridgeClusterGateway> bridges) {
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), "close-clusters", () -> {
      EdgeReadiness.markNotReady(system.classicSystem());
      List<CompletableFuture<?>> work = new ArrayList<>();
      bridges.forEach((name, bridge) -> {
        CompletableFuture<?> cancelled = settings.get(name).cancelJobsOnShutdown()
            ? cancelAll(bridge).toCompletableFuture() : CompletableFuture.completedFuture(null);
        work.add(cancelled.orTimeout(10, TimeUnit.SECONDS).handle((v, e) -> {
          if (e != null) LOG.warn("could not cancel the jobs of cluster {}: {}", name, e.getMessage());
          bridge.close();
          return null;
        }));
      });
      return CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)).thenApply(v -> Done.getInstance());
    });
  }

  private static CompletionStage<?> cancelAll(BridgeClusterGateway bridge) {
    return bridge.jobs().thenCompose(jobs -> {
      List<CompletableFuture<Boolean>> cancels = new ArrayList<>();
      for (JobSnapshot j : jobs) {
        if (!j.state().isFinal()) {
          LOG.info("cancelling job {} of {} on shutdown", j.jobId(), j.service());
          cancels.add(bridge.cancel(j.jobId()).toCompletableFuture());
        }
      }
      return CompletableFuture.allOf(cancels.toArray(CompletableFuture[]::new));
    });
  }

  public int port() { return binding.localAddress().getPort(); }

  public String baseUrl() { return "http://" + settings.interfaceName() + ":" + port(); }

  public ServiceDirectory services() { return services; }

  public BridgeClusterGateway cluster(String name) { return clusters.get(name); }

  public ActorSystem<Void> system() { return system; }

  /** Stops the gateway as a SIGTERM would: unbind, drain, stop services, close clusters, terminate. */
  @Override public void close() {
    CoordinatedShutdown.get(system).run(CoordinatedShutdown.unknownReason());
    try {
      system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("gateway did not stop within 60 s: {}", e.getMessage());
    }
  }

  /** Blocks until the actor system has terminated (after a signal or a fatal error). */
  public void awaitTermination() throws Exception {
    system.getWhenTerminated().toCompletableFuture().get();
  }

  /**
   * Why the gateway stopped, when it was not asked to (SIGTERM, {@link #close}): the cluster downed this node (the
   * split brain resolver put it on the losing side, or an operator downed it) or it could not join. Empty otherwise.
   */
  public Optional<String> stoppedByCluster() {
    return CoordinatedShutdown.get(system).getShutdownReason()
        .filter(r -> r instanceof CoordinatedShutdown.ClusterDowningReason$ || r instanceof CoordinatedShutdown.ClusterJoinUnsuccessfulReason$)
        .map(r -> r instanceof CoordinatedShutdown.ClusterDowningReason$ ? "this node was downed by the gateway cluster"
            : "this node could not join the gateway cluster");
  }
}
