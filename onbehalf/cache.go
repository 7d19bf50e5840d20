// Package onbehalf keeps, per user, the on-behalf-of Identity of the newest
// bearer token the user presented, so that a web API can build the identity
// of every request without a token exchange per request.
//
// The pool of a user is keyed by the user's principal ("obo:<tenant>/<oid>"),
// so finding it costs nothing; a token is exchanged only when the pool opens
// a physical connection. What the cache saves is the credential: an
// azidentity OnBehalfOfCredential per request would cost allocations and,
// since each credential has its own token cache, an exchange at every open
// that the user's previous credential would have answered from its cache.
//
// This package holds a mutex (the repository keeps them out of messages/,
// actors/, manager/ and tokens/): the cache is read on every request by the
// request's own goroutine, and a lock held for a map lookup and a list move,
// calling nothing while held, costs far less than a round trip through an
// actor's mailbox. The credential is built outside the lock.
package onbehalf

import (
	"container/list"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/idpool/idpool/tokens"
)

// DefaultSize is the number of users a Cache of size 0 remembers.
const DefaultSize = 10_000

// Cache remembers, for up to its size users, the Identity built from the
// newest assertion each presented: the same assertion again returns that
// Identity (same credential, same token cache: no exchange for a connection
// its cached token can open), a different one builds a new Identity, which
// the user's pool adopts on its next acquire (the newest credential wins).
//
// Newest is read from the assertion's iat and exp claims (read, not
// verified: the caller verified the assertion). An assertion that expires
// before the one kept for its user and was issued no later than it (a
// client still sending a token it got earlier, while another of the user's
// clients sends a renewed one) gets the kept one's Identity, so that the
// user's pool does not go back to a credential that expires sooner and fail
// its next exchange once the older assertion has expired. An assertion
// issued after the kept one replaces it even if it expires sooner: Entra's
// token lifetimes vary (60 to 90 minutes, a CAE token's up to 28 hours), and
// a user who signed in again (for MFA a database's conditional access asks
// for, or after their sessions were revoked) sends a token that works where
// the kept one is refused. Two clients of one user each holding a token the
// other's beats in one of the two (a CAE token and a short one) then
// alternate the kept one, as arrivals did before either claim was read.
// Assertions with no readable exp (opaque ones) are ordered by arrival.
// Requests racing with the same new assertion get one Identity between
// them, so its token is exchanged once.
//
// When full, the least recently used user is dropped; dropping costs nothing
// but that user's next request building a new credential. An entry holds the
// user's assertion and an azidentity credential with its token cache (a few
// KB). Cache is a small handle: copies share one cache. It prints redacted.
type Cache struct{ s *state }

type state struct {
	app  *tokens.OnBehalfOf
	size int

	mu    sync.Mutex
	order *list.List // of *entry, most recently used first
	byKey map[tokens.Principal]*list.Element
	// pending holds, per user, the requests between a lookup that missed
	// and their store, so that a Forget of that user meanwhile marks them:
	// their Identity, built meanwhile, would otherwise put back a user just
	// forgotten. An entry lives only while such a request does.
	pending map[tokens.Principal]*pendingUser
}

// pendingUser counts one user's requests between lookup and store, and
// whether the user was forgotten since they began (Forget then takes it off
// pending, so that requests beginning after it count apart).
type pendingUser struct {
	n         int
	forgotten bool
}

type entry struct {
	key       tokens.Principal
	assertion string
	// issued and expires are the assertion's iat and exp claims; zero when
	// it has none.
	issued, expires time.Time
	id              tokens.Identity
}

// NewCache returns a cache over app for up to size users (DefaultSize if
// size is 0 or less). A nil or zero app is refused, and the Cache returned
// with an error is the zero Cache, which idpoolhttp.Middleware refuses.
func NewCache(app *tokens.OnBehalfOf, size int) (Cache, error) {
	if app == nil {
		return Cache{}, fmt.Errorf("%w: onbehalf.NewCache needs a *tokens.OnBehalfOf", tokens.ErrInvalidIdentity)
	}
	if reflect.ValueOf(app).Elem().IsZero() {
		// new(tokens.OnBehalfOf) names no app: refused here, not by
		// every request the cache would then fail.
		return Cache{}, fmt.Errorf("%w: onbehalf.NewCache with the zero tokens.OnBehalfOf; build it with tokens.NewOnBehalfOfSecret, ...Certificate or ...Assertion", tokens.ErrInvalidIdentity)
	}
	if size <= 0 {
		size = DefaultSize
	}
	return Cache{&state{app: app, size: size, order: list.New(), byKey: make(map[tokens.Principal]*list.Element),
		pending: make(map[tokens.Principal]*pendingUser)}}, nil
}

// Identity returns the on-behalf-of identity of user for the bearer token
// assertion, which the caller has verified and taken user from (see
// tokens.OnBehalfOf.Identity). The same assertion as user's kept one returns
// the kept Identity, and so does one issued no later that expires before
// it; another builds an Identity and replaces the kept one (see Cache).
func (c Cache) Identity(user tokens.Principal, assertion string) (tokens.Identity, error) {
	if c.s == nil {
		return tokens.Identity{}, fmt.Errorf("%w: the zero onbehalf.Cache; use NewCache", tokens.ErrInvalidIdentity)
	}
	key := cacheKey(user)
	var t stamp
	t.issued, t.expires = tokens.UnverifiedTimes(assertion)
	id, ok, p := c.s.lookup(key, assertion, t)
	if ok {
		return id, nil
	}
	stored := false
	defer func() {
		if !stored {
			c.s.unpend(key, p) // the build failed or panicked
		}
	}()
	// Kept as long as the user is, in the entry and in the credential: a
	// copy, so that a substring does not keep the string it was cut from
	// (a request's whole header, padding and all).
	assertion = strings.Clone(assertion)
	id, err := c.s.app.Identity(user, assertion)
	if err != nil {
		return tokens.Identity{}, err
	}
	stored = true
	return c.s.store(key, assertion, t, id, p), nil
}

