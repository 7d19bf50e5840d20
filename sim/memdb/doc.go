// Package memdb is an in-memory database/sql/driver backend with fault
// injection, for the pool's unit tests and benchmarks.
//
// A DB plays a server: it dials connections (DB.Dial implements
// actors.Dialer, DB.Connector serves database/sql), keeps one shared table
// store with per-connection transactions, and records everything a test may
// want to assert: every connection ever opened, the identity and token
// fingerprint it was dialled with, how often it was pinged, validated, reset,
// queried and closed, and every misuse (use after close, double close, two
// goroutines on one connection at once).
//
// Faults (failed, slow, panicking or blocked dials, a DialHook, failing
// pings, resets and statements, killed connections, tokens enforced to their
// expiry) take effect for calls that start after they are set. DialAttempts
// records every dial and how it ended. Await lets a test wait for the pool's
// asynchronous work (a close off the actor's mailbox, say) without sleeping. Nothing sleeps unless a test asks for latency; the Begin, Query
// and Close path allocates as little as it can, so benchmarks measure the
// pool rather than this fake.
//
// The SQL surface is tiny and case-insensitive:
//
//	SELECT 1               one row, one int64 column: 1
//	SELECT IDENTITY        one row: the identity label the conn was dialled with
//	SELECT COUNT <table>   committed rows plus this conn's own pending rows
//	INSERT [INTO] <table>  adds one row (pending until COMMIT inside a transaction)
//	SLEEP <duration>       waits, honouring ctx; a cancelled sleep breaks the conn
//	BEGIN | COMMIT | ROLLBACK
//
// Arguments are accepted and ignored. Anything else is an error naming the
// statement, and leaves the connection usable.
package memdb
