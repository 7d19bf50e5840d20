package tokens

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// ClaimsChallenge is what Entra asked for when it refused a token because
// the user must first satisfy more than the token they sent shows: a
// conditional-access policy of the database wants multi-factor
// authentication (AADSTS50076, AADSTS50079), a compliant device, or an
// authentication context, or the user's sessions were revoked. An API
// that exchanges its callers' tokens on their behalf (OnBehalfOf) cannot
// satisfy it itself: it must hand the challenge to its client, which signs
// the user in again asking for Claims and retries with the new token.
// idpoolhttp.AnswerClaimsChallenge writes the answer RFC 6750 and Entra's
// client libraries (MSAL's claims-challenge helpers) expect.
type ClaimsChallenge struct {
	// Claims is the claims request, a JSON object, as Entra sent it.
	Claims string
	// AuthorizeURL is the authorize endpoint of the authority that refused
	// (its token endpoint's, with "authorize" for "token"), where the user
	// can sign in again; empty when the token endpoint's address is not of
	// Entra's form.
	AuthorizeURL string
}

// FindClaimsChallenge returns the claims challenge err carries, if a token
// endpoint refused an on-behalf-of exchange (OnBehalfOf.Identity) with one:
// through Manager.Acquire, the *sql.DB facade and the pgx pool alike, since
// each keeps the mint's error in its chain. It reports false for any other
// error, nil included: one of any other identity (a service principal, a
// managed identity, a credential handed in) asks something of the
// application, not of the user who called it, and a credential handed in
// holds secrets idpool does not know.
//
// The claims are taken from the refusal's body when the error is made (the
// error's text never quotes the body), and only if they are a JSON object
// of at most 8 KiB that holds none of the credential's secrets (the user's
// assertion, a client secret) in any form and nothing that looks like a
// token: they are meant to be sent to the API's client.
func FindClaimsChallenge(err error) (ClaimsChallenge, bool) {
	var ce *credentialError
	if errors.As(err, &ce) && ce.challenge != nil {
		return *ce.challenge, true
	}
	return ClaimsChallenge{}, false
}

// maxClaims bounds the claims request relayed: Entra's are a few hundred
// bytes (policy ids, an authentication context), and the client puts them
// in a URL.
const maxClaims = 8 << 10

// claimsChallengeOf reads the claims challenge in the body of the response
// an azidentity credential's error carries (an on-behalf-of exchange's: see
// redactCredentialError), if any; redact is the credential's secret
// redactor, which must find nothing to redact in the claims.
func claimsChallengeOf(err error, redact func(string) string) *ClaimsChallenge {
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil || afe.RawResponse.Body == nil {
		return nil
	}
	resp := afe.RawResponse
	data, perr := runtime.Payload(resp) // as azidentity reads it: once, then kept
	if perr != nil {
		return nil
	}
	var body struct {
		Claims string `json:"claims"`
	}
	if json.Unmarshal(data, &body) != nil || !relayableClaims(body.Claims, redact) {
		return nil
	}
	return &ClaimsChallenge{Claims: body.Claims, AuthorizeURL: authorizeURLOf(resp)}
}

// relayableClaims: claims is a JSON object, bounded, and holds nothing
// secret or token-like, neither in its text nor in any of its strings
// (keys and values) as the client decodes them: a JSON escape (\u007e
// for '~', \u0041 for 'A') cuts a token-like run and is no form of a
// secret the redactor knows, yet the client reads the secret back whole.
func relayableClaims(claims string, redact func(string) string) bool {
	if claims == "" || len(claims) > maxClaims || !json.Valid([]byte(claims)) ||
		!strings.HasPrefix(strings.TrimSpace(claims), "{") {
		return false
	}
	fit := func(s string) bool {
		return redact(s) == s && !tokenLike.MatchString(s) && !base64Like.MatchString(s)
	}
	if !fit(claims) {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(claims))
	dec.UseNumber() // numbers are not looked at: no float64 rounding
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok && !fit(s) {
			return false
		}
	}
}

// entraTokenPath is the path of an Entra token endpoint: a tenant (an id,
// a domain, "common", "organizations"), then the v2.0 token endpoint.
var entraTokenPath = regexp.MustCompile(`^/[A-Za-z0-9.\-]{1,256}/oauth2/v2\.0/token$`)

// authorizeURLOf is the authorize endpoint beside the token endpoint resp
// answered for, or "" when that endpoint is not of Entra's form.
func authorizeURLOf(resp *http.Response) string {
	req := resp.Request
	if req == nil || req.URL == nil || (req.URL.Scheme != "https" && req.URL.Scheme != "http") ||
		req.URL.Host == "" || req.URL.User != nil || !entraTokenPath.MatchString(req.URL.Path) {
		return ""
	}
	return req.URL.Scheme + "://" + req.URL.Host + strings.TrimSuffix(req.URL.Path, "token") + "authorize"
}
