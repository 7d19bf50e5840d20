package memdb

import (
	"strconv"
	"strings"
	"time"
)

// ConnInfo is a snapshot of what the DB recorded about one connection.
type ConnInfo struct {
	// ID numbers conns from 1 in the order they were opened.
	ID int64
	// Identity is the label the conn was dialled with: the pool key's
	// discriminator ("" for SQL login) or the Connector's identity.
	Identity string
	// TokenFingerprint is Token.Fingerprint() of the login token ("" for none).
	TokenFingerprint string
	// TokenExpiresOn is the login token's expiry (zero for none or unknown).
	TokenExpiresOn time.Time
	// Opened is when the dial succeeded.
	Opened time.Time
	// Closed reports whether Close was called at least once.
	Closed bool
	// CloseCount counts Close calls; more than one is a misuse.
	CloseCount int
	// Dead reports whether the conn was killed or its wire state became
	// unknown (an operation cancelled mid-way).
	Dead bool
	// InTx reports whether a transaction is open on the conn right now.
	InTx bool
	// Resets, Pings and Validates count ResetSession, Ping and IsValid calls.
	Resets, Pings, Validates int
	// Queries counts statements run (Query, Exec, and prepared statements').
	Queries int
	// Cancels counts operations that ended because their ctx did.
	Cancels int
	// Uses counts every driver call on the conn and its Tx and Stmt values,
	// other than Close and CheckNamedValue, made while it was not closed.
	Uses int
}

// MisuseKind says how a conn was misused.
type MisuseKind uint8

// The misuses the DB detects.
const (
	// UseAfterClose is any call on a conn after its Close.
	UseAfterClose MisuseKind = iota + 1
	// DoubleClose is a second (or later) Close.
	DoubleClose
	// ConcurrentUse is a call made while another call on the same conn was
	// still running.
	ConcurrentUse
)

// String names the misuse for failure messages.
func (k MisuseKind) String() string {
	switch k {
	case UseAfterClose:
		return "use after close"
	case DoubleClose:
		return "double close"
	case ConcurrentUse:
		return "concurrent use"
	}
	return "unknown misuse"
}

// MisuseRecord is one detected misuse: which conn, what kind, in which call.
type MisuseRecord struct {
	ConnID int64
	Kind   MisuseKind
	Op     string
}

// String describes the misuse, e.g. "conn 3: double close in Close".
func (m MisuseRecord) String() string {
	return "conn " + strconv.FormatInt(m.ConnID, 10) + ": " + m.Kind.String() + " in " + m.Op
}

// Conns returns a snapshot of every conn ever opened, in ID order.
func (db *DB) Conns() []ConnInfo {
	db.mu.Lock()
	cs := append([]*Conn(nil), db.conns...)
	db.mu.Unlock()
	out := make([]ConnInfo, len(cs))
	for i, c := range cs {
		out[i] = c.Info()
	}
	return out
}

// Conn returns the snapshot of conn id, if the DB ever opened it.
func (db *DB) Conn(id int64) (ConnInfo, bool) {
	c := db.connByID(id)
	if c == nil {
		return ConnInfo{}, false
	}
	return c.Info(), true
}

// Dials counts dial attempts, failed ones included.
func (db *DB) Dials() int { return int(db.dials.Load()) }

// Opened counts successful dials.
func (db *DB) Opened() int { return int(db.opened.Load()) }

// OpenNow counts conns opened and not yet closed (killed ones included).
func (db *DB) OpenNow() int { return int(db.openNow.Load()) }

// PeakOpen is the most conns that were ever open at once: OpenNow's
// high-water mark, exact where sampling OpenNow could miss a brief peak.
func (db *DB) PeakOpen() int { return int(db.openPeak.Load()) }

func (db *DB) notePeak(n int64) {
	for {
		p := db.openPeak.Load()
		if n <= p || db.openPeak.CompareAndSwap(p, n) {
			return
		}
	}
}

// CommittedRows returns the committed row count of table (names are
// case-insensitive).
func (db *DB) CommittedRows(table string) int { return db.committed(strings.ToLower(table)) }

// Misuse counts detected misuses of conns (see MisuseKind).
func (db *DB) Misuse() int { return int(db.misuses.Load()) }

// Misuses returns every detected misuse, oldest first, for failure messages.
func (db *DB) Misuses() []MisuseRecord {
	db.mu.Lock()
	defer db.mu.Unlock()
	return append([]MisuseRecord(nil), db.misuse...)
}

func (db *DB) recordMisuse(c *Conn, kind MisuseKind, op string) {
	db.misuses.Add(1)
	db.mu.Lock()
	db.misuse = append(db.misuse, MisuseRecord{ConnID: c.id, Kind: kind, Op: op})
	db.mu.Unlock()
	db.changes.notify()
}