// stamp is when an assertion was issued and expires (zero if unknown).
type stamp struct{ issued, expires time.Time }

// lookup returns the Identity kept for key if it serves assertion (see
// keeps). On a miss it counts the request pending for key, and the caller
// must end it with store or unpend.
func (s *state) lookup(key tokens.Principal, assertion string, t stamp) (tokens.Identity, bool, *pendingUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.byKey[key]; ok {
		s.order.MoveToFront(el)
		if e := el.Value.(*entry); e.keeps(assertion, t) {
			return e.id, true, nil
		}
	}
	p := s.pending[key]
	if p == nil {
		p = &pendingUser{}
		s.pending[key] = p
	}
	p.n++
	return tokens.Identity{}, false, p
}

// unpend ends a request that lookup counted pending for key, and reports
// whether the user was forgotten since it began.
func (s *state) unpend(key tokens.Principal, p *pendingUser) (forgotten bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unpendLocked(key, p)
}

func (s *state) unpendLocked(key tokens.Principal, p *pendingUser) (forgotten bool) {
	forgotten = p.forgotten
	if p.n--; p.n == 0 && s.pending[key] == p {
		delete(s.pending, key)
	}
	return forgotten
}

// keeps reports whether e's Identity serves a request presenting assertion,
// issued and expiring at t (zero if unknown): it is e's own assertion, or
// both expiries are known and e's is later, unless both issue times are
// known and assertion's is later. Expiring later alone must not keep an
// older assertion: a newer one that expires sooner may be the one the token
// endpoint accepts (see Cache), and keeping the older one would lock the
// user out until it expired.
func (e *entry) keeps(assertion string, t stamp) bool {
	if e.assertion == assertion {
		return true
	}
	if !e.issued.IsZero() && !t.issued.IsZero() && t.issued.After(e.issued) {
		return false
	}
	return !e.expires.IsZero() && !t.expires.IsZero() && e.expires.After(t.expires)
}

// store makes (assertion, id) user's newest and returns the Identity the
// request is to use: id, or the Identity a racing request stored meanwhile
// when that one keeps assertion (the same assertion, or one that expires
// later and was issued no earlier than assertion; see keeps), so that two
// first requests with one assertion share one credential and the kept
// Identity never goes back to an older assertion that expires sooner.
//
// A request whose user was forgotten after its lookup (p, the pending
// count lookup gave it, says so) changes nothing: the request still gets
// its Identity, or the one stored after the Forget if that keeps
// assertion, but a user forgotten meanwhile (signed out, disabled) is not
// put back.
func (s *state) store(key tokens.Principal, assertion string, t stamp, id tokens.Identity, p *pendingUser) tokens.Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	forgotten := s.unpendLocked(key, p)
	if el, ok := s.byKey[key]; ok {
		e := el.Value.(*entry)
		if e.keeps(assertion, t) {
			s.order.MoveToFront(el)
			return e.id
		}
		if forgotten {
			return id
		}
		s.order.MoveToFront(el)
		e.assertion, e.issued, e.expires, e.id = assertion, t.issued, t.expires, id
		return id
	}
	if forgotten {
		return id
	}
	s.byKey[key] = s.order.PushFront(&entry{key: key, assertion: assertion, issued: t.issued, expires: t.expires, id: id})
	for s.order.Len() > s.size {
		old := s.order.Back()
		s.order.Remove(old)
		delete(s.byKey, old.Value.(*entry).key)
	}
	return id
}

// cacheKey is user as the pools key it: the cache must tell users apart
// exactly as the pools do, or a lookup of one user could return the Identity
// (and so the pool key) cached for another (strings.ToLower, used before,
// made "\u212aate" and "kate" one user).
func cacheKey(user tokens.Principal) tokens.Principal {
	return tokens.Principal{TenantID: tokens.FoldID(user.TenantID), ObjectID: tokens.FoldID(user.ObjectID)}
}

// Forget drops user's entry (a user signed out or disabled; pair it with
// Manager.Evict to drop their connections too, Forget first: a request
// arriving while Evict waits for the user's leased connections would
// otherwise find the old credential cached, and its token minted before the
// revocation could open a connection that outlives both calls). A request of the user's
// under way, which looked the user up before Forget, does not put the entry
// back when it ends; one that begins after Forget does, as a new sign-in.
func (c Cache) Forget(user tokens.Principal) {
	if c.s == nil {
		return
	}
	key := cacheKey(user)
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if p := c.s.pending[key]; p != nil {
		// The requests pending now are marked; later ones count apart.
		p.forgotten = true
		delete(c.s.pending, key)
	}
	if el, ok := c.s.byKey[key]; ok {
		c.s.order.Remove(el)
		delete(c.s.byKey, key)
	}
}

// Len is the number of users remembered.
func (c Cache) Len() int {
	if c.s == nil {
		return 0
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.order.Len()
}

// String describes the cache without its assertions.
func (c Cache) String() string {
	if c.s == nil {
		return "onbehalf.Cache(zero)"
	}
	return fmt.Sprintf("onbehalf.Cache(%v, %d/%d users)", c.s.app, c.Len(), c.s.size)
}

// GoString keeps %#v as safe as %v.
func (c Cache) GoString() string { return c.String() }

// Format prints the redacted String form for every verb.
func (c Cache) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (c Cache) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON writes the redacted form.
func (c Cache) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// MarshalText writes the redacted form.
func (c Cache) MarshalText() ([]byte, error) { return []byte(c.String()), nil }
