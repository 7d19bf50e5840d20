package postgres_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
)

// noticeFrame is a NoticeResponse the proxy puts in front of every frame.
var noticeFrame = func() []byte {
	body := "SNOTICE\x00VNOTICE\x00C00000\x00Minjected by the proxy\x00\x00"
	b := []byte{'N', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
	return append(b, body...)
}()

// splittingProxy listens on 127.0.0.1 and forwards each connection to addr.
// What the server sends reaches the client one byte per write, and after
// the login every frame is preceded by a NoticeResponse: so the reset's
// replies come split at every byte, with notices between them, as a slow or
// odd network and server may deliver them. It returns the listening port.
func splittingProxy(t *testing.T, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c ...net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c...)
	}
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", addr)
			if err != nil {
				_ = client.Close()
				continue
			}
			track(client, server)
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(server, client)
				_ = server.Close()
			}()
			go func() {
				defer wg.Done()
				relaySplit(client, server)
				_ = client.Close()
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// relaySplit copies the server's frames to client, a byte per write, with a
// notice in front of each frame once the login's ReadyForQuery went by.
func relaySplit(client, server net.Conn) {
	r := bufio.NewReader(server)
	loggedIn := false
	hdr := make([]byte, 5)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		body := make([]byte, int(binary.BigEndian.Uint32(hdr[1:]))-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		out := append(append([]byte(nil), hdr...), body...)
		if loggedIn {
			out = append(append([]byte(nil), noticeFrame...), out...)
		}
		loggedIn = loggedIn || hdr[0] == 'Z'
		for i := range out {
			if _, err := client.Write(out[i : i+1]); err != nil {
				return
			}
		}
	}
}

// TestResetThroughASplittingProxy runs leases of one identity through a
// proxy that splits the server's replies at every byte and puts a notice in
// front of each frame: every lease sees its own results, and none sees the
// session state the last one left. The temporary table is counted in this
// session's own temporary schema: pg_tables also lists other sessions'
// temporary tables in the shared database, such as the one this test's
// last lease leaves to a session that is still exiting when the test runs
// again (-count=2) or another test of the package runs.
func TestResetThroughASplittingProxy(t *testing.T) {
	srv := pgtest.Shared(t)
	role, tok := srv.NewRole(t, "pxalice")
	other, _ := srv.NewRole(t, "pxother")
	srv.Exec(t, "GRANT "+other+" TO "+role)
	port := splittingProxy(t, "127.0.0.1:"+strconv.Itoa(srv.Port()))
	dsn := strings.Replace(srv.DSN("nobody", "", "postgres"), ":"+strconv.Itoa(srv.Port()), ":"+strconv.Itoa(port), 1)
	pool, err := postgres.OpenPool(dsn, manager.Config{MaxSize: 1}, postgres.WithUser(roleOf))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close()) })
	alice := tokenIdentity(role, tok)
	ctx := as(t, alice)

	state := `SELECT concat_ws(',', current_setting('statement_timeout'),
		coalesce(current_setting('idpool.secret', true), ''), current_user,
		(SELECT count(*) FROM pg_class WHERE relname = 'leak' AND relnamespace = pg_my_temp_schema()),
		(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
		(SELECT count(*) FROM pg_listening_channels()))`
	var pid int32
	for i := range 3 {
		l, err := pool.Acquire(ctx)
		require.NoError(t, err)
		if i == 0 {
			pid = backendPID(t, ctx, l)
		} else {
			assert.Equal(t, pid, backendPID(t, ctx, l), "the same session, reused")
		}
		assert.Equal(t, "0,,"+role+",0,0,0", scalar[string](t, ctx, l, state), "lease %d starts clean", i)
		for _, sql := range []string{
			"SET statement_timeout = '4242s'",
			"SELECT set_config('idpool.secret', 'leaked', false)",
			"CREATE TEMP TABLE leak (x int)",
			"DO $$ BEGIN EXECUTE 'SELECT pg_' || 'advisory_lock(4242)'; END $$",
			"LISTEN leakchan",
			"SET ROLE " + other,
		} {
			_, err := l.Exec(ctx, sql)
			require.NoError(t, err, sql)
		}
		assert.Equal(t, "4242s,leaked,"+other+",1,1,1", scalar[string](t, ctx, l, state), "lease %d set it", i)
		var sum int64
		require.NoError(t, l.QueryRow(ctx, "SELECT sum(g) FROM generate_series(1, $1::int) g", 100).Scan(&sum))
		assert.Equal(t, int64(5050), sum)
		l.Release()
	}
}
