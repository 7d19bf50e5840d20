package entra

import "time"

// maxPending bounds the device codes, and the authorization codes, that may
// be outstanding at once. A device code is made for any client id by a
// request that proves nothing, and both kinds lived until redeemed (or
// polled after they expired), so a client that asked and never came back
// grew the server's memory without limit.
const maxPending = 1024

// roomFor reports whether pending has room for one more code: when it is
// full, the codes expired at now are dropped first. Callers hold s.mu.
func roomFor[V any](pending map[string]V, now time.Time, expiresAt func(V) time.Time) bool {
	if len(pending) < maxPending {
		return true
	}
	for k, v := range pending {
		if !now.Before(expiresAt(v)) {
			delete(pending, k)
		}
	}
	return len(pending) < maxPending
}

// errTooManyPending is the error description of a refused code.
const errTooManyPending = "entra sim: too many codes outstanding; redeem them or let them expire"
