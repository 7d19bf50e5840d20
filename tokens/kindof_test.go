package tokens

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestKindOfNamesTheKindOfEveryDomain: a pool key alone says what kind of
// identity it serves, as the constructors assigned it; what no kind may use
// is the invalid kind, never a guess.
func TestKindOfNamesTheKindOfEveryDomain(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for disc, want := range map[string]Kind{
		"sql-login":        KindSQLLogin,
		"msi:system":       KindManagedIdentity,
		"msi:object:o1":    KindManagedIdentity,
		"msi:tok:" + hex:   KindManagedIdentity,
		"sp:tenant/app":    KindServicePrincipal,
		"acct:home":        KindUserAccount,
		"oid:tenant/obj":   KindProvidedToken,
		"tok:" + hex:       KindProvidedToken,
		"dac:" + hex:       KindDefaultCredential,
		"myapp:user":       KindProvidedToken,
		"":                 kindInvalid,
		"obo:tenant/obj":   KindOnBehalfOf,
		"sp:only-one-part": kindInvalid,
		"nodomain":         kindInvalid,
		"sql-login:x":      kindInvalid,
	} {
		if got := KindOf(disc); got != want {
			t.Errorf("KindOf(%q) = %s, want %s", disc, got, want)
		}
	}
	src := SourceFunc(func(context.Context) (Token, error) {
		return Token{Value: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	for _, id := range []Identity{SQLLogin(), New(KindManagedIdentity, "msi:c1", src), New(KindServicePrincipal, "sp:t/c", src),
		New(KindProvidedToken, "myapp:u", src), NewTokenKeyed(KindDefaultCredential, src)} {
		disc, err := id.Discriminator(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if KindOf(disc) != id.Kind() {
			t.Errorf("KindOf(%q) = %s, the identity is %s", disc, KindOf(disc), id.Kind())
		}
	}
}
