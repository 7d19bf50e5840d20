// Package doctest reads the project's Markdown docs for the tests that hold
// them to the code: the docs are a contract, and those tests fail when a
// table, a list or a default there no longer says what the code does.
package doctest

import "strings"

// Section returns the text of doc from the heading line "## "+title to the
// next "## " heading (or doc's end), and whether doc has that heading.
func Section(doc, title string) (string, bool) {
	i := strings.Index(doc, "\n## "+title+"\n")
	if i < 0 {
		return "", false
	}
	s := doc[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	return s, true
}
