package tds

// What an error raised while a statement runs does to the rest of the
// request. SQL Server does not stop a batch at its first error: most errors
// end only the statement that raised them, and the batch carries on with the
// next one; some end the current scope (the batch, or the text a nested
// sp_executesql runs) and some the whole batch, callers' scopes included.
// Under SET XACT_ABORT ON a run-time error ends the batch and rolls the
// open transaction back.
//
// Sources:
//   - SET XACT_ABORT (Transact-SQL), Microsoft Learn
//     (learn.microsoft.com/sql/t-sql/statements/set-xact-abort-transact-sql):
//     with XACT_ABORT ON a run-time error terminates and rolls back the
//     entire transaction; with it OFF, "in some cases only the Transact-SQL
//     statement that raised the error is rolled back and the transaction
//     continues processing" (its example: a foreign-key error in a batch
//     whose later statements run and commit); compile errors, such as
//     syntax errors, are not affected by SET XACT_ABORT.
//   - TRY...CATCH (Transact-SQL), Microsoft Learn: compile errors, and
//     errors of statement-level recompilation such as object name
//     resolution errors after deferred name resolution (208), are not
//     caught by a TRY...CATCH at the level where they happen, but are by
//     one in a calling scope (one that ran the failing text through
//     sp_executesql): the failing scope ends there, its caller's does not.
//   - Database Engine error severities, Microsoft Learn: severity 19 and
//     above stops the batch; 20 and above ends the connection.
//   - The names statement termination, scope abortion and batch abortion,
//     and conversion errors (245) as batch-aborting, are Erland
//     Sommarskog's "Error and Transaction Handling in SQL Server"
//     (sommarskog.se/error_handling), which documents them as observed
//     rather than as Microsoft specifies them; we did not re-read it for
//     this code, so the table below says, for each error, which source it
//     rests on.
//   - [MS-TDS] 2.2.7.6-2.2.7.8 (DONE, DONEINPROC, DONEPROC): DONE_ERROR on
//     the token of a statement that raised an error, DONE_MORE on every
//     token but the response's last, DONE_COUNT only when the row count is
//     valid (never on a failed statement here). We had no real server to
//     capture; the token sequences are pinned by errorscope_test.go and
//     execsql_test.go, and go-mssqldb, tedious and FreeTDS read them.
//
// The simulator raises some errors at run time that SQL Server raises when
// it compiles the batch (137, 195, and 102 for a SET value), before any
// statement runs. Here the statements before them have run; what follows
// them is skipped, as a scope abortion skips it.

// errAction is what an error does to the rest of the request.
type errAction int

const (
	// endStatement: the statement fails, the scope carries on with the
	// next statement.
	endStatement errAction = iota
	// endScope: the rest of the scope is skipped; the scope that ran it
	// (through EXEC sp_executesql) carries on.
	endScope
	// endBatch: the rest of the batch is skipped, in every scope.
	endBatch
)

// errorActions classifies the errors sim/tds raises while a statement runs.
// Errors found when the batch is parsed (102 syntax, 109/110 INSERT column
// counts, 191 nesting, 8115 numeric literals) never get here: the batch does
// not run at all, as in SQL Server. An error not listed ends its statement,
// which is what SQL Server does for most run-time errors of severity 16 and
// below.
var errorActions = map[int32]errAction{
	// Scope-aborting: name resolution (TRY...CATCH docs) and the
	// compile-time errors the simulator only finds at run time.
	208:   endScope, // invalid object name
	137:   endScope, // must declare the scalar variable
	195:   endScope, // not a recognized SET option
	102:   endScope, // incorrect syntax (a SET value checked at run time)
	40517: endScope, // not supported by the simulator: what follows may depend on it

	// Batch-aborting: conversion errors (Sommarskog).
	245: endBatch,

	// Every other error the simulator raises at run time ends its
	// statement: 3902/3903 COMMIT/ROLLBACK without BEGIN, 628 SAVE
	// TRANSACTION without one, 6401 no savepoint of that name, and 2714 object
	// exists (run-time checks of one statement, like the foreign-key error
	// of the XACT_ABORT docs' example), 148 WAITFOR time, 201/214/8143/
	// 8144/8178 procedure arguments (a DBA Stack Exchange answer
	// tested 201 and 8146 on SQL Server 2012 and 2016: the batch went on),
	// 217 nesting, 2732/2741/2742 SET values, 8114/8116/8152 arguments and
	// truncation, 15664/15665 SESSION_CONTEXT and 50000, the simulator's
	// own limits.
}

// compileErrors are the errors above that SQL Server raises at compile
// time, which SET XACT_ABORT does not affect (XACT_ABORT docs).
var compileErrors = map[int32]bool{137: true, 195: true, 102: true, 40517: true}

// actionFor is what e does to the rest of the request in this session:
// XACT_ABORT ON turns every run-time error into a batch abortion, and
// severity 19 and above always aborts the batch.
func (s *session) actionFor(e *execError) errAction {
	if e.e.Class >= 19 {
		return endBatch
	}
	if s.state.on["XACT_ABORT"] && !compileErrors[e.e.Number] {
		return endBatch
	}
	return errorActions[e.e.Number]
}

// rollsBack reports whether e, raised in this session, rolls the open
// transaction back: under XACT_ABORT ON every run-time error does.
func (s *session) rollsBack(e *execError) bool {
	return s.state.on["XACT_ABORT"] && !compileErrors[e.e.Number]
}
