package manager

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// logSite is one slog call of the library: the messages it can log (a
// message may reach it through a variable or a parameter), its level when
// the method names one, and the attribute keys written at the call.
type logSite struct {
	pos   string
	msgs  []string
	level string
	keys  []string
}

// slogMethods maps slog.Logger's logging methods to their level ("" for
// Log, whose level is an argument) and the index of their message.
var slogMethods = map[string]struct {
	level string
	msg   int
}{
	"Debug": {"debug", 0}, "Info": {"info", 0}, "Warn": {"warn", 0}, "Error": {"error", 0},
	"DebugContext": {"debug", 1}, "InfoContext": {"info", 1}, "WarnContext": {"warn", 1}, "ErrorContext": {"error", 1},
	"Log": {"", 2}, "LogAttrs": {"", 2},
}

// sourcePackage is the parsed non-test files of one package, indexed for
// following a message from a log call back to its string literals.
type sourcePackage struct {
	fset   *token.FileSet
	funcs  []*ast.FuncDecl
	consts map[string][]ast.Expr // package-level const and var values by name
	calls  map[string][]callSite // calls by the callee's name
}

type callSite struct {
	call *ast.CallExpr
	in   *ast.FuncDecl
}

func parseSourcePackage(t *testing.T, dir string) *sourcePackage {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	p := &sourcePackage{fset: token.NewFileSet(), consts: map[string][]ast.Expr{}, calls: map[string][]callSite{}}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(p.fset, name, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if vs, ok := s.(*ast.ValueSpec); ok {
						for i, n := range vs.Names {
							if i < len(vs.Values) {
								p.consts[n.Name] = append(p.consts[n.Name], vs.Values[i])
							}
						}
					}
				}
			case *ast.FuncDecl:
				p.funcs = append(p.funcs, d)
			}
		}
	}
	for _, fn := range p.funcs {
		if fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if name := calleeName(c); name != "" {
					p.calls[name] = append(p.calls[name], callSite{c, fn})
				}
			}
			return true
		})
	}
	return p
}

func calleeName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

// logPrefixes begin the messages of the library's log lines: the Manager's
// and its actors' (Config.Logger), the fleet budget's (fleet.Config.Logger)
// and idpoolhttp.Middleware's (idpoolhttp.WithLogger).
var logPrefixes = []string{"idpool: ", "fleet: ", "idpoolhttp: "}

// isLogMessage says whether s begins with one of logPrefixes.
func isLogMessage(s string) bool {
	for _, p := range logPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// messages returns the log message literals (see logPrefixes) e can hold inside fn:
// itself, what a local variable or a package-level constant is set to, or,
// for a parameter of fn, what fn's callers in the package pass.
func (p *sourcePackage) messages(e ast.Expr, fn *ast.FuncDecl, depth int) []string {
	if depth > 6 {
		return nil
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if s, err := strconv.Unquote(e.Value); err == nil && isLogMessage(s) {
			return []string{s}
		}
	case *ast.Ident:
		var out []string
		if idx := paramIndex(fn, e.Name); idx >= 0 {
			for _, cs := range p.calls[fn.Name.Name] {
				if idx < len(cs.call.Args) {
					out = append(out, p.messages(cs.call.Args[idx], cs.in, depth+1)...)
				}
			}
			return out
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if a, ok := n.(*ast.AssignStmt); ok && len(a.Lhs) == len(a.Rhs) {
				for i, l := range a.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == e.Name {
						out = append(out, p.messages(a.Rhs[i], fn, depth+1)...)
					}
				}
			}
			return true
		})
		for _, v := range p.consts[e.Name] {
			out = append(out, p.messages(v, fn, depth+1)...)
		}
		return out
	}
	return nil
}

// paramIndex is the index of fn's parameter name, or -1.
func paramIndex(fn *ast.FuncDecl, name string) int {
	i := 0
	for _, f := range fn.Type.Params.List {
		for _, n := range f.Names {
			if n.Name == name {
				return i
			}
			i++
		}
		if len(f.Names) == 0 {
			i++
		}
	}
	return -1
}

// logSites returns every slog call in the package whose message is one of
// the library's (see logPrefixes), and the positions of slog-shaped calls whose
// message could not be followed to a literal.
func (p *sourcePackage) logSites() (sites []logSite, unresolved []string) {
	for _, fn := range p.funcs {
		if fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := c.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			m, ok := slogMethods[sel.Sel.Name]
			if !ok || len(c.Args) <= m.msg {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "http" {
				return true // http.Error(w, text, code): a response, not a log line
			}
			pos := p.fset.Position(c.Pos()).String()
			msgs := p.messages(c.Args[m.msg], fn, 0)
			if len(msgs) == 0 {
				unresolved = append(unresolved, pos)
				return true
			}
			site := logSite{pos: pos, msgs: msgs, level: m.level}
			for i := m.msg + 1; i < len(c.Args); i += 2 {
				if lit, ok := c.Args[i].(*ast.BasicLit); ok {
					key, _ := strconv.Unquote(lit.Value)
					site.keys = append(site.keys, key)
				}
			}
			sites = append(sites, site)
			return true
		})
	}
	return sites, unresolved
}

