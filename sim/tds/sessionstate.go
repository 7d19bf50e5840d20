package tds

import (
	"fmt"
	"strconv"
	"strings"
)

// Session state that sp_reset_connection resets, beyond the transaction,
// NOCOUNT, language, date format, database and temporary tables that
// session.go keeps: the SET options a pool's next user could trip over
// (TRANSACTION ISOLATION LEVEL, LOCK_TIMEOUT, XACT_ABORT and the other ON/OFF
// options, TEXTSIZE, DATEFIRST), CONTEXT_INFO and SESSION_CONTEXT. And the
// state it refuses to reset: an impersonation (EXECUTE AS) not reverted, for
// which SQL Server fails the reset with error 18059 and drops the connection
// rather than hand the login's session on under another principal.
//
// Since SQL Server 2014, a reset asked for over TDS 7.3 or later (every
// client of this server) restores the isolation level too; older servers
// kept it, which this simulator does not model.

// sessionState is the state of this file, reset as a whole.
type sessionState struct {
	// isolation is the isolation level as DBCC USEROPTIONS names it.
	isolation           string
	lockTimeout         int32
	textSize, dateFirst int32
	on                  map[string]bool // the ON/OFF options that are ON
	contextInfo         []byte          // nil until SET CONTEXT_INFO
	sessionContext      map[string]sessionValue
	sessionContextBytes int             // keys and values, sessioncontextsize.go
	impersonating       []executeAsStmt // EXECUTE AS contexts, innermost last
}

// sessionValue is one SESSION_CONTEXT key's value.
type sessionValue struct {
	value    any
	readOnly bool
}

// booleanOptions are the ON/OFF SET options the session keeps, and whether
// each is ON for a new session (the defaults of an ODBC or OLE DB login).
var booleanOptions = map[string]bool{
	"ANSI_NULLS": true, "ANSI_WARNINGS": true, "ANSI_PADDING": true, "ANSI_NULL_DFLT_ON": true,
	"QUOTED_IDENTIFIER": true, "CONCAT_NULL_YIELDS_NULL": true,
	"XACT_ABORT": false, "ARITHABORT": false, "NUMERIC_ROUNDABORT": false, "CURSOR_CLOSE_ON_COMMIT": false,
	// FMTONLY: SELECTs send their column metadata and no rows, INSERTs
	// insert nothing (go-mssqldb's bulk copy reads a table's columns so).
	"FMTONLY": false,
}

// isolationLevels are the levels SET TRANSACTION ISOLATION LEVEL accepts,
// by the index a TM begin request gives them ([MS-TDS] 2.2.6.9).
var isolationLevels = []string{"", "read uncommitted", "read committed", "repeatable read", "serializable", "snapshot"}

// Defaults of a new session and of a reset.
const (
	defaultIsolation   = "read committed"
	defaultLockTimeout = -1
	defaultTextSize    = 2147483647
	defaultDateFirst   = 7
)

func newSessionState() sessionState {
	on := map[string]bool{}
	for o, def := range booleanOptions {
		if def {
			on[o] = true
		}
	}
	return sessionState{isolation: defaultIsolation, lockTimeout: defaultLockTimeout,
		textSize: defaultTextSize, dateFirst: defaultDateFirst, on: on}
}

// resetState does sp_reset_connection's part for this file's state. It
// refuses while an EXECUTE AS is in force.
func (s *session) resetState() *execError {
	if len(s.state.impersonating) > 0 {
		return errResetImpersonated()
	}
	s.state = newSessionState()
	return nil
}

// errResetImpersonated is error 18059, severity 20: the server drops the
// connection after sending it.
func errResetImpersonated() *execError {
	return newExecError(18059, 20, "The connection has been dropped because the principal that opened it subsequently assumed a new security context, and then tried to reset the connection under its impersonated security context. This scenario is not supported. See \"Impersonation Overview\" in Books Online.")
}

