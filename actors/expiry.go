package actors

import (
	"fmt"
	"math"
	"time"

	"github.com/idpool/idpool/tokens"
)

// No expired token is ever used. A token is judged against the clock where it
// is about to be relied on, never only where it was first seen:
//
//   - at mint (MintDone): a token that is not valid beyond TokenThreshold,
//     expiry unknown included, is not dialed with and does not keep a
//     connection being re-checked, even when it is the same token;
//   - at grant of a connection just opened or just health-checked (offer):
//     the dial or the check took time, so its token is judged again like
//     that of any idle candidate.

// TokenExpiryError is why a pool refused a token its source handed out: it
// had expired, would expire within the pool's token threshold, or had no
// known expiry (fail closed). It names the expiry, never the token.
type TokenExpiryError struct {
	ExpiresOn time.Time // zero: unknown
	Threshold time.Duration
	At        time.Time // when the pool judged it
}

// Error implements error.
func (e *TokenExpiryError) Error() string {
	switch {
	case e.ExpiresOn.IsZero():
		return "idpool: the token source returned a token with no known expiry; refused (fail closed): set its expiry"
	case !e.At.Before(e.ExpiresOn):
		ago := e.At.Sub(e.ExpiresOn)
		if ago == math.MaxInt64 {
			// Sub saturates: a Duration spans 292 years, and an expiry
			// that far back (year 1, a zero date plus a little) would read
			// as 2562047h47m16s ago.
			return fmt.Sprintf("idpool: the token source returned a token that expired at %s (over 292 years ago); refused",
				e.ExpiresOn.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("idpool: the token source returned a token that expired at %s (%s ago); refused",
			e.ExpiresOn.UTC().Format(time.RFC3339), ago.Round(time.Second))
	default:
		return fmt.Sprintf("idpool: the token source returned a token that expires at %s, within the pool's token threshold of %s; refused",
			e.ExpiresOn.UTC().Format(time.RFC3339), e.Threshold)
	}
}

// usable reports whether tok may be relied on at now: valid beyond the
// threshold. Zero when the pool does not use tokens.
func (p *Pool) usable(now time.Time, tok tokens.Token) error {
	if !p.cfg.UsesToken || tok.ValidBeyond(now, p.cfg.TokenThreshold) {
		return nil
	}
	return &TokenExpiryError{ExpiresOn: tok.ExpiresOn, Threshold: p.cfg.TokenThreshold, At: now}
}

// refuseMinted handles a mint whose token is not usable: like a failed mint,
// the dials waiting for it fail with the reason (and a blocking period may
// start), but connections being re-checked are not kept on the strength of
// their token's remaining validity: whether the same token or a stale one,
// it is not valid beyond the threshold. They are closed and their waiters
// fail.
func (p *Pool) refuseMinted(now time.Time, cause error) {
	derr := p.failAwaitingDials(now, cause)
	checking := p.checking
	p.checking = nil
	for _, c := range checking {
		if p.connOf(c.id) == c {
			p.failCheck(now, c, derr, false)
		}
	}
	p.serve(now)
	p.maybeRetire(now) // as after a failed dial (dialDone)
	p.maybeDrained()
}

// offer hands c, just opened or just health-checked, to w, or parks it when
// w is nil. Time has passed since c's token was last judged (a dial or a
// check takes a while), so c is judged again as any candidate is: closed if
// its token has expired or its lifetime has passed (w stays queued, and
// serve dials for it), re-checked if its token is near expiry.
func (p *Pool) offer(now time.Time, w *waiter, c *conn) {
	if reason, dead := p.deadAt(c, now); dead {
		p.closeConn(c, reason)
		return
	}
	if w == nil {
		p.parkIdle(c)
		return
	}
	p.startCheckOrGrant(now, w, c)
}
