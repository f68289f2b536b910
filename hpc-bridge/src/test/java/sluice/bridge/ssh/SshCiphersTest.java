package sluice.bridge.ssh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.hierynomus.sshj.transport.cipher.GcmCiphers;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.schmizz.sshj.common.Factory;
import net.schmizz.sshj.common.SSHRuntimeException;
import net.schmizz.sshj.transport.cipher.Cipher;
import org.junit.jupiter.api.Test;

class SshCiphersTest {
  private static final Random RANDOM = new Random(7);

  @Test void offersAesGcmFirstAndNoLegacyCipherOrMac() {
    List<String> ciphers = SshCiphers.ciphers().stream().map(Factory.Named::getName).toList();
    assertEquals(List.of("aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com",
        "aes256-ctr", "aes192-ctr", "aes128-ctr"), ciphers);
    List<String> macs = SshCiphers.macs().stream().map(Factory.Named::getName).toList();
    assertEquals(List.of("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256",
        "hmac-sha2-512"), macs);
  }

  @Test void theJdkProviderDoesTheWork() {
    SshCiphers.JdkGcmCipher c = (SshCiphers.JdkGcmCipher) SshCiphers.ciphers().get(0).create();
    c.init(Cipher.Mode.Decrypt, bytes(32), bytes(12));
    assertEquals("SunJCE", c.provider());
  }

  /** Packets sealed by one side open on the other, whichever implementation each side uses, key after key. */
  @Test void speaksTheSameWireFormatAsSshjsOwnGcm() {
    checkBothWays(SshCiphers.ciphers().get(0), GcmCiphers.AES256GCM(), 32);
    checkBothWays(SshCiphers.ciphers().get(1), GcmCiphers.AES128GCM(), 16);
  }

  @Test void aTamperedPacketIsRefused() {
    byte[] key = bytes(32);
    byte[] iv = bytes(12);
    Cipher sealer = SshCiphers.ciphers().get(0).create();
    sealer.init(Cipher.Mode.Encrypt, key, iv);
    Cipher opener = SshCiphers.ciphers().get(0).create();
    opener.init(Cipher.Mode.Decrypt, key, iv);
    byte[] packet = seal(sealer, "hello login node".getBytes());
    packet[9] ^= 1;
    assertThrows(SSHRuntimeException.class, () -> open(opener, packet));
  }

  private static void checkBothWays(Factory.Named<Cipher> ours, Factory.Named<Cipher> sshjs, int keyBytes) {
    byte[] key = bytes(keyBytes);
    byte[] iv = bytes(12);
    Cipher ourSealer = init(ours, Cipher.Mode.Encrypt, key, iv);
    Cipher theirOpener = init(sshjs, Cipher.Mode.Decrypt, key, iv);
    Cipher theirSealer = init(sshjs, Cipher.Mode.Encrypt, key, iv);
    Cipher ourOpener = init(ours, Cipher.Mode.Decrypt, key, iv);
    for (int size : new int[] {16, 300, 32_768, 48}) {             // the IV counter moves on with every packet
      byte[] payload = bytes(size);
      assertArrayEquals(payload, open(theirOpener, seal(ourSealer, payload)), ours.getName() + " → sshj, " + size);
      assertArrayEquals(payload, open(ourOpener, seal(theirSealer, payload)), "sshj → ours, " + size);
    }
  }

  private static Cipher init(Factory.Named<Cipher> f, Cipher.Mode mode, byte[] key, byte[] iv) {
    Cipher c = f.create();
    c.init(mode, key, iv);
    return c;
  }

  /** An SSH packet as sshj seals it: a 4-byte length in the clear (authenticated), then the payload and the tag. */
  private static byte[] seal(Cipher c, byte[] payload) {
    byte[] packet = new byte[4 + payload.length + c.getAuthenticationTagSize()];
    packet[3] = (byte) payload.length;
    System.arraycopy(payload, 0, packet, 4, payload.length);
    c.updateAAD(packet, 0, 4);
    c.update(packet, 4, payload.length);
    return packet;
  }

  private static byte[] open(Cipher c, byte[] packet) {
    int length = packet.length - 4 - c.getAuthenticationTagSize();
    byte[] copy = packet.clone();
    c.updateAAD(copy, 0, 4);
    c.update(copy, 4, length);
    return Arrays.copyOfRange(copy, 4, 4 + length);
  }

  private static byte[] bytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }
}
