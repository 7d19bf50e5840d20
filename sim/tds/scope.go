package tds

import "context"

// Running a scope's statements: a batch's, an RPC's, or the text an EXEC
// sp_executesql runs. Each statement's reply ends with its DONE token, and
// an error's effect on the rest follows the model of errorscope.go.

// scopeEnd is how a scope's statements (a batch's, or the text an
// sp_executesql ran) ended.
type scopeEnd struct {
	// failed: an error was raised in the scope.
	failed bool
	// aborted: a batch-aborting error ended it; the scopes that ran it stop
	// too (errorscope.go).
	aborted bool
}

// scopeError is returned by a statement that ran a scope of its own (EXEC
// sp_executesql) in which an error was raised: the ERROR tokens have been
// sent, so the statement only fails, or aborts the batch.
type scopeError struct{ aborted bool }

func (e *scopeError) Error() string { return "tds: an error was raised in a nested scope" }

// runStatements executes a compiled scope, writing each statement's tokens
// and the token that ends it: DONE, or DONEINPROC inside a procedure (an
// RPC, or EXEC sp_executesql), or DONEPROC for a procedure call. An error
// sends an ERROR token and a DONE_ERROR DONE; what runs next is the
// errorscope.go model: the next statement, or nothing more of the scope or
// of the batch. errAttention is returned when the batch was cancelled; the
// caller ends the reply with DONE(ATTN).
func (s *session) runStatements(ctx context.Context, stmts []stmt, params map[string]any, tb *tokenBuf, inProc bool) (scopeEnd, error) {
	var end scopeEnd
	for i, st := range stmts {
		res, err := s.exec(ctx, st, params, tb)
		if err == errAttention {
			return end, err
		}
		action := endStatement
		switch e := err.(type) {
		case nil:
		case *execError:
			tb.message(tokError, e.e, s.srv.opts.ServerName)
			action = s.actionFor(e)
			if s.rollsBack(e) && s.trancount > 0 {
				s.endTran(tb)
			}
		case *scopeError:
			if e.aborted {
				action = endBatch
			}
		default:
			return end, err
		}
		stop := err != nil && action != endStatement
		// Every DONE but a batch's last carries DONE_MORE; inside a
		// procedure the DONEPROC that ends it is still to come.
		status := doneMore
		if !inProc && (i == len(stmts)-1 || stop) {
			status = doneFinal
		}
		tok := tokDone
		switch {
		case res.proc:
			tok = tokDoneProc
		case inProc:
			tok = tokDoneInProc
		}
		switch {
		case err != nil:
			end.failed = true
			status |= doneError
		case res.proc:
			tb.returnStatus(0)
		case res.hasCount && !s.nocount:
			status |= doneCount
		}
		rows := res.rows
		if err != nil {
			rows = 0
		}
		tb.done(tok, status, res.cmd, rows)
		if stop {
			end.aborted = action == endBatch
			return end, nil
		}
	}
	if len(stmts) == 0 && !inProc {
		tb.done(tokDone, doneFinal, cmdNone, 0)
	}
	return end, nil
}
