package tokens

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Pool keys are split into domains, one set per Kind, so that no two kinds
// can ever produce the same discriminator:
//
//	sql-login                          KindSQLLogin
//	msi:system                         KindManagedIdentity (system-assigned)
//	msi:<client id>                    KindManagedIdentity (never "system")
//	msi:object:<object id>             KindManagedIdentity
//	msi:resource:<resource id>         KindManagedIdentity
//	sp:<tenant>/<client id>            KindServicePrincipal
//	acct:<home account id>             KindUserAccount
//	oid:<tenant>/<object id>           KindProvidedToken, a principal the application vouches for
//	tok:<sha256 hex of the token>      KindProvidedToken, a token handed in
//	dac:<sha256 hex of the token>      KindDefaultCredential
//	msi:tok:, sp:tok:, acct:tok:       <sha256 hex of the token> for TokenKeyedCredentialIdentity
//	obo:<tenant>/<object id>           KindOnBehalfOf, the user an app acts for (OnBehalfOf)
//	<anything else>:...                KindProvidedToken only, via New (the caller names the principal)
//
// Every component is escaped (escapeComponent) so that it holds no ':', '/',
// '%' nor control character, which makes each form parse back to exactly one
// kind and one tuple of components: the encoding is injective. The property
// test TestDiscriminatorsAreInjective proves it over adversarial components.

// The fixed discriminators and prefixes.
const (
	discSQLLogin   = "sql-login"
	prefixMSI      = "msi:"
	prefixMSIObj   = "msi:object:"
	prefixMSIRes   = "msi:resource:"
	prefixSP       = "sp:"
	prefixAcct     = "acct:"
	prefixVouched  = "oid:"
	prefixToken    = "tok:"
	prefixDefault  = "dac:"
	prefixOBO      = "obo:"
	tokenSubdomain = "tok:"
)

// reservedDomains maps the name before a discriminator's first ':' (or the
// whole discriminator) to the kind that owns it.
var reservedDomains = map[string]Kind{
	"sql-login": KindSQLLogin,
	"msi":       KindManagedIdentity,
	"sp":        KindServicePrincipal,
	"acct":      KindUserAccount,
	"oid":       KindProvidedToken,
	"tok":       KindProvidedToken,
	"dac":       KindDefaultCredential,
	"obo":       KindOnBehalfOf,
}

