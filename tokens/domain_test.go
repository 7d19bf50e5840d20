package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

var (
	t0     = context.Background()
	t0Time time.Time
)

// keySpec is what a discriminator stands for: a form and its ids. Two specs
// are the same identity exactly when they are equal after normalise.
type keySpec struct {
	form string // sql-login, msi-system, msi-client, msi-object, msi-resource, sp, acct, oid, obo, token
	kind Kind   // for form "token": whose token hash
	a, b string // the ids; for "token" a is the whole token
}

// normalise is what the key is meant to distinguish: ids compare case-
// insensitively, tokens by their SHA-256.
func (s keySpec) normalise() keySpec {
	if s.form == "token" {
		sum := sha256.Sum256([]byte(s.a))
		s.a = hex.EncodeToString(sum[:])
		return s
	}
	s.a, s.b = asciiLower(s.a), asciiLower(s.b)
	return s
}

// asciiLower is the model of id folding: ASCII letters only. Unicode case
// mapping would join different ids ('\u212a', a Kelvin sign, lowers to 'k').
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// encode runs the production key builder of the spec's form.
func (s keySpec) encode() (string, error) {
	switch s.form {
	case "sql-login":
		return SQLLogin().Discriminator(t0)
	case "msi-system":
		return DiscriminatorSystemAssigned, nil
	case "msi-client":
		return managedClientDiscriminator(s.a)
	case "msi-object":
		return managedObjectDiscriminator(s.a)
	case "msi-resource":
		return managedResourceDiscriminator(s.a)
	case "sp":
		return servicePrincipalDiscriminator(s.a, s.b)
	case "acct":
		return accountDiscriminator(s.a)
	case "oid":
		return vouchedDiscriminator(Principal{TenantID: s.a, ObjectID: s.b})
	case "obo":
		return oboDiscriminator(s.a, s.b)
	case "token":
		if s.a == "" {
			return "", fmt.Errorf("empty token")
		}
		return tokenDiscriminator(s.kind, s.a), nil
	}
	panic("unknown form " + s.form)
}

// decode parses a discriminator back into the normalised spec it came from.
// It is written from the grammar in domain.go, independently of the
// encoders: encode followed by decode giving the spec back is what proves
// the encoding injective.
func decode(d string) (keySpec, bool) {
	un := func(s string) (string, bool) {
		if !oneComponent(s) {
			return "", false
		}
		v, err := url.PathUnescape(s)
		return v, err == nil
	}
	one := func(form, rest string) (keySpec, bool) {
		a, ok := un(rest)
		return keySpec{form: form, a: a}, ok
	}
	two := func(form, rest string) (keySpec, bool) {
		x, y, found := strings.Cut(rest, "/")
		a, ok1 := un(x)
		b, ok2 := un(y)
		return keySpec{form: form, a: a, b: b}, found && ok1 && ok2
	}
	hash := func(k Kind, rest string) (keySpec, bool) {
		return keySpec{form: "token", kind: k, a: rest}, isHex256(rest)
	}
	switch {
	case d == "sql-login":
		return keySpec{form: "sql-login"}, true
	case d == "msi:system":
		return keySpec{form: "msi-system"}, true
	case strings.HasPrefix(d, "msi:tok:"):
		return hash(KindManagedIdentity, d[len("msi:tok:"):])
	case strings.HasPrefix(d, "msi:object:"):
		return one("msi-object", d[len("msi:object:"):])
	case strings.HasPrefix(d, "msi:resource:"):
		return one("msi-resource", d[len("msi:resource:"):])
	case strings.HasPrefix(d, "msi:"):
		return one("msi-client", d[len("msi:"):])
	case strings.HasPrefix(d, "sp:tok:"):
		return hash(KindServicePrincipal, d[len("sp:tok:"):])
	case strings.HasPrefix(d, "sp:"):
		return two("sp", d[len("sp:"):])
	case strings.HasPrefix(d, "acct:tok:"):
		return hash(KindUserAccount, d[len("acct:tok:"):])
	case strings.HasPrefix(d, "acct:"):
		return one("acct", d[len("acct:"):])
	case strings.HasPrefix(d, "oid:"):
		return two("oid", d[len("oid:"):])
	case strings.HasPrefix(d, "obo:"):
		return two("obo", d[len("obo:"):])
	case strings.HasPrefix(d, "tok:"):
		return hash(KindProvidedToken, d[len("tok:"):])
	case strings.HasPrefix(d, "dac:"):
		return hash(KindDefaultCredential, d[len("dac:"):])
	}
	return keySpec{}, false
}

// specKind is the kind whose constructors build the spec.
func (s keySpec) specKind() Kind {
	switch s.form {
	case "sql-login":
		return KindSQLLogin
	case "msi-system", "msi-client", "msi-object", "msi-resource":
		return KindManagedIdentity
	case "sp":
		return KindServicePrincipal
	case "acct":
		return KindUserAccount
	case "oid":
		return KindProvidedToken
	case "obo":
		return KindOnBehalfOf
	case "token":
		return s.kind
	}
	return kindInvalid
}

// adversarial draws ids made of the key grammar's own separators and
// look-alikes, so that a structural collision, if there were one, is near.
var adversarial = rapid.Custom(func(t *rapid.T) string {
	pieces := []string{"", "a", "A", "/", ":", "%", "%2f", "%2F", "%3a", "\x00", " ", "system", "SYSTEM",
		"object:", "resource:", "tok:", "sp:", "msi:", "oid:", "obo:", "sql-login", "é", "\x7f", "0",
		"k", "\u212a", "i", "\u0130", "s", "\u017f"} // ASCII letters and their Unicode case look-alikes
	n := rapid.IntRange(0, 4).Draw(t, "n")
	var b strings.Builder
	for i := range n {
		b.WriteString(rapid.SampledFrom(pieces).Draw(t, fmt.Sprint("piece", i)))
	}
	return b.String()
})

