// Package tds is a simulated SQL Server that speaks TDS 7.4 (and TDS 8.0
// "strict" TLS-first) on a loopback address, so that real clients (the
// go-mssqldb driver, and clients written outside this project: Node's
// tedious and FreeTDS's tsql, which sim/tds/foreign runs) can log in to it
// and run a small set of statements in tests, in the simulation and in demos.
//
// It implements the protocol from [MS-TDS]: PRELOGIN with the encryption
// negotiation of TDS 7.x (ENCRYPT_OFF, ON, REQ and NOT_SUP as SQL Server
// answers them, the TLS handshake carried inside PRELOGIN packets, then
// login-only or full encryption; see Options.Encryption), LOGIN7 with SQL
// logins or the FEDAUTH security-token feature extension (its echo bit must
// match the FEDAUTHREQUIRED of the PRELOGIN reply, and a TDS version other
// than 7.4 or 8.0 is refused with a login error; a connection whose first
// packet is neither PRELOGIN nor a TLS ClientHello, such as a TDS 7.0
// client's LOGIN7, is closed, as [MS-TDS] 3.3.5.1 requires), SQL batches,
// sp_executesql (as an RPC, or written in a batch as EXEC sp_executesql
// with its arguments by position or by name; its statement and
// declarations must be Unicode, a VARCHAR getting error 214), the
// prepared-statement RPCs sp_prepare, sp_execute and sp_unprepare (by name
// or procedure id; an unknown handle gets error 8179; sp_prepare's
// RETURN_METADATA option describes the statement's columns, see prepare.go
// and preparemeta.go), bulk load (INSERT BULK, then
// a BULK_LOAD message: go-mssqldb's CopyIn and CreateBulk, and FreeTDS's
// freebcp, whose message has no closing DONE; see bulk.go for
// the types it loads and the errors it sends), transaction-manager
// requests (begin, commit, rollback, and save: a savepoint), ATTENTION
// (acknowledged by a DONE(ATTN) message of its own; a connection that ends
// ends its running request as an ATTENTION would) and the RESETCONNECTION
// status bit. The SQL it understands is deliberately tiny (SELECT of
// literals, parameters and a few system functions, BEGIN TRAN / COMMIT /
// ROLLBACK, SAVE TRAN and ROLLBACK TRAN to a savepoint (savepoint.go),
// CREATE TABLE, INSERT, INSERT BULK, SELECT COUNT(*), SELECT * for
// a table's column metadata (under SET FMTONLY ON, with a false WHERE, or of
// an empty table: the simulator keeps no values), WAITFOR DELAY, USE, the
// SET options clients send after login, such as SET LANGUAGE and SET
// DATEFORMAT, and the session state a
// pool must not hand on: SET TRANSACTION ISOLATION LEVEL, LOCK_TIMEOUT,
// XACT_ABORT and the other ON/OFF options (read back with DBCC USEROPTIONS
// and @@LOCK_TIMEOUT), SET CONTEXT_INFO and CONTEXT_INFO(),
// sp_set_session_context (within SQL Server's 8,000-byte value and 1 MB
// session limits) and SESSION_CONTEXT(N'key'), EXECUTE AS USER |
// LOGIN and REVERT); anything else gets an ERROR token, as a real server
// would answer, never a dropped connection.
//
// A batch does not stop at its first error, as SQL Server's do not: each
// error is an ERROR token, then the failed statement's DONE (DONEINPROC or
// DONEPROC inside a procedure) with DONE_ERROR, and then, as in SQL Server,
// most errors (3903, a ROLLBACK with no transaction, say) let the batch
// carry on with the next statement; an invalid object name (208) and the
// compile-time errors the simulator only finds at run time (137, 195) end
// the batch, or only the text an sp_executesql runs; and a conversion
// error (245) ends the batch from any depth. Under SET XACT_ABORT ON every
// error but those compile-time ones ends the batch and rolls the open
// transaction back.
// errorscope.go lists which error does what, and the sources for it. A
// syntax error anywhere in a batch means none of it runs.
//
// Tables live in memory and are shared by all sessions, except local
// temporary tables (#name), which are the session's own and, as in SQL Server,
// go with the session or its reset. A table keeps its columns' names, types
// and nullability, and counts its rows (Server.CommittedRows, and
// Server.CommittedRowsBy per login of the inserting session); it keeps no
// values. Rows inserted inside a transaction, by INSERT or bulk load, are
// kept per session and applied on commit, so other sessions never see
// uncommitted rows and a rollback undoes them.
//
// What a client can make the server keep is bounded by limits of the
// simulator's own, each refused with error 50000 naming it, the connection
// kept: at most 4,096 tables on the server (global temporary ones
// included), 1,024 local temporary tables in a session, 1,024 savepoints
// in a transaction, 1,024 prepared statements in a session, 32 EXECUTE AS
// contexts in force in a session (we found no documented SQL Server limit
// for this) and Options.MaxMessageSize bytes in a request after login.
//
// The RESETCONNECTION bit resets what session state the simulator keeps, as
// sp_reset_connection does: the open transaction, the SET options (the
// isolation level too, as SQL Server 2014 and later do for TDS 7.3+
// clients), the language, date format and database, CONTEXT_INFO,
// SESSION_CONTEXT (read-only keys too) and the temporary tables. Under an
// EXECUTE AS not reverted it refuses, as SQL Server does, with error 18059
// (severity 20) and ends the connection.
//
// The control API on Server (Kill, RefuseLogins, SetMaxSessions,
// SetLoginLatency, ExpireSessions, Sessions, Logins) lets tests provoke the
// failures a pool must survive. Malformed input closes only the connection it
// arrived on; every session recovers its own panics.
package tds
