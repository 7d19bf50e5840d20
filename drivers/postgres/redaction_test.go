package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/internal/redacttest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// holder keeps a Dialer in an unexported field, where fmt cannot call its
// redacting methods and prints the fields as they are.
type holder struct{ d Dialer }

// TestDialerNeverPrintsThePassword is leak 7 for PostgreSQL: a Dialer, by
// value or by pointer, in a Config or in an unexported field, prints no
// password with any verb, through slog or encoding/json.
func TestDialerNeverPrintsThePassword(t *testing.T) {
	pw := sentinel("pgdialer")
	for _, dsn := range []string{
		"postgres://app:" + pw + "@db.example:5432/appdb?sslmode=disable",
		"host=db.example port=5432 user=app password=" + pw + " dbname=appdb sslmode=disable",
	} {
		d, err := NewDialer(dsn)
		require.NoError(t, err)
		redacttest.AssertRedacted(t, []string{pw}, d, *d, manager.Config{Server: d.ServerKey(), Dialer: d})
		for _, verb := range redacttest.Verbs {
			for _, h := range []any{holder{*d}, &holder{*d}, []any{&holder{*d}}} {
				assert.NotContains(t, fmt.Sprintf(verb, h), pw, "a Dialer in an unexported field, %s", verb)
			}
		}
		assert.Equal(t, "postgres.Dialer(db.example:5432/appdb)", fmt.Sprintf("%+v", *d))
	}
}

// TestZeroIdentityNeverLogsInWithTheDSNPassword is leak 3 at the dialer: a
// request whose identity is the zero Identity (or what a failed constructor
// returned) is refused before connecting, although the DSN's password would
// have logged it in.
func TestZeroIdentityNeverLogsInWithTheDSNPassword(t *testing.T) {
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, "zeroid")
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	failed, err := tokens.StaticTokenIdentity("", time.Time{})
	require.Error(t, err)
	for name, id := range map[string]tokens.Identity{"zero": {}, "failed constructor": failed} {
		c, err := d.Dial(ctx, actors.DialRequest{Key: tokens.NewKey(d.ServerKey(), "sql-login"), Identity: id})
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		require.Nil(t, c, name)
	}
	c, err := d.Dial(ctx, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err, "the explicit SQL login does log in")
	assert.Equal(t, role, currentUser(t, c))
	require.NoError(t, c.Close())
}
