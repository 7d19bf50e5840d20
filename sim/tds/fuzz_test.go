package tds

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// Seeds come from real go-mssqldb traffic (captureClient) plus the byte
// examples documented for the driver's own tests.

// driverPreloginReply is the 24-byte PRELOGIN reply used in go-mssqldb's tests.
var driverPreloginReply = []byte{0x00, 0x00, 0x10, 0x00, 0x06, 0x01, 0x00, 0x16, 0x00, 0x01, 0x06, 0x00, 0x17, 0x00, 0x01, 0xFF,
	0x0C, 0x00, 0x07, 0xD0, 0x00, 0x00, 0x02, 0x01}

func FuzzReadMessages(f *testing.F) {
	for _, s := range captureClient(f).streams {
		f.Add(s)
	}
	f.Add(appendPackets(nil, pktPrelogin, 0, 512, driverPreloginReply))
	f.Add([]byte{0x01, 0x01, 0x00, 0x07, 0, 0, 1, 0}) // length shorter than the header
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, _ := parseMessages(data, 1<<16)
		for _, m := range ms {
			// Whatever was read frames again into the same message.
			again, err := parseMessages(appendPackets(nil, m.typ, 0, minPacketSize, m.data), 1<<16)
			if err != nil || len(again) != 1 || again[0].typ != m.typ || !bytes.Equal(again[0].data, m.data) {
				t.Fatalf("reframing changed the message: %v", err)
			}
		}
	})
}

func FuzzPrelogin(f *testing.F) {
	for _, p := range captureClient(f).ofType(pktPrelogin) {
		f.Add(p)
	}
	f.Add(driverPreloginReply)
	f.Add([]byte{0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePrelogin(data)
		if err != nil {
			return
		}
		// The server's own reply to anything it accepted must parse.
		if _, err := parsePrelogin(buildPreloginReply(p, encryptNotSup)); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
	})
}

func FuzzLogin7(f *testing.F) {
	for _, l := range captureClient(f).ofType(pktLogin7) {
		f.Add(l)
	}
	f.Add(make([]byte, login7HeaderLen))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseLogin7(data)
		if err != nil {
			return
		}
		for _, s := range []string{l.userName, l.database, l.appName, l.hostName} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 from a successful parse")
			}
		}
	})
}

func FuzzRPC(f *testing.F) {
	for _, r := range captureClient(f).ofType(pktRPC) {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseRPC(data)
	})
}

func FuzzTM(f *testing.F) {
	for _, r := range captureClient(f).ofType(pktTM) {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseTM(data)
	})
}

func FuzzSQL(f *testing.F) {
	for _, s := range []string{
		"select 1;", "SELECT SUSER_SNAME()", "SELECT @@SPID, @@TRANCOUNT", "BEGIN TRAN x INSERT INTO t VALUES (1) COMMIT",
		"CREATE TABLE [dbo].[t] (id int, name nvarchar(10))", "WAITFOR DELAY '00:00:01.5'", "SELECT 1 WHERE @p1 = @p1",
		"IF @@TRANCOUNT > 0 IF 1 = 1 ROLLBACK", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "SELECT N'it''s' AS [a]]b] -- c",
		"USE [app db]", "set language us_english\nset dateformat mdy\nset datefirst 7", "SET LANGUAGE N'Deutsch'",
		"INSERT BULK [dbo].[t] ([id] int, [name] nvarchar(max) COLLATE Latin1_General_CI_AS) WITH (KEEP_NULLS,ORDER([id] ASC))",
		"SET FMTONLY ON select * from [t] SET FMTONLY OFF", "SELECT * FROM t WHERE 1 = 0", "INSERT bulk VALUES (1)",
		"CREATE TABLE t (a float(24), b varbinary(max) NOT NULL, c AS (a), CONSTRAINT pk PRIMARY KEY (a), d nvarchar)",
	} {
		f.Add(s)
	}
	f.Add("@p1 bigint,@p2 nvarchar(10),@p3 decimal(10, 2)")
	f.Fuzz(func(t *testing.T, sql string) {
		_, _ = parseBatch(sql)
		_, _ = parseDelay(sql)
		// sp_executesql's @params string comes from the client too.
		_, _ = parseDeclarations(sql)
	})
}

