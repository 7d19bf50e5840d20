package manager

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestAHandedInTokenEndsItsOwnTransaction: a caller that began a
// transaction (or took a *sql.Conn) with a token handed in goes on with it,
// its ctx carrying that same identity, after the token crossed
// TokenThreshold or expired. The identity check of a bound lease refuses an
// expired handed-in token because its key may be that of another
// identity's lease (TestAnExpiredHandedInTokenPassesNoIdentityCheck); but
// this lease was granted to this very credential, whose holder may run on it
// with a ctx that carries no identity at all. Refused, its INSERT failed and
// so did its COMMIT (drivers/postgres's Commit and Rollback take the ctx),
// five minutes before the token expired, with the transaction open and the
// connection held.
func TestAHandedInTokenEndsItsOwnTransaction(t *testing.T) {
	clock := &skewClock{}
	keep := 10 * time.Hour
	m, _ := newManager(t, Config{MaxSize: 2, Clock: clock, IdleTimeout: keep, MaxLifetime: keep, PoolIdleTimeout: keep})
	facade := openFacade(t, m)
	for name, after := range map[string]time.Duration{"within the threshold": 17 * time.Minute, "expired": 25 * time.Minute} {
		t.Run(name, func(t *testing.T) {
			exp := clock.Now().Add(20 * time.Minute).Truncate(time.Second)
			static, err := tokens.StaticTokenIdentity(unsignedJWT(t, jwt.MapClaims{"tid": "t1", "oid": "o1", "exp": exp.Unix()}), time.Time{})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(tokens.WithIdentity(context.Background(), static), 5*time.Second)
			defer cancel()
			tx, err := facade.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback() }()
			_, err = tx.ExecContext(ctx, "INSERT INTO t")
			require.NoError(t, err)

			clock.Advance(after)
			_, err = tx.ExecContext(ctx, "INSERT INTO t")
			require.NoError(t, err, "its own transaction")
			var n int64
			require.NoError(t, tx.QueryRowContext(ctx, "SELECT COUNT t").Scan(&n))
			assert.Positive(t, n)
			require.NoError(t, tx.Commit())

			// A new call is a new acquire: refused.
			_, err = facade.ExecContext(ctx, "INSERT INTO t")
			assert.Error(t, err)
		})
	}
}

// TestTheZeroIdentityPassesNoCheckOfASQLLoginLease: the SQL-login identity
// and the zero Identity (what a failed constructor returns) carry no
// credential, so SameCredential holds between them; the check of a lease
// must not let a ctx carrying the zero Identity run on a SQL-login lease
// because of it.
func TestTheZeroIdentityPassesNoCheckOfASQLLoginLease(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	facade := openFacade(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := facade.Conn(tokens.WithIdentity(ctx, tokens.SQLLogin()))
	require.NoError(t, err)
	defer conn.Close()
	refused := tokens.New(tokens.KindSQLLogin, "sql-login", nil) // refused by New: no credential either
	require.Error(t, refused.Validate())
	for name, id := range map[string]tokens.Identity{"zero": {}, "refused": refused} {
		_, err = conn.ExecContext(tokens.WithIdentity(ctx, id), "SELECT 1")
		assert.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
	}
}
