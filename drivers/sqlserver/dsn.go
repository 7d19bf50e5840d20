package sqlserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/microsoft/go-mssqldb/msdsn"
)

// ErrInvalidDSN is wrapped by every DSN parse error of this package.
var ErrInvalidDSN = errors.New("sqlserver: invalid DSN")

// ServerKey returns the server part of a pool key for dsn:
// "host:port/database", with the host in lower case and the default port
// 1433 filled in ("host\instance/database" for a named instance without a
// port). It holds no credentials.
func ServerKey(dsn string) (string, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return "", invalidDSN(err, dsnSecrets(dsn))
	}
	return serverKeyOf(cfg), nil
}

// parseDSN is msdsn.Parse, refusing a DSN that names no server, and first a
// form prefix go-mssqldb would not recognise: it knows "sqlserver://" and
// "odbc:" in lower case only, and reads "SQLSERVER://..." as one ADO key
// with no value, a DSN for localhost:1433 with no database and no
// credentials. A token identity's token would go to whatever listens there.
func parseDSN(dsn string) (msdsn.Config, error) {
	for _, prefix := range []string{"sqlserver://", "odbc:"} {
		if len(dsn) >= len(prefix) && strings.EqualFold(dsn[:len(prefix)], prefix) && dsn[:len(prefix)] != prefix {
			return msdsn.Config{}, fmt.Errorf("the DSN starts with %q: go-mssqldb reads the %s prefix in lower case only", dsn[:len(prefix)], prefix)
		}
	}
	cfg, err := msdsn.Parse(dsn)
	if err != nil {
		return cfg, err
	}
	// go-mssqldb dials localhost:1433 when the DSN names no server: an
	// empty DSN (an environment variable that is not set), "host=db1" (a
	// key it does not know), "sqlserver://?database=appdb". Every token
	// identity's token would go to whatever listens on this machine's
	// port 1433. "localhost", "." and "(local)" still name it on purpose.
	if host, _, _ := strings.Cut(cfg.Parameters[msdsn.Server], `\`); strings.TrimSpace(host) == "" {
		return msdsn.Config{}, errors.New("the DSN names no server (server=HOST, or sqlserver://HOST/...); go-mssqldb would dial localhost:1433 (name localhost to mean it)")
	}
	return cfg, nil
}

func serverKeyOf(cfg msdsn.Config) string {
	host := strings.ToLower(cfg.Host)
	var hostPort string
	switch {
	case cfg.Port != 0:
		hostPort = net.JoinHostPort(host, strconv.FormatUint(cfg.Port, 10))
	case cfg.Instance != "":
		hostPort = host + `\` + strings.ToLower(cfg.Instance)
	default:
		hostPort = net.JoinHostPort(host, "1433")
	}
	return hostPort + "/" + cfg.Database
}

// invalidDSN wraps a parse error whose text may quote parts of the DSN; the
// password is scrubbed from it, and the driver's error is not wrapped, so no
// caller can print its raw text by unwrapping.
func invalidDSN(err error, secrets []string) error {
	msg := odbcSyntaxChar.ReplaceAllString(err.Error(), "unexpected character at index")
	return fmt.Errorf("%w: %s", ErrInvalidDSN, scrub(msg, secrets))
}

// odbcSyntaxChar matches the character go-mssqldb's ODBC syntax errors
// quote ("unexpected character X at index N"). It is dropped: where a braced
// password ends early (a '}' the user meant as part of it, not doubled), it
// is the password's next character. The index is kept.
var odbcSyntaxChar = regexp.MustCompile(`unexpected character (?s:.) at index`)

// dsnSecrets finds the password in any DSN form go-mssqldb accepts: the URL
// form's userinfo (raw and unescaped), and password=/pwd=/change password=
// values of the ADO and ODBC forms (with and without braces or quotes). It errs on the side of
// finding too much: every candidate is scrubbed from error text.
//
// First among them is the password as the driver itself reads it: a value in
// double quotes (ADO) or braces (ODBC) may hold ';', and "" or }} stand for
// one quote or brace, so no split on ';' finds it whole. msdsn.Parse returns
// the parameters it split even when a later value fails to parse, which is
// when its errors quote values; the guesses below cover a DSN it cannot
// split at all.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" {
			out = append(out, s)
			if t := strings.Trim(s, `{}"'`); t != s && t != "" {
				out = append(out, t)
			}
			// strconv's errors (a port, a packet size) quote a value
			// Go-style, with '"' and '\' escaped.
			if q := strconv.Quote(s); q[1:len(q)-1] != s {
				out = append(out, q[1:len(q)-1])
			}
		}
	}
	if cfg, _ := msdsn.Parse(dsn); cfg.Parameters != nil {
		for k, v := range cfg.Parameters {
			if isPasswordKey(k) {
				add(v)
			}
		}
	}
	const urlPrefix = "sqlserver://"
	if len(dsn) >= len(urlPrefix) && equalFoldASCII(dsn[:len(urlPrefix)], urlPrefix) {
		rest := dsn[len("sqlserver://"):]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
				if u, err := url.PathUnescape(pw); err == nil {
					add(u)
				}
			}
		}
		if u, err := url.Parse(dsn); err == nil {
			if pw, ok := u.User.Password(); ok {
				add(pw)
			}
			for k, vs := range u.Query() {
				if isPasswordKey(k) {
					for _, v := range vs {
						add(v)
					}
				}
			}
		}
		return out
	}
	for _, part := range strings.Split(strings.TrimPrefix(dsn, "odbc:"), ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && isPasswordKey(k) {
			add(v)
		}
	}
	// A braced ODBC value may itself contain ';': take everything from the
	// key to the closing brace as well.
	for _, key := range []string{"password", "pwd", "change password"} {
		if i := indexFoldASCII(dsn, key+"={"); i >= 0 {
			v := dsn[i+len(key)+2:]
			if j := strings.Index(v, "}"); j >= 0 {
				v = v[:j]
			}
			add(v)
		}
	}
	return out
}

