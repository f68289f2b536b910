package sluice.core.config;

import java.time.Duration;

/** What core needs to know of one cluster: {@code sluice.clusters.<name>} over {@code sluice.cluster-defaults}. */
public record ClusterSettings(String name, Duration pollInterval) {}
