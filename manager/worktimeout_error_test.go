package manager

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A dial or token mint cut by its own bound (Config.DialTimeout,
// MintTimeout) failed the acquire with "context deadline exceeded" alone,
// the driver's or token source's answer to the ctx idpool gave it: the
// caller, whose own ctx had time left, could not tell which bound it was,
// and a DialTimeout given as a bare number (15, nanoseconds) looked like a
// server that never answers. The error now names the bound and its value,
// and still matches context.DeadlineExceeded.
func TestADialOrMintCutByItsOwnTimeoutSaysWhichTimeout(t *testing.T) {
	waitForCtx := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	for _, tc := range []struct {
		name, want string
		cfg        Config
		id         func() tokens.Identity
	}{
		{"dial", "DialTimeout (1ms)", Config{DialTimeout: time.Millisecond,
			Dialer: DialerFunc(func(ctx context.Context, _ DialRequest) (driver.Conn, error) { return nil, waitForCtx(ctx) })},
			func() tokens.Identity { return sqlLogin }},
		{"mint", "MintTimeout (1ms)", Config{MintTimeout: time.Millisecond}, func() tokens.Identity {
			return tokens.New(tokens.KindProvidedToken, "test:slow", tokens.SourceFunc(func(ctx context.Context) (tokens.Token, error) {
				return tokens.Token{}, waitForCtx(ctx)
			}))
		}},
		{"key lookup", "MintTimeout (1ms)", Config{MintTimeout: time.Millisecond}, func() tokens.Identity {
			id, err := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) { return tokens.Token{}, waitForCtx(ctx) })
			require.NoError(t, err)
			return id
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.HealthCheckAfter = -1
			m, _ := newManager(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := m.Acquire(ctx, tc.id())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			require.NoError(t, ctx.Err(), "the caller's ctx had time left")
		})
	}
}
