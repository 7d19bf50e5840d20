package sqlserver_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
)

func TestServerKey(t *testing.T) {
	cases := map[string]string{
		"sqlserver://u:" + sentinelPassword + "@Host.Example:1444?database=Sales":                      "host.example:1444/Sales",
		"sqlserver://u:p@db.example?database=x":                                                        "db.example:1433/x",
		"sqlserver://u:p@db.example/Inst1?database=x":                                                  `db.example\inst1/x`,
		"sqlserver://[::1]:1500":                                                                       "[::1]:1500/",
		"server=tcp:srv.database.windows.net,1433;database=app;user id=u;password=" + sentinelPassword: "srv.database.windows.net:1433/app",
		"odbc:server=Srv;port=1500;database=d;pwd={" + sentinelPassword + "}":                          "srv:1500/d",
	}
	for dsn, want := range cases {
		got, err := sqlserver.ServerKey(dsn)
		require.NoError(t, err, dsn)
		assert.Equal(t, want, got)
		assert.NotContains(t, got, sentinelPassword)
		d, err := sqlserver.NewDialer(dsn)
		require.NoError(t, err)
		assert.Equal(t, want, d.ServerKey())
	}
}

func TestInvalidDSNErrorsHideThePassword(t *testing.T) {
	escaped := url.UserPassword("u", sentinelPassword+"/?#").String()
	bad := []string{
		"sqlserver://u:" + sentinelPassword + "@host:notaport?database=x",
		"sqlserver://" + escaped + "@host?encrypt=bogus&port=" + url.QueryEscape(sentinelPassword+"/?#"),
		"sqlserver://u:p@host?password=" + sentinelPassword + "&port=" + sentinelPassword,
		"server=host;user id=u;password=" + sentinelPassword + ";port=" + sentinelPassword,
		"server=host;pwd=" + sentinelPassword + ";packet size=" + sentinelPassword,
		"odbc:server=host;pwd={" + sentinelPassword + "};port={" + sentinelPassword + "}",
		"odbc:server=host;pwd={" + sentinelPassword + ";port=x",
	}
	for _, dsn := range bad {
		_, err := sqlserver.NewDialer(dsn)
		require.Error(t, err, dsn)
		assert.True(t, errors.Is(err, sqlserver.ErrInvalidDSN))
		assertNoSecret(t, err.Error())
		_, err = sqlserver.ServerKey(dsn)
		require.Error(t, err)
		assertNoSecret(t, err.Error())
	}
}

// assertNoSecret checks for the password in any letter case: the driver
// lower-cases some of the values it quotes.
func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	assert.NotContains(t, strings.ToLower(s), strings.ToLower(sentinelPassword))
}

func TestShortPasswordWithholdsDriverText(t *testing.T) {
	_, err := sqlserver.NewDialer("server=host;password=pw;port=pw")
	require.Error(t, err)
	assert.NotContains(t, strings.ToLower(err.Error()), "pw")
	_, err = sqlserver.NewDialer("server=host;password=" + sentinelPassword + ";port=12x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid tcp port", "long passwords are scrubbed in place, keeping the driver's text")
}
