package sqlserver_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/tokens"
)

// latin1Password is "été-Secret-42" in Latin-1: not valid UTF-8.
const latin1Password = "\xe9t\xe9-Secret-42"

// TestPasswordThatIsNotUTF8IsScrubbedWithoutPanicking: scrubbing compiled
// the password into a regexp, which refuses invalid UTF-8, so NewDialer,
// ServerKey and every failed Dial panicked, with the password in the panic's
// text (the pool turns a dialer's panic into an error that quotes it).
func TestPasswordThatIsNotUTF8IsScrubbedWithoutPanicking(t *testing.T) {
	bad := "server=host;user id=u;password=" + latin1Password + ";port=" + latin1Password
	for name, f := range map[string]func() error{
		"NewDialer": func() error { _, err := sqlserver.NewDialer(bad); return err },
		"ServerKey": func() error { _, err := sqlserver.ServerKey(bad); return err },
	} {
		var err error
		require.NotPanics(t, func() { err = f() }, name)
		require.ErrorIs(t, err, sqlserver.ErrInvalidDSN, name)
		assert.NotContains(t, err.Error(), latin1Password, name)
		assert.NotContains(t, err.Error(), "Secret-42", name)
	}

	srv := startServer(t)
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", latin1Password), Host: srv.Addr(),
		RawQuery: "encrypt=disable&dial+timeout=5"}
	d, err := sqlserver.NewDialer(u.String())
	require.NoError(t, err)
	require.NotPanics(t, func() { _, err = d.Dial(ctxT(t), actors.DialRequest{Identity: tokens.SQLLogin()}) })
	var de *sqlserver.DialError
	require.True(t, errors.As(err, &de), "%v", err)
	assert.False(t, strings.Contains(err.Error(), "Secret-42"), "%v", err)
}

// TestPasswordScanSurvivesLettersThatChangeLengthInLowerCase: the braced
// password scan found "pwd={" in strings.ToLower(dsn) and sliced dsn with
// that offset, but lower casing changes the length of some letters ("Ⱥ", 2
// bytes, becomes 3; "İ", 2, becomes 1) and of bytes that are not UTF-8 (1
// becomes 3), so a server or database so named made NewDialer and ServerKey
// panic (or cut the wrong text as the password).
func TestPasswordScanSurvivesLettersThatChangeLengthInLowerCase(t *testing.T) {
	for _, dsn := range []string{
		"odbc:server=ȺȺȺ;pwd={",
		"odbc:server=İȺȺȺȺ;pwd={" + sentinelPassword,
		"\xfa\xfa;pwd={000",
	} {
		var err error
		require.NotPanics(t, func() { _, err = sqlserver.NewDialer(dsn) }, "%q", dsn)
		if err != nil {
			assertNoSecret(t, err.Error())
		}
		require.NotPanics(t, func() { _, err = sqlserver.ServerKey(dsn) }, "%q", dsn)
		if err != nil {
			assertNoSecret(t, err.Error())
		}
	}
}
