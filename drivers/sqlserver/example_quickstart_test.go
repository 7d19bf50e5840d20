package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// The README's Quickstart is the body of quickstart, word for word (a test
// in cmd/idpool, TestReadmeQuickstartIsTheExample, checks it). Example_quickstart runs it against a
// local Entra ID (sim/entra) and a simulated SQL Server (sim/tds); against
// Azure, pass the real DSN, the app's credentials and nil options.

// quickstart:begin
// quickstart runs one query as a service principal through idpool.
// dsn names the server and database and holds no credentials, e.g.
// "sqlserver://myserver.database.windows.net?database=appdb".
// opts are azidentity's options; nil for the public Entra ID.
func quickstart(ctx context.Context, dsn, tenantID, clientID, secret string,
	opts *azidentity.ClientSecretCredentialOptions) (string, error) {
	// dialer opens physical connections, each logged in with the token of
	// the identity it is opened for.
	dialer, err := sqlserver.NewDialer(dsn)
	if err != nil {
		return "", err
	}
	// identity is who the connections log in as; its azidentity credential
	// fetches and caches the tokens.
	identity, err := tokens.ClientSecretIdentity(tenantID, clientID, secret, opts)
	if err != nil {
		return "", err
	}

	m, err := manager.New(manager.Config{
		Server:  dialer.ServerKey(), // names the server; no credentials
		Dialer:  dialer,
		MaxSize: 10, // per identity
	})
	if err != nil {
		return "", err
	}
	defer m.Close(context.Background())

	lease, err := m.Acquire(ctx, identity) // a connection logged in as identity
	if err != nil {
		return "", err
	}
	who, err := whoAmI(ctx, lease.Conn())
	lease.Release(err) // nil or a SQL error: kept; a broken connection: closed
	if err != nil {
		return "", err
	}
	return who, nil
}

// whoAmI runs a query on a leased connection at the database/sql/driver
// level (go-mssqldb prepares every statement); the *sql.DB facade below
// does all of this for you.
func whoAmI(ctx context.Context, conn *manager.Conn) (string, error) {
	stmt, err := conn.PrepareContext(ctx, "SELECT SUSER_SNAME()")
	if err != nil {
		return "", err
	}
	defer stmt.Close()
	rows, err := stmt.(driver.StmtQueryContext).QueryContext(ctx, nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	who := make([]driver.Value, 1)
	if err := rows.Next(who); err != nil {
		return "", err
	}
	return fmt.Sprint(who[0]), nil
}

// quickstart:end

func Example_quickstart() {
	const tenant, clientID, secret = "00000000-0000-0000-0000-0000000c0451", "quickstart-app", "quickstart-secret"
	idp, err := entra.New(entra.Config{})
	check(err)
	defer idp.Close()
	idp.RegisterApp(tenant, clientID, secret, "oid-quickstart")
	srv, err := tds.Start(tds.Options{VerifyToken: func(token string) (string, time.Time, error) {
		c, err := idp.Verify(token, "https://database.windows.net/")
		if err != nil {
			return "", time.Time{}, err
		}
		return c.AppID, c.ExpiresAt.Time, nil
	}})
	check(err)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	who, err := quickstart(ctx, "sqlserver://"+srv.Addr()+"?database=appdb&encrypt=disable",
		tenant, clientID, secret, idp.SecretOptions())
	check(err)
	fmt.Println(who)
	// Output: quickstart-app
}
