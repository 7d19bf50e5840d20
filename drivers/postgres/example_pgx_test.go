package postgres_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// The README's pgx-native snippet is loadAndReport, word for word
// (TestReadmePgxSnippetIsTheExample checks it). Example_pgxNative runs it
// against a throwaway local PostgreSQL (it needs the PostgreSQL 15 binaries;
// see the README's set-up), where each identity's token is its role's
// password, as an Entra token is on Azure Database for PostgreSQL.

// pgxnative:begin
// loadAndReport loads items as one identity and reads them back as another
// through pgx's own API: each call runs on a *pgx.Conn logged in as the
// identity in its ctx, from that identity's pool.
func loadAndReport(ctx context.Context, pool *postgres.Pool, loader, reporter tokens.Identity) error {
	// A lease for several calls; AcquireFunc releases it whatever f returns.
	err := pool.AcquireFunc(tokens.WithIdentity(ctx, loader), func(l *postgres.Lease) error {
		items := [][]any{{1, "apples"}, {2, "pears"}}
		_, err := l.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows(items))
		if err != nil {
			return err
		}
		_, err = l.Exec(ctx, "UPDATE items SET name = upper(name)")
		return err
	})
	if err != nil {
		return err
	}

	// One-shot calls take a lease and give it back: a batch when it is
	// closed, rows when they are closed or read to the end.
	ctx = tokens.WithIdentity(ctx, reporter)
	var who string
	var n int
	b := &pgx.Batch{}
	b.Queue("SELECT current_user").QueryRow(func(r pgx.Row) error { return r.Scan(&who) })
	b.Queue("SELECT count(*) FROM items").QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	rows, err := pool.Query(ctx, "SELECT name FROM items ORDER BY id")
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	fmt.Printf("%s sees %d items: %v\n", who, n, names)
	return nil
}

// pgxnative:end

// Two identities, each logging in as its own role, share one Pool.
func Example_pgxNative() {
	srv, err := pgtest.Launch()
	check(err)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, srv.AdminDSN())
	check(err)
	for _, sql := range []string{
		"CREATE ROLE loader LOGIN PASSWORD 'loader-token'",
		"CREATE ROLE reporter LOGIN PASSWORD 'reporter-token'",
		"CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)",
		"GRANT SELECT, INSERT, UPDATE ON items TO loader",
		"GRANT SELECT ON items TO reporter",
	} {
		_, err := admin.Exec(ctx, sql)
		check(err)
	}
	check(admin.Close(ctx))

	// On Azure: tokens.UserAssignedIdentity(azidentity.ClientID(...), nil,
	// tokens.WithScope(tokens.ScopePostgreSQL)) for each identity, and its
	// Entra principal's name as its login.
	loader := localIdentity("msi:loader", "loader-token")
	reporter := localIdentity("msi:reporter", "reporter-token")
	logins := map[string]string{"msi:loader": "loader", "msi:reporter": "reporter"}

	pool, err := postgres.OpenPool(srv.DSN("nobody", "", "postgres")+"&pool_max_conns=2", manager.Config{},
		postgres.WithUser(func(req manager.DialRequest) string { return logins[req.Key.Discriminator()] }))
	check(err)
	defer pool.Close()

	check(loadAndReport(ctx, pool, loader, reporter))
	fmt.Println(pool.Manager().Stats().Pools, "pools")
	// Output:
	// reporter sees 2 items: [APPLES PEARS]
	// 2 pools
}

// localIdentity is a managed identity whose token is a fixed password.
func localIdentity(disc, token string) tokens.Identity {
	return tokens.New(tokens.KindManagedIdentity, disc, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
