package sluice.edge.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.edge.TimeBound;
import sluice.edge.http.OpenAiJson;
import sluice.persistence.usage.UsageFilter;

/**
 * {@code sluice admin}: users, API keys and usage through the gateway's admin API. Every value is checked before
 * anything is sent; the gateway's JSON is printed pretty, CSV as it comes.
 * Exit codes: 0 done, 1 the gateway refused or could not be reached, 2 bad usage.
 */
public final class AdminCli {
  static final int EXIT_REFUSED = 1;
  static final String DEFAULT_URL = "http://127.0.0.1:8080";
  private static final Pattern PRINTABLE = Pattern.compile("[\\x21-\\x7e]+");
  /** Decimals as written (a cost of 0.000123 stays that, not 1.23E-4). */
  private static final ObjectReader EXACT = OpenAiJson.MAPPER.reader().with(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
  private static final ObjectWriter PRETTY = OpenAiJson.MAPPER.writer(new DefaultPrettyPrinter()
      .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
      .withObjectIndenter(new DefaultIndenter("  ", "\n"))
      .withArrayIndenter(new DefaultIndenter("  ", "\n")))
      .with(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN);

  private AdminCli() {}

  /** Opens the way to a gateway with an admin key; tests pass a fake. */
  @FunctionalInterface
  public interface Transports {
    AdminTransport open(URI gateway, String adminKey);
  }

  /** Everything a command touches outside its arguments. */
  record Context(Map<String, String> env, PrintWriter out, PrintWriter err, Clock clock, Transports transports) {}

  /** Runs one command with the process's environment, streams and clock, over HTTP; returns the exit code. */
  public static int run(String... args) {
    return run(args, new Context(System.getenv(), new PrintWriter(System.out), new PrintWriter(System.err),
        Clock.systemUTC(), HttpAdminTransport::new));
  }

  static int run(String[] args, Context ctx) {
    try {
      return commandLine(ctx).execute(args);
    } finally {
      ctx.out().flush();
      ctx.err().flush();
    }
  }

  static CommandLine commandLine(Context ctx) {
    Admin admin = new Admin(ctx);
    CommandLine cl = new CommandLine(admin)
        .addSubcommand(new CommandLine(new Users())
            .addSubcommand(new UsersCreate(admin))
            .addSubcommand(new UsersList(admin))
            .addSubcommand(new UsersGet(admin))
            .addSubcommand(new UsersUpdate(admin)))
        .addSubcommand(new CommandLine(new Keys())
            .addSubcommand(new KeysCreate(admin))
            .addSubcommand(new KeysRevoke(admin)))
        .addSubcommand(new Usage(admin));
    // registered after the tree is built: a converter reaches only the commands that exist when it is registered
    cl.registerConverter(UserId.class, checked(UserId::of))
        .registerConverter(GroupName.class, checked(GroupName::of))
        .registerConverter(ServiceId.class, checked(ServiceId::of))
        .registerConverter(KeyId.class, checked(KeyId::of))
        .registerConverter(KeyName.class, checked(KeyName::of))
        .registerConverter(Args.Lifetime.class, checked(Args.Lifetime::parse))
        .registerConverter(TimeBound.class, checked(TimeBound::parse))
        .registerConverter(Instant.class, checked(Args::instant))
        .registerConverter(LimitSpecs.Setting.class, checked(LimitSpecs.Setting::parse));
    cl.setOut(ctx.out()).setErr(ctx.err()).setUsageHelpWidth(100);
    return cl;
  }

  /** A converter whose message is the value's own complaint, not picocli's "cannot convert ... to UserId". */
  private static <T> ITypeConverter<T> checked(Function<String, T> parse) {
    return text -> {
      try {
        return parse.apply(text);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    };
  }

  // ---------------------------------------------------------------- the command tree

  @Command(name = "sluice admin", synopsisSubcommandLabel = "COMMAND",
      description = "Manage users, API keys and usage through a Sluice gateway's admin API.",
      footerHeading = "%nEnvironment:%n",
      footer = {"  SLUICE_URL         the gateway (default " + DEFAULT_URL + ")",
          "  SLUICE_ADMIN_KEY   the admin key (the gateway's sluice.admin.key) unless --admin-key-file is given",
          "", "Exit codes: 0 done, 1 the gateway refused or is unreachable, 2 bad usage."})
  static final class Admin {
    final Context ctx;

    @Option(names = "--url", paramLabel = "URL", scope = ScopeType.INHERIT,
        description = "The gateway's base URL (default: $SLUICE_URL, else " + DEFAULT_URL + ").")
    String url;

    @Option(names = "--admin-key-file", paramLabel = "FILE", scope = ScopeType.INHERIT,
        description = "Read the admin key from FILE instead of $SLUICE_ADMIN_KEY.")
    Path adminKeyFile;

    /** Only to refuse it with a reason: a key in the arguments is visible to every user of the machine. */
    @Option(names = "--admin-key", hidden = true, scope = ScopeType.INHERIT)
    String adminKeyArgument;

    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Show this help.")
    boolean help;

    Admin(Context ctx) { this.ctx = ctx; }

    /** Sends the request and prints the answer; the exit code. */
    int send(CommandSpec spec, AdminTransport.Request request, boolean raw) {
      URI gateway = gateway(spec);
      AdminTransport transport = ctx.transports().open(gateway, adminKey(spec));
      AdminTransport.Response resp;
      try {
        resp = transport.send(request);
      } catch (IOException e) {
        ctx.err().println("sluice admin: " + unreachable(gateway, e));
        return EXIT_REFUSED;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        ctx.err().println("sluice admin: interrupted while waiting for " + gateway);
        return EXIT_REFUSED;
      }
      if (resp.status() < 200 || resp.status() > 299) {
        ctx.err().println("sluice admin: " + refusal(resp));
        return EXIT_REFUSED;
      }
      ctx.out().print(raw ? withNewline(resp.body()) : pretty(resp.body()));
      return 0;
    }

    void refuseKeyArgument(CommandSpec spec) {
      if (adminKeyArgument != null) {
        throw new ParameterException(spec.commandLine(), "the admin key is never taken as an argument (other users of this "
            + "machine could read it with ps): set SLUICE_ADMIN_KEY or pass --admin-key-file FILE");
      }
    }

    private URI gateway(CommandSpec spec) {
      String from = url != null ? "--url" : "SLUICE_URL";
      String text = url != null ? url : ctx.env().getOrDefault("SLUICE_URL", "");
      if (text.isBlank()) return URI.create(DEFAULT_URL);
      URI u;
      try {
        u = new URI(text.strip());
      } catch (URISyntaxException e) {
        u = null;
      }
      if (u == null || !("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null
          || u.getRawQuery() != null || u.getRawFragment() != null) {
        throw new ParameterException(spec.commandLine(), from + " must be an http(s) URL such as " + DEFAULT_URL + ", not '"
            + (u != null && u.getRawUserInfo() != null ? "(a URL with a user and password)" : text) + "'");
      }
      if (u.getRawUserInfo() != null) {
        throw new ParameterException(spec.commandLine(), from + " must not hold a user or password: the admin key is the credential");
      }
      return u;
    }

    private String adminKey(CommandSpec spec) {
      String key;
      String from;
      if (adminKeyFile != null) {
        from = "--admin-key-file " + adminKeyFile;
        try {
          key = Files.readString(adminKeyFile).strip();
        } catch (NoSuchFileException e) {
          throw new ParameterException(spec.commandLine(), "no such file: " + adminKeyFile + " (--admin-key-file)");
        } catch (MalformedInputException e) {
          throw new ParameterException(spec.commandLine(), from + " is not a text file");
        } catch (IOException e) {
          throw new ParameterException(spec.commandLine(), "cannot read " + adminKeyFile + " (--admin-key-file): " + e);
        }
        if (key.isEmpty()) throw new ParameterException(spec.commandLine(), adminKeyFile + " is empty (--admin-key-file)");
      } else {
        from = "SLUICE_ADMIN_KEY";
        key = ctx.env().getOrDefault("SLUICE_ADMIN_KEY", "").strip();
        if (key.isEmpty()) {
          throw new ParameterException(spec.commandLine(), "no admin key: set SLUICE_ADMIN_KEY or pass --admin-key-file FILE");
        }
      }
      // never echo the key: only say what is wrong with it
      if (!PRINTABLE.matcher(key).matches()) {
        throw new ParameterException(spec.commandLine(), "the admin key from " + from + " must be one line of printable "
            + "characters without spaces");
      }
      return key;
    }
  }

  @Command(name = "users", synopsisSubcommandLabel = "COMMAND", description = "Create, list, show and update users.")
  static final class Users {}

  @Command(name = "keys", synopsisSubcommandLabel = "COMMAND", description = "Create and revoke a user's API keys.")
  static final class Keys {}

  /** A leaf command: one admin API call. */
  abstract static class Call implements Callable<Integer> {
    @Spec CommandSpec spec;
    final Admin admin;

    Call(Admin admin) { this.admin = admin; }

    /** The call to make, after checking the arguments together; throws {@link #usage} when they do not fit. */
    abstract AdminTransport.Request request();

    /** Prints the body as it comes (CSV) rather than as pretty JSON. */
    boolean raw() { return false; }

    void succeeded() {}

    @Override public Integer call() {
      admin.refuseKeyArgument(spec);
      int exit = admin.send(spec, request(), raw());
      if (exit == 0) succeeded();
      return exit;
    }

    final ParameterException usage(String message) { return new ParameterException(spec.commandLine(), message); }

    /** LIMITS from the options, or null when none is given. */
    final ObjectNode limits(String json, List<LimitSpecs.Setting> settings, boolean perModel) {
      try {
        return LimitSpecs.build(json, settings, perModel);
      } catch (IllegalArgumentException e) {
        throw usage(e.getMessage());
      }
    }
  }

  /** The limit options of a user. */
  static final class UserLimitOptions {
    @Option(names = "--limit", paramLabel = "SPEC", description = "A limit (repeatable): requests.WINDOW=N, tokens.WINDOW=N "
        + "or concurrent=N, with WINDOW minute, hour, day or month; after model:NAME: for one model (model:m1:requests.minute=5). "
        + "Applied on top of --limits.")
    List<LimitSpecs.Setting> settings = new ArrayList<>();

    @Option(names = "--limits", paramLabel = "JSON", description = "All limits as JSON: "
        + "{\"requests\":{\"minute\":60},\"tokens\":{\"day\":100000},\"concurrent\":4,\"models\":{\"m1\":{...}}}.")
    String json;
  }

  @Command(name = "create", description = "Create a user.")
  static final class UsersCreate extends Call {
    @Parameters(index = "0", paramLabel = "ID", description = "The user's id.") UserId id;

    @Option(names = "--group", paramLabel = "GROUP", description = "A group of the user (repeatable); groups carry default limits.")
    List<GroupName> groups = new ArrayList<>();

    @Mixin UserLimitOptions limitOptions;

    UsersCreate(Admin admin) { super(admin); }

    @Override AdminTransport.Request request() {
      ObjectNode body = OpenAiJson.MAPPER.createObjectNode().put("id", id.value());
      if (!groups.isEmpty()) body.set("groups", groupArray(groups));
      ObjectNode limits = limits(limitOptions.json, limitOptions.settings, true);
      if (limits != null) body.set("limits", limits);
      return AdminTransport.Request.of("POST", "/admin/users", body);
    }
  }

  @Command(name = "list", description = "List the users' ids.")
  static final class UsersList extends Call {
    UsersList(Admin admin) { super(admin); }

    @Override AdminTransport.Request request() { return AdminTransport.Request.of("GET", "/admin/users", null); }
  }

  @Command(name = "get", description = "Show a user: groups, limits, keys and current counters.")
  static final class UsersGet extends Call {
    @Parameters(index = "0", paramLabel = "ID", description = "The user's id.") UserId id;

    UsersGet(Admin admin) { super(admin); }

    @Override AdminTransport.Request request() { return AdminTransport.Request.of("GET", "/admin/users/" + id.value(), null); }
  }

  @Command(name = "update", description = {"Change a user's groups and/or limit overrides.",
      "The groups given replace the user's groups; the limits given replace the user's overrides (--limits '{}' clears them)."})
  static final class UsersUpdate extends Call {
    @Parameters(index = "0", paramLabel = "ID", description = "The user's id.") UserId id;

    @Option(names = "--group", paramLabel = "GROUP", description = "A group of the user (repeatable); replaces the groups.")
    List<GroupName> groups = new ArrayList<>();

    @Option(names = "--no-groups", description = "Remove the user from every group.")
    boolean noGroups;

    @Mixin UserLimitOptions limitOptions;

    UsersUpdate(Admin admin) { super(admin); }

    @Override AdminTransport.Request request() {
      if (noGroups && !groups.isEmpty()) throw usage("--group and --no-groups cannot be used together");
      ObjectNode body = OpenAiJson.MAPPER.createObjectNode();
      if (noGroups || !groups.isEmpty()) body.set("groups", groupArray(groups));
      ObjectNode limits = limits(limitOptions.json, limitOptions.settings, true);
      if (limits != null) body.set("limits", limits);
      if (body.isEmpty()) throw usage("nothing to change: give --group, --no-groups, --limit or --limits");
      return AdminTransport.Request.of("PATCH", "/admin/users/" + id.value(), body);
    }
  }

  @Command(name = "create", description = {"Create an API key for a user and print it.",
      "The key's secret is shown only in this answer: store it at once."})
  static final class KeysCreate extends Call {
    @Parameters(index = "0", paramLabel = "USER", description = "The id of the user the key belongs to.") UserId user;

    @Option(names = "--name", paramLabel = "NAME", description = "A name to tell the user's keys apart (e.g. laptop).")
    KeyName name;

    @Option(names = "--expires-at", paramLabel = "INSTANT", description = "When the key stops working (2026-12-31T00:00:00Z).")
    Instant expiresAt;

    @Option(names = "--expires-in", paramLabel = "DURATION", description = "Or how long it works from now: 90m, 12h, 30d.")
    Args.Lifetime expiresIn;

    @Option(names = "--model", paramLabel = "MODEL", description = "A model the key may use (repeatable; default: all).")
    List<ServiceId> models = new ArrayList<>();

    @Option(names = "--limit", paramLabel = "SPEC", description = "A limit of the key, on top of the user's (repeatable): "
        + "requests.WINDOW=N, tokens.WINDOW=N or concurrent=N, with WINDOW minute, hour, day or month.")
    List<LimitSpecs.Setting> settings = new ArrayList<>();

    KeysCreate(Admin admin) { super(admin); }

    @Override AdminTransport.Request request() {
      if (expiresAt != null && expiresIn != null) throw usage("--expires-at and --expires-in cannot be used together");
      Instant now = admin.ctx.clock().instant();
      if (expiresAt != null && !expiresAt.isAfter(now)) throw usage("--expires-at " + expiresAt + " is not in the future");
      Instant expires = expiresIn != null ? now.plus(expiresIn.duration()).truncatedTo(ChronoUnit.SECONDS) : expiresAt;
      ObjectNode body = OpenAiJson.MAPPER.createObjectNode();
      if (name != null) body.put("name", name.value());
      if (expires != null) body.put("expires_at", expires.toString());
      if (!models.isEmpty()) {
        ArrayNode a = body.putArray("models");
        new LinkedHashSet<>(models).forEach(m -> a.add(m.value()));
      }
      ObjectNode limits = limits(null, settings, false);
      if (limits != null) body.set("limits", limits);
      return AdminTransport.Request.of("POST", "/admin/users/" + user.value() + "/keys", body);
    }

    @Override void succeeded() {
      admin.ctx.err().println("sluice admin: the key (\"key\") is shown only this once and cannot be retrieved later: store it now");
    }
  }

  @Command(name = "revoke", description = "Revoke an API key at once.")
  static final class KeysRevoke extends Call {
    @Parameters(index = "0", paramLabel = "KEY_ID", description = "The key's id (key_...), not its secret.") KeyId id;

    KeysRevoke(Admin admin) { super(admin); }

    @Override AdminTransport.Request request() { return AdminTransport.Request.of("DELETE", "/admin/keys/" + id.value(), null); }
  }

  @Command(name = "usage", description = {"Show recorded usage: totals, per user and model, and the records.",
      "Times are dates (2026-11-01) or ISO-8601 instants in UTC (2026-11-01T00:00:00Z)."})
  static final class Usage extends Call {

    @Option(names = "--user", paramLabel = "USER", description = "Only this user's usage.") UserId user;

    @Option(names = "--model", paramLabel = "MODEL", description = "Only this model's usage.") ServiceId model;

    @Option(names = "--from", paramLabel = "TIME", description = "From this time on.") TimeBound from;

    @Option(names = "--to", paramLabel = "TIME", description = "Up to this time.") TimeBound to;

    @Option(names = "--limit", paramLabel = "N", description = "At most N records.") Integer limit;

    @Option(names = "--csv", description = "The records as CSV, for a spreadsheet.") boolean csv;

    Usage(Admin admin) { super(admin); }

    @Override AdminTransport.Request request() {
      if (from != null && to != null && from.after(to)) throw usage("--from " + from.text() + " is after --to " + to.text());
      if (limit != null && (limit < 1 || limit > UsageFilter.MAX_RECORDS)) throw usage("--limit must be in 1.." + UsageFilter.MAX_RECORDS);
      Map<String, String> q = new LinkedHashMap<>();
      if (user != null) q.put("user", user.value());
      if (model != null) q.put("model", model.value());
      if (from != null) q.put("from", from.text());
      if (to != null) q.put("to", to.text());
      if (limit != null) q.put("limit", limit.toString());
      if (csv) q.put("format", "csv");
      return new AdminTransport.Request("GET", "/admin/usage", q, null);
    }

    @Override boolean raw() { return csv; }
  }

  // ---------------------------------------------------------------- rendering

  private static ArrayNode groupArray(List<GroupName> groups) {
    ArrayNode a = OpenAiJson.MAPPER.createArrayNode();
    new LinkedHashSet<>(groups).forEach(g -> a.add(g.value()));
    return a;
  }

  /** The body as indented JSON; as it comes when it is not JSON. */
  static String pretty(String body) {
    if (body.isBlank()) return "";
    try {
      return PRETTY.writeValueAsString(EXACT.readTree(body)) + "\n";
    } catch (JsonProcessingException e) {
      return withNewline(body);
    }
  }

  private static String withNewline(String s) { return s.isEmpty() || s.endsWith("\n") ? s : s + "\n"; }

  /** "message (code, HTTP status)" from an OpenAI error body, else the status and the start of the body. */
  static String refusal(AdminTransport.Response resp) {
    try {
      JsonNode error = OpenAiJson.MAPPER.readTree(resp.body()).path("error");
      if (error.path("message").isTextual()) {
        String code = error.path("code").isTextual() ? error.path("code").asText()
            : error.path("type").isTextual() ? error.path("type").asText() : null;
        return error.path("message").asText() + " (" + (code != null ? code + ", " : "") + "HTTP " + resp.status() + ")";
      }
    } catch (JsonProcessingException notJson) {
      // a proxy's or an older gateway's page: show its start below
    }
    String text = resp.body().strip().replaceAll("\\s+", " ");
    if (text.length() > 200) text = text.substring(0, 200) + "...";
    return "the gateway answered HTTP " + resp.status() + (text.isEmpty() ? "" : ": " + text);
  }

  static String unreachable(URI gateway, IOException e) {
    if (e instanceof HttpConnectTimeoutException) return "cannot reach the gateway at " + gateway + " (connection timed out)";
    if (e instanceof HttpTimeoutException) {
      return "the gateway at " + gateway + " did not answer within " + HttpAdminTransport.RESPONSE_TIMEOUT.toMinutes() + " minutes";
    }
    // the JDK client nests ConnectExceptions without messages around the channel's exception
    String why = null;
    for (Throwable t = e; t != null && why == null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) why = "unknown host";
      else if (t.getMessage() != null && !t.getMessage().isBlank()) why = t.getMessage();
    }
    if (why == null) why = e instanceof ConnectException ? "connection refused" : e.getClass().getSimpleName();
    return "cannot reach the gateway at " + gateway + " (" + why + ")";
  }
}
