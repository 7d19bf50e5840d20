package sqlserver_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
)

// TestInvalidDSNErrorsHideQuotedPasswords: go-mssqldb reads an ADO value in
// double quotes as one value, ';' and all, with "" standing for one quote,
// and an ODBC value in braces with }} standing for one brace. A password so
// quoted must be scrubbed as the driver reads it, not as a split on ';'
// would: each DSN here repeats the password as a port, whose parse error
// quotes it.
func TestInvalidDSNErrorsHideQuotedPasswords(t *testing.T) {
	const tail = "Tail-9q4z"
	pw := sentinelPassword + ";" + tail
	bad := []string{
		`server=host;password="` + pw + `";port="` + pw + `"`,
		`server=host;pwd="` + sentinelPassword + `""` + tail + `";port="` + sentinelPassword + `""` + tail + `"`,
		`server=host; Password = "` + pw + `" ;port="` + pw + `"`,
		`odbc:server=host;pwd={` + sentinelPassword + `}}` + tail + `};port={` + sentinelPassword + `}}` + tail + `}`,
		`odbc:server=host;pwd = {` + pw + `};port={` + pw + `}`,
		`odbc:server=host;password={` + pw + `};port={` + pw + `}`,
	}
	for _, dsn := range bad {
		for _, f := range []func(string) error{
			func(s string) error { _, err := sqlserver.NewDialer(s); return err },
			func(s string) error { _, err := sqlserver.ServerKey(s); return err },
		} {
			err := f(dsn)
			require.Error(t, err, dsn)
			assert.True(t, errors.Is(err, sqlserver.ErrInvalidDSN))
			assertNoSecret(t, err.Error())
			assert.NotContains(t, strings.ToLower(err.Error()), strings.ToLower(tail), "part of the password: %s", err)
		}
	}
}

// TestODBCSyntaxErrorsDoNotQuoteACharacter: go-mssqldb's ODBC syntax errors
// quote the character they stopped at, which after a braced password is the
// first character past a brace the user meant as part of it.
func TestODBCSyntaxErrorsDoNotQuoteACharacter(t *testing.T) {
	_, err := sqlserver.NewDialer("odbc:server=host;pwd={" + sentinelPassword + "}Q" + sentinelPassword)
	require.Error(t, err)
	assert.True(t, errors.Is(err, sqlserver.ErrInvalidDSN))
	assert.NotContains(t, err.Error(), "character Q", "%s", err)
	assert.Contains(t, err.Error(), "unexpected character at index", "the position is kept")
}

// TestDSNPrefixMustBeLowerCase: go-mssqldb recognises the URL form only as
// "sqlserver://" and the ODBC form only as "odbc:"; with any other case it
// reads the DSN as one ADO key with no value, so a Dialer would dial
// localhost:1433 with no database, sending a token identity's token there.
// Such a DSN is refused, with an error that names the prefix and quotes no
// password.
func TestDSNPrefixMustBeLowerCase(t *testing.T) {
	for _, dsn := range []string{
		"SQLSERVER://u:" + sentinelPassword + "@db.example:1433?database=x",
		"Sqlserver://db.example?database=x",
		"ODBC:server=db.example;pwd={" + sentinelPassword + "}",
	} {
		_, err := sqlserver.NewDialer(dsn)
		require.Error(t, err, dsn)
		assert.True(t, errors.Is(err, sqlserver.ErrInvalidDSN))
		assert.Contains(t, err.Error(), "lower case")
		assertNoSecret(t, err.Error())
		_, err = sqlserver.ServerKey(dsn)
		require.Error(t, err, dsn)
		assert.True(t, errors.Is(err, sqlserver.ErrInvalidDSN))
	}
}
