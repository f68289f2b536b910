package sluice.core.tunnel;

import java.time.Duration;

/** A live connection's load and latency, measured by a ping through every channel (the slowest one counts). */
public record TunnelSample(int channels, int streams, Duration roundTrip) {}
