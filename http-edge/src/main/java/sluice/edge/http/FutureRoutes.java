package sluice.edge.http;

import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.server.Directives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.server.directives.RouteAdapter;
import org.apache.pekko.http.scaladsl.server.RequestContext;
import org.apache.pekko.http.scaladsl.server.RouteResult;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;
import scala.util.Failure;
import scala.util.Try;

/**
 * {@code onSuccess} and {@code onComplete} as Pekko HTTP's Java DSL has them, but continuing on the request's own
 * dispatcher. The Java DSL's versions (Pekko HTTP 1.3) pass every answer through Scala's global thread pool first, to
 * unwrap a {@code CompletionException}: each answer not there at once (a request's admission, its forward, its body)
 * woke a thread of that pool and then one of the dispatcher again (docs/operations.md, "Thread hand-offs"). Same
 * signatures, so a static import of these replaces the Java DSL's.
 */
final class FutureRoutes {
  private FutureRoutes() {}

  /** The inner route with the stage's value; a failed stage fails the route with its cause, as the Java DSL's does. */
  static <T> Route onSuccess(CompletionStage<T> stage, Function<T, Route> inner) {
    return onComplete(stage, result -> result.isSuccess() ? inner.apply(result.get())
        : Directives.failWith(result.failed().get()));
  }

  /** The inner route with the stage's outcome, a {@code CompletionException} replaced by its cause. */
  static <T> Route onComplete(CompletionStage<T> stage, Function<Try<T>, Route> inner) {
    return RouteAdapter.apply(ctx -> {
      Future<T> future = FutureConverters.asScala(stage);
      // An answer already there continues at once, as the Java DSL's does (its FastFuture); a later one on the dispatcher.
      if (future.isCompleted()) return run(inner, future.value().get(), ctx);
      return future.transformWith(result -> run(inner, result, ctx), ctx.executionContext());
    });
  }

  private static <T> Future<RouteResult> run(Function<Try<T>, Route> inner, Try<T> result, RequestContext ctx) {
    return inner.apply(unwrapped(result)).asScala().apply(ctx);
  }

  private static <T> Try<T> unwrapped(Try<T> result) {
    if (result.isSuccess()) return result;
    Throwable t = result.failed().get();
    return t instanceof CompletionException && t.getCause() != null ? new Failure<>(t.getCause()) : result;
  }
}