// indexFoldASCII is strings.Index ignoring the case of ASCII letters, its
// offset one into s itself. An index into strings.ToLower(s) is not: lower
// casing changes the length of text that is not UTF-8 (each invalid byte
// becomes a 3-byte U+FFFD) and of some letters ("İ" becomes 3 bytes, the
// Kelvin sign 1), and slicing s with it panicked in NewDialer, or cut the
// wrong text as the password.
func indexFoldASCII(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// equalFoldASCII reports whether a and b are equal but for the case of ASCII
// letters; other bytes must be equal.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// isPasswordKey reports whether k names a SQL login's secret: its password,
// or the new password of "change password", which go-mssqldb sends at login.
func isPasswordKey(k string) bool {
	switch strings.ToLower(strings.TrimSpace(k)) {
	case "password", "pwd", "change password":
		return true
	}
	return false
}

// minScrubLen is the shortest secret scrubbed in place; a text that contains
// a shorter one (case-insensitively) is withheld whole, since replacing every
// occurrence of one or two letters would leave nothing readable anyway.
const minScrubLen = 4

// withheld replaces driver text that could not be scrubbed safely.
const withheld = "details withheld because they may quote the password"

// scrub removes every secret from s, case-insensitively (the driver lower-
// cases some values it quotes), longest first so that a secret containing
// another is removed whole.
func scrub(s string, secrets []string) string {
	sorted := append([]string(nil), secrets...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, sec := range sorted {
		if sec == "" {
			continue
		}
		re := foldPattern(sec)
		if len(sec) < minScrubLen {
			if re.MatchString(s) {
				return withheld
			}
			continue
		}
		s = re.ReplaceAllString(s, "***")
	}
	return s
}

// foldPattern matches sec in any letter case. A password need not be valid
// UTF-8 (a Latin-1 config file, say), and a pattern with an invalid byte does
// not compile: regexp.MustCompile panicked, in NewDialer and in every failed
// Dial, with the password in the panic's text. regexp reads an invalid byte
// of the text it searches as U+FFFD, so that is what an invalid byte of sec
// matches (a real U+FFFD too, which only scrubs more).
func foldPattern(sec string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)")
	for i, w := 0, 0; i < len(sec); i += w {
		var r rune
		r, w = utf8.DecodeRuneInString(sec[i:])
		if r == utf8.RuneError && w == 1 {
			b.WriteString(`\x{FFFD}`)
			continue
		}
		b.WriteString(regexp.QuoteMeta(sec[i : i+w]))
	}
	return regexp.MustCompile(b.String())
}
