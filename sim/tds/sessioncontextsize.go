package tds

// SQL Server's documented limits of the session context
// (sp_set_session_context): a value of at most 8,000 bytes, and at most 1 MB
// of keys and values on a session, past which the statement fails. Without
// them one client could grow its session's memory without limit, one
// request after another.
const (
	maxSessionContextValue = 8000
	maxSessionContextTotal = 1 << 20
)

// valueBytes is the size a value takes in the session context: strings as
// the nvarchar they arrive as, binary and carried-only values as sent, the
// rest as the eight bytes of the widest number.
func valueBytes(v any) int {
	switch v := v.(type) {
	case nil:
		return 0
	case string:
		return 2 * ucs2Len(v)
	case []byte:
		return len(v)
	case rawValue:
		return len(v.data)
	}
	return 8
}

// sessionContextBytes is what one key and its value take.
func sessionContextBytes(key string, v any) int { return 2*ucs2Len(key) + valueBytes(v) }

// errSessionContextValue and errSessionContextFull fail a set past the
// limits. The documentation states the limits, not the error numbers;
// 15665 is the number SQL Server is known to use for the total.
func errSessionContextValue(key string, n int) *execError {
	return newExecError(15665, 16, "The value was not set for key '%s' because it is %d bytes; a session context value is at most %d bytes.", key, n, maxSessionContextValue)
}

func errSessionContextFull(key string) *execError {
	return newExecError(15665, 16, "The value was not set for key '%s' because the total size of keys and values in the session context would exceed the 1 MB limit.", key)
}
