package postgres

import (
	"context"
	"database/sql/driver"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
)

// sentinel builds a secret that is easy to find in any text it leaks into,
// about as long as an Entra access token.
func sentinel(tag string) string {
	return "SENTINEL-" + tag + "-" + strings.Repeat("x", 1500) + "-END"
}

// noMint is a token source that counts calls: the dialer must never mint.
type noMint struct{ calls atomic.Int32 }

func (n *noMint) Token(context.Context) (tokens.Token, error) {
	n.calls.Add(1)
	return tokens.Token{}, nil
}

func tokenRequest(server, disc string, src tokens.Source, value string) actors.DialRequest {
	return actors.DialRequest{
		Key:      tokens.NewKey(server, disc),
		Identity: tokens.New(tokens.KindManagedIdentity, disc, src),
		Token:    tokens.Token{Value: value, ExpiresOn: time.Now().Add(time.Hour)},
	}
}

func sqlLoginRequest(server string) actors.DialRequest {
	return actors.DialRequest{Key: tokens.NewKey(server, ""), Identity: tokens.SQLLogin()}
}

func dial(t *testing.T, d *Dialer, req actors.DialRequest) (driver.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, req)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// currentUser asks the server who the connection is logged in as.
func currentUser(t *testing.T, c driver.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := c.(driver.QueryerContext).QueryContext(ctx, "SELECT current_user", nil)
	require.NoError(t, err)
	defer rows.Close()
	dest := make([]driver.Value, 1)
	require.NoError(t, rows.Next(dest))
	s, ok := dest[0].(string)
	require.True(t, ok, "current_user is text, got %T", dest[0])
	return s
}
