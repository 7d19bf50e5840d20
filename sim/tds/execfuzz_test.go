package tds

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log sink several goroutines may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FuzzExecBatch runs batch text, which comes from the network, through a
// logged-in session, parse and execution both: whatever the text, the
// session answers (an ERROR is an answer) and never panics.
func FuzzExecBatch(f *testing.F) {
	var logs lockedBuffer
	srv, err := Start(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	for _, s := range []string{
		"select 1;", "SELECT SUSER_SNAME()", "SELECT @@SPID, @@TRANCOUNT", "BEGIN TRAN x INSERT INTO t VALUES (1) COMMIT",
		"CREATE TABLE [dbo].[t] (id int, name nvarchar(10))", "SELECT 1 WHERE @p1 = @p1",
		"IF @@TRANCOUNT > 0 IF 1 = 1 ROLLBACK", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "SELECT N'it''s' AS [a]]b] -- c",
		"USE [app db]", "set language us_english\nset dateformat mdy\nset datefirst 7", "SET LANGUAGE N'Deutsch'",
		"INSERT BULK [dbo].[t] ([id] int, [name] nvarchar(max) COLLATE Latin1_General_CI_AS) WITH (KEEP_NULLS,ORDER([id] ASC))",
		"SET FMTONLY ON select * from [t] SET FMTONLY OFF", "SELECT * FROM t WHERE 1 = 0",
		"CREATE TABLE #t (a float(24), b varbinary(max) NOT NULL) INSERT INTO #t VALUES (1.5, 0x01) SELECT COUNT(*) FROM #t",
		"EXEC sp_executesql N'SELECT @p', N'@p int', @p = 1", "DECLARE @x int = 5 SELECT @x",
		"EXEC sp_set_session_context N'k', 1 SELECT SESSION_CONTEXT(N'k')", "SET CONTEXT_INFO 0x01 SELECT CONTEXT_INFO()",
		"EXECUTE AS USER = 'x' REVERT", "SAVE TRAN s ROLLBACK TRAN s", "SELECT CAST(1 AS bigint), CONVERT(nvarchar(5), 12)",
		"SET XACT_ABORT ON BEGIN TRAN SELECT 1/0 COMMIT", "SELECT DB_NAME(), @@VERSION, @@SERVERNAME",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		before := len(logs.String())
		keep, out := fuzzSession(srv).run(pktSQLBatch, 0, batchPayload(sql))
		if l := logs.String()[before:]; strings.Contains(l, "panicked") {
			t.Fatalf("batch %q: %s", sql, l)
		}
		if !keep {
			t.Fatalf("batch %q closed the connection: %s", sql, logs.String()[before:])
		}
		if len(out) == 0 {
			t.Fatalf("batch %q got no reply", sql)
		}
	})
}

// FuzzExecMessage hands any request message, of any type and with any
// bytes, to a logged-in session's handler: it must answer (a malformed one
// with error 4002, closing the connection), and never panic.
func FuzzExecMessage(f *testing.F) {
	var logs lockedBuffer
	srv, err := Start(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	if _, out := fuzzSession(srv).run(pktSQLBatch, 0, batchPayload("CREATE TABLE fz (id int, name nvarchar(10))")); out[headerLen] == tokError {
		f.Fatalf("CREATE TABLE failed: %x", out)
	}
	c := captureClient(f)
	for _, m := range c.messages {
		if m.typ != pktPrelogin && m.typ != pktLogin7 {
			f.Add(m.typ, m.status, m.data)
		}
	}
	for _, m := range captureBulk(f).messages {
		if m.typ == pktBulkLoad {
			f.Add(m.typ, m.status, m.data)
		}
	}
	f.Add(pktSQLBatch, statusResetConn, batchPayload("SELECT 1"))
	// A WAITFOR in an RPC's text, or in a VARCHAR parameter that text runs:
	// the fuzzer must not wait for it.
	f.Add(pktRPC, byte(0), rpcCall([]callArg{{"", "WAITFOR DELAY '23:59:59'"}}))
	f.Add(pktRPC, byte(0), varcharRPC("EXEC sp_executesql @p", collation, []byte("WAITFOR DELAY '23:59:59'")))
	// The prepared-statement RPCs, by id, against the handle each session
	// holds (below), and a savepoint request.
	f.Add(pktRPC, byte(0), procIDCall(procExecute, -1, []callArg{{"", int32(1)}, {"", int32(7)}, {"", "x"}}))
	f.Add(pktRPC, byte(0), procIDCall(procExecute, -1, []callArg{{"", nil}, {"@b", nil}}))
	f.Add(pktRPC, byte(0), procIDCall(procUnprepare, -1, []callArg{{"", int32(1)}}))
	f.Add(pktRPC, byte(0), procIDCall(procPrepare, 0, []callArg{{"", int32(0)}, {"", "@a int"}, {"", "SAVE TRAN @a"}}))
	f.Add(pktTM, byte(0), tmPayload(tmSaveXact, 0, "sp"))
	f.Fuzz(func(t *testing.T, typ, status byte, data []byte) {
		fs := fuzzSession(srv)
		// A prepared statement, handle 1, for an sp_execute to reach.
		if _, out := fs.run(pktRPC, 0, procIDCall(procPrepare, 0, []callArg{{"", int32(0)}, {"", "@a int, @b nvarchar(10)"}, {"", "SELECT @a, @b"}})); out[headerLen] == tokError {
			t.Fatalf("sp_prepare was refused: %x", out)
		}
		// A BULK_LOAD is read against the INSERT BULK before it.
		if _, out := fs.run(pktSQLBatch, 0, batchPayload("INSERT BULK fz ([id] int, [name] nvarchar(10))")); fs.bulk == nil {
			t.Fatalf("INSERT BULK was refused: %x", out)
		}
		before := len(logs.String())
		_, out := fs.run(typ, status, data)
		if l := logs.String()[before:]; strings.Contains(l, "panicked") {
			t.Fatalf("message 0x%02x %x: %s", typ, data, l)
		}
		if len(out) == 0 {
			t.Fatalf("message 0x%02x %x got no reply", typ, data)
		}
	})
}

// fuzzSession is a session of srv logged in as sa, with no connection: its
// replies are kept in out.
type fuzzSess struct {
	*session
	out bytes.Buffer
}

func fuzzSession(srv *Server) *fuzzSess {
	client, server := net.Pipe()
	_ = client.Close() // the session never reads nor writes its socket
	fs := &fuzzSess{session: newSession(srv, server)}
	fs.login, fs.database, fs.loginDatabase = "sa", "master", "master"
	fs.rw = &struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(nil), &fs.out}
	return fs
}

// run hands the session one request and returns whether the connection
// stays and the reply. The request comes as if an ATTENTION had followed it
// at once: its context is cancelled, so a WAITFOR ends there, however it is
// reached (a batch, an RPC's text, a VARCHAR parameter that text runs), and
// a fuzzed delay cannot hold the fuzzer. Nothing else reads the context.
func (fs *fuzzSess) run(typ, status byte, data []byte) (keep bool, reply []byte) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := &request{msg: message{typ: typ, status: status, data: data}, ctx: ctx, cancel: cancel}
	fs.cur = req
	fs.out.Reset()
	keep = fs.handle(req)
	return keep, fs.out.Bytes()
}
