package live

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/sim/report"
)

// finish merges the backend's findings into the report.
func (r *runner) finish(fin Final, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &r.res
	res.DurationS = elapsed.Seconds()
	res.WallS = elapsed.Seconds()
	if elapsed > 0 {
		res.AcquiresPerWallS = float64(res.Acquires) / elapsed.Seconds()
	}
	s := fin.Stats
	res.Hits, res.PhysicalOpens, res.TokenMints = s.Hits, s.PhysicalOpens, s.TokenMints
	res.Rotations, res.StaleDrained = s.Rotations, s.StaleDrained
	res.PoolsCreated, res.PoolsRetired = s.PoolsCreated, s.PoolsRetired
	res.Closes = s.Closes
	v, fv := &res.Violations, fin.Violations
	v.OverMax += fv.OverMax
	v.ExpiredTokenUse += fv.ExpiredTokenUse
	v.LeakedConns += fv.LeakedConns
	v.DoubleLease += fv.DoubleLease
	res.ViolationSamples = append(res.ViolationSamples, fin.Samples...)
	if fin.Suspects != nil {
		fin.Suspects.into(res)
	}
	r.fifo.suspects.into(res)
	r.odd.into(res)
	res.AcquireLatencyUS = report.LatencyOf(r.hist)
	res.LatencyHist = r.hist
}

// acquireErrorKind names an acquire error for the report.
func acquireErrorKind(err error) string {
	var de *manager.DialError
	switch {
	case errors.Is(err, manager.ErrClosed):
		return "closed"
	case errors.Is(err, manager.ErrPoolExhausted):
		return "exhausted"
	case errors.Is(err, ErrOutage):
		return "token_outage"
	case errors.Is(err, ErrLoginRefused):
		return "login_refused"
	case errors.Is(err, ErrNetwork):
		return "dial_network"
	case errors.Is(err, memdb.ErrTokenExpired):
		return "login_token_expired"
	case errors.As(err, &de) && errors.Is(err, context.DeadlineExceeded):
		if de.Mint {
			return "token_timeout"
		}
		return "dial_timeout"
	case errors.As(err, &de):
		if de.Mint {
			return "token_endpoint"
		}
		return "dial_other"
	}
	return "other"
}

// opErrorKind names a statement error.
func opErrorKind(err error) string {
	switch {
	case errors.Is(err, memdb.ErrTokenExpired):
		return "token_expired"
	case errors.Is(err, driver.ErrBadConn) || manager.IsBroken(err):
		return "session_killed"
	case errors.Is(err, context.DeadlineExceeded):
		return "statement_timeout"
	}
	return "statement_other"
}
