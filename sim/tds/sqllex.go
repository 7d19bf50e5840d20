package tds

import (
	"fmt"
	"strings"
)

// sqlTokKind classifies a T-SQL token.
type sqlTokKind int

const (
	tkEOF sqlTokKind = iota
	tkIdent
	tkNumber
	tkString
	tkVar    // @name
	tkSysVar // @@name
	tkPunct
	tkBinary // 0x0102: text is the hex digits after 0x
)

type sqlTok struct {
	kind sqlTokKind
	// text is the token as written, except identifiers lose their brackets or
	// quotes and strings their quotes and escapes.
	text string
	// nonUnicode marks a string written without N ('...', not N'...'): a
	// VARCHAR, which sp_executesql refuses for its text (error 214).
	nonUnicode bool
}

// upper is the token's text in upper case, for keyword comparisons.
func (t sqlTok) upper() string { return strings.ToUpper(t.text) }

// maxSQLTokens bounds the work one batch can cause.
const maxSQLTokens = 100000

// lexSQL splits T-SQL text into tokens, dropping whitespace and comments.
func lexSQL(s string) ([]sqlTok, error) {
	var toks []sqlTok
	i := 0
	for i < len(s) {
		if len(toks) >= maxSQLTokens {
			return nil, fmt.Errorf("batch has more than %d tokens", maxSQLTokens)
		}
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case strings.HasPrefix(s[i:], "--"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("missing end comment mark '*/'")
			}
			i += end + 4
		case c == '\'' || ((c == 'N' || c == 'n') && i+1 < len(s) && s[i+1] == '\''):
			if c != '\'' {
				i++
			}
			text, n, err := lexQuoted(s[i:], '\'', '\'')
			if err != nil {
				return nil, err
			}
			toks = append(toks, sqlTok{kind: tkString, text: text, nonUnicode: c == '\''})
			i += n
		case c == '[':
			text, n, err := lexQuoted(s[i:], '[', ']')
			if err != nil {
				return nil, err
			}
			toks = append(toks, sqlTok{kind: tkIdent, text: text})
			i += n
		case c == '"':
			text, n, err := lexQuoted(s[i:], '"', '"')
			if err != nil {
				return nil, err
			}
			toks = append(toks, sqlTok{kind: tkIdent, text: text})
			i += n
		case c == '@':
			kind, j := tkVar, i+1
			if j < len(s) && s[j] == '@' {
				kind, j = tkSysVar, j+1
			}
			k := j
			for k < len(s) && isIdentChar(s[k]) {
				k++
			}
			if k == j {
				return nil, fmt.Errorf("incorrect syntax near '@'")
			}
			toks = append(toks, sqlTok{kind: kind, text: s[j:k]})
			i = k
		case c == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X'):
			// A binary constant; 0x alone is the empty one.
			j := i + 2
			for j < len(s) && isHexDigit(s[j]) {
				j++
			}
			toks = append(toks, sqlTok{kind: tkBinary, text: s[i+2 : j]})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			toks = append(toks, sqlTok{kind: tkNumber, text: s[i:j]})
			i = j
		case isIdentStart(c) || c == '#':
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, sqlTok{kind: tkIdent, text: s[i:j]})
			i = j
		default:
			for _, op := range []string{"<>", "!=", "<=", ">="} {
				if strings.HasPrefix(s[i:], op) {
					toks = append(toks, sqlTok{kind: tkPunct, text: op})
					i += 2
					goto next
				}
			}
			if strings.IndexByte("(),;*=<>+-.", c) < 0 {
				return nil, fmt.Errorf("incorrect syntax near '%c'", c)
			}
			toks = append(toks, sqlTok{kind: tkPunct, text: string(c)})
			i++
		next:
		}
	}
	return append(toks, sqlTok{kind: tkEOF}), nil
}

// lexQuoted reads a quoted token starting at s[0] == open; a doubled close
// character stands for itself. It returns the text and the bytes consumed.
func lexQuoted(s string, open, close byte) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != close {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == close {
			b.WriteByte(close)
			i++
			continue
		}
		return b.String(), i + 1, nil
	}
	if open == '\'' {
		return "", 0, fmt.Errorf("unclosed quotation mark after the character string")
	}
	return "", 0, fmt.Errorf("unclosed identifier quote %c", open)
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// isIdentChar: # may also start a name, that of a temporary table.
func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' || c == '#' }

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