// setOption runs SET for the options of this file. It reports false for an
// option it does not keep.
func (s *session) setOption(st setStmt) (bool, error) {
	if _, ok := booleanOptions[st.option]; ok {
		switch st.value {
		case "ON":
			s.state.on[st.option] = true
		case "OFF":
			delete(s.state.on, st.option)
		default:
			return true, errSyntaxNear(st.value)
		}
		return true, nil
	}
	switch st.option {
	case "TRANSACTION":
		level := strings.ToLower(st.value)
		for _, l := range isolationLevels[1:] {
			if l == level {
				s.state.isolation = l
				return true, nil
			}
		}
		f := strings.Fields(st.value)
		return true, errSyntaxNear(f[len(f)-1])
	case "LOCK_TIMEOUT", "TEXTSIZE", "DATEFIRST":
		n, err := strconv.ParseInt(st.value, 10, 32)
		if err != nil {
			return true, errSyntaxNear(st.value)
		}
		switch {
		case st.option == "LOCK_TIMEOUT" && n >= -1:
			s.state.lockTimeout = int32(n)
		case st.option == "TEXTSIZE" && n == -1:
			s.state.textSize = defaultTextSize // -1 asks for the largest size
		case st.option == "TEXTSIZE" && n >= 0:
			s.state.textSize = int32(n)
		case st.option == "DATEFIRST" && n >= 1 && n <= 7:
			s.state.dateFirst = int32(n)
		default:
			return true, newExecError(2742, 16, "SET %s %s is out of range.", st.option, st.value)
		}
		return true, nil
	}
	return false, nil
}

// beginIsolation applies the isolation level of a TM begin request: as in
// SQL Server it is the session's level from then on, past the transaction.
func (s *session) beginIsolation(level byte) {
	if int(level) > 0 && int(level) < len(isolationLevels) {
		s.state.isolation = isolationLevels[level]
	}
}

// execSetContextInfo is SET CONTEXT_INFO: up to 128 bytes of binary.
func (s *session) execSetContextInfo(st setContextInfoStmt, params map[string]any) error {
	v, err := s.eval(st.value, params)
	if err != nil {
		return err
	}
	var b []byte
	switch v := v.(type) {
	case []byte:
		b = v
	case nil:
		return newExecError(8116, 16, "Argument data type NULL is invalid for argument 1 of set context_info function.")
	default:
		return newExecError(8116, 16, "Argument data type %T is invalid for argument 1 of set context_info function.", v)
	}
	if len(b) > 128 {
		return newExecError(8152, 16, "String or binary data would be truncated.")
	}
	s.state.contextInfo = append([]byte{}, b...)
	return nil
}

// execSetSessionContext is sp_set_session_context: a NULL value removes
// the key; a read-only key can be set no more on this session until its
// reset.
func (s *session) execSetSessionContext(st setSessionContextStmt, params map[string]any) error {
	k, err := s.eval(st.key, params)
	if err != nil {
		return err
	}
	key, ok := k.(string)
	if !ok || key == "" || len(key) > 128 {
		return newExecError(15664, 16, "Invalid key for sp_set_session_context: a key is a non-empty string of at most 128 characters.")
	}
	v, err := s.eval(st.value, params)
	if err != nil {
		return err
	}
	ro, err := s.eval(st.readOnly, params)
	if err != nil {
		return err
	}
	if b, ok := ro.(bool); ok { // a bit parameter
		ro = int64(b2f(b))
	}
	readOnly, isNum := asInt64(ro)
	if ro != nil && !isNum {
		return newExecError(8114, 16, "Error converting data type to bit for parameter '@read_only'.")
	}
	if cur, ok := s.state.sessionContext[key]; ok && cur.readOnly {
		return newExecError(15664, 16, "Cannot set key '%s' in the session context. The key has been set as read_only for this session.", key)
	}
	total := s.state.sessionContextBytes
	if cur, ok := s.state.sessionContext[key]; ok {
		total -= sessionContextBytes(key, cur.value)
	}
	if v == nil && readOnly == 0 {
		delete(s.state.sessionContext, key)
		s.state.sessionContextBytes = total
		return nil
	}
	if n := valueBytes(v); n > maxSessionContextValue {
		return errSessionContextValue(key, n)
	}
	if total += sessionContextBytes(key, v); total > maxSessionContextTotal {
		return errSessionContextFull(key)
	}
	if s.state.sessionContext == nil {
		s.state.sessionContext = map[string]sessionValue{}
	}
	s.state.sessionContext[key] = sessionValue{value: v, readOnly: readOnly != 0}
	s.state.sessionContextBytes = total
	return nil
}

