package sqlserver_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// Two service principals share one *sql.DB; each call runs on a connection
// logged in with the token of the identity in its ctx. Locally, sim/entra
// plays Entra ID (the real azidentity ClientSecretCredential talks to it)
// and sim/tds plays the SQL Server that checks the tokens. Against Azure,
// drop both and use the real DSN and credentials.
func ExampleOpenDB() {
	const tenant = "00000000-0000-0000-0000-0000000c0450"
	idp, err := entra.New(entra.Config{})
	check(err)
	defer idp.Close()
	idp.RegisterApp(tenant, "reporting-app", "reporting-secret", "oid-reporting")
	idp.RegisterApp(tenant, "billing-app", "billing-secret", "oid-billing")

	// The server accepts tokens issued by idp for Azure SQL and reports the
	// app's client id as SUSER_SNAME().
	srv, err := tds.Start(tds.Options{VerifyToken: func(token string) (string, time.Time, error) {
		c, err := idp.Verify(token, "https://database.windows.net/")
		if err != nil {
			return "", time.Time{}, err
		}
		return c.AppID, c.ExpiresAt.Time, nil
	}})
	check(err)
	defer srv.Close()

	// One *sql.DB for every identity; MaxSize is per identity.
	db, err := sqlserver.OpenDB("sqlserver://"+srv.Addr()+"?database=appdb&encrypt=disable", manager.Config{MaxSize: 5})
	check(err)
	defer db.Close()

	reporting, err := tokens.ClientSecretIdentity(tenant, "reporting-app", "reporting-secret", idp.SecretOptions())
	check(err)
	billing, err := tokens.ClientSecretIdentity(tenant, "billing-app", "billing-secret", idp.SecretOptions())
	check(err)

	ctx := context.Background()
	for _, id := range []tokens.Identity{reporting, billing, reporting} {
		var who string
		err := db.QueryRowContext(tokens.WithIdentity(ctx, id), "SELECT SUSER_SNAME()").Scan(&who)
		check(err)
		fmt.Println(who)
	}

	// A call without an identity never borrows someone else's connection.
	_, err = db.ExecContext(ctx, "SELECT 1")
	fmt.Println(errors.Is(err, tokens.ErrNoIdentity))

	st := db.Manager.Stats()
	fmt.Printf("%d pools, %d logins, %d tokens issued\n", st.Pools, srv.TotalLogins(), idp.TotalIssued())
	// Output:
	// reporting-app
	// billing-app
	// reporting-app
	// true
	// 2 pools, 2 logins, 2 tokens issued
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
