package sqlserver_test

import (
	"strings"
	"testing"

	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/idpool/idpool/drivers/sqlserver"
)

// FuzzInvalidDSNHidesThePassword: whatever the DSN, in any form and however
// quoted, NewDialer and ServerKey neither panic nor return an error that
// contains the password (or new password) as go-mssqldb itself reads it. Its
// seeds and checked-in corpus run with every go test.
func FuzzInvalidDSNHidesThePassword(f *testing.F) {
	for _, dsn := range []string{
		"sqlserver://u:" + sentinelPassword + "@host:notaport?database=x",
		"sqlserver://u:p@host?password=" + sentinelPassword + "&port=" + sentinelPassword,
		"server=host;user id=u;password=" + sentinelPassword + ";port=" + sentinelPassword,
		`server=host;password="` + sentinelPassword + `;x""y";port="` + sentinelPassword + `;x""y"`,
		"odbc:server=host;pwd={" + sentinelPassword + "}};port={" + sentinelPassword + "}}",
		"odbc:server=host;pwd={" + sentinelPassword + "}Q",
		"server=host;change password=" + sentinelPassword + ";packet size=" + sentinelPassword,
		"server=host;pwd= " + sentinelPassword + " ;dial timeout=" + sentinelPassword,
	} {
		f.Add(dsn)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		cfg, _ := msdsn.Parse(dsn)
		var secrets []string
		for k, v := range cfg.Parameters {
			switch k {
			case "password", "change password":
				if len(strings.TrimSpace(v)) >= 4 {
					secrets = append(secrets, strings.ToLower(v))
				}
			}
		}
		if len(secrets) == 0 {
			return
		}
		_, err1 := sqlserver.NewDialer(dsn)
		_, err2 := sqlserver.ServerKey(dsn)
		for _, s := range secrets {
			for _, err := range []error{err1, err2} {
				if err != nil && strings.Contains(strings.ToLower(err.Error()), s) {
					t.Fatalf("DSN %q: error %q contains the password %q", dsn, err, s)
				}
			}
		}
	})
}
