package tds

import (
	"fmt"
	"strings"
)

// execError is a SQL error sent to the client as an ERROR token; the
// connection stays open.
type execError struct{ e sqlError }

func (e *execError) Error() string { return fmt.Sprintf("mssql error %d: %s", e.e.Number, e.e.Msg) }

func newExecError(number int32, class byte, format string, args ...any) *execError {
	return &execError{sqlError{Number: number, State: 1, Class: class, Msg: fmt.Sprintf(format, args...)}}
}

// The errors below reuse SQL Server's numbers, classes and wording, so that
// client code that inspects mssql.Error sees what a real server would send.

func errSyntaxNear(near string) *execError {
	if len(near) > 64 {
		near = near[:64]
	}
	return newExecError(102, 15, "Incorrect syntax near '%s'.", near)
}

func errSyntaxEnd() *execError {
	return newExecError(102, 15, "Incorrect syntax near the end of the batch.")
}

func errSyntaxMsg(msg string) *execError {
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return newExecError(102, 15, "%s.", strings.TrimSuffix(msg, "."))
}

func errNestedTooDeeply() *execError {
	return newExecError(191, 15, "Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries.")
}

func errArithmeticOverflow() *execError {
	return newExecError(8115, 16, "Arithmetic overflow error converting expression to data type bigint.")
}

func errInsertColumns(moreValues bool) *execError {
	if moreValues {
		return newExecError(110, 15, "There are fewer columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.")
	}
	return newExecError(109, 15, "There are more columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.")
}

func errInvalidObject(name string) *execError {
	return newExecError(208, 16, "Invalid object name '%s'.", name)
}

func errObjectExists(name string) *execError {
	return newExecError(2714, 16, "There is already an object named '%s' in the database.", name)
}

func errMustDeclare(name string) *execError {
	return newExecError(137, 15, "Must declare the scalar variable \"@%s\".", name)
}

