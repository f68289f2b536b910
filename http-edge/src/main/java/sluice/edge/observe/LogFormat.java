package sluice.edge.observe;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import org.slf4j.LoggerFactory;

/**
 * {@code sluice.log.format}: {@code text} (logback.xml's pattern) or {@code json}, for log shippers. In JSON every log
 * event is one object from logback's own {@link JsonEncoder}, and each request-log line is its own object with the
 * request's fields at the top level (not inside a message string). Applied once per process, by {@code Main}.
 */
public final class LogFormat {
  private LogFormat() {}

  /** Whether the format is JSON; refuses anything but {@code text} and {@code json}. */
  public static boolean json(Config root) {
    String format = root.getString("sluice.log.format");
    return switch (format) {
      case "text" -> false;
      case "json" -> true;
      default -> throw new ConfigException.BadValue("sluice.log.format", "must be text or json, not '" + format + "'");
    };
  }

  /** Switches this process's console logging to JSON lines. */
  public static void useJson() {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) return;
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ConsoleAppender<ILoggingEvent> events = console(context, "JSON");
    JsonEncoder encoder = new JsonEncoder();
    encoder.setContext(context);
    // The message as a reader sees it, not its template and arguments; no per-event copy of the logger context.
    encoder.setWithFormattedMessage(true);
    encoder.setWithMessage(false);
    encoder.setWithArguments(false);
    encoder.setWithContext(false);
    encoder.setWithSequenceNumber(false);
    encoder.setWithNanoseconds(false);
    encoder.start();
    events.setEncoder(encoder);
    events.start();
    root.detachAndStopAllAppenders();
    root.addAppender(events);
    // The request log's message already is a JSON object: written as it is, one per line.
    ConsoleAppender<ILoggingEvent> requests = console(context, "REQUEST_JSON");
    PatternLayoutEncoder plain = new PatternLayoutEncoder();
    plain.setContext(context);
    plain.setPattern("%msg%n");
    plain.start();
    requests.setEncoder(plain);
    requests.start();
    Logger requestLog = context.getLogger(RequestLog.LOGGER);
    requestLog.setAdditive(false);
    requestLog.addAppender(requests);
  }

  private static ConsoleAppender<ILoggingEvent> console(LoggerContext context, String name) {
    ConsoleAppender<ILoggingEvent> a = new ConsoleAppender<>();
    a.setContext(context);
    a.setName(name);
    return a;
  }
}
