package sluice.core.user;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;
import sluice.core.CborSerializable;
import sluice.core.ids.GroupName;

/** How a request proved who it is; the user actor decides whether that is (still) good enough. */
// A field of this type (UserActor.Admit) crosses nodes: CBOR needs to know which record it holds.
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "kind")
@JsonSubTypes({@JsonSubTypes.Type(value = Credential.ApiKey.class, name = "api-key"),
    @JsonSubTypes.Type(value = Credential.Trusted.class, name = "trusted")})
public sealed interface Credential extends CborSerializable {

  /** An API key created through the admin API, presented as the SHA-256 hex digest of the secret. */
  record ApiKey(String digest) implements Credential {
    /** A prefix only: commands holding a credential can end up in logs (dead letters). */
    @Override public String toString() {
      return "ApiKey[digest=" + (digest == null ? null : digest.substring(0, Math.min(8, digest.length())) + "...") + "]";
    }
  }

  /**
   * An identity the edge already verified: a key from the gateway's config, or a JWT from a configured issuer.
   * The user is created on first sight with the defaults of its groups; {@code label} names the credential where a
   * key id would stand (usage records, the admission): {@code config:demo}, {@code oidc:https://issuer}.
   */
  record Trusted(String label, String source, List<GroupName> groups) implements Credential {
    public Trusted {
      groups = List.copyOf(groups);
    }
  }
}