// escapeComponent percent-encodes '%', ':', '/' and every byte at or below
// space or equal to DEL, with lower-case hex. It is injective, and its output
// never contains a separator of the key grammar (nor NUL, the key separator).
func escapeComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c == ':' || c == '/' || c <= ' ' || c == 0x7f {
			fmt.Fprintf(&b, "%%%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// component normalises one id of a key: ASCII lower case (Entra ids, GUIDs
// and domain names compare case-insensitively; see foldID), escaped. An
// empty or blank id is refused with an error that names it.
func component(what, v string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("%w: empty %s", ErrInvalidIdentity, what)
	}
	if strings.TrimSpace(v) == "" {
		// No Entra id is white space: it is a mistake (an unset variable
		// padded, a claim read wrong), and it would otherwise make a key
		// of its own that every mint then fails for a reason far from here.
		return "", fmt.Errorf("%w: blank %s (only white space)", ErrInvalidIdentity, what)
	}
	return escapeComponent(foldID(v)), nil
}

// foldID lower-cases the ASCII letters of an id and nothing else: two ids
// are one principal exactly when their foldID are equal, in keys and in every
// check that compares an id (a token's tid and oid, an account's home
// account id). Entra's ids (GUIDs, tenant domain names) are ASCII and compare
// case-insensitively. strings.ToLower, used before, also maps runes outside
// ASCII, some onto ASCII letters (U+212A KELVIN SIGN to 'k', U+0130 to
// 'i'): "\u212aate" and "kate" were one key, so two different principals
// shared a pool. strings.EqualFold, used by the checks, folded yet other
// pairs ('ſ' and 's'), so a check could pass a token of another key.
func foldID(v string) string {
	for i := 0; i < len(v); i++ {
		if 'A' <= v[i] && v[i] <= 'Z' {
			b := []byte(v)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return v
}

// FoldID is the form in which pool keys compare an id (a tenant, object,
// client or home account id): its ASCII letters lower case, nothing else
// changed. Code that keys its own state by principal (onbehalf.Cache) uses
// it to agree with the pools.
func FoldID(v string) string { return foldID(v) }

// pair builds prefix + a + "/" + b from two named ids.
func pair(prefix, whatA, a, whatB, b string) (string, error) {
	ea, err := component(whatA, a)
	if err != nil {
		return "", err
	}
	eb, err := component(whatB, b)
	if err != nil {
		return "", err
	}
	return prefix + ea + "/" + eb, nil
}

func servicePrincipalDiscriminator(tenantID, clientID string) (string, error) {
	return pair(prefixSP, "tenant id", tenantID, "client id", clientID)
}

func vouchedDiscriminator(p Principal) (string, error) {
	return pair(prefixVouched, "principal tenant id", p.TenantID, "principal object id", p.ObjectID)
}

// oboDiscriminator keys the user an app acts for (OnBehalfOf.Identity).
func oboDiscriminator(tenantID, objectID string) (string, error) {
	return pair(prefixOBO, "tenant id", tenantID, "object id", objectID)
}

func accountDiscriminator(homeAccountID string) (string, error) {
	c, err := component("home account id", homeAccountID)
	if err != nil {
		return "", err
	}
	return prefixAcct + c, nil
}

// managedClientDiscriminator keys a user-assigned identity by client id.
// "system" would read as the system-assigned identity, so it is refused.
func managedClientDiscriminator(clientID string) (string, error) {
	c, err := component("managed identity client id", clientID)
	if err != nil {
		return "", err
	}
	if c == "system" {
		return "", fmt.Errorf("%w: a managed identity client id is a GUID, not \"system\" (use SystemAssignedIdentity)", ErrInvalidIdentity)
	}
	return prefixMSI + c, nil
}

func managedObjectDiscriminator(objectID string) (string, error) {
	c, err := component("managed identity object id", objectID)
	if err != nil {
		return "", err
	}
	return prefixMSIObj + c, nil
}

func managedResourceDiscriminator(resourceID string) (string, error) {
	c, err := component("managed identity resource id", resourceID)
	if err != nil {
		return "", err
	}
	return prefixMSIRes + c, nil
}

// tokenPrefix is where the whole-token hash keys of a kind live.
func tokenPrefix(k Kind) (string, bool) {
	switch k {
	case KindProvidedToken:
		return prefixToken, true
	case KindDefaultCredential:
		return prefixDefault, true
	case KindManagedIdentity:
		return prefixMSI + tokenSubdomain, true
	case KindServicePrincipal:
		return prefixSP + tokenSubdomain, true
	case KindUserAccount:
		return prefixAcct + tokenSubdomain, true
	}
	return "", false
}

// tokenDiscriminator keys an identity by the SHA-256 of its whole token: only
// the holder of that exact token reaches the pool's connections. No claim is
// read: nothing here verified the token, so its claims prove nothing.
func tokenDiscriminator(k Kind, token string) string {
	p, _ := tokenPrefix(k)
	sum := sha256.Sum256([]byte(token))
	return p + hex.EncodeToString(sum[:])
}

// domainKind says which kind may use disc, checking the grammar of the
// reserved domains. A discriminator outside them is the caller's own naming
// and belongs to KindProvidedToken alone.
func domainKind(disc string) (Kind, error) {
	if disc == "" {
		return kindInvalid, errors.New("empty discriminator")
	}
	if strings.ContainsRune(disc, 0) {
		return kindInvalid, errors.New("discriminator contains NUL, the key separator")
	}
	name, rest, hasColon := strings.Cut(disc, ":")
	owner, reserved := reservedDomains[name]
	if !reserved {
		if !hasColon || name == "" {
			return kindInvalid, fmt.Errorf("discriminator %q needs a domain, \"<name>:<id>\"", disc)
		}
		return KindProvidedToken, nil
	}
	if owner == kindInvalid {
		return kindInvalid, fmt.Errorf("the %q domain is reserved", name)
	}
	ok := false
	switch name {
	case "sql-login":
		ok = !hasColon
	case "msi":
		switch {
		case rest == "system" || isHashForm(rest):
			ok = true
		case strings.HasPrefix(rest, "object:"):
			ok = oneComponent(rest[len("object:"):])
		case strings.HasPrefix(rest, "resource:"):
			ok = oneComponent(rest[len("resource:"):])
		default:
			ok = oneComponent(rest)
		}
	case "sp":
		ok = isHashForm(rest) || twoComponents(rest)
	case "acct":
		ok = isHashForm(rest) || oneComponent(rest)
	case "oid", "obo":
		ok = twoComponents(rest)
	case "tok", "dac":
		ok = isHex256(rest)
	}
	if !ok {
		return kindInvalid, fmt.Errorf("discriminator is not of the %q domain's form", name)
	}
	return owner, nil
}

// isTokenHashDisc reports whether disc is a whole-token hash key of some
// kind (tokenDiscriminator's output form).
func isTokenHashDisc(disc string) bool {
	name, rest, _ := strings.Cut(disc, ":")
	switch name {
	case "tok", "dac":
		return isHex256(rest)
	case "msi", "sp", "acct":
		return isHashForm(rest)
	}
	return false
}

func isHashForm(s string) bool {
	h, ok := strings.CutPrefix(s, tokenSubdomain)
	return ok && isHex256(h)
}

func isHex256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// oneComponent reports whether s is one non-empty id with no separator.
func oneComponent(s string) bool {
	return s != "" && !strings.ContainsAny(s, ":/")
}

func twoComponents(s string) bool {
	a, b, ok := strings.Cut(s, "/")
	return ok && oneComponent(a) && oneComponent(b)
}

// KindOf returns the kind whose domain a discriminator lies in (as New and
// the typed constructors assign them), so that a pool key alone says what
// kind of identity it serves; for logs and metric attributes print the
// kind's String. A discriminator no kind may use returns the invalid kind.
func KindOf(discriminator string) Kind {
	k, err := domainKind(discriminator)
	if err != nil {
		return kindInvalid
	}
	return k
}
