package sqlserver_test

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/internal/redacttest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// holder keeps a Dialer in an unexported field, where fmt cannot call its
// redacting methods and prints the fields as they are.
type holder struct {
	d sqlserver.Dialer
}

// TestDialerNeverPrintsThePassword is leak 7: a Dialer copied by value used
// to print its DSN's password with %+v, its redacting methods having pointer
// receivers. Every rendering of a Dialer, by value or by pointer, of the
// Config that holds it and of its dial errors is checked for the password.
func TestDialerNeverPrintsThePassword(t *testing.T) {
	srv := startServer(t)
	dsns := []string{
		dsnFor(srv, ""),
		"server=" + srv.Addr() + ";user id=app;password=" + sentinelPassword + ";database=appdb;encrypt=disable",
		"odbc:server=" + srv.Addr() + ";uid=app;pwd={" + sentinelPassword + "};database=appdb;encrypt=disable",
	}
	for _, dsn := range dsns {
		d, err := sqlserver.NewDialer(dsn)
		require.NoError(t, err)
		redacttest.AssertRedacted(t, []string{sentinelPassword}, d, *d, manager.Config{Server: d.ServerKey(), Dialer: d})
		for _, verb := range redacttest.Verbs {
			for _, h := range []any{holder{*d}, &holder{*d}, []any{&holder{*d}}} {
				assert.NotContains(t, fmt.Sprintf(verb, h), sentinelPassword, "a Dialer in an unexported field, %s", verb)
			}
		}
		assert.Equal(t, "sqlserver.Dialer("+d.ServerKey()+")", fmt.Sprintf("%+v", *d))
	}

	// A failed login: its error, the error's value and its wrapper.
	wrong := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", sentinelPassword+"-wrong"), Host: srv.Addr(),
		RawQuery: "encrypt=disable&dial+timeout=5"}
	wd, err := sqlserver.NewDialer(wrong.String())
	require.NoError(t, err)
	_, err = wd.Dial(ctxT(t), actors.DialRequest{Identity: tokens.SQLLogin()})
	var de *sqlserver.DialError
	require.True(t, errors.As(err, &de), "%v", err)
	redacttest.AssertRedacted(t, []string{sentinelPassword}, de, *de, err, fmt.Errorf("wrapped: %w", err))
}
