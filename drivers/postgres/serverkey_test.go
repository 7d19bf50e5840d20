package postgres

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerKey(t *testing.T) {
	cases := []struct{ dsn, want string }{
		{"postgres://u:p@db.example.com:6432/app?sslmode=require", "db.example.com:6432/app"},
		{"postgres://u:p@DB.Example.COM/App", "db.example.com:5432/App"},
		{"host=127.0.0.1 port=5433 user=u password=p dbname=x sslmode=disable", "127.0.0.1:5433/x"},
		{"postgres://u@[::1]:5432/x", "[::1]:5432/x"},
		{"postgres://u@a.example:1,b.example:2/x", "a.example:1/x"},
		{"postgresql://u:p@srv.postgres.database.azure.com/postgres?sslmode=require", "srv.postgres.database.azure.com:5432/postgres"},
	}
	for _, c := range cases {
		got, err := ServerKey(c.dsn)
		require.NoError(t, err, c.dsn)
		assert.Equal(t, c.want, got, c.dsn)
		assert.NotContains(t, got, "p@")
	}
}

func TestServerKeyRejectsBadDSNsWithoutQuotingThem(t *testing.T) {
	for _, dsn := range []string{
		"postgres://user:Hunter2Secret@host:notaport/db",
		"host=h password='Hunter2Secret",
		"postgres://user:Hunter2Secret@%zz/db",
	} {
		_, err := ServerKey(dsn)
		require.Error(t, err, dsn)
		assert.NotContains(t, err.Error(), "Hunter2Secret")
		_, err = NewDialer(dsn)
		require.Error(t, err, dsn)
		assert.NotContains(t, err.Error(), "Hunter2Secret")
		assert.Nil(t, errorsUnwrap(err), "no cause that could quote the DSN")
	}
	_, err := ServerKey("postgres://u@h/db%00x")
	require.Error(t, err, "NUL would break the pool key")
}

func errorsUnwrap(err error) error {
	u, ok := err.(interface{ Unwrap() error })
	if !ok {
		return nil
	}
	return u.Unwrap()
}

func FuzzServerKey(f *testing.F) {
	for _, s := range []string{
		"postgres://u:p@h:5432/db",
		"postgres://u:p@H/db?sslmode=require",
		"host=h port=1 dbname=d password=secret",
		"postgres://u@[::1]:5432/x",
		"postgres://u@a:1,b:2/x",
		"postgres://u@h/db%00",
		"postgres://u:p@h:99999/db",
		"host=/tmp dbname=x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		key, err := ServerKey(dsn)
		if err != nil {
			return
		}
		assert.NotContains(t, key, "\x00")
		cfg, perr := pgx.ParseConfig(dsn)
		require.NoError(t, perr)
		want := net.JoinHostPort(strings.ToLower(cfg.Host), strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
		assert.Equal(t, want, key)
		d, err := NewDialer(dsn)
		require.NoError(t, err)
		assert.Equal(t, key, d.ServerKey())
	})
}
