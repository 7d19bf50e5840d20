package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/redacttest"
	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestADialErrorNamingTheTokenIsPrintedWithoutIt: a careless Dialer (or a
// BeforeConnect hook) names the token it was handed in its error ("login
// with <token> refused"). The pool made that error the acquire's, logged it
// (idpool: dial failed) and, once two dials had failed, repeated it in every
// BlockedError of the blocking period: the token was printed wherever the
// error was, although Keys, errors and logs are to hold none. The pool now
// replaces the token in the text, and the error still unwraps to the
// Dialer's (errors.Is with driver.ErrBadConn holds).
func TestADialErrorNamingTheTokenIsPrintedWithoutIt(t *testing.T) {
	for _, via := range []string{"Dialer", "BeforeConnect"} {
		t.Run(via, func(t *testing.T) {
			var buf syncbuf.Buffer
			cfg := Config{Server: "bare:1/test", MaxSize: 1, HealthCheckAfter: -1, DialBackoff: time.Hour,
				Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
			careless := func(req *DialRequest) error {
				return fmt.Errorf("login with %q refused: %w", req.Token.Value, driver.ErrBadConn)
			}
			if via == "Dialer" {
				cfg.Dialer = DialerFunc(func(_ context.Context, req DialRequest) (driver.Conn, error) { return nil, careless(&req) })
			} else {
				cfg.Dialer = DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return tinyConn{}, nil })
				cfg.Hooks.BeforeConnect = func(_ context.Context, req *DialRequest) error { return careless(req) }
			}
			m, err := New(cfg)
			require.NoError(t, err)
			defer func() { require.NoError(t, m.Close(context.Background())) }()
			const secret = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.c2VjcmV0LXRva2VuLW9mLWFsaWNl"
			alice, err := tokens.StaticTokenIdentity(secret, time.Now().Add(time.Hour))
			require.NoError(t, err)
			var errs []any
			for range 3 { // two dials fail, then the blocking period's BlockedError
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := m.Acquire(ctx, alice)
				cancel()
				require.Error(t, err)
				assert.ErrorIs(t, err, driver.ErrBadConn, "still the Dialer's error underneath")
				assert.Contains(t, err.Error(), "refused", "the Dialer's words stay")
				errs = append(errs, err)
			}
			var blocked *BlockedError
			require.True(t, errors.As(errs[2].(error), &blocked), "%v", errs[2])
			redacttest.AssertRedacted(t, []string{secret}, append(errs, buf.String())...)
		})
	}
}
