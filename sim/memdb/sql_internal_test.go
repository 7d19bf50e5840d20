package memdb

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseKinds(t *testing.T) {
	for q, want := range map[string]statement{
		"SELECT 1":                  {kind: stmtSelectOne},
		"select identity;":          {kind: stmtSelectIdentity},
		"SELECT COUNT Orders":       {kind: stmtSelectCount, table: "orders"},
		"insert into T1":            {kind: stmtInsert, table: "t1"},
		"INSERT t1":                 {kind: stmtInsert, table: "t1"},
		"SLEEP 50ms":                {kind: stmtSleep, sleep: 50e6},
		"  Begin  Transaction  ":    {kind: stmtBegin},
		"COMMIT TRAN":               {kind: stmtCommit},
		"rollback":                  {kind: stmtRollback},
		"\tSELECT\n COUNT\r\n t ; ": {kind: stmtSelectCount, table: "t"},
		"INSERT INTO into":          {kind: stmtInsert, table: "into"},
		"SLEEP 0s":                  {kind: stmtSleep},
		"select count select":       {kind: stmtSelectCount, table: "select"},
		"BEGIN TRAN;":               {kind: stmtBegin},
		"SELECT\u00a01":             {}, // NBSP is not a separator: unsupported
	} {
		got, err := parse(q)
		if want.kind == 0 {
			if err == nil {
				t.Errorf("parse(%q) = %+v, want an error", q, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("parse(%q) = %+v, %v; want %+v", q, got, err, want)
		}
	}
}

func TestParseAllocatesNothingOnTheHotPath(t *testing.T) {
	for _, q := range []string{"SELECT 1", "INSERT t", "SELECT COUNT t", "BEGIN", "COMMIT"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = parse(q) }); n != 0 {
			t.Errorf("parse(%q) allocates %v times", q, n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "select identity", "SELECT COUNT t", "INSERT INTO t", "SLEEP 5ms",
		"BEGIN TRANSACTION", "COMMIT", "ROLLBACK TRAN", "", ";", "  ;  ", "DROP TABLE t",
		"SLEEP -5s", "SLEEP 9999999999h", "INSERT", "SELECT COUNT", "\x00\xff", strings.Repeat("X", 200),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		st, err := parse(q)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("parse(%q) error %v does not wrap ErrUnsupported", q, err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("parse error echoes too much of the query: %d bytes", len(err.Error()))
			}
			return
		}
		switch st.kind {
		case stmtInsert, stmtSelectCount:
			if st.table == "" || strings.ContainsAny(st.table, " \t\r\n\v\f") {
				t.Fatalf("parse(%q) table %q", q, st.table)
			}
			if utf8.ValidString(st.table) && st.table != strings.ToLower(st.table) {
				t.Fatalf("parse(%q) table %q not lowered", q, st.table)
			}
		case stmtSleep:
			if st.sleep < 0 {
				t.Fatalf("parse(%q) negative sleep", q)
			}
		case stmtSelectOne, stmtSelectIdentity, stmtBegin, stmtCommit, stmtRollback:
		default:
			t.Fatalf("parse(%q) unknown kind %d", q, st.kind)
		}
		// The same statement in capitals with extra spacing parses the same.
		again, err := parse("  " + strings.ToUpper(q) + " ")
		if st.kind != stmtSleep && st.kind != stmtInsert && st.kind != stmtSelectCount && (err != nil || again != st) {
			t.Fatalf("parse(%q) = %+v but upper-cased gives %+v, %v", q, st, again, err)
		}
	})
}
