package sluice.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.core.cluster.SlurmState;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.SlurmJobActor;
import sluice.core.service.ServiceActor;
import sluice.core.user.Limits;
import sluice.core.user.SavedCounters;
import sluice.core.user.UserActor;
import sluice.core.user.UserLimits;
import sluice.core.user.Window;

/**
 * Journals and snapshots written by earlier releases must still replay. {@code stored-format/1.txt} holds, for one
 * sample of every persisted event and state, the serializer id, manifest and bytes that the release before the typed
 * refusals wrote (issue 11), and those of the users' counters in durable state as the release that introduced them
 * wrote them (issue 13); this test decodes them with today's classes and compares with the same samples built now. Regenerate only for a deliberate format change (with a migration): {@code -Dsluice.stored-format.write=true}.
 */
class StoredFormatTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  static final Path FIXTURE = Path.of("src/test/resources/stored-format/1.txt");
  static final Instant T = Instant.parse("2026-11-02T03:04:05.123Z");

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  /** One sample per persisted type; maps hold at most one entry, so their order cannot matter. */
  static Map<String, Object> samples() {
    Limits limits = new Limits(Map.of(Window.MINUTE, 60L), Map.of(Window.DAY, 2000L), 4);
    UserLimits userLimits = new UserLimits(limits, Map.of("big-model", new Limits(Map.of(Window.HOUR, 5L), Map.of(), null)));
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("service.created", new ServiceActor.Created(T));
    s.put("service.submit-intended", new ServiceActor.SubmitIntended("sluice.0123456789abcdef", T));
    s.put("service.job-tracked", new ServiceActor.JobTracked("sluice.0123456789abcdef", "4711", T));
    s.put("service.intent-dropped", new ServiceActor.IntentDropped("sluice.0123456789abcdef", "sbatch failed", T));
    s.put("service.job-forgotten", new ServiceActor.JobForgotten("4711", "COMPLETED exit 0", T));
    s.put("service.scale-set", new ServiceActor.ScaleSet(0, 3, T));
    s.put("service.state", new ServiceActor.State(T, Map.of("sluice.fedcba9876543210", T),
        Map.of("4711", new ServiceActor.TrackedJob("4711", "sluice.0123456789abcdef", T)), 1, 2));
    s.put("job.started", new SlurmJobActor.Started("gpu-07", T, T.plusSeconds(3600)));
    s.put("job.became-ready", new SlurmJobActor.BecameReady(T));
    s.put("job.drain-started", new SlurmJobActor.DrainStarted("renewed", T));
    s.put("job.ended", new SlurmJobActor.Ended(SlurmState.TIMEOUT, "TIMEOUT exit 0", T));
    s.put("job.state", new SlurmJobActor.State(ReplicaPhase.DRAINING, "gpu-07", T, T.plusSeconds(3600), T.plusSeconds(60),
        T.plusSeconds(120), "scale down", null, null, null));
    s.put("user.created", new UserActor.UserCreated(List.of("staff"), "oidc", userLimits, T));
    s.put("user.groups-changed", new UserActor.GroupsChanged(List.of("/org/unit", "Domain Users"), T));
    s.put("user.limits-changed", new UserActor.LimitsChanged(userLimits, T));
    s.put("user.key-created", new UserActor.KeyCreated("key_0123456789abcdef01234567", "ab".repeat(32), "laptop", T,
        T.plusSeconds(86400), List.of("big-model"), limits));
    s.put("user.key-revoked", new UserActor.KeyRevoked("key_0123456789abcdef01234567", T));
    s.put("user.counters-saved", new UserActor.CountersSaved(List.of(new UserActor.ScopeCount("model:big-model",
        List.of(new UserActor.WindowCount(Window.DAY, Instant.parse("2026-11-02T00:00:00Z"), 12, 3456)))), T));
    // Durable state since issue 13 (the users' counters): pinned from the release that introduced it.
    s.put("user.saved-counters", new SavedCounters(List.of(new UserActor.ScopeCount("key:key_0123456789abcdef01234567",
        List.of(new UserActor.WindowCount(Window.MINUTE, Instant.parse("2026-11-02T03:04:00Z"), 7, 890)))), T));
    s.put("user.state", new UserActor.State(T, "admin", List.of("staff"), userLimits,
        Map.of("key_0123456789abcdef01234567", new UserActor.Key("key_0123456789abcdef01234567", "cd".repeat(32), "ci",
            T, null, List.of(), Limits.NONE, T.plusSeconds(5))),
        List.of(new UserActor.ScopeCount("user", List.of(new UserActor.WindowCount(Window.MONTH,
            Instant.parse("2026-11-01T00:00:00Z"), 1, 2))))));
    return s;
  }

  record Stored(String name, int serializer, String manifest, byte[] bytes) {}

  static List<Stored> read() throws IOException {
    List<Stored> out = new ArrayList<>();
    for (String line : Files.readAllLines(FIXTURE, StandardCharsets.UTF_8)) {
      if (line.isBlank() || line.startsWith("#")) continue;
      String[] f = line.split(" ", 4);
      out.add(new Stored(f[0], Integer.parseInt(f[1]), f[2], HexFormat.of().parseHex(f[3])));
    }
    return out;
  }

  @Test void eventsAndSnapshotsOfTheEarlierReleaseStillDecode() throws IOException {
    Serialization serialization = SerializationExtension.get(testKit.system().classicSystem());
    Map<String, Object> samples = samples();
    if (Boolean.getBoolean("sluice.stored-format.write")) {
      StringBuilder out = new StringBuilder("# name serializer-id manifest hex (see StoredFormatTest)\n");
      samples.forEach((name, sample) -> {
        Serializer ser = serialization.findSerializerFor(sample);
        out.append(name).append(' ').append(ser.identifier()).append(' ').append(Serializers.manifestFor(ser, sample))
            .append(' ').append(HexFormat.of().formatHex(ser.toBinary(sample))).append('\n');
      });
      Files.createDirectories(FIXTURE.getParent());
      Files.writeString(FIXTURE, out, StandardCharsets.UTF_8);
    }
    List<Stored> stored = read();
    assertEquals(samples.keySet(), stored.stream().map(Stored::name).collect(java.util.stream.Collectors.toSet()),
        "one stored sample per persisted type");
    for (Stored st : stored) {
      Object decoded = serialization.deserialize(st.bytes(), st.serializer(), st.manifest()).get();
      assertEquals(samples.get(st.name()), decoded, st.name() + " decodes to the same value");
    }
    assertTrue(stored.size() >= 20);
  }
}