// sessionContextValue is SESSION_CONTEXT(key): the value, or NULL.
func (s *session) sessionContextValue(keyExpr expr, params map[string]any) (any, error) {
	k, err := s.eval(keyExpr, params)
	if err != nil {
		return nil, err
	}
	key, ok := k.(string)
	if !ok {
		return nil, newExecError(8116, 16, "Argument data type is invalid for argument 1 of session_context function.")
	}
	return s.state.sessionContext[key].value, nil
}

// maxExecuteAsDepth bounds the EXECUTE AS contexts in force in a session,
// each of which lasts until its REVERT, so a client looping EXECUTE AS
// without REVERT grew its session without limit. We found no documented
// SQL Server limit; 32 is the simulator's own, the depth to which SQL
// Server nests procedure calls.
const maxExecuteAsDepth = 32

// execExecuteAs switches the session's security context. The simulator
// grants every impersonation (it keeps no permissions) up to
// maxExecuteAsDepth in force.
func (s *session) execExecuteAs(st executeAsStmt) *execError {
	if len(s.state.impersonating) >= maxExecuteAsDepth {
		return errExecuteAsTooDeep()
	}
	s.state.impersonating = append(s.state.impersonating, st)
	return nil
}

// execRevert ends the innermost EXECUTE AS; with none in force it does
// nothing, as in SQL Server.
func (s *session) execRevert() {
	if n := len(s.state.impersonating); n > 0 {
		s.state.impersonating = s.state.impersonating[:n-1]
	}
}

// loginName is what SUSER_SNAME() answers: the innermost EXECUTE AS LOGIN,
// or the session's login.
func (s *session) loginName() string {
	for i := len(s.state.impersonating) - 1; i >= 0; i-- {
		if s.state.impersonating[i].login {
			return s.state.impersonating[i].name
		}
	}
	return s.login
}

// userName is what USER_NAME() answers: the innermost impersonated
// principal (a login's user is named as the login here), or dbo.
func (s *session) userName() string {
	if n := len(s.state.impersonating); n > 0 {
		return s.state.impersonating[n-1].name
	}
	return "dbo"
}

// execUserOptions answers DBCC USEROPTIONS: one row per option that is set,
// in SQL Server's order, with its value ("SET" for an ON/OFF option).
func (s *session) execUserOptions(tb *tokenBuf) stmtResult {
	lang := s.language
	if lang == "" {
		lang = defaultLanguage
	}
	dateFormat := s.dateFormat
	if dateFormat == "" {
		dateFormat = "mdy"
	}
	rows := [][2]string{
		{"textsize", fmt.Sprint(s.state.textSize)},
		{"language", lang},
		{"dateformat", dateFormat},
		{"datefirst", fmt.Sprint(s.state.dateFirst)},
		{"lock_timeout", fmt.Sprint(s.state.lockTimeout)},
	}
	for _, o := range []string{"QUOTED_IDENTIFIER", "ARITHABORT", "ANSI_NULL_DFLT_ON", "ANSI_WARNINGS",
		"ANSI_PADDING", "ANSI_NULLS", "CONCAT_NULL_YIELDS_NULL", "XACT_ABORT", "NUMERIC_ROUNDABORT", "CURSOR_CLOSE_ON_COMMIT"} {
		if s.state.on[o] {
			rows = append(rows, [2]string{strings.ToLower(o), "SET"})
		}
	}
	if s.nocount {
		rows = append(rows, [2]string{"nocount", "SET"})
	}
	rows = append(rows, [2]string{"isolation level", s.state.isolation})
	var names, values []any
	for _, r := range rows {
		names, values = append(names, r[0]), append(values, r[1])
	}
	cols := []column{{name: "Set Option", typ: typeFor(names)}, {name: "Value", typ: typeFor(values)}}
	tb.colMetadata(cols)
	for _, r := range rows {
		tb.row(cols, []any{r[0], r[1]})
	}
	// DONE names the command as for a SELECT: the rows are all a client reads.
	return stmtResult{cmd: cmdSelect, rows: uint64(len(rows)), hasCount: true}
}
