package tds

import (
	"bytes"
	"strconv"
	"strings"
)

func (s *session) eval(e expr, params map[string]any) (any, error) {
	switch e.kind {
	case exLiteral:
		return e.val, nil
	case exParam:
		v, ok := params[e.name]
		if !ok {
			return nil, errMustDeclare(e.name)
		}
		return v, nil
	case exSysVar:
		switch e.name {
		case "SPID":
			return int16(s.spid), nil
		case "TRANCOUNT":
			return int32(s.trancount), nil
		case "VERSION":
			return "Microsoft SQL Server 2022 (idpool simulator)", nil
		case "SERVERNAME":
			return s.srv.opts.ServerName, nil
		case "LOCK_TIMEOUT":
			return s.state.lockTimeout, nil
		}
	case exFunc:
		switch e.name {
		case "SUSER_SNAME", "SUSER_NAME":
			return s.loginName(), nil
		case "USER_NAME":
			return s.userName(), nil
		case "CONTEXT_INFO":
			if s.state.contextInfo == nil {
				return nil, nil
			}
			return s.state.contextInfo, nil
		case "SESSION_CONTEXT":
			return s.sessionContextValue(e.val.(expr), params)
		case "DB_NAME":
			return s.database, nil
		}
	}
	return nil, errSyntaxNear(e.name)
}

func (s *session) evalConds(conds []condition, params map[string]any) (bool, error) {
	for _, c := range conds {
		l, err := s.eval(c.left, params)
		if err != nil {
			return false, err
		}
		r, err := s.eval(c.right, params)
		if err != nil {
			return false, err
		}
		cmp, known, err := compareValues(l, r)
		if err != nil {
			return false, err
		}
		if !known || !opHolds(c.op, cmp) {
			return false, nil
		}
	}
	return true, nil
}

func opHolds(op string, cmp int) bool {
	switch op {
	case "=":
		return cmp == 0
	case "<>", "!=":
		return cmp != 0
	case "<":
		return cmp < 0
	case ">":
		return cmp > 0
	case "<=":
		return cmp <= 0
	}
	return cmp >= 0 // ">="
}

// compareValues orders two values the way SQL Server would for the simple
// cases: NULL compares as unknown, numbers numerically, strings without
// regard to case (the collation is case-insensitive), and a string against a
// number by converting the string.
func compareValues(a, b any) (cmp int, known bool, err error) {
	if a == nil || b == nil {
		return 0, false, nil
	}
	if fa, ok := asFloat(a); ok {
		fb, ok := asFloat(b)
		if !ok {
			bs, isStr := b.(string)
			f, err := strconv.ParseFloat(strings.TrimSpace(bs), 64)
			if !isStr || err != nil {
				return 0, false, errCompare()
			}
			fb = f
		}
		return cmpFloat(fa, fb), true, nil
	}
	if _, ok := asFloat(b); ok {
		c, known, err := compareValues(b, a)
		return -c, known, err
	}
	switch av := a.(type) {
	case string:
		if bv, ok := b.(string); ok {
			return strings.Compare(strings.ToLower(av), strings.ToLower(bv)), true, nil
		}
	case []byte:
		if bv, ok := b.([]byte); ok {
			return bytes.Compare(av, bv), true, nil
		}
	case bool:
		if bv, ok := b.(bool); ok {
			return cmpFloat(b2f(av), b2f(bv)), true, nil
		}
	case rawValue:
		if bv, ok := b.(rawValue); ok && bytes.Equal(av.info, bv.info) {
			if bytes.Equal(av.data, bv.data) {
				return 0, true, nil
			}
			return 1, true, nil
		}
	}
	return 0, false, errCompare()
}

// asFloat converts numbers, and strings that spell numbers, for comparison.
func asFloat(v any) (float64, bool) {
	if n, ok := asInt64(v); ok {
		return float64(n), true
	}
	switch v := v.(type) {
	case float32:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "value"
}
