package live

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/idpool/idpool/tokens"
)

// Errors of the simulated server and token endpoint.
var (
	ErrLoginRefused = errors.New("login refused by the server")
	ErrNetwork      = errors.New("network error while dialing")
	ErrOutage       = errors.New("token endpoint unavailable")
)

// endpoint is a token endpoint for one identity that behaves like
// azidentity over Entra ID: it hands back its cached token until threshold
// before expiry, then mints a new one; a rotation makes the next request
// mint a new one early; during an outage every request fails.
type endpoint struct {
	name      string
	lifetime  time.Duration
	threshold time.Duration
	latency   func() time.Duration
	outage    func() bool

	mu        sync.Mutex
	tok       tokens.Token
	n         int
	rotateDue bool
	mints     int
}

// Token implements tokens.Source.
func (e *endpoint) Token(ctx context.Context) (tokens.Token, error) {
	if d := e.latency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return tokens.Token{}, ctx.Err()
		}
	}
	if e.outage() {
		return tokens.Token{}, ErrOutage
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if e.tok.IsZero() || e.rotateDue || !e.tok.ValidBeyond(now, e.threshold) {
		e.n++
		e.tok = tokens.Token{Value: "tok-" + e.name + "-" + strconv.Itoa(e.n), ExpiresOn: now.Add(e.lifetime)}
		e.rotateDue = false
		e.mints++
	}
	return e.tok, nil
}

func (e *endpoint) rotate() {
	e.mu.Lock()
	e.rotateDue = true
	e.mu.Unlock()
}
