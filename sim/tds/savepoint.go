package tds

import (
	"maps"
	"unicode/utf8"
)

// Transaction names and savepoints: BEGIN TRANSACTION name, SAVE
// TRANSACTION name and ROLLBACK TRANSACTION name, in T-SQL or as the
// transaction manager requests TM_BEGIN_XACT, TM_SAVE_XACT and
// TM_ROLLBACK_XACT ([MS-TDS] 2.2.6.9) that tedious sends.
//
// Sources (Microsoft Learn, Transact-SQL reference):
//   - SAVE TRANSACTION: a savepoint marks a point the transaction can
//     return to; duplicate names are allowed, and a rollback to the name
//     goes back to the most recent; a savepoint name is always case
//     sensitive; a variable's value counts its first 32 characters only.
//   - ROLLBACK TRANSACTION: without a name it rolls back to the start and
//     sets @@TRANCOUNT to 0; "ROLLBACK TRANSACTION savepoint_name does not
//     decrement @@TRANCOUNT"; a transaction_name must be the outermost
//     BEGIN TRANSACTION's, only its first 32 characters are used, and it
//     is case sensitive.
//   - BEGIN TRANSACTION: a name given to a nested BEGIN is not registered.
//   - Error 6401 for a name that matches nothing: its text as SQL Server
//     words it ("Cannot roll back %.*ls. No transaction or savepoint of
//     that name was found."), and the example of BEGIN TRANSACTION TR1;
//     BEGIN TRANSACTION TR2; ROLLBACK TRANSACTION TR2 getting it, quoted on
//     a Q&A page (geek-questions.imtqy.com/articles/1627974) answering
//     from a real server.
//   - COMMIT TRANSACTION: transaction_name is ignored.
//   - Length: a name written in the statement may not exceed 32
//     characters (BEGIN TRANSACTION: "identifiers longer than 32
//     characters are not allowed"; COMMIT TRANSACTION: "can't exceed 32
//     characters"; SAVE TRANSACTION: "limited to 32 characters"), so a
//     longer one is refused when the batch compiles (errNameTooLong); only
//     a variable's value, or a TM request's name, is cut to 32 characters.
//     ROLLBACK TRANSACTION's page says "only the first 32 characters of
//     the transaction name are used"; we take it as the variable's rule
//     and refuse a longer written name there too, as the parser checks
//     every written name alike.
//
// Not documented, chosen here: a rollback to a savepoint keeps that
// savepoint (and drops the ones set after it), so the transaction can go
// back to it again; a name that is both a savepoint's and the
// transaction's is taken as the savepoint.

// maxNameChars is how many characters of a transaction or savepoint name
// SQL Server allows when written, and uses of a variable's value.
const maxNameChars = 32

// maxSavepoints bounds a transaction's savepoints, each a copy of the
// pending rows, so that a client's SAVE TRANSACTION loop cannot grow the
// server without limit. SQL Server documents no such limit; a test or an
// `idpool tds` session is far below it.
const maxSavepoints = 1024

// savepoint is a SAVE TRANSACTION: its name and the transaction's pending
// rows when it was set.
type savepoint struct {
	name    string
	pending map[string]int64
}

// tranNameRef is a transaction or savepoint name as a statement writes
// it: an identifier, or a variable (an sp_executesql parameter) holding it.
type tranNameRef struct {
	text  string
	param string // lower case, without @; empty for an identifier
}

// resolveTranName returns the name ref stands for, a variable's value cut
// to maxNameChars (a written name was checked by the parser).
func (s *session) resolveTranName(ref tranNameRef, params map[string]any) (string, error) {
	name := ref.text
	if ref.param != "" {
		v, err := s.eval(expr{kind: exParam, name: ref.param}, params)
		if err != nil {
			return "", err
		}
		name, _ = v.(string) // NULL or a non-string: no name
	}
	return cutTranName(name), nil
}

// cutTranName keeps a name's first maxNameChars characters.
func cutTranName(name string) string {
	if utf8.RuneCountInString(name) <= maxNameChars {
		return name
	}
	return string([]rune(name)[:maxNameChars])
}

// saveTran sets a savepoint in the open transaction.
func (s *session) saveTran(name string) *execError {
	if s.trancount == 0 {
		return errSaveNoTran()
	}
	if name == "" {
		return errSavepointName()
	}
	if len(s.savepoints) >= maxSavepoints {
		return errTooManySavepoints()
	}
	s.savepoints = append(s.savepoints, savepoint{name: name, pending: maps.Clone(s.pending)})
	return nil
}

// rollbackTran runs ROLLBACK TRANSACTION [name]: to the most recent
// savepoint of that name, keeping the transaction open, or else, when the
// name is empty or the outermost BEGIN's, all of it. Any other name is
// error 6401, the transaction left as it was.
func (s *session) rollbackTran(tb *tokenBuf, name string) *execError {
	if s.trancount == 0 {
		return errNoBegin(false)
	}
	if name != "" {
		for i := len(s.savepoints) - 1; i >= 0; i-- {
			if s.savepoints[i].name == name {
				s.pending = maps.Clone(s.savepoints[i].pending)
				s.savepoints = s.savepoints[:i+1]
				return nil
			}
		}
		if name != s.tranName {
			return errNoSuchSavepoint(name)
		}
	}
	s.endTran(tb)
	return nil
}
