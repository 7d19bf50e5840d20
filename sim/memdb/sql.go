package memdb

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrUnsupported is wrapped by the error for any statement outside the tiny
// SQL surface (see the package doc).
var ErrUnsupported = errors.New("memdb: unsupported statement")

// stmtKind is what a parsed statement does.
type stmtKind uint8

const (
	stmtSelectOne stmtKind = iota + 1
	stmtSelectIdentity
	stmtSelectCount
	stmtInsert
	stmtSleep
	stmtBegin
	stmtCommit
	stmtRollback
)

// statement is a parsed query. It is a value so that parsing allocates
// nothing on the success path: table is a substring of the query (lowered
// only when the query spelled it with capitals).
type statement struct {
	kind  stmtKind
	table string
	sleep time.Duration
}

// parse reads one statement of the tiny SQL surface. It never panics.
func parse(query string) (statement, error) {
	q := strings.TrimSpace(query)
	q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	verb, rest := nextField(q)
	switch {
	case verb == "":
		return statement{}, fmt.Errorf("%w: empty statement", ErrUnsupported)
	case strings.EqualFold(verb, "SELECT"):
		return parseSelect(rest)
	case strings.EqualFold(verb, "INSERT"):
		table, rest := nextField(rest)
		if strings.EqualFold(table, "INTO") {
			table, rest = nextField(rest)
		}
		if table == "" || rest != "" {
			return statement{}, fmt.Errorf("%w: want INSERT [INTO] <table>", ErrUnsupported)
		}
		return statement{kind: stmtInsert, table: strings.ToLower(table)}, nil
	case strings.EqualFold(verb, "SLEEP"):
		arg, rest := nextField(rest)
		d, err := time.ParseDuration(arg)
		if err != nil || rest != "" || d < 0 {
			return statement{}, fmt.Errorf("%w: want SLEEP <duration>, e.g. SLEEP 50ms", ErrUnsupported)
		}
		return statement{kind: stmtSleep, sleep: d}, nil
	case strings.EqualFold(verb, "BEGIN"):
		// BEGIN TRAN / BEGIN TRANSACTION are the T-SQL spellings.
		word, more := nextField(rest)
		if more != "" || (word != "" && !strings.EqualFold(word, "TRAN") && !strings.EqualFold(word, "TRANSACTION")) {
			return statement{}, fmt.Errorf("%w: want BEGIN [TRAN|TRANSACTION]", ErrUnsupported)
		}
		return statement{kind: stmtBegin}, nil
	case strings.EqualFold(verb, "COMMIT"):
		return bare(stmtCommit, "COMMIT", rest)
	case strings.EqualFold(verb, "ROLLBACK"):
		return bare(stmtRollback, "ROLLBACK", rest)
	}
	return statement{}, fmt.Errorf("%w: %q", ErrUnsupported, kindName(verb))
}

func parseSelect(rest string) (statement, error) {
	what, rest := nextField(rest)
	switch {
	case what == "1" && rest == "":
		return statement{kind: stmtSelectOne}, nil
	case strings.EqualFold(what, "IDENTITY") && rest == "":
		return statement{kind: stmtSelectIdentity}, nil
	case strings.EqualFold(what, "COUNT"):
		table, more := nextField(rest)
		if table != "" && more == "" {
			return statement{kind: stmtSelectCount, table: strings.ToLower(table)}, nil
		}
	}
	return statement{}, fmt.Errorf("%w: want SELECT 1, SELECT IDENTITY or SELECT COUNT <table>", ErrUnsupported)
}

func bare(kind stmtKind, name, rest string) (statement, error) {
	word, more := nextField(rest)
	if more != "" || (word != "" && !strings.EqualFold(word, "TRAN") && !strings.EqualFold(word, "TRANSACTION")) {
		return statement{}, fmt.Errorf("%w: want %s [TRAN|TRANSACTION]", ErrUnsupported, name)
	}
	return statement{kind: kind}, nil
}

// kindName bounds the verb echoed in an error, so a huge or binary query does
// not end up whole in a log line.
func kindName(verb string) string {
	const max = 32
	if len(verb) > max {
		verb = verb[:max] + "..."
	}
	return strings.ToUpper(verb)
}

// nextField splits off the first whitespace-separated field of s without
// allocating; rest has its leading whitespace trimmed.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t\r\n\v\f")
	i := strings.IndexAny(s, " \t\r\n\v\f")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t\r\n\v\f")
}
