// Package entra is a local stand-in for Microsoft Entra ID, so tests, the
// simulator and the demo run the real azidentity credential code against
// loopback endpoints instead of the internet.
//
// A Server runs two listeners on 127.0.0.1:
//
//   - an App Service style managed-identity endpoint (plain http), which
//     azidentity's ManagedIdentityCredential calls when IDENTITY_ENDPOINT and
//     IDENTITY_HEADER are set (see Server.SetManagedIdentityEnv);
//   - an https authority serving OpenID discovery, the v2.0 token endpoint
//     (client credentials with a secret, a certificate or a federated
//     assertion; device code; authorization code with PKCE; refresh token;
//     on-behalf-of),
//     the device code endpoint and the authorize endpoint, which a fake
//     browser (InstallFakeBrowser) drives for InteractiveBrowserCredential.
//     Point a credential at it with Server.ClientOptions, and set
//     DisableInstanceDiscovery, or MSAL asks login.microsoftonline.com first.
//
// Access tokens are JWTs signed with the server's own ES256 key; Verify checks
// one the way a resource server would (signature, expiry, audience), which is
// what sim/tds does with the FEDAUTH token a client logs in with.
//
// Every issuance mints a distinct token (a fresh jti), so a credential that
// asks again gets a rotated token; SetReuse makes the server hand out the same
// token until half its lifetime has passed or Rotate is called. SetLifetime,
// SetFailing and the Issued/TotalIssued counters let tests drive expiry,
// outages and count how often the real credential code went to the network.
// RequireMFA stands for a conditional-access policy: a user's on-behalf-of
// exchanges are refused with a claims challenge until the user signs in
// with MFA (UserTokenWithMFA).
//
// What a client can make the server hold is bounded: both listeners close a
// connection that takes longer than Config.ReadHeaderTimeout to send a
// request's header (or the authority's TLS handshake), longer than
// ReadTimeout to send a whole request, or stays idle past IdleTimeout; the
// device and authorization codes outstanding are capped; and so are the live
// refresh tokens: a redeemed one stays valid, as Entra's do, until 1,024
// newer ones have pushed it out (or RevokeRefreshTokens revokes it).
package entra
