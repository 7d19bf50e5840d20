package sqlserver_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
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

// A DSN that names no server was taken as localhost:1433, go-mssqldb's
// default: an empty DSN (an environment variable that was never set), a key
// go-mssqldb does not know ("host="), a URL with no host. Every token
// identity's Entra token would then go to whatever listens on the machine's
// port 1433. Such a DSN is refused; localhost named on purpose is not.
func TestDSNNamingNoServerIsRefused(t *testing.T) {
	for _, dsn := range []string{
		"",
		"   ",
		"host=db1.example;database=appdb",
		"database=appdb;user id=u;password=" + sentinelPassword,
		"odbc:database=appdb",
		"server=;database=appdb",
		`server=\inst1;database=appdb`,
		"sqlserver://?database=appdb",
		"sqlserver://:1500?database=appdb",
		"sqlserver://u:" + sentinelPassword + "@/inst1?database=appdb",
	} {
		_, err := sqlserver.NewDialer(dsn)
		require.ErrorIs(t, err, sqlserver.ErrInvalidDSN, "%q", dsn)
		assert.Contains(t, err.Error(), "names no server", dsn)
		assertNoSecret(t, err.Error())
		_, err = sqlserver.ServerKey(dsn)
		require.ErrorIs(t, err, sqlserver.ErrInvalidDSN, "%q", dsn)
		_, err = sqlserver.OpenDB(dsn, manager.Config{})
		require.ErrorIs(t, err, sqlserver.ErrInvalidDSN, "%q", dsn)
	}
	for dsn, want := range map[string]string{
		"server=localhost;database=appdb":   "localhost:1433/appdb",
		"server=.;database=appdb":           "localhost:1433/appdb",
		"server=(local);database=appdb":     "localhost:1433/appdb",
		"sqlserver://localhost?database=a":  "localhost:1433/a",
		"Data Source=db1;Initial Catalog=a": "db1:1433/a",
	} {
		got, err := sqlserver.ServerKey(dsn)
		require.NoError(t, err, dsn)
		assert.Equal(t, want, got, dsn)
	}
}
