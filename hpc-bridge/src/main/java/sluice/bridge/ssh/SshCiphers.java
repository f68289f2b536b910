package sluice.bridge.ssh;

import com.hierynomus.sshj.transport.cipher.BlockCiphers;
import com.hierynomus.sshj.transport.cipher.ChachaPolyCiphers;
import com.hierynomus.sshj.transport.cipher.GcmCipher;
import com.hierynomus.sshj.transport.mac.Macs;
import java.security.GeneralSecurityException;
import java.util.List;
import net.schmizz.sshj.common.Factory;
import net.schmizz.sshj.transport.cipher.Cipher;
import net.schmizz.sshj.transport.mac.MAC;

/**
 * The ciphers and MACs the gateway offers a login node, in order of preference (the client's order decides in SSH).
 *
 * <p>AES-GCM comes first, computed by the JDK's own provider ({@code SunJCE}), which uses the CPU's AES and carry-less
 * multiply instructions. sshj takes every cipher from BouncyCastle when BouncyCastle is on the class path (it is, as a
 * dependency of sshj), and BouncyCastle's AES and ChaCha20-Poly1305 are plain Java: 7-13 ns per byte decrypted on the
 * bench machine against 0.2-1.5 for the JDK's AES-GCM (docs/operations.md "SSH ciphers"), and every byte of every
 * stream from the login node is decrypted on the connection's one reader thread. ChaCha20-Poly1305 and AES-CTR stay as
 * fallbacks for servers without GCM; CBC modes, RC4, 3DES and the other legacy ciphers sshj would offer, and MACs
 * weaker than HMAC-SHA2, are not offered at all.
 */
final class SshCiphers {
  private SshCiphers() {}

  static final String PREFERRED = "aes256-gcm@openssh.com";

  static List<Factory.Named<Cipher>> ciphers() {
    return List.of(new JdkGcm(PREFERRED, 32), new JdkGcm("aes128-gcm@openssh.com", 16),
        ChachaPolyCiphers.CHACHA_POLY_OPENSSH(), BlockCiphers.AES256CTR(), BlockCiphers.AES192CTR(),
        BlockCiphers.AES128CTR());
  }

  /** Only used with an AES-CTR fallback: the AEAD ciphers authenticate themselves. */
  static List<Factory.Named<MAC>> macs() {
    return List.of(Macs.HMACSHA2256Etm(), Macs.HMACSHA2512Etm(), Macs.HMACSHA2256(), Macs.HMACSHA2512());
  }

  /** {@code aesN-gcm@openssh.com} (RFC 5647 as OpenSSH implements it) on the JDK's provider. */
  static final class JdkGcm implements Factory.Named<Cipher> {
    private final String name;
    private final int keyBytes;

    JdkGcm(String name, int keyBytes) {
      this.name = name;
      this.keyBytes = keyBytes;
    }

    @Override public String getName() { return name; }

    // The same sizes as sshj's own factory: a 12-byte IV, a 16-byte tag.
    @Override public Cipher create() { return new JdkGcmCipher(keyBytes); }

    @Override public String toString() { return name; }
  }

  /**
   * sshj's GCM packet handling (IV counter, AAD, tag) with the JDK's AES-GCM underneath: sshj made its cipher from
   * the registered provider just before; it is replaced before first use. A JDK without {@code SunJCE} keeps sshj's.
   */
  static final class JdkGcmCipher extends GcmCipher {
    JdkGcmCipher(int keyBytes) {
      super(12, 16, keyBytes, "AES", "AES/GCM/NoPadding");
    }

    @Override protected void initCipher(javax.crypto.Cipher fromSshj, Mode mode, byte[] key, byte[] iv)
        throws java.security.InvalidKeyException, java.security.InvalidAlgorithmParameterException {
      try {
        cipher = javax.crypto.Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
      } catch (GeneralSecurityException noSunJce) {
        cipher = fromSshj;
      }
      super.initCipher(cipher, mode, key, iv);
    }

    /** The provider doing the work (SshCiphersTest checks it is the JDK's). */
    String provider() { return cipher == null ? "none" : cipher.getProvider().getName(); }
  }
}
