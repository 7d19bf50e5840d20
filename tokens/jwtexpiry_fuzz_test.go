package tokens

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzJWTExpiry: a handed token is whatever its caller sent (an HTTP
// header, say). Reading its exp never panics, and a token that is not a JWT
// with an exp has no known expiry (zero), which counts as near expiry.
func FuzzJWTExpiry(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"none","typ":"JWT"}`))
	for _, claims := range []string{`{"exp":1700000000}`, `{"exp":-1}`, `{"exp":1e300}`, `{"exp":"soon"}`, `{}`, `[`, ``} {
		f.Add(header + "." + enc([]byte(claims)) + ".")
	}
	for _, seed := range []string{"", ".", "..", "a.b.c", "not-a-jwt", header + ".!!!.x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if exp := jwtExpiry(token); !exp.IsZero() && strings.Count(token, ".") != 2 {
			t.Fatalf("%q is not a JWT (three parts) but read as expiring %v", token, exp)
		}
	})
}

func TestJWTExpiryReadsExpOrNothing(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"none","typ":"JWT"}`))
	if got := jwtExpiry(header + "." + enc([]byte(`{"exp":1700000000}`)) + "."); !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("exp 1700000000 read as %v", got)
	}
	for _, bad := range []string{"", "not-a-jwt", header + "." + enc([]byte(`{"exp":"soon"}`)) + ".", header + "." + enc([]byte(`{}`)) + "."} {
		if got := jwtExpiry(bad); !got.IsZero() {
			t.Errorf("%q read as expiring %v, want no known expiry", bad, got)
		}
	}
}

// A JWT whose alg no library knows still has the expiry its exp claim says,
// as its tid and oid are read whatever the alg: golang-jwt's parser, used
// here before, refused the token and left its expiry unknown.
func TestJWTExpiryReadsExpWhateverTheAlg(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, alg := range []string{`"none"`, `"XX999"`, `""`, `7`} {
		token := enc([]byte(`{"alg":`+alg+`}`)) + "." + enc([]byte(`{"exp":1700000000}`)) + ".sig"
		if got := jwtExpiry(token); !got.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("alg %s: exp read as %v", alg, got)
		}
	}
}

// As a caller hands a token in: StaticTokenIdentity with no expiry of its
// own takes the JWT's exp whatever its alg, so its source's token is not
// refused as of unknown expiry.
func TestStaticTokenIdentityTakesExpWhateverTheAlg(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	token := enc([]byte(`{"alg":"XX999"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d}`, exp.Unix()))) + ".sig"
	id, err := StaticTokenIdentity(token, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := id.Source().Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !tok.ExpiresOn.Equal(exp) {
		t.Fatalf("ExpiresOn %v, want the exp claim's %v", tok.ExpiresOn, exp)
	}
}
