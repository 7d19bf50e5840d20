package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
)

func init() {
	commands["tds"] = command{summary: "serve the simulated SQL Server (and its Entra ID) on loopback", run: runTDS}
}

// tdsAudience is the resource tokens for Azure SQL are issued for.
const tdsAudience = "https://database.windows.net/"

// runTDS serves sim/tds, with sim/entra beside it to issue and verify
// tokens, until ctx ends (Ctrl-C), and prints how to connect.
func runTDS(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("tds", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:1433", "loopback address to listen on")
	user := fs.String("user", "sa", "SQL login name")
	password := fs.String("password", "idpool-Sim-1", "SQL login password")
	lifetime := fs.Duration("token-lifetime", time.Hour, "lifetime of the tokens the embedded Entra ID issues")
	if err := fs.Parse(args); err != nil {
		return err
	}
	idp, err := entra.New(entra.Config{Lifetime: *lifetime})
	if err != nil {
		return err
	}
	defer idp.Close()
	const clientID, secret = "00000000-0000-0000-0000-00000000a99e", "idpool-sim-secret"
	idp.RegisterApp(idp.Tenant(), clientID, secret, "11111111-0000-0000-0000-00000000a99e")
	srv, err := tds.Start(tds.Options{
		Addr:  *addr,
		Users: map[string]string{*user: *password},
		VerifyToken: func(token string) (string, time.Time, error) {
			c, err := idp.Verify(token, tdsAudience)
			if err != nil {
				return "", time.Time{}, err
			}
			login := c.UPN
			if login == "" {
				login = c.AppID
			}
			return login, c.ExpiresAt.Time, nil
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "simulated SQL Server on %s (Ctrl-C to stop)\n", srv.Addr())
	fmt.Fprintf(stdout, "  SQL login:   sqlserver://%s:%s@%s?database=master&encrypt=disable\n", *user, *password, srv.Addr())
	fmt.Fprintf(stdout, "  token login: sqlserver://%s?database=master&encrypt=disable with an access token from:\n", srv.Addr())
	fmt.Fprintf(stdout, "  Entra ID authority %s (tenant %s; disable instance discovery; its TLS certificate is self-signed)\n", idp.AuthorityHost(), idp.Tenant())
	fmt.Fprintf(stdout, "    service principal: client id %s, secret %s, scope %s.default\n", clientID, secret, tdsAudience)
	fmt.Fprintf(stdout, "  managed identity endpoint: IDENTITY_ENDPOINT=%s IDENTITY_HEADER=%s\n", idp.MIEndpoint(), idp.MIHeader())
	<-ctx.Done()
	if errors.Is(ctx.Err(), context.Canceled) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil
	}
	return ctx.Err()
}