// FuzzExecuteSQL feeds batch text, which comes from the network, to the
// parser of EXEC sp_executesql (execsqlparse.go) and then, for every call
// whose arguments are literals, to the binder it shares with the RPC form
// (executesql.go). A call bound without error must run a text one of its
// arguments carries, with parameter names folded; a refused one must say
// why, with a number.
func FuzzExecuteSQL(f *testing.F) {
	for _, s := range []string{
		"EXEC sp_executesql N'SELECT @p', N'@p int', @p = 1",
		"EXEC sp_executesql N'SELECT @p', N'@p int', 1",
		"exec sys.sp_executesql @stmt = N'SELECT @P', @params = N'@p int', @p = 7",
		"EXECUTE [master].[sys].[sp_executesql] @statement = N'SELECT 7'",
		"EXEC sp_executesql N'SELECT @b WHERE @s = N''it''''s''', N'@s nvarchar(10), @d decimal(10, 2), @b bigint OUTPUT', N'it''s', 1.5, -5000000000",
		"EXEC sp_executesql N'EXEC sp_executesql N''SELECT @q'', N''@q int'', @q = @p', N'@p int', 7",
		"EXEC sp_executesql N'SELECT 1; SELECT 2'; SELECT 3",
		"EXEC sp_executesql", "EXEC sp_executesql 1", "EXEC sp_executesql N'SELECT 1', 0x01",
		"EXEC sp_executesql N'SELECT @p', N'@p int', 1, 2", "EXEC sp_executesql N'SELECT @p', N'@p int'",
		"EXEC sp_executesql N'SELECT @p', N'@p int', @p = 1, @P = 2", "EXEC sp_executesql N'SELECT @p', N'@p int, @P int', 1, 2",
		"EXEC sp_executesql N'SELECT @p', N'@p', 1", "EXEC sp_executesql N'SELECT @p', N'p int', 1",
		"EXEC sp_executesql N'SELECT @p', N'@p decimal(10, 2', 1", "EXEC sp_executesql N'x', N'@p int,', 1",
		"EXEC sp_executesql @stmt = N'SELECT 1', N''", "EXEC sp_executesql N'SELECT @p', N'@p int OUTPUT', @p = 1 OUTPUT",
		"EXEC sp_executesql N'SELECT 1", "EXEC sp_executesql NULL, NULL",
		"EXEC sp_executesql @params = N'@p int', @stmt = N'SELECT @p', @p = NULL",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, err := parseBatch(sql)
		if err != nil {
			return
		}
		for _, st := range stmts {
			call, ok := st.(execSQLStmt)
			if !ok {
				continue
			}
			var args []rpcParam
			for _, a := range call.args {
				if a.e.kind == exLiteral {
					args = append(args, rpcParam{name: a.name, value: a.e.val})
				}
			}
			if len(args) < len(call.args) {
				continue // a variable of the calling scope: no value here
			}
			text, params, ee := bindExecuteSQL(args)
			if ee != nil {
				if ee.e.Number == 0 || ee.e.Msg == "" {
					t.Fatalf("a refusal without a number or message: %+v", ee.e)
				}
				continue
			}
			given := false
			for _, a := range args {
				given = given || a.value == text
			}
			if !given {
				t.Fatalf("bound a statement text %q that no argument carries", text)
			}
			for name := range params {
				if name != strings.ToLower(name) {
					t.Fatalf("parameter %q is not folded to lower case", name)
				}
			}
			_, _ = parseBatch(text) // the called text is parsed in its turn
		}
	})
}

// FuzzDeclarations: sp_executesql's @params string, from the network in
// both forms, gives valid, distinct, lower-case names, or an error.
func FuzzDeclarations(f *testing.F) {
	for _, s := range []string{"", "@p1 bigint,@p2 nvarchar(10),@p3 decimal(10, 2)", "@p int OUTPUT", "@p", "p int",
		"@p int, @P int", "@a int,", "@a decimal(1,(2)", " @x\tint ", "@é int", "@a) int"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, decls string) {
		names, ee := parseDeclarations(decls)
		if ee != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range names {
			if !validVarName(n) || n != strings.ToLower(n) || seen[n] {
				t.Fatalf("declarations %q gave the name %q (all: %q)", decls, n, names)
			}
			seen[n] = true
		}
	})
}

