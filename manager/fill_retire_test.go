package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
)

// A pool below MinSize whose Dialer fails (its login refused, its server
// unreachable) retires once it has had no acquire for PoolIdleTimeout. It
// looked only at its Ticks, and each Tick that ended a blocking period
// started the next fill dial before it looked: a dial in flight (a slow
// one: an unreachable server's takes DialTimeout) put retirement off by
// another PoolIdleTimeout, and nothing looked again when that dial failed.
// The pool went on logging in for an identity nobody used (a disabled
// user's, whose failed logins count towards its lockout). A failed dial or
// mint that leaves the pool quiet past PoolIdleTimeout now retires it, as
// a finished close does.
func TestAPoolWhoseFillFailsRetiresOnceTheDialInFlightFails(t *testing.T) {
	for _, mint := range []bool{false, true} {
		name := map[bool]string{false: "dial", true: "mint"}[mint]
		t.Run(name, func(t *testing.T) {
			refused := errors.New("login refused")
			var calls atomic.Int64
			hold := make(chan struct{})
			held := make(chan struct{}, 1)
			fail := func() error {
				if calls.Add(1) == 3 { // the first fill after the blocking period
					held <- struct{}{}
					<-hold
				}
				return refused
			}
			var d Dialer = DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return nil, fail() })
			id := sqlLogin
			if mint {
				d = DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) {
					t.Error("no token, no dial")
					return nil, refused
				})
				id = tokens.New(tokens.KindProvidedToken, "test:minted", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
					return tokens.Token{}, fail()
				}))
			}
			clock := newManualClock()
			m := startManager(t, Config{Server: "refusing:1/db", Dialer: d, MinSize: 1, Clock: clock, PoolIdleTimeout: time.Minute})
			_, err := m.Acquire(context.Background(), id)
			require.ErrorIs(t, err, refused)
			settled := func() bool {
				s := m.Stats()
				return s.Total.Dialing == 0 && s.Total.Minting == 0
			}
			eventually(t, settled, "the fill is in its blocking period")
			require.EqualValues(t, 2, calls.Load(), "the acquire's and the fill's")

			// Past both the blocking period and PoolIdleTimeout: the Tick
			// starts the next fill, which is in flight when it looks.
			clock.advance(time.Minute + time.Second)
			<-held
			close(hold)
			eventually(t, func() bool { return m.Stats().PoolsRetired == 1 }, "retired once that fill failed, without another Tick")
		})
	}
}
