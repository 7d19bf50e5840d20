package manager_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// A service that reaches its database as a user-assigned managed identity.
// In production the Dialer is drivers/sqlserver's (sqlserver.NewDialer(dsn))
// and the credential talks to the Azure host's identity endpoint; here the
// endpoint is sim/entra and the database sim/memdb, so the example runs
// anywhere.
func ExampleManager_managedIdentity() {
	idp, _ := entra.New(entra.Config{})
	defer idp.Close()
	const clientID = "0b1d7a2c-5e8f-4c3a-9d6b-1f2e3a4b5c6d"
	idp.RegisterManagedIdentity(clientID, "object-1")
	os.Setenv("IDENTITY_ENDPOINT", idp.MIEndpoint()) // set by App Service in production
	os.Setenv("IDENTITY_HEADER", idp.MIHeader())
	defer os.Unsetenv("IDENTITY_ENDPOINT")
	defer os.Unsetenv("IDENTITY_HEADER")

	id, err := tokens.UserAssignedIdentity(azidentity.ClientID(clientID), idp.ManagedIdentityOptions(azidentity.ClientID(clientID)))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := manager.New(manager.Config{
		Server:  "myserver.database.windows.net:1433/app",
		Dialer:  memdb.New(),
		MaxSize: 10,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close(context.Background())

	ctx := context.Background()
	for range 3 {
		lease, err := m.Acquire(ctx, id)
		if err != nil {
			fmt.Println(err)
			return
		}
		// ... use lease.Conn() ...
		lease.Release(nil)
	}
	s := m.Stats().Total
	fmt.Printf("3 acquires: %d physical open, %d token minted, %d token request to the endpoint\n",
		s.Opens, s.TokenMints, idp.Issued(clientID))
	// Output: 3 acquires: 1 physical open, 1 token minted, 1 token request to the endpoint
}

// The *sql.DB facade: each call runs as the identity in its ctx, on a
// connection of that identity's own pool.
func ExampleOpenDB() {
	m, _ := manager.New(manager.Config{Server: "sql1:1433/app", Dialer: memdb.New()})
	defer m.Close(context.Background())
	db := manager.OpenDB(m)
	defer db.Close()

	for _, user := range []string{"alice", "bob"} {
		id := tokens.New(tokens.KindUserAccount, "acct:"+user, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
			return tokens.Token{Value: "token-of-" + user, ExpiresOn: time.Now().Add(time.Hour)}, nil
		}))
		ctx := tokens.WithIdentity(context.Background(), id)
		var who string
		// With drivers/sqlserver this would be "SELECT SUSER_SNAME()".
		if err := db.QueryRowContext(ctx, "SELECT IDENTITY").Scan(&who); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(who)
	}
	_, err := db.ExecContext(context.Background(), "SELECT 1")
	fmt.Println(err)
	// Output:
	// acct:alice
	// acct:bob
	// idpool: no identity (use tokens.WithIdentity on the ctx)
}

// Bring your own token: any function that returns a token and its expiry.
// Such an identity is keyed by the principal its first token names, so a
// rotated token keeps its pool.
func ExampleManager_bringYourOwnToken() {
	minted := 0
	id, _ := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) {
		minted++
		// e.g. a token your service got through on-behalf-of
		return tokens.Token{Value: fmt.Sprintf("opaque-token-%d", minted), ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	m, _ := manager.New(manager.Config{Server: "sql1:1433/app", Dialer: memdb.New()})
	defer m.Close(context.Background())
	for range 5 {
		l, err := m.Acquire(context.Background(), id)
		if err != nil {
			fmt.Println(err)
			return
		}
		l.Release(nil)
	}
	fmt.Println("pools:", m.Stats().Pools, "tokens minted:", minted)
	// Output: pools: 1 tokens minted: 2
}

// Reading Stats: per pool and in total. Waiters above zero with Open at
// MaxSize means the pool is saturated; DialFailures and BlockedFails rising
// mean the server refuses logins.
func ExampleManager_Stats() {
	m, _ := manager.New(manager.Config{Server: "sql1:1433/app", Dialer: memdb.New(), MaxSize: 2})
	defer m.Close(context.Background())
	id := tokens.SQLLogin()
	a, _ := m.Acquire(context.Background(), id)
	b, _ := m.Acquire(context.Background(), id)
	a.Release(nil)

	s := m.Stats()
	p := s.PerPool[0]
	fmt.Printf("pools %d; %s: open %d/%d, busy %d, idle %d, waiters %d\n", s.Pools, p.Key, p.Open, p.MaxSize, p.Busy, p.Idle, p.Waiters)
	fmt.Printf("acquires %d: %d hits, %d misses (physical opens)\n", p.Acquires, p.Hits, p.Misses)
	b.Release(nil)
	// Output:
	// pools 1; sql1:1433/app/sql-login: open 2/2, busy 1, idle 1, waiters 0
	// acquires 2: 0 hits, 2 misses (physical opens)
}