// FuzzPreloginTLSConn feeds a client's bytes to the transport of a TDS 7.x
// TLS handshake: in handshake mode it must only ever return PRELOGIN packet
// payloads, and in passthrough mode never read past the TLS record it is in.
func FuzzPreloginTLSConn(f *testing.F) {
	f.Add(appendPackets(nil, pktPrelogin, 0, 512, []byte{0x16, 0x03, 0x01, 0x00, 0x02, 0xAA, 0xBB}), false)
	f.Add([]byte{0x16, 0x03, 0x03, 0x00, 0x03, 1, 2, 3, 0x10, 0x01}, true)
	f.Add([]byte{0x10, 0x01, 0x00, 0x04}, false)
	f.Fuzz(func(t *testing.T, data []byte, passthrough bool) {
		r := bytes.NewReader(data)
		c := newPreloginTLSConn(nil, r)
		c.passthrough = passthrough
		buf := make([]byte, 7)
		var got []byte
		for range 1000 {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
			if consumed := len(data) - r.Len(); passthrough && consumed != len(got) {
				// Reading ahead would swallow the plain TDS behind a
				// login-only handshake.
				t.Fatalf("read %d bytes from the socket, returned %d", consumed, len(got))
			}
		}
		if !passthrough && !bytes.HasPrefix(preloginPayloads(data), got) {
			t.Fatalf("handshake bytes are not the PRELOGIN packets' payloads")
		}
	})
}

// preloginPayloads concatenates the payloads of the leading PRELOGIN packets.
func preloginPayloads(b []byte) []byte {
	var out []byte
	for len(b) >= headerLen && b[0] == pktPrelogin {
		size := int(b[2])<<8 | int(b[3])
		if size < headerLen {
			break
		}
		if size > len(b) {
			return append(out, b[headerLen:]...)
		}
		out = append(out, b[headerLen:size]...)
		b = b[size:]
	}
	return out
}

func FuzzNegotiateEncryption(f *testing.F) {
	f.Add(encryptOff, 0)
	f.Fuzz(func(t *testing.T, client byte, mode int) {
		m := Encryption(mode % 3)
		if mode < 0 {
			m = Encryption(-mode % 3)
		}
		got := negotiateEncryption(client, m)
		switch {
		case got > encryptReq:
			t.Fatalf("answer 0x%02x is not a TDS 7.x ENCRYPTION value", got)
		case m == EncryptionUnsupported && got != encryptNotSup:
			t.Fatalf("an unsupported server answered 0x%02x", got)
		case m == EncryptionRequired && got != encryptOn && got != encryptReq:
			t.Fatalf("a forcing server answered 0x%02x", got)
		case client == encryptOn && m != EncryptionUnsupported && got != encryptOn:
			t.Fatalf("a client asking for encryption got 0x%02x", got)
		}
	})
}

// FuzzFirstPacketReader feeds the transport of a login-only encrypted
// connection: the first packet comes from the TLS stream, everything after
// it from the socket in clear. It must return exactly that first packet and
// then the clear bytes, and never read the TLS stream past the packet (the
// client sends nothing more through TLS).
func FuzzFirstPacketReader(f *testing.F) {
	login := appendPackets(nil, pktLogin7, 0, minPacketSize, make([]byte, 700))
	f.Add(login[:minPacketSize], login[minPacketSize:])
	f.Add(appendPackets(nil, pktLogin7, 0, minPacketSize, []byte{1, 2, 3}), []byte(nil))
	f.Add([]byte{pktLogin7, 0, 0, 4, 0, 0, 1, 0}, []byte{1})
	f.Add([]byte{pktLogin7, 1, 0, 20}, []byte{9, 9})
	f.Add([]byte{pktLogin7, 1, 0, 20, 0, 0, 1, 0}, []byte{9, 9}) // a header without its body
	f.Fuzz(func(t *testing.T, tlsBytes, plain []byte) {
		tr := bytes.NewReader(tlsBytes)
		r := &firstPacketReader{tls: tr, plain: bytes.NewReader(plain)}
		got, err := io.ReadAll(r)
		if len(tlsBytes) < headerLen {
			// Nothing at all is the connection's end (io.EOF, which
			// ReadAll takes as such); part of a header is an error.
			if len(got) != 0 || (err == nil) != (len(tlsBytes) == 0) {
				t.Fatalf("%d bytes of a header: read %x, err %v", len(tlsBytes), got, err)
			}
			return
		}
		size := int(tlsBytes[2])<<8 | int(tlsBytes[3])
		switch {
		case size < headerLen || size > len(tlsBytes):
			if err == nil {
				t.Fatalf("no error for a first packet of length %d in %d bytes", size, len(tlsBytes))
			}
		case err != nil:
			t.Fatalf("a whole first packet failed: %v", err)
		case !bytes.Equal(got, append(tlsBytes[:size:size], plain...)):
			t.Fatalf("read %x, want the first packet then the clear bytes", got)
		case len(tlsBytes)-tr.Len() != size:
			t.Fatalf("read %d bytes of TLS for a packet of %d", len(tlsBytes)-tr.Len(), size)
		}
	})
}
