package tds

import (
	"context"
	"database/sql"
	"encoding/binary"
	"math"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bulkTable is the table captureBulk loads: one column of every type the
// simulator loads.
const bulkTable = "CREATE TABLE bt (id int NOT NULL, big bigint, small smallint, tiny tinyint, name nvarchar(10), " +
	"note nvarchar(max), flag bit, score float, ratio real, blob varbinary(8), doc varbinary(max))"

var bulkColumns = []string{"id", "big", "small", "tiny", "name", "note", "flag", "score", "ratio", "blob", "doc"}

// bulkRows are the rows captureBulk copies, as go-mssqldb is given them.
var bulkRows = [][]any{
	{int64(1), int64(1) << 40, int64(-300), int64(255), "héllo", "a long note ∑", true, 2.5, 0.25, []byte{1, 2}, []byte{9}},
	{int64(-2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	{int64(math.MaxInt32), int64(math.MinInt64), int64(math.MaxInt16), int64(0), "", "", false, -1e300, -0.5, []byte{}, []byte{}},
}

// captureBulk runs go-mssqldb's bulk copy of bulkRows against a fresh
// server and returns what the client sent.
func captureBulk(t testing.TB) captured {
	t.Helper()
	srv, err := Start(Options{Users: map[string]string{"sa": "Seed-Passw0rd"}})
	require.NoError(t, err)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &recordingDialer{}
	sc, err := mssql.NewConnector("sqlserver://sa:Seed-Passw0rd@" + srv.Addr() + "?database=app&encrypt=disable")
	require.NoError(t, err)
	sc.Dialer = rec
	db := sql.OpenDB(sc)
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = db.ExecContext(ctx, bulkTable)
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	st, err := tx.PrepareContext(ctx, mssql.CopyIn("bt", mssql.BulkOptions{KeepNulls: true, Tablock: true}, bulkColumns...))
	require.NoError(t, err)
	for _, r := range bulkRows {
		_, err = st.ExecContext(ctx, r...)
		require.NoError(t, err)
	}
	_, err = st.ExecContext(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	n, _ := srv.CommittedRows("bt")
	require.EqualValues(t, len(bulkRows), n)

	var c captured
	c.streams = rec.bytes()
	for _, s := range c.streams {
		ms, err := parseMessages(s, defaultMaxMessage)
		require.NoError(t, err)
		c.messages = append(c.messages, ms...)
	}
	return c
}

// bulkTarget of captureBulk's INSERT BULK, as the server accepted it.
func capturedTarget(t testing.TB, c captured) (*bulkTarget, string) {
	t.Helper()
	for _, b := range c.ofType(pktSQLBatch) {
		cur := &cursor{b: b}
		_, err := readAllHeaders(cur)
		require.NoError(t, err)
		text, err := ucs2ToString(cur.rest())
		require.NoError(t, err)
		stmts, err := parseBatch(text)
		require.NoError(t, err, text)
		if len(stmts) != 1 {
			continue
		}
		ib, ok := stmts[0].(insertBulkStmt)
		if !ok {
			continue
		}
		create, err := parseBatch(bulkTable)
		require.NoError(t, err)
		table := create[0].(createTableStmt)
		tg := &bulkTarget{table: ib.table}
		for i, d := range ib.cols {
			require.True(t, bulkConvertible(d.typ, table.cols[i].typ), "%s declared %s", d.name, d.typ)
			tg.cols = append(tg.cols, bulkTargetCol{declared: d.typ, col: table.cols[i]})
		}
		return tg, text
	}
	t.Fatal("no INSERT BULK captured")
	return nil, ""
}

func TestBulkLoadReadsWhatGoMssqldbSends(t *testing.T) {
	c := captureBulk(t)
	tg, text := capturedTarget(t, c)
	assert.Equal(t, "INSERT BULK [bt] ([id] int, [big] bigint, [small] smallint, [tiny] tinyint, [name] nvarchar(10), "+
		"[note] nvarchar(max), [flag] bit, [score] float, [ratio] real, [blob] varbinary(8), [doc] varbinary(max)) WITH (KEEP_NULLS,TABLOCK)", text)
	loads := c.ofType(pktBulkLoad)
	require.Len(t, loads, 1)
	var rows [][]any
	l, err := parseBulkLoad(loads[0], func(_ []bulkWireCol, _ int64, row []any) {
		rows = append(rows, append([]any(nil), row...))
	})
	require.NoError(t, err)
	require.Len(t, l.cols, len(bulkColumns))
	for i, col := range l.cols {
		assert.Equal(t, bulkColumns[i], col.name)
	}
	n, ee, err := runBulkLoad(tg, loads[0])
	require.NoError(t, err)
	require.Nil(t, ee)
	require.EqualValues(t, len(bulkRows), n)

	ucs2 := func(s string) []byte { return appendUCS2([]byte{}, s) }
	want := [][]any{
		{int64(1), int64(1) << 40, int64(-300), int64(255), ucs2("héllo"), ucs2("a long note ∑"), true, 2.5, 0.25, []byte{1, 2}, []byte{9}},
		{int64(-2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(math.MaxInt32), int64(math.MinInt64), int64(math.MaxInt16), int64(0), []byte{}, []byte{}, false, -1e300, -0.5, []byte{}, []byte{}},
	}
	require.Len(t, rows, len(want))
	require.EqualValues(t, len(want), l.rows)
	for r := range want {
		for i := range want[r] {
			assert.Equal(t, want[r][i], rows[r][i], "row %d column %s", r+1, bulkColumns[i])
		}
	}
}

// bulkMessage builds a BULK_LOAD payload: COLMETADATA of cols (TYPE_INFO
// and name), the rows (each already encoded), DONE.
func bulkMessage(cols [][2]any, rows ...[]byte) []byte {
	b := []byte{tokColMetadata}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cols)))
	for _, c := range cols {
		b = append(b, 0, 0, 0, 0, 1, 0)
		b = append(b, c[0].([]byte)...)
		b = appendBVarChar(b, c[1].(string))
	}
	for _, r := range rows {
		b = append(b, tokRow)
		b = append(b, r...)
	}
	var tb tokenBuf
	tb.done(tokDone, doneFinal, 0, 0)
	return append(b, tb.b...)
}

var (
	intCol  = [2]any{[]byte{typIntN, 4}, "id"}
	nameCol = [2]any{append([]byte{typNVarChar, 20, 0}, collation[:]...), "name"}
)

func intVal(n int32) []byte { return binary.LittleEndian.AppendUint32([]byte{4}, uint32(n)) }

func nvarcharVal(s string) []byte {
	u := appendUCS2(nil, s)
	return append(binary.LittleEndian.AppendUint16(nil, uint16(len(u))), u...)
}

func TestBulkLoadFromARawClient(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	r.send(pktSQLBatch, 0, batchPayload("CREATE TABLE rt (id int NOT NULL, name nvarchar(10))"))
	_, isErr := firstError(r.reply())
	require.False(t, isErr)

	expectError := func(sql string, payload []byte, number int32) {
		t.Helper()
		if sql != "" {
			r.send(pktSQLBatch, 0, batchPayload(sql))
			m := r.reply()
			if payload == nil {
				n, isErr := firstError(m)
				require.True(t, isErr, "no error for %s", sql)
				require.Equal(t, number, n, errorText(t, m.data))
				return
			}
			_, isErr := firstError(m)
			require.False(t, isErr, "%s failed: %x", sql, m.data)
		}
		r.send(pktBulkLoad, 0, payload)
		m := r.reply()
		n, isErr := firstError(m)
		require.True(t, isErr, "no error")
		require.Equal(t, number, n, errorText(t, m.data))
	}
	good := bulkMessage([][2]any{intCol, nameCol}, append(intVal(1), nvarcharVal("a")...), append(intVal(2), nvarcharVal("b")...))
	insert := "INSERT BULK rt ([id] int, [name] nvarchar(10))"

	// INSERT BULK itself refuses what does not fit the table.
	expectError("INSERT BULK nope ([id] int)", nil, 208)
	expectError("INSERT BULK rt ([id] int, [nope] int)", nil, 207)
	expectError("INSERT BULK rt ([id] bigint)", nil, 257)
	expectError("INSERT BULK rt ([id] int, [ID] int)", nil, 264)
	expectError("INSERT BULK rt ([id] datetime)", nil, 40517)

	// A load that does not fit its INSERT BULK, or the table, is refused
	// whole, and the connection stays.
	expectError(insert, bulkMessage([][2]any{intCol}, intVal(1)), 4816)
	expectError(insert, bulkMessage([][2]any{nameCol, intCol}, append(nvarcharVal("a"), intVal(1)...)), 4816)
	expectError(insert, bulkMessage([][2]any{intCol, nameCol}, append(intVal(1), nvarcharVal("a")...), append([]byte{0}, nvarcharVal("b")...)), 515)
	// Longer than the table's column, or than the load's own COLMETADATA
	// says (go-mssqldb sends the table's length and any string).
	wideName := [2]any{append([]byte{typNVarChar, 100, 0}, collation[:]...), "name"}
	expectError(insert, bulkMessage([][2]any{intCol, wideName}, append(intVal(1), nvarcharVal("eleven char")...)), 4815)
	expectError(insert, bulkMessage([][2]any{intCol, nameCol}, append(intVal(1), nvarcharVal("eleven char")...)), 4815)
	expectError(insert, bulkMessage([][2]any{intCol, nameCol}, append(intVal(1), 1, 0, 'x')), 4815)
	n, _ := srv.CommittedRows("rt")
	require.Zero(t, n, "a refused load inserted rows")

	// The good load after all that.
	r.send(pktSQLBatch, 0, batchPayload(insert))
	r.reply()
	r.send(pktBulkLoad, 0, good)
	m := r.reply()
	require.Equal(t, tokDone, m.data[0])
	require.Equal(t, doneCount, binary.LittleEndian.Uint16(m.data[1:]))
	require.EqualValues(t, 2, binary.LittleEndian.Uint64(m.data[5:]))
	n, _ = srv.CommittedRows("rt")
	require.EqualValues(t, 2, n)
	require.EqualValues(t, 2, srv.CommittedRowsBy("rt", "sa"))

	// An INSERT BULK awaits the next message only: after another request
	// a BULK_LOAD is unasked for, a protocol error that closes the
	// connection.
	r.send(pktSQLBatch, 0, batchPayload(insert))
	r.reply()
	r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
	_, isErr = firstError(r.reply())
	require.False(t, isErr)
	r.send(pktBulkLoad, 0, good)
	m = r.reply()
	n32, _ := firstError(m)
	require.EqualValues(t, 4002, n32)
	r.expectClosed()
	n, _ = srv.CommittedRows("rt")
	require.EqualValues(t, 2, n)
}

func TestMalformedBulkLoadClosesTheConnection(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	setup := dialRaw(t, srv)
	setup.login(c)
	setup.send(pktSQLBatch, 0, batchPayload("CREATE TABLE mt (id int, name nvarchar(10))"))
	setup.reply()
	good := bulkMessage([][2]any{intCol, nameCol}, append(intVal(1), nvarcharVal("a")...))
	for name, payload := range map[string][]byte{
		"cut short":           good[:len(good)-5],
		"bytes after DONE":    append(append([]byte{}, good...), 0),
		"empty":               {},
		"not COLMETADATA":     good[1:],
		"unknown token":       append(append([]byte{}, good[:len(good)-13]...), 0x42),
		"no columns":          {tokColMetadata, 0, 0, tokDone, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"unloadable type":     bulkMessage([][2]any{{[]byte{typDateTime}, "d"}}, make([]byte, 8)),
		"bad INTN size":       bulkMessage([][2]any{{[]byte{typIntN, 3}, "id"}}, []byte{3, 1, 2, 3}),
		"value past its type": bulkMessage([][2]any{intCol, nameCol}, append([]byte{8, 1, 2, 3, 4, 5, 6, 7, 8}, nvarcharVal("a")...)),
		"no INSERT BULK":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			r := dialRaw(t, srv)
			r.login(c)
			if payload != nil {
				r.send(pktSQLBatch, 0, batchPayload("INSERT BULK mt (id int, name nvarchar(10))"))
				_, isErr := firstError(r.reply())
				require.False(t, isErr)
			} else {
				payload = good
			}
			r.send(pktBulkLoad, 0, payload)
			n, _ := firstError(r.reply())
			require.EqualValues(t, 4002, n)
			r.expectClosed()
		})
	}
	n, _ := srv.CommittedRows("mt")
	require.Zero(t, n)
	// The server still serves.
	setup.send(pktSQLBatch, 0, batchPayload("SELECT COUNT(*) FROM mt"))
	_, isErr := firstError(setup.reply())
	require.False(t, isErr)
}

func FuzzBulkLoad(f *testing.F) {
	c := captureBulk(f)
	tg, _ := capturedTarget(f, c)
	for _, b := range c.ofType(pktBulkLoad) {
		f.Add(b)
	}
	f.Add(bulkMessage([][2]any{intCol, nameCol}, append(intVal(1), nvarcharVal("a")...)))
	f.Add(bulkMessage([][2]any{{[]byte{typNVarChar, 0xFF, 0xFF, 9, 4, 0xD0, 0, 0x34}, "n"}}, appendPLP(nil, []byte("ab"), false)))
	f.Add(bulkMessage([][2]any{{[]byte{typInt8}, "i"}, {[]byte{typBitN, 1}, "b"}, {[]byte{typFlt4}, "f"}}, make([]byte, 14)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var seen int64
		l, err := parseBulkLoad(data, func(cols []bulkWireCol, r int64, row []any) {
			if len(row) != len(cols) || r != seen {
				t.Fatalf("row %d (the %dth) of %d values for %d columns", r, seen, len(row), len(cols))
			}
			seen++
		})
		if err != nil {
			return
		}
		if seen != l.rows {
			t.Fatalf("%d rows given of %d", seen, l.rows)
		}
		if n, ee, err := runBulkLoad(tg, data); err != nil || ee == nil && n != l.rows {
			t.Fatalf("loaded %d rows of %d (err %v)", n, l.rows, err)
		}
	})
}
