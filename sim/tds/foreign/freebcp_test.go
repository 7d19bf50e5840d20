package foreign_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFreeBCPCopiesRowsIn runs FreeTDS's freebcp (same package as tsql,
// freetds-bin) to copy a file into a table of `idpool tds`: INSERT BULK, then
// a BULK_LOAD message that, as FreeTDS always sends it, ends after its last
// ROW with no DONE token. SQL Server loads it; the simulator answered it
// with error 4002 and loaded nothing, while freebcp still said "2 rows
// copied".
func TestFreeBCPCopiesRowsIn(t *testing.T) {
	tsqlBin(t)
	bin, err := exec.LookPath("freebcp")
	if err != nil {
		notInstalled(t, "FreeTDS (freebcp)", err)
	}
	s := startIdpoolTDS(t)
	c := freeTDSConn(s)
	loggedIn(t, c, "CREATE TABLE bcp_in (id int NOT NULL, name nvarchar(10))\ngo\n")

	data := filepath.Join(t.TempDir(), "rows.txt")
	require.NoError(t, os.WriteFile(data, []byte("1\tabc\n2\tdéf\n"), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bcp_in", "in", data, "-S", "sim", "-U", c.user, "-P", c.pass, "-c")
	cmd.Env = freeTDSEnv(t, c)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	t.Logf("freebcp:\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	require.NoError(t, err)
	assert.NotContains(t, stdout.String()+stderr.String(), "Msg ")
	assert.Contains(t, stdout.String(), "2 rows copied.")

	out := loggedIn(t, c, "SELECT COUNT(*) AS n FROM bcp_in\ngo\n")
	assert.Contains(t, out, "n\n2\n")
}
