package sluice.core.service;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The unique tag a job is submitted with, {@code <deployment>.<16 hex>}: persisted as an intent before sbatch, so after
 * a crash it finds the job on the cluster; the prefix tells this deployment's jobs from others'.
 */
final class SubmissionTag {
  private SubmissionTag() {}

  private static final SecureRandom RANDOM = new SecureRandom();

  static String next(String deployment) {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return prefix(deployment) + HexFormat.of().formatHex(b);
  }

  static String prefix(String deployment) { return deployment + "."; }
}
