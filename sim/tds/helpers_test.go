package tds_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/tds"
)

// testKey signs the tests' tokens; forged tokens use another key.
var testKey = []byte("sim-tds-test-signing-key-0123456789")

// mintToken makes an HS256 JWT for upn that expires at exp.
func mintToken(t testing.TB, key []byte, upn string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"upn": upn, "exp": exp.Unix(), "aud": "https://database.windows.net/",
	}).SignedString(key)
	require.NoError(t, err)
	return tok
}

// verifyToken is the tests' tds.Options.VerifyToken: an HS256 JWT signed
// with testKey whose upn claim is the login.
func verifyToken(token string) (string, time.Time, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return testKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience("https://database.windows.net/"))
	if errors.Is(err, jwt.ErrTokenExpired) {
		return "", time.Time{}, fmt.Errorf("verify: %w", tds.ErrTokenExpired)
	}
	if err != nil {
		return "", time.Time{}, err
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return "", time.Time{}, errors.New("verify: no exp claim")
	}
	upn, _ := claims["upn"].(string)
	return upn, exp.Time, nil
}

const alicePassword = "Alice-Pa55word!"

func startServer(t testing.TB) *tds.Server {
	t.Helper()
	srv, err := tds.Start(tds.Options{
		Users:       map[string]string{"alice": alicePassword},
		VerifyToken: verifyToken,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

// sqlDSN is a SQL-login DSN for the server; extra is appended as query
// parameters.
func sqlDSN(srv *tds.Server, user, password, extra string) string {
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword(user, password), Host: srv.Addr(),
		RawQuery: "database=app&dial+timeout=5"}
	if !strings.Contains(extra, "encrypt=") {
		u.RawQuery += "&encrypt=disable"
	}
	if extra != "" {
		u.RawQuery += "&" + extra
	}
	return u.String()
}

func tokenDSN(srv *tds.Server) string {
	return "sqlserver://" + srv.Addr() + "?database=app&encrypt=disable&dial+timeout=5"
}

func openDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	c, err := mssql.NewConnector(dsn)
	require.NoError(t, err)
	db := sql.OpenDB(c)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func openTokenDB(t testing.TB, srv *tds.Server, token string) *sql.DB {
	t.Helper()
	c, err := mssql.NewConnectorWithAccessTokenProvider(tokenDSN(srv), func(context.Context) (string, error) {
		return token, nil
	})
	require.NoError(t, err)
	db := sql.OpenDB(c)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// requireSQLError asserts err is an mssql.Error with the given number.
func requireSQLError(t testing.TB, err error, number int32) {
	t.Helper()
	require.Error(t, err)
	var me mssql.Error
	require.True(t, errors.As(err, &me), "want mssql.Error %d, got %T: %v", number, err, err)
	require.Equal(t, number, me.Number, me.Message)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func timeInAnHour() time.Time { return time.Now().Add(time.Hour) }

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