var tokenKinds = []Kind{KindProvidedToken, KindDefaultCredential, KindManagedIdentity, KindServicePrincipal, KindUserAccount}

var specGen = rapid.Custom(func(t *rapid.T) keySpec {
	form := rapid.SampledFrom([]string{"sql-login", "msi-system", "msi-client", "msi-object", "msi-resource",
		"sp", "acct", "oid", "obo", "token"}).Draw(t, "form")
	s := keySpec{form: form, a: adversarial.Draw(t, "a"), b: adversarial.Draw(t, "b")}
	switch form {
	case "sql-login", "msi-system":
		s.a, s.b = "", ""
	case "msi-client", "msi-object", "msi-resource", "acct":
		s.b = ""
	case "token":
		s.kind = rapid.SampledFrom(tokenKinds).Draw(t, "kind")
		s.b = ""
	}
	return s
})

// TestDiscriminatorsAreInjective: every discriminator any constructor can
// build parses back to exactly the (normalised) ids it was built from, lies
// in its own kind's domain and in no other, and two different identities
// never share a key. Components are drawn from the grammar's separators.
func TestDiscriminatorsAreInjective(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s1, s2 := specGen.Draw(t, "s1"), specGen.Draw(t, "s2")
		d1, err1 := s1.encode()
		d2, err2 := s2.encode()
		for _, c := range []struct {
			s   keySpec
			d   string
			err error
		}{{s1, d1, err1}, {s2, d2, err2}} {
			if c.err != nil {
				if !strings.Contains(c.err.Error(), "empty") && !strings.Contains(c.err.Error(), "blank") && !strings.Contains(c.err.Error(), "system") {
					t.Fatalf("%+v refused for an unexpected reason: %v", c.s, c.err)
				}
				continue
			}
			if strings.ContainsRune(c.d, 0) {
				t.Fatalf("%+v: discriminator %q holds the key separator", c.s, c.d)
			}
			got, ok := decode(c.d)
			if !ok || got != c.s.normalise() {
				t.Fatalf("%+v encodes to %q, which decodes to %+v (ok %v)", c.s, c.d, got, ok)
			}
			owner, err := domainKind(c.d)
			if err != nil || owner != c.s.specKind() {
				t.Fatalf("%+v: %q is in the domain of %s (%v), want %s", c.s, c.d, owner, err, c.s.specKind())
			}
		}
		if err1 == nil && err2 == nil && s1.normalise() != s2.normalise() && d1 == d2 {
			t.Fatalf("%+v and %+v share the discriminator %q", s1, s2, d1)
		}
	})
}

// TestNewAcceptsADiscriminatorForOneKindOnly: whatever string New is given,
// at most one kind accepts it, so New cannot make two kinds share a key
// either; and Key splits back exactly even when the server key holds NUL.
func TestNewAcceptsADiscriminatorForOneKindOnly(t *testing.T) {
	src := staticSource{Token{Value: "x"}}
	rapid.Check(t, func(t *rapid.T) {
		var d string
		if rapid.Bool().Draw(t, "from a constructor") {
			var err error
			if d, err = specGen.Draw(t, "spec").encode(); err != nil {
				return
			}
		} else {
			d = adversarial.Draw(t, "d")
		}
		accepted := 0
		for k := Kind(0); k <= KindProvidedToken+1; k++ {
			id := New(k, d, src)
			if id.Validate() == nil {
				accepted++
				got, err := id.Discriminator(t0)
				if err != nil || got != d {
					t.Fatalf("New(%s, %q) keys %q (%v)", k, d, got, err)
				}
			}
		}
		if accepted > 1 {
			t.Fatalf("%q is accepted by %d kinds", d, accepted)
		}
		server := adversarial.Draw(t, "server")
		if strings.ContainsRune(d, 0) {
			return
		}
		k := NewKey(server, d)
		if k.Server() != server || k.Discriminator() != d {
			t.Fatalf("NewKey(%q, %q) splits into %q, %q", server, d, k.Server(), k.Discriminator())
		}
	})
}

// TestStaticTokenCannotReachAPrincipalKey is leak 5: a token-keyed identity
// used to key a principal as "tok:"+sha256("oid:<tid>/<oid>"), so the static
// token "oid:<tid>/<oid>" landed in that principal's pool. Whole-token hashes
// and principals now live in different domains.
func TestStaticTokenCannotReachAPrincipalKey(t *testing.T) {
	p := Principal{TenantID: "tenant-1", ObjectID: "object-1"}
	vouched, err := VouchedTokenIdentity(p, staticSource{Token{Value: "real"}})
	require.NoError(t, err)
	vd, err := vouched.Discriminator(t0)
	require.NoError(t, err)
	assert.Equal(t, "oid:tenant-1/object-1", vd)
	for _, forged := range []string{"oid:tenant-1/object-1", vd, "oid:" + p.TenantID + "/" + p.ObjectID} {
		static, err := StaticTokenIdentity(forged, t0Time)
		require.NoError(t, err)
		sd, err := static.Discriminator(t0)
		require.NoError(t, err)
		assert.NotEqual(t, vd, sd)
		assert.True(t, strings.HasPrefix(sd, "tok:") && isHex256(sd[len("tok:"):]), sd)
	}
}