func errNoBegin(commit bool) *execError {
	if commit {
		return newExecError(3902, 16, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
	}
	return newExecError(3903, 16, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
}

func errWaitforTime(s string) *execError {
	return newExecError(148, 15, "Incorrect time syntax in time string '%s' used with WAITFOR.", s)
}

func errNotSupported(what string) *execError {
	return newExecError(40517, 16, "Keyword or statement option '%s' is not supported in this version of SQL Server.", what)
}

func errProcNotFound(name string) *execError {
	return newExecError(2812, 16, "Could not find stored procedure '%s'.", name)
}

// errProcNesting is error 217: procedure calls nest at most
// maxProcNesting deep.
func errProcNesting() *execError {
	return newExecError(217, 16, "Maximum stored procedure, function, trigger, or view nesting level exceeded (limit %d).", maxProcNesting)
}

// errPositionalAfterNamed is error 119: once an argument is passed as
// @name = value, the ones after it must be too. n counts from 1.
func errPositionalAfterNamed(n int) *execError {
	return newExecError(119, 15, "Must pass parameter number %d and subsequent parameters as '@name = value'. After the form '@name = value' has been used, all subsequent parameters must be passed in the form '@name = value'.", n)
}

func errSuppliedTwice(name string) *execError {
	return newExecError(8143, 16, "Parameter '%s' was supplied multiple times.", name)
}

func errRPCStream(detail string) *execError {
	return newExecError(8009, 16, "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. %s", detail)
}

// errMessageTooLarge answers a request longer than Options.MaxMessageSize.
// SQL Server's own limit (65,536 network packets) is far larger and has no
// error of its own here, so the number is the first of the user range.
func errMessageTooLarge(e *messageTooLargeError) *execError {
	return newExecError(50000, 16, "The request of %d bytes exceeds the simulated server's message size limit of %d bytes (tds.Options.MaxMessageSize); it was not run.", e.size, e.limit)
}

// errTooManyTables refuses a CREATE TABLE past a store's limit (store.go).
// SQL Server's limit is far larger and out of reach, so, as for
// errMessageTooLarge, the number is the first of the user range.
func errTooManyTables(name, what string, limit int) *execError {
	return newExecError(50000, 16, "Table '%s' was not created: the simulated server's limit of %d %s has been reached.", name, limit, what)
}

// errExecuteAsTooDeep refuses an EXECUTE AS past maxExecuteAsDepth
// (sessionstate.go), the simulator's own limit; the number is the first of
// the user range.
func errExecuteAsTooDeep() *execError {
	return newExecError(50000, 16, "EXECUTE AS was not run: the simulated server nests at most %d EXECUTE AS contexts in a session; REVERT first.", maxExecuteAsDepth)
}

func errCompare() *execError {
	return newExecError(245, 16, "Conversion failed when comparing values of different types.")
}

// Login errors, sent in place of LOGINACK; the connection is then closed.

// loginFailed is error 18456, the one SQL Server sends for every failed
// authentication, whatever the reason (the reason only goes to its log).
func loginFailed(user string) sqlError {
	return sqlError{Number: 18456, State: 1, Class: 14, Msg: fmt.Sprintf("Login failed for user '%s'.", user)}
}

// tokenPrincipal is how Azure SQL names a token login it could not identify.
const tokenPrincipal = "<token-identified principal>"

func tokenLoginFailed(expired bool) sqlError {
	e := loginFailed(tokenPrincipal)
	if expired {
		e.Msg += " Token is expired."
	}
	return e
}

// tooManyConnections is error 17809, which SQL Server sends when its user
// connection limit is reached.
func tooManyConnections(limit int) sqlError {
	return sqlError{Number: 17809, State: 1, Class: 20, Msg: fmt.Sprintf(
		"Could not connect because the maximum number of '%d' user connections has already been reached. The system administrator can use sp_configure to increase the maximum value. The connection has been closed.", limit)}
}

// notAvailable is error 40613, Azure SQL's transient "database not
// available" error, sent while the server refuses logins.
func notAvailable(db, server string) sqlError {
	return sqlError{Number: 40613, State: 1, Class: 17, Msg: fmt.Sprintf(
		"Database '%s' on server '%s' is not currently available. Please retry the connection later.", db, server)}
}

// fedAuthEchoMismatch refuses a FEDAUTH login whose fFedAuthEcho does not
// say what the server's PRELOGIN reply said, as [MS-TDS] requires (an
// ERROR, then the connection closes); the spec names no error number,
// so it is the login failure every client reports.
func fedAuthEchoMismatch(echoed bool) sqlError {
	said := "did not carry FEDAUTHREQUIRED"
	if echoed {
		said = "carried FEDAUTHREQUIRED=1"
	}
	return sqlError{Number: 18456, State: 1, Class: 14, Msg: "Login failed: the FEDAUTH feature's fFedAuthEcho does not match the server's PRELOGIN reply, which " + said + "."}
}

func fedAuthUnsupported() sqlError {
	return sqlError{Number: 18456, State: 1, Class: 14, Msg: "Login failed: the federated authentication library is not supported by this server."}
}

// unsupportedTDSVersion refuses a LOGIN7 that asks for a TDS version the
// server does not speak. It is a login failure (18456), so clients report
// it as they report any refused login, with the reason in the message.
func unsupportedTDSVersion(v uint32) sqlError {
	return sqlError{Number: 18456, State: 1, Class: 14, Msg: fmt.Sprintf(
		"Login failed. The client asked for TDS version 0x%08X, which this server does not support; it speaks TDS 7.4 (0x74000004) and 8.0 (0x08000000).", v)}
}

// protocolError is error 4002, sent before the server drops a connection
// whose stream it cannot parse.
func protocolError() sqlError {
	return sqlError{Number: 4002, State: 1, Class: 16, Msg: "The incoming tabular data stream (TDS) protocol stream is incorrect."}
}

// errNoSuchSavepoint is error 6401: a ROLLBACK TRANSACTION name that is
// neither a savepoint's nor the outermost BEGIN TRANSACTION's.
func errNoSuchSavepoint(name string) *execError {
	return newExecError(6401, 16, "Cannot roll back %s. No transaction or savepoint of that name was found.", name)
}

// errSaveNoTran is error 628: SAVE TRANSACTION outside a transaction.
func errSaveNoTran() *execError {
	return newExecError(628, 16, "Cannot issue SAVE TRANSACTION when there is no active transaction.")
}

// errSavepointName refuses a SAVE TRANSACTION whose name is empty: a
// TM_SAVE_XACT "MUST specify a nonempty name" ([MS-TDS] 2.2.6.9), and a
// variable may hold an empty one. What SQL Server answers is not
// documented, so the number is the first of the user range.
func errSavepointName() *execError {
	return newExecError(50000, 16, "SAVE TRANSACTION needs a nonempty savepoint name.")
}

// errTooManySavepoints refuses a SAVE TRANSACTION past maxSavepoints
// (savepoint.go), the simulator's own limit.
func errTooManySavepoints() *execError {
	return newExecError(50000, 16, "SAVE TRANSACTION was not run: the simulated server keeps at most %d savepoints in a transaction.", maxSavepoints)
}

// errNameTooLong is error 103 (severity 15, a compile error) for a
// transaction or savepoint name written longer than maxNameChars. SQL
// Server's text is "The %S_MSG that starts with '%.*ls' is too long.
// Maximum length is %d." (Database engine errors, Microsoft Learn); that
// %S_MSG reads "identifier" here and that the name is quoted up to the
// limit are our reading, not checked on a server.
func errNameTooLong(name string) *execError {
	return newExecError(103, 15, "The identifier that starts with '%s' is too long. Maximum length is %d.", cutTranName(name), maxNameChars)
}
