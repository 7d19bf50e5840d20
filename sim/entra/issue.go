package entra

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of an access token issued by the server.
type Claims struct {
	jwt.RegisteredClaims
	// TenantID is tid: the tenant of the principal.
	TenantID string `json:"tid"`
	// ObjectID is oid: the principal's object id.
	ObjectID string `json:"oid"`
	// AppID is appid: the client id of the app or managed identity, or of the
	// public client a user signed in with.
	AppID string `json:"appid,omitempty"`
	// UPN is set for users only.
	UPN string `json:"upn,omitempty"`
	// IdentityType is idtyp: "app" for apps and managed identities, "user".
	IdentityType string `json:"idtyp"`
	// Generation is how many times the identity was Rotated before issuance.
	Generation int `json:"sim_gen"`
	// AMR is amr, how a user signed in: "pwd", and "mfa" after
	// multi-factor authentication (UserTokenWithMFA).
	AMR []string `json:"amr,omitempty"`
}

// reusable is a token kept for SetReuse.
type reusable struct {
	token     string
	issuedAt  time.Time
	expiresAt time.Time
}

// issued is what a grant hands back.
type issued struct {
	token     string
	expiresAt time.Time
}

// audienceOf maps a scope or resource to the aud claim: "/.default" and a
// trailing slash are trimmed, and an http(s) URL with no path gets the
// trailing slash Entra puts on v1 resource audiences
// ("https://database.windows.net/").
func audienceOf(scope string) string {
	a := strings.TrimSuffix(strings.TrimSuffix(scope, ".default"), "/")
	if u, err := url.Parse(a); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Path == "" {
		return a + "/"
	}
	return a
}

// sameAudience compares audiences the way resource servers do in practice:
// a trailing slash does not matter.
func sameAudience(a, b string) bool {
	return a != "" && strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

func (s *Server) issuer(tenant string) string {
	return s.authority.URL + "/" + tenant + "/v2.0"
}

// accessToken mints (or, under SetReuse, reuses) an access token for p.
// clientID is the public client a user signed in with, "" otherwise.
// Callers hold s.mu.
func (s *Server) accessToken(p *principal, audience, clientID string) (issued, error) {
	st := &s.state
	now := time.Now()
	reuseKey := p.name + "\x00" + audience + "\x00" + clientID
	if st.reuse {
		if r, ok := st.reused[reuseKey]; ok && now.Before(r.issuedAt.Add(r.expiresAt.Sub(r.issuedAt)/2)) {
			return issued{token: r.token, expiresAt: r.expiresAt}, nil
		}
	}
	exp := now.Add(st.lifetime)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer(p.tenant),
			Subject:   p.oid,
			Audience:  jwt.ClaimStrings{audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		TenantID:     p.tenant,
		ObjectID:     p.oid,
		AppID:        p.appID,
		IdentityType: "app",
		Generation:   st.generation[p.name],
	}
	if p.kind == kindUser {
		c.AppID, c.UPN, c.IdentityType = clientID, p.upn, "user"
	}
	tok, err := s.sign(c)
	if err != nil {
		return issued{}, err
	}
	st.issued[p.name]++
	st.total++
	if st.reuse {
		st.reused[reuseKey] = reusable{token: tok, issuedAt: now, expiresAt: exp}
	}
	return issued{token: tok, expiresAt: exp}, nil
}

func (s *Server) sign(c jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = s.kid
	return t.SignedString(s.key)
}

// idToken is the OpenID token of a user sign-in: MSAL reads iss, tid, aud,
// preferred_username and oid from it (without checking the signature).
func (s *Server) idToken(p *principal, clientID string) (string, error) {
	now := time.Now()
	return s.sign(jwt.MapClaims{
		"iss":                s.issuer(p.tenant),
		"aud":                clientID,
		"tid":                p.tenant,
		"oid":                p.oid,
		"sub":                p.oid,
		"preferred_username": p.upn,
		"name":               p.upn,
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(time.Hour).Unix(),
		"ver":                "2.0",
	})
}

// clientInfo is what MSAL derives the home account id from: uid.utid.
func clientInfo(p *principal) string {
	b, _ := json.Marshal(map[string]string{"uid": p.oid, "utid": p.tenant})
	return base64.RawURLEncoding.EncodeToString(b)
}

// FederatedAudience is the audience of federated assertions, as in Entra
// workload identity federation.
const FederatedAudience = "api://AzureADTokenExchange"

// FederatedAssertion returns an assertion for subject, signed by the server,
// valid for 10 minutes: hand it to azidentity.NewClientAssertionCredential
// for an app registered with RegisterFederatedApp(…, subject, …).
func (s *Server) FederatedAssertion(subject string) string {
	now := time.Now()
	tok, err := s.sign(jwt.RegisteredClaims{
		Issuer:    s.authority.URL + "/federation",
		Subject:   subject,
		Audience:  jwt.ClaimStrings{FederatedAudience},
		ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        rand.Text(),
	})
	if err != nil {
		// ECDSA signing with a valid in-memory key does not fail.
		panic("entra: signing a federated assertion: " + err.Error())
	}
	return tok
}