// The Logs tables of docs/OPERATIONS.md name every line the library logs
// (the pool and manager actors and the Manager; the fleet budget;
// idpoolhttp's middleware; the drivers, tokens and onbehalf log nothing
// and must not start unseen), and no other, each at the level the
// code logs it with and with the attributes the call writes. The lines are
// read from the source: each slog call's message is followed back through
// variables and parameters to its string literals.
func TestOperationsLogsTableNamesEveryLogLine(t *testing.T) {
	type row struct{ level, attrs string }
	documented := map[string]row{}
	for _, cells := range tableRows(operationsSection(t, "Logs")) {
		if cells[0] == "message" {
			continue
		}
		for _, msg := range backticked(cells[0]) {
			require.True(t, isLogMessage(msg), "row %q names its messages in full", cells[0])
			documented[msg] = row{level: cells[1], attrs: cells[2]}
		}
	}

	logged := map[string]bool{}
	for _, dir := range []string{".", "../actors", "../fleet", "../idpoolhttp", "../tokens", "../onbehalf",
		"../drivers/sqlserver", "../drivers/postgres"} {
		sites, unresolved := parseSourcePackage(t, dir).logSites()
		// A call such as err.Error() has no argument; one with arguments
		// that is not a log line would show here, and needs a way out.
		assert.Empty(t, unresolved, "log calls whose message the test cannot follow to a literal")
		for _, s := range sites {
			for _, msg := range s.msgs {
				logged[msg] = true
				r, ok := documented[msg]
				if !ok {
					continue // reported below
				}
				if s.level != "" {
					assert.True(t, strings.HasPrefix(r.level, s.level), "%s: %q is logged at %s; the table says %q", s.pos, msg, s.level, r.level)
				}
				attrs := backticked(r.attrs)
				for _, k := range s.keys {
					assert.Contains(t, attrs, k, "%s: %q carries %q; the table's attributes are %q", s.pos, msg, k, r.attrs)
				}
			}
		}
	}
	var want, have []string
	for msg := range logged {
		have = append(have, msg)
	}
	for msg := range documented {
		want = append(want, msg)
	}
	assert.ElementsMatch(t, have, want, "the lines logged against docs/OPERATIONS.md's Logs table")
}

// funcDecl returns the package's function or method name.
func (p *sourcePackage) funcDecl(t *testing.T, name string) *ast.FuncDecl {
	t.Helper()
	for _, fn := range p.funcs {
		if fn.Name.Name == name {
			return fn
		}
	}
	require.Failf(t, "no such function", "%s", name)
	return nil
}

// returnedWords returns the string literals fn returns; a return of
// anything else must be the semantic conventions' "_OTHER", which it
// stands for.
func (p *sourcePackage) returnedWords(t *testing.T, fn *ast.FuncDecl, other ...string) []string {
	t.Helper()
	var words []string
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		r, ok := n.(*ast.ReturnStmt)
		if !ok || len(r.Results) != 1 {
			return true
		}
		if lit, ok := r.Results[0].(*ast.BasicLit); ok {
			w, _ := strconv.Unquote(lit.Value)
			words = append(words, w)
			return true
		}
		var b strings.Builder
		require.NoError(t, printer.Fprint(&b, p.fset, r.Results[0]))
		assert.Contains(t, other, b.String(), "%s returns %s, which the test cannot name", fn.Name.Name, b.String())
		return true
	})
	return words
}

// The Traces table of docs/OPERATIONS.md names the three spans, every
// outcome an acquire span can end with and the words a dial or mint span's
// error.type can take besides a Go type, as the source has them
// (acquireErrorClass, workErrorClass and endAcquire's grant).
func TestOperationsTracesTableNamesEveryOutcome(t *testing.T) {
	rows := map[string][]string{}
	for _, cells := range tableRows(operationsSection(t, "Traces")) {
		if cells[0] != "span" {
			rows[strings.Trim(cells[0], "`")] = cells
		}
	}
	var spans []string
	for name := range rows {
		spans = append(spans, name)
	}
	assert.ElementsMatch(t, []string{spanAcquire, spanConnect, spanMint}, spans)
	require.Contains(t, rows, spanAcquire)
	require.Contains(t, rows, spanConnect)

	listAfter := func(cell, lead, stop string) []string {
		_, rest, ok := strings.Cut(cell, lead)
		require.True(t, ok, "%q in %q", lead, cell)
		list, _, ok := strings.Cut(rest, stop)
		require.True(t, ok, "%q after %q", stop, lead)
		return backticked(list)
	}

	p := parseSourcePackage(t, ".")
	outcomes := p.returnedWords(t, p.funcDecl(t, "acquireErrorClass"), "semconv.ErrorTypeOther.Value.AsString()")
	outcomes = append(outcomes, semconv.ErrorTypeOther.Value.AsString())
	for _, cs := range p.calls["String"] {
		// attribute.String(attrOutcome, "granted")
		if len(cs.call.Args) == 2 {
			if id, ok := cs.call.Args[0].(*ast.Ident); ok && id.Name == "attrOutcome" {
				if lit, ok := cs.call.Args[1].(*ast.BasicLit); ok {
					w, _ := strconv.Unquote(lit.Value)
					outcomes = append(outcomes, w)
				}
			}
		}
	}
	assert.ElementsMatch(t, outcomes, listAfter(rows[spanAcquire][2], "`idpool.acquire.outcome` (", ")"),
		"idpool.acquire.outcome's values against the code's")

	work := p.returnedWords(t, p.funcDecl(t, "workErrorClass"), "errorTypeName(err)")
	assert.ElementsMatch(t, work, listAfter(rows[spanConnect][2], "`error.type` (", " or the Go type"),
		"a dial's error.type words against the code's")
}
